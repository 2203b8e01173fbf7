"""The shared cache helpers: folder per kind, content digests, atomic writes."""

import os

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.repro import cache


def test_cache_dir_is_a_sub_folder_of_the_configured_base(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_DIR_ENV, str(tmp_path))
    assert cache.cache_dir("models") == tmp_path / "models"
    monkeypatch.setenv(cache.CACHE_DIR_ENV, "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir("experiments") == tmp_path / "home" / ".cache" / "cgp_lib" / "experiments"
    for bad in ("", "a/b", None):
        with pytest.raises(ValueError, match="kind"):
            cache.cache_dir(bad)


def test_array_digest_depends_on_values_dtype_and_shape_not_on_memory_layout():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert cache.array_digest(a) == cache.array_digest(np.asfortranarray(a))  # same values, C order
    assert cache.array_digest(a) == cache.array_digest(a.copy())
    assert cache.array_digest(a) != cache.array_digest(a.astype(np.float64))
    assert cache.array_digest(a) != cache.array_digest(a.reshape(4, 3))
    b = a.copy()
    b[2, 3] += 1e-6
    assert cache.array_digest(a) != cache.array_digest(b)
    assert cache.array_digest(np.float32(1.5)) == cache.array_digest(np.array(1.5, dtype=np.float32))


def test_weights_digest_follows_the_weights():
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
    before = cache.weights_digest(model)
    assert cache.weights_digest(model) == before
    model.set_weights([w + 1 for w in model.get_weights()])
    assert cache.weights_digest(model) != before
    with pytest.raises(TypeError, match="model"):
        cache.weights_digest(lambda x: x)


def test_atomic_write_creates_the_folder_and_leaves_nothing_on_failure(tmp_path):
    path = tmp_path / "deep" / "entry.npz"
    cache.atomic_write(path, lambda handle: np.savez(handle, x=np.arange(3)))
    with np.load(path) as stored:
        np.testing.assert_array_equal(stored["x"], [0, 1, 2])

    def fail(handle):
        handle.write(b"half an entry")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        cache.atomic_write(tmp_path / "deep" / "broken.npz", fail)
    assert sorted(os.listdir(tmp_path / "deep")) == ["entry.npz"]  # no partial file, no entry
    cache.atomic_write(tmp_path / "note.txt", lambda handle: handle.write("text"), mode="w")
    assert (tmp_path / "note.txt").read_text() == "text"
    with pytest.raises(ValueError, match="mode"):
        cache.atomic_write(tmp_path / "x", lambda handle: None, mode="a")
