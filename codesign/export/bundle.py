"""`codesign export`: one candidate of a study -> a firmware IP bundle a trigger team uses without Python.

    OUT/README.md            interface, C-simulation, synthesis, verification
    OUT/manifest.json        hyperparameters, hashes, precisions, input bit layout, score format,
                             thresholds and rates, estimate, scores, part/clock, versions and seeds
    OUT/hls/                 the hls4ml project (sources, weights headers, build scripts, testbench data)
    OUT/vectors/             inputs and expected outputs as raw fixed-point integers, one event per line
    OUT/check_vectors.cpp    a bit-exact checker of the vectors against the HLS sources
    OUT/verify.sh            compiles the checker with g++ and runs it
    OUT/model/               the firmware graph as Keras h5 and QONNX; preprocessing as fixed-point constants

The bundle is written to a hidden sibling directory, verified there (verify.sh must pass),
and renamed into place; only the manifest's `created` differs between two exports.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codesign import escape, evaluation, metrics, outdir, provenance
from codesign.core import persistence
from codesign.errors import CodesignError, ConfigError, ToolError
from codesign.firmware import firmware as fw_mod
from codesign.firmware import fixed, qonnx_io
from codesign.hardware import synth
from codesign.hardware.targets import Budget
from codesign.search import candidate, objective, studydata
from codesign.search.results import StudyError, StudyView, load
from codesign.search.rundir import RunDir
from codesign.search.trial import TrialRecord

BUNCH_CROSSING_HZ = 40e6  # LHC bunch-crossing rate: a false-positive rate per event is a trigger rate
FPRS = (1e-5, 3e-5, 1e-4, 1e-3)
N_BACKGROUND_VECTORS = 2000
N_SIGNAL_VECTORS = 500
SKIP = re.compile(r"(\.so|\.o|\.log)$|^codesign_fw_bridge\.cpp$|^build_lib\.sh$|^keras_model\.keras$")
TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Bundle:
    out: Path
    trial: int
    n_vectors: int
    n_exact: int
    tarball: Path | None
    synthesis: dict
    seconds: float


# ---------------------------------------------------------------- choosing the candidate


def parse_filter(text: str) -> list[tuple[str, str, float]]:
    """'luts<=20000, dsp<=100, latency_ns<50' -> [(lut, <=, 20000), ...]."""
    out = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"([a-z_0-9]+)\s*(<=|<|>=|>|==)\s*([0-9.eE+-]+)", item.lower())
        key = Budget.ALIASES.get(m.group(1), m.group(1)) if m else None
        if m is None or key not in ("lut", "ff", "dsp", "bram18", "latency_ns", "latency_cycles", "ii"):
            raise ConfigError(f"--best {text!r}: cannot read {item!r}; expected e.g. 'luts<=20000,dsp<=100' "
                              "(lut, ff, dsp, bram18, latency_ns, latency_cycles, ii)")
        try:
            out.append((key, m.group(2), float(m.group(3))))
        except ValueError:
            raise ConfigError(f"--best {text!r}: {m.group(3)!r} is not a number") from None
    if not out:
        raise ConfigError(f"--best {text!r}: give at least one limit, e.g. 'luts<=20000'")
    return out


def select(view: StudyView, trial: int | None, best: str | None) -> TrialRecord:
    """The record to export: trial N, or the best figure of merit among complete trials meeting the filter."""
    if (trial is None) == (best is None):
        raise ConfigError("give exactly one of --trial N or --best 'luts<=20000'")
    if trial is not None:
        return view.trial(trial, what="--trial")
    ops = {"<=": np.less_equal, "<": np.less, ">=": np.greater_equal, ">": np.greater, "==": np.equal}
    limits = parse_filter(best)
    ok = [r for r in view.complete if all(ops[op](r.resource(k), v) for k, op, v in limits)]
    if not ok:
        closest = min(view.complete, key=lambda r: r.resource(limits[0][0]), default=None)
        hint = (f"; the smallest {limits[0][0]} is trial {closest.number} with "
                f"{closest.resource(limits[0][0]):,.0f}") if closest else ""
        raise StudyError(f"--best {best!r}: none of the {len(view.complete)} complete trials meets it{hint}")
    resource, merit = view.settings.resource, view.settings.merit
    return max(ok, key=lambda r: (merit.goodness(r), -r.resource(resource), -r.number))


# ---------------------------------------------------------------- writing


COMMAND = "export"


def write(run_dir: str | Path, out: str | Path, trial: int | None = None, best: str | None = None,
          force: bool = False, tar: bool = False, synth: bool = False, n_background: int = N_BACKGROUND_VECTORS,
          n_signal: int = N_SIGNAL_VECTORS) -> Bundle:
    start = time.perf_counter()
    run_dir, out = Path(run_dir), Path(out)
    view = load(run_dir)
    record = select(view, trial, best)
    outdir.check(out, COMMAND, force=force, inputs=[run_dir], not_inside=[run_dir])
    if tar:
        _check_tarball(_tar_path(out), force)
    fw_dir = run_dir / record.firmware
    if not (fw_dir / "firmware.json").is_file():
        raise StudyError(f"{fw_dir}: trial {record.number}'s firmware is not in the run directory "
                         "(copied without firmware/?)")
    with outdir.staged(out, COMMAND, force=force, inputs=[run_dir], not_inside=[run_dir]) as tmp:
        _write(view, record, fw_dir, tmp, n_background, n_signal)
        check = verify(tmp)
        if check["n_exact"] != check["n_vectors"]:
            differ = check["n_vectors"] - check["n_exact"]
            raise CodesignError(f"the exported sources differ from the emulator on {differ} of {check['n_vectors']} "
                                "vectors; nothing was written")
        synthesis = _synthesise(tmp) if synth else {"status": "not requested (--synth)"}
        manifest = json.loads((tmp / "manifest.json").read_text())
        manifest.update(verification=check, synthesis=synthesis, created=provenance.record()["created"])
        _json(tmp / "manifest.json", manifest)
    tarball = _tar(out) if tar else None
    return Bundle(out, record.number, check["n_vectors"], check["n_exact"], tarball, synthesis,
                  time.perf_counter() - start)


def _json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str) + "\n")


def _copy_project(src: Path, dst: Path) -> None:
    """The hls4ml project without build products, with the builder's absolute paths made relative."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or SKIP.search(path.name) or rel.parts[0] == "tb_data":
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.name == "hls4ml_config.yml":
            text = path.read_text().replace(str(src.resolve()), ".").replace(str(src), ".")
            target.write_text(text)
        else:
            shutil.copyfile(path, target)


