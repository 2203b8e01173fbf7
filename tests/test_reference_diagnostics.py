"""The conditioning diagnostics and the alibi-quirk helpers of the cross-check chapter."""

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.reference import conditioning, quirks


def linear_model(W: np.ndarray) -> tf.keras.Model:
    model = tf.keras.Sequential(
        [tf.keras.Input(shape=(W.shape[0],)), tf.keras.layers.Dense(W.shape[1], use_bias=False)]
    )
    model.layers[0].set_weights([W.astype(np.float32)])
    return model


def test_smooth_lipschitz_of_a_linear_autoencoder_is_two_plus_two_gamma_sigma_squared():
    W = np.random.default_rng(0).normal(size=(4, 4))
    X = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    # residual x - x W: its Jacobian is I - W^T, the same at every row
    sigma = np.linalg.svd(np.eye(4) - W.T, compute_uv=False)[0]
    got = conditioning.smooth_lipschitz(linear_model(W), X, gamma=10.0)
    np.testing.assert_allclose(got, 2 + 20 * sigma**2, rtol=1e-4)
    with pytest.raises(ValueError, match="X"):
        conditioning.smooth_lipschitz(linear_model(W), X[None], gamma=1.0)


def test_unstable_step_share_follows_the_square_root_decay():
    # eta_k L > 2 while k/K < 1 - (2 / eta0 L)^2
    np.testing.assert_allclose(conditioning.unstable_step_share([1.0, 2.0, 4.0]), [0.0, 0.0, 0.75])
    with pytest.raises(ValueError, match="eta_lipschitz"):
        conditioning.unstable_step_share(0.0)


def test_tied_pool_windows_counts_windows_whose_positive_maximum_is_tied():
    model = tf.keras.Sequential([tf.keras.Input(shape=(4, 4, 1)), tf.keras.layers.MaxPooling2D(2)])
    constant = np.ones((1, 4, 4, 1), np.float32)
    distinct = np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4, 1)
    shares = conditioning.tied_pool_windows(model, np.concatenate([constant, distinct]))
    assert shares.shape == (1, 2)
    np.testing.assert_allclose(shares[0], [1.0, 0.0])


def test_input_gradient_of_a_linear_model_is_the_projection_through_its_weights():
    W = np.random.default_rng(2).normal(size=(3, 2))
    X = np.zeros((5, 3), np.float32)
    g = conditioning.input_gradient(linear_model(W), X, seed=0)
    weights = tf.random.stateless_normal((5, 2), seed=(0, 0)).numpy()
    np.testing.assert_allclose(g, weights @ W.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(g, conditioning.input_gradient(linear_model(W), X, seed=0))


def test_source_location_finds_the_lines_of_the_installed_alibi():
    where = quirks.source_location("grads = np.mean(grads, axis=0)")
    assert where.startswith("cfproto.py:") and all(part.isdigit() for part in where.split(":")[1].split(","))
    with pytest.raises(ValueError, match="pattern"):
        quirks.source_location("no such line in alibi")
    with pytest.raises(ValueError, match="file"):
        quirks.source_location("x", file="other.py")


def test_alibi_probability_gradient_is_the_exact_one_times_p_over_p_minus_one():
    ratios, sums = quirks.proba_gradient_ratios(classes=(2, 10))
    assert ratios[2] == pytest.approx(2.0, abs=1e-3)
    assert ratios[10] == pytest.approx(10 / 9, abs=1e-3)
    assert max(sums.values()) < 1e-9


def test_run_probe_rejects_a_bad_trial_count():
    with pytest.raises(ValueError, match="trials"):
        quirks.run_probe(0)
