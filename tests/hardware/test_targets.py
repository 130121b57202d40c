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
