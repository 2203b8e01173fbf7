"""Tests of cgp_lib.repro.models: architectures, the upsampling layer and cached training."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.repro import models

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------------------ builders
@pytest.mark.parametrize(
    "build, input_shape, output_shape",
    [
        (models.mnist_cnn, (28, 28, 1), (10,)),
        (models.breast_cancer_mlp, (30,), (2,)),
        (models.cifar10_cnn, (32, 32, 3), (10,)),
    ],
)
def test_classifiers_output_probabilities(build, input_shape, output_shape):
    model = build(seed=0)
    assert model.optimizer is not None  # compiled
    x = RNG.uniform(-0.5, 0.5, size=(5, *input_shape)).astype(np.float32)
    probabilities = model(x, training=False).numpy()
    assert probabilities.shape == (5, *output_shape)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize(
    "build, input_shape, latent_shape",
    [
        (models.mnist_autoencoder, (28, 28, 1), (14, 14, 1)),
        (models.mnist_class_autoencoder, (28, 28, 1), (4, 4, 8)),
        (models.breast_cancer_autoencoder, (30,), (6,)),
        (models.cifar10_autoencoder, (32, 32, 3), (16, 16, 3)),
        (models.cifar10_class_autoencoder, (32, 32, 3), (4, 4, 8)),
    ],
)
def test_autoencoders_are_sequential_enc_dec(build, input_shape, latent_shape):
    ae, enc, dec = build(seed=0)
    assert ae.layers[0] is enc and ae.layers[1] is dec and len(ae.layers) == 2
    assert ae.optimizer is not None and ae.loss == "mse"
    x = RNG.normal(size=(3, *input_shape)).astype(np.float32)
    latent = enc(x).numpy()
    assert latent.shape == (3, *latent_shape)
    reconstruction = ae(x).numpy()
    assert reconstruction.shape == (3, *input_shape)
    np.testing.assert_allclose(reconstruction, dec(latent).numpy(), rtol=1e-6, atol=1e-6)


def test_mnist_cnn_layer_sequence_matches_appendix_b():
    model = models.mnist_cnn(seed=0)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Conv2D",
        "MaxPooling2D",
        "Dropout",
        "Conv2D",
        "MaxPooling2D",
        "Dropout",
        "Flatten",
        "Dense",
        "Dropout",
        "Dense",
    ]
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size, c.padding) for c in convs] == [(64, (2, 2), "same"), (32, (2, 2), "same")]
    assert [layer.rate for layer in model.layers if isinstance(layer, tf.keras.layers.Dropout)] == [0.3, 0.3, 0.5]
    assert model.count_params() == 412778


def test_seed_fixes_initial_weights():
    first, second, other = (models.breast_cancer_mlp(seed=s) for s in (3, 3, 4))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.get_weights()[0], other.get_weights()[0])
    # Kernels of different layers are not initialised from the same stream position.
    ae, _, _ = models.breast_cancer_autoencoder(seed=3)
    kernels = [w for w in ae.get_weights() if w.ndim == 2]
    assert not np.allclose(kernels[0][:10, :10], kernels[-1][:10, :10])


# ------------------------------------------------------------------------------ upsampling
@pytest.mark.parametrize("size, shape", [(2, (4, 7, 5, 3)), ((2, 3), (2, 3, 4, 2))])
def test_nearest_upsampling_equals_keras_upsampling(size, shape):
    x = tf.constant(RNG.normal(size=shape).astype(np.float32))
    ours = models.NearestUpsampling2D(size)
    reference = tf.keras.layers.UpSampling2D(size, interpolation="nearest")
    out_shape = reference.compute_output_shape(shape)
    # Integer upstream weights make every gradient an exact sum, whatever the order.
    integer_weights = tf.constant(RNG.integers(-8, 9, size=out_shape).astype(np.float32))
    float_weights = tf.constant(RNG.normal(size=out_shape).astype(np.float32))

    def value_and_grads(layer):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = layer(x)
            exact_loss = tf.reduce_sum(y * integer_weights)
            float_loss = tf.reduce_sum(tf.square(y) * float_weights)
        return (y.numpy(), tape.gradient(exact_loss, x).numpy(), tape.gradient(float_loss, x).numpy())

    y_ours, exact_ours, float_ours = value_and_grads(ours)
    y_ref, exact_ref, float_ref = value_and_grads(reference)
    np.testing.assert_array_equal(y_ours, y_ref)
    np.testing.assert_array_equal(exact_ours, exact_ref)
    np.testing.assert_allclose(float_ours, float_ref, rtol=1e-6, atol=1e-6)
    assert tuple(ours.compute_output_shape(shape)) == tuple(out_shape)


def test_nearest_upsampling_in_graph_with_unknown_batch():
    layer = models.NearestUpsampling2D(2)
    fn = tf.function(layer, input_signature=[tf.TensorSpec([None, 3, 3, 2], tf.float32)])
    x = RNG.normal(size=(5, 3, 3, 2)).astype(np.float32)
    expected = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(fn(x).numpy(), expected)
    assert fn.get_concrete_function().structured_outputs.shape.as_list() == [None, 6, 6, 2]


@pytest.mark.parametrize("file_name", ["ae.keras", "ae.h5"])
def test_model_with_nearest_upsampling_saves_and_loads(tmp_path, file_name):
    ae, _, _ = models.mnist_autoencoder(seed=1)
    x = RNG.uniform(-0.5, 0.5, size=(2, 28, 28, 1)).astype(np.float32)
    path = tmp_path / file_name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "HDF5 is a legacy format"
        ae.save(path)
    loaded = tf.keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), ae.predict(x, verbose=0))
    decoder_layers = [type(layer) for layer in loaded.layers[1].layers]
    assert models.NearestUpsampling2D in decoder_layers
    assert models.NearestUpsampling2D(3).get_config()["size"] == [3, 3]


# ------------------------------------------------------------------------------ train_cached
def _tabular(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 30)).astype(np.float32)
    y = tf.keras.utils.to_categorical(rng.integers(0, 2, size=n), 2)
    return x, y


def test_train_cached_trains_once_then_loads(tmp_path):
    x, y = _tabular()
    first = models.train_cached(models.breast_cancer_mlp, x, y, epochs=2, batch_size=16, seed=7, cache_dir=tmp_path)
    second = models.train_cached(models.breast_cancer_mlp, x, y, epochs=2, batch_size=16, seed=7, cache_dir=tmp_path)
    assert not first.from_cache and second.from_cache
    assert first.key == second.key and second.weights_path == first.weights_path
    assert first.weights_path.is_file()
    np.testing.assert_array_equal(first.model.predict(x, verbose=0), second.model.predict(x, verbose=0))
    # Training changed the weights away from the seed's initialisation.
    initial = models.breast_cancer_mlp(seed=7).get_weights()[0]
    assert not np.array_equal(initial, second.model.get_weights()[0])
    assert len(first.history["loss"]) == 2 and second.history == first.history
    sidecar = json.loads(
        first.weights_path.with_name(first.weights_path.name.replace(".weights.npz", ".json")).read_text()
    )
    assert sidecar["key"] == first.key
    assert sidecar["inputs"]["seed"] == 7 and sidecar["inputs"]["epochs"] == 2
    assert sidecar["history"]["loss"] == first.history["loss"]


def test_train_cached_loads_weights_into_all_parts(tmp_path):
    x, _ = _tabular(n=32)
    first = models.train_cached(
        models.breast_cancer_autoencoder, x, x, epochs=1, batch_size=16, seed=1, cache_dir=tmp_path
    )
    second = models.train_cached(
        models.breast_cancer_autoencoder, x, x, epochs=1, batch_size=16, seed=1, cache_dir=tmp_path
    )
    assert second.from_cache and len(second.parts) == 3
    ae, enc, dec = second.parts
    assert ae is second.model
    np.testing.assert_array_equal(enc.predict(x, verbose=0), first.parts[1].predict(x, verbose=0))
    np.testing.assert_array_equal(dec.predict(enc.predict(x, verbose=0), verbose=0), ae.predict(x, verbose=0))


def test_cache_key_depends_on_seed_data_and_schedule_not_on_layer_names():
    x, y = _tabular()

    def key(build_seed=0, seed=0, data=x, epochs=1, batch_size=8):
        model = models.breast_cancer_mlp(seed=build_seed)
        return models.training_cache_key(model, data, y, epochs=epochs, batch_size=batch_size, seed=seed)

    reference = key()
    assert key() == reference  # a rebuilt model gets new automatic layer names
    assert key(seed=1, build_seed=1) != reference
    changed = x.copy()
    changed[0, 0] += 1.0
    assert key(data=changed) != reference
    assert key(epochs=2) != reference and key(batch_size=16) != reference


def test_train_cached_retrains_under_a_new_seed(tmp_path):
    x, y = _tabular(n=24)
    first = models.train_cached(models.breast_cancer_mlp, x, y, epochs=1, batch_size=8, seed=0, cache_dir=tmp_path)
    other = models.train_cached(models.breast_cancer_mlp, x, y, epochs=1, batch_size=8, seed=1, cache_dir=tmp_path)
    assert not other.from_cache and other.key != first.key
    assert len(list(tmp_path.glob("*.weights.npz"))) == 2


def test_train_cached_uses_env_cache_dir_and_rejects_uncompiled(tmp_path, monkeypatch):
    monkeypatch.setenv(models.CACHE_DIR_ENV, str(tmp_path / "env-cache"))
    x, y = _tabular(n=16)
    trained = models.train_cached(models.breast_cancer_mlp, x, y, epochs=1, batch_size=8, seed=0, name="tiny")
    assert trained.weights_path.parent == tmp_path / "env-cache" / "models"
    assert trained.weights_path.name.startswith("tiny-")

    def uncompiled(seed):
        return tf.keras.Sequential([tf.keras.Input((30,)), tf.keras.layers.Dense(2)])

    with pytest.raises(ValueError, match="compiled"):
        models.train_cached(uncompiled, x, y, epochs=1, batch_size=8, seed=0, cache_dir=tmp_path)


def test_train_cached_is_reproducible_for_a_seed(tmp_path):
    x, y = _tabular(n=32)
    runs = [
        models.train_cached(
            models.breast_cancer_mlp, x, y, epochs=2, batch_size=8, seed=5, cache_dir=tmp_path / f"run{i}"
        )
        for i in range(2)
    ]
    assert not runs[0].from_cache and not runs[1].from_cache
    for a, b in zip(runs[0].model.get_weights(), runs[1].model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_adult_ordinal_model_equals_one_hot_model(tmp_path):
    from cgp_lib.categorical import ord_to_ohe

    ohe_model = models.adult_mlp(seed=0, n_features=7)
    ordinal = models.adult_ordinal_model(ohe_model, {0: 3, 2: 2}, 4)
    X_ord = np.array([[0, 0.5, 1, -0.2], [2, -1.0, 0, 0.3]], np.float32)
    X_ohe, _ = ord_to_ohe(X_ord, {0: 3, 2: 2})
    np.testing.assert_allclose(ordinal.predict(X_ord, verbose=0), ohe_model.predict(X_ohe, verbose=0), atol=1e-6)
    path = tmp_path / "ordinal.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "HDF5 is a legacy format"
        tf.keras.models.save_model(ordinal, str(path), save_format="h5")
    reloaded = tf.keras.models.load_model(str(path), compile=False)
    np.testing.assert_allclose(reloaded.predict(X_ord, verbose=0), ordinal.predict(X_ord, verbose=0), atol=1e-6)


# ------------------------------------------------------------------------------ CIFAR-10
def test_cifar10_cnn_width_sets_the_filters_and_enters_the_cache_key():
    narrow, wide = models.cifar10_cnn(seed=0, width=8), models.cifar10_cnn(seed=0, width=16)
    filters = [layer.filters for layer in narrow.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert filters == [8, 8, 16, 16, 32, 32]
    x = np.zeros((4, 32, 32, 3), np.float32)
    y = np.eye(10, dtype=np.float32)[:4]
    kw = dict(epochs=1, batch_size=4, seed=0)
    assert models.training_cache_key(narrow, x, y, **kw) != models.training_cache_key(wide, x, y, **kw)
    with pytest.raises(ValueError, match="width"):
        models.cifar10_cnn(seed=0, width=0)


def test_augmentation_enters_the_key_only_when_used():
    model = models.cifar10_cnn(seed=0, width=4)
    x = np.zeros((4, 32, 32, 3), np.float32)
    y = np.eye(10, dtype=np.float32)[:4]
    kw = dict(epochs=1, batch_size=4, seed=0)
    plain = models.training_cache_key(model, x, y, **kw)
    assert models.training_cache_key(model, x, y, augmentation=None, **kw) == plain
    assert models.training_cache_key(model, x, y, augmentation="flip-shift", **kw) != plain


def test_flip_shift_moves_pixels_and_keeps_values_and_labels():
    tf.keras.utils.set_random_seed(0)
    image = tf.constant(RNG.uniform(size=(32, 32, 3)).astype(np.float32))
    label = tf.constant([0.0, 1.0])
    outputs = [models.AUGMENTATIONS["flip-shift"](image, label) for _ in range(8)]
    for out, out_label in outputs:
        assert out.shape == (32, 32, 3)
        np.testing.assert_array_equal(out_label.numpy(), label.numpy())
        # Every output pixel is one of the image's pixels (reflected border, no interpolation).
        assert np.isin(out.numpy().ravel(), image.numpy().ravel()).all()
    assert any(not np.array_equal(out.numpy(), image.numpy()) for out, _ in outputs)


def test_train_cached_with_augmentation_is_reproducible_and_cached(tmp_path):
    x = RNG.uniform(size=(16, 32, 32, 3)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[RNG.integers(0, 10, 16)]

    def build(seed):
        return models.cifar10_cnn(seed=seed, width=4)

    kw = dict(epochs=1, batch_size=8, seed=3, augmentation="flip-shift")
    a = models.train_cached(build, x, y, cache_dir=tmp_path / "a", **kw)
    b = models.train_cached(build, x, y, cache_dir=tmp_path / "b", **kw)
    again = models.train_cached(build, x, y, cache_dir=tmp_path / "a", **kw)
    assert not a.from_cache and not b.from_cache and again.from_cache
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert json.loads(a.weights_path.with_suffix("").with_suffix(".json").read_text())["inputs"]["augmentation"] == (
        "flip-shift"
    )
    with pytest.raises(ValueError, match="augmentation"):
        models.train_cached(build, x, y, epochs=1, batch_size=8, seed=3, augmentation="mixup", cache_dir=tmp_path)
