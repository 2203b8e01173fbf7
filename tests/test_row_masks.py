"""Per-row masks of the features that may change (``explain(mutable=...)``, issue 16 item 3).

On the blob classifier of conftest.py (4 features, 3 classes): a feature masked in a row keeps
its value in that row's counterfactual exactly, other rows are unaffected, a batch of rows with
different masks gives what each row gives alone with its mask, and the constructor's
``immutable`` columns still apply.
"""

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.explainer import CounterfactualProto

# well-conditioned white-box settings (see test_explainer.py): batch and rows alone agree
SETTINGS = dict(use_kdtree=True, theta=20.0, c_init=1.0, c_steps=2, max_iterations=100, learning_rate_init=0.02)


def make(blobs, predict=None, **kwargs):
    kwargs = {**SETTINGS, **kwargs}
    kwargs.setdefault("feature_range", blobs.feature_range)
    return CounterfactualProto(blobs.model if predict is None else predict, (1, 4), **kwargs).fit(blobs.X)


def staircase(n_rows):
    """Row i may change every feature but feature i mod 4: neighbouring rows, different masks."""
    return ~np.eye(4, dtype=bool)[np.arange(n_rows) % 4]


def test_masked_features_keep_their_values_and_the_others_move(blobs):
    X = blobs.X_explain
    mask = staircase(len(X))
    result = make(blobs).explain(X, mutable=mask)
    assert result.found.sum() >= 3
    for row in np.flatnonzero(result.found):
        np.testing.assert_array_equal(result.cf[row][~mask[row]], X[row][~mask[row]])
    # the masks constrain the search: unmasked, some row moves a feature its mask forbids
    free = make(blobs).explain(X)
    moved = (free.cf != X) & ~mask
    assert moved[free.found].any()


def test_a_mask_of_all_true_is_no_mask(blobs):
    X = blobs.X_explain
    explainer = make(blobs)
    masked = explainer.explain(X, mutable=np.ones(X.shape, bool))
    plain = explainer.explain(X)
    np.testing.assert_array_equal(masked.cf, plain.cf)
    np.testing.assert_array_equal(masked.steps_to_best, plain.steps_to_best)


def test_a_batch_with_different_masks_equals_each_row_alone(blobs):
    X = blobs.X_explain
    mask = staircase(len(X))
    explainer = make(blobs)
    batch = explainer.explain(X, mutable=mask)
    alone = [explainer.explain(X[i : i + 1], mutable=mask[i : i + 1]) for i in range(len(X))]
    np.testing.assert_array_equal(batch.found, np.concatenate([r.found for r in alone]))
    np.testing.assert_array_equal(batch.steps_to_best, np.concatenate([r.steps_to_best for r in alone]))
    np.testing.assert_allclose(batch.cf, np.concatenate([r.cf for r in alone]), atol=1e-5)


@pytest.mark.parametrize("stop", ["first", "satisfactory"])
def test_masks_follow_their_rows_when_rows_leave_the_batch(blobs, stop):
    """With a stop rule, rows that found a counterfactual leave the search: each remaining row
    must keep its own mask."""
    X = blobs.X[::12]
    mask = staircase(len(X))
    explainer = make(blobs)
    batch = explainer.explain(X, mutable=mask, stop=stop)
    assert batch.found.sum() >= 5
    for row in np.flatnonzero(batch.found):
        np.testing.assert_array_equal(batch.cf[row][~mask[row]], X[row][~mask[row]])
    alone = [explainer.explain(X[i : i + 1], mutable=mask[i : i + 1], stop=stop) for i in range(len(X))]
    np.testing.assert_array_equal(batch.steps_to_best, np.concatenate([r.steps_to_best for r in alone]))


def test_black_box_masks(blobs):
    X = blobs.X_explain
    mask = staircase(len(X))
    result = make(blobs, predict=blobs.black_box()).explain(X, mutable=mask)
    assert result.found.any()
    for row in np.flatnonzero(result.found):
        np.testing.assert_array_equal(result.cf[row][~mask[row]], X[row][~mask[row]])


def test_constructor_immutable_columns_still_apply(blobs):
    X = blobs.X_explain
    result = make(blobs, immutable=[0]).explain(X, mutable=np.ones(X.shape, bool))
    assert result.found.any()
    np.testing.assert_array_equal(result.cf[result.found][:, 0], X[result.found][:, 0])


def test_a_row_with_nothing_mutable_reports_no_counterfactual(blobs):
    X = blobs.X_explain[:3]
    mask = np.ones(X.shape, bool)
    mask[1] = False
    result = make(blobs).explain(X, mutable=mask)
    assert not result.found[1]
    assert result.found[[0, 2]].all()
    assert np.isnan(result.distance[1])


@pytest.mark.parametrize(
    "mutable, error, message",
    [
        (np.ones((6, 3), bool), ValueError, "^mutable: expected one mask per row of X"),
        (np.ones((5, 4), bool), ValueError, "^mutable: expected one mask per row of X"),
        (np.ones((6, 4)), TypeError, "^mutable: expected a boolean array"),
    ],
)
def test_bad_masks_are_rejected_by_name(blobs, mutable, error, message):
    with pytest.raises(error, match=message):
        make(blobs).explain(blobs.X_explain, mutable=mutable)


def test_masks_are_refused_with_categorical_variables():
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2, activation="softmax")])
    X = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.2]], np.float32)
    explainer = CounterfactualProto(model, (1, 3), cat_vars={0: 2}, ohe=True, feature_range=(0.0, 1.0))
    explainer.fit(X)
    with pytest.raises(ValueError, match="^mutable: per-row masks are not available with cat_vars"):
        explainer.explain(X, mutable=np.ones(X.shape, bool))
