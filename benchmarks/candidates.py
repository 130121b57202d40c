"""The benchmark candidate: the seed-004 autoencoder, 8-bit QKeras, 75 % of the weights zeroed (57 inputs)."""

import numpy as np

from codesign.core import models
from codesign.core.spec import DenseAE, FixedPoint, Pruning, Quantization

SPEC = DenseAE(activation="relu", quantization=Quantization(weight=FixedPoint(bits=8, integer=0),
                                                            activation=FixedPoint(bits=8, integer=0)),
               pruning=Pruning(sparsity=0.75, end_epoch=1))


def seed004_model(seed: int = 0):
    """The spec's model with its initial weights, 75 % zeroed and put on the quantizers' grids."""
    from codesign.core.trainer import seed_everything

    seed_everything(seed)
    model = models.build(SPEC, (57,))
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "QDense":
            kernel, bias = layer.get_weights()
            kernel = np.where(rng.uniform(size=kernel.shape) < 0.75, 0.0, kernel)
            layer.set_weights([layer.kernel_quantizer_internal(kernel).numpy(),
                               layer.bias_quantizer_internal(bias).numpy()])
    return model
