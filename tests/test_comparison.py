"""cgp_lib.repro.comparison: appendix E's per-class tests on synthetic features."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cgp_lib.repro import comparison


def synthetic(rng, counts, shift):
    """Counterfactual features per loss: class c at c·e1 (+ the loss's shift), 3-D."""
    features, classes = {}, {}
    for name, per_class in counts.items():
        labels = np.concatenate([[c] * k for c, k in enumerate(per_class)])
        x = rng.standard_normal((len(labels), 3))
        x[:, 0] += labels * 4.0 + shift[name]
        features[name], classes[name] = x, labels
    ref_labels = np.repeat([0, 1, 2], 60)
    reference = rng.standard_normal((len(ref_labels), 3))
    reference[:, 0] += ref_labels * 4.0
    return features, classes, reference, ref_labels


def test_penultimate_features_are_what_the_last_layer_receives():
    inputs = tf.keras.Input((5,))
    hidden = tf.keras.layers.Dense(7, activation="relu")(inputs)
    dropped = tf.keras.layers.Dropout(0.5)(hidden)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(3, activation="softmax")(dropped))
    X = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    out = comparison.penultimate_features(model, X)
    assert out.shape == (4, 7)
    np.testing.assert_allclose(out, tf.keras.Model(inputs, hidden)(X).numpy(), rtol=1e-6)
    assert comparison.penultimate_features(model, X[:0]).shape == (0, 7)


def test_class_counts_is_table_4():
    table = comparison.class_counts({"A": np.array([0, 0, 2]), "B": np.array([1])}, classes=[0, 1, 2])
    assert table.loc["A"].tolist() == [3, 2, 0, 1] and table.loc["B"].tolist() == [1, 0, 1, 0]


def test_repeated_tests_draw_the_smallest_count_and_skip_small_classes():
    rng = np.random.default_rng(1)
    counts = {"A": [30, 12, 3], "B": [25, 40, 3], "C": [40, 20, 3]}
    features, classes, reference, ref_labels = synthetic(rng, counts, {"A": 0.0, "B": 1.5, "C": 3.0})
    tests, sizes = comparison.repeated_tests(features, classes, reference, ref_labels, repetitions=5)
    sizes = sizes.set_index("cls")
    assert sizes.loc[0, "n"] == 25 and sizes.loc[1, "n"] == 12 and sizes.loc[2, "n"] == 3
    assert sizes.loc[comparison.ALL, "n"] == 45 and sizes.loc[comparison.ALL, "reference"] == 180
    assert not sizes.loc[2, "tested"] and sizes.loc[[0, 1, comparison.ALL], "tested"].all()
    assert not sizes.loc[5, "tested"] and sizes.loc[5, "n"] == 0  # a class nobody reaches
    assert set(tests["cls"]) == {0, 1, comparison.ALL}
    assert len(tests) == 3 * 5 * 2 * 3  # classes x repetitions x flavours x losses
    one = tests.groupby(["cls", "repetition", "flavour"])
    assert (one["selected"].sum() == 1).all()  # one selected model per test
    assert not tests.loc[tests["selected"], "rejected"].any()
    # A (no shift) models the reference best in class 0: selected in most repetitions
    r = comparison.rates(tests)
    assert r.loc[(0, "RelPSI", "A"), "selection"] >= 0.8
    assert r.loc[(0, "RelPSI", "C"), "rejection"] >= 0.8
    assert r["repetitions"].eq(5).all()
    again, _ = comparison.repeated_tests(features, classes, reference, ref_labels, repetitions=5)
    pd.testing.assert_frame_equal(tests.drop(columns="seconds"), again.drop(columns="seconds"))


def test_repeated_tests_name_bad_input():
    rng = np.random.default_rng(2)
    features, classes, reference, ref_labels = synthetic(rng, {"A": [10], "B": [10]}, {"A": 0.0, "B": 0.0})
    with pytest.raises(ValueError, match="at least 2 losses"):
        comparison.repeated_tests({"A": features["A"]}, {"A": classes["A"]}, reference, ref_labels)
    with pytest.raises(ValueError, match="cf_classes"):
        comparison.repeated_tests(features, {"A": classes["A"]}, reference, ref_labels)
    with pytest.raises(ValueError, match="repetitions"):
        comparison.repeated_tests(features, classes, reference, ref_labels, repetitions=0)
    with pytest.raises(ValueError, match="reference_classes"):
        comparison.repeated_tests(features, classes, reference, ref_labels[:-1])


def test_rejection_share_sums_over_classes_and_flavours():
    index = pd.MultiIndex.from_product(
        [[3, 8, 9], ["RelMulti", "RelPSI"], ["A", "B", "C"]], names=["cls", "flavour", "loss"]
    )
    rejection = np.zeros(len(index))
    frame = pd.DataFrame({"rejection": rejection}, index=index)
    frame.loc[(3, "RelMulti", "A"), "rejection"] = 0.2
    frame.loc[(3, "RelPSI", "C"), "rejection"] = 0.6
    frame.loc[(8, "RelPSI", "B"), "rejection"] = 0.2
    frame.loc[(9, "RelPSI", "C"), "rejection"] = 1.0  # class 9 is not summed below
    assert comparison.rejection_share(frame, [3, 8]) == pytest.approx(0.4)  # (0.2 + 0.2) / 1.0
    assert comparison.rejection_share(frame, [3, 8], losses=["C"]) == pytest.approx(0.6)
    assert comparison.rejection_share(frame, [3, 8, 9]) == pytest.approx(0.2)
    assert np.isnan(comparison.rejection_share(frame, []))
    assert np.isnan(comparison.rejection_share(frame.assign(rejection=0.0), [3, 8]))
    assert np.isnan(comparison.rejection_share(frame.iloc[:0], [3, 8]))  # no class tested
    with pytest.raises(ValueError, match="losses"):
        comparison.rejection_share(frame, [3], losses=["Z"])
