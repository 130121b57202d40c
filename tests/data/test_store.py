"""The event store: arrays named by what produced them, written once in chunks, read as memory maps."""

import threading

import numpy as np
import pytest

from codesign.data.store import EventStore, file_digest, key
from codesign.errors import DataError


def _chunks(n, width=3, size=7, calls=None):
    def make():
        if calls is not None:
            calls.append(1)
        for start in range(0, n, size):
            rows = np.arange(start, min(n, start + size), dtype=np.float32)
            yield np.repeat(rows[:, None], width, axis=1)
    return make


def test_written_once_then_read_as_a_memory_map(tmp_path):
    store = EventStore(tmp_path / "data")
    spec = {"role": "test", "seed": 1, "n": 50}
    calls = []
    a = store.get(spec, (50, 3), _chunks(50, calls=calls))
    b = store.get(spec, (50, 3), _chunks(50, calls=calls))
    assert calls == [1], "the second request reads the stored array"
    assert isinstance(a, np.memmap) and np.array_equal(a[:, 0], np.arange(50)) and np.array_equal(a, b)
    assert store.path(spec).name == f"{key(spec)}.npy" and store.path(spec).with_suffix(".json").is_file()
    assert key(spec) == key({"n": 50, "seed": 1, "role": "test"})  # order of keys does not matter
    assert key(spec) != key({**spec, "seed": 2})


@pytest.mark.parametrize("n_given, message", [(40, "gave 40 rows, expected 50"), (60, "more than the 50 rows")])
def test_a_source_of_the_wrong_length_leaves_nothing(tmp_path, n_given, message):
    store = EventStore(tmp_path)
    with pytest.raises(DataError, match=message):
        store.get({"role": "test"}, (50, 3), _chunks(n_given))
    assert not list(tmp_path.glob("*.npy")), "no array, complete or partial, is left behind"


def test_an_interrupted_write_is_produced_again(tmp_path):
    store = EventStore(tmp_path)

    def broken():
        yield np.zeros((5, 3), np.float32)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.get({"role": "x"}, (10, 3), broken)
    assert not store.has({"role": "x"})
    assert np.array_equal(store.get({"role": "x"}, (10, 3), _chunks(10))[:, 2], np.arange(10))


def test_concurrent_requests_write_the_array_once(tmp_path):
    store = EventStore(tmp_path)
    calls, results = [], []

    def request():
        results.append(np.asarray(store.get({"role": "shared"}, (2000, 2), _chunks(2000, 2, 100, calls))))

    threads = [threading.Thread(target=request) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and all(np.array_equal(r, results[0]) for r in results)


def test_a_stored_array_of_another_shape_is_refused(tmp_path):
    store = EventStore(tmp_path)
    store.get({"role": "r"}, (10, 3), _chunks(10))
    with pytest.raises(DataError, match=r"shape \(10, 3\), expected \(10, 4\)"):
        store.get({"role": "r"}, (10, 4), _chunks(10, 4))


def test_files_are_named_by_their_content(tmp_path):
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    a.write_bytes(b"x" * 100)
    b.write_bytes(b"x" * 100)
    assert file_digest(a) == file_digest(b)
    b.write_bytes(b"x" * 99 + b"y")
    assert file_digest(a) != file_digest(b)
