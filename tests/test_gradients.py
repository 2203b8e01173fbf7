"""Numerical gradients of L_pred (eq. 11-12) and the batched black-box predictor."""

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.gradients import BatchedPredictor, loss_gradient_wrt_proba, numerical_gradient
from cgp_lib.losses import prediction_loss

# Points between the blobs where the trained classifier is unsure (checked in _active_points).
POINTS = np.array([[1.2, 0.3, 0.1, -0.2], [0.4, 1.3, 0.2, 0.1], [1.3, 1.3, 0.0, 0.0]])


def _float64_copy(model):
    """The blob classifier rebuilt with float64 weights and computations."""
    m64 = tf.keras.Sequential(
        [
            tf.keras.Input((4,), dtype="float64"),
            tf.keras.layers.Dense(16, activation="tanh", dtype="float64"),
            tf.keras.layers.Dense(3, activation="softmax", dtype="float64"),
        ]
    )
    m64.set_weights([w.astype(np.float64) for w in model.get_weights()])
    return m64


def _active_points(model, x):
    """One-hot predicted classes at x, after checking L_pred is active there and away from ties."""
    proba = np.asarray(model(x), dtype=np.float64)
    order = np.sort(proba, axis=1)[:, ::-1]
    assert np.all(order[:, 0] - order[:, 1] > 0.05), "top class must win clearly (loss active, no tie)"
    assert np.all(order[:, 1] - order[:, 2] > 0.01), "the max over other classes must not be a tie"
    return np.eye(proba.shape[1])[proba.argmax(axis=1)]


def _autodiff_gradient(model, x, onehot, kappa):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(prediction_loss(model(xt), tf.constant(onehot, dtype=xt.dtype), kappa))
    return tape.gradient(loss, xt).numpy()


def _numerical(predict, x, onehot, kappa, eps, perturbation="coordinate"):
    _, proba, jac = BatchedPredictor(predict, eps[1])(x[:0], x)
    return numerical_gradient(proba, jac, onehot, kappa, eps[0], perturbation)


def _relative_error(a, b):
    return np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)


def test_numerical_matches_autodiff_float64(blobs):
    # In float64 central differences are accurate to O(eps²): eps = 1e-5 gives ~1e-9.
    m64 = _float64_copy(blobs.model)
    x = POINTS.astype(np.float64)
    onehot = _active_points(m64, x)
    for kappa in (0.0, 0.1):
        auto = _autodiff_gradient(m64, x, onehot, kappa)
        num = _numerical(lambda z: m64(z).numpy(), x, onehot, kappa, (1e-3, 1e-5))
        assert np.all(np.linalg.norm(auto, axis=1) > 1e-2)
        assert np.all(_relative_error(num, auto) < 1e-6), _relative_error(num, auto)


def test_numerical_matches_autodiff_float32(blobs):
    # The explainer's path: a float32 model and float32 perturbed copies. Rounding of the
    # probabilities (~1e-7) is divided by 2·eps, so eps must not be too small; 1e-3 (alibi's
    # default) keeps the error ~1e-4. (With eps = 1e-5 the error is ~1e-2.)
    x = POINTS.astype(np.float32)
    onehot = _active_points(blobs.model, x)
    auto = _autodiff_gradient(blobs.model, x, onehot.astype(np.float32), 0.0)
    num = _numerical(blobs.black_box(), x, onehot, 0.0, (1e-3, 1e-3))
    assert np.all(_relative_error(num, auto) < 1e-3), _relative_error(num, auto)


def test_dl_dp_by_hand():
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    onehot = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    coord = loss_gradient_wrt_proba(proba, onehot, 0.0, 1e-3, "coordinate")
    # ∂(p_t0 − max_{i≠t0} p_i)/∂p: +1 at t0, −1 at the largest other class, 0 elsewhere.
    # Row 1 (t0 = 2) is inactive for κ = 0 (class 1 wins), so zero...
    np.testing.assert_allclose(coord, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]], atol=1e-9)
    # ...but active once κ > 0.2.
    coord = loss_gradient_wrt_proba(proba, onehot, 0.25, 1e-3, "coordinate")
    np.testing.assert_allclose(coord, [[1.0, -1.0, 0.0], [0.0, -1.0, 1.0]], atol=1e-9)
    simplex = loss_gradient_wrt_proba(proba, onehot, 0.25, 1e-3, "simplex")
    np.testing.assert_allclose(simplex, [[1.5, -1.5, 0.0], [0.0, -1.5, 1.5]], atol=1e-9)


def test_unknown_perturbation_raises():
    with pytest.raises(ValueError, match="proba_perturbation"):
        loss_gradient_wrt_proba(np.array([[0.6, 0.4]]), np.array([[1.0, 0.0]]), 0.0, 1e-3, "gaussian")


def test_simplex_is_coordinate_times_p_over_p_minus_1_three_classes(blobs):
    x = POINTS.astype(np.float32)
    onehot = _active_points(blobs.model, x)
    coord = _numerical(blobs.black_box(), x, onehot, 0.0, (1e-3, 1e-3), "coordinate")
    simplex = _numerical(blobs.black_box(), x, onehot, 0.0, (1e-3, 1e-3), "simplex")
    np.testing.assert_allclose(simplex, coord * 3 / 2, rtol=1e-9, atol=1e-12)


