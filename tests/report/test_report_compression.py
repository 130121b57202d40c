"""`codesign report` on a compression study, whose figure of merit is the residual RMS (minimised).

The run directory is built by hand, as `codesign search` writes it: the study file from the
real `Space` and `Settings`, and trial records whose residual fields come from the real
`codesign.residuals` functions applied to generated jets reconstructed with seeded noise
(more noise, a worse compression, on a cheaper design). No training: the report alone is tested.
"""

import csv
import io
import json

import numpy as np
import pytest

from codesign import cli, residuals
from codesign.data import jet_generator
from codesign.errors import ConfigError
from codesign.hardware.targets import Budget
from codesign.plotting import signal_label
from codesign.report import build
from codesign.search import study
from codesign.search.records import feasibility
from codesign.search.results import Reference, load
from codesign.search.space import Space
from codesign.search.trial import TrialRecord
from tests.browser import IMAGES, chromium

VARIABLES = ["pt", "eta", "phi", "m"]
N_JETS = 1000
SPACE = {"task": "jet-compression",
         "dimensions": {"depth": {"int": [1, 2]}, "width": {"choice": [8, 16, 32]}, "latent": {"choice": [2, 3]},
                        "weight_bits": {"int": [4, 10]}, "strategy": {"choice": ["latency", "da"]}},
         "baseline": {"depth": 1, "width_1": 16, "latent": 3, "weight_bits": 8, "strategy": "latency"}}
BASE = {"task": "jet-compression", "seed": 0, "preprocessing": "standard",
        "model": {"kind": "dense_ae", "encoder": [32], "latent": 3, "activation": "tanh",
                  "code": {"bits": 12, "integer": 3}}}
# (number, noise, LUTs, params); the budget is 30 000 LUTs: trial 2 is over it, trial 4 is dominated by trial 1
TRIALS = [(0, 0.05, 4000, SPACE["baseline"]),
          (1, 0.02, 12000, {"depth": 2, "width_1": 32, "width_2": 16, "latent": 3, "weight_bits": 8,
                            "strategy": "latency"}),
          (2, 0.01, 40000, {"depth": 2, "width_1": 32, "width_2": 32, "latent": 3, "weight_bits": 10,
                            "strategy": "latency"}),
          (3, 0.08, 1500, {"depth": 1, "width_1": 8, "latent": 2, "weight_bits": 4, "strategy": "da"}),
          (4, 0.03, 20000, {"depth": 2, "width_1": 16, "width_2": 16, "latent": 3, "weight_bits": 6,
                            "strategy": "latency"}),
          (6, 0.015, 25000, {"depth": 2, "width_1": 32, "width_2": 8, "latent": 3, "weight_bits": 9,
                             "strategy": "latency"})]
FRONT = [6, 1, 0, 3]  # lowest RMS first


def _fidelity(original: np.ndarray, noise: float, seed: int) -> tuple[dict, dict, dict]:
    rng = np.random.default_rng(seed)
    reco = original.copy()
    reco[:, 0] *= 1 + noise * rng.standard_normal(len(reco))  # pT: relative
    reco[:, 1] += noise * rng.standard_normal(len(reco))  # eta: absolute
    reco[:, 2] += 3 * noise * rng.standard_normal(len(reco)) + noise * reco[:, 1]  # phi: wraps, tied to eta
    reco[:, 3] *= 1 + 2 * noise * rng.standard_normal(len(reco))  # m: relative, the hardest
    res = residuals.residuals(original, reco, VARIABLES)
    summary, merit = residuals.with_intervals(res, n_bootstrap=20, seed=seed)
    return res, summary, merit


