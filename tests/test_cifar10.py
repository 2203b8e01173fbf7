"""The CIFAR-10 set-up: models trained and cached by cgp_lib.repro.trained, and the search on 32×32×3."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.explainer import CounterfactualProto
from cgp_lib.repro import datasets, experiments, models, trained

DATA_DIR = Path(os.environ.get("CGP_DATA_DIR", ""))
needs_data = pytest.mark.skipif(not (DATA_DIR / "cifar10.npz").is_file(), reason="offline CIFAR-10 not found")


@needs_data
def test_cifar10_models_shapes_cache_keys_and_reuse(fresh_model_cache):
    m = trained.cifar10_models(seed=2, cnn_epochs=1, ae_epochs=1, width=4, train_size=64)
    x = datasets.load_cifar10()[0][0][:3]
    assert m.cnn.predict(x, verbose=0).shape == (3, 10)
    assert m.enc.predict(x, verbose=0).shape == (3, 16, 16, 3)
    assert m.ae.predict(x, verbose=0).shape == (3, 32, 32, 3)
    sidecars = {p.name.split("-")[0]: json.loads(p.read_text()) for p in (fresh_model_cache / "models").glob("*.json")}
    assert set(sidecars) == {"cifar10_cnn", "cifar10_autoencoder"}
    assert sidecars["cifar10_cnn"]["inputs"]["augmentation"] == "flip-shift"
    assert sidecars["cifar10_cnn"]["x_shape"] == [64, 32, 32, 3] and sidecars["cifar10_cnn"]["y_shape"] == [64, 10]
    assert "augmentation" not in sidecars["cifar10_autoencoder"]["inputs"]
    assert m.cnn_train_seconds > 0 and len(m.cnn_history["loss"]) == 1
    again = trained.cifar10_models(seed=2, cnn_epochs=1, ae_epochs=1, width=4, train_size=64)
    for a, b in zip(m.cnn.get_weights() + m.ae.get_weights(), again.cnn.get_weights() + again.ae.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(list((fresh_model_cache / "models").glob("*.json"))) == 2  # loaded, not retrained
    other = trained.cifar10_models(seed=3, cnn_epochs=1, ae_epochs=1, width=4, train_size=64)
    assert not np.array_equal(other.cnn.get_weights()[0], m.cnn.get_weights()[0])
    assert len(list((fresh_model_cache / "models").glob("*.json"))) == 4
    with pytest.raises(ValueError, match="train_size"):
        trained.cifar10_models(train_size=5)
    with pytest.raises(ValueError, match="cnn_epochs"):
        trained.cifar10_models(cnn_epochs=0)


@needs_data
def test_cifar10_class_autoencoders_train_on_their_class(fresh_model_cache):
    metric = trained.cifar10_class_autoencoders(seed=1, epochs=1, classes=(3, 5), train_size=200)
    y = datasets.load_cifar10()[0][1][:200]
    sizes = sorted(json.loads(p.read_text())["x_shape"][0] for p in (fresh_model_cache / "models").glob("*.json"))
    assert sizes == sorted([int((y == 3).sum()), int((y == 5).sum()), 200])
    assert sorted(metric.class_aes) == [3, 5] and metric.ae_all.output_shape == (None, 32, 32, 3)
    with pytest.raises(ValueError, match="classes"):
        trained.cifar10_class_autoencoders(classes=(3, 3))


def _colour_classifier(centres: np.ndarray, scale: float = 20.0) -> tf.keras.Model:
    """Nearest mean colour on 32×32×3 images: softmax of −scale·‖mean colour − centre_k‖².

    (−‖m − c‖² = 2 m·c − ‖c‖² − ‖m‖², and the last term is the same for every class.)
    """
    model = tf.keras.Sequential(
        [
            tf.keras.Input((32, 32, 3)),
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dense(len(centres), activation="softmax"),
        ]
    )
    model.layers[-1].set_weights([2 * scale * centres.T, -scale * (centres**2).sum(axis=1)])
    return model


def test_batched_search_on_32x32x3_equals_each_image_alone():
    """Loss D (L_pred, L_AE, encoder L_proto) on CIFAR-shaped images, the chapter's settings."""
    rng = np.random.default_rng(0)
    centres = rng.uniform(size=(10, 3)).astype(np.float32)
    cnn = _colour_classifier(centres)
    ae, enc, _ = models.cifar10_autoencoder(seed=0)
    colours = centres[np.arange(400) % 10][:, None, None, :] + rng.normal(scale=0.1, size=(400, 1, 1, 3))
    fit = np.clip(colours + rng.normal(scale=0.05, size=(400, 32, 32, 3)), 0, 1).astype(np.float32)
    assert len(np.unique(cnn.predict(fit, verbose=0).argmax(1))) == 10  # every class has a prototype
    X = fit[:6]
    common, losses = experiments.cifar10_settings(max_iterations=30, c_steps=2, names="D")
    explainer = experiments.build_explainer(
        experiments.SeedModels(classifier=cnn, class_aes={}, ae_all=None, ae=ae, enc=enc, key="test"),
        losses["D"],
        (1, 32, 32, 3),
        fit,
        prototypes="encoder",
        block_rows=16,
        **common,
    )
    assert isinstance(explainer, CounterfactualProto)
    lower, upper = explainer.feature_range
    assert np.all(np.asarray(lower) == 0.0) and np.all(np.asarray(upper) == 1.0)
    batch = explainer.explain(X, k=losses["D"]["k"], stop="satisfactory")
    alone = [explainer.explain(X[i : i + 1], k=losses["D"]["k"], stop="satisfactory") for i in range(len(X))]
    assert batch.found.sum() >= 3  # the search does something on these models
    for name in ("found", "cf_class", "proto_class", "steps_to_first", "steps_to_best", "c"):
        np.testing.assert_array_equal(getattr(batch, name), np.concatenate([getattr(a, name) for a in alone]))
    np.testing.assert_array_equal(batch.cf, np.concatenate([a.cf for a in alone]))
    assert 0.0 <= batch.cf.min() and batch.cf.max() <= 1.0
