"""Which pixels a classifier looks at, and masking them (the report's section 5.2).

The extension report masks the most salient pixels of a digit so that the classifier
misreads it, then asks the prototype-guided search to bring it back. This module gives the
two pieces: :func:`saliency`, attributions of the class score to the input, and
:func:`mask_top_k` / :func:`mask_random`, the masked images with the same number of pixels
replaced by a fill value (the background), for the method and for its baseline.

The class score is the pre-softmax logit when the model's last layer is a Dense layer with a
softmax activation (the logit is then recomputed from that layer's input), else the
log-probability of the class (:func:`score_kind` says which). The vanilla gradient is computed
here, batched; integrated gradients and SmoothGrad come from the ``saliency`` package (PAIR,
framework-agnostic): integrated gradients one image at a time (its path is batched),
SmoothGrad for all images of the same value range at once.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .validation import check_positive_integer

__all__ = ["METHODS", "score_kind", "class_scores", "saliency", "mask_top_k", "mask_random", "pixel_count"]

#: Attribution methods of :func:`saliency`.
METHODS = ("gradient", "integrated_gradients", "smoothgrad")


def _logit_head(model):
    """(features model, last Dense layer) when ``model`` ends in a softmax Dense layer, else None."""
    if not isinstance(model, tf.keras.Model) or not model.layers:
        return None
    last = model.layers[-1]
    if not isinstance(last, tf.keras.layers.Dense) or last.activation is not tf.keras.activations.softmax:
        return None
    try:
        features = tf.keras.Model(model.inputs, last.input)
    except (AttributeError, ValueError, TypeError):
        return None
    return features, last


def score_kind(model) -> str:
    """``"logit"`` if :func:`class_scores` uses the pre-softmax logits, else ``"log-probability"``."""
    return "logit" if _logit_head(model) is not None else "log-probability"


def class_scores(model):
    """A function x -> (N, classes) class scores of ``model``: logits or log-probabilities
    (see :func:`score_kind`), differentiable with TensorFlow."""
    head = _logit_head(model)
    if head is not None:
        features, last = head
        return lambda x: tf.matmul(features(x, training=False), last.kernel) + last.bias
    return lambda x: tf.math.log(tf.maximum(tf.cast(model(x, training=False), tf.float32), 1e-30))


def _batch(X, name: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"{name}: expected a non-empty batch (N, ...), got shape {X.shape}")
    return X


def _targets(model, X: np.ndarray, target) -> np.ndarray:
    if target is None:
        return np.asarray(model(X, training=False)).argmax(axis=1)
    target = np.asarray(target)
    if target.ndim == 0:
        target = np.full(len(X), int(target))
    if target.shape != (len(X),) or not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"target: expected None, a class or {len(X)} integer classes, got {target!r}")
    return target


def _gradients(score_fn, X: np.ndarray, target: np.ndarray, batch_size: int) -> np.ndarray:
    out = np.empty_like(X)
    for start in range(0, len(X), batch_size):
        x = tf.constant(X[start : start + batch_size])
        t = tf.constant(target[start : start + batch_size], tf.int32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            scores = score_fn(x)
            picked = tf.gather(scores, t, axis=1, batch_dims=1)
        out[start : start + batch_size] = tape.gradient(picked, x).numpy()
    return out


def saliency(
    model,
    X,
    method: str = "gradient",
    target=None,
    batch_size: int = 256,
    x_steps: int = 25,
    baseline: float | None = None,
    nsamples: int = 25,
    stdev_spread: float = 0.15,
    seed: int = 0,
) -> np.ndarray:
    """Attributions of each row's class score to its input, of the shape of ``X``.

    Parameters
    ----------
    model : keras.Model
        The classifier (probabilities out); see :func:`class_scores` for the score used.
    X : array-like
        A batch of instances.
    method : str
        ``"gradient"`` (the vanilla gradient of the score, batched), ``"integrated_gradients"``
        (from ``baseline`` to x in ``x_steps`` steps) or ``"smoothgrad"`` (the mean squared
        gradient over ``nsamples`` noisy copies, noise sd ``stdev_spread`` × the image's range),
        the last two through the ``saliency`` package.
    target : None, int or array of int
        The class whose score is attributed, per row; None: the model's predicted class.
    baseline : float or None
        Integrated gradients' starting image, as one value for every pixel; None: the minimum
        of X (the background of MNIST as scaled here).
    seed : int
        Seed of SmoothGrad's noise (the global numpy state is restored afterwards).

    Returns
    -------
    numpy.ndarray
        float32, of the shape of ``X``.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    X = _batch(X, "X")
    for name, value in (("batch_size", batch_size), ("x_steps", x_steps), ("nsamples", nsamples)):
        check_positive_integer(value, name)
    target = _targets(model, X, target)
    score_fn = class_scores(model)
    if method == "gradient":
        return _gradients(score_fn, X, target, batch_size)

    try:
        import saliency.core as saliency_core
    except ImportError as err:
        raise ImportError(
            f"method={method!r} needs the saliency package: pip install 'cgp_lib[attribution]' "
            "(method='gradient' does not)"
        ) from err

    def call_model(x_batch, call_model_args=None, expected_keys=None):
        rows = np.full(len(x_batch), call_model_args["target"])
        grads = _gradients(score_fn, np.asarray(x_batch, np.float32), rows, batch_size)
        return {saliency_core.INPUT_OUTPUT_GRADIENTS: grads}

    out = np.empty_like(X)
    if method == "integrated_gradients":
        start = float(X.min()) if baseline is None else float(baseline)
        ig = saliency_core.IntegratedGradients()
        for i, x in enumerate(X):
            out[i] = ig.GetMask(
                x,
                call_model,
                dict(target=int(target[i])),
                x_baseline=np.full_like(x, start),
                x_steps=x_steps,
                batch_size=x_steps,
            )
        return out
    # SmoothGrad's noise sd is stdev_spread x (max - min) of the array it is given, so images
    # with the same range go to the package together, as one array (G, ...): its call_model sees
    # them as one "image" and computes their G gradients in one batch. The noise then comes in
    # a different order than image by image; a group of one image gets exactly the per-image
    # result. The package draws from numpy's global (legacy) generator: seeded here, restored.
    grad = saliency_core.GradientSaliency()

    def call_group(x_batch, call_model_args=None, expected_keys=None):
        rows = call_model_args["rows"]
        grads = _gradients(score_fn, np.asarray(x_batch[0], np.float32), target[rows], batch_size)
        return {saliency_core.INPUT_OUTPUT_GRADIENTS: grads[np.newaxis]}

    ranges = np.stack([X.reshape(len(X), -1).min(axis=1), X.reshape(len(X), -1).max(axis=1)], axis=1)
    _, first, group_of = np.unique(ranges, axis=0, return_index=True, return_inverse=True)
    group_of = group_of.reshape(-1)
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(seed)  # noqa: NPY002
        for g in np.argsort(first, kind="stable"):  # groups in the order of their first image
            rows = np.flatnonzero(group_of == g)
            out[rows] = grad.GetSmoothedMask(
                X[rows], call_group, dict(rows=rows), stdev_spread=stdev_spread, nsamples=nsamples
            )
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return out


def pixel_count(shape) -> int:
    """Pixels per instance of a batch of this shape: channels (the last axis of a 4-D batch,
    N × H × W × C) count as one pixel; otherwise every feature is one."""
    shape = tuple(shape)
    return int(np.prod(shape[1:-1])) if len(shape) == 4 else int(np.prod(shape[1:]))


def _pixel_scores(attributions: np.ndarray) -> np.ndarray:
    """(N, pixels) magnitude per pixel: |a| summed over channels for 4-D batches."""
    a = np.abs(attributions)
    if a.ndim == 4:
        a = a.sum(axis=-1)
    return a.reshape(len(a), -1)


def _check_k(k, shape) -> int:
    n_pixels = pixel_count(shape)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_pixels:
        raise ValueError(f"k: expected an integer in [1, {n_pixels}] (the pixels of an instance), got {k!r}")
    return int(k)


def _apply(X: np.ndarray, pixel_mask: np.ndarray, fill: float) -> tuple[np.ndarray, np.ndarray]:
    mask = pixel_mask.reshape((len(X),) + (X.shape[1:-1] if X.ndim == 4 else X.shape[1:]))
    if X.ndim == 4:
        mask = np.repeat(mask[..., None], X.shape[-1], axis=-1)
    masked = np.where(mask, np.float32(fill), X).astype(np.float32)
    return masked, mask


def mask_top_k(X, attributions, k: int, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Replace, per row, the ``k`` pixels of largest attribution magnitude by ``fill``.

    Ties are broken by the lower pixel index (row-major order), so the mask is deterministic.
    Returns ``(masked, mask)``: the masked batch (float32) and a boolean array of ``X``'s
    shape, True where a value was replaced (every channel of a masked pixel).
    """
    X = _batch(X, "X")
    attributions = np.asarray(attributions)
    if attributions.shape != X.shape:
        raise ValueError(f"attributions: expected the shape of X {X.shape}, got {attributions.shape}")
    k = _check_k(k, X.shape)
    scores = _pixel_scores(attributions)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    pixel_mask = np.zeros(scores.shape, bool)
    np.put_along_axis(pixel_mask, order, True, axis=1)
    return _apply(X, pixel_mask, fill)


def mask_random(X, k: int, fill: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The baseline of :func:`mask_top_k`: ``k`` pixels per row drawn uniformly without
    replacement (numpy generator seeded with ``seed``), replaced by ``fill``."""
    X = _batch(X, "X")
    k = _check_k(k, X.shape)
    rng = np.random.default_rng(seed)
    n_pixels = pixel_count(X.shape)
    pixel_mask = np.zeros((len(X), n_pixels), bool)
    for row in pixel_mask:
        row[rng.choice(n_pixels, size=k, replace=False)] = True
    return _apply(X, pixel_mask, fill)
