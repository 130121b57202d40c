import pytest

from codesign import config
from codesign.errors import ConfigError
from codesign.tasks import l1_anomaly


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_seed004_baseline():
    c = l1_anomaly.Config()
    assert c.model.encoder == (32, 16) and c.model.latent == 3 and c.model.leaky_alpha == 0.3
    assert c.data.n_test == 2_000_000 and c.metrics.fpr == 1e-5


def test_unknown_key_is_named_with_its_path(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml: model.dense_ae.latnet: unknown key$"):
        config.load(l1_anomaly.Config, write(tmp_path, "model: {kind: dense_ae, latnet: 3}\n"))


def test_wrong_type_and_range(tmp_path):
    with pytest.raises(ConfigError, match=r"training.epochs: .*integer.*\(got 'many'\)"):
        config.load(l1_anomaly.Config, write(tmp_path, "training: {epochs: many}\n"))
    with pytest.raises(ConfigError, match=r"model.dense_ae.pruning.sparsity: .*less than 1"):
        config.load(l1_anomaly.Config, write(tmp_path, "model: {pruning: {sparsity: 1.5}}\n"))


def test_invalid_yaml_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"c.yaml: line \d+: invalid YAML"):
        config.load(l1_anomaly.Config, write(tmp_path, "model: {kind: [\n"))


def test_integer_bits_must_fit():
    with pytest.raises(ValueError, match="fewer than total bits"):
        l1_anomaly.Config.model_validate({"model": {"quantization": {"weight": {"bits": 4, "integer": 4}}}})


def test_presets_parse():
    """Every preset parses as the config of the task it names."""
    from codesign import tasks
    from codesign.config import PRESETS

    paths = sorted(PRESETS.glob("*.yaml"))
    assert len(paths) >= 6
    for path in paths:
        name = (config.read_yaml(path) or {}).get("task", "l1-anomaly")
        config.load(tasks.get(name).Config, path)


def test_round_trip_through_yaml(tmp_path):
    c = config.load(l1_anomaly.Config, write(tmp_path, "model: {kind: vae, latent: 4, score: radius}\n"))
    again = config.parse(l1_anomaly.Config, config.read_yaml(write(tmp_path, config.dump(c))), "again")
    assert again == c
