"""Trained Keras/QKeras model -> the firmware graph -> an hls4ml model with exact, explicit precisions.

The firmware graph is the trained network with what the trigger needs around it:

    inputs (integers in per-feature power-of-two units)
      -> unscale        BatchNormalization, scale 2^e_i: exact, the physical value
      -> preprocess     BatchNormalization with the fitted (x - mean) / std, when the model has one
      -> the model's layers (for a VAE: the encoder up to z_mean)
      -> score_diff, score_sq, score   sum of squared reconstruction errors (AE) or of z_mean^2 (VAE radius)

so the trigger receives one fixed-point anomaly score per event. Precisions follow
FirmwareOptions: QKeras quantizers are kept, an HGQ proxy's per-element widths are kept
(weights in their exact type, each quantizer's result in one type that holds every element,
hls4ml's own bit-exact pass off so that these types are the ones built), Dense accumulators
are exact, and every other type is sized from the calibration data and saturates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.core.models import block_output
from codesign.core.preprocessing import Preprocessor
from codesign.core.spec import LSTMAE, VAE
from codesign.errors import FirmwareError
from codesign.firmware import fixed
from codesign.firmware.fixed import FixedType
from codesign.firmware.options import FirmwareOptions

FLOAT_ACTIVATIONS = {"relu", "linear"}
QKERAS_ACTIVATIONS = {"quantized_relu", "quantized_bits"}
PASS_THROUGH = {"Dropout", "InputLayer"}
# Anomalies score far above the background the ranges are calibrated on: 4 more integer bits on the
# score path keep them ordered (saturation only beyond 16 x the squared-headroom range).
SCORE_EXTRA_RANGE = 16.0
HGQ_QUANTIZER = "FixedPointQuantizer"  # an HGQ proxy's per-element quantizer
SUPPORTED = {"Dense", "QDense", "BatchNormalization", "Activation", "ReLU", "LeakyReLU", "QActivation", HGQ_QUANTIZER,
             *PASS_THROUGH}
SEQUENCE = {"LSTM", "QLSTM", "Reshape", "UpSampling1D", "TimeDistributed", "Dense", "QDense", *PASS_THROUGH}
# LSTM state (h and the cell state share the layer's result type in hls4ml): |h| < 1, and the cell
# state is only ever looked up in a tanh table that saturates at |s| = 4, so 4 integer bits (±8) are the
# least; more where the gate sums need them.
STATE_INTEGER_BITS = 4


@dataclass(frozen=True)
class InputUnits:
    """Per-feature input scaling: the firmware receives round-down(x / 2^e_i) as `bits`-bit signed integers."""

    exponents: np.ndarray  # (n_inputs,) int
    bits: int

    @property
    def type(self) -> FixedType:
        return FixedType(self.bits, self.bits, True, "TRN", "SAT")

    def to_units(self, x: np.ndarray) -> np.ndarray:
        """Physical values in input units (exact: a power-of-two scaling); the firmware rounds and saturates."""
        return np.ldexp(np.asarray(x, dtype=np.float64), -self.exponents[None, :])

    def formats(self) -> list[FixedType]:
        """Each feature's fixed-point format in physical units."""
        return [FixedType(self.bits, self.bits + int(e), True, "TRN", "SAT") for e in self.exponents]

    @classmethod
    def derive(cls, x: np.ndarray, bits: int, headroom: float, groups=None) -> InputUnits:
        """Units from the calibration range, shared within each group of features (e.g. all pT inputs).

        Share units by physical quantity: an anomaly fills slots the background rarely fills (a fourth
        muon), and a range sized on those slots alone would saturate exactly what should stand out.
        """
        peak = np.max(np.abs(np.asarray(x, dtype=np.float64)), axis=0) * headroom
        if groups is not None:
            labels = np.asarray(list(groups))
            if len(labels) != len(peak):
                raise ValueError(f"{len(labels)} input groups for {len(peak)} inputs")
            for label in set(labels.tolist()):
                peak[labels == label] = peak[labels == label].max()
        # Largest e_i with peak / 2^e_i < 2^(bits-1); constant-zero features get the finest unit.
        exps = np.where(peak > 0, np.ceil(np.log2(np.where(peak > 0, peak, 1.0))) - (bits - 1), -(bits - 1))
        return cls(exps.astype(np.int64), bits)

    @classmethod
    def saturating_at(cls, ranges: np.ndarray, bits: int) -> InputUnits:
        """Units whose `bits`-bit inputs end at the given powers of two: the type saturates where the
        preprocessing clips (at range - 1 LSB; e.g. 256 GeV in 16 bits: units of 2^-7 GeV)."""
        exps = np.log2(np.asarray(ranges, dtype=np.float64))
        if not np.array_equal(exps, np.round(exps)):
            raise ValueError(f"input ranges must be powers of two, got {np.asarray(ranges).tolist()}")
        return cls(exps.astype(np.int64) - (bits - 1), bits)

    def to_dict(self) -> dict:
        return {"exponents": self.exponents.tolist(), "bits": self.bits}

    @classmethod
    def from_dict(cls, data: dict) -> InputUnits:
        return cls(np.asarray(data["exponents"], dtype=np.int64), int(data["bits"]))


