"""Model builders: a validated spec in, a Keras model out (float or QKeras-quantized).

Layer names are fixed by position (enc_dense1, latent, dec_dense1, output, ...) so that
per-layer quantization overrides, pruning reports and the hls4ml configuration can
refer to them.
"""

from __future__ import annotations

from codesign.core import hgq as hgq_mod
from codesign.core.hgq import HGQTraining
from codesign.core.spec import LSTMAE, VAE, DenseAE, FixedPoint, LayerQuantization, ModelSpec


def _quantized_bits(fmt: FixedPoint):
    from qkeras import quantized_bits

    return quantized_bits(fmt.bits, fmt.integer, alpha=1)


def _activation(x, spec, name: str, q: LayerQuantization | None):
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits, quantized_relu, quantized_tanh

    layers = tf.keras.layers
    if q is None:
        if spec.activation == "leaky_relu":
            return layers.LeakyReLU(alpha=spec.leaky_alpha, name=name)(x)
        if spec.activation == "linear":
            return x
        return layers.Activation(spec.activation, name=name)(x)
    a = q.activation
    if spec.activation == "relu":
        quantizer = quantized_relu(a.bits, a.integer)
    elif spec.activation == "leaky_relu":
        quantizer = quantized_relu(a.bits, a.integer, negative_slope=spec.leaky_alpha)
    elif spec.activation == "tanh":
        quantizer = quantized_tanh(a.bits, a.integer)
    else:
        quantizer = quantized_bits(a.bits, a.integer, alpha=1)
    return QActivation(quantizer, name=name)(x)


def _dense_block(x, units: int, name: str, spec, activation: bool = True, hgq: HGQTraining | None = None):
    """Dense (or QDense) -> [BatchNorm] -> activation; with `quantizer: hgq` one HGQ layer that does all three."""
    import tensorflow as tf
    from qkeras import QDense

    if spec.quantizer == "hgq":
        act = spec.activation if activation else "linear"
        return hgq_mod.dense(x, units, name, act, spec.batchnorm and activation, hgq or HGQTraining())
    q = spec.quantization.for_layer(name) if spec.quantization is not None else None
    if q is None:
        x = tf.keras.layers.Dense(units, kernel_initializer="he_uniform", name=name)(x)
    else:
        x = QDense(units, kernel_initializer="he_uniform", kernel_quantizer=_quantized_bits(q.weight),
                   bias_quantizer=_quantized_bits(q.bias), name=name)(x)
    if not activation:
        return x
    if spec.batchnorm:
        x = tf.keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return _activation(x, spec, f"{name}_act", q)


def _input(shape, spec, hgq: HGQTraining | None = None):
    import tensorflow as tf

    inp = tf.keras.Input(shape=tuple(shape), name="inputs")  # "input" is reserved in hls4ml
    x = tf.keras.layers.BatchNormalization(name="input_bn")(inp) if spec.input_batchnorm else inp
    if spec.quantizer == "hgq":  # every HGQ layer needs a quantized input (its widths enter EBOPs)
        x = hgq_mod.quantize_input(x, hgq or HGQTraining())
    return inp, x


def _code(x, spec):
    """The latent code as shipped: quantized to `spec.code` when set (QAT: the decoder learns from that code)."""
    if spec.code is None:
        return x
    from qkeras import QActivation

    return QActivation(_quantized_bits(spec.code), name="code")(x)


def build_dense_ae(spec: DenseAE, input_shape, hgq: HGQTraining | None = None):
    import tensorflow as tf

    inp, x = _input(input_shape, spec, hgq)
    for i, width in enumerate(spec.encoder, 1):
        x = _dense_block(x, width, f"enc_dense{i}", spec, hgq=hgq)
    x = _code(_dense_block(x, spec.latent, "latent", spec, activation=False, hgq=hgq), spec)
    for i, width in enumerate(spec.decoder_widths, 1):
        x = _dense_block(x, width, f"dec_dense{i}", spec, hgq=hgq)
    out = _dense_block(x, int(input_shape[-1]), "output", spec, activation=False, hgq=hgq)
    return tf.keras.Model(inp, out, name="dense_ae")


