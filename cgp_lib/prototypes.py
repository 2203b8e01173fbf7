"""Class prototypes that guide the search (paper section 3.3, Algorithms 1 and 2).

A strategy is fitted on a training sample labelled with the model's predictions
and then, for each instance to explain, picks the nearest prototype among the
allowed classes. Every strategy has the same small interface
(:class:`PrototypeStrategy`): ``fit``, ``embed`` (the space L_proto is measured in)
and ``select``; the search never looks inside a strategy, so new ones plug in without
touching it: :class:`KMeansPrototypes` (k-means centroids per class, proposed by the
extension report, section 3.1.3) is one.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from .kdtree import KDTree
from .validation import check_positive_integer

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
        return _encode_in_batches(self.enc_model, X, self.batch_size)

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


def _encode_in_batches(enc_model, X: np.ndarray, batch_size: int) -> np.ndarray:
    """``enc_model`` on ``X`` in batches, as a float32 numpy array."""
    out = [
        np.asarray(enc_model(tf.constant(X[i : i + batch_size]), training=False)) for i in range(0, len(X), batch_size)
    ]
    return np.concatenate(out, axis=0).astype(np.float32, copy=False)


class KMeansPrototypes(PrototypeStrategy):
    """Prototypes from k-means centroids of each predicted class (report, section 3.1.3).

    At ``fit``, the training instances predicted as class i are clustered with
    scikit-learn's ``KMeans`` into ``n_clusters`` groups, in the encoder's latent space
    (L_proto of eq. 9) or, when ``enc_model`` is None, in the feature space (as
    eq. 10); the centroids are kept in ``centroids_``. For an instance x0, the
    prototype of class i is the centroid of class i nearest to its embedding, and the
    target prototype is the nearest such centroid over the allowed classes. With
    ``n_clusters=1`` the prototype is the class mean (the paper's encoder prototype
    with K = all).

    Parameters
    ----------
    n_clusters : int, default 3
        Clusters per class. A class with fewer training instances than ``n_clusters``
        gets as many clusters as it has instances (each one its own centroid).
    enc_model : keras.Model or None
        Encoder whose latent space the centroids live in; None clusters the features.
    random_state : int, default 0
        Seed of the k-means initialisation (k-means++), so that a fit is repeatable.
    n_init : int, default 10
        Initialisations per class; the one with the lowest inertia is kept.
    batch_size : int, default 1024
        Rows per encoder call when encoding.
    n_threads : int, default 1
        OpenMP and BLAS threads of scikit-learn during the fit. Beside TensorFlow's threads,
        the default thread count made the fit 10-15 times slower on the book's 2-core machine
        (3 clusters, 10 classes of 500 encodings: 7.0 s against 0.47 s with one thread).

    Attributes
    ----------
    centroids_ : list of numpy.ndarray
        Per class, its centroids: an array of shape (clusters of that class,) + the embedding shape.
    fit_seconds_ : float
        Wall time of the k-means fits (encoding excluded).

    Notes
    -----
    ``select`` takes no K: its ``k`` must be None (a k-means prototype is a centroid,
    not the mean of the K nearest instances) and ``k_type`` has no effect.
    """

    def __init__(
        self,
        n_clusters: int = 3,
        enc_model=None,
        random_state: int = 0,
        n_init: int = 10,
        batch_size: int = 1024,
        n_threads: int = 1,
    ):
        for name, value in (("n_clusters", n_clusters), ("n_init", n_init), ("n_threads", n_threads)):
            check_positive_integer(value, name)
        self.n_clusters = int(n_clusters)
        self.enc_model = enc_model
        self.random_state = random_state
        self.n_init = int(n_init)
        self.batch_size = batch_size
        self.n_threads = int(n_threads)

    def embed(self, x):
        return x if self.enc_model is None else self.enc_model(x, training=False)

    def _embed_flat(self, X: np.ndarray) -> np.ndarray:
        Z = (
            np.asarray(X, dtype=np.float32)
            if self.enc_model is None
            else _encode_in_batches(self.enc_model, X, self.batch_size)
        )
        self._embedding_shape = Z.shape[1:]
        return Z.reshape(len(X), -1).astype(np.float64)

    def fit(self, X, labels, n_classes):
        labels = self._check_fit_input(X, labels, n_classes)
        flat = self._embed_flat(X)
        self.embedding_shape = self._embedding_shape
        start = time.perf_counter()
        self.centroids_ = []
        for c in range(n_classes):
            members = flat[labels == c]
            n_clusters = min(self.n_clusters, len(members))
            with threadpool_limits(limits=self.n_threads):
                km = KMeans(n_clusters=n_clusters, n_init=self.n_init, random_state=self.random_state).fit(members)
            self.centroids_.append(km.cluster_centers_.reshape((n_clusters,) + self.embedding_shape))
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def select(self, X, allowed, k=None, k_type="mean"):
        if k_type not in K_TYPES:
            raise ValueError(f"k_type: expected one of {K_TYPES}, got {k_type!r}")
        if k is not None:
            raise ValueError(
                f"k: k-means prototypes are centroids, not means of the k nearest instances; got k={k!r}, pass k=None"
            )
        if not hasattr(self, "centroids_"):
            raise ValueError("X: call fit() before select()")
        z = self._embed_flat(X)
        n = len(X)
        distances = np.full((n, self.n_classes), np.inf)
        protos = np.zeros((n, self.n_classes, z.shape[1]))
        for c in np.flatnonzero(allowed.any(axis=0)):
            centroids = self.centroids_[c].reshape(len(self.centroids_[c]), -1)
            d = np.linalg.norm(z[:, None, :] - centroids[None, :, :], axis=2)
            nearest = np.argmin(d, axis=1)
            distances[:, c] = d[np.arange(n), nearest]
            protos[:, c] = centroids[nearest]
        best = _nearest_allowed(distances, allowed)
        rows = np.arange(n)
        return PrototypeChoice(
            prototype=protos[rows, best].reshape((n,) + self.embedding_shape).astype(np.float32),
            proto_class=best,
            distance=distances[rows, best],
        )
