"""`codesign export` of a real candidate: the bundle's own g++ check must pass, and two exports are identical."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from codesign import cli
from codesign.search.results import load


@pytest.fixture(scope="module")
def bundle(search_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "bundle"
    assert cli.main(["export", str(search_run), "--best", "luts<=1000000", "--out", str(out), "--tar", "--synth"]) == 0
    return out


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_bundle_passes_its_own_testbench(bundle, search_run):
    view = load(search_run)
    best = view.front()[0]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["trial"] == best.number
    # the check the trigger team runs, from a fresh shell: g++ only
    run = subprocess.run(["bash", str(bundle / "verify.sh")], capture_output=True, text=True, timeout=600)
    n = manifest["vectors"]["n"]
    assert run.returncode == 0 and f"{n}/{n} vectors bit-exact" in run.stdout, run.stderr[-2000:]
    assert manifest["vectors"]["groups"]["edge"] > 50 and manifest["vectors"]["groups"]["background"] == 2000
    assert manifest["verification"] == {"n_exact": n, "n_vectors": n, "tool": "g++ (verify.sh)", "exit": 0}
    assert not list(bundle.rglob("*.o")) and not list(bundle.rglob("*.so"))  # no build products left behind


def test_the_check_can_fail(bundle, tmp_path):
    copy = tmp_path / "b"
    subprocess.run(["cp", "-r", str(bundle), str(copy)], check=True)
    expected = (copy / "vectors" / "expected.txt").read_text().splitlines()
    expected[3] = str(int(expected[3]) ^ 1)  # one output bit of one event
    (copy / "vectors" / "expected.txt").write_text("\n".join(expected) + "\n")
    run = subprocess.run(["bash", str(copy / "verify.sh")], capture_output=True, text=True, timeout=600)
    n = len(expected)
    assert run.returncode == 1 and f"{n - 1}/{n} vectors bit-exact" in run.stdout
    assert "event 3 output 0" in run.stderr


def test_manifest_and_readme(bundle, search_run):
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["top"] == "codesign_fw" and m["ports"][0] == {"type": "input_t", "name": "inputs", "size": 57}
    assert [i["name"] for i in m["inputs"][:3]] == ["met_pt", "met_eta", "met_phi"]
    assert m["inputs"][56]["bits"] == [56 * 16, 57 * 16 - 1] and m["inputs"][0]["port_type"] == "fixed<16,16,TRN,SAT>"
    (t,) = m["thresholds"]  # 10,000 test events resolve FPR 1e-3 (10 above), nothing smaller
    assert t["fpr"] == 1e-3 and t["rate_hz"] == 40000.0 and t["n_background_above"] == 10
    assert t["threshold_raw"] == round(t["threshold"] * 2 ** m["score"]["fraction_bits"])
    assert m["scores"] and m["estimate"]["lut"] > 0 and len(m["layers"]) > 5
    assert all(len(h) == 64 for h in m["hashes"].values())
    assert m["model"].startswith("the graph the firmware was built from")
    hgq = m["params"].get("quantizer") == "hgq"  # the shared study has QKeras and HGQ candidates
    # an HGQ candidate: each quantizer element's own type in the manifest; no QONNX file (no HGQ quantizer there)
    assert any("elements" in layer for layer in m["layers"]) == hgq
    assert (bundle / "model" / "firmware_graph.qonnx.onnx").is_file() != hgq and ("no QONNX file" in m["model"]) == hgq
    assert m["study"]["seed"] == 5 and m["versions"]["hls4ml"] == "1.3.0"
    assert m["synthesis"] == {"status": "skipped", "reason": "neither vitis_hls nor vivado_hls on PATH"}
    for name in ("model/firmware_graph.h5", "model/preprocessing.json",
                 "hls/build_prj.tcl", "hls/firmware/codesign_fw.cpp", "hls/tb_data/tb_input_features.dat"):
        assert (bundle / name).is_file(), name
    config = (bundle / "hls" / "hls4ml_config.yml").read_text()
    assert str(search_run) not in config  # no path of the machine that built it
    readme = (bundle / "README.md").read_text()
    assert "`codesign_fw`" in readme and "40,000 Hz" in readme and "./verify.sh" in readme


def test_two_exports_are_identical(bundle, search_run, tmp_path):
    """Another process, another hash seed: the same bytes everywhere but the manifest's `created`."""
    again = tmp_path / "again"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    trial = json.loads((bundle / "manifest.json").read_text())["trial"]
    run = subprocess.run([sys.executable, "-m", "codesign.cli", "export", str(search_run), "--trial", str(trial),
                          "--out", str(again), "--tar"], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    a, b = files(bundle), files(again)
    ma, mb = json.loads(a.pop("manifest.json")), json.loads(b.pop("manifest.json"))
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    ma.pop("created"), mb.pop("created")
    ma.pop("synthesis"), mb.pop("synthesis")  # requested only for the first
    assert ma == mb
    with tarfile.open(again.parent / "again.tar.gz") as tf:
        members = tf.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members) and {m.mtime for m in members} == {0}