def test_simplex_is_twice_coordinate_for_binary_model():
    w = np.array([0.8, -0.5, 0.3])

    def predict(x):  # logistic regression, 2 classes
        p1 = 1.0 / (1.0 + np.exp(-(x @ w)))
        return np.stack([1.0 - p1, p1], axis=1)

    x = np.array([[0.5, 0.2, -0.1], [-1.0, 0.4, 0.3]])
    onehot = np.eye(2)[predict(x).argmax(1)]
    coord = _numerical(predict, x, onehot, 0.0, (1e-3, 1e-5), "coordinate")
    simplex = _numerical(predict, x, onehot, 0.0, (1e-3, 1e-5), "simplex")
    np.testing.assert_allclose(simplex, 2.0 * coord, rtol=1e-9)
    # and coordinate is the analytic gradient of p_t0 − p_other = ±(2σ − 1): ±2σ(1−σ)·w
    s = predict(x)[:, 1]
    sign = np.where(onehot[:, 1] == 1, 1.0, -1.0)
    np.testing.assert_allclose(coord, (sign * 2 * s * (1 - s))[:, None] * w, rtol=1e-8)


def test_inactive_rows_get_zero_gradient(blobs):
    x = blobs.X[[0, 61, 121]].astype(np.float32)  # classified 0, 1, 2
    proba = blobs.model(x).numpy()
    assert proba.argmax(1).tolist() == [0, 1, 2]
    # Claim every row is of class 0: rows 1 and 2 are then already counterfactuals (class 0 loses
    # by much more than κ = 0.1): zero gradient. Row 0 is active.
    onehot = np.tile([1.0, 0.0, 0.0], (3, 1))
    margin = proba[:, 0] - np.max(proba[:, 1:], axis=1)
    assert margin[0] > 0 and np.all(margin[1:] < -0.1)
    grad = _numerical(blobs.black_box(), x, onehot, 0.1, (1e-3, 1e-3))
    assert np.all(grad[1:] == 0.0)
    assert np.linalg.norm(grad[0]) > 0
    # With κ larger than the losing margin the rows become active again.
    kappa = float(-margin.min()) + 0.1
    grad = _numerical(blobs.black_box(), x, onehot, kappa, (1e-3, 1e-3))
    assert np.all(np.linalg.norm(grad, axis=1) > 0)


# ----------------------------------------------------------------------------- BatchedPredictor
class CountingPredict:
    """A deterministic row-wise numpy model that records the size of every call."""

    def __init__(self, n_features=4, n_classes=3, seed=0):
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(n_features, n_classes))
        self.sizes = []

    def __call__(self, X):
        self.sizes.append(len(X))
        z = np.asarray(X, np.float64).reshape(len(X), -1) @ self.W
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


def test_batched_predictor_jacobian_of_linear_function_is_exact():
    A = np.array([[1.0, -2.0, 0.5], [0.25, 0.0, 3.0]])  # predict(x) = x·Aᵀ: Jacobian A for every row
    predictor = BatchedPredictor(lambda X: X @ A.T, eps_x=1e-2)
    extra = np.array([[9.0, 9.0, 9.0]])
    points = np.array([[0.0, 1.0, 2.0], [-1.0, 0.5, 4.0]])
    proba_extra, proba_points, jac = predictor(extra, points)
    np.testing.assert_allclose(proba_extra, extra @ A.T)
    np.testing.assert_allclose(proba_points, points @ A.T)
    assert jac.shape == (2, 2, 3)
    np.testing.assert_allclose(jac, np.broadcast_to(A, (2, 2, 3)), rtol=1e-12, atol=1e-12)
    assert predictor.calls == 1


def test_batched_predictor_one_call_when_rows_fit():
    predict = CountingPredict()
    rng = np.random.default_rng(1)
    extra, points = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    predictor = BatchedPredictor(predict, eps_x=1e-3, max_rows=16384)
    predictor(extra, points)
    # one call with the 3 extra rows, the 5 points and their 2·4 perturbed copies each
    assert predictor.calls == 1
    assert predict.sizes == [3 + 5 * (2 * 4 + 1)]


def test_batched_predictor_without_points_predicts_extra_only():
    predict = CountingPredict()
    extra = np.ones((3, 4))
    out, proba_points, jac = BatchedPredictor(predict, 1e-3)(extra, extra[:0])
    assert predict.sizes == [3] and proba_points is None and jac is None
    np.testing.assert_array_equal(out, predict(extra))


def test_batched_predictor_chunks_with_identical_results():
    rng = np.random.default_rng(2)
    extra, points = rng.normal(size=(2, 4)), rng.normal(size=(7, 4))
    big = CountingPredict()
    ref = BatchedPredictor(big, eps_x=1e-3, max_rows=16384)(extra, points)
    small = CountingPredict()
    predictor = BatchedPredictor(small, eps_x=1e-3, max_rows=20)
    out = predictor(extra, points)
    # (20 − 2 extra rows) // 9 rows per point = 2 points per call -> 4 calls of at most 20 rows
    assert predictor.calls == 4
    assert small.sizes == [2 + 2 * 9, 2 * 9, 2 * 9, 1 * 9]
    assert max(small.sizes) <= 20
    for a, b in zip(out, ref):
        np.testing.assert_array_equal(a, b)


def test_batched_predictor_keeps_each_point_whole_and_extra_rows_first():
    # max_rows bounds the chunks, but a point's 2F+1 rows are never split and the extra rows
    # go with the first chunk (documented in BatchedPredictor)
    predict = CountingPredict()
    extra, points = np.zeros((10, 4)), np.ones((3, 4))
    BatchedPredictor(predict, eps_x=1e-3, max_rows=12)(extra, points)
    assert predict.sizes == [10 + 9, 9, 9]
    predict = CountingPredict()
    BatchedPredictor(predict, eps_x=1e-3, max_rows=10 + 27)(extra, points)
    assert predict.sizes == [10 + 27]
