"""FISTA pieces (Algorithm 1; alibi 0.9.6's graph) on hand-computed values.

All values are dyadic fractions (exact in float32) so equality can be exact.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib import fista


def _np(t):
    return np.asarray(t)


def test_shrink_threshold_cases():
    x0 = tf.constant([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
    y = tf.constant([[0.75, -0.75, 0.125, -0.125, 0.25, -0.25, 2.0]])
    beta = 0.25
    lower, upper = tf.constant(-10.0), tf.constant(10.0)
    out = _np(fista.shrink_threshold(y, x0, beta, lower, upper))
    # δ = y − x0:   0.75 > β -> y − β;   −0.75 < −β -> y + β;   |0.125| <= β -> x0;
    #               exactly ±β -> x0 (alibi's |δ| <= β branch);  δ = 1 > β with x0 = 1 -> 2 − 0.25
    np.testing.assert_array_equal(out, [[0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 1.75]])


def test_shrink_threshold_capped_by_feature_range():
    x0 = tf.constant([[0.0, 0.0, 0.0, 0.0]])
    y = tf.constant([[3.0, -3.0, 1.5, -1.5]])
    beta = 0.5
    lower = tf.constant([[-1.0, -2.0, -1.0, -1.0]])
    upper = tf.constant([[2.0, 1.0, 2.0, 2.0]])
    out = _np(fista.shrink_threshold(y, x0, beta, lower, upper))
    # y − β = 2.5 exceeds upper 2 -> 2; y + β = −2.5 below lower −2 -> −2;
    # 1.5 − 0.5 = 1 within range -> 1; −1.5 + 0.5 = −1 equals lower -> −1
    np.testing.assert_array_equal(out, [[2.0, -2.0, 1.0, -1.0]])


def test_shrink_threshold_broadcasts_per_row():
    x0 = tf.constant([[0.0, 1.0], [2.0, -1.0]])
    y = tf.constant([[1.0, 1.0], [1.0, 0.0]])
    out = _np(fista.shrink_threshold(y, x0, 0.5, tf.constant(-5.0), tf.constant(5.0)))
    # row 0: δ = (1, 0) -> (0.5, x0=1); row 1: δ = (−1, 1) -> (1.5, −0.5)
    np.testing.assert_array_equal(out, [[0.5, 1.0], [1.5, -0.5]])


def test_project():
    x = tf.constant([[-3.0, 0.5, 7.0], [1.0, -1.0, 2.0]])
    lower = tf.constant([[-1.0, 0.0, 0.0]])
    upper = tf.constant([[1.0, 1.0, 5.0]])
    np.testing.assert_array_equal(_np(fista.project(x, lower, upper)), [[-1.0, 0.5, 5.0], [1.0, 0.0, 2.0]])


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, 0.01),  # lr_0
        (50, 0.01 * math.sqrt(0.5)),  # k = K/2
        (100, 0.0),  # k = K
        (150, 0.0),  # beyond K: clamped, not NaN
        (25, 0.01 * math.sqrt(0.75)),
    ],
)
def test_learning_rate_schedule(step, expected):
    lr = float(fista.learning_rate(step, 0.01, 100))
    assert lr == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert not math.isnan(lr)


def test_learning_rate_accepts_tensor_step():
    lr = fista.learning_rate(tf.constant(75), 0.2, 100)
    assert float(lr) == pytest.approx(0.2 * 0.5, rel=1e-6)


@pytest.mark.parametrize("step, expected", [(0, 0.0), (1, 0.25), (3, 0.5), (9, 0.75), (97, 0.97)])
def test_momentum(step, expected):
    assert float(fista.momentum(step)) == pytest.approx(expected, rel=1e-6)


def test_fista_update_by_hand():
    x0 = tf.constant([[0.0, 0.0, 0.0, 1.0]])
    x_prev = tf.constant([[0.5, -0.25, 0.0, 1.0]])
    y_stepped = tf.constant([[1.25, -1.0, 0.125, 3.0]])
    lower = tf.constant([[-2.0, -2.0, -2.0, -2.0]])
    upper = tf.constant([[2.0, 2.0, 2.0, 2.5]])
    beta, step = 0.25, 1  # momentum 1/(1+3) = 0.25
    x_next, y_next = fista.fista_update(y_stepped, x_prev, x0, beta, step, lower, upper)
    # shrinkage: 1.25 − 0.25 = 1;  −1 + 0.25 = −0.75;  |0.125| <= β -> 0;  δ = 2 > β -> min(2.75, 2.5) = 2.5
    np.testing.assert_array_equal(_np(x_next), [[1.0, -0.75, 0.0, 2.5]])
    # momentum: x + 0.25·(x − x_prev) = 1.125, −0.875, 0, 2.875 -> projected 2.875 > 2.5 -> 2.5
    np.testing.assert_array_equal(_np(y_next), [[1.125, -0.875, 0.0, 2.5]])


def test_fista_update_momentum_grows_with_step():
    x0 = tf.zeros((1, 1))
    x_prev = tf.zeros((1, 1))
    y_stepped = tf.constant([[1.0]])
    # x_next = 1 − 0.5 = 0.5; y_next = 0.5 + k/(k+3)·0.5
    for step, expected in [(0, 0.5), (3, 0.75), (6, 0.5 + 0.5 * 6 / 9)]:
        _, y_next = fista.fista_update(y_stepped, x_prev, x0, 0.5, step, tf.constant(-9.0), tf.constant(9.0))
        assert float(y_next[0, 0]) == pytest.approx(expected, rel=1e-6)
