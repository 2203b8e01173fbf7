"""The 2-D problem of the Method chapters: three Gaussian blobs, a small classifier, a 1-D autoencoder.

Small enough to draw every loss landscape and every iterate, rich enough to show what each term
of the objective (section 3) does. The four Method chapters share it through :func:`problem`,
so they explain the same instance with the same trained models (the weights are cached by
:func:`cgp_lib.repro.models.train_cached`), and draw with the same :func:`draw_regions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import tensorflow as tf

from ..validation import check_positive_integer
from . import models

__all__ = [
    "CENTERS",
    "LOW",
    "HIGH",
    "CLASS_COLORS",
    "REGION_COLORS",
    "make_blobs",
    "build_classifier",
    "build_autoencoder",
    "ToyProblem",
    "problem",
    "draw_boundaries",
    "draw_regions",
]

#: Centres of the three classes (blue, orange, green).
CENTERS = np.array([[-2.0, -1.0], [2.0, -1.0], [0.0, 2.0]], dtype=np.float32)
#: Both features lie in [LOW, HIGH], the plane drawn and searched.
LOW, HIGH = -5.0, 5.0
#: Colours of the three classes' points.
CLASS_COLORS = ["#3182bd", "#e6550d", "#31a354"]
#: Colours of the three classes' regions.
REGION_COLORS = ["#deebf7", "#fee6ce", "#e5f5e0"]


def make_blobs(per_class: int = 100, std: float = 1.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian blobs around :data:`CENTERS`, ``per_class`` points each.

    Returns
    -------
    X : numpy.ndarray
        ``(3 * per_class, 2)`` float32 points, class by class.
    y : numpy.ndarray
        Their classes 0, 1, 2.
    """
    check_positive_integer(per_class, "per_class")
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + std * rng.normal(size=(int(per_class), 2)) for c in CENTERS])
    return X.astype(np.float32), np.repeat(np.arange(len(CENTERS)), int(per_class))


def _init(seed: int, offset: int):
    return tf.keras.initializers.GlorotUniform(seed=seed + offset)


def build_classifier(seed: int = 0) -> tf.keras.Model:
    """The toy classifier: 2 → 16 tanh → 3 softmax, compiled with Adam(0.02) and cross-entropy."""
    model = tf.keras.Sequential(
        [
            tf.keras.Input((2,)),
            tf.keras.layers.Dense(16, activation="tanh", kernel_initializer=_init(seed, 1)),
            tf.keras.layers.Dense(3, activation="softmax", kernel_initializer=_init(seed, 2)),
        ],
        name="toy_classifier",
    )
    model.compile(optimizer=tf.keras.optimizers.Adam(0.02), loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def build_autoencoder(seed: int = 0) -> tuple[tf.keras.Model, tf.keras.Model, tf.keras.Model]:
    """The toy autoencoder: 2 → 16 tanh → 1 (the encoder), 1 → 16 tanh → 2 (the decoder); Adam(0.01), MSE.

    Its single latent number can only represent a curve in the plane, which is what the
    chapters draw.

    Returns
    -------
    autoencoder, encoder, decoder : tf.keras.Model
    """
    encoder = tf.keras.Sequential(
        [
            tf.keras.Input((2,)),
            tf.keras.layers.Dense(16, activation="tanh", kernel_initializer=_init(seed, 1)),
            tf.keras.layers.Dense(1, kernel_initializer=_init(seed, 2)),
        ],
        name="toy_encoder",
    )
    decoder = tf.keras.Sequential(
        [
            tf.keras.Input((1,)),
            tf.keras.layers.Dense(16, activation="tanh", kernel_initializer=_init(seed, 3)),
            tf.keras.layers.Dense(2, kernel_initializer=_init(seed, 4)),
        ],
        name="toy_decoder",
    )
    autoencoder = tf.keras.Sequential([tf.keras.Input((2,)), encoder, decoder], name="toy_autoencoder")
    autoencoder.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    return autoencoder, encoder, decoder


@dataclass
class ToyProblem:
    """The data, the trained models and the decision regions on a grid.

    X, y
        The blobs and their true classes; ``labels`` are the classifier's predictions on ``X``
        (the classes the method works with).
    classifier
        The trained classifier.
    ae, enc, dec
        The trained autoencoder, encoder and decoder, or ``None`` when not asked for.
    axis, regions
        The grid axis (``grid`` points in [LOW, HIGH]) and the predicted class at every grid
        point, ``regions[i, j]`` for the point ``(axis[j], axis[i])``.
    """

    X: np.ndarray
    y: np.ndarray
    labels: np.ndarray
    classifier: tf.keras.Model
    axis: np.ndarray
    regions: np.ndarray
    ae: Optional[tf.keras.Model] = None
    enc: Optional[tf.keras.Model] = None
    dec: Optional[tf.keras.Model] = None

    @property
    def onehot(self) -> np.ndarray:
        """The true classes one-hot encoded (the classifier's training targets)."""
        return _one_hot(self.y)

    @property
    def plane(self) -> np.ndarray:
        """Every grid point, ``(grid², 2)``, row by row (the order of ``regions.ravel()``)."""
        return _grid_points(self.axis)


def _one_hot(y: np.ndarray) -> np.ndarray:
    return np.eye(len(CENTERS), dtype=np.float32)[y]


def _grid_points(axis: np.ndarray) -> np.ndarray:
    return np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)


