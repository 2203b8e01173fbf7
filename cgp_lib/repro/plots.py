"""Figures shared by the chapters: the paper's three-panel comparison of loss functions.

The paper's Figures 3 and 6 (one bar per loss function) and 7, 8 and 10 (one per value of θ,
k or K) have the same three panels, with the same error bars:

(a) the mean time and number of gradient updates to a satisfactory counterfactual, with the
    standard deviation ("to illustrate variability between approaches");
(b) the mean IM1 and IM2 with their 95% confidence bounds;
(c) the mean sparsity EN(δ) = β·‖δ‖₁ + ‖δ‖₂² with its 95% confidence bounds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..metrics import mean_ci
from .claims import CLAIMS_DIR_ENV

__all__ = [
    "speed_quality_sparsity",
    "panel_statistics",
    "save_for_book",
    "readability_problems",
    "glue_figure",
]

#: The smallest font, in points, a figure of the book may use (tick labels included).
MIN_FONT_PT = 10.0


def save_for_book(fig, name: str, directory: str | os.PathLike | None = None) -> Path:
    """Save a figure that another page of the book shows (the landing page, say) as a PNG.

    Parameters
    ----------
    fig
        A matplotlib figure.
    name
        The file's name without extension (letters, digits, ``_`` and ``-``).
    directory
        Default: ``figures`` beside ``$CGP_CLAIMS_DIR`` (``notebooks/_executed/figures`` in the
        book's builds), else ``./figures``.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    if not name or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise ValueError(f"name: expected letters, digits, '_' and '-', got {name!r}")
    claims_dir = os.environ.get(CLAIMS_DIR_ENV)
    folder = (
        Path(directory) if directory is not None else (Path(claims_dir).parent if claims_dir else Path(".")) / "figures"
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def readability_problems(fig, min_font_pt: float = MIN_FONT_PT) -> list[str]:
    """What makes a figure hard to read in the book: small fonts and unlabelled axes.

    A figure passes when every visible text (titles, labels, tick labels, legends,
    annotations) is at least ``min_font_pt`` points, and every visible axis that shows tick
    labels has a label, on its own axes, on an axes sharing it, or as the figure's
    ``supxlabel``/``supylabel``. Images with their axes turned off, and colour bars (the
    panel's title names their quantity), need no labels.

    Parameters
    ----------
    fig
        A matplotlib figure (it is drawn once, so that tick labels exist).
    min_font_pt
        The smallest font allowed, in points.

    Returns
    -------
    list of str
        One sentence per problem; empty when the figure is readable.
    """
    from matplotlib.text import Text

    fig.canvas.draw()
    problems = []
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < min_font_pt:
            shown = text.get_text().strip().replace("\n", " ")[:40]
            problems.append(f"text {shown!r} is {text.get_fontsize():.0f} pt (< {min_font_pt:.0f})")
    sup = {"x": getattr(fig, "_supxlabel", None), "y": getattr(fig, "_supylabel", None)}
    for ax in fig.axes:
        if not ax.get_visible() or not ax.axison or getattr(ax, "_colorbar", None) is not None:
            continue  # hidden, an image without axes, or a colour bar (named by its panel)
        for name, axis, shared in (
            ("x", ax.xaxis, ax.get_shared_x_axes()),
            ("y", ax.yaxis, ax.get_shared_y_axes()),
        ):
            ticks = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text().strip()]
            if not axis.get_visible() or not ticks:
                continue
            labelled = [a for a in shared.get_siblings(ax) if a.get_visible() and getattr(a, f"get_{name}label")()]
            if not labelled and not (sup[name] is not None and sup[name].get_text()):
                where = ax.get_title() or ax.get_title(loc="left") or f"axes {fig.axes.index(ax)}"
                problems.append(f"{where!r}: the {name} axis has tick labels but no label")
    return problems


def glue_figure(name: str, fig) -> None:
    """Hand a figure to the book (myst-nb ``glue``) for a numbered ``{glue:figure}`` caption.

    The figure is checked first (:func:`readability_problems`), glued under ``name`` without
    being displayed, and closed, so that the cell shows it only where the page's
    ``{glue:figure}`` directive puts it, with its caption.

    Raises
    ------
    ValueError
        If the figure has readability problems (each is listed).
    """
    import matplotlib.pyplot as plt
    from myst_nb import glue

    problems = readability_problems(fig)
    if problems:
        raise ValueError(f"figure {name!r} is hard to read: " + "; ".join(problems))
    glue(name, fig, display=False)
    plt.close(fig)


#: (column, label, scale, error bars) of each bar group, per panel of the paper's figures.
PANELS = (
    (("time_s", "time (s)", 1.0, "sd"), ("steps_to_best", "gradient steps", 1.0, "sd")),
    (("im1", "IM1", 1.0, "ci"), ("im2", "IM2 (×10)", 10.0, "ci")),
    (("distance", "EN(δ)", 1.0, "ci"),),
)


def panel_statistics(frame: pd.DataFrame, by: str, order: Sequence, column: str, errors: str) -> pd.DataFrame:
    """Mean and error bar (``'sd'``: standard deviation, ``'ci'``: 95% Student-t half-width) of
    ``column`` per ``by`` group in ``order``, over the rows with a counterfactual."""
    rows = []
    for name in order:
        values = frame.loc[(frame[by] == name) & frame["found"], column].to_numpy(float)
        values = values[np.isfinite(values)]  # a value can be undefined for some counterfactuals
        if values.size == 0:
            rows.append(dict(mean=np.nan, error=np.nan))
        elif errors == "sd":
            rows.append(dict(mean=values.mean(), error=values.std(ddof=1) if values.size > 1 else np.nan))
        else:
            mean, low, _ = mean_ci(values)
            rows.append(dict(mean=mean, error=mean - low))
    return pd.DataFrame(rows, index=pd.Index(list(order), name=by))


def speed_quality_sparsity(
    frame: pd.DataFrame,
    by: str,
    order: Sequence,
    labels: Sequence[str] | None = None,
    xlabel: str = "objective function",
    title: str | None = None,
    panels=PANELS,
):
    """The paper's three panels (module docstring) for the rows of ``frame`` grouped by ``by``.

    ``frame`` holds one row per counterfactual (:data:`cgp_lib.repro.experiments.COLUMNS`); rows
    without a counterfactual are left out. Pass ``panels`` to plot other columns in the same
    layout (for example the first counterfactual's; an empty group hides its panel). Returns
    the figure. ``xlabel`` names what the bars compare (the loss functions by default; θ, k
    or K in the sweeps).
    """
    import matplotlib.pyplot as plt

    labels = [str(v) for v in order] if labels is None else list(labels)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), constrained_layout=True)
    xs = np.arange(len(order))
    for ax, (panel, groups) in zip(axes, zip("abc", panels)):
        if not groups:  # fewer panels than three
            ax.set_visible(False)
            continue
        width = 0.8 / len(groups)
        twins = [ax] if len(groups) == 1 or panel != "a" else [ax, ax.twinx()]
        for g, (column, label, scale, errors) in enumerate(groups):
            stats = panel_statistics(frame, by, order, column, errors)
            target = twins[min(g, len(twins) - 1)]
            offset = (g - (len(groups) - 1) / 2) * width
            target.bar(
                xs + offset,
                scale * stats["mean"],
                width,
                yerr=scale * np.nan_to_num(stats["error"]),
                capsize=3,
                color=f"C{g}",
                label=label,
            )
            if len(twins) > 1:
                target.set_ylabel(label, color=f"C{g}")
        if len(twins) == 1 and len(groups) > 1:
            ax.legend(fontsize=10)
            ax.set_ylabel(", ".join(label for _, label, _, _ in groups))
        elif len(groups) == 1:
            ax.set_ylabel(groups[0][1])
        ax.set_xticks(xs, labels)
        ax.set_xlabel(xlabel)
        bars = "standard deviation" if groups[0][3] == "sd" else "95% confidence bounds"
        ax.set_title(f"({panel}) error bars: {bars}", fontsize=11)
    if title:
        fig.suptitle(title, fontsize=12)
    return fig
