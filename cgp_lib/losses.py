"""The terms of the objective (paper section 3, eq. 1-10), per instance.

Every function maps a batch to one value per row, so that a batch of instances
can be optimised together while each row keeps its own objective:

    L(x0 + δ) = c·L_pred + β·L1 + L2 + γ·L_AE + θ·L_proto        (eq. 1, 5, 6)

FISTA (:mod:`cgp_lib.fista`) handles β·L1 with shrinkage-thresholding; the other
terms are smooth and are differentiated.
"""

from __future__ import annotations

import tensorflow as tf

# alibi subtracts this from the original class when it takes the max over the
# other classes, so the original class can never be that max.
_MASK = 10_000.0


def _row_sum(t: tf.Tensor) -> tf.Tensor:
    """Sum over every axis but the first (the batch)."""
    return tf.reduce_sum(tf.reshape(t, (tf.shape(t)[0], -1)), axis=1)


def prediction_loss(proba: tf.Tensor, orig_onehot: tf.Tensor, kappa: float) -> tf.Tensor:
    """L_pred (eq. 2): max(0, p_t0 − max_{i≠t0} p_i + κ), per row.

    ``proba`` (N, classes) are class probabilities at the perturbed instances,
    ``orig_onehot`` the one-hot original classes t0. The term is zero once another
    class beats the original class by at least the margin κ.
    """
    p_orig = tf.reduce_sum(orig_onehot * proba, axis=1)
    p_other = tf.reduce_max((1.0 - orig_onehot) * proba - orig_onehot * _MASK, axis=1)
    return tf.maximum(0.0, p_orig - p_other + kappa)


def l1_norm(delta: tf.Tensor) -> tf.Tensor:
    """‖δ‖₁ per row."""
    return _row_sum(tf.abs(delta))


def l2_squared(delta: tf.Tensor) -> tf.Tensor:
    """‖δ‖₂² per row."""
    return _row_sum(tf.square(delta))


def elastic_net(delta: tf.Tensor, beta: float) -> tf.Tensor:
    """EN(δ) = β·‖δ‖₁ + ‖δ‖₂² per row (eq. 3); FISTA keeps the best iterate by this value."""
    return beta * l1_norm(delta) + l2_squared(delta)


def autoencoder_loss(x: tf.Tensor, x_reconstructed: tf.Tensor, gamma: float) -> tf.Tensor:
    """γ·L_AE = γ·‖x0 + δ − AE(x0 + δ)‖₂² per row (eq. 4)."""
    return gamma * l2_squared(x_reconstructed - x)


def prototype_loss(embedding: tf.Tensor, prototype: tf.Tensor, theta: float) -> tf.Tensor:
    """θ·L_proto = θ·‖ENC(x0 + δ) − proto_j‖₂² per row (eq. 9).

    With k-d tree prototypes the embedding is the instance itself (eq. 10).
    """
    return theta * l2_squared(embedding - prototype)
