"""Numerical gradients of L_pred for black-box models (paper section 3.5, eq. 11-12).

When the model is only a function returning probabilities, the gradient of the
prediction loss is the chain rule

    ∂L_pred/∂x = ∂L_pred/∂p · ∂p/∂x                                     (eq. 11)

with both factors estimated by central differences (eq. 12): the probabilities are
perturbed by ±eps[0] to get ∂L_pred/∂p (P values), and each of the F features by
±eps[1] to get the P×F Jacobian ∂p/∂x, which costs 2F model evaluations per
instance. This module builds those 2F perturbed copies of every row and evaluates
them, together with any other rows the caller needs predicted, in chunked calls.

``proba_perturbation`` chooses how the probabilities are perturbed:

* ``'coordinate'`` (default): p ± eps[0]·e_j, the plain central difference; it equals
  the analytic ∂L_pred/∂p, so the numerical gradient matches automatic differentiation;
* ``'simplex'``: alibi 0.9.6's perturbation, which also moves the other classes by
  ∓eps[0]/(P−1) so the probabilities still sum to one. For a loss p_t0 − p_max that
  scales the gradient by P/(P−1) (2 for a binary model); use it to reproduce alibi.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

PROBA_PERTURBATIONS = ("coordinate", "simplex")


def _margin(proba: np.ndarray, orig_onehot: np.ndarray) -> np.ndarray:
    """p_t0 − max_{i≠t0} p_i along the last axis (alibi's f − g)."""
    return (orig_onehot * proba).sum(-1) - ((1.0 - orig_onehot) * proba).max(-1)


def loss_gradient_wrt_proba(
    proba: np.ndarray, orig_onehot: np.ndarray, kappa: float, eps: float, proba_perturbation: str = "coordinate"
) -> np.ndarray:
    """∂L_pred/∂p (N, P) by central differences of the probabilities (eq. 12).

    Rows where L_pred is zero (the margin p_t0 − max p_i ≤ −κ) get a zero gradient.
    """
    n, p = proba.shape
    pert = np.eye(p) * eps
    if proba_perturbation == "simplex":
        pert += (np.eye(p) - 1.0) * eps / (p - 1)
    elif proba_perturbation != "coordinate":
        raise ValueError(f"proba_perturbation: expected one of {PROBA_PERTURBATIONS}, got {proba_perturbation!r}")
    plus = proba[:, None, :] + pert[None]  # (N, P perturbations, P)
    minus = proba[:, None, :] - pert[None]
    onehot = orig_onehot[:, None, :]
    grad = (_margin(plus, onehot) - _margin(minus, onehot)) / (2.0 * eps)
    inactive = _margin(proba, orig_onehot) <= -kappa
    grad[inactive] = 0.0
    return grad


class BatchedPredictor:
    """Evaluates a black-box ``predict`` on extra rows plus the 2F perturbed copies of some rows.

    ``max_rows`` bounds how many rows one call to ``predict`` receives, so memory stays
    bounded for images; below that bound everything a step needs is one call. A point's
    2F+1 rows are never split, and the extra rows go with the first chunk, so a call can
    exceed ``max_rows`` when ``max_rows`` is smaller than 2F+1 plus the extra rows.
    """

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        eps_x: float,
        max_rows: int = 16384,
        n_classes: int | None = None,
    ):
        self.predict = predict
        self.eps_x = eps_x
        self.max_rows = max_rows
        self.n_classes = n_classes  # when given, every call must return this many classes
        self.calls = 0  # number of predict calls made, for tests and benchmarks

    def _call(self, X: np.ndarray) -> np.ndarray:
        """``predict`` on X, checked: one row per row of X, always ``n_classes`` columns."""
        self.calls += 1
        out = np.asarray(self.predict(X), dtype=np.float64)
        if out.ndim != 2 or len(out) != len(X):
            raise ValueError(
                f"predict: must return one row of class probabilities per input row, got shape {out.shape} "
                f"for {len(X)} rows (the rows to predict and the perturbed points of the numerical gradient)"
            )
        if self.n_classes is not None and out.shape[1] != self.n_classes:
            raise ValueError(
                f"predict: returned {out.shape[1]} classes where it returned {self.n_classes} before; "
                "the model must return the same classes on every call"
            )
        return out

    def __call__(self, extra: np.ndarray, points: np.ndarray):
        """Predict ``extra`` rows, ``points`` and their ±eps_x copies along each feature.

        Returns (proba_extra (E, P), proba_points (R, P), jacobian (R, P, F)) where
        jacobian[r, :, f] = (p(points_r + eps e_f) − p(points_r − eps e_f)) / (2 eps).
        """
        if not len(points):
            return self._call(extra), None, None
        shape = points.shape[1:]
        n_feat = int(np.prod(shape)) if len(shape) else 1
        flat = points.reshape(len(points), n_feat)
        per_row = 2 * n_feat + 1
        rows_per_call = max(1, (self.max_rows - len(extra)) // per_row)
        eye = np.eye(n_feat, dtype=points.dtype) * self.eps_x
        chunks = [flat[i : i + rows_per_call] for i in range(0, len(flat), rows_per_call)] or [flat]
        proba_extra, proba_points, jac = None, [], []
        for j, chunk in enumerate(chunks):
            m = len(chunk)
            batch = [extra.reshape((len(extra),) + shape)] if j == 0 else []
            batch += [
                chunk.reshape((m,) + shape),
                (chunk[:, None, :] + eye[None]).reshape((m * n_feat,) + shape),
                (chunk[:, None, :] - eye[None]).reshape((m * n_feat,) + shape),
            ]
            out = self._call(np.concatenate(batch, axis=0).astype(points.dtype, copy=False))
            if j == 0:
                proba_extra, out = out[: len(extra)], out[len(extra) :]
            proba_points.append(out[:m])
            pos = out[m : m + m * n_feat].reshape(m, n_feat, -1)
            neg = out[m + m * n_feat :].reshape(m, n_feat, -1)
            jac.append(np.transpose(pos - neg, (0, 2, 1)) / (2.0 * self.eps_x))
        return proba_extra, np.concatenate(proba_points), np.concatenate(jac)


def numerical_gradient(
    proba: np.ndarray,
    jacobian: np.ndarray,
    orig_onehot: np.ndarray,
    kappa: float,
    eps_proba: float,
    proba_perturbation: str = "coordinate",
) -> np.ndarray:
    """∂L_pred/∂x (N, F) from the probabilities and their Jacobian (eq. 11)."""
    dl_dp = loss_gradient_wrt_proba(proba, orig_onehot, kappa, eps_proba, proba_perturbation)
    return np.einsum("np,npf->nf", dl_dp, jacobian)
