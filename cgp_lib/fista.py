"""FISTA with shrinkage-thresholding (paper section 3.1, Algorithm 1; Beck & Teboulle 2009).

The pieces follow alibi 0.9.6's ``CounterfactualProto`` so that results can be
compared with it step by step:

* a gradient step on the momentum point y_k, using the smooth terms only;
* shrinkage-thresholding of δ = y − x0 with threshold β (the proximal step of β·L1),
  with the shrunk value capped at the feature range;
* the momentum update y_{k+1} = x_{k+1} + k/(k+3)·(x_{k+1} − x_k), projected on the range;
* a learning rate decayed polynomially (power 0.5) from its initial value to 0.
"""

from __future__ import annotations

import tensorflow as tf


def learning_rate(step, learning_rate_init: float, max_iterations: int, power: float = 0.5):
    """Polynomial decay: lr_k = lr_0·(1 − min(k, K)/K)^power, reaching 0 at k = K = ``max_iterations``.

    ``step`` is the number of gradient steps already taken in the current c step (0 for the first).
    """
    step = tf.minimum(tf.cast(step, tf.float32), float(max_iterations))
    return learning_rate_init * tf.pow(1.0 - step / float(max_iterations), power)


def momentum(step):
    """FISTA's momentum weight k/(k+3), where k counts the gradient steps taken (k ≥ 1 after the first)."""
    step = tf.cast(step, tf.float32)
    return step / (step + 3.0)


def shrink_threshold(y, x0, beta: float, lower, upper):
    """Element-wise shrinkage-thresholding S_β(y − x0) added back to x0 (Algorithm 1, line 5).

    Where y − x0 > β the value becomes min(y − β, upper); where y − x0 < −β it becomes
    max(y + β, lower); elsewhere it returns to x0. ``lower`` and ``upper`` broadcast against y.
    """
    delta = y - x0
    shrunk_down = tf.minimum(y - beta, upper)
    shrunk_up = tf.maximum(y + beta, lower)
    return tf.where(delta > beta, shrunk_down, tf.where(delta < -beta, shrunk_up, x0))


def project(x, lower, upper):
    """Projection on the box [lower, upper] (the feature range)."""
    return tf.maximum(tf.minimum(x, upper), lower)


def fista_update(y_stepped, x_previous, x0, beta: float, step, lower, upper):
    """One shrinkage + momentum update after the gradient step (Algorithm 1, lines 5-6).

    ``y_stepped`` is y_k − lr_k·∇ (the gradient step already applied) and ``step`` the
    number of gradient steps taken so far, including this one. Returns (x_{k+1}, y_{k+1}).
    """
    x_next = shrink_threshold(y_stepped, x0, beta, lower, upper)
    y_next = project(x_next + momentum(step) * (x_next - x_previous), lower, upper)
    return x_next, y_next
