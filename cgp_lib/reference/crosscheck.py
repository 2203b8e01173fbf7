"""Cross-check of cgp_lib against alibi 0.9.6's ``CounterfactualProto`` on the same inputs.

:func:`run_case` explains the same instances with the same models and hyperparameters in
both libraries (alibi in its own graph-mode process, one instance at a time; cgp_lib one
row at a time and as one batch) and :func:`compare` measures how far the answers agree:
found / not found, the counterfactual's class, the prototype's class, the relative
difference of EN(δ) = β·‖δ‖₁ + ‖δ‖₂² (eq. 3) and the largest absolute difference between
the two counterfactuals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..explainer import CounterfactualProto, CounterfactualResult
from ..metrics import elastic_net
from .runner import AlibiResult, run_alibi_cfproto

# Keyword arguments of CounterfactualProto that alibi's constructor also takes.
SHARED_INIT_ARGS = (
    "kappa",
    "beta",
    "feature_range",
    "gamma",
    "theta",
    "use_kdtree",
    "learning_rate_init",
    "max_iterations",
    "c_init",
    "c_steps",
    "eps",
    "clip",
    "update_num_grad",
)


def compare(ours: CounterfactualResult, ref: AlibiResult, X: np.ndarray, beta: float) -> pd.DataFrame:
    """One row per instance: what each library found and how far the two answers differ."""
    n = len(X)
    if len(ours) != n or len(ref) != n:
        raise ValueError(f"ours, ref: expected {n} rows each, got {len(ours)} and {len(ref)}")
    flat = X.reshape(n, -1)
    both = ours.found & ref.found
    en_ours = np.full(n, np.nan)
    en_ref = np.full(n, np.nan)
    max_abs = np.full(n, np.nan)
    if both.any():
        cf_ours = ours.cf.reshape(n, -1)[both]
        cf_ref = ref.cf.reshape(n, -1)[both]
        en_ours[both] = elastic_net(cf_ours - flat[both], beta)
        en_ref[both] = elastic_net(cf_ref - flat[both], beta)
        max_abs[both] = np.abs(cf_ours - cf_ref).max(axis=1)
    return agreement_frame(ours, ref, en_ours, en_ref, max_abs)


def agreement_frame(
    ours: CounterfactualResult,
    ref: AlibiResult,
    en_ours: np.ndarray,
    en_ref: np.ndarray,
    max_abs: np.ndarray,
    **extra: np.ndarray,
) -> pd.DataFrame:
    """The per-instance table of :func:`compare`, given each answer's EN(δ) and their largest difference.

    ``extra`` columns (for example a categorical comparison's) come before ``max_abs_diff``.
    """
    return pd.DataFrame(
        {
            "found_cgp": ours.found,
            "found_alibi": ref.found,
            "orig_class_cgp": ours.orig_class,
            "orig_class_alibi": ref.orig_class,
            "cf_class_cgp": ours.cf_class,
            "cf_class_alibi": ref.cf_class,
            "proto_class_cgp": ours.proto_class,
            "proto_class_alibi": ref.proto_class,
            "en_cgp": en_ours,
            "en_alibi": en_ref,
            "en_rel_diff": np.abs(en_ours - en_ref) / np.maximum(np.abs(en_ref), 1e-12),
            **extra,
            "max_abs_diff": max_abs,
            "steps_to_first_cgp": ours.steps_to_first,
        }
    )


def summarize(per_instance: pd.DataFrame) -> dict:
    """Agreement rates over instances (classes compared where both found one)."""
    both = per_instance.found_cgp & per_instance.found_alibi
    return {
        "instances": len(per_instance),
        "found_cgp": int(per_instance.found_cgp.sum()),
        "found_alibi": int(per_instance.found_alibi.sum()),
        "found_agreement": float((per_instance.found_cgp == per_instance.found_alibi).mean()),
        "cf_class_agreement": float((per_instance.cf_class_cgp == per_instance.cf_class_alibi)[both].mean())
        if both.any()
        else float("nan"),
        "proto_class_agreement": float((per_instance.proto_class_cgp == per_instance.proto_class_alibi).mean()),
        "median_en_rel_diff": float(per_instance.en_rel_diff[both].median()) if both.any() else float("nan"),
        "max_abs_diff": float(per_instance.max_abs_diff[both].max()) if both.any() else float("nan"),
    }


@dataclass(frozen=True)
class CaseResult:
    """Everything one cross-check case produced."""

    per_instance: pd.DataFrame
    summary: dict
    ours: CounterfactualResult
    ref: AlibiResult


def run_case(
    predict,
    X,
    fit_data,
    init_kwargs: dict,
    explain_kwargs: dict | None = None,
    ae_model=None,
    enc_model=None,
    black_box_predict=None,
    cgp_kwargs: dict | None = None,
    cgp_explain_kwargs: dict | None = None,
) -> CaseResult:
    """Explain ``X`` with both libraries and compare.

    ``predict`` is the Keras model; with ``black_box_predict`` (a numpy function wrapping it)
    both libraries use numerical gradients. ``init_kwargs`` are the shared constructor
    arguments (alibi's names); ``cgp_kwargs`` are constructor arguments for cgp_lib only, which
    override the shared ones (for example ``proba_perturbation='simplex'`` to match alibi's
    numerical gradient, or more ``c_steps``), and ``cgp_explain_kwargs`` arguments of cgp_lib's
    ``explain`` only (for example ``stop='satisfactory'``, which alibi does not have: with one
    c step, alibi returns that c step's optimum, its satisfactory counterfactual when it finds one).
    Timing: alibi per instance, cgp_lib per instance (each row alone) and for the batch.
    """
    unknown = set(init_kwargs) - set(SHARED_INIT_ARGS)
    if unknown:
        raise ValueError(f"init_kwargs: not shared by both libraries: {sorted(unknown)}")
    explain_kwargs = dict(explain_kwargs or {})
    ours_kwargs = {**explain_kwargs, **(cgp_explain_kwargs or {})}
    ref = run_alibi_cfproto(
        X,
        predict_model=predict,
        shape=X.shape[1:],
        ae_model=ae_model,
        enc_model=enc_model,
        black_box=black_box_predict is not None,
        fit_data=fit_data,
        init_kwargs=init_kwargs,
        explain_kwargs=explain_kwargs,
    )
    explainer = CounterfactualProto(
        black_box_predict or predict,
        (1,) + X.shape[1:],
        ae_model=ae_model,
        enc_model=enc_model,
        **{**init_kwargs, **(cgp_kwargs or {})},
    ).fit(fit_data)
    explainer.explain(X[:1], **ours_kwargs)  # trace once, like alibi's graph construction
    singles, single_times = [], []
    for i in range(len(X)):
        start = time.perf_counter()
        singles.append(explainer.explain(X[i : i + 1], **ours_kwargs))
        single_times.append(time.perf_counter() - start)
    start = time.perf_counter()
    ours = explainer.explain(X, **ours_kwargs)
    batch_time = time.perf_counter() - start
    per_instance = compare(ours, ref, X, init_kwargs.get("beta", 0.1))
    per_instance["time_alibi_s"] = ref.time_s
    per_instance["time_cgp_b1_s"] = single_times
    per_instance["found_cgp_b1"] = [r.found[0] for r in singles]
    summary = summarize(per_instance)
    summary.update(
        time_alibi_b1_s=float(np.median(ref.time_s)),
        time_cgp_b1_s=float(np.median(single_times)),
        time_cgp_batch_per_instance_s=batch_time / len(X),
    )
    return CaseResult(per_instance=per_instance, summary=summary, ours=ours, ref=ref)