def _class(layer) -> str:
    return type(layer).__name__


def _activation_name(layer) -> str:
    if _class(layer) == "QActivation":
        return type(layer.quantizer).__name__ if not isinstance(layer.quantizer, str) else layer.quantizer
    if _class(layer) == "Activation":
        return getattr(layer.activation, "__name__", str(layer.activation))
    return ""


def deployed_layers(model, spec=None) -> list:
    """The chain of layers that runs in firmware, or FirmwareError listing everything that cannot."""
    layers = [l for l in model.layers if _class(l) != "InputLayer"]
    if isinstance(spec, LSTMAE):
        return _sequence_chain(layers)
    if isinstance(spec, VAE):
        if spec.score == "kl":
            raise FirmwareError("a VAE scored by its KL term needs exp() of the log-variance, which hls4ml cannot "
                                "implement exactly; deploy it with score: radius (sum of z_mean^2, as AXOL1TL does)")
        if spec.score == "radius":
            names = [l.name for l in layers]
            last = names.index(block_output(model, "z_mean"))
            layers = [l for l in layers[: last + 1] if not l.name.startswith("z_log_var")]
    problems = []
    for layer in layers:
        cls = _class(layer)
        if cls not in SUPPORTED:
            problems.append(f"{layer.name} ({cls})")
        elif cls == "Activation" and _activation_name(layer) not in FLOAT_ACTIVATIONS:
            problems.append(f"{layer.name} (float {_activation_name(layer)} activation: no exact fixed-point form)")
        elif cls == "QActivation" and _activation_name(layer) not in QKERAS_ACTIVATIONS:
            problems.append(f"{layer.name} (QActivation {_activation_name(layer)})")
        elif cls in ("Dense", "QDense") and getattr(layer.activation, "__name__", "linear") != "linear":
            problems.append(f"{layer.name} ({cls} with a built-in {layer.activation.__name__} activation)")
    if problems:
        raise FirmwareError("cannot build firmware from these layers: " + ", ".join(problems) +
                            f"; supported: {', '.join(sorted(SUPPORTED - PASS_THROUGH))} with relu/linear activations")
    chain = [l for l in layers if _class(l) not in PASS_THROUGH]
    for previous, layer in zip(chain, chain[1:]):
        source = _inbound_layers(layer)
        while len(source) == 1 and _class(source[0]) in PASS_THROUGH - {"InputLayer"}:
            source = _inbound_layers(source[0])
        if len(source) != 1 or source[0] is not previous:
            raise FirmwareError(f"only chains of layers can be deployed: {layer.name} takes "
                                f"{[l.name for l in source]}, not the output of {previous.name}")
    return chain


