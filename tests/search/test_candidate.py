"""Parameters -> task config + firmware options; invalid combinations; the duplicate key."""

import pytest

from codesign import config as cfg
from codesign.cli import resolve_config
from codesign.search import candidate
from codesign.tasks import l1_anomaly


@pytest.fixture(scope="module")
def base():
    return cfg.load(l1_anomaly.Config, resolve_config("search_l1"))


def test_parameters_reach_model_training_and_firmware(base):
    params = {"depth": 3, "width_1": 64, "width_2": 16, "width_3": 8, "latent": 4, "weight_bits": 6,
              "weight_integer": 1, "activation_bits": 7, "sparsity": 0.5, "reuse_factor": 2, "strategy": "resource",
              "learning_rate": 2e-3, "preprocessing": "standard"}
    c = candidate.make(params, base, l1_anomaly.Config)
    m = c.config.model
    assert list(m.encoder) == [64, 16, 8] and m.latent == 4
    assert (m.quantization.weight.bits, m.quantization.weight.integer, m.quantization.activation.bits) == (6, 1, 7)
    assert m.pruning.sparsity == 0.5 and c.config.training.learning_rate == 2e-3
    assert c.config.preprocessing == "standard"
    assert (c.firmware.reuse_factor, c.firmware.strategy, c.method) == (2, "resource", "analytic")
    dense = candidate.make({**params, "sparsity": 0.0, "strategy": "da"}, base, l1_anomaly.Config)
    assert dense.config.model.pruning is None and dense.method == "da" and dense.firmware.reuse_factor == 1


def test_duplicates_share_a_key_and_differences_do_not(base):
    p = {"depth": 1, "width_1": 16, "latent": 3, "strategy": "da", "reuse_factor": 1}
    a = candidate.make(p, base, l1_anomaly.Config)
    b = candidate.make({**p, "reuse_factor": 4}, base, l1_anomaly.Config)  # DA ignores the reuse factor
    c = candidate.make({**p, "latent": 2}, base, l1_anomaly.Config)
    assert a.key == b.key != c.key


def test_invalid_combinations_are_candidate_failures(base):
    with pytest.raises(candidate.InvalidCandidate, match="integer bits"):
        candidate.make({"weight_bits": 3, "weight_integer": 3}, base, l1_anomaly.Config)


def test_an_hgq_candidate_learns_its_widths_and_sparsity(base):
    """quantizer: hgq drops the QKeras formats and the pruning schedule (HGQ prunes by zero-bit weights) and
    sets beta in training.hgq; the same point with another beta is another model."""
    p = {"quantizer": "hgq", "beta": 3e-6, "depth": 1, "width_1": 16, "latent": 3, "strategy": "da"}
    c = candidate.make(p, base, l1_anomaly.Config)
    m = c.config.model
    assert m.quantizer == "hgq" and m.quantization is None and m.pruning is None and m.activation == "relu"
    assert c.config.training.hgq.beta == 3e-6 and c.method == "da"
    assert candidate.make({**p, "beta": 1e-5}, base, l1_anomaly.Config).key != c.key
    q = candidate.make({**p, "quantizer": "qkeras", "weight_bits": 6, "sparsity": 0.5}, base, l1_anomaly.Config)
    assert q.config.model.quantizer == "qkeras" and q.config.model.quantization.weight.bits == 6


def test_an_hgq_jet_encoder_ships_its_latent_quantizer_as_the_code():
    from codesign.tasks import jet_compression

    base = cfg.load(jet_compression.Config, resolve_config("search_jet"))
    assert base.model.code is not None and base.model.activation == "leaky_relu"
    c = candidate.make({"quantizer": "hgq", "beta": 1e-6}, base, jet_compression.Config)
    assert c.config.model.code is None and c.config.model.activation == "relu"
