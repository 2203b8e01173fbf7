"""The paper's interpretability metrics (section 4.1) and summary statistics.

Van Looveren & Klaise (2021) judge a counterfactual ``x_cf`` of an instance ``x0`` with
original class ``t0`` and counterfactual class ``i`` by autoencoders trained on single
classes (``AE_i``, ``AE_t0``) and on all classes (``AE``):

* IM1 (eq. 13): ``||x_cf - AE_i(x_cf)||_2^2 / (||x_cf - AE_t0(x_cf)||_2^2 + eps)``; lower
  means ``x_cf`` is better explained by the counterfactual class than the original one.
* IM2 (eq. 14): ``||AE_i(x_cf) - AE(x_cf)||_2^2 / (||x_cf||_1 + eps)``; lower means the
  counterfactual class's data distribution agrees with the overall one around ``x_cf``.

The sparsity of the perturbation ``delta = x_cf - x0`` is its elastic-net norm (eq. 3).

All metric functions work on a batch: rows are instances (first axis), norms are taken
over all remaining axes, and the result has shape ``(N,)`` (float64).

Autoencoders are given as Keras models (their ``predict`` is used) or any callable that
maps a batch to a batch of the same shape. Class autoencoders are given as a mapping
``{class: ae}`` or a sequence indexed by class (``class_aes[c]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Callable, Union

import numpy as np
from scipy import stats

__all__ = ["im1", "im2", "elastic_net", "mean_ci"]

Autoencoder = Callable[[np.ndarray], Any]
ClassAutoencoders = Union[Mapping[int, Autoencoder], Sequence[Autoencoder]]


# --------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------
def _batch(array: Any, name: str) -> np.ndarray:
    """A finite float64 array of shape (N, ...) with N >= 1, or ValueError naming it."""
    array = np.asarray(array, dtype=np.float64)
    if array.ndim < 2:
        raise ValueError(f"{name} must have shape (N, ...) with one row per instance, got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


def _classes(classes: Any, n_rows: int, name: str) -> np.ndarray:
    """Integer class labels of shape (n_rows,), or ValueError naming them."""
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.shape[0] != n_rows:
        raise ValueError(f"{name} must have shape ({n_rows},) to match x_cf, got shape {classes.shape}")
    if classes.dtype.kind == "f":
        if not np.all(np.isfinite(classes)) or np.any(classes != np.round(classes)):
            raise ValueError(f"{name} must hold integer class labels")
    elif classes.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integer class labels, got dtype {classes.dtype}")
    return classes.astype(np.int64)


def _eps(eps: float) -> float:
    eps = float(eps)
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps}")
    return eps


def _class_autoencoder(class_aes: ClassAutoencoders, label: int, name: str) -> Autoencoder:
    if isinstance(class_aes, Mapping):
        if label in class_aes:
            return class_aes[label]
    elif isinstance(class_aes, Sequence) and 0 <= label < len(class_aes):
        return class_aes[label]
    raise ValueError(f"class_aes has no autoencoder for class {label} (found in {name})")


def _reconstruct(ae: Autoencoder, x: np.ndarray, name: str) -> np.ndarray:
    """``ae(x)`` as a float64 array of x's shape; Keras models go through ``predict``."""
    if hasattr(ae, "predict") and hasattr(ae, "layers"):  # a Keras model
        out = ae.predict(x.astype(np.float32), verbose=0)
    elif callable(ae):
        out = ae(x)
    else:
        raise ValueError(f"{name} must be a Keras model or a callable, got {type(ae).__name__}")
    out = np.asarray(out, dtype=np.float64)
    if out.shape != x.shape:
        raise ValueError(f"{name} returned shape {out.shape} for input of shape {x.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} returned NaN or inf")
    return out


def _reconstruct_by_class(
    x: np.ndarray, rows_of_class: dict[int, np.ndarray], class_aes: ClassAutoencoders, name: str
) -> dict[int, np.ndarray]:
    """Reconstructions ``AE_c(x[rows])`` per class c, one autoencoder call per class."""
    return {
        label: _reconstruct(_class_autoencoder(class_aes, label, name), x[rows], f"class_aes[{label}]")
        for label, rows in rows_of_class.items()
    }


def _squared_l2(diff: np.ndarray) -> np.ndarray:
    return np.sum(np.square(diff.reshape(diff.shape[0], -1)), axis=1)