def _top_signature(header: Path) -> tuple[str, list[tuple[str, str, int]]]:
    """(top function, [(type, name, size), ...]) from the project's header."""
    text = header.read_text()
    m = re.search(r"void\s+(\w+)\s*\(([^)]*)\)", text)
    if m is None:
        raise CodesignError(f"{header}: no top-level function prototype")
    # sizes are numbers or products of them (a sequence input is declared inputs[12*50])
    ports = [(t, n, math.prod(int(d) for d in s.split("*")))
             for t, n, s in re.findall(r"(\w+)\s+(\w+)\[([\d\s*]+)\]", m.group(2))]
    return m.group(1), ports


def _sha256(paths) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _write(view: StudyView, record: TrialRecord, fw_dir: Path, out: Path, n_background: int, n_signal: int) -> None:
    fw = fw_mod.load(fw_dir)
    hls = out / "hls"
    _copy_project(fw.project_dir, hls)
    top, ports = _top_signature(hls / "firmware" / f"{fw_mod.PROJECT_NAME}.h")
    (in_type_name, _, n_in), (out_type_name, _, n_out) = ports[0], ports[-1]
    in_t, out_t = fw.units.type, fw.output_types[0]

    # test vectors: background, each signal, edge inputs; integers exactly as the firmware's ports see them
    try:
        data = studydata.candidate_data(candidate.of_study(record.params, view.settings), view.run_dir)
    except (OSError, KeyError, ValueError) as exc:
        raise StudyError(f"{RunDir(view.run_dir).data}: the study's data is needed for test vectors and "
                         f"thresholds ({exc})") from None
    groups = [("background", np.asarray(data.x_test[:n_background]))]
    groups += [(name, np.asarray(x[:n_signal])) for name, x in data.signals.items()]
    groups.append(("edge", evaluation.edge_vectors(np.asarray(data.x_train[:100_000]))))
    vectors = out / "vectors"
    vectors.mkdir()
    labels, ins, outs = [], [], []
    for name, x in groups:
        ints = fixed.from_float(fw.to_units(x), in_t)
        (res,) = fw.program.run(fixed.to_float(ints, in_t.frac))
        ins.append(ints)
        outs.append(np.asarray(res).reshape(len(x), -1))
        labels += [name] * len(x)
    ins, outs = np.concatenate(ins), np.concatenate(outs)
    mask = (1 << out_t.width) - 1
    _write_rows(vectors / "inputs.txt", ins)
    (vectors / "expected.txt").write_text("".join(" ".join(str(int(v) & mask) for v in row) + "\n" for row in outs))
    (vectors / "labels.txt").write_text("".join(f"{label}\n" for label in labels))
    # hls4ml's own testbench (vitis_hls csim) reads floats: the same vectors in physical input units
    (hls / "tb_data").mkdir(exist_ok=True)
    _write_rows(hls / "tb_data" / "tb_input_features.dat", fixed.to_float(ins, in_t.frac))
    _write_rows(hls / "tb_data" / "tb_output_predictions.dat", fixed.to_float(outs, out_t.frac))

    checker = (TEMPLATES / "check_vectors.cpp").read_text()
    for key, value in {"TOP": top, "INPUT_T": in_type_name, "OUTPUT_T": out_type_name, "N_IN": str(n_in),
                       "N_OUT": str(n_out), "OUT_WIDTH": str(out_t.width),
                       "HEADER": f"{fw_mod.PROJECT_NAME}.h"}.items():
        checker = checker.replace(f"@{key}@", value)
    (out / "check_vectors.cpp").write_text(checker)
    shutil.copyfile(TEMPLATES / "verify.sh", out / "verify.sh")
    os.chmod(out / "verify.sh", 0o755)

    # the model: the firmware graph as Keras h5 and QONNX, the preprocessing as fixed-point constants
    model_dir = out / "model"
    model_dir.mkdir()
    with tempfile.TemporaryDirectory() as work:
        graph_file, model_note = _graph_file(view, record, fw, Path(work))
        if graph_file is not None:
            shutil.copyfile(graph_file, model_dir / "firmware_graph.h5")
            graph = persistence.load_keras(graph_file)
            classes = {type(layer).__name__ for layer in graph.layers}
            if classes & {"LSTM", "QLSTM"}:
                model_note += "; no QONNX file: qonnx 0.4 converts no recurrent layers"
            elif "FixedPointQuantizer" in classes:
                model_note += ("; no QONNX file: qonnx 0.4's Keras converter has no HGQ quantizer (the per-element "
                               "types are in the manifest's layers)")
            else:
                qonnx_io.export(graph, model_dir / "firmware_graph.qonnx.onnx")
    graph_file = model_dir / "firmware_graph.h5" if graph_file is not None else None
    constants = {}
    for op in fw.program.ops:
        if op.name in ("unscale", "preprocess"):
            constants[op.name] = {"scale": [int(v) for v in op.scale], "scale_type": str(op.scale_type),
                                  "bias": [int(v) for v in op.bias], "bias_type": str(op.bias_type),
                                  "result_type": str(op.out),
                                  "meaning": "out = in * scale + bias, integers in the given fixed-point types"}
    _json(model_dir / "preprocessing.json", constants)

    names = list(data.input_names) if len(data.input_names) == n_in else [f"x{i}" for i in range(n_in)]
    if not view.merit.is_efficiency:  # a compression: the outputs are the latent code, decoded offline
        _compression_manifest(out, view, record, fw, hls, top, ports, groups, labels, graph_file, model_note, names)
        return
    # thresholds at trigger rates, on the full background test set (the emulator is bit-exact)
    background = metrics.SortedScores(fw.score(data.x_test))  # in blocks: the test set stays on disk
    signal_scores = {k: fw.score(np.asarray(v)) for k, v in data.signals.items()}
    thresholds = []
    for fpr in FPRS:
        try:
            thr, above = metrics.threshold_at_fpr(background, fpr)
        except CodesignError:
            continue
        thresholds.append({"fpr": fpr, "rate_hz": round(fpr * BUNCH_CROSSING_HZ, 3), "threshold": thr,
                           "threshold_raw": int(round(thr * 2 ** out_t.frac)), "n_background_above": above,
                           "n_background": len(background), "rule": "trigger when score > threshold",
                           "tpr": {k: metrics.tpr_at_threshold(s, thr) for k, s in signal_scores.items()}})
    manifest = {
        **_common_manifest(view, record, fw, hls, top, ports, graph_file, model_note, names),
        "score": {"port_type": str(out_t), "width": out_t.width, "fraction_bits": out_t.frac,
                  "meaning": "sum of squared reconstruction errors of the " + (
                      "preprocessed inputs (model/preprocessing.json)" if "preprocess" in constants
                      else "physical inputs") + ", saturating"},
        "fpr": next(iter(record.scored["scores"].values()))["fpr"],
        "thresholds": thresholds,
        **{k: record.scored[k] for k in ("scores", "tpr", "tpr_error", "auc")},
        "vectors": _vectors_entry(groups, labels),
    }
    _json(out / "manifest.json", manifest)
    _readme(out, manifest, view)


