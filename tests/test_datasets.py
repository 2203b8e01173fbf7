"""Tests of cgp_lib.repro.datasets against the offline copies in ../shared/data (never the network)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from cgp_lib.repro import datasets

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA_DIR = Path(os.environ.get("CGP_DATA_DIR", SHARED_DATA))

needs_data = pytest.mark.skipif(not (DATA_DIR / "mnist.npz").is_file(), reason=f"offline data not found in {DATA_DIR}")


def _refuse_network(*args, **kwargs):
    raise AssertionError("the test tried to download")


@pytest.fixture
def offline(monkeypatch):
    """CGP_DATA_DIR -> the offline copies; every download path raises."""
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(DATA_DIR))
    monkeypatch.setattr(datasets, "_fetch_mnist", _refuse_network)
    monkeypatch.setattr(datasets, "_fetch_cifar10", _refuse_network)
    monkeypatch.setattr(datasets, "_download_adult", _refuse_network)


@pytest.fixture(scope="module")
def mnist():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(datasets.DATA_DIR_ENV, str(DATA_DIR))
        mp.setattr(datasets, "_fetch_mnist", _refuse_network)
        return datasets.load_mnist()


# ------------------------------------------------------------------------------ MNIST
@needs_data
def test_mnist_shapes_dtypes_and_range(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == np.float32(-0.5) and x.max() == np.float32(0.5)
    assert set(np.unique(y_train)) == set(range(10))


@needs_data
def test_mnist_scaling_is_x_over_255_minus_half(mnist):
    (x_train, _), _ = mnist
    # README: train pixel mean 33.32 (raw uint8 scale).
    assert x_train.mean(dtype=np.float64) == pytest.approx(33.32 / 255 - 0.5, abs=1e-4)
    with np.load(DATA_DIR / "mnist.npz") as raw:
        first = raw["x_train"][:100]
    np.testing.assert_array_equal(x_train[:100, ..., 0], first.astype(np.float32) / 255 - 0.5)


# ------------------------------------------------------------------------------ CIFAR-10
@needs_data
def test_cifar10_offline_copy(offline):
    (x_train, y_train), (x_test, y_test), (exact_train, exact_test) = datasets.load_cifar10(return_exact=True)
    assert x_train.shape == (10000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0 and x_train.max() == 1.0
    np.testing.assert_array_equal(
        np.bincount(y_train, minlength=10), [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]
    )
    assert y_test.shape == (10000,)
    assert exact_train.dtype == bool and exact_train.sum() == 1017
    assert exact_test.dtype == bool and exact_test.sum() == 4599
    # Without return_exact the same two splits come back.
    train, test = datasets.load_cifar10()
    np.testing.assert_array_equal(train[1], y_train)


def test_cifar10_from_keras_has_all_exact_masks(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path))  # no cifar10.npz here
    fake_x = np.full((3, 32, 32, 3), 255, dtype=np.uint8)
    fake_y = np.array([[1], [2], [3]], dtype=np.uint8)

    def fake_keras_load():
        return (fake_x, fake_y), (fake_x[:2], fake_y[:2])

    import tensorflow as tf

    monkeypatch.setattr(tf.keras.datasets.cifar10, "load_data", fake_keras_load)
    (x_train, y_train), (x_test, _), (exact_train, exact_test) = datasets.load_cifar10(True)
    assert x_train.shape == (3, 32, 32, 3) and np.all(x_train == 1.0)
    np.testing.assert_array_equal(y_train, [1, 2, 3])
    assert exact_train.all() and exact_test.all() and exact_test.shape == (2,)


# ------------------------------------------------------------------------------ Breast cancer
def test_breast_cancer_split_and_standardisation():
    data = datasets.load_breast_cancer()
    (x_train, y_train), (x_test, y_test), feature_names = data
    assert x_train.shape == (550, 30) and x_test.shape == (19, 30)
    assert y_train.shape == (550,) and y_test.shape == (19,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert len(feature_names) == 30 and feature_names[0] == "mean radius"
    np.testing.assert_allclose(x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(x_train.std(axis=0), 1.0, atol=1e-5)
    # The split is positional: the test set is the last 19 rows of scikit-learn's data.
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer()
    np.testing.assert_allclose(x_test * data.std + data.mean, raw.data[550:], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(y_test, raw.target[550:])


def test_breast_cancer_unstandardised_is_raw():
    (x_train, _), _, _ = datasets.load_breast_cancer(standardize=False)
    from sklearn.datasets import load_breast_cancer

    np.testing.assert_array_equal(x_train, load_breast_cancer().data[:550].astype(np.float32))


# ------------------------------------------------------------------------------ Adult
@needs_data
def test_adult_shape_and_category_maps(offline):
    adult = datasets.load_adult()
    assert adult.data.shape == (32561, 12) and adult.target.shape == (32561,)
    assert adult.feature_names == [
        "Age",
        "Workclass",
        "Education",
        "Marital Status",
        "Occupation",
        "Relationship",
        "Race",
        "Sex",
        "Capital Gain",
        "Capital Loss",
        "Hours per week",
        "Country",
    ]
    assert sorted(adult.category_map) == [1, 2, 3, 4, 5, 6, 7, 11]
    assert adult.category_map[3] == ["Married", "Never-Married", "Separated", "Widowed"]
    assert adult.category_map[7] == ["Female", "Male"]
    assert adult.category_map[2] == [
        "Associates",
        "Bachelors",
        "Doctorate",
        "Dropout",
        "High School grad",
        "Masters",
        "Prof-School",
    ]
    assert "?" in adult.category_map[1] and "?" in adult.category_map[4]
    assert adult.target_names == ["<=50K", ">50K"]
    assert set(np.unique(adult.target)) == {0, 1}
    assert adult.target.sum() == 7841  # rows labelled >50K in adult.data
    for column, categories in adult.category_map.items():
        assert adult.data[:, column].min() == 0
        assert adult.data[:, column].max() == len(categories) - 1


@needs_data
def test_adult_first_row_by_hand(offline):
    # Raw first row: 39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical,
    # Not-in-family, White, Male, 2174, 0, 40, United-States, <=50K
    adult = datasets.load_adult()
    decoded = [adult.category_map[j][v] if j in adult.category_map else v for j, v in enumerate(adult.data[0])]
    assert decoded == [
        39,
        "State-gov",
        "Bachelors",
        "Never-Married",
        "Admin",
        "Not-in-family",
        "White",
        "Male",
        2174,
        0,
        40,
        "United-States",
    ]
    assert adult.target[0] == 0


@needs_data
def test_adult_matches_alibi_fetch_adult_on_the_same_file(offline, monkeypatch):
    alibi_default = pytest.importorskip("alibi.datasets.default")

    class LocalResponse:
        text = (DATA_DIR / "adult.data").read_text()

        def raise_for_status(self):
            return None

    monkeypatch.setattr(alibi_default.requests, "get", lambda *a, **k: LocalResponse())
    expected = alibi_default.fetch_adult()
    ours = datasets.load_adult()
    np.testing.assert_array_equal(ours.data, expected.data)
    assert ours.data.dtype == expected.data.dtype
    np.testing.assert_array_equal(ours.target, expected.target)
    assert ours.feature_names == expected.feature_names
    assert ours.category_map == expected.category_map
    assert ours.target_names == expected.target_names


# ------------------------------------------------------------------------------ resolution
def test_fetch_is_used_when_data_dir_unset(monkeypatch):
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    fake = np.zeros((2, 28, 28), np.uint8)
    fake[0, 0, 0] = 255
    monkeypatch.setattr(
        datasets, "_fetch_mnist", lambda: ((fake, np.array([3, 4], np.uint8)), (fake, np.array([5, 6])))
    )
    (x_train, y_train), (_, y_test) = datasets.load_mnist()
    assert x_train.shape == (2, 28, 28, 1) and x_train[0, 0, 0, 0] == 0.5
    np.testing.assert_array_equal(y_train, [3, 4])
    assert y_test.dtype == np.int64


@pytest.mark.parametrize(
    "loader, file_name, fetcher",
    [
        (datasets.load_mnist, "mnist.npz", "_fetch_mnist"),
        (datasets.load_cifar10, "cifar10.npz", "_fetch_cifar10"),
        (datasets.load_adult, "adult.data", "_download_adult"),
    ],
)
def test_missing_file_and_failed_download_raise_helpful_error(monkeypatch, tmp_path, loader, file_name, fetcher):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(empty))
    monkeypatch.setenv("CGP_CACHE_DIR", str(tmp_path / "cache"))  # no cached adult.data there

    def no_network(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(datasets, fetcher, no_network)
    with pytest.raises(FileNotFoundError) as info:
        loader()
    message = str(info.value)
    assert file_name in message and "CGP_DATA_DIR" in message and str(empty) in message


def test_adult_uses_the_download_cache_before_downloading(monkeypatch, tmp_path):
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("CGP_CACHE_DIR", str(tmp_path / "cache"))
    downloads = []

    def fake_download(destination):
        downloads.append(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(
            "25, Private, 1, 11th, 7, Never-married, Sales, Own-child, Black, Male, 0, 0, 40, "
            "United-States, <=50K\n"
            "52, ?, 2, Masters, 14, Divorced, ?, Unmarried, White, Female, 0, 0, 30, "
            "?, >50K\n\n"
        )

    monkeypatch.setattr(datasets, "_download_adult", fake_download)
    first = datasets.load_adult()
    second = datasets.load_adult()
    assert downloads == [tmp_path / "cache" / "downloads" / "adult.data"]  # once, then cached
    np.testing.assert_array_equal(first.data, second.data)
    np.testing.assert_array_equal(first.target, [0, 1])
    assert first.category_map[1] == ["?", "Private"]
    assert first.category_map[2] == ["Dropout", "Masters"]
    assert first.category_map[3] == ["Never-Married", "Separated"]


def test_adult_split_like_alibis_example(offline):
    split = datasets.adult_split()
    assert split.x_train_ohe.shape == (30000, 57) and split.x_test_ohe.shape == (2560, 57)
    assert split.x_train_ord.shape == (30000, 12)
    assert split.cat_vars_ohe == {0: 9, 9: 7, 16: 4, 20: 9, 29: 6, 35: 5, 40: 2, 42: 11}
    assert split.feature_names[:2] == ["Workclass", "Education"] and split.feature_names[8] == "Age"
    for col, n_cat in split.cat_vars_ord.items():  # one-hot blocks encode the ordinal codes
        start = list(split.cat_vars_ohe)[col]
        np.testing.assert_array_equal(split.x_train_ohe[:, start : start + n_cat].argmax(1), split.x_train_ord[:, col])
    assert split.x_train_ord[:, 8:].min() >= -1 and split.x_train_ord[:, 8:].max() <= 1
    raw = split.unscale(split.x_train_ord[:5])
    np.testing.assert_allclose(raw[:, 8:], np.round(raw[:, 8:]), atol=1e-3)  # ages, dollars, hours are integers