def _sequence_chain(layers) -> list:
    """An LSTM autoencoder's layers (LSTM/QLSTM, the Reshape + UpSampling1D repeat, TimeDistributed Dense)."""
    problems = []
    for layer in layers:
        cls = _class(layer)
        if cls not in SEQUENCE:
            problems.append(f"{layer.name} ({cls})")
        elif cls in ("LSTM", "QLSTM"):
            act, rec = (getattr(getattr(layer, n, None), "__name__", str(getattr(layer, n, "")))
                        for n in ("activation", "recurrent_activation"))
            if rec != "sigmoid" or act not in ("tanh", "relu"):
                problems.append(f"{layer.name} ({cls} with {act}/{rec}: the emulator follows hls4ml's "
                                "sigmoid and tanh/relu only)")
        elif cls in ("Dense", "QDense") and getattr(layer.activation, "__name__", "linear") != "linear":
            problems.append(f"{layer.name} ({cls} with a built-in {layer.activation.__name__} activation)")
        elif cls == "TimeDistributed" and (_class(layer.layer) not in ("Dense", "QDense") or
                                           getattr(layer.layer.activation, "__name__", "linear") != "linear"):
            problems.append(f"{layer.name} (TimeDistributed {_class(layer.layer)}: only a linear Dense)")
    if problems:
        raise FirmwareError("cannot build firmware from these layers: " + ", ".join(problems))
    return [l for l in layers if _class(l) not in PASS_THROUGH]


def _inbound_layers(layer) -> list:
    inbound = layer._inbound_nodes[0].inbound_layers
    return inbound if isinstance(inbound, list) else [inbound]


def firmware_graph(model, spec, preprocessor: Preprocessor | None, units: InputUnits, score_head: bool = True):
    """The float Keras graph hls4ml converts (layers named as in the module docstring)."""
    import tensorflow as tf

    layers = tf.keras.layers
    chain = deployed_layers(model, spec)
    if isinstance(spec, LSTMAE):
        return _sequence_graph(model, chain, units, score_head)
    n_in = int(model.input_shape[-1])
    if score_head and not isinstance(spec, VAE) and int(chain[-1].output_shape[-1]) != n_in:
        raise FirmwareError(f"the reconstruction score needs an output of the input's size: {chain[-1].name} "
                            f"gives {chain[-1].output_shape[-1]} values for {n_in} inputs")
    inp = tf.keras.Input((n_in,), name="inputs")
    unscale = layers.BatchNormalization(epsilon=0.0, name="unscale")
    x = unscale(inp)
    unscale.set_weights([np.ldexp(np.ones(n_in), units.exponents).astype("float32"), np.zeros(n_in, "float32"),
                         np.zeros(n_in, "float32"), np.ones(n_in, "float32")])
    if preprocessor is not None and preprocessor.kind != "none":
        pre = layers.BatchNormalization(epsilon=0.0, name="preprocess")
        x = pre(x)
        pre.set_weights([(1.0 / preprocessor.scale).astype("float32"),
                         (-preprocessor.offset / preprocessor.scale).astype("float32"),
                         np.zeros(n_in, "float32"), np.ones(n_in, "float32")])
    model_input = x
    for layer in chain:
        # A fresh copy, so that every layer of the firmware graph has exactly one inbound node.
        clone = layer.__class__.from_config(layer.get_config())
        x = clone(x)
        clone.set_weights(layer.get_weights())
    outputs = x
    if score_head:
        if isinstance(spec, VAE):
            sq = layers.Multiply(name="score_sq")([x, x])
        else:
            diff = layers.Subtract(name="score_diff")([model_input, x])
            sq = layers.Multiply(name="score_sq")([diff, diff])
        score = layers.Dense(1, use_bias=False, kernel_initializer="ones", name="score")
        outputs = score(sq)
    return tf.keras.Model(inp, outputs, name="firmware")