def build_vae(spec: VAE, input_shape, hgq: HGQTraining | None = None):
    import tensorflow as tf

    from codesign.core.layers import Sampling

    inp, x = _input(input_shape, spec, hgq)
    for i, width in enumerate(spec.encoder, 1):
        x = _dense_block(x, width, f"enc_dense{i}", spec, hgq=hgq)
    z_mean = _code(_dense_block(x, spec.latent, "z_mean", spec, activation=False, hgq=hgq), spec)
    z_log_var = _dense_block(x, spec.latent, "z_log_var", spec, activation=False, hgq=hgq)
    x = Sampling(beta=spec.beta, name="sampling")([z_mean, z_log_var])
    if spec.quantizer == "hgq":  # the decoder's first HGQ layer needs a quantized input, as the encoder's
        x = hgq_mod.quantize_input(x, hgq or HGQTraining(), name="z_quantize")
    for i, width in enumerate(spec.decoder_widths, 1):
        x = _dense_block(x, width, f"dec_dense{i}", spec, hgq=hgq)
    out = _dense_block(x, int(input_shape[-1]), "output", spec, activation=False, hgq=hgq)
    return tf.keras.Model(inp, out, name="vae")


def block_output(model, name: str) -> str:
    """The layer whose output is block `name`'s: an HGQ proxy ends a linear block with its learned quantizer."""
    names = {layer.name for layer in model.layers}
    return f"{name}_quantizer" if f"{name}_quantizer" in names else name


def vae_encoder(model):
    """The deployable half of a (trained, possibly pruning-stripped) VAE: input -> (z_mean, z_log_var)."""
    import tensorflow as tf

    outputs = [model.get_layer(block_output(model, name)).output for name in ("z_mean", "z_log_var")]
    return tf.keras.Model(model.input, outputs, name="vae_encoder")


def encoder(model, spec: ModelSpec):
    """The on-detector half of a dense AE or VAE: input -> latent code (a VAE's z_mean)."""
    import tensorflow as tf

    # Replayed from copies: a pruning-stripped model's layer outputs belong to the graph it was cloned from.
    names = [layer.name for layer in model.layers]
    chain = [layer for layer in model.layers[1:names.index(_code_layer(spec)) + 1]
             if not layer.name.startswith("z_log_var")]
    inp = tf.keras.Input(model.input_shape[1:], name="inputs")
    return tf.keras.Model(inp, _replay(chain, inp), name="encoder")


def _code_layer(spec: ModelSpec) -> str:
    """The layer whose output is the latent code (quantized code, HGQ's latent quantizer, else latent / z_mean)."""
    if spec.quantizer == "hgq":  # the proxy's name for the latent layer's learned output quantizer
        return "z_mean_quantizer" if isinstance(spec, VAE) else "latent_quantizer"
    if getattr(spec, "code", None) is not None:
        return "code"
    return "z_mean" if isinstance(spec, VAE) else "latent"


def _replay(layers, x):
    """Apply copies of `layers` (same config and weights) in a chain: a new graph that leaves the model's alone."""
    import tensorflow as tf

    from codesign.core.layers import custom_objects

    with tf.keras.utils.custom_object_scope(custom_objects()):
        for layer in layers:
            clone = layer.__class__.from_config(layer.get_config())
            x = clone(x)
            clone.set_weights(layer.get_weights())
    return x


def _after(model, name: str) -> list:
    names = [layer.name for layer in model.layers]
    return model.layers[names.index(name) + 1:]


def decoder(model, spec: ModelSpec):
    """The offline half: latent code -> reconstruction (the layers after the latent, or after a VAE's sampling)."""
    import tensorflow as tf

    z = tf.keras.Input((spec.latent,), name="latent_code")
    return tf.keras.Model(z, _replay(_after(model, "sampling" if isinstance(spec, VAE) else _code_layer(spec)), z),
                          name="decoder")


