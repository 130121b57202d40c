"""The fetch step: generated DQM store -> histogram table, with AutoDQM's selection and label rules, warnings
instead of crashes for broken inputs, a resumable cache and no writes outside the output directory."""

import json
import logging
import os
import shutil

import numpy as np
import pytest
import uproot

from codesign.data import dqm_generator as gen
from codesign.data import dqm_root as dr
from codesign.data import dqm_table as tbl
from codesign.errors import ConfigError, DataError

N_RUNS = 48
PHI = "L1T//Run summary/L1TStage2EMTF/emtfTrackPhi"
BX = "L1T//Run summary/L1TStage2EMTF/emtfTrackBX"
RECHITS = "CSC//Run summary/CSCOfflineMonitor/Occupancy/hORecHits"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return gen.generate(tmp_path_factory.mktemp("dqm") / "store", n_runs=N_RUNS, seed=5, bad_fraction=0.15)


@pytest.fixture(scope="module")
def truth(store):
    return json.loads(store.truth.read_text())


@pytest.fixture()
def copy(store, tmp_path):
    """A private copy of the store for tests that damage or add files."""
    return shutil.copytree(store.root, tmp_path / "store")


def fetch(input_dir, out, contents=None, datasets=None, **kwargs):
    kwargs.setdefault("progress", False)
    return dr.fetch(input_dir, contents or input_dir / "contents.json", datasets or input_dir / "datasets.json", out,
                    **kwargs)


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def rewrite(path, drop=(), replace=None):
    """Rewrite a DQM file without some histograms and with others replaced by (counts, edges)."""
    with uproot.open(path) as f:
        objs = {k.split(";")[0]: f[k] for k, c in f.classnames().items() if c.startswith("TH")}
    objs = {k: v for k, v in objs.items() if not k.endswith(tuple(drop))}
    for suffix, value in (replace or {}).items():
        objs[next(k for k in objs if k.endswith(suffix))] = value
    with uproot.recreate(path) as f:
        f.update(objs)


def test_parse_filename():
    name = dr.parse_filename("DQM_V0001_R000315267__SingleMuon__Run2018A-12Nov2019_UL2018-v2__DQMIO.root")
    assert name == dr.DQMName(1, 315267, "SingleMuon", 2018, "A", "12Nov2019_UL2018", 2)
    assert dr.parse_filename("/eos/x/DQM_V0003_R000297050__Zero_Bias__Run2017B-PromptReco__DQMIO.root") == \
        dr.DQMName(3, 297050, "Zero_Bias", 2017, "B", "PromptReco", 1)
    for bad in ("histos.root", "DQM_V0001_R000315267__SingleMuon__DQMIO.root", "DQM_V1_Rx__A__Run2018A-p__DQMIO.root"):
        assert dr.parse_filename(bad) is None


def test_round_trip_values_labels_and_meta(store, truth, tmp_path):
    result = fetch(store.root, tmp_path / "out", progress=True)
    assert result.outputs == {"SingleMuon": tmp_path / "out" / "SingleMuon.parquet"}
    assert (result.n_files, result.n_converted, result.skipped, result.warnings) == (N_RUNS, N_RUNS, (), ())
    t = tbl.read(result.outputs["SingleMuon"])
    assert list(t.frame.columns) == ["run_number", "year", "era", "production", "primary_dataset", "file", "label"]
    runs = [r["run"] for r in truth["runs"]]
    assert t.runs.tolist() == runs == sorted(runs)
    assert t.histograms == [spec.column for spec in gen.SPECS.values()]
    # labels: listed bad 1, listed good 0, unlabelled -1 (both lists given)
    incident = {a["run"]: a for a in truth["anomalies"]}
    expected = [-1 if not r["labelled"] else int(r["run"] in incident) for r in truth["runs"]]
    assert t.labels.tolist() == expected and {-1, 0, 1} <= set(expected)
    # values, shapes and descriptions exactly as in the ROOT file; 2D flattened in C order of (nx, ny)
    i = 5
    path = store.root / t.frame["file"][i]
    assert path.is_file() and f"R{runs[i]:09d}" in path.name
    with uproot.open(path) as f:
        for spec in gen.SPECS.values():
            h = f[f"DQMData/Run {runs[i]}/{spec.subsystem}{spec.path}"]
            assert np.array_equal(t.values(spec.column)[i], h.values())
            assert np.array_equal(t.arrays[spec.column][i], h.values().ravel())
            info = t.info(spec.column)
            assert info.cls == h.classname and info.title == h.title
            assert np.allclose(info.edges[0], h.axis(0).edges()) and info.axis_labels[0] == spec.axes[0][3]
    assert t.info(RECHITS).shape == (36, 20)
    assert t.info(RECHITS).axis_labels == ("Chamber #", gen.SPECS["hORecHits"].axes[1][3])
    meta = t.meta["fetch"]
    assert meta["n_files"] == N_RUNS and meta["skipped"] == [] and meta["input_dir"] == str(store.root.resolve())
    assert meta["contents"] == json.loads(store.contents.read_text())
    assert meta["provenance"]["versions"]["numpy"] == np.__version__