def _sequence_graph(model, chain, units: InputUnits, score_head: bool):
    """Input (steps, features) -> unscale (exact, per feature) -> the LSTM autoencoder; no score head.

    The reconstruction is the firmware's output; the score (the error of the lumisection the
    window scores) is computed from it (`Firmware.score`), like the Keras model's.
    """
    import tensorflow as tf
    from qkeras.utils import _add_supported_quantized_objects

    if score_head:
        raise FirmwareError("an LSTM autoencoder's firmware returns its reconstruction (scored per lumisection "
                            "downstream): build it with score_head: false")
    steps, n_in = (int(d) for d in model.input_shape[1:])
    inp = tf.keras.Input((steps, n_in), name="inputs")
    unscale = tf.keras.layers.BatchNormalization(epsilon=0.0, name="unscale")
    x = unscale(inp)
    exponents = units.exponents[:n_in]  # flattened time-major: the first step's features
    unscale.set_weights([np.ldexp(np.ones(n_in), exponents).astype("float32"), np.zeros(n_in, "float32"),
                         np.zeros(n_in, "float32"), np.ones(n_in, "float32")])
    custom = {}
    _add_supported_quantized_objects(custom)
    with tf.keras.utils.custom_object_scope(custom):
        for layer in chain:
            clone = layer.__class__.from_config(layer.get_config())
            x = clone(x)
            clone.set_weights(layer.get_weights())
    return tf.keras.Model(inp, x, name="firmware")


