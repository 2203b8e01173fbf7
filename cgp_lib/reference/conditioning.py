"""Why two correct implementations can disagree: how well conditioned a counterfactual search is.

The cross-check chapter finds cases where `cgp_lib` and alibi return different counterfactuals
although `cgp_lib` agrees with itself only as poorly. These diagnostics measure the two causes
it identifies:

* an unstable FISTA step: the smooth part of the loss, ``‖δ‖₂² + γ·L_AE``, has a gradient whose
  Lipschitz constant L at x0 is ``2 + 2γ σ_max(I − J_AE)²`` (J_AE the autoencoder's Jacobian);
  a gradient step of size η is stable only where η·L ≤ 2 (section 3.6's FISTA with alibi's
  polynomial step decay);
* non-differentiable points: 2×2 max-pooling windows whose maximum is tied switch their
  gradient from one input to another under an arbitrarily small perturbation.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import tensorflow as tf

__all__ = ["smooth_lipschitz", "unstable_step_share", "flat_layers", "tied_pool_windows", "input_gradient"]


def smooth_lipschitz(ae: tf.keras.Model, X: np.ndarray, gamma: float) -> np.ndarray:
    """The Lipschitz constant of the gradient of ``‖δ‖₂² + γ‖x − AE(x)‖₂²`` at each row of ``X``.

    Parameters
    ----------
    ae
        The autoencoder of L_AE (eq. 4).
    X
        Instances, ``(n, features)``.
    gamma
        The weight γ of L_AE.

    Returns
    -------
    numpy.ndarray
        ``2 + 2γ σ_max(I − J_AE(x))²`` per row, ``(n,)``: the local curvature bound at x (exact
        for the quadratic term, first order for L_AE).
    """
    if np.ndim(X) != 2:
        raise ValueError(f"X: expected tabular rows (n, features), got shape {np.shape(X)}")
    x = tf.constant(np.asarray(X, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        residual = x - ae(x, training=False)
    jacobian = tape.batch_jacobian(residual, x).numpy()
    return 2 + 2 * float(gamma) * np.linalg.svd(jacobian, compute_uv=False)[:, 0] ** 2


def unstable_step_share(eta_lipschitz) -> np.ndarray:
    """The share of the steps of one c step whose step size η_k satisfies η_k·L > 2.

    With alibi's decay ``η_k = η0 (1 − k/K)^0.5`` (FISTA, section 3.6), η_k·L > 2 exactly while
    ``k/K < 1 − (2 / (η0 L))²``.

    Parameters
    ----------
    eta_lipschitz
        η0·L, a number or an array.
    """
    eta_lipschitz = np.asarray(eta_lipschitz, dtype=float)
    if np.any(eta_lipschitz <= 0):
        raise ValueError("eta_lipschitz: expected positive values of η0·L")
    return np.clip(1 - (2 / eta_lipschitz) ** 2, 0, 1)


def flat_layers(model: tf.keras.Model) -> Iterator[tf.keras.layers.Layer]:
    """The layers of ``model`` in order, the layers of nested models in their place."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model):
            yield from flat_layers(layer)
        else:
            yield layer


def tied_pool_windows(model: tf.keras.Model, X: np.ndarray) -> np.ndarray:
    """Per 2×2 max-pooling layer and image: the share of windows with a positive maximum that is tied.

    Parameters
    ----------
    model
        A sequential Keras model (nested models are walked through).
    X
        Images, ``(n, height, width, channels)``.

    Returns
    -------
    numpy.ndarray
        ``(pooling layers, n)``; a tied window's gradient goes to one of its equal inputs, and
        which one can change under a perturbation of 1e-6.
    """
    h, shares = tf.constant(np.asarray(X, dtype=np.float32)), []
    for layer in flat_layers(model):
        if isinstance(layer, tf.keras.layers.MaxPooling2D) and tuple(layer.pool_size) == (2, 2):
            a = h.numpy()
            n, height, width, channels = a.shape
            a = a[:, : height // 2 * 2, : width // 2 * 2]
            windows = a.reshape(n, height // 2, 2, width // 2, 2, channels).transpose(0, 1, 3, 5, 2, 4)
            windows = windows.reshape(n, height // 2, width // 2, channels, 4)
            top = windows.max(-1)
            tied = ((windows == top[..., None]).sum(-1) >= 2) & (top > 0)
            shares.append(tied.sum((1, 2, 3)) / np.maximum((top > 0).sum((1, 2, 3)), 1))
        h = layer(h, training=False)
    return np.array(shares)


def input_gradient(model: tf.keras.Model, X: np.ndarray, seed: int = 0) -> np.ndarray:
    """The gradient with respect to ``X`` of a fixed random projection of ``model``'s output.

    A projection with standard normal weights (stateless, ``seed``) stands for any loss built
    on the output, so that gradients at two nearby inputs can be compared.
    """
    x = tf.constant(np.asarray(X, dtype=np.float32))
    weights = tf.random.stateless_normal((len(X),) + tuple(model.output_shape[1:]), seed=(int(seed), 0))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reduce_sum(model(x, training=False) * weights)
    return tape.gradient(out, x).numpy()
