"""CounterfactualProto.save / load (cgp_lib.persistence): a loaded explainer gives bitwise the
results of the saved one for every prototype strategy, black boxes and categorical data; other
format versions and mismatched models raise errors that name the argument."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib import CounterfactualProto, persistence
from cgp_lib.prototypes import KMeansPrototypes, PrototypeStrategy

TIMES = {"wall_time_s", "time_to_first_s", "time_to_best_s"}


def assert_same_results(a, b):
    for f in dataclasses.fields(a):
        if f.name in TIMES:
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=f.name)  # NaN equals NaN here; bits otherwise
        else:
            assert x == y, f.name


def round_trip(explainer, tmp_path, X, **models):
    explainer.save(tmp_path / "saved")
    loaded = CounterfactualProto.load(tmp_path / "saved", **models)
    assert loaded.fitted == explainer.fitted
    kwargs = {} if explainer.prototypes is None or isinstance(explainer.prototypes, KMeansPrototypes) else {"k": 2}
    assert_same_results(explainer.explain(X, **kwargs), loaded.explain(X, **kwargs))
    return loaded


@pytest.fixture(scope="module")
def encoder_ae():
    tf.keras.utils.set_random_seed(1)
    enc = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2, activation="tanh")])
    dec = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(4)])
    return enc, tf.keras.Sequential([enc, dec])


SETTINGS = dict(beta=0.1, theta=5.0, max_iterations=60, c_init=1.0, c_steps=2)


def test_kdtree_prototypes_round_trip_bitwise(blobs, tmp_path):
    e = CounterfactualProto(
        blobs.model, (1, 4), use_kdtree=True, feature_range=blobs.feature_range, immutable=[3], **SETTINGS
    ).fit(blobs.X)
    loaded = round_trip(e, tmp_path, blobs.X_explain, predict=blobs.model)
    np.testing.assert_array_equal(loaded._mutable.numpy(), e._mutable.numpy())
    for a, b in zip(loaded.prototypes.class_instances, e.prototypes.class_instances):
        np.testing.assert_array_equal(a, b)


def test_encoder_prototypes_with_an_autoencoder_round_trip_bitwise(blobs, encoder_ae, tmp_path):
    enc, ae = encoder_ae
    e = CounterfactualProto(
        blobs.model, (1, 4), gamma=1.0, ae_model=ae, enc_model=enc, feature_range=blobs.feature_range, **SETTINGS
    ).fit(blobs.X)
    loaded = round_trip(e, tmp_path, blobs.X_explain, predict=blobs.model, ae_model=ae, enc_model=enc)
    assert loaded._decoder is ae.layers[1]  # the shared encoder pass, as in the saved one


@pytest.mark.parametrize("in_latent_space", [False, True])
def test_kmeans_prototypes_round_trip_bitwise(blobs, encoder_ae, tmp_path, in_latent_space):
    enc = encoder_ae[0] if in_latent_space else None
    e = CounterfactualProto(
        blobs.model,
        (1, 4),
        prototypes=KMeansPrototypes(n_clusters=2, enc_model=enc),
        feature_range=blobs.feature_range,
        **SETTINGS,
    ).fit(blobs.X)
    loaded = round_trip(e, tmp_path, blobs.X_explain, predict=blobs.model, enc_model=enc)
    for a, b in zip(loaded.prototypes.centroids_, e.prototypes.centroids_):
        np.testing.assert_array_equal(a, b)


def test_black_box_round_trip_bitwise(blobs, tmp_path):
    e = CounterfactualProto(
        blobs.black_box(), (1, 4), use_kdtree=True, feature_range=blobs.feature_range, **SETTINGS
    ).fit(blobs.X)
    round_trip(e, tmp_path, blobs.X_explain[:3], predict=blobs.black_box())
    with pytest.raises(ValueError, match="predict: the saved explainer was made with a black-box function"):
        CounterfactualProto.load(tmp_path / "saved", blobs.model)


@pytest.mark.parametrize("d_type", ["abdm", "mvdm"])
def test_categorical_round_trip_bitwise(one_hot_toy, tmp_path, d_type):
    X, cat_vars, model, _ = one_hot_toy
    e = CounterfactualProto(
        model, (1, 6), cat_vars=cat_vars, ohe=True, use_kdtree=True, feature_range=(-1.0, 1.0), **SETTINGS
    ).fit(X, d_type=d_type)
    loaded = round_trip(e, tmp_path, X[:6], predict=model)
    for c, values in e.catmap.embedding.items():
        np.testing.assert_array_equal(loaded.catmap.embedding[c], values)
    np.testing.assert_array_equal(loaded.lower, e.lower)  # the fitted (updated) range
    np.testing.assert_array_equal(loaded._init_bounds[0], e._init_bounds[0])


def test_an_unfitted_explainer_loads_unfitted(blobs, tmp_path):
    CounterfactualProto(blobs.model, (1, 4), use_kdtree=True, **SETTINGS).save(tmp_path / "e")
    loaded = CounterfactualProto.load(tmp_path / "e", blobs.model)
    assert not loaded.fitted
    meta = json.loads((tmp_path / "e" / "explainer.json").read_text())
    assert meta["format_version"] == persistence.FORMAT_VERSION and meta["prototypes"]["unfitted"]


def test_other_versions_missing_files_and_mismatched_models_are_refused(blobs, encoder_ae, tmp_path):
    enc, ae = encoder_ae
    folder = tmp_path / "e"
    CounterfactualProto(blobs.model, (1, 4), gamma=1.0, ae_model=ae, enc_model=enc, **SETTINGS).fit(blobs.X).save(
        folder
    )
    with pytest.raises(FileNotFoundError, match="path"):
        CounterfactualProto.load(tmp_path / "nothing", blobs.model)
    with pytest.raises(ValueError, match="enc_model: .* pass it"):
        CounterfactualProto.load(folder, blobs.model, ae_model=ae)
    with pytest.raises(ValueError, match="gamma"):
        CounterfactualProto.load(folder, blobs.model, enc_model=enc)  # gamma > 0 needs the autoencoder
    wide_enc = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"enc_model: its latent shape is \(3,\)"):
        CounterfactualProto.load(folder, blobs.model, ae_model=ae, enc_model=wide_enc)
    short_ae = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"ae_model: its output shape is \(3,\)"):
        CounterfactualProto.load(folder, blobs.model, ae_model=short_ae, enc_model=enc)
    four_classes = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(4, activation="softmax")])
    with pytest.raises(ValueError, match="predict: it returns 4 classes, the saved explainer 3"):
        CounterfactualProto.load(folder, four_classes, ae_model=ae, enc_model=enc)
    meta = json.loads((folder / "explainer.json").read_text())
    (folder / "explainer.json").write_text(json.dumps({**meta, "format_version": 2}))
    with pytest.raises(ValueError, match="format version 2"):
        CounterfactualProto.load(folder, blobs.model, ae_model=ae, enc_model=enc)


def test_an_unknown_strategy_cannot_be_saved(blobs, tmp_path):
    class Custom(PrototypeStrategy):
        def fit(self, X, labels, n_classes):
            return self

        def embed(self, x):
            return x

        def select(self, X, allowed, k=None, k_type="mean"):
            raise NotImplementedError

    e = CounterfactualProto(blobs.model, (1, 4), prototypes=Custom(), theta=1.0)
    with pytest.raises(TypeError, match="prototypes: a Custom cannot be saved"):
        e.save(tmp_path / "e")