def profile(graph, x_units: np.ndarray) -> dict[str, float]:
    """Largest |value| of every layer's output on the calibration events (float Keras)."""
    import tensorflow as tf

    names = [l.name for l in graph.layers if _class(l) != "InputLayer"]
    probe = tf.keras.Model(graph.input, [graph.get_layer(n).output for n in names])
    x_units = x_units.reshape((-1,) + tuple(graph.input_shape[1:]))  # sequences arrive flattened
    outs = probe.predict(x_units.astype(np.float32), batch_size=16384, verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    peaks = {n: float(np.max(np.abs(o))) for n, o in zip(names, outs)}
    peaks["inputs"] = float(np.max(np.abs(x_units)))
    return peaks


def _fixed(bits: int, peak: float, headroom: float, signed: bool = True, rounding: str = "TRN",
           overflow: str = "SAT") -> str:
    integer = fixed.bits_for(peak * headroom, signed)
    return str(FixedType(bits, integer, signed, rounding, overflow))


def _exact_scale_type(exponents: np.ndarray) -> str:
    hi, lo = int(exponents.max()), int(exponents.min())
    return str(FixedType(hi - lo + 1, hi + 1, False))


def _unscaled_type(units: InputUnits) -> str:
    """The physical inputs exactly: port integers times 2^e_i, for every feature's e_i."""
    hi, lo = int(units.exponents.max()), int(units.exponents.min())
    return str(FixedType(units.bits + hi - lo, units.bits + hi, True, "TRN", "SAT"))


def _bn_constants(layer) -> tuple[np.ndarray, np.ndarray]:
    gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
    scale = gamma / np.sqrt(var + layer.epsilon)
    return scale, beta - mean * scale


def hls_config(graph, peaks: dict[str, float], units: InputUnits, options: FirmwareOptions) -> dict:
    """The hls4ml configuration (granularity 'name') with every precision codesign decides."""
    import hls4ml

    o = options
    cfg = hls4ml.utils.config_from_keras_model(graph, granularity="name", backend=o.backend,
                                               default_precision=f"fixed<{o.float_bits},8>")
    cfg["Model"]["ReuseFactor"] = o.reuse_factor
    cfg["Model"]["Strategy"] = o.strategy.capitalize()
    for layer_cfg in cfg["LayerName"].values():  # granularity 'name' writes ReuseFactor 1 into every layer
        if "ReuseFactor" in layer_cfg:
            layer_cfg["ReuseFactor"] = o.reuse_factor
    # Batch normalisation stays a fixed-point layer of its own: fusing it into a QDense would move the
    # weights off the grid they were trained on.
    cfg["SkipOptimizers"] = ["fuse_batchnorm"]
    layers = cfg["LayerName"]
    by_name = {l.name: l for l in graph.layers}
    following = {}
    for layer in graph.layers:
        for inbound in (_inbound_layers(layer) if layer._inbound_nodes and _class(layer) != "InputLayer" else []):
            following.setdefault(inbound.name, []).append(layer)

    def precision(name: str) -> dict:
        return layers.setdefault(name, {}).setdefault("Precision", {})

    def derived(name: str, signed: bool = True) -> str:
        return _fixed(o.float_bits, peaks.get(name, 1.0), o.headroom, signed)

    precision("inputs")["result"] = str(units.type)
    for name, layer in by_name.items():
        cls = _class(layer)
        p = precision(name) if cls != "InputLayer" else None
        nxt = following.get(name, [])
        quantizers = ("QActivation", HGQ_QUANTIZER)
        feeds_quantizer = bool(nxt) and all(_class(n) in quantizers for n in nxt)
        # Exact ('auto') results only where a quantizer, directly or after a batch norm, narrows them next.
        feeds_narrowing = bool(nxt) and all(
            _class(n) in quantizers or (_class(n) == "BatchNormalization" and
                                        all(_class(m) in quantizers for m in following.get(n.name, [])))
            for n in nxt)
        source = _inbound_layers(layer) if layer._inbound_nodes and cls != "InputLayer" else []
        if name == "unscale":
            # An explicit (exact) result, not 'auto': hls4ml fuses a batch norm into the one before it when that
            # one's result is unspecified, with the later layer's constant types, which are sized for its own
            # scale (1/sigma ~ 1), not for the product 2^e / sigma (~1e-4): the fused constants lost up to
            # 6 % (a jet's eta) while emulator and C-sim agreed bit for bit.
            p.update(scale=_exact_scale_type(units.exponents), bias="ufixed<1,1>", result=_unscaled_type(units))
        elif cls == "BatchNormalization":
            scale, bias = _bn_constants(layer)
            p.update(scale=_fixed(o.float_bits, np.max(np.abs(scale)), 1.0, overflow="WRAP", rounding="RND"),
                     bias=_fixed(o.float_bits, np.max(np.abs(bias)), 1.0, overflow="WRAP", rounding="RND"),
                     result="auto" if feeds_quantizer else derived(name))
        elif cls == "Dense" and name != "score" and feeds_quantizer and _class(nxt[0]) == HGQ_QUANTIZER:
            # An HGQ proxy's kernel and bias hold values on each weight's learned grid: their exact types.
            w, b = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())
            p.update(weight=str(_exact(w, name, "kernel")), bias=str(_exact(b, name, "bias")), accum="auto",
                     result="auto")
        elif cls == "Dense" and name != "score":
            w, b = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())
            p.update(weight=_fixed(o.float_bits, np.max(np.abs(w)), 1.0, overflow="WRAP", rounding="RND"),
                     bias=_fixed(o.float_bits, np.max(np.abs(b)), 1.0, overflow="WRAP", rounding="RND"),
                     accum="auto", result="auto" if feeds_narrowing else derived(name))
        elif cls == HGQ_QUANTIZER:
            p["result"] = str(_container(layer))
        elif cls == "ReLU" and len(source) == 1 and _class(source[0]) == HGQ_QUANTIZER:
            # max(x, 0) of a quantizer's output: exact in the unsigned part of its container
            t = _container(source[0])
            p["result"] = str(FixedType(max(t.width - 1, 1), t.integer - 1, False) if t.signed else t)
        elif cls == "QDense":
            p.update(accum="auto", result="auto" if feeds_narrowing else derived(name))
        elif cls in ("Activation", "ReLU"):
            relu = cls == "ReLU" or _activation_name(layer) == "relu"
            p["result"] = derived(name, signed=not relu)
        elif cls == "LeakyReLU":
            p.update(result=derived(name), param=f"ufixed<{o.float_bits},0,RND,SAT>")
        elif name == "score_diff":
            p["result"] = _fixed(o.diff_bits, peaks[name], o.headroom)
        elif name == "score_sq":
            p["result"] = _fixed(o.score_bits, peaks[name], o.headroom**2 * SCORE_EXTRA_RANGE, signed=False)
        elif name == "score":
            p.update(weight="ufixed<1,1>", bias="ufixed<1,1>", accum="auto",
                     result=_fixed(o.score_bits, peaks[name], o.headroom**2 * SCORE_EXTRA_RANGE, signed=False))
        if cls in ("Dense", "QDense") and nxt and all(_activation_name(n) == "quantized_bits" for n in nxt):
            # A linear quantizer (QActivation(quantized_bits), e.g. a compression's latent code) after a dense
            # layer: hls4ml turns it into a linear activation and merges it into an 'auto' parent without its
            # precision (MergeLinearActivation), so the code would leave at the accumulator's width. The
            # quantizer's type (RND_CONV, SAT = quantized_bits' round-half-even and clip) as the dense layer's
            # result keeps it; the activation is then a no-op and eliminated.
            p["result"] = str(precision(nxt[0].name)["result"])
        if cls in ("Dense", "QDense"):
            # hls4ml appends a linear activation to every dense layer: with the dense layer's own result
            # type it is removed (merged when 'auto', eliminated as a no-op cast otherwise).
            precision(f"{name}_linear")["result"] = p["result"]
    if any(_class(l) in ("LSTM", "QLSTM") for l in graph.layers):
        _sequence_precisions(graph, peaks, units, o, precision)
    for name, layer_options in o.layers.items():
        if name not in layers:
            raise FirmwareError(f"firmware options name layer {name!r}, which the model does not have "
                                f"(layers: {', '.join(n for n in layers if not n.endswith('_linear'))})")
        if layer_options.reuse_factor is not None:
            layers[name]["ReuseFactor"] = layer_options.reuse_factor
        if layer_options.strategy is not None:
            layers[name]["Strategy"] = layer_options.strategy.capitalize()
        if layer_options.result is not None:
            precision(name)["result"] = layer_options.result
            if f"{name}_linear" in layers:
                precision(f"{name}_linear")["result"] = layer_options.result
    return cfg


