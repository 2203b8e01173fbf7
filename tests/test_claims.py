"""The verdict rule of cgp_lib.repro.claims on hand-made summaries."""

import numpy as np
import pandas as pd
import pytest

from cgp_lib.repro import claims


def summary(**rows):
    """A summarize()-like table: name -> (mean, low, high) of column "x"."""
    return pd.DataFrame(
        {
            "x": {k: v[0] for k, v in rows.items()},
            "x_low": {k: v[1] for k, v in rows.items()},
            "x_high": {k: v[2] for k, v in rows.items()},
        }
    )


def test_below_reproduces_only_with_separate_intervals_in_the_paper_order():
    s = summary(a=(1.0, 0.8, 1.2), b=(2.0, 1.8, 2.2), c=(1.5, 1.1, 1.9), d=(1.0, np.nan, np.nan))
    assert claims.below(s, "a", "b", "x") == "reproduces"
    assert claims.below(s, "b", "a", "x") == "contradicted"
    assert claims.below(s, "a", "c", "x") == "inconclusive"  # right order, intervals overlap
    assert claims.below(s, "c", "a", "x") == "inconclusive"  # wrong order, intervals overlap
    assert claims.below(s, "d", "b", "x") == "inconclusive"  # a single value has no interval


def test_lowest_is_the_weakest_pairwise_verdict():
    s = summary(a=(1.0, 0.8, 1.2), b=(2.0, 1.8, 2.2), c=(1.5, 1.1, 1.9))
    assert claims.lowest(s, "a", "x", ["a", "b"]) == "reproduces"
    assert claims.lowest(s, "a", "x", ["a", "b", "c"]) == "inconclusive"
    assert claims.lowest(s, "b", "x", ["a", "b", "c"]) == "contradicted"
    assert claims.highest(s, "b", "x", ["a", "b"]) == "reproduces"
    assert claims.highest(s, "b", "x", ["a", "b", "c"]) == "inconclusive"
    assert claims.highest(s, "a", "x", ["a", "b"]) == "contradicted"


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


def test_beside_reported_puts_our_interval_beside_the_papers_mean_and_bound():
    from cgp_lib.repro import paper

    summary = pd.DataFrame(
        {
            "found": [95, 70],
            "n": [95, 95],
            "im1": [1.26, 1.87],
            "im1_low": [1.2, 1.8],
            "im1_high": [1.3, 1.94],
            "im2": [0.166, 0.398],
            "im2_low": [0.15, 0.35],
            "im2_high": [0.18, 0.45],
        },
        index=["B", "A"],
    )
    table = claims.beside_reported(
        summary, ["A", "B"], [("im1", "IM1", 2, 1), ("im2", "IM2 (×10)", 2, 10)], paper.table2()
    )
    assert list(table.columns) == [
        ("", "found"),
        ("IM1", "ours"),
        ("IM1", "paper"),
        ("IM2 (×10)", "ours"),
        ("IM2 (×10)", "paper"),
    ]
    assert table.loc["A", ("", "found")] == "70 / 95"
    assert table.loc["A", ("IM1", "ours")] == "1.87 [1.80, 1.94]"
    assert table.loc["A", ("IM1", "paper")] == "2.07 ± 0.16"
    assert table.loc["B", ("IM2 (×10)", "ours")] == "1.66 [1.50, 1.80]"
    assert table.loc["B", ("IM2 (×10)", "paper")] == "1.47 ± 0.15"
    ours_only = claims.beside_reported(summary, ["B"], [("im1", "IM1", 1, 1)], found=False)
    assert list(ours_only.columns) == [("IM1", "ours")]


def test_beside_reported_shows_a_quantity_from_other_summaries_in_its_place():
    base = pd.DataFrame({"found": [3], "n": [4], "t": [2.0], "t_low": [1.0], "t_high": [3.0]}, index=["A"])
    alone = pd.DataFrame({"t": [5.0], "t_low": [4.0], "t_high": [6.0]}, index=["A"])
    views = {"alone": alone, "batched": base}
    table = claims.beside_reported(base, ["A"], [("t", "time", 1, 1, views), ("t", "again", 1, 1)])
    assert list(table.columns) == [("", "found"), ("time", "alone"), ("time", "batched"), ("again", "ours")]
    assert table.loc["A", ("time", "alone")] == "5.0 [4.0, 6.0]"
    assert table.loc["A", ("time", "batched")] == "2.0 [1.0, 3.0]"
    assert table.loc["A", ("", "found")] == "3 / 4"


