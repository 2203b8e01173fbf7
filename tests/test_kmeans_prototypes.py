"""k-means prototypes (report section 3.1.3): centroids per predicted class, the nearest one chosen."""

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.explainer import CounterfactualProto
from cgp_lib.prototypes import EncoderPrototypes, KMeansPrototypes

# Two classes, each made of two tight clusters of 5 points (spread 0.1) with known centres.
CENTRES = {0: [(0.0, 0.0), (10.0, 0.0)], 1: [(0.0, 6.0), (10.0, 20.0)]}


def clustered(seed=0):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c, centres in CENTRES.items():
        for centre in centres:
            X.append(np.asarray(centre) + 0.1 * rng.standard_normal((5, 2)))
            y += [c] * 5
    return np.concatenate(X).astype(np.float32), np.array(y)


def test_centroids_are_the_clusters_of_each_class():
    X, y = clustered()
    strategy = KMeansPrototypes(n_clusters=2).fit(X, y, 2)
    for c, centres in CENTRES.items():
        got = sorted(map(tuple, np.round(strategy.centroids_[c], 0)))
        assert got == sorted(centres)
        assert strategy.centroids_[c].shape == (2, 2)
    assert strategy.fit_seconds_ >= 0


def test_select_picks_the_nearest_centroid_of_the_nearest_allowed_class():
    X, y = clustered()
    strategy = KMeansPrototypes(n_clusters=2).fit(X, y, 2)
    queries = np.array([[10.0, 1.0], [0.0, 1.0], [10.0, 19.0]], np.float32)
    allowed = np.array([[False, True], [False, True], [True, False]])
    choice = strategy.select(queries, allowed)
    np.testing.assert_array_equal(choice.proto_class, [1, 1, 0])
    # (10, 1) -> class 1's (0, 6) at √125 beats its (10, 20) at 19; (0, 1) -> (0, 6); (10, 19) -> (10, 0)
    np.testing.assert_allclose(choice.prototype, [[0, 6], [0, 6], [10, 0]], atol=0.2)
    expected = np.linalg.norm(queries - choice.prototype, axis=1)
    np.testing.assert_allclose(choice.distance, expected, rtol=1e-5)
    # with both classes allowed, the nearest centroid overall wins, its own class included
    both = strategy.select(queries, np.ones((3, 2), bool))
    np.testing.assert_array_equal(both.proto_class, [0, 0, 1])
    assert choice.prototype.dtype == np.float32


def test_one_cluster_is_the_class_mean_of_the_encoder_prototypes():
    X, y = clustered()
    enc = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3)])  # a random linear encoder
    kmeans = KMeansPrototypes(n_clusters=1, enc_model=enc).fit(X, y, 2)
    means = EncoderPrototypes(enc).fit(X, y, 2)
    queries = X[[0, 12]]
    allowed = np.array([[False, True], [True, False]])
    a, b = kmeans.select(queries, allowed), means.select(queries, allowed, k=None)
    assert a.prototype.shape == (2, 3)  # in the latent space
    np.testing.assert_array_equal(a.proto_class, b.proto_class)
    np.testing.assert_allclose(a.prototype, b.prototype, atol=1e-5)
    np.testing.assert_allclose(a.distance, b.distance, rtol=1e-5)


def test_a_class_smaller_than_n_clusters_gets_one_centroid_per_instance():
    X, y = clustered()
    X, y = np.concatenate([X, [[50.0, 50.0], [51.0, 50.0]]]).astype(np.float32), np.concatenate([y, [2, 2]])
    strategy = KMeansPrototypes(n_clusters=4).fit(X, y, 3)
    assert [len(c) for c in strategy.centroids_] == [4, 4, 2]
    np.testing.assert_allclose(sorted(strategy.centroids_[2][:, 0]), [50.0, 51.0])


def test_fit_is_repeatable_with_the_same_random_state():
    X, y = clustered(1)
    a = KMeansPrototypes(n_clusters=3, random_state=7).fit(X, y, 2)
    b = KMeansPrototypes(n_clusters=3, random_state=7).fit(X, y, 2)
    for ca, cb in zip(a.centroids_, b.centroids_, strict=True):
        np.testing.assert_array_equal(ca, cb)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3", None])
def test_bad_n_clusters_is_named(bad):
    with pytest.raises(ValueError, match="n_clusters"):
        KMeansPrototypes(n_clusters=bad)


@pytest.mark.parametrize("name", ["n_init", "n_threads"])
def test_bad_n_init_and_n_threads_are_named(name):
    with pytest.raises(ValueError, match=name):
        KMeansPrototypes(**{name: 0})


def test_k_is_rejected_and_select_before_fit_is_named():
    X, y = clustered()
    with pytest.raises(ValueError, match="fit"):
        KMeansPrototypes().select(X[:1], np.array([[False, True]]))
    strategy = KMeansPrototypes(n_clusters=2).fit(X, y, 2)
    with pytest.raises(ValueError, match="k: "):
        strategy.select(X[:1], np.array([[False, True]]), k=3)


def test_through_the_explainer_batch_equals_each_row_alone(blobs):
    """k-means prototypes plug into the search unchanged: counterfactuals are found, each lands
    in its prototype's class, and a batch gives each row's answer alone (block_rows=16)."""
    explainer = CounterfactualProto(
        blobs.model,
        (1, 4),
        feature_range=blobs.feature_range,
        prototypes=KMeansPrototypes(n_clusters=3),
        theta=20.0,
        c_init=1.0,
        c_steps=2,
        max_iterations=100,
        learning_rate_init=0.02,
        block_rows=16,
    ).fit(blobs.X)
    assert [len(c) for c in explainer.prototypes.centroids_] == [3, 3, 3]
    batch = explainer.explain(blobs.X_explain, stop="satisfactory")
    assert batch.found.all()
    np.testing.assert_array_equal(batch.cf_class, batch.proto_class)
    assert (batch.proto_class != batch.orig_class).all()
    centroids = np.concatenate(explainer.prototypes.centroids_)
    assert all(np.isclose(centroids, p, atol=1e-6).all(axis=1).any() for p in batch.prototype)
    for i in range(len(blobs.X_explain)):
        alone = explainer.explain(blobs.X_explain[i : i + 1], stop="satisfactory")
        assert alone.found[0] == batch.found[i] and alone.steps_to_best[0] == batch.steps_to_best[i]
        np.testing.assert_array_equal(alone.cf[0], batch.cf[i])