def _container(quantizer) -> FixedType:
    """The one type that holds every element of an HGQ proxy's FixedPointQuantizer (weights: k, bits, integers)."""
    return fixed.mask_container(*(np.asarray(v) for v in quantizer.get_weights()))


def _exact(values: np.ndarray, layer: str, what: str) -> FixedType:
    t = fixed.exact_type(values)
    if t is None:
        raise FirmwareError(f"{layer}: the {what} of an HGQ proxy layer is not on a fixed-point grid (was the model "
                            "converted with HGQ's to_proxy_model?)")
    return t


def _weight_type(values: np.ndarray, quantizer, float_bits: int) -> FixedType:
    """A QKeras quantizer's grid, or `float_bits` sized to the largest weight.

    Saturating and rounding half to even like quantized_bits: hls4ml 1.3 does not apply a
    QLSTM's bias quantizer, so the unit forget bias of 1.0 reaches the type and must clip
    to 1 - 2^-f as in QKeras rather than wrap to -1.
    """
    if quantizer is not None and type(quantizer).__name__ == "quantized_bits":
        return FixedType(int(quantizer.bits), int(quantizer.integer) + 1, True, "RND_CONV", "SAT")
    return FixedType.parse(_fixed(float_bits, float(np.max(np.abs(values))) if values.size else 0.0, 1.0,
                                  rounding="RND", overflow="SAT"))


