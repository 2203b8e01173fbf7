"""Categorical variables (paper section 3.4, appendix D): distances, MDS, the mapping, the checks."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib import categorical
from cgp_lib.categorical import CategoricalMap
from cgp_lib.explainer import CounterfactualProto


# ------------------------------------------------------------------ MVDM (eq. 17)
def test_mvdm_hand_computed():
    # P(y | x=0) = (1, 0), P(y | x=1) = (1/2, 1/2), P(y | x=2) = (0, 1)
    X = np.array([[0], [0], [1], [1], [2], [2]], float)
    labels = np.array([0, 0, 0, 1, 1, 1])
    d = categorical.mvdm(X, labels, {0: 3})[0]
    np.testing.assert_allclose(d, [[0, 1, 2], [1, 0, 1], [2, 1, 0]], atol=1e-9)


def test_mvdm_ignores_other_columns_and_is_zero_for_same_predictions():
    X = np.array([[0, 5.0], [1, -3.0], [0, 1.0], [1, 2.0]])
    d = categorical.mvdm(X, np.array([1, 1, 0, 0]), {0: 2})[0]
    np.testing.assert_allclose(d, np.zeros((2, 2)), atol=1e-9)


# ------------------------------------------------------------------ ABDM (eq. 18)
def test_abdm_hand_computed():
    # P(b | a=0) = (1/3, 2/3), P(b | a=1) = (2/3, 1/3): symmetric KL = (1/3 - 2/3) ln(1/2) + (2/3 - 1/3) ln 2
    X = np.array([[0, 0], [0, 1], [0, 1], [1, 0], [1, 0], [1, 1]], float)
    d = categorical.abdm(X, {0: 2, 1: 2})
    expected = 2 / 3 * np.log(2)
    np.testing.assert_allclose(d[0], [[0, expected], [expected, 0]], rtol=1e-9)
    np.testing.assert_allclose(d[1], [[0, expected], [expected, 0]], rtol=1e-9)


def test_abdm_uses_binned_numerical_context():
    # category 0 comes with small numbers, category 1 with large ones, category 2 with both
    X = np.array([[0, 1.0], [0, 2.0], [1, 7.0], [1, 8.0], [2, 1.5], [2, 7.5]])
    X_bin, bins = categorical.discretize(X, [1], percentiles=(50,))
    np.testing.assert_array_equal(X_bin[:, 1], [0, 0, 1, 1, 0, 1])
    assert bins == {1: 2}
    d = categorical.abdm(X_bin, {0: 3}, bins)[0]
    assert d[0, 1] > d[0, 2] > 0 and d[0, 2] == pytest.approx(d[1, 2])  # the mixed category lies between


def test_discretize_matches_percentile_edges():
    X = np.arange(1.0, 9.0)[:, None]
    X_bin, bins = categorical.discretize(X, [0], percentiles=(25, 50, 75))
    edges = np.percentile(X[:, 0], (25, 50, 75))
    np.testing.assert_array_equal(X_bin[:, 0], np.searchsorted(edges, X[:, 0]))
    assert bins == {0: 4}


# ------------------------------------------------------------------ MDS and scaling
def test_mds_recovers_an_obvious_order():
    points = np.array([0.0, 1.0, 2.0, 5.0])
    distances = np.abs(points[:, None] - points[None, :])
    positions = categorical.mds_positions(distances)
    assert positions.shape == (4, 2)
    values = categorical.origin_distances(positions)
    order = np.argsort(values)
    assert list(order) in ([0, 1, 2, 3], [3, 2, 1, 0])
    # distances on a line embed (nearly) exactly: the values are the distances to an end point
    end = order[0]
    np.testing.assert_allclose(values, np.abs(points - points[end]), atol=1e-2)  # SMACOF stops at a tolerance


def test_mds_rejects_bad_distances():
    with pytest.raises(ValueError, match="distances"):
        categorical.mds_positions(np.array([[0.0, 1.0], [2.0, 0.0]]))


def test_scaling_min_max_over_all_variables_and_standardised():
    raw = {0: np.array([0.0, 1.0, 4.0]), 2: np.array([0.0, 2.0])}
    lower, upper = -np.ones(3), np.ones(3)
    scaled = categorical.scale_embeddings(raw, lower, upper)
    np.testing.assert_allclose([scaled[0].min(), scaled[0].max()], [-1, 1])  # the widest variable spans the range
    np.testing.assert_allclose(scaled[2], [-0.5, 0.5])  # half the raw spread, centred at 0
    std = categorical.scale_embeddings(raw, lower, upper, standardize_cat_vars=True)
    assert std[0].mean() == pytest.approx(0) and std[0].std() == pytest.approx(1)


def test_embed_categories_checks_its_options():
    X = np.array([[0, 1.0], [1, 2.0], [0, 3.0], [1, 4.0]])
    args = (X, np.array([0, 1, 0, 1]), {0: 2}, -np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="d_type"):
        categorical.embed_categories(*args, d_type="hamming")
    with pytest.raises(ValueError, match="w:"):
        categorical.embed_categories(*args, d_type="abdm-mvdm")
    emb, _ = categorical.embed_categories(*args, d_type="abdm-mvdm", w=0.5)
    assert emb[0].shape == (2,)


# ------------------------------------------------------------------ mapping
def _map(ohe):
    # variables: colour (3 categories), a number, size (2 categories)
    emb = {0: np.array([-0.8, 0.1, 0.5]), 2: np.array([-0.3, 0.3])}
    if ohe:
        return CategoricalMap({0: 3, 4: 2}, True, 6, emb)
    return CategoricalMap({0: 3, 2: 2}, False, 3, emb)


@pytest.mark.parametrize("ohe", [False, True])
def test_round_trip_category_number_category(ohe):
    m = _map(ohe)
    X_ord = np.array([[0, 0.25, 1], [1, -0.5, 0], [2, 0.0, 1]], np.float32)
    X = m.from_ordinal(X_ord)
    Z = m.to_search(X)
    np.testing.assert_allclose(Z[:, 0], [-0.8, 0.1, 0.5], rtol=1e-6)
    np.testing.assert_array_equal(m.to_model(Z), X)
    # small perturbations keep the category, larger ones reach the nearest other category
    nudged = Z.copy()
    nudged[:, [0, 2]] += 0.04
    np.testing.assert_array_equal(m.to_model(nudged), X)
    Z2 = Z.copy()
    Z2[0, 0] = -0.2  # nearer 0.1 (category 1) than -0.8 (category 0)
    assert m.nearest_category(Z2)[0, 0] == 1
    Z2[0, 0] = 9.0  # beyond the largest number: the last category
    assert m.nearest_category(Z2)[0, 0] == 2


@pytest.mark.parametrize("ohe", [False, True])
def test_tensorflow_mapping_matches_numpy_and_passes_gradients_straight_through(ohe):
    m = _map(ohe)
    Z = np.array([[-0.5, 0.3, 0.2], [0.4, -0.1, -0.9]], np.float32)
    z = tf.constant(Z)
    weights = tf.constant(np.arange(1.0, m.n_columns + 1, dtype=np.float32)[None])
    with tf.GradientTape() as tape:
        tape.watch(z)
        x = m.to_model_tf(z)
        loss = tf.reduce_sum(x * weights)
    np.testing.assert_array_equal(x.numpy(), m.to_model(Z))
    grad = tape.gradient(loss, z).numpy()[0]
    w = weights.numpy()[0]
    expected = [w[0:3].sum(), w[3], w[4:6].sum()] if ohe else list(w)
    np.testing.assert_allclose(grad, expected)


# ------------------------------------------------------------------ bad cat_vars and data
def _tiny_model(n_in):
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((n_in,)), tf.keras.layers.Dense(2, activation="softmax")])
    return model


def test_cat_vars_out_of_range_column():
    with pytest.raises(ValueError, match="cat_vars: column 5 is out of range"):
        CounterfactualProto(_tiny_model(3), (1, 3), cat_vars={5: 2})
    with pytest.raises(ValueError, match="runs past the last column"):
        CounterfactualProto(_tiny_model(4), (1, 4), cat_vars={2: 3}, ohe=True)
    with pytest.raises(ValueError, match="overlaps"):
        CounterfactualProto(_tiny_model(5), (1, 5), cat_vars={0: 3, 1: 2}, ohe=True)
    with pytest.raises(TypeError, match="cat_vars"):
        CounterfactualProto(_tiny_model(3), (1, 3), cat_vars=[0, 1])
    with pytest.raises(ValueError, match="ohe: one-hot encoding needs cat_vars"):
        CounterfactualProto(_tiny_model(3), (1, 3), ohe=True)


def test_wrong_number_of_categories():
    explainer = CounterfactualProto(_tiny_model(2), (1, 2), cat_vars={0: 3}, feature_range=(-1.0, 1.0))
    X = np.array([[0, 0.1], [1, 0.2], [3, 0.3]], np.float32)  # code 3 with 3 categories
    with pytest.raises(ValueError, match="column 0 must hold category codes 0..2"):
        explainer.fit(X)
    with pytest.raises(ValueError, match="at least 2 categories"):
        CounterfactualProto(_tiny_model(2), (1, 2), cat_vars={0: 1})


def test_one_hot_columns_must_sum_to_one():
    explainer = CounterfactualProto(_tiny_model(4), (1, 4), cat_vars={0: 3}, ohe=True, feature_range=(-1.0, 1.0))
    X = np.array([[1, 0, 0, 0.1], [0, 1, 1, 0.2]], np.float32)
    with pytest.raises(ValueError, match="one-hot columns 0..2 .* row\\(s\\) \\[1\\]"):
        explainer.fit(X)


def test_explain_before_fit_and_unsupported_options():
    explainer = CounterfactualProto(_tiny_model(2), (1, 2), cat_vars={0: 2}, feature_range=(-1.0, 1.0))
    with pytest.raises(ValueError, match="call fit"):
        explainer.explain(np.array([[0, 0.5]], np.float32))
    with pytest.raises(ValueError, match="immutable"):
        CounterfactualProto(_tiny_model(2), (1, 2), cat_vars={0: 2}, immutable=[7])


# ------------------------------------------------------------------ the search on categorical data
@pytest.fixture(scope="module")
def toy(one_hot_toy):
    """Class 1 when colour is 2 or the number is large; the network sees one-hot colours (conftest)."""
    return one_hot_toy


def test_counterfactuals_are_valid_categories_and_respect_immutable_features(toy):
    X, cat_vars, model, _ = toy
    kw = dict(
        beta=0.01,
        feature_range=(-1.0, 1.0),
        cat_vars=cat_vars,
        ohe=True,
        use_kdtree=True,
        theta=10.0,
        max_iterations=200,
        c_init=1.0,
        c_steps=3,
    )
    x = X[model.predict(X, verbose=0).argmax(1) == 0][:8]
    free = CounterfactualProto(model, (1, 6), **kw).fit(X, d_type="mvdm")
    res = free.explain(x)
    assert res.found.all() and (res.cf_class == 1).all()
    blocks = res.cf[:, :3]
    assert np.isin(blocks, (0, 1)).all() and (blocks.sum(1) == 1).all()
    assert res.cf_search.shape == (8, 3)
    np.testing.assert_allclose(model.predict(res.cf, verbose=0), res.cf_proba, atol=1e-5)
    fixed = CounterfactualProto(model, (1, 6), immutable=[4], **kw).fit(X, d_type="mvdm").explain(x)
    np.testing.assert_array_equal(fixed.cf[fixed.found][:, 4:6], x[fixed.found][:, 4:6])  # size never changes
    # a batch gives the answers of single rows
    single = free.explain(x[3:4])
    np.testing.assert_allclose(single.cf[0], res.cf[3], atol=1e-5)


def test_update_feature_range_sets_categorical_bounds(toy):
    X, cat_vars, model, _ = toy
    explainer = CounterfactualProto(model, (1, 6), feature_range=(-1.0, 1.0), cat_vars=cat_vars, ohe=True)
    explainer.fit(X, d_type="abdm")
    for col, values in explainer.catmap.embedding.items():
        assert explainer.lower[0, col] == np.float32(values.min())
        assert explainer.upper[0, col] == np.float32(values.max())
    assert explainer.lower[0, 1] == -1.0  # the numerical column keeps its bound
