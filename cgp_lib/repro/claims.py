"""The paper's claims checked against our numbers: intervals as text, and one verdict rule.

A chapter summarises its runs with :func:`cgp_lib.repro.experiments.summarize` (a mean and a 95%
Student-t interval per loss and column) and states each claim of the paper as a comparison
of means. The verdict of a comparison "a is below b" follows one rule everywhere:

* **reproduces**: our means are in the paper's order and the 95% intervals are apart;
* **inconclusive**: the intervals overlap (whichever way the means lie): our data cannot
  tell the two apart;
* **contradicted**: our means are in the opposite order and the intervals are apart.

A claim about a size ("91% fewer steps") is judged on its direction first; where the paper
gives the size, a claim that reproduces in direction is **reproduces in direction, not in size**
when the paper's size lies outside our 95% interval of the same size (:func:`cut_interval`,
:func:`in_size`). No threshold of "close enough" is used.

Each chapter saves its claims (:meth:`Claims.save`) as a JSON file in ``$CGP_CLAIMS_DIR``
(``notebooks/_executed/claims`` in the book's builds); the book's scorecard page lists every
claim of every chapter from those files (``book/_ext/scorecard.py``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..metrics import mean_ci
from .paper import reported_text

__all__ = [
    "VERDICTS",
    "CLAIMS_DIR_ENV",
    "PROFILE_ENV",
    "load_all",
    "with_ci",
    "interval_text",
    "beside_reported",
    "below",
    "lowest",
    "highest",
    "cut",
    "cut_interval",
    "cut_claim",
    "in_size",
    "NOT_IN_SIZE",
    "Claims",
    "paired_difference",
    "paired_below",
    "proportion",
    "rate_above",
]

#: The verdicts, from the strongest to the weakest.
VERDICTS = ("reproduces", "reproduces in direction, not in size", "inconclusive", "contradicted")
#: The verdict of a claim whose direction reproduces and whose size (given by the paper) does not.
NOT_IN_SIZE = VERDICTS[1]
#: Where chapters save their claims (:meth:`Claims.save`) and the scorecard reads them.
CLAIMS_DIR_ENV = "CGP_CLAIMS_DIR"
#: The parameter profile a chapter runs under (``notebooks/execute.py`` and ``make test`` set it).
PROFILE_ENV = "CGP_PROFILE"


def with_ci(mean: float, low: float, high: float, digits: int) -> str:
    """``"mean [low, high]"`` with ``digits`` decimals; ``"mean"`` when the interval is undefined
    (a single value), ``"-"`` when the mean is (no value at all)."""
    if not np.isfinite(mean):
        return "-"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def interval_text(summary: pd.DataFrame, row, col: str, digits: int, scale: float = 1.0) -> str:
    """:func:`with_ci` of ``summary.loc[row, col]`` and its ``_low``/``_high`` bounds, times ``scale``."""
    values = [scale * float(summary.loc[row, f"{col}{end}"]) for end in ("", "_low", "_high")]
    return with_ci(*values, digits)


def beside_reported(
    summary: pd.DataFrame,
    rows: Sequence,
    quantities: Sequence[tuple],
    reported: pd.DataFrame | None = None,
    found: bool = True,
) -> pd.DataFrame:
    """Our means with their 95% intervals beside the paper's "mean ± bound", one row per loss.

    Parameters
    ----------
    summary
        A :func:`cgp_lib.repro.experiments.summarize` frame indexed by loss.
    rows
        The losses, in order.
    quantities
        ``(column, label, digits, scale)`` per quantity: ``summary``'s column, the column label,
        decimals and a factor (10 for IM2 × 10). A fifth element, ``{sub-label: summary}``,
        shows the quantity from other summaries in its place (for example Table 1's time, one
        instance at a time and batched): one column per entry instead of ``"ours"``.
    reported
        A table of :mod:`cgp_lib.repro.paper` with the same column names, or ``None`` for our
        numbers only.
    found
        Start with a column "found" (counterfactuals found / searches).

    Returns
    -------
    pandas.DataFrame
        Columns ``(label, "ours")`` and, with ``reported``, ``(label, "paper")``.
    """
    out = pd.DataFrame(index=pd.Index(list(rows), name="loss"))
    if found:
        out[("", "found")] = [f"{int(summary.loc[r, 'found'])} / {int(summary.loc[r, 'n'])}" for r in rows]
    for quantity in quantities:
        column, label, digits, scale = quantity[:4]
        views = quantity[4] if len(quantity) > 4 else {"ours": summary}
        for sub_label, view in views.items():
            out[(label, sub_label)] = [interval_text(view, r, column, digits, scale) for r in rows]
        if reported is not None:
            out[(label, "paper")] = [reported_text(reported, r, column, digits, scale) for r in rows]
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def _bounds(summary: pd.DataFrame, row, col: str) -> tuple[float, float, float]:
    return tuple(float(summary.loc[row, f"{col}{end}"]) for end in ("", "_low", "_high"))


def below(summary: pd.DataFrame, a, b, col: str) -> str:
    """The verdict on "the mean of ``col`` is lower for ``a`` than for ``b``" (see the module rule).

    An undefined interval (a single value) counts as overlapping: the data cannot separate them.
    """
    mean_a, low_a, high_a = _bounds(summary, a, col)
    mean_b, low_b, high_b = _bounds(summary, b, col)
    if not (np.isfinite(mean_a) and np.isfinite(mean_b)):
        return "inconclusive"
    if mean_a < mean_b and high_a < low_b:
        return "reproduces"
    if mean_a > mean_b and low_a > high_b:
        return "contradicted"
    return "inconclusive"


def lowest(summary: pd.DataFrame, name, col: str, among: Sequence) -> str:
    """The verdict on "``name`` has the lowest mean of ``col`` among ``among``": the weakest of
    the verdicts of ``name`` below each other one."""
    return _weakest([below(summary, name, other, col) for other in among if other != name])


def highest(summary: pd.DataFrame, name, col: str, among: Sequence) -> str:
    """The verdict on "``name`` has the highest mean of ``col`` among ``among``" (each other one below it)."""
    return _weakest([below(summary, other, name, col) for other in among if other != name])


def _weakest(verdicts: Sequence[str]) -> str:
    """The weakest of pairwise verdicts (``contradicted`` < ``inconclusive`` < ``reproduces``)."""
    for verdict in reversed(VERDICTS):
        if verdict in verdicts:
            return verdict
    return VERDICTS[0]


def cut(summary: pd.DataFrame, a, b, col: str) -> float:
    """How much lower ``a``'s mean of ``col`` is than ``b``'s, in percent of ``b``'s."""
    return 100.0 * (1.0 - float(summary.loc[a, col]) / float(summary.loc[b, col]))