def _record(settings: study.Settings, original: np.ndarray, number: int, noise: float, lut: int,
            params: dict) -> dict:
    res, summary, merit = _fidelity(original, noise, seed=number)
    _, keras_summary, keras_merit = _fidelity(original, 0.9 * noise, seed=100 + number)
    names, corr = residuals.correlations(res)
    rec = {"params": params, "status": "complete", "reason": "", "number": number, "key": f"{number:016x}",
           "seconds": {"train": 3.1, "firmware": 2.0, "score": 0.4, "total": 6.0}, **merit,
           "residuals": summary, "histograms": residuals.histograms(res, summary),
           "correlations": {"names": names, "matrix": np.nan_to_num(corr).tolist()},
           "keras": {"rms": keras_merit["rms"], "rms_error": keras_merit["rms_error"], "residuals": keras_summary},
           "estimate": {"lut": lut, "ff": lut // 3, "dsp": lut // 400, "bram18": 0, "latency_cycles": 4, "ii": 1,
                        "latency_ns": 20.0, "method": "analytic", "hls": {"lut": 2 * lut, "ff": lut, "dsp": 0,
                                                                          "bram18": 0},
                        "error": {}, "latency_error_cycles": None, "part": "xcvu9p-flga2104-2L-e",
                        "clock_period_ns": 5.0},
           "bit_exact": {"n_events": 1061, "n_exact": 1061, "n_edge": 61, "fraction": 1.0, "csim_seconds": 0.1,
                         "emulator_seconds": 0.01},
           "layers": [{"name": "dense_1", "kind": "dense", "class": "Dense", "n_in": 4, "n_out": 16,
                       "weight": "fixed<8,1>", "accum": "fixed<24,8>", "result": "fixed<16,6>", "reuse_factor": 1,
                       "strategy": "latency", "sparsity": 0.0, "lut": lut, "ff": lut // 3, "dsp": 0, "bram18": 0,
                       "cycles": 2}],
           "firmware": f"firmware/{number:016x}", "sparsity": 0.0, "epochs_run": 12}
    return feasibility(TrialRecord.from_json(rec), settings).to_json()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("compression") / "run"
    (d / "trials").mkdir(parents=True)
    (d / "data").mkdir()
    space = Space.model_validate(SPACE)
    settings = study.Settings(task="jet-compression", target="xcvu9p", budget=Budget(lut=30000), n_trials=7,
                              seed=0, fidelity=0.0, base_config=BASE)
    (d / "search.json").write_text(json.dumps({"space": space.model_dump(mode="json", by_alias=True),
                                               "settings": settings.model_dump(mode="json"), "provenance": {}}))
    (d / "data" / "manifest.json").write_text(json.dumps({"shapes": {"x_test": [N_JETS, 4]}}))
    jets = jet_generator.generate(N_JETS, seed=3)
    original = np.column_stack([jets[v] for v in VARIABLES])
    for number, noise, lut, params in TRIALS:
        rec = _record(settings, original, number, noise, lut, params)
        (d / "trials" / f"{number:05d}.json").write_text(json.dumps(rec))
    failed = {"params": TRIALS[1][3], "status": "failed", "reason": "FirmwareError: hls4ml could not build it",
              "seconds": {"total": 1.0}, "number": 5, "key": "f" * 16, "feasible": False}
    (d / "trials" / "00005.json").write_text(json.dumps(failed))
    return d


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "compression"
    assert cli.main(["report", str(run_dir), "--out", str(out), "--format", "html,png", "--reference", "4",
                     "--reference", "paper AE: rms=0.03, rms_error=0.002, lut=5000, latency_ns=25"]) == 0
    return out


def test_the_study_reads_as_a_compression(run_dir):
    view = load(run_dir)
    assert view.merit.key == "rms" and view.merit.direction == "minimize"
    assert view.signals == VARIABLES and view.n_inputs == 4 and not view.skipped
    assert [r.number for r in view.front()] == FRONT  # best (lowest) RMS first
    assert view.baseline().number == 0
    assert view.describe(TRIALS[1][3]) == "4-32-16-3, 8-bit weights, 12-bit code, standardised inputs, latency RF 1"
    assert view.describe({**TRIALS[3][3], "code_bits": 6}).startswith("4-8-2, 4-bit weights, 6-bit code, ")
    assert [signal_label(v) for v in VARIABLES] == ["pT", "η", "φ", "m"]
    assert signal_label("pt", tex=True) == "$p_T$" and signal_label("Ato4l") == "A→4ℓ"


