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


def explain_kwargs_for(explainer: CounterfactualProto, explain_kwargs: dict) -> dict:
    """``explain_kwargs`` without ``k`` and ``k_type`` when ``explainer`` has no prototypes.

    alibi ignores them then; cgp_lib rejects them (they would define prototypes it does not use),
    so a case given to both libraries passes them to alibi only.
    """
    if explainer.prototypes is not None:
        return dict(explain_kwargs)
    return {key: value for key, value in explain_kwargs.items() if key not in ("k", "k_type")}


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
    ours_kwargs = explain_kwargs_for(explainer, ours_kwargs)
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


# --------------------------------------------------------------------------------------
# A case checked from every side: the libraries against each other, and each against itself
# --------------------------------------------------------------------------------------
#: The agreement a case must reach to meet the targets: the same counterfactual class and the
#: same prototype class for this share of the instances...
TARGET_AGREEMENT = 0.95
#: ...and a median relative difference of EN(δ) at most this.
TARGET_EN = 0.02
#: Counterfactuals closer than this in every feature count as equal (float32 rounding).
EQUAL = 1e-5
#: Half-width of the uniform perturbation of x0 that measures cgp_lib's own sensitivity.
NUDGE = 1e-6


def nudge(X: np.ndarray, lower, upper, size: float = NUDGE, seed: int = 0) -> np.ndarray:
    """``X + u``, ``u ~ U(-size, size)`` per feature, kept in the feature range ``[lower, upper]``."""
    rng = np.random.default_rng(seed)
    return np.clip(X + rng.uniform(-size, size, X.shape).astype(np.float32), lower, upper)


class Rows:
    """The per-row answers :func:`compare` reads, taken from a result or stacked from several."""

    FIELDS = ("found", "cf", "orig_class", "cf_class", "proto_class", "steps_to_first")

    def __init__(self, **fields):
        self.__dict__.update(fields)

    @classmethod
    def take(cls, result, rows) -> "Rows":
        """The ``rows`` of ``result`` (a ``CounterfactualResult`` or an ``AlibiResult``)."""
        return cls(**{f: getattr(result, f)[rows] for f in cls.FIELDS if hasattr(result, f)})

    @classmethod
    def stack(cls, results) -> "Rows":
        """Several results one after the other (e.g. each row explained alone)."""
        return cls(**{f: np.concatenate([getattr(r, f) for r in results]) for f in cls.FIELDS})

    def __len__(self) -> int:
        return len(self.found)


@dataclass
class CheckedCase:
    """One case of :func:`cross_check`.

    per_instance
        :func:`compare` of cgp_lib at batch 1 with alibi, plus :func:`run_case`'s timings.
    summary
        :func:`summarize` of ``per_instance`` plus the median times.
    ref
        alibi's answers.
    batch_vs_alibi, batch_vs_b1, floor
        :func:`compare` of cgp_lib's batch with alibi, of cgp_lib's batch with cgp_lib at batch 1
        (rounding alone), and of cgp_lib on ``x0 + u`` with cgp_lib on ``x0`` (both batched).
    alibi_first_call
        Largest ``|Δx_cf|`` between alibi's two answers for ``X[0]`` (inf: found only once).
    divergence
        ``(steps, n)``: ``max_i |x_k(x0) - x_k(x0 + u)|`` over the first c step.
    warm_batch_s
        cgp_lib's batch time per instance once traced (the ``x0 + u`` batch).
    alibi_cached
        Whether alibi's answers (and times) were read from the alibi cache
        (:mod:`cgp_lib.reference.runner`, "Cached results") instead of being run.
    """

    per_instance: pd.DataFrame
    summary: dict
    ref: Rows
    batch_vs_alibi: pd.DataFrame
    batch_vs_b1: pd.DataFrame
    floor: pd.DataFrame
    alibi_first_call: float
    divergence: np.ndarray
    warm_batch_s: float
    alibi_cached: bool = False


