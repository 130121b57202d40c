"""Report parsers on checked-in vendor output (Vivado HLS 2019/2020, Vitis HLS 2024, Vivado 2020)."""

from pathlib import Path

import pytest

from codesign.hardware import reports

HERE = Path(__file__).with_name("reports")


def test_hls_reports_all_formats():
    old = reports.read_hls(HERE / "jet_tagger_vivadohls2019_csynth.rpt")  # 2019: no units, no absolute times
    assert (old.version, old.part, old.latency_min, old.ii_min) == ("2019.1", "xczu3eg-sbva484-1-e", 13, 1)
    assert (old.bram18, old.dsp, old.ff, old.lut, old.clock_estimate_ns) == (4, 3911, 49481, 88404, 4.198)
    new = reports.read_hls(HERE / "jet_tagger_vitishls2024_csynth.rpt")
    assert (new.tool, new.version, new.latency_min, new.dsp, new.lut, new.bram18) == \
        ("Vitis HLS", "2024.1", 14, 2242, 120004, 8)
    rpt = reports.read_hls(HERE / "dense16x5_stream_csynth.rpt")
    xml = reports.read_hls(HERE / "dense16x5_stream_csynth.xml")
    assert rpt.model_dump(exclude={"tool"}) == xml.model_dump(exclude={"tool"})
    assert (xml.dsp, xml.ff, xml.lut, xml.latency_min, xml.ii_min) == (73, 7969, 2532, 10, 8)


def test_vivado_utilization_reports():
    small = reports.read_synth(HERE / "dense16x5_stream_vivado_synth.rpt")  # 7-series: Slice LUTs
    assert (small.lut, small.ff, small.dsp, small.bram18) == (1526, 2428, 66, 0)
    big = reports.read_synth(HERE / "pruned_cnn_vivado_synth.rpt")  # UltraScale+: CLB LUTs, BRAM tiles
    assert (big.lut, big.ff, big.dsp, big.bram18, big.part) == (123948, 43435, 5386, 84, "xcu250figd2104-2L")
    # the known gap between the HLS estimate and logic synthesis: about 2x for LUTs, DSPs equal
    hls = reports.read_hls(HERE / "pruned_cnn_csynth.rpt")
    assert 1.8 < hls.lut / big.lut < 2.2 and abs(hls.dsp / big.dsp - 1) < 0.01


def test_bad_reports_name_the_file(tmp_path):
    bad = tmp_path / "myproject_csynth.rpt"
    bad.write_text("== Vivado HLS Report\nnothing else\n")
    with pytest.raises(reports.ReportError, match=r"myproject_csynth.rpt: not an HLS csynth report \(missing"):
        reports.read_hls(bad)
    xml = tmp_path / "x.xml"
    xml.write_text("<profile><broken")
    with pytest.raises(reports.ReportError, match="x.xml: not valid XML"):
        reports.read_hls(xml)
    with pytest.raises(reports.ReportError, match="vivado_synth.rpt: not a Vivado utilization report"):
        (tmp_path / "vivado_synth.rpt").write_text("| Device : x\n")
        reports.read_synth(tmp_path / "vivado_synth.rpt")
    with pytest.raises(reports.ReportError, match="nope.rpt: cannot be read"):
        reports.read_hls(tmp_path / "nope.rpt")


def test_find_reports_in_an_hls4ml_project(tmp_path):
    report_dir = tmp_path / "myproject_prj" / "solution1" / "syn" / "report"
    report_dir.mkdir(parents=True)
    (report_dir / "myproject_csynth.rpt").write_text((HERE / "dense16x5_stream_csynth.rpt").read_text())
    (tmp_path / "vivado_synth.rpt").write_text((HERE / "dense16x5_stream_vivado_synth.rpt").read_text())
    hls, synth = reports.find_reports(tmp_path)
    assert hls.dsp == 73 and synth.dsp == 66
    assert reports.find_reports(tmp_path / "myproject_prj") == (None, None)
