"""The detector's slot filling against a direct per-event reference (sort each event's kept objects by pT)."""

import numpy as np
import pytest

from codesign.data.l1_detector import _top_rows


def _reference(pt, eta, phi, keep, count, class_id):
    out = np.zeros((len(pt), count, 4), np.float32)
    for i in range(len(pt)):
        kept = [j for j in sorted(range(pt.shape[1]), key=lambda j: -pt[i, j]) if keep[i, j]][:count]
        for slot, j in enumerate(kept):
            out[i, slot] = (pt[i, j], eta[i, j], phi[i, j], class_id)
    return out


@pytest.mark.parametrize("columns, count", [(6, 4), (2, 4), (4, 4), (0, 3)])
def test_top_rows_are_the_pt_ordered_kept_objects_zero_padded(columns, count):
    rng = np.random.default_rng(columns)
    pt = rng.choice([0.0, 5.0, 12.5, 40.0, 40.0, 99.0], (500, columns))  # ties: equal pT keeps column order
    eta, phi = rng.normal(0, 2, (500, columns)), rng.uniform(-3, 3, (500, columns))
    keep = rng.uniform(size=(500, columns)) < 0.6
    out = np.full((500, 1 + count + 2, 4), 7.0, np.float32)  # slots outside [1, 1 + count) are untouched
    _top_rows(out, 1, pt, eta, phi, keep, count, 2)
    np.testing.assert_array_equal(out[:, 1:1 + count], _reference(pt, eta, phi, keep, count, 2))
    assert (out[:, 0] == 7.0).all() and (out[:, 1 + count:] == 7.0).all()
