"""The MNIST autoencoders of IM1/IM2 (trained.mnist_class_autoencoders) on a few images, offline."""

import os
from pathlib import Path

import numpy as np
import pytest

from cgp_lib.repro import datasets, trained

DATA_DIR = Path(os.environ.get("CGP_DATA_DIR", ""))
needs_data = pytest.mark.skipif(not (DATA_DIR / "mnist.npz").is_file(), reason="offline MNIST not found")


@needs_data
def test_class_autoencoders_one_per_class_trained_on_that_class_and_cached(fresh_model_cache):
    m = trained.mnist_class_autoencoders(seed=3, epochs=1, classes=(0, 1), train_size=300)
    assert sorted(m.class_aes) == [0, 1]
    (x_train, y_train), _ = datasets.load_mnist()
    x, y = x_train[:300], y_train[:300]
    for c in (0, 1):
        assert m.class_aes[c].predict(x[:2], verbose=0).shape == (2, 28, 28, 1)
    assert m.ae_all is not m.class_aes[0]
    sidecars = sorted((fresh_model_cache / "models").glob("*.json"))
    assert len(sidecars) == 3  # two class autoencoders and the all-class one
    shapes = sorted(tuple(__import__("json").loads(p.read_text())["x_shape"])[0] for p in sidecars)
    assert shapes == sorted([int((y == 0).sum()), int((y == 1).sum()), 300])
    again = trained.mnist_class_autoencoders(seed=3, epochs=1, classes=(0, 1), train_size=300)
    for c in (0, 1):
        for w1, w2 in zip(m.class_aes[c].get_weights(), again.class_aes[c].get_weights()):
            np.testing.assert_array_equal(w1, w2)
    assert len(sorted((fresh_model_cache / "models").glob("*.json"))) == 3  # nothing retrained
    assert m.train_seconds > 0 and again.train_seconds == m.train_seconds  # recorded when trained


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(classes=(3, 3)), "classes"),
        (dict(classes=(10,)), "classes"),
        (dict(train_size=5), "train_size"),
    ],
)
def test_class_autoencoders_reject_bad_arguments(cache, kwargs, word):
    with pytest.raises(ValueError, match=word):
        trained.mnist_class_autoencoders(**kwargs)
