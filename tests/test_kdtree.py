"""Tests for cgp_lib.kdtree.KDTree against scipy.spatial.cKDTree."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from cgp_lib.kdtree import KDTree


def scipy_query(data, X, k):
    dist, idx = cKDTree(data).query(X, k=k)
    return np.reshape(dist, (len(X), k)), np.reshape(idx, (len(X), k))


def assert_matches_scipy(data, X, k, dist, idx):
    ref_dist, ref_idx = scipy_query(data, X, k)
    assert dist.shape == idx.shape == (len(X), k)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12, atol=0)
    # Indices must agree wherever the distance is not shared with a neighbour in the row.
    tied = np.zeros(dist.shape, dtype=bool)
    same_as_next = np.isclose(dist[:, 1:], dist[:, :-1], rtol=1e-12, atol=0)
    tied[:, 1:] |= same_as_next
    tied[:, :-1] |= same_as_next
    np.testing.assert_array_equal(idx[~tied], ref_idx[~tied])


def assert_consistent(data, X, dist, idx):
    """Each index points at a point at the reported distance; ties ordered by index."""
    true_dist = np.linalg.norm(data[idx] - X[:, None, :], axis=2)
    np.testing.assert_allclose(true_dist, dist, rtol=1e-12, atol=0)
    assert np.all(np.diff(dist, axis=1) >= 0)
    ties = np.diff(dist, axis=1) == 0
    assert np.all(np.diff(idx, axis=1)[ties] > 0)
    assert all(len(set(row)) == len(row) for row in idx)


@pytest.mark.parametrize("n", [1, 2, 7, 100, 2000])
@pytest.mark.parametrize("d", [1, 2, 5, 30])
@pytest.mark.parametrize("leaf_size", [1, 3, 40])
def test_matches_scipy_random(n, d, leaf_size):
    rng = np.random.default_rng(1000 * n + 10 * d + leaf_size)
    data = rng.normal(size=(n, d))
    X = rng.normal(size=(6, d))
    tree = KDTree(data, leaf_size=leaf_size)
    for k in sorted({1, min(2, n), min(5, n)}):
        dist, idx = tree.query(X, k=k)
        assert_matches_scipy(data, X, k, dist, idx)
        assert_consistent(data, X, dist, idx)


@pytest.mark.parametrize("n, d, leaf_size", [(1, 3, 1), (50, 2, 1), (300, 5, 3), (2000, 30, 40)])
def test_k_equals_n_returns_all_points_sorted(n, d, leaf_size):
    rng = np.random.default_rng(n + d)
    data = rng.uniform(-1, 1, size=(n, d))
    X = rng.uniform(-1, 1, size=(2, d))
    dist, idx = KDTree(data, leaf_size=leaf_size).query(X, k=n)
    assert_matches_scipy(data, X, n, dist, idx)
    for row in range(len(X)):
        assert sorted(idx[row]) == list(range(n))
        np.testing.assert_allclose(dist[row], np.sort(np.linalg.norm(data - X[row], axis=1)), rtol=1e-12, atol=0)


@pytest.mark.parametrize("leaf_size", [1, 3, 40])
@pytest.mark.parametrize("k", [1, 4, 25])
def test_duplicates_distances_and_tie_rule(leaf_size, k):
    rng = np.random.default_rng(7)
    data = rng.integers(0, 4, size=(600, 3)).astype(float)  # 64 cells, ~9 copies each
    X = np.vstack([data[:5], rng.integers(-1, 5, size=(15, 3)).astype(float)])
    dist, idx = KDTree(data, leaf_size=leaf_size).query(X, k=k)
    ref_dist, _ = scipy_query(data, X, k)
    np.testing.assert_array_equal(dist, ref_dist)  # integer data: distances are exact
    assert_consistent(data, X, dist, idx)
    # The tie rule picks the k smallest (distance, index) pairs overall.
    for row, q in enumerate(X):
        sq = np.sum((data - q) ** 2, axis=1)
        np.testing.assert_array_equal(idx[row], np.lexsort((np.arange(len(data)), sq))[:k])


def test_all_points_identical():
    data = np.ones((100, 4))
    dist, idx = KDTree(data, leaf_size=3).query(np.zeros(4), k=10)
    np.testing.assert_array_equal(dist, np.full((1, 10), 2.0))
    np.testing.assert_array_equal(idx, np.arange(10)[None, :])


def test_query_point_in_data_is_its_own_nearest_neighbour():
    data = np.random.default_rng(3).normal(size=(500, 8))
    dist, idx = KDTree(data, leaf_size=5).query(data, k=1)
    np.testing.assert_array_equal(idx[:, 0], np.arange(500))
    np.testing.assert_array_equal(dist[:, 0], 0.0)


def test_single_point_tree():
    tree = KDTree([[1.0, 2.0, 3.0]])
    assert (tree.n, tree.d, tree.n_leaves) == (1, 3, 1)
    dist, idx = tree.query([[1.0, 2.0, 5.0], [1.0, 2.0, 3.0]], k=1)
    np.testing.assert_array_equal(dist, [[2.0], [0.0]])
    np.testing.assert_array_equal(idx, [[0], [0]])


def test_one_dimensional_query_is_one_row():
    rng = np.random.default_rng(4)
    data = rng.normal(size=(200, 5))
    tree = KDTree(data, leaf_size=4)
    q = rng.normal(size=5)
    dist, idx = tree.query(q, k=3)
    assert dist.shape == idx.shape == (1, 3)
    dist2, idx2 = tree.query(q[None, :], k=3)
    np.testing.assert_array_equal(dist, dist2)
    np.testing.assert_array_equal(idx, idx2)
    assert_matches_scipy(data, q[None, :], 3, dist, idx)


def test_data_is_read_only_copy():
    source = np.arange(12, dtype=float).reshape(6, 2)
    tree = KDTree(source)
    source[0, 0] = 100.0
    assert tree.data[0, 0] == 0.0
    assert tree.data.shape == (6, 2)
    with pytest.raises(ValueError):
        tree.data[0, 0] = 1.0


def test_pruning_visits_few_leaves():
    rng = np.random.default_rng(5)
    centres = rng.uniform(-100, 100, size=(20, 2))
    data = centres[rng.integers(0, 20, size=2000)] + rng.normal(size=(2000, 2))
    tree = KDTree(data, leaf_size=8)
    X = centres[:10] + rng.normal(size=(10, 2))
    dist, idx = tree.query(X, k=3)
    assert_matches_scipy(data, X, 3, dist, idx)
    assert tree.n_leaves >= 200
    assert tree.last_query_leaves_visited.shape == (10,)
    assert np.all(tree.last_query_leaves_visited >= 1)
    assert tree.last_query_leaves_visited.max() <= tree.n_leaves // 10


@pytest.mark.parametrize(
    "data",
    [
        np.zeros(5),  # 1-D
        np.zeros((2, 3, 4)),  # 3-D
        np.zeros((0, 3)),  # no points
        np.zeros((3, 0)),  # no dimensions
        [[0.0, np.nan], [1.0, 2.0]],
        [[0.0, np.inf], [1.0, 2.0]],
    ],
)
def test_bad_data_raises(data):
    with pytest.raises(ValueError, match="data"):
        KDTree(data)


@pytest.mark.parametrize("leaf_size", [0, -1, 2.5, True])
def test_bad_leaf_size_raises(leaf_size):
    with pytest.raises(ValueError, match="leaf_size"):
        KDTree(np.zeros((4, 2)), leaf_size=leaf_size)


@pytest.mark.parametrize("k", [0, -1, 11, 2.0, None, True])
def test_bad_k_raises(k):
    tree = KDTree(np.random.default_rng(6).normal(size=(10, 2)))
    with pytest.raises(ValueError, match=r"k must .*10 points"):
        tree.query(np.zeros(2), k=k)


@pytest.mark.parametrize("X", [np.zeros(3), np.zeros((4, 3)), np.zeros((2, 2, 2)), [[np.nan, 0.0]]])
def test_bad_query_raises(X):
    tree = KDTree(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="X"):
        tree.query(X)
