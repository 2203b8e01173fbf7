"""Relative multiple model comparison with the MMD (the paper's appendix E).

Appendix E of Van Looveren & Klaise (2021) asks which of its six losses produces
counterfactuals that model the real images of their counterfactual class best, with the
tests of Lim et al. (2019, "Kernel Stein Tests for Multiple Model Comparison", NeurIPS) in
their MMD form. Given samples of ``l`` candidate models and a sample of the reference
distribution ``R`` (real data), all of size ``n``:

1. the discrepancy of model ``i`` is estimated by the unbiased MMD² of its sample and the
   reference sample (:func:`mmd_u`), scaled as ``z_i = sqrt(n) * MMD²_u(P_i, R)``;
   :func:`mmd_statistics` also returns ``sigma``, ``n`` times the estimated covariance of the
   MMD² estimates (they are correlated: every one uses ``R``);
2. the best model ``J = argmin z`` is selected;
3. for every other model ``i``, the null hypothesis "model ``i`` is no worse than ``J``"
   (``E z_i <= E z_J``) is tested against "model ``i`` is worse", conditionally on ``J``
   having been selected:

   * :func:`rel_psi` (post-selection inference) uses the same data for both steps and
     corrects for the selection with the polyhedral lemma of Lee et al. (2016): the test
     statistic ``η·z`` (``η = e_i - e_J``) is, under the null, a normal truncated to the
     interval that the selection event ``{J = argmin z}`` leaves it;
   * :func:`rel_multi` selects on one part of every sample and tests on the rest with
     ordinary z-tests, Benjamini-Hochberg over the ``l - 1`` tests.

Both return a :class:`ComparisonResult`; :func:`rel_tests` runs both on the same samples and
evaluates the kernel once per pair of points (RelMulti's halves are blocks of RelPSI's
matrices). Lim et al.'s code (``reltest``) is not used: this module is written from the
definitions, in NumPy and SciPy.

Kernel: the inverse multiquadric :func:`imq_kernel`, ``k(x, y) = (c² + ||x - y||²)^b`` with
``b = -0.5``, ``c = 1`` (Lim et al.'s choice, which the paper follows on 256 CNN features).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

__all__ = ["imq_kernel", "mmd_u", "mmd_statistics", "rel_psi", "rel_multi", "rel_tests", "ComparisonResult"]

Kernel = Callable[[np.ndarray, np.ndarray], np.ndarray]


def imq_kernel(X: Any, Y: Any, b: float = -0.5, c: float = 1.0) -> np.ndarray:
    """The inverse multiquadric kernel ``k(x, y) = (c² + ||x - y||²)^b`` as a Gram matrix.

    Parameters
    ----------
    X, Y
        Arrays of shape ``(n, d)`` and ``(m, d)`` (rows are points).
    b
        The exponent, negative (``-0.5`` in Lim et al. 2019, appendix E of the paper).
    c
        The offset, positive.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, m)``, float64: ``K[i, j] = k(X[i], Y[j])``.
    """
    if not b < 0:
        raise ValueError(f"b must be negative (an inverse multiquadric), got {b!r}")
    if not c > 0:
        raise ValueError(f"c must be positive, got {c!r}")
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"X and Y must be 2-D with the same number of columns, got {X.shape} and {Y.shape}")
    squared = (X * X).sum(1)[:, None] + (Y * Y).sum(1)[None, :] - 2.0 * X @ Y.T
    base = c * c + np.maximum(squared, 0.0)
    if b == -0.5:  # the usual case: a square root is several times cheaper than a power
        return 1.0 / np.sqrt(base)
    return base**b


def _samples(samples: Any, reference: Any, min_models: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` as an ``(l, n, d)`` float64 array and ``reference`` as ``(n, d)``, checked."""
    if isinstance(samples, np.ndarray) and samples.ndim == 3:
        stacked = [samples[i] for i in range(samples.shape[0])]
    elif isinstance(samples, (Sequence, np.ndarray)):
        stacked = [np.asarray(s, dtype=np.float64) for s in samples]
    else:
        raise ValueError(f"samples must be a sequence of (n, d) arrays, got {type(samples).__name__}")
    if len(stacked) < min_models:
        raise ValueError(f"samples must hold at least {min_models} models, got {len(stacked)}")
    reference = np.asarray(reference, dtype=np.float64)
    if reference.ndim != 2:
        raise ValueError(f"reference must be an (n, d) array, got shape {reference.shape}")
    for i, s in enumerate(stacked):
        if s.shape != reference.shape:
            raise ValueError(
                f"samples[{i}] has shape {s.shape}, the reference {reference.shape}: every sample must have the "
                "reference's size and width"
            )
    if reference.shape[0] < 4:
        raise ValueError(f"samples need at least 4 rows each, got {reference.shape[0]}")
    stacked = np.stack(stacked).astype(np.float64)
    if not np.isfinite(stacked).all():
        raise ValueError("samples contain non-finite values")
    if not np.isfinite(reference).all():
        raise ValueError("reference contains non-finite values")
    return stacked, reference


