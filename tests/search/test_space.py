"""Spaces as data: parsing, errors naming the key, Optuna distributions, conditional widths."""

import optuna
import pytest

from codesign.errors import ConfigError
from codesign.search import space


def write(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_the_shipped_space_parses_and_maps_to_optuna():
    s = space.load("l1_anomaly")
    assert s.task == "l1-anomaly" and s.base == "search_l1"
    dists = s.distributions(depth=3)
    assert isinstance(dists["width_3"], optuna.distributions.CategoricalDistribution)
    assert isinstance(dists["weight_bits"], optuna.distributions.IntDistribution)
    lr = dists["learning_rate"]
    assert isinstance(lr, optuna.distributions.FloatDistribution) and lr.log
    assert s.baseline["width_1"] == 32 and s.baseline["sparsity"] == 0.75


def test_widths_follow_depth():
    s = space.load("l1_anomaly")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        params = s.suggest(trial)
        widths = sorted(k for k in params if k.startswith("width_"))
        assert widths == [f"width_{i}" for i in range(1, params["depth"] + 1)]
        seen.add(params["depth"])
        study.tell(trial, [0.0, 0.0])
    assert seen == {1, 2, 3}


@pytest.mark.parametrize("text, message", [
    ("dimensions: {depth: {int: [1, 3]}, colour: {choice: [red]}}", "dimensions: unknown dimension.*colour"),
    ("dimensions: {width: {choice: [8]}}", "width needs a depth dimension"),
    ("dimensions: {depth: {int: [3, 1]}}", "dimensions.depth: low 3 is above high 1"),
    ("dimensions: {learning_rate: {float: [0, 1], log: true}}", "a log range needs low > 0"),
    ("dimensions: {depth: {int: [1, 3], choice: [1]}}", "exactly one of choice"),
    ("dimensions: {depth: {range: [1, 3]}}", r"dimensions.depth.range: unknown key"),
    ("dimensions: {strategy: {choice: [latency, fast]}}", "strategy values must be latency, resource or da"),
    ("dimensions: {depth: {int: [1, 2]}}\nbaseline: {depth: 1, latent: 3}",
     r"baseline: not a point of the space: unknown \['latent'\]"),
    ("dimensions: [depth]", "dimensions: Input should be a valid dictionary"),
])
def test_malformed_spaces_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as err:
        space.load(str(write(tmp_path, text)))
    assert str(err.value).startswith(str(tmp_path / "space.yaml"))


def test_unknown_space_name():
    with pytest.raises(ConfigError, match="unknown search space .nope.; known: dqm_histograms, dqm_lumisections, "
                       "jet_compression, l1_anomaly"):
        space.load("nope")


def test_the_quantizer_decides_which_dimensions_apply():
    """HGQ candidates have beta and no QKeras bits or sparsity; QKeras candidates the reverse."""
    s = space.load("l1_anomaly")
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=optuna.samplers.RandomSampler(1))
    kinds = set()
    for _ in range(20):
        trial = study.ask()
        params = s.suggest(trial)
        hgq = params["quantizer"] == "hgq"
        kinds.add(params["quantizer"])
        assert ("beta" in params) == hgq
        assert all((k in params) != hgq for k in ("weight_bits", "activation_bits", "sparsity"))
        study.tell(trial, [0.0, 0.0])
    assert kinds == {"qkeras", "hgq"}
    assert s.baseline["quantizer"] == "qkeras" and "beta" not in s.baseline


@pytest.mark.parametrize("text, message", [
    ("dimensions: {quantizer: {choice: [qkeras, hqq]}}", r"quantizer values must be qkeras or hgq, got \['hqq'\]"),
    ("dimensions: {beta: {choice: [0.001]}}", "beta needs a positive float range"),
    ("dimensions: {beta: {float: [0.0, 1.0e-4]}}", "beta needs a positive float range"),
])
def test_malformed_hgq_dimensions(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        space.load(str(write(tmp_path, text)))
