"""How far a batched search is from the same rows explained one at a time.

A batch never mixes its rows, but TensorFlow's CPU kernels round differently below 16 rows
(see :mod:`cgp_lib.explainer` and its ``block_rows``), and a search at large c can amplify
that rounding. :func:`alone_vs_batch` measures it in a chapter's own setting: it explains some
rows again one at a time and compares them, row by row, with the batch's results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..explainer import CounterfactualProto, CounterfactualResult

__all__ = ["alone_vs_batch", "agreement_counts"]


def alone_vs_batch(
    explainer: CounterfactualProto, X: np.ndarray, batch: CounterfactualResult, rows=None, **explain_kwargs
) -> pd.DataFrame:
    """Explain ``rows`` of ``X`` one at a time and compare them with the batch result ``batch``.

    Parameters
    ----------
    explainer
        The explainer that produced ``batch`` (with the same ``explain_kwargs``).
    X
        The instances of the batch, ``(N, *shape)``.
    batch
        ``explainer.explain(X, **explain_kwargs)``.
    rows
        Indices into ``X`` to explain again (default: all of them).

    Returns
    -------
    pandas.DataFrame
        One row per row checked, indexed by its position in ``X``: ``found_alone``,
        ``found_batch``, ``same_found``, ``same_step`` (the reported counterfactual at the same
        gradient step), ``same_first_step``, ``cf_max_abs_diff`` (largest difference of a
        feature of the two counterfactuals, NaN unless both found one) and
        ``distance_rel_diff`` (relative difference of their β·L1 + L2).
    """
    X = np.asarray(X)
    if len(batch) != len(X):
        raise ValueError(f"batch: has {len(batch)} rows, X has {len(X)}")
    rows = np.arange(len(X)) if rows is None else np.asarray(rows, dtype=int).ravel()
    if rows.size == 0 or rows.min() < 0 or rows.max() >= len(X):
        raise ValueError(f"rows: expected indices in [0, {len(X)}), got {rows.tolist()}")
    records = []
    for i in rows:
        alone = explainer.explain(X[i : i + 1], **explain_kwargs)
        both = bool(alone.found[0] and batch.found[i])
        diff = float(np.abs(alone.cf[0] - batch.cf[i]).max()) if both else np.nan
        rel = float(abs(alone.distance[0] - batch.distance[i]) / batch.distance[i]) if both else np.nan
        records.append(
            dict(
                row=int(i),
                found_alone=bool(alone.found[0]),
                found_batch=bool(batch.found[i]),
                same_found=bool(alone.found[0] == batch.found[i]),
                same_step=bool(alone.steps_to_best[0] == batch.steps_to_best[i]),
                same_first_step=bool(alone.steps_to_first[0] == batch.steps_to_first[i]),
                cf_max_abs_diff=diff,
                distance_rel_diff=rel,
            )
        )
    return pd.DataFrame(records).set_index("row")


def agreement_counts(frame: pd.DataFrame, cf_atol: float = 1e-5, distance_rtol: float = 0.01) -> dict:
    """Counts of :func:`alone_vs_batch` rows: checked, same found, same step, same first step,
    counterfactuals within ``cf_atol`` in every feature, and distances more than
    ``distance_rtol`` apart (rows where both found one)."""
    both = frame["found_alone"] & frame["found_batch"]
    return {
        "rows checked": len(frame),
        "same found": int(frame["same_found"].sum()),
        "same step": int(frame["same_step"].sum()),
        "same first step": int(frame["same_first_step"].sum()),
        "both found": int(both.sum()),
        "counterfactuals equal (within %g)" % cf_atol: int((frame.loc[both, "cf_max_abs_diff"] <= cf_atol).sum()),
        "distances > %g%% apart" % (100 * distance_rtol): int(
            (frame.loc[both, "distance_rel_diff"] > distance_rtol).sum()
        ),
    }