def mean_reconstruction(model, spec: ModelSpec):
    """The autoencoder as one chain, input -> reconstruction; a VAE decodes z_mean (its inference output).

    hls4ml converts chains: a VAE's sampling layer and z_log_var branch have no place in firmware.
    """
    import tensorflow as tf

    if not isinstance(spec, VAE):
        return model
    enc = encoder(model, spec)
    return tf.keras.Model(enc.input, _replay(_after(model, "sampling"), enc.output), name="vae_mean")


def _lstm(units: int, name: str, spec: LSTMAE, return_sequences: bool):
    import tensorflow as tf
    from qkeras import QLSTM

    if spec.quantization is None:
        return tf.keras.layers.LSTM(units, activation=spec.activation, return_sequences=return_sequences, name=name)
    q = spec.quantization.for_layer(name)
    # Table-based tanh/sigmoid (not the hard variants, which hls4ml refuses for QLSTM).
    return QLSTM(units, activation=spec.activation, recurrent_activation="sigmoid",
                 kernel_quantizer=_quantized_bits(q.weight), recurrent_quantizer=_quantized_bits(q.weight),
                 bias_quantizer=_quantized_bits(q.bias), return_sequences=return_sequences, name=name)


def build_lstm_ae(spec: LSTMAE, input_shape, hgq: HGQTraining | None = None):
    import tensorflow as tf

    layers = tf.keras.layers
    steps, features = int(input_shape[0]), int(input_shape[1])
    inp, x = _input(input_shape, spec)
    outer = spec.units[0]
    if spec.variant == "sparse":
        x = _lstm(outer, "enc_lstm1", spec, return_sequences=False)(x)
        x = layers.Dropout(spec.dropout, name="enc_dropout")(x)
        latent = outer
    else:
        if len(spec.units) < 2:
            raise ValueError("the undercomplete LSTM AE needs two widths in units (outer, inner)")
        inner = spec.units[1]
        x = _lstm(outer, "enc_lstm1", spec, return_sequences=True)(x)
        x = _lstm(inner, "enc_lstm2", spec, return_sequences=False)(x)
        latent = inner
    # RepeatVector(steps), written as Reshape + UpSampling1D so that hls4ml can convert it; the oldest
    # step alone needs one decoder step (which is step 0 of the full decoder: h starts at zero either way).
    whole = spec.reconstruct == "window"
    x = layers.Reshape((1, latent), name="repeat_reshape")(x)
    if whole:
        x = layers.UpSampling1D(steps, name="repeat")(x)
    if spec.variant == "sparse":
        x = _lstm(outer, "dec_lstm1", spec, return_sequences=whole)(x)
        x = layers.Dropout(spec.dropout, name="dec_dropout")(x)
    else:
        x = _lstm(latent, "dec_lstm1", spec, return_sequences=True)(x)
        x = _lstm(outer, "dec_lstm2", spec, return_sequences=whole)(x)
    if spec.quantization is None:
        dense = layers.Dense(features, name="output")
    else:
        from qkeras import QDense

        q = spec.quantization.for_layer("output")
        dense = QDense(features, kernel_quantizer=_quantized_bits(q.weight), bias_quantizer=_quantized_bits(q.bias),
                       name="output")
    out = layers.TimeDistributed(dense, name="output_td")(x) if whole else dense(x)
    return tf.keras.Model(inp, out, name=f"lstm_ae_{spec.variant}")


def training_target(spec: ModelSpec, x):
    """What the model learns to output for inputs x: x itself, or the oldest step of each window."""
    if isinstance(spec, LSTMAE) and spec.reconstruct == "oldest":
        return x[:, 0]
    return x


BUILDERS = {DenseAE: build_dense_ae, VAE: build_vae, LSTMAE: build_lstm_ae}


def build(spec: ModelSpec, input_shape, hgq: HGQTraining | None = None):
    """Build the model a spec describes; input_shape excludes the batch axis; `hgq`: initial widths and beta of
    a `quantizer: hgq` model (the training config's `hgq`)."""
    return BUILDERS[type(spec)](spec, input_shape, hgq)