def test_claims_are_saved_for_the_scorecard_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setenv(claims.PROFILE_ENV, "quick")
    c = claims.Claims("MNIST, section 4.2")
    c.add("4.2", "D lowers IM1 against A", "1.0 vs 1.2", "1.1 vs 1.4", "reproduces")
    c.add("4.2", "E is fastest", "0.3 s", "0.4 s", "contradicted")
    path = c.save("notebooks/_executed/mnist", "mnist-claims", directory=tmp_path)
    assert path == tmp_path / "mnist.json"
    (chapter,) = claims.load_all(tmp_path)
    assert chapter["profile"] == "quick" and chapter["label"] == "mnist-claims"
    assert [row["verdict"] for row in chapter["claims"]] == ["reproduces", "contradicted"]
    with pytest.raises(ValueError, match="^label"):
        c.save("notebooks/_executed/mnist", "not a label", directory=tmp_path)
    path.write_text(path.read_text().replace('"contradicted"', '"holds"'))
    with pytest.raises(ValueError, match="holds"):
        claims.load_all(tmp_path)


def test_save_for_book_writes_a_png_beside_the_claims(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cgp_lib.repro import plots

    monkeypatch.setenv(claims.CLAIMS_DIR_ENV, str(tmp_path / "claims"))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = plots.save_for_book(fig, "landing_figure")
    plt.close(fig)
    assert path == tmp_path / "figures" / "landing_figure.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="^name"):
        plots.save_for_book(fig, "../elsewhere")


def two_groups(col, n, a, b, seed):
    """Rows of an experiment with groups "A" and "B" of n found rows each, ``col`` normal with
    (mean, sd) ``a`` and ``b``."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(*a, n), rng.normal(*b, n)])
    return pd.DataFrame({"config": ["A"] * n + ["B"] * n, "found": True, col: values})


def test_cut_interval_brackets_the_cut_and_in_size_downgrades_a_wrong_size():
    frame = two_groups("steps", 200, (100, 10), (50, 5), seed=1)
    cut, low, high = claims.cut_interval(frame, "B", "A", "steps")
    assert low < cut < high and 45 < cut < 55 and high - low < 10
    assert claims.cut_interval(frame, "B", "A", "steps") == (cut, low, high)  # seeded
    assert claims.in_size("reproduces", 91.0, low, high) == claims.NOT_IN_SIZE
    assert claims.in_size("reproduces", 50.0, low, high) == "reproduces"
    assert claims.in_size("inconclusive", 91.0, low, high) == "inconclusive"
    assert claims.in_size("reproduces", 91.0, np.nan, np.nan) == "reproduces"
    # rows without a counterfactual are left out; an empty group gives NaN
    frame.loc[frame["config"] == "B", "found"] = False
    assert np.isnan(claims.cut_interval(frame, "B", "A", "steps")[0])
    with pytest.raises(ValueError, match="^verdict"):
        claims.in_size("holds", 1.0, 0.0, 2.0)


def test_cut_claim_gives_our_interval_and_the_sized_verdict():
    frame = two_groups("x", 100, (10, 1), (5, 0.5), seed=2)
    s = frame.groupby("config")["x"].agg(["mean"]).rename(columns={"mean": "x"})
    s["x_low"], s["x_high"] = s["x"] - 0.3, s["x"] + 0.3
    text, verdict = claims.cut_claim(frame, s, "B", "A", "x", 91.0)
    assert verdict == claims.NOT_IN_SIZE and text.startswith("50% [") and "vs" in text
    assert claims.cut_claim(frame, s, "B", "A", "x", 50.0)[1] == "reproduces"
    assert claims.cut_claim(frame, s, "A", "B", "x", 50.0)[1] == "contradicted"


def test_proportion_is_a_wilson_interval_and_rate_above_follows_it():
    rate = claims.proportion([True] * 8 + [False] * 2 + [np.nan])
    assert (rate["n"], rate["k"], rate["rate"]) == (10, 8, 0.8)
    # Wilson 95% for 8/10: [0.490, 0.943]
    assert rate["low"] == pytest.approx(0.4902, abs=1e-3) and rate["high"] == pytest.approx(0.9433, abs=1e-3)
    assert claims.rate_above(rate, 0.5) == "inconclusive"
    assert claims.rate_above(claims.proportion([True] * 40), 0.5) == "reproduces"
    assert claims.rate_above(claims.proportion([False] * 40), 0.5) == "contradicted"
    assert claims.rate_above(claims.proportion([]), 0.5) == "inconclusive"
    with pytest.raises(ValueError, match="successes"):
        claims.proportion([0.5, 1.0])