def cross_check(
    model,
    X,
    fit,
    init: dict,
    explain_kwargs: dict,
    ae=None,
    enc=None,
    black_box=None,
    cgp_kwargs: dict | None = None,
    cgp_explain: dict | None = None,
    alibi_warmup_steps: int = 150,
) -> CheckedCase:
    """:func:`run_case` on ``[X[0], ..., X[0], X]``, then cgp_lib against itself.

    The first FISTA steps of an alibi process are exposed to a race (the cross-check chapter
    shows it), so alibi first explains ``X[0]`` for at least ``alibi_warmup_steps`` steps; its
    first answer for ``X[0]`` is only compared with its answer after the warm-up. Then cgp_lib
    alone: each row at batch 1 (like alibi), the batch, and the batch from ``x0 + u``
    (:func:`nudge`). ``cgp_kwargs`` and ``cgp_explain`` are cgp_lib's own constructor and
    ``explain`` arguments (they override the shared ones).
    """
    n, beta = len(X), init["beta"]
    warm = max(1, -(-alibi_warmup_steps // (init["max_iterations"] * init.get("c_steps", 10))))
    case = run_case(
        model,
        np.concatenate([X[:1]] * warm + [X]),
        fit,
        init,
        explain_kwargs,
        ae_model=ae,
        enc_model=enc,
        black_box_predict=black_box,
        cgp_kwargs=cgp_kwargs,
        cgp_explain_kwargs=cgp_explain,
    )
    explain_kwargs = {**explain_kwargs, **(cgp_explain or {})}
    ref_found = case.ref.found[[0, warm]]
    if ref_found.all():
        first_call = np.abs(case.ref.cf[0] - case.ref.cf[warm]).max()
    else:
        first_call = np.nan if not ref_found.any() else np.inf
    ref = Rows.take(case.ref, slice(warm, None))
    explainer = CounterfactualProto(
        black_box or model, (1,) + X.shape[1:], ae_model=ae, enc_model=enc, **{**init, **(cgp_kwargs or {})}
    ).fit(fit)
    explain_kwargs = explain_kwargs_for(explainer, explain_kwargs)
    b1 = Rows.stack([explainer.explain(X[i : i + 1], **explain_kwargs) for i in range(n)])
    clean = explainer.explain(X, record_path=True, **explain_kwargs)
    noisy = explainer.explain(nudge(X, *init["feature_range"]), record_path=True, **explain_kwargs)
    per_instance = compare(b1, ref, X, beta)
    for column in ("time_alibi_s", "time_cgp_b1_s"):
        per_instance[column] = case.per_instance[column].to_numpy()[warm:]
    summary = summarize(per_instance)
    summary.update(
        time_alibi_b1_s=float(per_instance.time_alibi_s.median()),
        time_cgp_b1_s=float(per_instance.time_cgp_b1_s.median()),
        time_cgp_batch_per_instance_s=case.summary["time_cgp_batch_per_instance_s"],
    )
    divergence = np.abs(clean.path[0] - noisy.path[0]).reshape(clean.path.shape[1], n, -1).max(axis=2)
    return CheckedCase(
        per_instance,
        summary,
        ref,
        compare(clean, ref, X, beta),
        compare(clean, b1, X, beta),
        compare(noisy, clean, X, beta),
        float(first_call),
        divergence,
        float(noisy.wall_time_s[0]) / n,
        bool(case.ref.cached),
    )


def class_agreement(frame: pd.DataFrame) -> float:
    """Share of instances with the same counterfactual class (-1: none found) in both columns."""
    return float((frame.cf_class_cgp == frame.cf_class_alibi).mean())


def status(frame: pd.DataFrame) -> str:
    """The targets on a :func:`compare` frame: ``"met"``, ``"missed"``, or n/a when neither side found any."""
    s = summarize(frame)
    if s["found_cgp"] == 0 and s["found_alibi"] == 0:
        return "n/a (none found)"
    ok = (
        class_agreement(frame) >= TARGET_AGREEMENT
        and s["proto_class_agreement"] >= TARGET_AGREEMENT
        and s["median_en_rel_diff"] <= TARGET_EN
    )
    return "met" if ok else "missed"


def identical(frame: pd.DataFrame) -> int:
    """Instances where both found a counterfactual and the two are equal up to float32 rounding."""
    return int((frame.max_abs_diff <= EQUAL).sum())


def agreement_row(label: str, checked: CheckedCase) -> dict:
    """One row of a case's agreement table: cgp_lib at batch 1 against alibi."""
    pi, s = checked.per_instance, checked.summary
    steps = pi.steps_to_first_cgp[pi.steps_to_first_cgp >= 0]
    return {
        "case": label,
        "n": s["instances"],
        "found cgp/alibi": f"{s['found_cgp']}/{s['found_alibi']}",
        "found agree": s["found_agreement"],
        "cf class agree": class_agreement(pi),
        "proto class agree": s["proto_class_agreement"],
        "median EN rel diff": s["median_en_rel_diff"],
        "max |Δx_cf|": s["max_abs_diff"],
        "equal": identical(pi),
        "median steps to 1st cf (cgp)": float(steps.median()) if len(steps) else np.nan,
        "targets": status(pi),
    }


def largest_floor(checked: CheckedCase) -> float:
    """The largest move of an answer in the comparisons that involve no difference of algorithm."""
    values = [
        summarize(checked.batch_vs_b1)["max_abs_diff"],
        summarize(checked.floor)["max_abs_diff"],
        checked.alibi_first_call,
    ]
    values = [v for v in values if np.isfinite(v) or v == np.inf]
    return max(values) if values else np.nan


def sensitivity_row(label: str, checked: CheckedCase) -> dict:
    """One row of a case's sensitivity table: the three comparisons without a difference of algorithm."""
    ba, bb1, fl = (summarize(f) for f in (checked.batch_vs_alibi, checked.batch_vs_b1, checked.floor))
    return {
        "case": label,
        "batch vs alibi: median EN rel diff": ba["median_en_rel_diff"],
        "batch vs alibi: targets": status(checked.batch_vs_alibi),
        "batch vs b=1: max |Δx_cf|": bb1["max_abs_diff"],
        "batch vs b=1: targets": status(checked.batch_vs_b1),
        "x0+u vs x0: median EN rel diff": fl["median_en_rel_diff"],
        "x0+u vs x0: max |Δx_cf|": fl["max_abs_diff"],
        "x0+u vs x0: targets": status(checked.floor),
        "alibi 1st call vs repeat: max |Δx_cf|": checked.alibi_first_call,
        "largest of the three": largest_floor(checked),
    }


def timing_row(label: str, checked: CheckedCase) -> dict:
    """One row of a case's timing table (seconds per instance, and speed-ups over alibi)."""
    s = checked.summary
    return {
        "case": label,
        "alibi b=1 (s)": s["time_alibi_b1_s"],
        "cgp_lib b=1 (s)": s["time_cgp_b1_s"],
        "cgp_lib batch incl. tracing (s/instance)": s["time_cgp_batch_per_instance_s"],
        "cgp_lib batch (s/instance)": checked.warm_batch_s,
        "speed-up b=1": s["time_alibi_b1_s"] / s["time_cgp_b1_s"],
        "speed-up batch": s["time_alibi_b1_s"] / checked.warm_batch_s,
    }


def tables(checked_cases: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The agreement, sensitivity and timing tables of several cases ``{label: CheckedCase}``."""
    return tuple(
        pd.DataFrame([row(k, v) for k, v in checked_cases.items()]).set_index("case")
        for row in (agreement_row, sensitivity_row, timing_row)
    )