def _datasets(store, keep):
    """The generated datasets JSON with only the label lists in `keep`."""
    data = json.loads(store.datasets.read_text())
    for year in data["years"].values():
        for key in ("good_runs", "bad_runs"):
            if key not in keep:
                del year[key]
    return data


@pytest.mark.parametrize("keep, default", [(("good_runs", "bad_runs"), -1), (("bad_runs",), 0),
                                           (("good_runs",), 1), ((), None)])
def test_label_rule(store, truth, tmp_path, keep, default):
    datasets = write_json(tmp_path / "cfg" / "datasets.json", _datasets(store, keep))
    t = tbl.read(fetch(store.root, tmp_path / "out", datasets=datasets).outputs["SingleMuon"])
    if default is None:
        assert "label" not in t.frame and t.labels is None
        return
    listed = {int(r): int(k == "bad_runs") for y in _datasets(store, keep)["years"].values()
              for k in keep for r in y[k]}
    assert t.labels.tolist() == [listed.get(r, default) for r in t.runs]
    assert set(t.labels.tolist()) == {0, 1, default}


def test_filters_eras_runs_and_production_substring(store, truth, tmp_path):
    by_year = {y: [r for r in truth["runs"] if r["year"] == y] for y in (2017, 2018)}
    picked = [r["run"] for r in by_year[2018][:3]]
    datasets = write_json(tmp_path / "datasets.json", {"primary_datasets": ["SingleMuon"], "years": {
        "2017": {"productions": ["UL2017"], "eras": ["B", "Run2017C", "D"]},
        "2018": {"productions": ["12Nov2019"], "runs": [str(picked[0]), picked[1], str(picked[2]), "999999"]}}})
    result = fetch(store.root, tmp_path / "out", datasets=datasets)
    t = tbl.read(result.outputs["SingleMuon"])
    want = sorted([r["run"] for r in by_year[2017] if r["era"] in "BCD"] + picked)
    assert t.runs.tolist() == want and "label" not in t.frame
    assert set(t.frame["era"][t.frame["year"] == 2017]) <= {"B", "C", "D"}
    assert any("999999" in w and "years.2018.runs" in w for w in result.warnings)
    none = write_json(tmp_path / "none.json", {"primary_datasets": ["SingleMuon"],
                                               "years": {"2018": {"productions": ["UL2017"]}}})
    with pytest.raises(DataError, match="no DQM file"):
        fetch(store.root, tmp_path / "out2", datasets=none)


def test_primary_datasets_and_tag_name_the_outputs(copy, tmp_path):
    zb = gen.generate(copy / "zb", n_runs=5, seed=9, primary_dataset="ZeroBias")
    years = {"2017": {}, "2018": {}}
    only_zb = write_json(tmp_path / "zb.json", {"primary_datasets": ["ZeroBias"], "years": years})
    result = fetch(copy, tmp_path / "out", datasets=only_zb, tag="v1")
    assert list(result.outputs) == ["ZeroBias"] and result.outputs["ZeroBias"].name == "v1_ZeroBias.parquet"
    t = tbl.read(result.outputs["ZeroBias"])
    assert len(t) == 5 and set(t.frame["primary_dataset"]) == {"ZeroBias"}
    assert all(f.startswith("zb/Run20") for f in t.frame["file"])
    assert (copy / t.frame["file"][0]).is_file() and zb.n_runs == 5
    both = write_json(tmp_path / "both.json", {"primary_datasets": ["SingleMuon", "ZeroBias"], "years": years})
    result = fetch(copy, tmp_path / "out", datasets=both, tag="v1")
    assert sorted(p.name for p in result.outputs.values()) == ["v1_SingleMuon.parquet", "v1_ZeroBias.parquet"]
    assert len(tbl.read(result.outputs["SingleMuon"])) == N_RUNS and result.n_cached == 5


