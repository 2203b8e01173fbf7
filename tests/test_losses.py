"""The loss terms (paper eq. 2-4, 9-10) on small hand-computed tensors."""

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.losses import autoencoder_loss, elastic_net, l1_norm, l2_squared, prediction_loss, prototype_loss

# Three rows, three classes. Original classes: 0, 0, 2.
PROBA = tf.constant(
    [
        [0.7, 0.2, 0.1],  # original class wins by 0.5 over class 1
        [0.3, 0.6, 0.1],  # class 1 beats the original class 0 by 0.3
        [0.25, 0.35, 0.4],
    ]
)  # original class 2 wins by 0.05 over class 1
ONEHOT = tf.constant([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def test_prediction_loss_kappa_zero():
    # max(0, p_t0 - max_{i != t0} p_i): 0.7-0.2, max(0, 0.3-0.6), 0.4-0.35
    np.testing.assert_allclose(prediction_loss(PROBA, ONEHOT, 0.0).numpy(), [0.5, 0.0, 0.05], atol=1e-7)


def test_prediction_loss_kappa_positive():
    # κ = 0.2 is added to the margin; row 1 stays at zero because class 1 wins by 0.3 >= κ.
    np.testing.assert_allclose(prediction_loss(PROBA, ONEHOT, 0.2).numpy(), [0.7, 0.0, 0.25], atol=1e-7)
    # κ = 0.4 > 0.3: another class wins, but not by κ, so the term is active again.
    np.testing.assert_allclose(prediction_loss(PROBA, ONEHOT, 0.4).numpy(), [0.9, 0.1, 0.45], atol=1e-7)


def test_prediction_loss_zero_once_other_class_wins_by_kappa():
    onehot = tf.constant([[1.0, 0.0]])
    for p0, kappa, expected in [
        (0.4, 0.1, 0.0),  # other wins by 0.2 >= 0.1
        (0.4, 0.25, 0.05),  # other wins by 0.2 < 0.25
        (0.45, 0.1, 0.0),  # other wins by exactly 0.1 (zero at the margin)
        (0.6, 0.0, 0.2),
    ]:
        loss = prediction_loss(tf.constant([[p0, 1.0 - p0]]), onehot, kappa).numpy()
        np.testing.assert_allclose(loss, [expected], atol=1e-6)


def test_prediction_loss_max_excludes_original_class():
    # The other classes all have probability 0: the max over i != t0 is 0, not p_t0 (alibi's mask).
    loss = prediction_loss(tf.constant([[1.0, 0.0, 0.0]]), tf.constant([[1.0, 0.0, 0.0]]), 0.0)
    np.testing.assert_allclose(loss.numpy(), [1.0])


DELTA = tf.constant([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0], [-3.0, 4.0, 0.0]])


def test_l1_l2_per_row():
    np.testing.assert_allclose(l1_norm(DELTA).numpy(), [3.5, 0.0, 7.0])
    np.testing.assert_allclose(l2_squared(DELTA).numpy(), [5.25, 0.0, 25.0])


def test_elastic_net_per_row():
    # β·L1 + L2 with β = 0.1
    np.testing.assert_allclose(elastic_net(DELTA, 0.1).numpy(), [5.6, 0.0, 25.7], rtol=1e-6)
    np.testing.assert_allclose(elastic_net(DELTA, 0.0).numpy(), l2_squared(DELTA).numpy())


def test_norms_sum_over_all_non_batch_axes():
    # Image-shaped rows (2, 2, 2): every axis but the first is summed.
    delta = tf.reshape(tf.range(-8.0, 8.0), (2, 2, 2, 2))
    flat = np.arange(-8.0, 8.0).reshape(2, 8)
    np.testing.assert_allclose(l1_norm(delta).numpy(), np.abs(flat).sum(1))  # [36, 28]
    np.testing.assert_allclose(l2_squared(delta).numpy(), (flat**2).sum(1))  # [204, 140]
    assert l1_norm(delta).numpy().tolist() == [36.0, 28.0]


def test_autoencoder_loss():
    x = tf.constant([[1.0, 2.0], [0.0, 0.0]])
    x_rec = tf.constant([[1.5, 1.0], [0.0, 3.0]])
    # γ·‖x − AE(x)‖²: 2·(0.25 + 1) = 2.5 and 2·9 = 18
    np.testing.assert_allclose(autoencoder_loss(x, x_rec, 2.0).numpy(), [2.5, 18.0])


def test_prototype_loss():
    emb = tf.constant([[1.0, 1.0, 0.0], [2.0, 0.0, -1.0]])
    proto = tf.constant([[0.0, 3.0, 0.0], [2.0, 0.0, -1.0]])
    # θ·‖ENC(x) − proto‖²: 0.5·(1 + 4) = 2.5 and 0 when the row sits on its prototype
    np.testing.assert_allclose(prototype_loss(emb, proto, 0.5).numpy(), [2.5, 0.0])


@pytest.mark.parametrize("fn, expected", [(l1_norm, 7.0), (l2_squared, 25.0)])
def test_norms_of_batch_of_one(fn, expected):
    out = fn(tf.constant([[3.0, -4.0]])).numpy()
    assert out.shape == (1,) and out[0] == expected