def _alpha(alpha: float) -> float:
    if not (isinstance(alpha, (int, float, np.floating)) and 0.0 < float(alpha) < 1.0):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    return float(alpha)


def _h_matrix(K_pp: np.ndarray, K_rr: np.ndarray, K_pr: np.ndarray) -> np.ndarray:
    """The U-statistic kernel of MMD² on paired rows ``w_i = (p_i, r_i)``, diagonal zeroed:
    ``H[i, j] = k(p_i, p_j) + k(r_i, r_j) - k(p_i, r_j) - k(p_j, r_i)``."""
    H = K_pp + K_rr - K_pr - K_pr.T
    np.fill_diagonal(H, 0.0)
    return H


def mmd_u(X: Any, Y: Any, kernel: Kernel = imq_kernel) -> float:
    """The unbiased MMD² of two samples of the same size ``n``, every term a U-statistic.

    ``MMD²_u = Σ_{i≠j} [k(x_i, x_j) + k(y_i, y_j) - k(x_i, y_j) - k(x_j, y_i)] / (n (n - 1))``:
    the diagonals of ``K_XX``, ``K_YY`` and ``K_XY`` are left out (Lim et al. 2019; Bounliphone
    et al. 2016). It can be negative when the two distributions are equal.

    Parameters
    ----------
    X, Y
        Arrays of shape ``(n, d)``, ``n >= 4``.
    kernel
        ``kernel(A, B)`` returns the Gram matrix of the rows of ``A`` and ``B``.

    Returns
    -------
    float
    """
    samples, reference = _samples([X], Y, min_models=1)
    X = samples[0]
    n = X.shape[0]
    H = _h_matrix(kernel(X, X), kernel(reference, reference), kernel(X, reference))
    return float(H.sum() / (n * (n - 1)))


def mmd_statistics(samples: Any, reference: Any, kernel: Kernel = imq_kernel) -> tuple[np.ndarray, np.ndarray]:
    """The scaled MMD² estimates of ``l`` models against one reference, and their covariance.

    ``z_i = sqrt(n) · MMD²_u(P_i, R)`` and ``sigma = n · C``, where ``C`` estimates the
    covariance of the ``l`` MMD²_u estimates. Each estimate is a U-statistic of order 2 on
    the paired rows ``w_t = (p_t, r_t)`` with kernel ``h`` (:func:`mmd_u`); its variance is
    ``4 (n - 2) / (n (n - 1)) · ζ1 + 2 / (n (n - 1)) · ζ2`` (Bounliphone et al. 2016,
    ICLR, eq. 6 and appendix; ``ζ1 = Var E[h(w, W')|w]``, ``ζ2 = Var h(W, W')``): the first-
    order term plus the second-order term, the second-order term alone if their sum is
    negative. Here ``ζ1`` and ``ζ2`` are estimated by plug-in from the matrix ``H`` of ``h``
    (off its diagonal): ``ζ1`` as the variance of the row means of ``H`` (the projections
    ``E[h(w_t, W')|w_t]``), ``ζ2`` as the variance of its off-diagonal entries; with these
    estimates the sum is never negative, but the rule is kept. Off the diagonal, ``C_ij`` is
    the first-order covariance ``4 (n - 2) / (n (n - 1)) · Cov(row means of H_i, row means
    of H_j)``: the estimates of models ``i`` and ``j`` share ``R``.

    Parameters
    ----------
    samples
        ``l >= 2`` arrays of shape ``(n, d)`` (or one ``(l, n, d)`` array): the models' samples.
    reference
        Array of shape ``(n, d)``: the reference sample.
    kernel
        ``kernel(A, B)`` returns the Gram matrix of the rows of ``A`` and ``B``.

    Returns
    -------
    z : numpy.ndarray
        Shape ``(l,)``.
    sigma : numpy.ndarray
        Shape ``(l, l)``, symmetric.

    Notes
    -----
    One kernel evaluation per pair of points that enters a statistic: ``K_RR`` once, and per
    model ``K_PP`` and ``K_PR``; the models' samples are never compared with each other.
    """
    samples, reference = _samples(samples, reference)
    return _statistics(_h_stack(samples, reference, kernel))