def test_broken_files_are_skipped_named_and_counted(copy, truth, tmp_path, caplog):
    victim = sorted(copy.rglob("*.root"))[7]
    with open(victim, "r+b") as f:
        f.truncate(os.path.getsize(victim) // 2)
    assert 325170 not in {r["run"] for r in truth["runs"]}
    garbage = copy / "Run2018/SingleMuon/R0003251xx" / gen.file_name(325170, "SingleMuon", 2018, "D")
    garbage.parent.mkdir(parents=True, exist_ok=True)
    garbage.write_text("not a ROOT file")
    with caplog.at_level(logging.WARNING, logger="codesign"):
        result = fetch(copy, tmp_path / "out")
    rel = victim.relative_to(copy).as_posix()
    assert [s[0] for s in result.skipped] == sorted([rel, garbage.relative_to(copy).as_posix()])
    assert any(w.startswith(rel) and "truncated" in w for w in result.warnings)
    assert any("skipped 2 of 49 files" in w for w in result.warnings)
    assert any(rel in r.getMessage() for r in caplog.records)
    t = tbl.read(result.outputs["SingleMuon"])
    assert len(t) == N_RUNS - 1 and rel not in set(t.frame["file"])
    assert {s["file"] for s in t.meta["fetch"]["skipped"]} == {s[0] for s in result.skipped}


def test_missing_histograms_and_other_binnings_become_nulls(copy, truth, tmp_path):
    files = sorted(copy.rglob("*.root"))
    rewrite(files[3], drop=["/emtfTrackPhi"])
    rewrite(files[10], replace={"/emtfTrackBX": (np.ones(9), np.linspace(-4.5, 4.5, 10))})
    contents = json.loads((copy / "contents.json").read_text())
    contents["L1T"] += ["/Run summary/L1TStage2EMTF/noSuchHistogram", "/Run summary/L1TStage2EMTF"]
    result = fetch(copy, tmp_path / "out", contents=write_json(tmp_path / "contents.json", contents))
    t = tbl.read(result.outputs["SingleMuon"])
    assert len(t) == N_RUNS and result.skipped == ()
    null_phi = np.isnan(t.arrays[PHI]).all(1)
    null_bx = np.isnan(t.arrays[BX]).all(1)
    assert np.flatnonzero(null_phi).tolist() == [3] and np.flatnonzero(null_bx).tolist() == [10]
    assert not np.isnan(t.arrays[RECHITS]).any() and t.info(BX).shape == (7,)
    rel = lambda i: files[i].relative_to(copy).as_posix()  # noqa: E731
    assert any(PHI in w and "absent from 1 of 48 files" in w and rel(3) in w for w in result.warnings)
    assert any(BX in w and "another binning" in w and rel(10) in w for w in result.warnings)
    assert any("noSuchHistogram" in w and "column left out" in w for w in result.warnings)
    assert any("L1T//Run summary/L1TStage2EMTF'" in w and "directory" in w for w in result.warnings)
    assert t.histograms == [s.column for s in gen.SPECS.values()]


def test_duplicate_runs_keep_the_highest_version_and_other_names_warn_once(copy, tmp_path):
    first = sorted(copy.rglob("*.root"))[0]
    newer = first.with_name(first.name.replace("DQM_V0001", "DQM_V0002"))
    shutil.copy(first, newer)
    (copy / "notes").mkdir()
    for name in ("a.root", "notes/b.root"):
        (copy / name).write_text("x")
    result = fetch(copy, tmp_path / "out")
    t = tbl.read(result.outputs["SingleMuon"])
    assert len(t) == N_RUNS and t.frame["file"][0] == newer.relative_to(copy).as_posix()
    dup = [w for w in result.warnings if "several files" in w]
    assert len(dup) == 1 and str(dr.parse_filename(first.name).run) in dup[0]
    names = [w for w in result.warnings if "not named like DQM files" in w]
    assert len(names) == 1 and "skipped 2 .root files" in names[0] and result.skipped == ()


def test_resume_converts_only_what_is_missing_or_changed(copy, tmp_path):
    out = tmp_path / "out"
    first = fetch(copy, out)
    before = tbl.read(first.outputs["SingleMuon"])
    again = fetch(copy, out)
    assert (again.n_converted, again.n_cached) == (0, N_RUNS)
    touched = sorted(copy.rglob("*.root"))[4]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    assert (fetch(copy, out).n_converted, fetch(copy, out).n_converted) == (1, 0)
    entries = sorted((out / ".fetch" / "SingleMuon").glob("*.json"))
    assert len(entries) == N_RUNS and not list((out / ".fetch").rglob("*.tmp*"))
    entries[0].unlink()
    for npz in sorted((out / ".fetch" / "SingleMuon").glob("*.npz"))[10:12]:
        npz.write_bytes(b"corrupt")
    assert fetch(copy, out).n_converted == 3
    after = tbl.read(fetch(copy, out).outputs["SingleMuon"])
    assert before.frame.equals(after.frame) and all(np.array_equal(before.arrays[h], after.arrays[h])
                                                    for h in before.histograms)
    contents = json.loads((copy / "contents.json").read_text())
    contents["CSC"] = contents["CSC"][:2]
    fewer = fetch(copy, out, contents=write_json(tmp_path / "c.json", contents))
    assert fewer.n_converted == N_RUNS and len(tbl.read(fewer.outputs["SingleMuon"]).histograms) == 7


@pytest.mark.parametrize("loader, text, expected", [
    (dr.load_contents, '{"CSC": ["/Run summary/a",\n  "/Run summary/b"\n', "line 3, column 1"),
    (dr.load_datasets, '{"primary_datasets": ["SingleMuon"],\n "years": {"2018": {runs: []}}}', "line 2, column 21"),
])
def test_malformed_json_is_one_line_naming_file_line_and_column(tmp_path, loader, text, expected):
    path = tmp_path / "cfg" / "broken.json"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        loader(path)
    message = str(err.value)
    assert str(path) in message and expected in message and "invalid JSON" in message and "\n" not in message


@pytest.mark.parametrize("loader, data, where", [
    (dr.load_datasets, {"primary_datasets": ["SingleMuon"], "yeras": {}}, "yeras: unknown key"),
    (dr.load_datasets, {"primary_datasets": ["SingleMuon"], "years": {"2018": {"runs": ["31x"]}}}, "years.2018.runs.0"),
    (dr.load_datasets, {"primary_datasets": ["SingleMuon"], "years": {"2018": {"good_runs": [1], "bad_runs": ["1"]}}},
     "both good_runs and bad_runs"),
    (dr.load_datasets, {"primary_datasets": ["../SingleMuon"], "years": {"2018": {}}}, "primary_datasets"),
    (dr.load_datasets, {"primary_datasets": [], "years": {"2018": {}}}, "at least one primary dataset"),
    (dr.load_contents, {"CSC": ["Run summary/x"]}, "must start with '/'"),
    (dr.load_contents, {"CSC": []}, "non-empty list"),
    (dr.load_contents, {"CSC": "/Run summary/x"}, "CSC: Input should be a valid list"),
    (dr.load_contents, ["/Run summary/x"], "expected a JSON object"),
])
def test_schema_errors_name_the_key(tmp_path, loader, data, where):
    path = write_json(tmp_path / "cfg.json", data)
    with pytest.raises(ConfigError) as err:
        loader(path)
    assert str(err.value).startswith(str(path)) and where in str(err.value) and "\n" not in str(err.value)


def test_yaml_configs_and_models_are_accepted(store, tmp_path):
    contents = tmp_path / "contents.yaml"
    contents.write_text("L1T:\n  - /Run summary/L1TStage2EMTF/emtfTrackBX\n")
    model = dr.Datasets(primary_datasets=["SingleMuon"], years={2018: dr.YearSelection(eras=["A"])})
    t = tbl.read(fetch(store.root, tmp_path / "out", contents=contents, datasets=model).outputs["SingleMuon"])
    assert t.histograms == [BX] and set(t.frame["era"]) == {"A"} and set(t.frame["year"]) == {2018}


def _tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.mark.parametrize("tag, pd", [("../up", "SingleMuon"), ("a/b", "SingleMuon"), ("ok", "..")])
def test_unsafe_names_are_refused_before_anything_is_written(store, tmp_path, tag, pd):
    datasets = write_json(tmp_path / "cfg" / "d.json", {"primary_datasets": [pd], "years": {"2018": {}}})
    before = _tree(tmp_path)
    with pytest.raises(ConfigError) as err:
        fetch(store.root, tmp_path / "out", datasets=datasets, tag=tag)
    assert "\n" not in str(err.value) and "letters, digits" in str(err.value)
    assert _tree(tmp_path) == before


def test_histogram_paths_are_only_lookups_inside_files(store, tmp_path):
    contents = write_json(tmp_path / "cfg" / "c.json", {"L1T": [
        "/Run summary/L1TStage2EMTF/emtfTrackBX", "/../../../../escape", "/Run summary/../../../x.parquet",
        "//" + str(tmp_path / "abs")]})
    out = tmp_path / "deep" / "out"
    before = _tree(tmp_path)
    result = fetch(store.root, out, contents=contents)
    created = sorted(set(_tree(tmp_path)) - set(before))
    assert created and all(p.startswith("deep") for p in created), created
    assert sorted(p for p in created if not p.startswith("deep/out/.fetch")) == ["deep", "deep/out",
                                                                                  "deep/out/SingleMuon.parquet"]
    assert len([w for w in result.warnings if "column left out" in w]) == 3
    assert tbl.read(result.outputs["SingleMuon"]).histograms == [BX]


def test_configs_and_files_in_different_directories_from_any_cwd(store, tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    configs.mkdir()
    shutil.copy(store.datasets, configs / "ds.json")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = dr.fetch(store.root, store.contents, "../configs/ds.json", tmp_path / "out", progress=False)
    assert len(tbl.read(result.outputs["SingleMuon"])) == N_RUNS and not list(elsewhere.iterdir())
    with pytest.raises(DataError, match="no such directory"):
        dr.fetch(tmp_path / "nowhere", store.contents, store.datasets, tmp_path / "out2", progress=False)
