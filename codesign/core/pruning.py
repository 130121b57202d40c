"""Magnitude pruning with tensorflow-model-optimization, applied to the model that is trained.

(The seed notebook built a pruning wrapper and then trained the unwrapped model, so its
"pruned" model was never pruned; here the wrapped model is the one fitted, and the
sparsity is measured on the stripped result.)
"""

from __future__ import annotations

import numpy as np

from codesign.core.spec import Pruning
from codesign.errors import CodesignError

PRUNED_LAYER_TYPES = ("Dense", "QDense")


class PruningFailed(CodesignError):
    """The trained model does not reach the sparsity its spec asks for."""


def schedule(pruning: Pruning, steps_per_epoch: int):
    from tensorflow_model_optimization.sparsity import keras as sparsity

    begin = pruning.begin_epoch * steps_per_epoch
    end = max(pruning.end_epoch * steps_per_epoch, begin + 1)
    if pruning.schedule == "constant":
        return sparsity.ConstantSparsity(pruning.sparsity, begin_step=begin, end_step=-1, frequency=pruning.frequency)
    return sparsity.PolynomialDecay(initial_sparsity=0.0, final_sparsity=pruning.sparsity, begin_step=begin,
                                    end_step=end, frequency=min(pruning.frequency, max(1, (end - begin) // 10)))


def wrap(model, pruning: Pruning, steps_per_epoch: int):
    """Clone `model` with every Dense/QDense kernel under a low-magnitude pruning wrapper.

    The wrappers hold the original layers, so trained or initial weights carry over.
    """
    import tensorflow as tf
    from tensorflow_model_optimization.sparsity import keras as sparsity

    sched = schedule(pruning, steps_per_epoch)

    def clone(layer):
        if type(layer).__name__ in PRUNED_LAYER_TYPES:
            return sparsity.prune_low_magnitude(layer, pruning_schedule=sched)
        return layer

    from codesign.core.layers import custom_objects

    with tf.keras.utils.custom_object_scope(custom_objects()):
        return tf.keras.models.clone_model(model, clone_function=clone)


def callbacks():
    from tensorflow_model_optimization.sparsity import keras as sparsity

    return [sparsity.UpdatePruningStep()]


def strip(model):
    from tensorflow_model_optimization.sparsity import keras as sparsity

    return sparsity.strip_pruning(model)


def kernel_sparsity(model) -> dict[str, float]:
    """Fraction of exactly-zero kernel weights per Dense/QDense layer (on the float kernel)."""
    out = {}
    for layer in _dense_layers(model):
        kernel = np.asarray(layer.get_weights()[0])
        out[layer.name] = float(np.mean(kernel == 0.0))
    return out


def overall_sparsity(model) -> float:
    total = zeros = 0
    for layer in _dense_layers(model):
        kernel = np.asarray(layer.get_weights()[0])
        total += kernel.size
        zeros += int(np.sum(kernel == 0.0))
    return zeros / total if total else 0.0


def verify(model, pruning: Pruning, tolerance: float = 0.01) -> dict[str, float]:
    """Per-layer sparsity after strip_pruning; raises PruningFailed if any layer falls short.

    A layer may miss the target by one weight (tfmot rounds the number to prune down).
    """
    per_layer = kernel_sparsity(model)
    sizes = {layer.name: layer.get_weights()[0].size for layer in _dense_layers(model)}
    short = {k: v for k, v in per_layer.items() if v < pruning.sparsity - max(tolerance, 1.0 / sizes[k] + 1e-9)}
    if short:
        listing = ", ".join(f"{k} {v:.1%}" for k, v in short.items())
        raise PruningFailed(f"pruning to {pruning.sparsity:.0%} did not take effect: {listing} "
                            "(did training stop before pruning.end_epoch?)")
    return per_layer


def _dense_layers(model):
    for layer in model.layers:
        inner = getattr(layer, "layer", None)  # TimeDistributed
        if type(layer).__name__ in PRUNED_LAYER_TYPES:
            yield layer
        elif inner is not None and type(inner).__name__ in PRUNED_LAYER_TYPES:
            yield inner
