import numpy as np

from codesign.search import pareto


def test_front_of_two_objectives():
    # (TPR maximised, LUT minimised)
    values = np.array([[0.10, 100], [0.20, 200], [0.15, 300], [0.20, 150], [0.05, 50], [0.20, 150]])
    mask = pareto.front_mask(pareto.to_minimise(values, ["maximize", "minimize"]))
    assert mask.tolist() == [True, False, False, True, True, True]  # ties are both kept
    assert pareto.dominates(np.array([1, 1]), np.array([1, 2])) and not pareto.dominates(np.array([1, 2]),
                                                                                         np.array([2, 1]))
