"""cgp_lib.model_comparison: the MMD relative multiple model comparison tests (appendix E).

Synthetic Gaussians where the answer is known: models N(s·e1, I) in 2-D against the
reference N(0, I); the model with the smallest shift is the best, the others are worse.
"""

import numpy as np
import pytest

from cgp_lib import model_comparison as mc

ALPHA = 0.05


def gaussians(shifts, n, rng):
    reference = rng.standard_normal((n, 2))
    samples = []
    for s in shifts:
        x = rng.standard_normal((n, 2))
        x[:, 0] += s
        samples.append(x)
    return samples, reference


def repeat(test, shifts, n, trials=100, seed=0):
    rng = np.random.default_rng(seed)
    results = [test(*gaussians(shifts, n, rng)) for _ in range(trials)]
    selected = np.bincount([r.selected for r in results], minlength=len(shifts))
    rejected = np.sum([r.rejected for r in results], axis=0)
    return results, selected, rejected


def test_imq_kernel_is_the_inverse_multiquadric():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    for b, c in [(-0.5, 1.0), (-1.0, 2.0)]:
        expected = np.array([[(c**2 + np.sum((x - y) ** 2)) ** b for y in Y] for x in X])
        np.testing.assert_allclose(mc.imq_kernel(X, Y, b=b, c=c), expected, rtol=1e-12)
    np.testing.assert_allclose(np.diag(mc.imq_kernel(X, X)), 1.0)
    with pytest.raises(ValueError, match="b must"):
        mc.imq_kernel(X, Y, b=0.5)
    with pytest.raises(ValueError, match="c must"):
        mc.imq_kernel(X, Y, c=0.0)


def test_mmd_u_equals_the_double_loop_that_leaves_out_every_diagonal():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((7, 3)), rng.standard_normal((7, 3)) + 0.3
    k = mc.imq_kernel
    n = len(X)
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i != j:
                total += k(X[i : i + 1], X[j : j + 1]) + k(Y[i : i + 1], Y[j : j + 1])
                total -= k(X[i : i + 1], Y[j : j + 1]) + k(X[j : j + 1], Y[i : i + 1])
    assert mc.mmd_u(X, Y) == pytest.approx(float(total) / (n * (n - 1)), rel=1e-12)
    assert mc.mmd_u(X, X) == pytest.approx(0.0, abs=1e-12)


def test_mmd_statistics_are_scaled_estimates_with_a_symmetric_covariance():
    rng = np.random.default_rng(2)
    samples, reference = gaussians((0.5, 1.0, 1.5), 50, rng)
    z, sigma = mc.mmd_statistics(samples, reference)
    expected = [np.sqrt(50) * mc.mmd_u(s, reference) for s in samples]
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    np.testing.assert_array_equal(sigma, sigma.T)
    assert (np.diag(sigma) > 0).all()
    assert z[0] < z[1] < z[2]  # farther shifts, larger discrepancies
    z3, sigma3 = mc.mmd_statistics(np.stack(samples), reference)  # one (l, n, d) array
    np.testing.assert_array_equal(z3, z)
    np.testing.assert_array_equal(sigma3, sigma)


def test_the_estimated_variance_of_a_difference_matches_its_spread_over_trials():
    rng = np.random.default_rng(3)
    diffs, estimates = [], []
    for _ in range(200):
        z, sigma = mc.mmd_statistics(*gaussians((0.5, 1.0), 100, rng))
        diffs.append(z[1] - z[0])
        estimates.append(sigma[0, 0] + sigma[1, 1] - 2 * sigma[0, 1])
    # the sample variance of 200 draws is within about ±20% (2 s.e.) of the truth
    assert np.mean(estimates) == pytest.approx(np.var(diffs), rel=0.25)


@pytest.mark.parametrize("test", [mc.rel_psi, mc.rel_multi], ids=["RelPSI", "RelMulti"])
def test_the_least_shifted_model_is_selected_and_the_others_rejected(test):
    # RelMulti tests on half of the rows: at n = 200 (100 per part) the power of its z-test for
    # the model shifted by 1.0 is about Phi(0.56 / 0.21 - 1.645) = 0.84 (measured: 84/100); with
    # 200 rows in each part (n = 400) it is above 0.95
    n = 200 if test is mc.rel_psi else 400
    results, selected, rejected = repeat(test, (0.5, 1.0, 1.5), n)
    assert selected[0] >= 95
    assert rejected[1] >= 90 and rejected[2] >= 90
    for r in results:
        assert not r.rejected[r.selected] and np.isnan(r.pvalues[r.selected])
        others = np.arange(3) != r.selected
        assert ((r.pvalues[others] >= 0) & (r.pvalues[others] <= 1)).all()


