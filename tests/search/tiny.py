"""The tiny study the search and report tests run: every candidate really trained, compiled and C-simulated."""

BASE = """task: l1-anomaly
seed: {seed}
preprocessing: bounded
data: {{n_train: 6000, n_val: 2000, n_test: 10000, n_signal: 1000}}
model: {{kind: dense_ae, encoder: [8], latent: 2, activation: relu, input_batchnorm: false,
        quantization: {{weight: {{bits: 6, integer: 0}}, activation: {{bits: 8, integer: 2}}}}}}
training: {{epochs: 2, batch_size: 1024, early_stopping_patience: 1, lr_patience: 1}}
metrics: {{fpr: 1.0e-3, n_bootstrap: 20}}
"""
SPACE = """task: l1-anomaly
base: {base}
dimensions:
  depth: {{int: [1, 2]}}
  width: {{choice: [4, 8]}}
  latent: {{choice: [2, 3]}}
  weight_bits: {{int: [4, 8]}}
  sparsity: {{float: [0.0, 0.5], step: 0.5}}
"""

# The shared study of the report and export tests (tests/conftest.py: search_run): QKeras and HGQ candidates.
STRATEGY_AND_BASELINE = """  strategy: {choice: [latency, da]}
  quantizer: {choice: [qkeras, hgq]}
  beta: {float: [1.0e-6, 1.0e-4], log: true}
baseline: {quantizer: qkeras, depth: 1, width_1: 8, latent: 2, weight_bits: 6, sparsity: 0.0, strategy: latency}
"""
N_TRIALS = 4


def write(directory, seed: int = 3, extra: str = ""):
    """base.yaml and space.yaml in `directory`; `extra` is appended to the space (more dimensions, a baseline)."""
    (directory / "base.yaml").write_text(BASE.format(seed=seed))
    path = directory / "space.yaml"
    path.write_text(SPACE.format(base=directory / "base.yaml") + extra)
    return path