def _h_stack(samples: np.ndarray, reference: np.ndarray, kernel: Kernel) -> np.ndarray:
    """``(l, n, n)``: the U-statistic matrix ``H`` (:func:`_h_matrix`) of every model against
    the reference; ``K_RR`` is evaluated once, and per model ``K_PP`` and ``K_PR``."""
    n_models, n = samples.shape[0], samples.shape[1]
    K_rr = kernel(reference, reference)
    H = np.empty((n_models, n, n))
    for i in range(n_models):
        H[i] = _h_matrix(kernel(samples[i], samples[i]), K_rr, kernel(samples[i], reference))
    return H


def _statistics(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``z`` and ``sigma`` of :func:`mmd_statistics` from the ``(l, n, n)`` stack of ``H``
    (zero diagonals). A block ``H[:, rows][:, :, rows]`` gives the statistics of those rows."""
    n = H.shape[1]
    projections = H.sum(2) / (n - 1)  # E[h(w_t, W') | w_t], per model and row
    thetas = projections.mean(1)
    zeta2 = np.einsum("kij,kij->k", H, H) / (n * (n - 1)) - thetas**2  # H's diagonal is 0
    centred = projections - thetas[:, None]
    zeta1 = centred @ centred.T / n
    first = 4.0 * (n - 2) / (n * (n - 1))
    second = 2.0 / (n * (n - 1))
    C = first * zeta1
    variance = first * np.diag(zeta1) + second * zeta2
    np.fill_diagonal(C, np.where(variance < 0, second * zeta2, variance))
    return np.sqrt(n) * thetas, n * C


@dataclass(frozen=True)
class ComparisonResult:
    """The outcome of :func:`rel_psi` or :func:`rel_multi` on ``l`` models.

    Attributes
    ----------
    selected
        Index ``J`` of the model with the smallest estimated discrepancy (the reference model).
    rejected
        Boolean array ``(l,)``: model ``i`` is declared worse than ``J`` (``rejected[J]`` is
        always False).
    pvalues
        Array ``(l,)``: the p-value of each test (NaN at ``J``); for :func:`rel_multi`, the
        Benjamini-Hochberg adjusted p-values.
    z, sigma
        The statistics the tests used (:func:`mmd_statistics`; for :func:`rel_multi`, those of
        the test part).
    """

    selected: int
    rejected: np.ndarray
    pvalues: np.ndarray
    z: np.ndarray
    sigma: np.ndarray


def _log_difference(log_a: float, log_b: float) -> float:
    """log(exp(log_a) - exp(log_b)) for log_a >= log_b (-inf when they are equal)."""
    if log_b == -np.inf:
        return log_a
    if log_b >= log_a:
        return -np.inf
    return log_a + float(np.log1p(-np.exp(log_b - log_a)))


def _truncated_sf(t: float, low: float, high: float) -> float:
    """P(T >= t) for a standard normal T truncated to [low, high].

    ``scipy.stats.truncnorm.sf`` first; where it returns NaN or an infinity (far in a
    tail), the ratio of normal probabilities in log space: ``(S(t) - S(high)) /
    (S(low) - S(high))`` with the survival function ``S`` when the interval lies above 0,
    ``(Φ(high) - Φ(t)) / (Φ(high) - Φ(low))`` otherwise (each form keeps its digits in its
    own tail).
    """
    t = float(np.clip(t, low, high))
    p = float(stats.truncnorm.sf(t, low, high))
    if np.isfinite(p):
        return float(np.clip(p, 0.0, 1.0))
    if low > 0:
        log_sf = lambda x: float(special.log_ndtr(-x))  # noqa: E731
        numerator = _log_difference(log_sf(t), log_sf(high))
        denominator = _log_difference(log_sf(low), log_sf(high))
    else:
        log_cdf = lambda x: float(special.log_ndtr(x))  # noqa: E731
        numerator = _log_difference(log_cdf(high), log_cdf(t))
        denominator = _log_difference(log_cdf(high), log_cdf(low))
    if denominator == -np.inf:  # an empty interval: nothing to weigh
        return 1.0
    return float(np.clip(np.exp(numerator - denominator), 0.0, 1.0))


def _psi_pvalue(z: np.ndarray, sigma: np.ndarray, i: int, J: int) -> float:
    """Selective p-value of ``H0: E z_i <= E z_J`` given ``{J = argmin z}`` (polyhedral lemma)."""
    n_models = len(z)
    eta = np.zeros(n_models)
    eta[i], eta[J] = 1.0, -1.0
    variance = float(eta @ sigma @ eta)
    statistic = float(eta @ z)
    if not variance > 0:
        return 1.0 if statistic <= 0 else 0.0
    others = [j for j in range(n_models) if j != J]
    A = np.zeros((len(others), n_models))  # rows e_J - e_j: the selection event is A z <= 0
    A[np.arange(len(others)), J] = 1.0
    A[np.arange(len(others)), others] = -1.0
    c = sigma @ eta / variance
    r = z - c * statistic
    slope, offset = A @ c, A @ r
    with np.errstate(divide="ignore", invalid="ignore"):
        bounds = -offset / slope
    low = np.max(bounds[slope < 0], initial=-np.inf)
    high = np.min(bounds[slope > 0], initial=np.inf)
    scale = np.sqrt(variance)
    return _truncated_sf(statistic / scale, low / scale, high / scale)


def rel_psi(samples: Any, reference: Any, alpha: float = 0.05, kernel: Kernel = imq_kernel) -> ComparisonResult:
    """RelPSI: select the best model and test the others against it on the same data.

    Lim et al. (2019), section 3, in its MMD form. ``J = argmin z`` (:func:`mmd_statistics`);
    for each ``i ≠ J``, ``H0: model i is no worse than J`` is tested with ``η = e_i - e_J``:
    the selection event ``{J = argmin z}`` is ``A z <= 0`` with rows ``e_J - e_j`` (``j ≠ J``),
    which, by the polyhedral lemma (Lee et al. 2016, "Exact post-selection inference, with
    application to the lasso", Ann. Statist.), confines ``η·z`` to an interval ``[V-, V+]``
    given the rest of ``z``; under ``H0``'s boundary ``η·z`` is then normal with variance
    ``ηᵀ sigma η`` truncated to it. ``H0`` is rejected when ``η·z`` exceeds that law's
    ``1 - alpha`` quantile (equivalently, its p-value is below ``alpha``).

    Parameters
    ----------
    samples
        ``l >= 2`` arrays ``(n, d)`` (or one ``(l, n, d)`` array), ``n >= 4``.
    reference
        ``(n, d)``: the sample of the data distribution.
    alpha
        Level of each test, in (0, 1).
    kernel
        As for :func:`mmd_statistics`.

    Returns
    -------
    ComparisonResult
    """
    alpha = _alpha(alpha)
    return _psi(*mmd_statistics(samples, reference, kernel), alpha)


def _psi(z: np.ndarray, sigma: np.ndarray, alpha: float) -> ComparisonResult:
    """RelPSI's selection and selective tests on the statistics of the whole sample."""
    J = int(np.argmin(z))
    pvalues = np.full(len(z), np.nan)
    for i in range(len(z)):
        if i != J:
            pvalues[i] = _psi_pvalue(z, sigma, i, J)
    rejected = np.nan_to_num(pvalues, nan=1.0) < alpha
    return ComparisonResult(selected=J, rejected=rejected, pvalues=pvalues, z=z, sigma=sigma)


def rel_multi(
    samples: Any, reference: Any, alpha: float = 0.05, split: float = 0.5, kernel: Kernel = imq_kernel
) -> ComparisonResult:
    """RelMulti: select the best model on one part of the data, test the others on the rest.

    Lim et al. (2019), section 3. Every sample (the models' and the reference) is split at
    row ``round(split * n)``: ``J = argmin z`` on the first rows; on the remaining rows, for
    each ``i ≠ J``, the z-test ``p_i = 1 - Φ(η·z / sqrt(ηᵀ sigma η))`` with ``η = e_i - e_J``
    (``H0``: model ``i`` is no worse than ``J``), and the Benjamini-Hochberg procedure over
    the ``l - 1`` p-values at level ``alpha`` (``scipy.stats.false_discovery_control``).
    Split the rows at random beforehand if their order means anything.

    Parameters
    ----------
    samples, reference, alpha, kernel
        As for :func:`rel_psi`.
    split
        Fraction of the rows used for the selection, in (0, 1); both parts need at least 4 rows.

    Returns
    -------
    ComparisonResult
        ``pvalues`` are the adjusted p-values; ``z``, ``sigma`` those of the test part.
    """
    alpha = _alpha(alpha)
    stacked, reference = _samples(samples, reference)
    cut = _cut(reference.shape[0], split)
    z_select, _ = mmd_statistics(stacked[:, :cut], reference[:cut], kernel)
    return _multi(z_select, *mmd_statistics(stacked[:, cut:], reference[cut:], kernel), alpha)


def _cut(n: int, split: float) -> int:
    """The row at which RelMulti splits ``n`` rows, checked."""
    if not (isinstance(split, (int, float, np.floating)) and 0.0 < float(split) < 1.0):
        raise ValueError(f"split must lie in (0, 1), got {split!r}")
    cut = int(round(float(split) * n))
    if cut < 4 or n - cut < 4:
        raise ValueError(f"split={split!r} of {n} rows leaves a part with fewer than 4 rows")
    return cut


def _multi(z_select: np.ndarray, z: np.ndarray, sigma: np.ndarray, alpha: float) -> ComparisonResult:
    """RelMulti: select on ``z_select``, z-tests and Benjamini-Hochberg on ``(z, sigma)``."""
    J = int(np.argmin(z_select))
    others = [i for i in range(len(z)) if i != J]
    raw = np.empty(len(others))
    for t, i in enumerate(others):
        variance = sigma[i, i] + sigma[J, J] - 2.0 * sigma[i, J]
        statistic = z[i] - z[J]
        if variance > 0:
            raw[t] = float(special.ndtr(-statistic / np.sqrt(variance)))
        else:
            raw[t] = 1.0 if statistic <= 0 else 0.0
    adjusted = stats.false_discovery_control(raw, method="bh") if len(raw) > 1 else raw
    pvalues = np.full(len(z), np.nan)
    pvalues[others] = adjusted
    rejected = np.nan_to_num(pvalues, nan=1.0) <= alpha
    return ComparisonResult(selected=J, rejected=rejected, pvalues=pvalues, z=z, sigma=sigma)


def rel_tests(
    samples: Any, reference: Any, alpha: float = 0.05, split: float = 0.5, kernel: Kernel = imq_kernel
) -> dict[str, ComparisonResult]:
    """RelMulti and RelPSI on the same samples, the kernel evaluated once per pair of points.

    The same results as :func:`rel_multi` and :func:`rel_psi` called one after the other (to
    rounding), at two thirds of their kernel evaluations: the ``H`` matrices of the whole
    sample, which RelPSI uses, are computed once, and RelMulti's statistics come from their
    diagonal blocks (the selection rows ``[:cut]``, the test rows ``[cut:]``), since the
    U-statistic kernel of two rows depends on those two rows only.

    Parameters
    ----------
    samples, reference, alpha, kernel
        As for :func:`rel_psi`.
    split
        As for :func:`rel_multi`.

    Returns
    -------
    dict
        ``{"RelMulti": ComparisonResult, "RelPSI": ComparisonResult}``.
    """
    alpha = _alpha(alpha)
    stacked, reference = _samples(samples, reference)
    cut = _cut(reference.shape[0], split)
    H = _h_stack(stacked, reference, kernel)
    z_select, _ = _statistics(H[:, :cut, :cut])
    return {
        "RelMulti": _multi(z_select, *_statistics(H[:, cut:, cut:]), alpha),
        "RelPSI": _psi(*_statistics(H), alpha),
    }
