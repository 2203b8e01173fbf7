"""Prototype strategies (paper section 3.3, Algorithms 1 and 2) on toy sets with known answers."""

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.prototypes import EncoderPrototypes, KDTreePrototypes

# 2-D toy set: class 0 near (0, 0), class 1 near (5, 0), class 2 near (0, 5).
TOY_X = np.array(
    [
        [0.0, 0.0],
        [0.5, 0.5],
        [-0.5, 0.0],
        [0.0, -0.5],  # class 0 (4 points)
        [4.0, 0.0],
        [9.0, 0.0],
        [5.0, 1.0],  # class 1 (3 points)
        [0.0, 4.5],
        [0.0, 4.6],
        [1.0, 5.0],  # class 2 (3 points)
    ],
    dtype=np.float32,
)
TOY_LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])

# Queries and their allowed classes (everything but the own class).
QUERIES = np.array(
    [
        [0.0, 0.0],  # class 0
        [1.0, 0.5],  # class 0
        [4.2, 0.1],
    ],  # class 1
    dtype=np.float32,
)
ALLOWED = np.array([[False, True, True], [False, True, True], [True, False, True]])


def _identity_encoder(dim=2):
    """A linear Keras layer with identity weights: ENC(x) = x."""
    enc = tf.keras.Sequential([tf.keras.Input((dim,)), tf.keras.layers.Dense(dim, use_bias=False)])
    enc.layers[0].set_weights([np.eye(dim, dtype=np.float32)])
    return enc


