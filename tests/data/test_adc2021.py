import h5py
import numpy as np
import pytest

from codesign.data import adc2021
from codesign.errors import DataError


def test_h5_round_trip_in_the_real_layout(tmp_path, background_sample):
    path = tmp_path / "bkg.h5"
    adc2021.write_events(path, background_sample.particles[:1000], background_sample.process[:1000],
                         ("a", "b", "c", "d"))
    with h5py.File(path) as f:  # the same datasets as the real ADC2021 files
        assert f["Particles"].shape == (1000, 19, 4)
        assert [n.decode() for n in f["Particles_Names"][:]] == ["Pt", "Eta", "Phi", "Class"]
        assert len(f["Particles_Classes"]) == 4
    back = adc2021.read_events(path)
    assert np.array_equal(back.particles, background_sample.particles[:1000])
    assert np.array_equal(back.process, background_sample.process[:1000])


def test_a_file_without_truth_labels_reads_like_a_real_one(tmp_path, background_sample):
    path = tmp_path / "real_like.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("Particles", data=background_sample.particles[:10].astype(np.float64))
    back = adc2021.read_events(path)
    assert back.process is None and back.particles.dtype == np.float32


def test_flatten_gives_57_inputs_in_row_order(background_sample):
    p = background_sample.particles[:3]
    x = adc2021.flatten(p)
    names = adc2021.input_names()
    assert x.shape == (3, 57) and len(names) == 57
    assert names[:3] == ["met_pt", "met_eta", "met_phi"] and names[3] == "egamma1_pt" and names[-1] == "jet10_phi"
    np.testing.assert_array_equal(x[:, names.index("muon1_pt")], p[:, 5, 0])


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        adc2021.read_events(tmp_path / "nope.h5")


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    with pytest.raises(DataError, match="cannot be read as h5"):
        adc2021.read_events(path)


def test_wrong_shape(tmp_path):
    path = tmp_path / "shape.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("Particles", data=np.zeros((5, 18, 4)))
    with pytest.raises(DataError, match=r"shape \(5, 18, 4\), expected \(N, 19, 4\)"):
        adc2021.read_events(path)


def test_missing_dataset(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("Jets", data=np.zeros((5, 19, 4)))
    with pytest.raises(DataError, match="no 'Particles' dataset"):
        adc2021.read_events(path)


def test_nan_features(tmp_path, background_sample):
    p = background_sample.particles[:20].copy()
    p[7, 3, 1] = np.nan
    path = tmp_path / "nan.h5"
    adc2021.write_events(path, p)
    with pytest.raises(DataError, match="event 7, object 3, feature Eta"):
        adc2021.read_events(path)