def problem(classifier_epochs: int, autoencoder_epochs: Optional[int] = None, grid: int = 121) -> ToyProblem:
    """The toy problem with its classifier (and autoencoder) trained, or loaded from the cache.

    Parameters
    ----------
    classifier_epochs
        Training epochs of the classifier (batch size 32, seed 0).
    autoencoder_epochs
        Training epochs of the autoencoder on ``X`` (batch size 32, seed 0); ``None``: no
        autoencoder.
    grid
        Grid points per axis of the decision regions.
    """
    if int(grid) < 2:
        raise ValueError(f"grid: expected at least 2 points per axis, got {grid!r}")
    X, y = make_blobs()
    classifier = models.train_cached(
        build_classifier, X, _one_hot(y), epochs=classifier_epochs, batch_size=32, seed=0
    ).model
    labels = classifier.predict(X, verbose=0).argmax(axis=1)
    ae = enc = dec = None
    if autoencoder_epochs is not None:
        ae, enc, dec = models.train_cached(
            build_autoencoder, X, X, epochs=autoencoder_epochs, batch_size=32, seed=0
        ).parts
    axis = np.linspace(LOW, HIGH, int(grid), dtype=np.float32)
    regions = classifier(_grid_points(axis)).numpy().argmax(axis=1).reshape(int(grid), int(grid))
    return ToyProblem(X, y, labels, classifier, axis, regions, ae, enc, dec)


def draw_boundaries(ax: Any, axis: np.ndarray, regions: np.ndarray) -> None:
    """Draw the boundaries between the classes of ``regions``, the predicted classes on the grid ``axis`` × ``axis``,
    and name the axes (the two features, :math:`x_1` and :math:`x_2`)."""
    for c in range(len(CENTERS)):
        ax.contour(axis, axis, (regions == c).astype(float), levels=[0.5], colors="0.3", linewidths=0.8)
    ax.set(xlabel="feature $x_1$", ylabel="feature $x_2$")


def draw_regions(ax: Any, toy: ToyProblem, points: bool = True) -> None:
    """Draw the decision regions of ``toy`` (filled, with their boundaries) and its points on ``ax``.

    Parameters
    ----------
    ax
        A matplotlib axis.
    toy
        The problem.
    points
        Also scatter ``X``, coloured by the classifier's labels.
    """
    ax.contourf(toy.axis, toy.axis, toy.regions, levels=[-0.5, 0.5, 1.5, 2.5], colors=REGION_COLORS)
    draw_boundaries(ax, toy.axis, toy.regions)
    if points:
        ax.scatter(*toy.X.T, c=np.array(CLASS_COLORS)[toy.labels], s=6, alpha=0.4)
    ax.set(xlim=(LOW, HIGH), ylim=(LOW, HIGH), aspect="equal")
