"""Property-based checks of every parser a user's text meets: each either returns a value inside its contract or
refuses with a one-line CodesignError / argparse error; nothing else escapes (found by hypothesis, not a list)."""

import argparse
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign import arguments, config
from codesign.errors import CodesignError
from codesign.hardware import targets
from codesign.search import study
from codesign.tasks import jet_compression, l1_anomaly

NUMBERS = st.one_of(st.integers(-10**20, 10**20).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.text(max_size=12), st.sampled_from(["1e999", "-0", "0x10", "1_000", " 7 ", "nan", "+inf"]))
CONTRACTS = {
    arguments.count: lambda v: isinstance(v, int) and v >= 1,
    arguments.natural: lambda v: isinstance(v, int) and v >= 0,
    arguments.seed: lambda v: isinstance(v, int) and 0 <= v <= arguments.SEED_MAX,
    arguments.positive: lambda v: math.isfinite(v) and v > 0,
    arguments.fraction: lambda v: math.isfinite(v) and 0 <= v <= 1,
    arguments.open_fraction: lambda v: math.isfinite(v) and 0 < v < 1,
    arguments.percentile: lambda v: math.isfinite(v) and 0 < v < 100,
}


@pytest.mark.parametrize("kind", list(CONTRACTS), ids=lambda k: k.__name__)
@given(text=NUMBERS)
def test_argument_types_return_values_inside_their_contract_or_refuse(kind, text):
    try:
        value = kind(text)
    except argparse.ArgumentTypeError as exc:
        assert "\n" not in str(exc) and "expected" in str(exc)
        return
    assert CONTRACTS[kind](value), (text, value)


ITEM = st.tuples(st.sampled_from(["lut", "luts", "ff", "dsp", "bram", "latency", "ii", "colour", ""]),
                 st.sampled_from(["=", "", "=="]), NUMBERS, st.sampled_from(["", "%"]))
BUDGETS = st.lists(ITEM, max_size=4).map(lambda items: ",".join(k + s + v + p for k, s, v, p in items))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(BUDGETS, st.text(max_size=30)))
def test_budgets_are_finite_positive_and_within_the_part_or_refused(text):
    target = targets.load("xcvu9p")
    try:
        budget = targets.Budget.parse(study.budget_fraction(text, target.resources_dict))
        budget.check_part(target)
    except CodesignError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("--budget")
        return
    have = target.resources_dict
    for name, value in budget.limits().items():
        assert math.isfinite(value) and value >= 0 and (name not in have or value <= have[name]), (text, budget)


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(), st.text(max_size=8)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=10), inner, max_size=3)),
                    max_leaves=12)
SECTIONS = st.sampled_from(["seed", "data", "model", "training", "metrics", "preprocessing", "task"])


@pytest.mark.parametrize("task", [l1_anomaly, jet_compression], ids=["l1-anomaly", "jet-compression"])
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(SECTIONS, JSON, max_size=4))
def test_any_config_mapping_is_a_valid_config_or_one_line_refusal(task, data):
    try:
        parsed = config.parse(task.Config, data, "c.yaml")
    except CodesignError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("c.yaml: ")
        return
    for value in _floats(parsed.model_dump()):
        assert math.isfinite(value), (data, parsed)


def _floats(tree):
    if isinstance(tree, dict):
        for v in tree.values():
            yield from _floats(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _floats(v)
    elif isinstance(tree, float):
        yield tree