def _vectors_entry(groups, labels) -> dict:
    return {"n": len(labels), "groups": {name: len(x) for name, x in groups},
            "files": ["vectors/inputs.txt", "vectors/expected.txt", "vectors/labels.txt"],
            "format": "one event per line; inputs as signed port integers, outputs as the unsigned bit "
                      "pattern of the output port(s)"}


def _compression_manifest(out: Path, view: StudyView, record: TrialRecord, fw, hls: Path, top: str, ports, groups,
                          labels, graph_file, model_note: str, names: list[str]) -> None:
    """A compression encoder's bundle: the latent code is the output; the decoder (Keras h5) unpacks it offline."""
    out_t = fw.output_types[0]
    decoder = fw.directory / "decoder.h5"
    decoding = fw.directory / "decoder.json"
    if decoder.is_file() and decoding.is_file():
        shutil.copyfile(decoder, out / "model" / "decoder.h5")
        shutil.copyfile(decoding, out / "model" / "decoder.json")
    manifest = {
        **_common_manifest(view, record, fw, hls, top, ports, graph_file, model_note, names),
        "code": {"port_type": str(out_t), "width": out_t.width, "fraction_bits": out_t.frac,
                 "values": int(ports[-1][2]),
                 "bits_per_event": int(ports[-1][2]) * out_t.width,
                 "meaning": "the latent code the front-end ships; decode offline with model/decoder.h5 "
                            "(inputs: code values as floats = port integer / 2^fraction_bits) and undo the "
                            "standardisation and representation in model/decoder.json"},
        **{k: record.scored[k] for k in ("rms", "rms_error", "residuals")},
        "decoder": "model/decoder.h5" if (out / "model" / "decoder.h5").is_file() else None,
        "vectors": _vectors_entry(groups, labels),
    }
    _json(out / "manifest.json", manifest)
    _readme(out, manifest, view)


