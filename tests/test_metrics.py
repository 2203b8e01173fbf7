"""Tests of cgp_lib.metrics with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from cgp_lib import metrics


def identity(x):
    return x


def zeros(x):
    return np.zeros_like(x)


def constant(value):
    return lambda x: np.full_like(x, value)


class CountingAE:
    """A scaling autoencoder that records the batch sizes it is called with."""

    def __init__(self, scale):
        self.scale = scale
        self.calls = []

    def __call__(self, x):
        self.calls.append(len(x))
        return self.scale * x


X = np.array([[1.0, -2.0], [3.0, 0.0], [0.5, 0.5]])


# ------------------------------------------------------------------------------ IM1 (eq. 13)
def test_im1_zero_autoencoder_against_identity():
    # AE_i = zeros: numerator ||x||^2; AE_t0 = identity: denominator 0 + eps.
    eps = 0.5
    values = metrics.im1(X, cf_class=[1, 1, 1], orig_class=[0, 0, 0], class_aes={0: identity, 1: zeros}, eps=eps)
    np.testing.assert_allclose(values, np.array([5.0, 9.0, 0.5]) / eps)
    assert values.shape == (3,)


def test_im1_ratio_of_reconstruction_errors():
    # AE_1(x) = 0 -> ||x||^2; AE_0(x) = 1 -> ||x - 1||^2.
    values = metrics.im1(X, [1, 1, 1], [0, 0, 0], [constant(1.0), zeros], eps=0.0)
    expected = np.array([5.0 / (0 + 9), 9.0 / (4 + 1), 0.5 / 0.5])
    np.testing.assert_allclose(values, expected)


def test_im1_dispatches_per_row_and_calls_each_ae_once():
    aes = {0: CountingAE(0.0), 1: CountingAE(0.5), 2: CountingAE(2.0)}
    cf_class = [1, 2, 0]
    orig_class = [0, 0, 1]
    values = metrics.im1(X, cf_class, orig_class, aes, eps=0.0)
    # x - s*x = (1-s) x, so ||.||^2 = (1-s)^2 ||x||^2 and IM1 = (1-s_cf)^2 / (1-s_orig)^2.
    factor = {0: 1.0, 1: 0.25, 2: 1.0}
    expected = [factor[c] / factor[o] for c, o in zip(cf_class, orig_class)]
    np.testing.assert_allclose(values, expected)
    assert aes[0].calls == [3]  # rows 0, 1 (orig) and 2 (cf), in one call
    assert aes[1].calls == [2] and aes[2].calls == [1]


def test_im1_accepts_images_and_keras_models():
    tf = pytest.importorskip("tensorflow")
    ae_zero = tf.keras.Sequential([tf.keras.Input((2, 2, 1)), tf.keras.layers.Lambda(lambda t: 0.0 * t)])
    ae_half = tf.keras.Sequential([tf.keras.Input((2, 2, 1)), tf.keras.layers.Lambda(lambda t: 0.5 * t)])
    x = np.arange(8, dtype=np.float64).reshape(2, 2, 2, 1)
    values = metrics.im1(x, [0, 0], [1, 1], {0: ae_zero, 1: ae_half}, eps=0.0)
    np.testing.assert_allclose(values, [4.0, 4.0], rtol=1e-6)  # ||x||^2 / (||x||^2 / 4)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"cf_class": [1, 1]}, "cf_class"),
        ({"orig_class": [0, 0, 0, 0]}, "orig_class"),
        ({"cf_class": [1, 5, 1]}, "class 5"),
        ({"orig_class": [0, 7, 0]}, "orig_class"),
        ({"x_cf": np.array([[np.nan, 0.0], [1.0, 1.0], [0.0, 0.0]])}, "x_cf"),
        ({"x_cf": np.array([[np.inf, 1.0], [0.0, 0.0], [1.0, 1.0]])}, "x_cf"),
        ({"x_cf": np.array([1.0, 0.0, 0.0])}, "x_cf"),
        ({"cf_class": [1.5, 1, 1]}, "cf_class"),
        ({"eps": -1.0}, "eps"),
    ],
)
def test_im1_rejects_bad_arguments(kwargs, name):
    arguments = {"x_cf": X, "cf_class": [1, 1, 1], "orig_class": [0, 0, 0], "class_aes": {0: identity, 1: zeros}}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=name):
        metrics.im1(**arguments)


def test_im1_rejects_autoencoder_with_wrong_output():
    with pytest.raises(ValueError, match=r"class_aes\[1\]"):
        metrics.im1(X, [1, 1, 1], [0, 0, 0], {0: identity, 1: lambda x: x[:, :1]})


# ------------------------------------------------------------------------------ IM2 (eq. 14)
def test_im2_hand_values():
    # AE_i = identity, AE = zeros: ||x||^2 / ||x||_1.
    values = metrics.im2(X, [1, 1, 1], {1: identity}, zeros, eps=0.0)
    np.testing.assert_allclose(values, [5.0 / 3.0, 9.0 / 3.0, 0.5 / 1.0])


def test_im2_dispatches_per_row():
    aes = {0: CountingAE(1.0), 1: CountingAE(3.0)}
    ae_all = CountingAE(2.0)
    values = metrics.im2(X, [0, 1, 0], aes, ae_all, eps=1e-8)
    # ||(s_i - 2) x||^2 / ||x||_1 with |s_i - 2| = 1 for both classes.
    np.testing.assert_allclose(values, [5.0 / 3.0, 9.0 / 3.0, 0.5 / 1.0], rtol=1e-7)
    assert aes[0].calls == [2] and aes[1].calls == [1] and ae_all.calls == [3]


def test_im2_eps_guards_zero_input():
    values = metrics.im2(np.zeros((1, 3)), [0], [constant(1.0)], zeros, eps=1e-8)
    np.testing.assert_allclose(values, [3.0 / 1e-8])


def test_im2_unknown_class_names_argument():
    with pytest.raises(ValueError, match="cf_class"):
        metrics.im2(X, [0, 2, 0], [identity, identity], zeros)


# ------------------------------------------------------------------------------ EN (eq. 3)
def test_elastic_net_per_row():
    delta = np.array([[1.0, -2.0, 0.0], [0.0, 0.0, 0.0], [0.5, 0.5, -0.5]])
    np.testing.assert_allclose(metrics.elastic_net(delta, beta=0.1), [0.1 * 3 + 5, 0.0, 0.1 * 1.5 + 0.75])
    images = delta.reshape(3, 3, 1, 1)
    np.testing.assert_allclose(metrics.elastic_net(images, 0.0), [5.0, 0.0, 0.75])
    with pytest.raises(ValueError, match="beta"):
        metrics.elastic_net(delta, beta=-1.0)
    with pytest.raises(ValueError, match="delta"):
        metrics.elastic_net(np.array([[np.nan]]), beta=0.1)


# ------------------------------------------------------------------------------ mean_ci
def test_mean_ci_matches_student_t_by_hand():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    mean, low, high = metrics.mean_ci(values, confidence=0.9)
    s = np.sqrt(((values - 3.5) ** 2).sum() / 3)  # sample std, ddof=1
    half = stats.t.ppf(0.95, 3) * s / 2.0
    assert mean == pytest.approx(3.5)
    assert low == pytest.approx(3.5 - half) and high == pytest.approx(3.5 + half)
    # scipy's own interval agrees.
    ref_low, ref_high = stats.t.interval(0.9, 3, loc=3.5, scale=stats.sem(values))
    assert (low, high) == pytest.approx((ref_low, ref_high))


def test_mean_ci_single_value_and_errors():
    mean, low, high = metrics.mean_ci([2.5])
    assert mean == 2.5 and np.isnan(low) and np.isnan(high)
    with pytest.raises(ValueError, match="values"):
        metrics.mean_ci([1.0, np.nan])
    with pytest.raises(ValueError, match="values"):
        metrics.mean_ci([])
    with pytest.raises(ValueError, match="confidence"):
        metrics.mean_ci([1.0, 2.0], confidence=1.5)
