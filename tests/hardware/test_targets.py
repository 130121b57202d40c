import pytest

from codesign.errors import ConfigError
from codesign.hardware import targets


def test_every_target_parses_and_is_a_real_part():
    names = targets.available()
    assert {"xcvu9p", "xcvu13p", "xcku115", "xczu7ev", "xc7z020"} <= set(names)
    for name in names:
        t = targets.load(name)
        assert t.name == name and t.part.startswith(name)
        assert t.resources.lut > 0 and t.resources.dsp > 0 and t.clock_period_ns > 0
    vu9p = targets.load("xcvu9p")
    assert (vu9p.resources.lut, vu9p.resources.dsp, vu9p.resources.bram18) == (1182240, 6840, 4320)


def test_unknown_target_and_bad_file(tmp_path):
    with pytest.raises(ConfigError, match="unknown target 'xcvu99p'; known targets: .*xcvu9p"):
        targets.load("xcvu99p")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npart: p\nfamily: virtexuplus\nclock_mhz: 200\nresources: {lut: 1, ff: 1, dsp: 1}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: resources.bram18: Field required"):
        targets.load(str(bad))


def test_part_families():
    cases = {"xcvu9p-flga2104-2L-e": "virtexuplus", "xcu250-figd2104-2L-e": "virtexuplus",
             "xcku115-flvb2104-2-e": "kintexu", "xcku5p-ffvb676-2-e": "kintexuplus", "xczu3eg-sbva484-1-e":
             "zynquplus", "xc7z020clg400-1": "zynq7", "7z020clg400-1": "zynq7", "xc7vx690t": "virtex7"}
    for part, family in cases.items():
        assert targets.family_of(part) == family
    with pytest.raises(ConfigError, match="unknown part 'ep4ce22'"):
        targets.family_of("ep4ce22")


def test_family_must_match_the_part(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\npart: xcvu9p-flga2104-2L-e\nfamily: zynq7\nclock_mhz: 200\n"
                   "resources: {lut: 1, ff: 1, dsp: 1, bram18: 1}\n")
    with pytest.raises(ConfigError, match="family 'zynq7' does not match part 'xcvu9p-flga2104-2L-e'"):
        targets.load(str(bad))


def test_budgets():
    b = targets.Budget.parse("luts=5000, dsp=20,latency=100")
    assert b.limits() == {"lut": 5000, "dsp": 20, "latency_ns": 100}
    for text, message in (("lutz=3", "cannot read 'lutz=3'"), ("lut=-3", "lut: Input should be greater"),
                          ("lut=abc", "lut must be a number"), ("lut", "cannot read 'lut'")):
        with pytest.raises(ConfigError, match=message):
            targets.Budget.parse(text)
    assert targets.load("xcvu9p").budget.lut == pytest.approx(0.1 * 1182240, rel=1e-3)


def test_targets_command(capsys):
    import json

    from codesign import cli

    assert cli.main(["targets"]) == 0
    out = capsys.readouterr().out
    assert "xcvu9p-flga2104-2L-e" in out and "lut=118224" in out
    assert cli.main(["targets", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(targets.available())
