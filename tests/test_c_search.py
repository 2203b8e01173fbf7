"""The search over c (alibi's rule) and the c history explain() returns."""

import numpy as np
import pytest

from cgp_lib._c_search import CSearch
from cgp_lib.explainer import CounterfactualProto


def test_c_grows_tenfold_until_found_then_bisects_between_the_bounds():
    search = CSearch(1.0, 2, 6)
    seen = []
    for step, found in enumerate([[False, True], [False, False], [True, True], [False, True]]):
        search.record(step, np.arange(2))
        seen.append(search.c.copy())
        search.update(np.array(found))
    # row 0: 1 (no) -> 10 (no) -> 100 (found) -> bisect (10 + 100) / 2 = 55 (no) -> (55 + 100) / 2
    # row 1: 1 (found) -> (0 + 1) / 2 = 0.5 (no) -> (0.5 + 1) / 2 = 0.75 (found) -> (0.5 + 0.75) / 2 = 0.625
    np.testing.assert_allclose(np.array(seen)[:, 0], [1, 10, 100, 55])
    np.testing.assert_allclose(np.array(seen)[:, 1], [1, 0.5, 0.75, 0.625])
    np.testing.assert_allclose(search.c, [77.5, 0.5625])  # row 1 found at 0.625: (0.5 + 0.625) / 2
    np.testing.assert_allclose(search.c_history(), np.array(seen))
    assert search.c_history().shape == (4, 2)


def test_c_zero_is_stuck_and_rows_that_sit_out_are_nan():
    search = CSearch(0.0, 3, 4)
    search.update(np.zeros(3, bool))
    assert search.stuck and not CSearch(1.0, 1, 1).stuck
    partial = CSearch(1.0, 3, 4)
    partial.record(0, np.array([0, 2]))
    assert np.isnan(partial.c_history()[0, 1]) and partial.c_history()[0, 0] == 1.0


@pytest.mark.parametrize("stop", [None, "satisfactory"])
def test_explain_returns_the_c_of_every_c_step_and_the_reported_c_is_among_them(blobs, stop):
    explainer = CounterfactualProto(
        blobs.model, (1, 4), feature_range=blobs.feature_range, max_iterations=30, c_init=0.1, c_steps=4
    )
    result = explainer.explain(blobs.X[:6], stop=stop)
    history = result.c_history
    assert history.shape[1] == 6 and 1 <= history.shape[0] <= 4
    np.testing.assert_allclose(history[0], 0.1)
    for i in np.flatnonzero(result.found):
        c_step = (result.steps_to_best[i] - 1) // 30  # steps are counted from 1 across c steps
        assert history[c_step, i] == pytest.approx(result.c[i])
