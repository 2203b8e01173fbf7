"""The cross-check's targets and tables on hand-made comparison frames (no alibi process)."""

import numpy as np
import pandas as pd

from cgp_lib.reference import crosscheck


def frame(cf_cgp, cf_alibi, en_rel, max_abs, proto=None, found=None):
    n = len(cf_cgp)
    found_cgp = np.asarray(cf_cgp) >= 0 if found is None else found
    found_alibi = np.asarray(cf_alibi) >= 0 if found is None else found
    proto = np.zeros(n, int) if proto is None else proto
    return pd.DataFrame(
        {
            "found_cgp": found_cgp,
            "found_alibi": found_alibi,
            "orig_class_cgp": 0,
            "orig_class_alibi": 0,
            "cf_class_cgp": cf_cgp,
            "cf_class_alibi": cf_alibi,
            "proto_class_cgp": proto,
            "proto_class_alibi": np.zeros(n, int),
            "en_cgp": 1.0,
            "en_alibi": 1.0,
            "en_rel_diff": en_rel,
            "max_abs_diff": max_abs,
            "steps_to_first_cgp": 3,
        }
    )


def test_status_needs_every_target():
    n = 20
    agree = frame([1] * n, [1] * n, [0.01] * n, [1e-6] * n)
    assert crosscheck.status(agree) == "met"
    one_class_off = frame([1] * 19 + [2], [1] * n, [0.01] * n, [1e-6] * n)
    assert crosscheck.class_agreement(one_class_off) == 0.95 and crosscheck.status(one_class_off) == "met"
    two_off = frame([1] * 18 + [2, 2], [1] * n, [0.01] * n, [1e-6] * n)
    assert crosscheck.status(two_off) == "missed"  # 90% < TARGET_AGREEMENT
    far = frame([1] * n, [1] * n, [0.03] * n, [1e-6] * n)
    assert crosscheck.status(far) == "missed"  # median EN difference above TARGET_EN
    none = frame([-1] * 3, [-1] * 3, [np.nan] * 3, [np.nan] * 3, found=np.zeros(3, bool))
    assert crosscheck.status(none).startswith("n/a")


def test_identical_counts_answers_equal_up_to_rounding():
    f = frame([1, 1, 1, -1], [1, 1, 1, -1], [0, 0, 0, np.nan], [0.0, 1e-5, 2e-5, np.nan])
    assert crosscheck.identical(f) == 2


def test_nudge_moves_every_feature_by_at_most_its_size_inside_the_range():
    X = np.zeros((4, 6), np.float32)
    moved = crosscheck.nudge(X, -1.0, 1.0)
    assert np.abs(moved).max() <= crosscheck.NUDGE and np.abs(moved).max() > 0
    np.testing.assert_array_equal(moved, crosscheck.nudge(X, -1.0, 1.0))  # seeded
    at_edge = crosscheck.nudge(np.ones((2, 3), np.float32), 0.0, 1.0)
    assert at_edge.max() <= 1.0


def test_rows_take_and_stack_keep_the_compared_fields():
    class Result:
        found = np.array([True, False, True])
        cf = np.arange(6.0).reshape(3, 2)
        orig_class = np.array([0, 0, 1])
        cf_class = np.array([1, -1, 0])
        proto_class = np.array([1, 1, 0])
        steps_to_first = np.array([3, -1, 5])

    part = crosscheck.Rows.take(Result, slice(1, None))
    assert len(part) == 2 and part.cf_class.tolist() == [-1, 0]
    whole = crosscheck.Rows.stack([crosscheck.Rows.take(Result, [i]) for i in range(3)])
    np.testing.assert_array_equal(whole.cf, Result.cf)
    assert whole.steps_to_first.tolist() == [3, -1, 5]