def _sequence_precisions(graph, peaks: dict[str, float], units: InputUnits, o: FirmwareOptions, precision) -> None:
    """Every precision of an LSTM autoencoder's firmware: one saturating `state` type for all but the inputs.

    hls4ml 1.3's C++ only type-checks an LSTM whose accumulator is its result type (the
    non-static lstm() writes gate sums into res_T arrays), and passes the repeat and the
    time-distributed arrays on without conversion, so the unscaled inputs, the LSTMs'
    accum/result (h and the cell state), the repeat and the output dense's result are one type:
    `float_bits` less 4 bits in fraction, and integer bits for the largest gate sum any input can produce
    (|h| <= 1 for tanh cells) and for the calibration reconstruction times headroom.
    """
    x_type = units.formats()[0]
    x_max = max(-x_type.min_value, x_type.max_value)
    integer = max(STATE_INTEGER_BITS, fixed.bits_for(max(peaks.get("output_td", 0.0), peaks.get("output", 0.0),
                                                         1.0) * o.headroom))
    weights = {}
    for layer in graph.layers:
        cls = _class(layer)
        if cls in ("LSTM", "QLSTM"):
            kernel, recurrent, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
            q = (lambda n: getattr(layer.cell, n, None)) if cls == "QLSTM" else (lambda n: None)
            weights[layer.name] = tuple(_weight_type(v, q(n), o.float_bits) for v, n in (
                (kernel, "kernel_quantizer_internal"), (recurrent, "recurrent_quantizer_internal"),
                (bias, "bias_quantizer_internal")))
            h_max = 1.0 if getattr(layer.cell.activation, "__name__", "") == "tanh" else 2.0 ** (integer - 1)
            bound = np.max(np.abs(kernel).sum(axis=0) * x_max + np.abs(recurrent).sum(axis=0) * h_max
                           + np.abs(bias))
            integer = max(integer, fixed.bits_for(2.0 * bound))
            x_max = h_max
    state = FixedType(o.float_bits - STATE_INTEGER_BITS + integer, integer, True, "TRN", "SAT")
    precision("unscale")["result"] = str(state)  # the first LSTM's input type must be its state type too
    for layer in graph.layers:
        cls = _class(layer)
        if cls in ("LSTM", "QLSTM"):
            wt, rt, bt = weights[layer.name]
            precision(layer.name).update(weight=str(wt), recurrent_weight=str(rt), bias=str(bt),
                                         recurrent_bias="fixed<2,1>", accum=str(state), result=str(state))
        elif cls in ("Reshape", "UpSampling1D"):
            precision(layer.name)["result"] = str(state)
        elif cls in ("TimeDistributed", "Dense", "QDense"):
            inner = layer.layer if cls == "TimeDistributed" else layer
            w, b = (np.asarray(v, dtype=np.float64) for v in inner.get_weights())
            quantized = _class(inner) == "QDense"
            wt, bt = (_weight_type(v, getattr(inner, n, None) if quantized else None, o.float_bits)
                      for v, n in ((w, "kernel_quantizer_internal"), (b, "bias_quantizer_internal")))
            precision(inner.name).update(weight=str(wt), bias=str(bt), accum="auto", result=str(state))
            if cls == "TimeDistributed":
                precision(layer.name)["result"] = str(state)
                precision(f"{layer.name}_end")["result"] = str(state)
            else:  # hls4ml's appended linear activation keeps the same type (and is removed)
                precision(f"{layer.name}_linear")["result"] = str(state)


def convert(graph, cfg: dict, options: FirmwareOptions, part: str, clock_period_ns: float, output_dir: str,
            project_name: str = "codesign_fw"):
    import hls4ml

    try:
        return hls4ml.converters.convert_from_keras_model(
            graph, hls_config=cfg, output_dir=output_dir, project_name=project_name, backend=options.backend,
            io_type=options.io_type, part=part, clock_period=clock_period_ns,
            # hls4ml re-derives every type of a graph with HGQ quantizers (its BitExact pass) unless told not
            # to; codesign sets them (`hls_config`), the quantizers' per-element casts included, as for any graph.
            bit_exact=False)
    except Exception as exc:  # hls4ml raises bare Exceptions for user-level problems
        raise FirmwareError(f"hls4ml could not convert the model: {exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