def test_kdtree_k1_picks_nearest_instance_of_nearest_other_class():
    strategy = KDTreePrototypes().fit(TOY_X, TOY_LABELS, 3)
    choice = strategy.select(QUERIES, ALLOWED)  # k=None means k=1 for k-d trees
    # q0 = (0,0): class 1 at (4,0), distance 4, beats class 2 at (0,4.5), distance 4.5
    # q1 = (1,.5): (4,0) at √9.25 beats (0,4.5) at √17
    # q2 = (4.2,.1), class 1: class 0's (0.5,0.5) at √13.85 beats class 2's (1,5) at √34.25
    np.testing.assert_array_equal(choice.proto_class, [1, 1, 0])
    np.testing.assert_array_equal(choice.prototype, [[4.0, 0.0], [4.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(choice.distance, [4.0, np.sqrt(9.25), np.sqrt(13.85)], rtol=1e-6)
    assert choice.prototype.dtype == np.float32


def test_kdtree_k2_picks_second_nearest_and_can_change_the_class():
    strategy = KDTreePrototypes().fit(TOY_X, TOY_LABELS, 3)
    choice = strategy.select(QUERIES, ALLOWED, k=2)
    # q0: 2nd nearest of class 1 is (5,1) at √26 ≈ 5.10, of class 2 is (0,4.6) at 4.6 -> class 2 now
    # q1: class 1's (5,1) at √16.25 ≈ 4.03 beats class 2's (0,4.6) at √17.81 ≈ 4.22 -> still class 1
    # q2: 2nd nearest of class 0 is (0,0) at √17.65 ≈ 4.20
    np.testing.assert_array_equal(choice.proto_class, [2, 1, 0])
    np.testing.assert_array_equal(choice.prototype, np.float32([[0.0, 4.6], [5.0, 1.0], [0.0, 0.0]]))
    np.testing.assert_allclose(choice.distance, [4.6, np.sqrt(16.25), np.sqrt(17.65)], rtol=1e-6)


def test_kdtree_respects_allowed_mask():
    strategy = KDTreePrototypes().fit(TOY_X, TOY_LABELS, 3)
    allowed = np.array([[False, False, True], [False, True, False]])
    choice = strategy.select(QUERIES[:2], allowed)
    # q0 must go to class 2 although class 1 is nearer; q1 must go to class 1
    np.testing.assert_array_equal(choice.proto_class, [2, 1])
    np.testing.assert_array_equal(choice.prototype, [[0.0, 4.5], [4.0, 0.0]])
    np.testing.assert_allclose(choice.distance, [4.5, np.sqrt(9.25)], rtol=1e-6)


def test_kdtree_k_type_has_no_effect():
    strategy = KDTreePrototypes().fit(TOY_X, TOY_LABELS, 3)
    ref = strategy.select(QUERIES, ALLOWED, k=2, k_type="mean")
    for k_type in ("point", "prototype"):
        other = strategy.select(QUERIES, ALLOWED, k=2, k_type=k_type)
        np.testing.assert_array_equal(other.prototype, ref.prototype)
        np.testing.assert_array_equal(other.proto_class, ref.proto_class)


def test_k_only_checked_against_the_allowed_classes():
    strategy = KDTreePrototypes().fit(TOY_X, TOY_LABELS, 3)
    # k = 4 exceeds classes 1 and 2 (3 points each) but only class 0 (4 points) is allowed.
    choice = strategy.select(np.array([[4.2, 0.1]], np.float32), np.array([[True, False, False]]), k=4)
    # 4th nearest of class 0 to (4.2, 0.1): distances √13.85, √17.65, √17.77 ((0,-.5)), √22.10 ((-.5,0))
    np.testing.assert_array_equal(choice.prototype, [[-0.5, 0.0]])
    np.testing.assert_allclose(choice.distance, [np.sqrt(4.7**2 + 0.1**2)], rtol=1e-6)


@pytest.mark.parametrize("strategy_factory", [KDTreePrototypes, lambda: EncoderPrototypes(_identity_encoder())])
def test_k_larger_than_a_class_raises(strategy_factory):
    strategy = strategy_factory().fit(TOY_X, TOY_LABELS, 3)
    with pytest.raises(ValueError, match=r"k=4 .*class\(es\) \{1: 3, 2: 3\}"):
        strategy.select(QUERIES[:1], ALLOWED[:1], k=4)


@pytest.mark.parametrize("strategy_factory", [KDTreePrototypes, lambda: EncoderPrototypes(_identity_encoder())])
@pytest.mark.parametrize("bad_k", [0, -1, 1.5, True])
def test_bad_k_raises(strategy_factory, bad_k):
    strategy = strategy_factory().fit(TOY_X, TOY_LABELS, 3)
    with pytest.raises(ValueError, match="^k: "):
        strategy.select(QUERIES[:1], ALLOWED[:1], k=bad_k)


@pytest.mark.parametrize("strategy_factory", [KDTreePrototypes, lambda: EncoderPrototypes(_identity_encoder())])
def test_class_without_training_instance_raises_at_fit(strategy_factory):
    labels = np.where(TOY_LABELS == 2, 1, TOY_LABELS)  # nothing is labelled 2
    with pytest.raises(ValueError, match=r"class \[2\]"):
        strategy_factory().fit(TOY_X, labels, 3)


@pytest.mark.parametrize("strategy_factory", [KDTreePrototypes, lambda: EncoderPrototypes(_identity_encoder())])
def test_bad_k_type_raises(strategy_factory):
    strategy = strategy_factory().fit(TOY_X, TOY_LABELS, 3)
    with pytest.raises(ValueError, match="k_type"):
        strategy.select(QUERIES[:1], ALLOWED[:1], k=1, k_type="median")


def test_labels_of_wrong_shape_raise():
    with pytest.raises(ValueError, match="labels"):
        KDTreePrototypes().fit(TOY_X, TOY_LABELS[:-1], 3)


# ----------------------------------------------------------------------------- encoder prototypes
def test_encoder_k_none_uses_class_means():
    strategy = EncoderPrototypes(_identity_encoder()).fit(TOY_X, TOY_LABELS, 3)
    np.testing.assert_allclose(strategy.class_means, [[0.0, 0.0], [6.0, 1 / 3], [1 / 3, 4.7]], rtol=1e-6, atol=1e-7)
    choice = strategy.select(QUERIES[:1], ALLOWED[:1])
    # q0 = (0,0): class 1 mean (6, 1/3) at √(36 + 1/9) ≈ 6.01; class 2 mean (1/3, 4.7) at √(1/9 + 22.09) ≈ 4.71
    np.testing.assert_array_equal(choice.proto_class, [2])
    np.testing.assert_allclose(choice.prototype, [[1 / 3, 4.7]], rtol=1e-6)
    np.testing.assert_allclose(choice.distance, [np.sqrt(1 / 9 + 4.7**2)], rtol=1e-6)


def test_encoder_k_uses_mean_of_k_nearest():
    strategy = EncoderPrototypes(_identity_encoder()).fit(TOY_X, TOY_LABELS, 3)
    choice = strategy.select(QUERIES[1:2], ALLOWED[1:2], k=2)
    # q1 = (1, .5): class 1's two nearest are (4,0) and (5,1) -> prototype (4.5, .5), mean distance
    # (√9.25 + √16.25)/2 ≈ 3.54; class 2's are (0,4.5), (0,4.6): (√17 + √17.81)/2 ≈ 4.17
    np.testing.assert_array_equal(choice.proto_class, [1])
    np.testing.assert_allclose(choice.prototype, [[4.5, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(choice.distance, [(np.sqrt(9.25) + np.sqrt(16.25)) / 2], rtol=1e-6)


# A query at the origin (class 0) and three candidate classes of 2 points each, k = 2, built so
# that each k_type picks a different class:
#   class 1: (2,0), (-2,0)      distances 2, 2     -> mean 2,     2nd-nearest 2,    prototype (0,0) at 0
#   class 2: (0,.5), (0,3)      distances .5, 3    -> mean 1.75,  2nd-nearest 3,    prototype (0,1.75) at 1.75
#   class 3: (0,-1.9), (0,-1.95) distances 1.9,1.95 -> mean 1.925, 2nd-nearest 1.95, prototype (0,-1.925) at 1.925
# 'mean' (mean distance) picks class 2, 'point' (k-th distance) class 3, 'prototype' (distance
# to the prototype itself) class 1, whose two points straddle the query.
KT_X = np.array(
    [[0.0, 0.1], [0.1, 0.0], [2.0, 0.0], [-2.0, 0.0], [0.0, 0.5], [0.0, 3.0], [0.0, -1.9], [0.0, -1.95]],
    dtype=np.float32,
)
KT_LABELS = np.array([0, 0, 1, 1, 2, 2, 3, 3])
KT_QUERY = np.zeros((1, 2), np.float32)
KT_ALLOWED = np.array([[False, True, True, True]])


@pytest.mark.parametrize(
    "k_type, proto_class, prototype, distance",
    [
        ("mean", 2, [0.0, 1.75], 1.75),
        ("point", 3, [0.0, -1.925], 1.95),
        ("prototype", 1, [0.0, 0.0], 0.0),
    ],
)
def test_encoder_k_type_changes_the_chosen_class(k_type, proto_class, prototype, distance):
    strategy = EncoderPrototypes(_identity_encoder()).fit(KT_X, KT_LABELS, 4)
    choice = strategy.select(KT_QUERY, KT_ALLOWED, k=2, k_type=k_type)
    assert choice.proto_class.tolist() == [proto_class]
    np.testing.assert_allclose(choice.prototype, [prototype], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(choice.distance, [distance], rtol=1e-6, atol=1e-7)


def test_encoder_k_none_ignores_k_type():
    strategy = EncoderPrototypes(_identity_encoder()).fit(KT_X, KT_LABELS, 4)
    # with k=None every class is represented by its mean; class 1's mean is the query itself
    for k_type in ("mean", "point", "prototype"):
        choice = strategy.select(KT_QUERY, KT_ALLOWED, k_type=k_type)
        assert choice.proto_class.tolist() == [1]
        np.testing.assert_allclose(choice.distance, [0.0], atol=1e-7)


def test_encoder_respects_allowed_mask_per_row():
    strategy = EncoderPrototypes(_identity_encoder()).fit(KT_X, KT_LABELS, 4)
    queries = np.zeros((3, 2), np.float32)
    allowed = np.array(
        [
            [False, False, True, True],  # class 1 excluded: 'mean' picks class 2
            [False, False, False, True],  # only class 3
            [True, True, True, True],
        ]
    )  # class 0 allowed: its points are nearest
    choice = strategy.select(queries, allowed, k=2, k_type="mean")
    np.testing.assert_array_equal(choice.proto_class, [2, 3, 0])
    np.testing.assert_allclose(choice.prototype, [[0.0, 1.75], [0.0, -1.925], [0.05, 0.05]], rtol=1e-6)


def test_encoder_prototype_lives_in_latent_space():
    # A non-identity encoder: ENC(x) = 2·x[:, :1]; prototypes and distances are measured on the encoding.
    enc = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1, use_bias=False)])
    enc.layers[0].set_weights([np.array([[2.0], [0.0]], np.float32)])
    strategy = EncoderPrototypes(enc).fit(TOY_X, TOY_LABELS, 3)
    choice = strategy.select(QUERIES[:1], ALLOWED[:1])
    # class means of 2·x: class 1 -> 12, class 2 -> 2/3; query encodes to 0
    np.testing.assert_array_equal(choice.proto_class, [2])
    assert choice.prototype.shape == (1, 1)
    np.testing.assert_allclose(choice.prototype, [[2 / 3]], rtol=1e-6)
    np.testing.assert_allclose(choice.distance, [2 / 3], rtol=1e-6)