def test_bad_input_writes_nothing(search_run, bundle, tmp_path, capsys):
    out = tmp_path / "x"
    for args, message in [(["--trial", "99"], "--trial 99: no trial 99"),
                          (["--best", "luts<=10"], "--best 'luts<=10': none of the"),
                          (["--best", "colour<=3"], "cannot read 'colour<=3'")]:
        assert cli.main(["export", str(search_run), "--out", str(out), *args]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
        assert not out.exists()
    before = files(bundle)
    assert cli.main(["export", str(search_run), "--trial", "0", "--out", str(bundle)]) == 2
    assert "already holds a `codesign export` output; pass --force" in capsys.readouterr().err
    assert files(bundle) == before
    tarball = bundle.parent / "bundle.tar.gz"
    archived = tarball.read_bytes()
    assert cli.main(["export", str(search_run), "--trial", "0", "--out", str(tmp_path / "y"), "--tar"]) == 0
    (tmp_path / "z.tar.gz").write_bytes(b"mine")
    assert cli.main(["export", str(search_run), "--trial", "0", "--out", str(tmp_path / "z"), "--tar"]) == 2
    assert "z.tar.gz already exists; pass --force" in capsys.readouterr().err
    assert (tmp_path / "z.tar.gz").read_bytes() == b"mine" and not (tmp_path / "z").exists()
    assert tarball.read_bytes() == archived
    assert cli.main(["export", str(search_run), "--trial", "0", "--out", str(search_run / "bundle")]) == 2
    assert "lies inside" in capsys.readouterr().err
    assert not list(tmp_path.glob(".*partial"))


def test_force_replaces_only_an_earlier_bundle(search_run, bundle, tmp_path, capsys):
    """--force never replaces a directory holding the study, a user's files, or another command's output."""
    mine = tmp_path / "b"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    holder = tmp_path / "holder"
    shutil.copytree(search_run, holder / "run", ignore=shutil.ignore_patterns("data"))
    (holder / "notes.txt").write_text("mine")
    before = files(holder)
    for out, run, message in [(mine, search_run, "holds files codesign did not write"),
                              (holder, holder / "run", "an input of this command"),
                              (holder / "run", holder / "run", "an input of this command"),
                              (search_run.parent, search_run, "an input of this command")]:
        assert cli.main(["export", str(run), "--trial", "0", "--out", str(out), "--force"]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert files(holder) == before and (mine / "thesis.tex").read_text() == "mine"
    out = tmp_path / "again"
    shutil.copytree(bundle, out)
    (out / "manifest.json").write_text("{}")  # an earlier bundle (its marker says so), edited: replaced whole
    assert cli.main(["export", str(search_run), "--trial", "0", "--out", str(out), "--force"]) == 0
    assert json.loads((out / "manifest.json").read_text())["trial"] == 0


def test_synth_records_the_real_report(search_run, tmp_path, monkeypatch, capsys):
    """No vendor tool exists here: a stand-in `vitis_hls` writes real reports (hls4ml's csynth XML and a Vivado
    utilization report from tests/hardware/reports) where build_prj.tcl would; what is tested is that the
    bundle's project is handed to the tool and its reports are parsed into the manifest."""
    reports = Path(__file__).resolve().parents[1] / "hardware" / "reports"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "vitis_hls").write_text(f"""#!/bin/sh
test "$1" = "-f" && test "$2" = "build_prj.tcl" && test -f build_prj.tcl || exit 3
mkdir -p codesign_fw_prj/solution1/syn/report
cp {reports / 'dense16x5_stream_csynth.xml'} codesign_fw_prj/solution1/syn/report/codesign_fw_csynth.xml
cp {reports / 'dense16x5_stream_vivado_synth.rpt'} vivado_synth.rpt
""")
    (bin_dir / "vivado").write_text("#!/bin/sh\nexit 0\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "b"
    assert cli.main(["export", str(search_run), "--trial", "0", "--out", str(out), "--synth"]) == 0
    synthesis = json.loads((out / "manifest.json").read_text())["synthesis"]
    assert synthesis["status"] == "done" and synthesis["tool"] == "vitis_hls"
    assert synthesis["hls"]["lut"] > 0 and synthesis["vivado"]["lut"] > 0 and synthesis["hls"]["latency_max"] >= 1
    assert (out / "hls" / "vivado_synth.rpt").is_file()