def _common_manifest(view: StudyView, record: TrialRecord, fw, hls: Path, top: str, ports, graph_file, model_note: str,
                     names: list[str]) -> dict:
    """What every bundle's manifest says: the trial, hashes, ports and inputs, estimate, versions, study."""
    in_t = fw.units.type
    return {
        "trial": record.number, "params": record.params, "architecture": view.describe(record.params),
        "run_dir": str(view.run_dir.resolve().name), "firmware_key": fw.key,
        "model": model_note,
        "hashes": {"firmware_graph_h5": _sha256([graph_file]) if graph_file is not None else None,
                   "weights": _sha256(sorted((hls / "firmware" / "weights").glob("*"))),
                   "hls_sources": _sha256(sorted(p for p in hls.rglob("*") if p.is_file()))},
        "top": top, "ports": [{"type": t, "name": n, "size": s} for t, n, s in ports],
        "inputs": [{"index": i, "name": names[i], "port_type": str(in_t), "bits": [i * in_t.width,
                    (i + 1) * in_t.width - 1], "unit_exponent": int(e), "physical_format": str(f),
                    "meaning": f"port value = floor(x / 2^{int(e)}), saturating"}
                   for i, (e, f) in enumerate(zip(fw.units.exponents, fw.units.formats()))],
        "estimate": record.estimate, "bit_exact_in_search": record.bit_exact.to_dict() if record.bit_exact else None,
        "layers": fw.info.get("precisions", []), "target": {"part": fw.info["part"],
                                                             "clock_period_ns": fw.info["clock_period_ns"],
                                                             "backend": fw.info.get("backend")},
        "firmware_options": fw.info.get("options"), "versions": fw.info.get("versions"),
        "study": {"seed": view.settings.seed, "task": view.settings.task, "target": view.settings.target,
                  "budget": view.settings.budget.limits(), "provenance": view.provenance},
    }


