"""The verdict rule of cgp_lib.claims on hand-made summaries."""
import numpy as np
import pandas as pd
import pytest

from cgp_lib import claims


def summary(**rows):
    """A summarize()-like table: name -> (mean, low, high) of column "x"."""
    return pd.DataFrame({"x": {k: v[0] for k, v in rows.items()}, "x_low": {k: v[1] for k, v in rows.items()},
                         "x_high": {k: v[2] for k, v in rows.items()}})


def test_below_reproduces_only_with_separate_intervals_in_the_paper_order():
    s = summary(a=(1.0, 0.8, 1.2), b=(2.0, 1.8, 2.2), c=(1.5, 1.1, 1.9), d=(1.0, np.nan, np.nan))
    assert claims.below(s, "a", "b", "x") == "reproduces"
    assert claims.below(s, "b", "a", "x") == "does not reproduce"
    assert claims.below(s, "a", "c", "x") == "inconclusive"  # right order, intervals overlap
    assert claims.below(s, "c", "a", "x") == "inconclusive"  # wrong order, intervals overlap
    assert claims.below(s, "d", "b", "x") == "inconclusive"  # a single value has no interval


def test_lowest_is_the_weakest_pairwise_verdict():
    s = summary(a=(1.0, 0.8, 1.2), b=(2.0, 1.8, 2.2), c=(1.5, 1.1, 1.9))
    assert claims.lowest(s, "a", "x", ["a", "b"]) == "reproduces"
    assert claims.lowest(s, "a", "x", ["a", "b", "c"]) == "inconclusive"
    assert claims.lowest(s, "b", "x", ["a", "b", "c"]) == "does not reproduce"
    assert claims.highest(s, "b", "x", ["a", "b"]) == "reproduces"
    assert claims.highest(s, "b", "x", ["a", "b", "c"]) == "inconclusive"
    assert claims.highest(s, "a", "x", ["a", "b"]) == "does not reproduce"


def test_cut_and_interval_text():
    s = summary(a=(1.0, 0.8, 1.2), b=(4.0, 3.0, 5.0), d=(2.0, np.nan, np.nan))
    assert claims.cut(s, "a", "b", "x") == pytest.approx(75.0)
    assert claims.interval_text(s, "a", "x", 2) == "1.00 [0.80, 1.20]"
    assert claims.interval_text(s, "a", "x", 1, scale=10) == "10.0 [8.0, 12.0]"
    assert claims.interval_text(s, "d", "x", 1) == "2.0"
    assert claims.with_ci(np.nan, np.nan, np.nan, 2) == "-"


def test_claims_table_checks_verdicts():
    c = claims.Claims("test")
    c.add("4.3", "a below b", "1 vs 2", "1 vs 3", "reproduces")
    c.add("4.3", "b below a", "1 vs 2", "3 vs 1", "inconclusive")
    frame = c.frame()
    assert list(frame.index) == [1, 2] and list(frame.columns) == ["where", "claim", "paper", "ours", "verdict"]
    assert c.count() == 1 and c.count(["inconclusive", "reproduces"]) == 2
    with pytest.raises(ValueError, match="verdict"):
        c.add("4.3", "x", "", "", "holds")
