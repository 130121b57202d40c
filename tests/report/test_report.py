"""`codesign report` on a real (tiny) study: every candidate trained, compiled, C-simulated and scored.

The page is rendered in headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium) to check that every image loads and the front table is there.
"""

import json
import shutil

import pytest

from codesign import cli
from codesign.report import build
from codesign.search.results import Reference, load
from tests.browser import IMAGES, chromium

from ..search.tiny import N_TRIALS


@pytest.fixture(scope="module")
def run_dir(search_run):
    return search_run


@pytest.fixture(scope="module")
def report(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports") / "full"
    assert cli.main(["report", str(run_dir), "--out", str(out), "--reference", "1",
                     "--reference", "published AE: lut=20000, tpr=0.05, tpr_error=0.01"]) == 0
    return out


def test_records_carry_curves_and_layers(run_dir):
    view = load(run_dir)
    assert len(view.records) == N_TRIALS and view.baseline() is not None
    for r in view.complete:
        for sig, roc in r.get("curves")["roc"].items():
            # the stored ROC is exact where it matters: at the threshold the trial was scored at
            s = r.get("scores")[sig]
            at = roc["threshold"].index(s["threshold"])
            assert roc["tpr"][at] == pytest.approx(s["tpr"]) and roc["fpr"][at] <= s["fpr"]
        h = r.get("curves")["histogram"]
        assert sum(h["background"]["counts"]) + h["background"]["underflow"] + h["background"]["overflow"] == 10_000
        dense = [la for la in r.layers if la["kind"] == "dense" and la["name"] != "score"]
        assert dense and all(0.0 <= la["sparsity"] <= 1.0 and la["lut"] >= 0 for la in dense)
        # bits per weight and per input element; their EBOPs add up to the estimate's (the score head's included)
        assert all(sum(la["weight_bits"]) == la["n_in"] * la["n_out"] and sum(la["input_bits"]) == la["n_in"]
                   for la in dense)
        assert r.estimate["ebops"] == pytest.approx(sum(la["ebops"] for la in r.layers if "ebops" in la), abs=2)
        if r.params["quantizer"] == "hgq":  # widths learned per element; pruning by zero-bit weights, measured
            assert r.run["ebops"] > 0 and 0 <= r.run["sparsity"] < 1 and "beta" in r.params
    assert {r.params["quantizer"] for r in view.complete} == {"qkeras", "hgq"}


def test_report_files(report, run_dir):
    view = load(run_dir)
    manifest = json.loads((report / "report.json").read_text())
    front = [r.number for r in view.front()]
    assert manifest["front"] == front  # best TPR first
    assert set(manifest["candidates"]) >= set(front) | {view.baseline().number, 1}
    for n in manifest["candidates"]:
        assert (report / f"trial-{n:05d}.html").is_file()
        assert (report / "img" / f"roc_{n:05d}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (report / "img" / f"scores_{n:05d}.pdf").read_bytes()[:5] == b"%PDF-"
    for name in ("pareto_lut", "pareto_dsp", "pareto_latency", "pareto_signals_lut", "history", "parallel", "slices"):
        assert (report / "img" / f"{name}.png").stat().st_size > 10_000
        assert (report / "img" / f"{name}.pdf").is_file()
    csv = (report / "tables" / "front.csv").read_text().splitlines()
    assert len(csv) == 1 + len(front) and csv[0].startswith("trial,architecture,tpr,tpr_error,auc")
    assert csv[0].endswith(",within_errors_of")  # which cheaper front point each is not resolved from
    md = (report / "tables" / "front.md").read_text()
    assert md.startswith("| Trial | Architecture | TPR@0.001 (geomean) | A→4ℓ") and md.count("\n") == 2 + len(front)
    tex = (report / "tables" / "front.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\toprule" in tex and r"$A\rightarrow 4\ell$" in tex
    assert "%" not in tex.split(r"\midrule")[1].replace(r"\%", "")  # every percent sign escaped
    index = (report / "index.html").read_text()
    assert "published AE" in index and 'id="front-table"' in index and "<script" not in index
    assert 'font-family: "Helvetica Neue"' in index  # the stylesheet is inlined unescaped
    assert not list(report.parent.glob(".*partial"))


def test_page_renders_in_headless_chromium(report, run_dir):
    front = load(run_dir).front()
    figures = json.loads((report / "report.json").read_text())["figures"]
    study_figures = {f["png"] for name, f in figures.items() if not name.startswith("trial ")}
    assert {"pareto_lut.png", "history.png", "slices.png"} <= study_figures and len(study_figures) >= 9
    browser = chromium()
    try:
        browser.get((report / "index.html").as_uri())
        images = browser.execute_script(IMAGES)
        assert {src.removeprefix("img/") for src, _ in images} == study_figures
        assert all(ok for _, ok in images), images
        rows = browser.execute_script("return document.querySelectorAll('#front-table tr').length")
        assert rows == 1 + len(front)
        links = browser.execute_script(
            "return Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))"
            ".filter(h => h.endsWith('.html'))")
        for href in sorted(set(links)):
            browser.get((report / href).as_uri())
            images = browser.execute_script(IMAGES)
            # ROC, score distributions, and the bits per weight and per input element of each dense layer
            assert [src.split("_")[0] for src, _ in images] == ["img/roc", "img/scores", "img/bits"], images
            assert all(ok for _, ok in images), (href, images)
            assert browser.execute_script("return document.querySelectorAll('#layers tr').length") > 3
            assert "Every output bit equal" in browser.find_element("id", "bit-exact").text
    finally:
        browser.quit()


def test_a_running_study_and_a_copy_from_another_machine(run_dir, tmp_path, capsys):
    """Only the run directory is needed (no data, no database); unfinished trials are simply not there yet."""
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    shutil.copy(run_dir / "search.json", copy)
    shutil.copytree(run_dir / "trials", copy / "trials")
    (copy / "trials" / f"{N_TRIALS - 1:05d}.json").rename(copy / "trials" / "00099.tmp")  # being written
    out = tmp_path / "r"
    assert cli.main(["report", str(copy), "--out", str(out), "--format", "png"]) == 0
    assert f"report: {out}" in capsys.readouterr().out
    manifest = json.loads((out / "report.json").read_text())
    assert not (out / "index.html").exists() and manifest["formats"] == ["png"]
    assert (out / "img" / "pareto_lut.png").is_file() and not list((out / "img").glob("*.pdf"))
    assert N_TRIALS - 1 not in manifest["candidates"]


def test_corrupt_trial_is_reported_and_skipped(run_dir, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("data", "firmware", "study.db"))
    (copy / "trials" / "00002.json").write_text('{"number": 2, "status": "compl')
    out = tmp_path / "r"
    assert cli.main(["report", str(copy), "--out", str(out), "--format", "html"]) == 0
    err = capsys.readouterr().err.strip()
    assert err == f"codesign: warning: {copy / 'trials' / '00002.json'}: corrupt trial record, skipped " \
                  "(Unterminated string starting at: line 1 column 25 (char 24))"
    assert "could not be read" in (out / "index.html").read_text()


@pytest.mark.parametrize("make, message", [
    (lambda d: None, "no such directory"),
    (lambda d: d.mkdir(), "no search study here: search.json is missing"),
    (lambda d: (d.mkdir(), (d / "search.json").write_text("{oops")), "search.json: corrupt study file"),
    (lambda d: (d.mkdir(), (d / "search.json").write_text('{"space": {}}')), "not a codesign search study file"),
])
def test_no_study_is_one_line(tmp_path, capsys, make, message):
    d = tmp_path / "run"
    make(d)
    assert cli.main(["report", str(d), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_every_trial_corrupt(run_dir, tmp_path, capsys):
    copy = tmp_path / "run"
    copy.mkdir()
    shutil.copy(run_dir / "search.json", copy)
    (copy / "trials").mkdir()
    (copy / "trials" / "00000.json").write_text("not json")
    assert cli.main(["report", str(copy), "--out", str(tmp_path / "r")]) == 2
    assert "the study has no finished trials yet" in capsys.readouterr().err


def test_bad_arguments(run_dir, tmp_path, capsys):
    for args, message in [(["--format", "html,svg"], "--format 'html,svg': expected"),
                          (["--reference", "99"], "--reference 99: no trial 99"),
                          (["--reference", "AE: lut=5000"], "expected a trial number or 'LABEL: tpr=X, lut=N'"),
                          (["--reference", "AE: lut=5k, tpr=0.1"], "expected a trial number")]:
        assert cli.main(["report", str(run_dir), "--out", str(tmp_path / "r"), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert not (tmp_path / "r").exists()
    assert cli.main(["report", str(run_dir), "--out", str(run_dir / "trials" / "report")]) == 2
    assert "lies inside" in capsys.readouterr().err
    assert cli.main(["report", str(run_dir), "--out", str(run_dir.parent), "--force"]) == 2
    assert "an input of this command" in capsys.readouterr().err
    assert not (run_dir / "trials" / "report").exists()


def test_never_overwrites_other_files_nor_leaves_a_partial_report(run_dir, tmp_path, capsys, monkeypatch):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert cli.main(["report", str(run_dir), "--out", str(other), "--format", "png"]) == 2
    assert "holds files codesign did not write" in capsys.readouterr().err
    assert [p.name for p in other.iterdir()] == ["notes.txt"]

    out = tmp_path / "r"
    assert cli.main(["report", str(run_dir), "--out", str(out), "--format", "html"]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(build.tables, "latex", broken)  # after every figure is drawn
    with pytest.raises(RuntimeError, match="disk full"):
        build.write(run_dir, out, ("html",), force=True)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # the earlier report is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "r"]  # no temporary directory left


def test_reference_parsing():
    assert Reference.parse("12") == Reference("trial 12", trial=12)
    ref = Reference.parse("AXOL1TL v4: lut=60000, tpr=2e-2, latency_ns=50")
    assert ref.label == "AXOL1TL v4" and ref.values == {"lut": 60000.0, "tpr": 0.02, "latency_ns": 50.0}
    assert build.parse_formats("PNG, html,png") == ("png", "html")


def test_another_studys_front_on_the_same_plots(run_dir, tmp_path, capsys):
    """--compare draws another study's front (of its first N trials); a study of another objective is refused."""
    view = load(run_dir)
    first = build._compared(view, run_dir, 2)
    expected = load(run_dir).front()
    assert first.label == f"front of {run_dir.name} (2 trials)"
    assert set(first.points.number) <= {0, 1} and first.points.front.all() and len(first.points.number) >= 1
    assert set(build._compared(view, run_dir, None).points.number) == {r.number for r in expected}
    from codesign.report import figures

    points = build._points(view, view.complete, {r.number for r in expected})
    drawn = figures.pareto_signals(points, [(s, s, "TPR") for s in view.signals], "lut", {}, [], "right", "lut",
                                   tmp_path, ("png",), (first,))
    assert (tmp_path / drawn["png"]).stat().st_size > 10_000
    other = tmp_path / "min_study"
    shutil.copytree(run_dir, other, ignore=shutil.ignore_patterns("data", "firmware"))
    saved = json.loads((other / "search.json").read_text())
    saved["settings"]["tpr"] = "min"
    (other / "search.json").write_text(json.dumps(saved))
    assert cli.main(["report", str(run_dir), "--out", str(tmp_path / "r"), "--compare", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--compare" in err and "min" in err and "\n" not in err, err
