"""The paper's claims checked against our numbers: intervals as text, and one verdict rule.

A chapter summarises its runs with :func:`cgp_lib.repro.experiments.summarize` (a mean and a 95%
Student-t interval per loss and column) and states each claim of the paper as a comparison
of means. The verdict of a comparison "a is below b" follows one rule everywhere:

* **reproduces**: our means are in the paper's order and the 95% intervals are apart;
* **inconclusive**: the intervals overlap (whichever way the means lie): our data cannot
  tell the two apart;
* **contradicted**: our means are in the opposite order and the intervals are apart.

A claim about a size ("91% fewer steps") is judged on its direction; the size is reported
beside it, never judged by a threshold.

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
    "Claims",
]

#: The three verdicts, from the strongest to the weakest.
VERDICTS = ("reproduces", "inconclusive", "contradicted")
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
