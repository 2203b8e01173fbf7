"""Where prototypes lie in the latent space: their neighbourhood among the training encodings,
and a 2-D map of that space (t-SNE) into which prototypes and search paths are projected.

The extension report (section 3.1.3, Figure 2) argues from a t-SNE picture that the mean of the
K nearest encodings of a class can fall outside that class's distribution while k-means
centroids lie inside it. :func:`neighbourhood` measures it, per prototype, in the latent space
itself (a 2-D map distorts distances); :func:`tsne_map` and :func:`project` draw it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

__all__ = ["neighbourhood", "class_spacing", "tsne_map", "project"]


def _flat(points, name: str) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 2 or len(points) == 0:
        raise ValueError(f"{name}: expected a non-empty batch (N, *shape), got shape {points.shape}")
    return points.reshape(len(points), -1)


def class_spacing(encodings, labels) -> np.ndarray:
    """Per class, the median distance from a training encoding to its nearest other encoding of
    the same class: the typical spacing of the class's points (NaN for a class of one point)."""
    flat = _flat(encodings, "encodings")
    labels = np.asarray(labels)
    spacing = np.full(int(labels.max()) + 1, np.nan)
    for c in np.unique(labels):
        members = flat[labels == c]
        if len(members) < 2:
            continue
        dist, _ = NearestNeighbors(n_neighbors=2).fit(members).kneighbors(members)
        spacing[c] = np.median(dist[:, 1])
    return spacing


def neighbourhood(points, point_class, encodings, labels, n_neighbours: int = 10) -> pd.DataFrame:
    """How far inside its class's distribution each point (a prototype) lies.

    Parameters
    ----------
    points : numpy.ndarray
        N prototypes, in the latent space of ``encodings`` (any shape per point).
    point_class : numpy.ndarray
        The class each prototype stands for, shape (N,).
    encodings : numpy.ndarray
        M training encodings, of the same shape per point as ``points``.
    labels : numpy.ndarray
        The model's predictions for the encodings' instances, shape (M,).
    n_neighbours : int
        Neighbours for ``same_class``.

    Returns
    -------
    pandas.DataFrame
        One row per point: ``same_class``, the fraction of its ``n_neighbours`` nearest training
        encodings that belong to its class (1: deep inside the class; low: among other classes),
        and ``distance_ratio``, its distance to the nearest training encoding of its class
        divided by that class's :func:`class_spacing` (about 1 or below: where the class's
        points are; much above 1: in a gap of the distribution).
    """
    flat, enc = _flat(points, "points"), _flat(encodings, "encodings")
    labels, point_class = np.asarray(labels), np.asarray(point_class)
    if flat.shape[1] != enc.shape[1]:
        raise ValueError(f"points: {flat.shape[1]} numbers per point, but the encodings have {enc.shape[1]}")
    if point_class.shape != (len(flat),):
        raise ValueError(f"point_class: expected shape ({len(flat)},), got {point_class.shape}")
    if labels.shape != (len(enc),):
        raise ValueError(f"labels: expected shape ({len(enc)},), got {labels.shape}")
    if (
        isinstance(n_neighbours, bool)
        or not isinstance(n_neighbours, (int, np.integer))
        or not 1 <= n_neighbours <= len(enc)
    ):
        raise ValueError(f"n_neighbours: expected an integer in [1, {len(enc)}], got {n_neighbours!r}")
    _, idx = NearestNeighbors(n_neighbors=int(n_neighbours)).fit(enc).kneighbors(flat)
    same = (labels[idx] == point_class[:, None]).mean(axis=1)
    spacing = class_spacing(enc, labels)
    nearest_own = np.full(len(flat), np.nan)
    for c in np.unique(point_class):
        rows = point_class == c
        members = enc[labels == c]
        if len(members) == 0:
            continue
        dist, _ = NearestNeighbors(n_neighbors=1).fit(members).kneighbors(flat[rows])
        nearest_own[rows] = dist[:, 0]
    return pd.DataFrame({"same_class": same, "distance_ratio": nearest_own / spacing[point_class]})


def tsne_map(encodings, random_state: int = 0, perplexity: float = 30.0, n_jobs: int = 2):
    """A 2-D t-SNE map of training encodings (openTSNE), into which new points can be placed.

    Returns the ``openTSNE.TSNEEmbedding``; ``np.asarray`` of it gives the (M, 2) coordinates.
    """
    from openTSNE import TSNE

    flat = _flat(encodings, "encodings")
    return TSNE(perplexity=perplexity, random_state=random_state, n_jobs=n_jobs).fit(flat)


def project(embedding, points) -> np.ndarray:
    """Place new points (prototypes, the iterates of a search) into an existing map.

    openTSNE (``TSNEEmbedding.transform`` with its defaults) starts each new point at the
    median position of its 25 nearest training points and optimises it for 250 iterations
    against the fixed map (perplexity 5); the map itself does not move and the new points do
    not repel each other. A point far from every training encoding still lands next to its
    nearest ones, so the map shows neighbourhoods, not distances: measure distances with
    :func:`neighbourhood`.
    """
    return np.asarray(embedding.transform(_flat(points, "points")))
