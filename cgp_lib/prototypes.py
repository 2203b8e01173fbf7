"""Class prototypes that guide the search (paper section 3.3, Algorithms 1 and 2).

A strategy is fitted on a training sample labelled with the model's predictions
and then, for each instance to explain, picks the nearest prototype among the
allowed classes. Every strategy has the same small interface
(:class:`PrototypeStrategy`): ``fit``, ``embed`` (the space L_proto is measured in)
and ``select``; the search never looks inside a strategy, so new ones (for example
k-means centroids) plug in without touching it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .kdtree import KDTree

K_TYPES = ("mean", "point", "prototype")


@dataclass(frozen=True)
class PrototypeChoice:
    """The prototype picked for each row: its value, its class and its distance to the row."""

    prototype: np.ndarray  # (N, *embedding shape)
    proto_class: np.ndarray  # (N,) int
    distance: np.ndarray  # (N,) float


class PrototypeStrategy(ABC):
    """Interface of a prototype strategy."""

    n_classes: int

    @abstractmethod
    def fit(self, X: np.ndarray, labels: np.ndarray, n_classes: int) -> "PrototypeStrategy":
        """Build the class prototypes from ``X`` labelled with the model's predictions ``labels``."""

    @abstractmethod
    def embed(self, x: tf.Tensor) -> tf.Tensor:
        """Map instances to the space in which L_proto is measured (eq. 9 or eq. 10)."""

    @abstractmethod
    def select(self, X: np.ndarray, allowed: np.ndarray, k: int | None = None, k_type: str = "mean") -> PrototypeChoice:
        """Pick, for each row of ``X``, the nearest prototype among the classes where ``allowed`` (N, classes)
        is True."""

    def _check_fit_input(self, X: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
        labels = np.asarray(labels)
        if labels.shape != (len(X),):
            raise ValueError(f"labels: expected shape ({len(X)},), got {labels.shape}")
        counts = np.bincount(labels, minlength=n_classes)
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            raise ValueError(
                f"X: no training instance is predicted as class {empty.tolist()}, so that class has no "
                "prototype; pass a larger or more varied training sample to fit()"
            )
        self.n_classes = n_classes
        self.class_sizes = counts
        return labels

    def _check_k(self, k: int | None, allowed: np.ndarray) -> None:
        if k is None:
            return
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k: expected a positive integer or None, got {k!r}")
        used = np.flatnonzero(allowed.any(axis=0))
        small = [int(c) for c in used if self.class_sizes[c] < k]
        if small:
            sizes = {c: int(self.class_sizes[c]) for c in small}
            raise ValueError(f"k={k} is larger than the number of training instances of class(es) {sizes}")


def _nearest_allowed(distances: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Index of the smallest distance per row among allowed classes (ties: lowest class)."""
    return np.argmin(np.where(allowed, distances, np.inf), axis=1)


class EncoderPrototypes(PrototypeStrategy):
    """Prototypes in the latent space of an encoder (Algorithm 1; L_proto of eq. 9).

    The prototype of class i is the mean encoding of the K encodings of class i
    nearest to ENC(x0) (all of them when K is None). How "nearest prototype" is
    measured is set by ``k_type``:

    * ``'mean'`` (alibi's default): the mean distance to those K encodings;
    * ``'point'``: the distance to the K-th nearest encoding;
    * ``'prototype'``: the distance to the prototype itself, as in Algorithm 1.

    With K = None all three use the distance to the class mean encoding.
    """

    def __init__(self, enc_model, batch_size: int = 1024):
        self.enc_model = enc_model
        self.batch_size = batch_size

    def embed(self, x):
        return self.enc_model(x, training=False)

    def encode(self, X: np.ndarray) -> np.ndarray:
        out = [
            np.asarray(self.embed(tf.constant(X[i : i + self.batch_size]))) for i in range(0, len(X), self.batch_size)
        ]
        return np.concatenate(out, axis=0)

    def fit(self, X, labels, n_classes):
        labels = self._check_fit_input(X, labels, n_classes)
        encodings = self.encode(X)
        self.embedding_shape = encodings.shape[1:]
        flat = encodings.reshape(len(X), -1).astype(np.float64)
        self.class_encodings = [flat[labels == c] for c in range(n_classes)]
        self.class_means = np.stack([e.mean(axis=0) for e in self.class_encodings])
        return self

    def select(self, X, allowed, k=None, k_type="mean"):
        if k_type not in K_TYPES:
            raise ValueError(f"k_type: expected one of {K_TYPES}, got {k_type!r}")
        self._check_k(k, allowed)
        z = self.encode(X).reshape(len(X), -1).astype(np.float64)
        n, n_classes = len(X), self.n_classes
        distances = np.full((n, n_classes), np.inf)
        protos = np.zeros((n, n_classes, z.shape[1]))
        for c in np.flatnonzero(allowed.any(axis=0)):
            if k is None:
                protos[:, c] = self.class_means[c]
                distances[:, c] = np.linalg.norm(z - self.class_means[c], axis=1)
                continue
            enc_c = self.class_encodings[c]
            d = np.sqrt(np.maximum((z**2).sum(1)[:, None] - 2 * z @ enc_c.T + (enc_c**2).sum(1)[None, :], 0.0))
            nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
            d_k = np.take_along_axis(d, nearest, axis=1)
            protos[:, c] = enc_c[nearest].mean(axis=1)
            if k_type == "mean":
                distances[:, c] = d_k.mean(axis=1)
            elif k_type == "point":
                distances[:, c] = d_k[:, -1]
            else:
                distances[:, c] = np.linalg.norm(z - protos[:, c], axis=1)
        best = _nearest_allowed(distances, allowed)
        rows = np.arange(n)
        return PrototypeChoice(
            prototype=protos[rows, best].reshape((n,) + self.embedding_shape).astype(np.float32),
            proto_class=best,
            distance=distances[rows, best],
        )


class KDTreePrototypes(PrototypeStrategy):
    """Prototypes from class-specific k-d trees (Algorithm 2; L_proto of eq. 10).

    One tree per predicted class over the training instances; the prototype of class i
    is the k-th nearest training instance of that class (k = 1 when None), and the
    nearest prototype is the one at the smallest k-th nearest distance. ``k_type`` has
    no effect here, as in alibi.
    """

    def __init__(self, leaf_size: int = 40):
        self.leaf_size = leaf_size

    def embed(self, x):
        return x

    def fit(self, X, labels, n_classes):
        labels = self._check_fit_input(X, labels, n_classes)
        self.instance_shape = X.shape[1:]
        flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        self.class_instances = [flat[labels == c] for c in range(n_classes)]
        self.trees = [KDTree(points, leaf_size=self.leaf_size) for points in self.class_instances]
        return self

    def select(self, X, allowed, k=None, k_type="mean"):
        if k_type not in K_TYPES:
            raise ValueError(f"k_type: expected one of {K_TYPES}, got {k_type!r}")
        self._check_k(k, allowed)
        k = 1 if k is None else int(k)
        flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        n = len(X)
        distances = np.full((n, self.n_classes), np.inf)
        protos = np.zeros((n, self.n_classes, flat.shape[1]))
        for c in np.flatnonzero(allowed.any(axis=0)):
            dist, idx = self.trees[c].query(flat, k=k)
            distances[:, c] = dist[:, -1]
            protos[:, c] = self.class_instances[c][idx[:, -1]]
        best = _nearest_allowed(distances, allowed)
        rows = np.arange(n)
        return PrototypeChoice(
            prototype=protos[rows, best].reshape((n,) + self.instance_shape).astype(np.float32),
            proto_class=best,
            distance=distances[rows, best],
        )
