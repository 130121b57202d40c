"""Preprocessing kinds: what an input can contribute to a reconstruction score."""

import numpy as np
import pytest

from codesign.core.preprocessing import Preprocessor, bounded_ranges


@pytest.fixture()
def slots(rng):
    """Two pT slots (the second filled in 1 % of events) and their eta: zero where the object is absent."""
    n = 20_000
    lead = rng.exponential(40.0, n) + 20.0
    rare = np.where(rng.uniform(size=n) < 0.01, rng.exponential(10.0, n) + 5.0, 0.0)
    eta_lead, eta_rare = rng.uniform(-3, 3, n), np.where(rare > 0, rng.uniform(-2, 2, n), 0.0)
    return np.stack([lead, eta_lead, rare, eta_rare], axis=1), ["pt", "eta", "pt", "eta"]


def test_standardising_slots_makes_a_filled_rare_slot_hundreds_of_sigma(slots):
    x, groups = slots
    filled = x[:, 2] > 0
    standard = Preprocessor.fit("standard", x).transform(x)
    bounded = Preprocessor.fit("bounded", x, groups).transform(x)
    assert np.median(np.abs(standard[filled, 2])) > 5 and np.abs(standard[filled, 2]).max() > 30
    assert np.abs(bounded).max() <= 1.0 and np.median(np.abs(bounded[filled, 2])) < 0.2


def test_bounded_ranges_are_powers_of_two_above_the_quantile(slots):
    x, groups = slots
    per_quantity = bounded_ranges(x, groups)
    pt = np.abs(x[:, [0, 2]]).ravel()
    q = np.quantile(pt[pt != 0], 0.999)
    assert per_quantity[0] == per_quantity[2] == 2.0 ** np.ceil(np.log2(q)) and per_quantity[1] == 4.0
    per_slot = bounded_ranges(x, groups, per_slot=True)
    rare = x[x[:, 2] > 0, 2]
    assert per_slot[2] == 2.0 ** np.ceil(np.log2(np.quantile(rare, 0.999))) < per_quantity[2]
    # a slot with too few filled events to measure takes its quantity's range
    few = x.copy()
    few[100:, 2:] = 0.0
    assert bounded_ranges(few, groups, per_slot=True)[2] == bounded_ranges(few, groups)[2]


def test_bounded_saturates_keeps_absent_objects_at_zero_and_round_trips(slots):
    x, groups = slots
    pre = Preprocessor.fit("bounded_slot", x, groups)
    y = pre.transform(np.array([[1e5, -40.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    assert y[0, 0] == 1.0 and y[0, 1] == -1.0 and np.all(y[1] == 0) and np.all(y[0, 2:] == 0)
    again = Preprocessor.from_dict(pre.to_dict())
    assert again.kind == "bounded_slot" and np.array_equal(again.range, pre.range)
    assert np.array_equal(again.transform(x), pre.transform(x))
    assert Preprocessor.from_dict(Preprocessor.fit("standard", x).to_dict()).range is None


def test_unknown_kind_is_refused(slots):
    with pytest.raises(ValueError, match="unknown preprocessing 'log'"):
        Preprocessor.fit("log", slots[0])
