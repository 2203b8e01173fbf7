"""Shared fixtures: environment defaults and a small trained classifier.

The environment variables are set before TensorFlow is imported anywhere in the
test session (pytest imports conftest.py first).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("CGP_DATA_DIR", str((REPO / ".." / "shared" / "data").resolve()))
os.environ.setdefault("CGP_CACHE_DIR", str(REPO / ".cache"))  # as the Makefile does
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.pop("CGP_ALIBI_CACHE_DIR", None)  # the tests run alibi; a test opts into the cache itself

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from cgp_lib.reference import runner as alibi_reference  # noqa: E402

# Every alibi run of the test session goes to one kept graph-mode worker, started at the first
# call: a new process per call would pay interpreter start-up and the TF and alibi imports.
alibi_reference.keep_worker()


@pytest.fixture()
def fresh_model_cache(tmp_path, monkeypatch):
    """An empty CGP_CACHE_DIR for the test: every model it asks for is trained (then cached there)."""
    monkeypatch.setenv("CGP_CACHE_DIR", str(tmp_path))
    return tmp_path


BLOB_CENTERS = np.array([[0.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0]])
BLOB_PER_CLASS = 60
# Rows of the blob data explained by the explainer tests: two of each class.
EXPLAIN_ROWS = [0, 1, 60, 61, 120, 121]


def make_blobs(seed: int = 0):
    """3 Gaussian blobs (unit variance) in 4 dimensions, 60 points each, float32."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([c + rng.normal(size=(BLOB_PER_CLASS, 4)) for c in BLOB_CENTERS])
    y = np.repeat(np.arange(len(BLOB_CENTERS)), BLOB_PER_CLASS)
    return X.astype(np.float32), y


class Blobs:
    """The blob data, a classifier trained on it and the data's feature range."""

    def __init__(self, X, y, model):
        self.X, self.y, self.model = X, y, model
        self.feature_range = (X.min(axis=0), X.max(axis=0))
        self.X_explain = X[EXPLAIN_ROWS]

    def black_box(self):
        """The same model as a plain numpy function (gradients by finite differences)."""
        model = self.model
        return lambda x: model(x).numpy()


@pytest.fixture(scope="session")
def blobs() -> Blobs:
    """A Dense(16, tanh) - Dense(3, softmax) classifier trained (seeded) on the blobs; ~1 s."""
    X, y = make_blobs(0)
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((4,)),
            tf.keras.layers.Dense(16, activation="tanh"),
            tf.keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(X, y, epochs=30, batch_size=32, verbose=0)
    accuracy = float(np.mean(model(X).numpy().argmax(axis=1) == y))
    assert accuracy > 0.95, f"blob classifier under-trained: accuracy {accuracy}"
    return Blobs(X, y, model)


@pytest.fixture(scope="session")
def one_hot_toy():
    """(X one-hot, cat_vars, model, y): class 1 when colour is 2 or the number is large; the network
    sees one-hot colours (columns 0-2), a number (3) and a one-hot size (4-5)."""
    from cgp_lib.categorical import ord_to_ohe

    rng = np.random.default_rng(0)
    n = 600
    colour = rng.integers(0, 3, n)
    size = rng.integers(0, 2, n)
    number = rng.uniform(-1, 1, n)
    y = ((colour == 2) | (number > 0.6)).astype(int)
    X_ord = np.stack([colour, number, size], axis=1).astype(np.float32)
    X_ohe, cat_vars_ohe = ord_to_ohe(X_ord, {0: 3, 2: 2})
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((6,)),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile("adam", "categorical_crossentropy")
    model.fit(X_ohe, tf.keras.utils.to_categorical(y, 2), epochs=40, batch_size=64, verbose=0)
    return X_ohe, cat_vars_ohe, model, y