def _l1(values: np.ndarray) -> np.ndarray:
    return np.sum(np.abs(values.reshape(values.shape[0], -1)), axis=1)


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------
def im1(x_cf: Any, cf_class: Any, orig_class: Any, class_aes: ClassAutoencoders, eps: float = 1e-8) -> np.ndarray:
    """IM1 of each counterfactual, eq. 13 of the paper.

    ``IM1 = ||x_cf - AE_i(x_cf)||_2^2 / (||x_cf - AE_t0(x_cf)||_2^2 + eps)`` where
    ``i = cf_class[n]`` and ``t0 = orig_class[n]`` for row ``n``, and ``AE_c`` is
    ``class_aes[c]``, the autoencoder trained on instances of class ``c``.

    Parameters
    ----------
    x_cf: array (N, ...), the counterfactuals.
    cf_class, orig_class: int arrays (N,), counterfactual and original class per row.
    class_aes: ``{class: ae}`` or a sequence indexed by class.
    eps: small constant >= 0 added to the denominator.

    Returns float64 array (N,). Each class autoencoder is called once, on all rows whose
    counterfactual or original class is that class.
    """
    x_cf = _batch(x_cf, "x_cf")
    n_rows = x_cf.shape[0]
    cf_class = _classes(cf_class, n_rows, "cf_class")
    orig_class = _classes(orig_class, n_rows, "orig_class")
    eps = _eps(eps)

    # Check every key first so that the error names the right argument.
    for label in np.unique(cf_class):
        _class_autoencoder(class_aes, int(label), "cf_class")
    for label in np.unique(orig_class):
        _class_autoencoder(class_aes, int(label), "orig_class")

    needed = np.union1d(cf_class, orig_class)
    rows_of_class = {int(c): np.flatnonzero((cf_class == c) | (orig_class == c)) for c in needed}
    recon = _reconstruct_by_class(x_cf, rows_of_class, class_aes, "cf_class/orig_class")

    numerator = np.empty(n_rows)
    denominator = np.empty(n_rows)
    for label, rows in rows_of_class.items():
        error = _squared_l2(x_cf[rows] - recon[label])
        is_cf = cf_class[rows] == label
        is_orig = orig_class[rows] == label
        numerator[rows[is_cf]] = error[is_cf]
        denominator[rows[is_orig]] = error[is_orig]
    return numerator / (denominator + eps)


def im2(x_cf: Any, cf_class: Any, class_aes: ClassAutoencoders, ae_all: Autoencoder, eps: float = 1e-8) -> np.ndarray:
    """IM2 of each counterfactual, eq. 14 of the paper.

    ``IM2 = ||AE_i(x_cf) - AE(x_cf)||_2^2 / (||x_cf||_1 + eps)`` where ``i = cf_class[n]``,
    ``AE_i = class_aes[i]`` and ``AE = ae_all`` is trained on all classes.

    The paper's tables report ``IM2 x 10``; this function does not multiply, callers do.

    Returns float64 array (N,). Each class autoencoder is called once on the rows of its
    class; ``ae_all`` once on all rows.
    """
    x_cf = _batch(x_cf, "x_cf")
    n_rows = x_cf.shape[0]
    cf_class = _classes(cf_class, n_rows, "cf_class")
    eps = _eps(eps)
    for label in np.unique(cf_class):
        _class_autoencoder(class_aes, int(label), "cf_class")

    rows_of_class = {int(c): np.flatnonzero(cf_class == c) for c in np.unique(cf_class)}
    recon_class = _reconstruct_by_class(x_cf, rows_of_class, class_aes, "cf_class")
    recon_all = _reconstruct(ae_all, x_cf, "ae_all")

    numerator = np.empty(n_rows)
    for label, rows in rows_of_class.items():
        numerator[rows] = _squared_l2(recon_class[label] - recon_all[rows])
    return numerator / (_l1(x_cf) + eps)


def elastic_net(delta: Any, beta: float) -> np.ndarray:
    """Elastic-net norm of each perturbation, eq. 3 of the paper.

    ``EN(delta) = beta * ||delta||_1 + ||delta||_2^2`` per row, with
    ``delta = x_cf - x0`` of shape (N, ...). Returns float64 array (N,).
    """
    delta = _batch(delta, "delta")
    beta = float(beta)
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number >= 0, got {beta}")
    return beta * _l1(delta) + _squared_l2(delta)


def mean_ci(values: Any, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval: ``(mean, low, high)``.

    ``mean -/+ t_{(1+confidence)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation (``ddof=1``), as for the paper's tables of IM1/IM2 and timings.
    ``values`` must be one-dimensional, non-empty and finite (NaN/inf raise ValueError).
    With a single value the interval is undefined and ``(value, nan, nan)`` is returned.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
    if values.size == 0:
        raise ValueError("values is empty")
    if not np.all(np.isfinite(values)):
        raise ValueError("values contains NaN or inf")
    confidence = float(confidence)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")

    n = values.size
    mean = float(values.mean())
    if n == 1:
        return mean, float("nan"), float("nan")
    half_width = stats.t.ppf((1.0 + confidence) / 2.0, df=n - 1) * values.std(ddof=1) / np.sqrt(n)
    return mean, float(mean - half_width), float(mean + half_width)