def _graph_file(view: StudyView, record: TrialRecord, fw, work: Path) -> tuple[Path | None, str]:
    """The firmware graph (Keras h5) and where it came from.

    Firmware built before codesign kept the graph has none: the candidate is retrained from its
    recorded parameters and seed and rebuilt in `work`; only if that gives the same firmware key
    (the same weights and precisions) is its graph used.
    """
    path = fw.directory / fw_mod.GRAPH_FILE
    if path.is_file():
        return path, "the graph the firmware was built from"
    rebuilt = objective.rebuild(candidate.of_study(record.params, view.settings), view.run_dir, view.settings,
                                work)
    if rebuilt.key != fw.key:
        return None, (f"not included: the firmware predates kept graphs and retraining gave firmware {rebuilt.key}, "
                      f"not {fw.key}")
    return rebuilt.directory / fw_mod.GRAPH_FILE, "retrained from the recorded parameters and seed; same firmware key"


def _write_rows(path: Path, rows: np.ndarray) -> None:
    rows = np.asarray(rows)
    fmt = (lambda v: str(int(v))) if rows.dtype.kind in "iuO" else repr
    path.write_text("".join(" ".join(fmt(v) for v in row) + "\n" for row in rows.reshape(len(rows), -1)))


def _readme(out: Path, manifest: dict, view: StudyView) -> None:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["md"] = escape.markdown  # free text from the study (architecture, target names) in Markdown
    text = env.get_template("README.md").render(m=manifest, est=manifest["estimate"])
    (out / "README.md").write_text(text)


def verify(bundle: Path) -> dict:
    """Run the bundle's own verify.sh (g++): every output bit of every vector."""
    if not shutil.which(os.environ.get("CXX", "g++")):
        raise ToolError("g++ not found: the bundle's check compiles the HLS sources with it")
    build = Path(os.environ.get("TMPDIR", "/tmp")) / f"codesign-verify-{os.getpid()}-{time.time_ns()}"
    build.mkdir(parents=True)
    try:
        run = subprocess.run(["bash", str(bundle / "verify.sh")], capture_output=True, text=True,
                             env={**os.environ, "BUILD_DIR": str(build)})
    finally:
        shutil.rmtree(build, ignore_errors=True)
    m = re.search(r"(\d+)/(\d+) vectors bit-exact", run.stdout)
    if m is None:
        raise ToolError(f"verify.sh failed (exit {run.returncode}): {(run.stderr or run.stdout).strip()[-300:]}")
    return {"n_exact": int(m.group(1)), "n_vectors": int(m.group(2)), "tool": "g++ (verify.sh)",
            "exit": run.returncode}


def _synthesise(bundle: Path) -> dict:
    tool = synth.hls_tool()
    if tool is None:
        print("codesign: synthesis skipped: neither vitis_hls nor vivado_hls is on PATH")
        return {"status": "skipped", "reason": "neither vitis_hls nor vivado_hls on PATH"}
    hls_report, synth_report = synth.run_project(bundle / "hls", tool, vsynth=bool(shutil.which("vivado")))
    return {"status": "done", "tool": tool, "hls": hls_report.model_dump() if hls_report else None,
            "vivado": synth_report.model_dump() if synth_report else None}


def _tar_path(out: Path) -> Path:
    """The archive sits beside the bundle, named after it: the one file --tar writes outside --out."""
    return out.parent / f"{out.name}.tar.gz"


def _check_tarball(path: Path, force: bool) -> None:
    """An existing OUT.tar.gz is replaced only with --force, and only when it is an earlier bundle's archive."""
    if not path.exists() and not path.is_symlink():
        return
    if not force:
        raise outdir.OutputError(f"--tar: {path} already exists; pass --force to replace it (nothing was written)")
    bundle = path.name[:-len(".tar.gz")]
    try:
        with tarfile.open(path, "r:gz") as tf:
            ours = f"{bundle}/{outdir.MARKER}" in tf.getnames()
    except (OSError, tarfile.TarError, EOFError):
        ours = False
    if not ours or path.is_symlink():
        raise outdir.OutputError(f"--tar: {path} exists and is not an earlier `codesign export` archive; move it or "
                                 "choose another --out (nothing was written)")


def _tar(out: Path) -> Path:
    """OUT.tar.gz, byte-reproducible: sorted entries, zero times and owners."""
    import gzip

    path = _tar_path(out)

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        return info

    tmp = path.parent / f".{path.name}.partial"
    try:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for p in [out, *sorted(out.rglob("*"))]:
                tf.add(p, arcname=str(Path(out.name) / p.relative_to(out)), recursive=False, filter=clean)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
