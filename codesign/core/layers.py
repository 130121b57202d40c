"""Custom Keras layers of the model families (serialisable, no Lambda code)."""

from __future__ import annotations

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="codesign")
class Sampling(tf.keras.layers.Layer):
    """VAE reparameterisation z = mean + exp(log_var / 2) * eps; adds beta * KL(q(z|x) || N(0, 1)) to the loss."""

    def __init__(self, beta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.beta = beta

    def call(self, inputs, training=None):
        z_mean, z_log_var = inputs
        kl = -0.5 * tf.reduce_sum(1.0 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=-1)
        self.add_loss(self.beta * tf.reduce_mean(kl))
        self.add_metric(tf.reduce_mean(kl), name="kl")
        if not training:
            return z_mean
        eps = tf.random.normal(tf.shape(z_mean))
        return z_mean + tf.exp(0.5 * z_log_var) * eps

    def get_config(self):
        return {**super().get_config(), "beta": self.beta}


def custom_objects() -> dict:
    """Everything a saved codesign model may contain besides core Keras layers."""
    from qkeras.utils import _add_supported_quantized_objects

    from codesign.core import hgq

    objects: dict = {"Sampling": Sampling, "codesign>Sampling": Sampling, **hgq.custom_objects()}
    _add_supported_quantized_objects(objects)
    return objects
