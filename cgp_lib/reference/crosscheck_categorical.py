"""Cross-check of cgp_lib against alibi 0.9.6 on categorical data (paper section 3.4).

The same model, instances, hyperparameters and categorical options go to both libraries
(alibi in its own graph-mode process, one instance at a time; cgp_lib as one batch).
:func:`compare_embeddings` compares the numbers the two give every category;
:func:`run_categorical_case` compares the counterfactuals as :mod:`cgp_lib.reference.crosscheck` does
for numerical data, with two changes: the distance EN(δ) = β·‖δ‖₁ + ‖δ‖₂² (eq. 3) is measured
in each library's search space (categories replaced by that library's numbers), and the
counterfactuals are compared category by category.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..categorical import CategoricalMap
from ..explainer import CounterfactualProto, CounterfactualResult
from ..metrics import elastic_net
from .crosscheck import SHARED_INIT_ARGS, agreement_frame, summarize
from .runner import AlibiResult, run_alibi_cfproto

#: Arguments of alibi's ``fit`` that both implementations receive for categorical data.
FIT_ARGS = ("d_type", "w", "disc_perc", "standardize_cat_vars", "smooth", "center", "update_feature_range")


def compare_embeddings(
    ours: CategoricalMap,
    ref_d_abs: dict,
    names: dict[int, str] | None = None,
    category_map: dict[int, list[str]] | None = None,
) -> pd.DataFrame:
    """One row per categorical variable: the largest difference between the two libraries'
    numbers and whether they order the categories the same way."""
    if ref_d_abs is None or set(ref_d_abs) != set(ours.embedding):
        raise ValueError(
            f"ref_d_abs: expected the columns {sorted(ours.embedding)}, got "
            f"{None if ref_d_abs is None else sorted(ref_d_abs)}"
        )
    rows = []
    for col, values in ours.embedding.items():
        ref = np.asarray(ref_d_abs[col], dtype=np.float64)
        order = np.argsort(values, kind="stable")
        row = {
            "column": col,
            "variable": (names or {}).get(col, str(col)),
            "categories": len(values),
            "max_abs_diff": float(np.max(np.abs(values - ref))),
            "same_order": bool(np.array_equal(order, np.argsort(ref, kind="stable"))),
        }
        if category_map is not None:
            row["order (ours)"] = " < ".join(category_map[col][i] for i in order)
        rows.append(row)
    return pd.DataFrame(rows).set_index("column")


def compare(
    ours: CounterfactualResult,
    ref: AlibiResult,
    X: np.ndarray,
    beta: float,
    our_map: CategoricalMap,
    ref_map: CategoricalMap,
) -> pd.DataFrame:
    """One row per instance, as :func:`cgp_lib.reference.crosscheck.compare`, for categorical data.

    ``en_*``: EN(δ) of each library's counterfactual in its own search space; ``same_categories``:
    the share of categorical variables on which the two counterfactuals agree;
    ``max_abs_diff``: the largest difference of a numerical feature (ordinal layout).
    """
    n = len(X)
    if len(ours) != n or len(ref) != n:
        raise ValueError(f"ours, ref: expected {n} rows each, got {len(ours)} and {len(ref)}")
    both = ours.found & ref.found
    en_ours, en_ref = np.full(n, np.nan), np.full(n, np.nan)
    same_cat, max_abs = np.full(n, np.nan), np.full(n, np.nan)
    if both.any():
        x = X[both]
        en_ours[both] = elastic_net(our_map.to_search(ours.cf[both]) - our_map.to_search(x), beta)
        en_ref[both] = elastic_net(ref_map.to_search(ref.cf[both]) - ref_map.to_search(x), beta)
        ord_ours, ord_ref = our_map.to_ordinal(ours.cf[both]), ref_map.to_ordinal(ref.cf[both])
        cat_cols = list(our_map.cat_vars_ord)
        num_cols = [c for c in range(our_map.n_search) if c not in our_map.cat_vars_ord]
        same_cat[both] = (ord_ours[:, cat_cols] == ord_ref[:, cat_cols]).mean(axis=1)
        max_abs[both] = np.abs(ord_ours[:, num_cols] - ord_ref[:, num_cols]).max(axis=1) if num_cols else 0.0
    return agreement_frame(ours, ref, en_ours, en_ref, max_abs, same_categories=same_cat)


@dataclass(frozen=True)
class CategoricalCase:
    """Everything one categorical cross-check case produced."""

    per_instance: pd.DataFrame
    summary: dict
    embeddings: pd.DataFrame
    ours: CounterfactualResult
    ref: AlibiResult
    explainer: CounterfactualProto


def run_categorical_case(
    predict,
    X,
    fit_data,
    init_kwargs: dict,
    fit_kwargs: dict | None = None,
    explain_kwargs: dict | None = None,
    names: dict[int, str] | None = None,
    category_map: dict[int, list[str]] | None = None,
) -> CategoricalCase:
    """Explain ``X`` with both libraries on categorical data and compare.

    ``init_kwargs``: the shared constructor arguments plus ``cat_vars`` and ``ohe``;
    ``fit_kwargs``: alibi's categorical ``fit`` options (:data:`FIT_ARGS`), passed to both.
    """
    unknown = set(init_kwargs) - set(SHARED_INIT_ARGS) - {"cat_vars", "ohe"}
    if unknown:
        raise ValueError(f"init_kwargs: not shared by both libraries: {sorted(unknown)}")
    if not init_kwargs.get("cat_vars"):
        raise ValueError("init_kwargs: a categorical case needs cat_vars")
    fit_kwargs = dict(fit_kwargs or {})
    unknown = set(fit_kwargs) - set(FIT_ARGS)
    if unknown:
        raise ValueError(f"fit_kwargs: expected options among {FIT_ARGS}, got {sorted(unknown)}")
    explain_kwargs = dict(explain_kwargs or {})
    ref = run_alibi_cfproto(
        X,
        predict_model=predict,
        shape=X.shape[1:],
        fit_data=fit_data,
        init_kwargs=init_kwargs,
        fit_kwargs=fit_kwargs,
        explain_kwargs=explain_kwargs,
    )
    explainer = CounterfactualProto(predict, (1,) + X.shape[1:], **init_kwargs).fit(fit_data, **fit_kwargs)
    start = time.perf_counter()
    ours = explainer.explain(X, **explain_kwargs)
    batch_time = time.perf_counter() - start
    our_map = explainer.catmap
    ref_map = CategoricalMap(our_map.cat_vars, our_map.ohe, our_map.n_columns, dict(ref.d_abs))
    per_instance = compare(ours, ref, X, init_kwargs.get("beta", 0.1), our_map, ref_map)
    per_instance["time_alibi_s"] = ref.time_s
    summary = summarize(per_instance)
    both = per_instance.found_cgp & per_instance.found_alibi
    embeddings = compare_embeddings(our_map, ref.d_abs, names, category_map)
    summary.update(
        categories_agreement=float(per_instance.same_categories[both].mean()) if both.any() else float("nan"),
        embedding_max_abs_diff=float(embeddings.max_abs_diff.max()),
        embedding_same_order=bool(embeddings.same_order.all()),
        time_alibi_b1_s=float(np.median(ref.time_s)),
        time_cgp_batch_per_instance_s=batch_time / len(X),
    )
    return CategoricalCase(
        per_instance=per_instance, summary=summary, embeddings=embeddings, ours=ours, ref=ref, explainer=explainer
    )