@pytest.mark.parametrize("test", [mc.rel_psi, mc.rel_multi], ids=["RelPSI", "RelMulti"])
@pytest.mark.parametrize("shift", [0.0, 1.0], ids=["models=reference", "models equal, not the reference"])
def test_equally_good_models_are_rarely_rejected(test, shift):
    _, _, rejected = repeat(test, (shift, shift, shift), 200, seed=4)
    # 200 tests (2 per trial) of true null hypotheses: the rate is at most alpha plus three
    # binomial standard errors (sqrt(0.05 * 0.95 / 200) = 0.015)
    assert rejected.sum() / 200 <= ALPHA + 3 * 0.0154


def test_the_selective_tail_is_computed_where_the_normal_underflows(monkeypatch):
    # far in the upper tail the truncated survival ratio S(t)/S(a) is about (a/t) exp(-(t² - a²)/2)
    p = mc._truncated_sf(40.0, 39.0, np.inf)
    assert np.isfinite(p) and 0 < p < 1
    assert p == pytest.approx((39.0 / 40.0) * np.exp(-(40.0**2 - 39.0**2) / 2), rel=0.01)
    assert mc._truncated_sf(0.0, 0.0, np.inf) == pytest.approx(1.0)
    assert mc._truncated_sf(1.0, -np.inf, np.inf) == pytest.approx(0.158655, rel=1e-5)
    # the log-space fallback, where scipy's truncnorm gives up, agrees with it where it does not
    cases = [(40.0, 39.0, np.inf), (39.5, 39.0, 40.0), (-30.0, -40.0, -29.0), (0.3, -1.0, 2.0)]
    expected = [mc._truncated_sf(*case) for case in cases]
    monkeypatch.setattr(mc.stats.truncnorm, "sf", lambda *args: np.nan)
    np.testing.assert_allclose([mc._truncated_sf(*case) for case in cases], expected, rtol=1e-6)


def test_rel_tests_give_both_flavours_from_one_set_of_kernel_evaluations():
    rng = np.random.default_rng(6)
    samples, reference = gaussians((0.2, 0.6, 1.0, 1.0), 60, rng)
    calls = []

    def counting_kernel(X, Y):
        calls.append(len(X) * len(Y))
        return mc.imq_kernel(X, Y)

    both = mc.rel_tests(samples, reference, split=0.4, kernel=counting_kernel)
    shared = sum(calls)
    assert shared == (1 + 2 * 4) * 60 * 60  # K_RR once, K_PP and K_PR per model, whole sample
    calls.clear()
    separate = {
        "RelMulti": mc.rel_multi(samples, reference, split=0.4, kernel=counting_kernel),
        "RelPSI": mc.rel_psi(samples, reference, kernel=counting_kernel),
    }
    assert sum(calls) == shared + 9 * (24 * 24 + 36 * 36)  # the halves evaluated again
    assert set(both) == {"RelMulti", "RelPSI"}
    for flavour, result in separate.items():
        assert both[flavour].selected == result.selected
        np.testing.assert_array_equal(both[flavour].rejected, result.rejected)
        np.testing.assert_allclose(both[flavour].pvalues, result.pvalues, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(both[flavour].z, result.z, rtol=1e-9)
        np.testing.assert_allclose(both[flavour].sigma, result.sigma, rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="split"):
        mc.rel_tests(samples, reference, split=0.05)
    with pytest.raises(ValueError, match="alpha"):
        mc.rel_tests(samples, reference, alpha=1.5)


def test_bad_input_names_the_argument():
    rng = np.random.default_rng(5)
    samples, reference = gaussians((0.5, 1.0), 20, rng)
    with pytest.raises(ValueError, match="at least 2 models"):
        mc.rel_psi(samples[:1], reference)
    with pytest.raises(ValueError, match=r"samples\[1\]"):
        mc.rel_psi([samples[0], samples[1][:10]], reference)
    with pytest.raises(ValueError, match=r"samples\[1\]"):
        mc.rel_multi([samples[0], np.hstack([samples[1], samples[1]])], reference)
    with pytest.raises(ValueError, match="at least 4 rows"):
        mc.rel_psi([s[:3] for s in samples], reference[:3])
    bad = samples[0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        mc.rel_psi([bad, samples[1]], reference)
    for alpha in (0.0, 1.0, -0.1, 2):
        with pytest.raises(ValueError, match="alpha"):
            mc.rel_psi(samples, reference, alpha=alpha)
        with pytest.raises(ValueError, match="alpha"):
            mc.rel_multi(samples, reference, alpha=alpha)
    for split in (0.0, 1.0, 0.1):
        with pytest.raises(ValueError, match="split"):
            mc.rel_multi(samples, reference, split=split)
    with pytest.raises(ValueError, match="reference"):
        mc.mmd_statistics(samples, reference[:, 0])