def test_report_files(report, run_dir):
    manifest = json.loads((report / "report.json").read_text())
    assert manifest["front"] == FRONT and manifest["candidates"] == [0, 1, 3, 4, 6]
    for n in manifest["candidates"]:
        assert (report / f"trial-{n:05d}.html").is_file()
        for kind in ("residuals", "correlations"):
            assert (report / "img" / f"{kind}_{n:05d}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert not (report / "img" / f"roc_{n:05d}.png").exists()
    for name in ("pareto_lut", "pareto_dsp", "pareto_latency", "pareto_signals_lut", "history", "parallel", "slices",
                 "importance"):
        assert (report / "img" / f"{name}.png").stat().st_size > 10_000, name

    text = (report / "tables" / "front.csv").read_text()
    head = text.splitlines()[0]
    assert head.startswith("trial,architecture,rms,rms_error,rms_pt,rms_pt_low,rms_pt_high,rms_eta,")
    assert "auc" not in head and "tpr" not in head
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["trial"]) for r in rows] == FRONT
    assert all(float(r["rms_m_low"]) < float(r["rms_m"]) < float(r["rms_m_high"]) for r in rows)
    md = (report / "tables" / "front.md").read_text()
    assert md.startswith("| Trial | Architecture | residual RMS (mean) | pT RMS | η RMS | φ RMS | m RMS | LUT |")
    tex = (report / "tables" / "front.tex").read_text()
    assert r"$p_T$ RMS" in tex and "AUC" not in tex


def test_pages_speak_of_residuals(report):
    index = (report / "index.html").read_text()
    assert "objectives: mean residual RMS (min) vs LUT (min)" in index
    assert "residual RMS" in index and "paper AE" in index and 'id="front-table"' in index
    for word in ("TPR", "AUC", "FPR", "efficiency", "Signals"):
        assert word not in index, word
    assert index.count('class="front"') == 2 * len(FRONT)  # the front's rows: front table and trial list
    assert "FirmwareError: hls4ml could not build it" in index
    page = (report / "trial-00006.html").read_text()
    assert 'id="residuals"' in page and "residuals_00006.png" in page and "correlations_00006.png" in page
    assert "Keras-level diagnostic" in page and "dotted: the baseline" in page
    for word in ("TPR", "AUC", "FPR"):
        assert word not in page, word
    assert page.count("<tr><td class=\"text\">") >= len(VARIABLES)


def test_a_reference_must_give_the_studys_merit(run_dir, tmp_path, capsys):
    ref = Reference.parse("AXOL1TL: tpr=0.02, lut=60000")
    with pytest.raises(ConfigError, match=r"gives tpr=, but this jet-compression study's figure of merit is the "
                                          r"residual RMS \(rms=X\)"):
        build.write(run_dir, tmp_path / "r", ("png",), [ref])
    assert cli.main(["report", str(run_dir), "--out", str(tmp_path / "r"), "--reference",
                     "AXOL1TL: tpr=0.02, lut=60000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "figure of merit is the residual RMS" in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_reference_parsing_of_either_merit():
    ref = Reference.parse("paper AE: rms=0.03, rms_error=0.002, lut=5000")
    assert ref.merit_key == "rms" and ref.values == {"rms": 0.03, "rms_error": 0.002, "lut": 5000.0}
    assert Reference.parse("AE: tpr=0.1, dsp=3").merit_key == "tpr"
    for text in ("AE: tpr=0.1, rms=0.03, lut=5", "AE: rms=0.03, tpr_error=0.01, lut=5", "AE: rms_error=0.1, lut=5"):
        with pytest.raises(ConfigError, match="expected a trial number or 'LABEL: tpr=X, lut=N'"):
            Reference.parse(text)


def test_pages_render_in_headless_chromium(report):
    figures = json.loads((report / "report.json").read_text())["figures"]
    browser = chromium()
    try:
        for page, expected in (("index.html", {f["png"] for k, f in figures.items() if not k.startswith("trial ")}),
                               ("trial-00001.html", {"residuals_00001.png", "correlations_00001.png"})):
            browser.get((report / page).as_uri())
            images = browser.execute_script(IMAGES)
            assert {src.removeprefix("img/") for src, _ in images} == expected
            assert all(ok for _, ok in images), images
        assert browser.execute_script("return document.querySelectorAll('#residuals tr').length") == 2 + len(VARIABLES)
    finally:
        browser.quit()
