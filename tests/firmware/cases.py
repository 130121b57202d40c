"""Small QKeras autoencoders with random on-grid weights, for the bit-accuracy suite."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.core import models
from codesign.core.spec import DenseAE, FixedPoint, Quantization
from codesign.firmware.options import FirmwareOptions


@dataclass(frozen=True)
class Case:
    name: str
    bits: int
    integer: int
    act_bits: int
    act_integer: int
    encoder: tuple[int, ...]
    latent: int
    sparsity: float = 0.0
    reuse_factor: int = 1
    strategy: str = "latency"
    activation: str = "relu"
    batchnorm: bool = False
    n_inputs: int = 10
    backend: str = "Vitis"

    def spec(self) -> DenseAE:
        q = Quantization(weight=FixedPoint(bits=self.bits, integer=self.integer),
                         activation=FixedPoint(bits=self.act_bits, integer=self.act_integer))
        return DenseAE(encoder=self.encoder, latent=self.latent, activation=self.activation, leaky_alpha=0.25,
                       batchnorm=self.batchnorm, input_batchnorm=False, quantization=q)

    def options(self, **kw) -> FirmwareOptions:
        return FirmwareOptions(**{"reuse_factor": self.reuse_factor, "strategy": self.strategy,
                                  "backend": self.backend, **kw})

    def model(self, seed: int = 0):
        """The spec's model with random weights on the quantizers' grids and `sparsity` of them zeroed."""
        from codesign.core.trainer import seed_everything

        seed_everything(seed)
        model = models.build(self.spec(), (self.n_inputs,))
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            kind = type(layer).__name__
            if kind == "QDense":
                kernel, bias = layer.get_weights()
                span = 2.0 ** self.integer
                kernel = rng.uniform(-span, span, kernel.shape)
                kernel[rng.uniform(size=kernel.shape) < self.sparsity] = 0.0
                bias = rng.uniform(-span, span, bias.shape)
                kq = layer.kernel_quantizer_internal(kernel.astype("float32")).numpy()
                bq = layer.bias_quantizer_internal(bias.astype("float32")).numpy()
                layer.set_weights([kq, bq])
            elif kind == "BatchNormalization":
                n = layer.get_weights()[0].shape[0]
                layer.set_weights([rng.uniform(0.5, 2.0, n), rng.normal(0, 0.5, n), rng.normal(0, 0.5, n),
                                   rng.uniform(0.25, 4.0, n)])
        return model


def vectors(n_inputs: int, n: int, seed: int = 0, scale: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """(calibration inputs, test vectors): random values plus zeros, signs, extremes and saturating inputs."""
    rng = np.random.default_rng(seed)
    calib = rng.normal(0.0, scale, (20_000, n_inputs))
    peak = np.abs(calib).max()
    edges = [np.zeros(n_inputs), np.full(n_inputs, peak), np.full(n_inputs, -peak), np.full(n_inputs, 1e6),
             np.full(n_inputs, -1e6), np.full(n_inputs, 1e-9), np.full(n_inputs, -1e-9),
             np.where(np.arange(n_inputs) % 2, 1e4, -1e4), np.full(n_inputs, 3 * peak),
             np.full(n_inputs, -3 * peak)]
    random = rng.normal(0.0, scale, (n, n_inputs))
    heavy = rng.standard_cauchy((max(n // 10, 10), n_inputs)) * scale  # tails well beyond the calibration range
    signs = rng.choice([-1.0, 1.0], (max(n // 20, 10), n_inputs)) * rng.choice([peak, 2 * peak], (1, n_inputs))
    return calib, np.concatenate([np.array(edges), random, heavy, signs])