def cut_interval(
    frame: pd.DataFrame,
    a,
    b,
    col: str,
    by: str = "config",
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """:func:`cut` of two groups of ``frame`` with a bootstrap interval.

    Parameters
    ----------
    frame
        Rows of an experiment (:func:`cgp_lib.repro.experiments.run`); rows with ``found``
        False are left out, as in :func:`cgp_lib.repro.experiments.summarize`.
    a, b
        The two groups (values of ``frame[by]``).
    col
        The quantity, e.g. ``"steps_to_best"``.
    by
        The column naming the groups.
    confidence, n_boot, seed
        The percentile interval of ``n_boot`` resamples (each group resampled with replacement,
        independently), from a seeded generator: the same frame gives the same interval.

    Returns
    -------
    tuple of float
        (cut, low, high) in percent of ``b``'s mean; NaN when a group has no value.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a number in (0, 1), got {confidence!r}")
    if n_boot < 100:
        raise ValueError(f"n_boot: expected at least 100 resamples, got {n_boot!r}")
    found = frame[frame["found"]] if "found" in frame else frame
    x = found.loc[found[by] == a, col].to_numpy(dtype=float)
    y = found.loc[found[by] == b, col].to_numpy(dtype=float)
    if x.size == 0 or y.size == 0 or y.mean() == 0:
        return (np.nan, np.nan, np.nan)
    rng = np.random.default_rng(seed)
    xs = x[rng.integers(0, x.size, (n_boot, x.size))].mean(axis=1)
    ys = y[rng.integers(0, y.size, (n_boot, y.size))].mean(axis=1)
    cuts = 100.0 * (1.0 - xs / ys)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(cuts, [tail, 100 - tail])
    return (100.0 * (1.0 - x.mean() / y.mean()), float(low), float(high))


def cut_claim(
    frame: pd.DataFrame, summary: pd.DataFrame, a, b, col: str, paper_size: float, scale: float = 1.0, fmt: str = ".3g"
) -> tuple[str, str]:
    """Our side of the claim "``a`` cuts ``col`` against ``b`` by ``paper_size`` percent".

    Returns ``(text, verdict)``: the text is our cut with its 95% bootstrap interval
    (:func:`cut_interval` on ``frame``) and the two means of ``summary`` (times ``scale``,
    formatted with ``fmt``); the verdict is :func:`below` on ``summary``, downgraded by
    :func:`in_size` when the paper's size lies outside our interval.
    """
    value, low, high = cut_interval(frame, a, b, col)
    means = f"{scale * summary.loc[a, col]:{fmt}} vs {scale * summary.loc[b, col]:{fmt}}"
    text = f"{value:.0f}% [{low:.0f}, {high:.0f}] ({means})" if np.isfinite(low) else f"{value:.0f}% ({means})"
    return text, in_size(below(summary, a, b, col), paper_size, low, high)


def in_size(verdict: str, paper_size: float, low: float, high: float) -> str:
    """The verdict of a claim with a size: :data:`NOT_IN_SIZE` when ``verdict`` is "reproduces"
    and the paper's size lies outside our interval [``low``, ``high``]; ``verdict`` otherwise
    (and when our interval is undefined)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict: expected one of {VERDICTS}, got {verdict!r}")
    if verdict == "reproduces" and np.isfinite(low) and np.isfinite(high) and not low <= paper_size <= high:
        return NOT_IN_SIZE
    return verdict


class Claims:
    """The claims a chapter checks, as rows: where the paper says it, what it says, what we measure.

    >>> claims = Claims("section 4.3")
    >>> claims.add("4.3.2", "B needs fewer steps than A", "253 vs 2752", "6 vs 5203", "reproduces")
    'reproduces'
    >>> claims.frame()["verdict"].tolist()
    ['reproduces']
    """

    def __init__(self, chapter: str):
        self.chapter = chapter
        self.rows: list[dict] = []

    def add(self, where: str, claim: str, paper: str, ours: str, verdict: str) -> str:
        """Record one claim; returns its verdict. ``verdict`` must be one of :data:`VERDICTS`."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict: expected one of {VERDICTS}, got {verdict!r}")
        self.rows.append(dict(where=where, claim=claim, paper=paper, ours=ours, verdict=verdict))
        return verdict

    def frame(self) -> pd.DataFrame:
        """One row per claim, numbered from 1."""
        frame = pd.DataFrame(self.rows, columns=["where", "claim", "paper", "ours", "verdict"])
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="#")
        return frame

    def count(self, verdicts: Iterable[str] = ("reproduces",)) -> int:
        """How many claims have one of ``verdicts``."""
        verdicts = set(verdicts)
        return sum(row["verdict"] in verdicts for row in self.rows)

    def save(self, page: str, label: str, directory: str | os.PathLike | None = None) -> Path:
        """Write the claims to ``<directory>/<page name>.json`` for the book's scorecard.

        Parameters
        ----------
        page
            The chapter's document in the book, e.g. ``"notebooks/_executed/mnist"``.
        label
            The MyST label of the chapter's section of claims (the scorecard links to it).
        directory
            Default ``$CGP_CLAIMS_DIR``, else ``./claims``.

        Returns
        -------
        pathlib.Path
            The file written. It also records the profile (``$CGP_PROFILE``, "unknown" if unset).
        """
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", label or ""):
            raise ValueError(f"label: expected a MyST label like 'mnist-claims', got {label!r}")
        folder = Path(directory if directory is not None else os.environ.get(CLAIMS_DIR_ENV) or "claims")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{Path(page).name}.json"
        content = dict(
            chapter=self.chapter,
            page=page,
            label=label,
            profile=os.environ.get(PROFILE_ENV) or "unknown",
            claims=self.rows,
        )
        path.write_text(json.dumps(content, indent=1, ensure_ascii=False))
        return path


def load_all(directory: str | os.PathLike) -> list[dict]:
    """Every chapter's saved claims (:meth:`Claims.save`) in ``directory``, sorted by page."""
    files = sorted(Path(directory).glob("*.json"))
    chapters = [json.loads(f.read_text()) for f in files]
    for chapter, f in zip(chapters, files):
        unknown = {row["verdict"] for row in chapter["claims"]} - set(VERDICTS)
        if unknown:
            raise ValueError(f"{f}: verdicts {sorted(unknown)} are not among {VERDICTS}")
    return chapters


def paired_difference(a, b, confidence: float = 0.95) -> dict:
    """The difference a − b over paired values (same instance and seed), where both are finite.

    Parameters
    ----------
    a, b : pandas.Series
        Values indexed alike (e.g. by (seed, instance)); pairs missing from one side or NaN on
        either (no counterfactual) are left out.

    Returns
    -------
    dict
        ``n`` pairs, ``mean`` difference with its Student-t ``low``/``high`` bounds, and
        ``p``, the two-sided p-value of the Wilcoxon signed-rank test (NaN with fewer than 2
        pairs or when every difference is 0).
    """
    joined = pd.concat({"a": pd.Series(a), "b": pd.Series(b)}, axis=1, join="inner").dropna()
    diff = (joined["a"] - joined["b"]).to_numpy(dtype=float)
    mean, low, high = mean_ci(diff, confidence) if len(diff) else (np.nan, np.nan, np.nan)
    p = np.nan
    if len(diff) >= 2 and np.any(diff != 0):
        p = float(stats.wilcoxon(diff).pvalue)
    return dict(n=len(diff), mean=float(mean), low=float(low), high=float(high), p=p)


def paired_below(difference: dict) -> str:
    """The verdict on "a is below b" from :func:`paired_difference` (a − b): **reproduces** if the
    interval of the difference lies below 0, **contradicted** if above, else **inconclusive**."""
    if difference["n"] < 2 or not np.isfinite(difference["high"]):
        return "inconclusive"
    if difference["high"] < 0:
        return "reproduces"
    if difference["low"] > 0:
        return "contradicted"
    return "inconclusive"


def proportion(successes, confidence: float = 0.95) -> dict:
    """A rate with its Wilson score interval (a share of images recovered, misread, ...).

    Parameters
    ----------
    successes : array-like of bool
        One value per trial; NaN entries (trials that did not take place) are left out.

    Returns
    -------
    dict
        ``n`` trials, ``k`` successes, ``rate`` = k / n and its ``low``/``high`` bounds
        (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``); NaN without trials.
    """
    values = pd.Series(successes, dtype=float).dropna().to_numpy()
    if np.any((values != 0) & (values != 1)):
        raise ValueError("successes: expected booleans (or 0/1), got other values")
    n, k = len(values), int(values.sum())
    if n == 0:
        return dict(n=0, k=0, rate=np.nan, low=np.nan, high=np.nan)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    return dict(n=n, k=k, rate=k / n, low=float(ci.low), high=float(ci.high))


def rate_above(rate: dict, threshold: float) -> str:
    """The verdict on "the rate exceeds ``threshold``" from :func:`proportion`: **reproduces** if
    the whole interval lies above it, **contradicted** if below, else **inconclusive**."""
    if rate["n"] == 0:
        return "inconclusive"
    if rate["low"] > threshold:
        return "reproduces"
    if rate["high"] < threshold:
        return "contradicted"
    return "inconclusive"
