"""Loaders for the data sets of the paper, offline first.

Van Looveren & Klaise (2021) evaluate on MNIST (section 4.2), the Breast Cancer
Wisconsin (Diagnostic) data (section 4.3, appendix A) and show categorical examples
on Adult (Census) (section 4.4); CIFAR-10 is used by this project's extensions.

Every loader that needs a file finds it in the same order (see
``_load_from_data_dir_or_fetch``):

1. the folder named by the environment variable ``CGP_DATA_DIR``
   (``mnist.npz``, ``cifar10.npz``, ``adult.data``);
2. the library's usual cached download: ``tf.keras.datasets`` for MNIST and
   CIFAR-10, ``$CGP_CACHE_DIR/downloads/adult.data`` (downloaded from UCI if absent) for Adult;
3. if both fail, a :class:`FileNotFoundError` that says which file to put where.

The Breast Cancer data ship with scikit-learn and need no file.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import numpy as np
import pandas as pd

from . import cache

__all__ = [
    "DATA_DIR_ENV",
    "ADULT_URL",
    "AdultData",
    "BreastCancerData",
    "load_mnist",
    "load_cifar10",
    "load_breast_cancer",
    "load_adult",
    "AdultSplit",
    "adult_split",
]

DATA_DIR_ENV = "CGP_DATA_DIR"
#: Where the UCI Adult training file is downloaded from when it is in neither folder.
ADULT_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.data"

MNIST_FILE = "mnist.npz"
CIFAR10_FILE = "cifar10.npz"
ADULT_FILE = "adult.data"

_T = TypeVar("_T")


# --------------------------------------------------------------------------------------
# File resolution, shared by all loaders
# --------------------------------------------------------------------------------------
def _load_from_data_dir_or_fetch(file_name: str, read: Callable[[Path], _T], fetch: Callable[[], _T]) -> _T:
    """Read ``file_name`` from ``$CGP_DATA_DIR``, else ``fetch()``, else raise.

    ``read(path)`` parses the offline copy; ``fetch()`` returns the same structure from
    the library's usual cache, downloading when needed.  Any failure of ``fetch`` is
    turned into a :class:`FileNotFoundError` naming the file and ``CGP_DATA_DIR``.
    """
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        candidate = Path(data_dir).expanduser() / file_name
        if candidate.is_file():
            return read(candidate)
    try:
        return fetch()
    except Exception as exc:  # download failures come as many types (URLError, Exception, ...)
        where = f"currently {data_dir!r}" if data_dir else "currently unset"
        raise FileNotFoundError(
            f"Could not find the data file {file_name!r}: put {file_name!r} in the folder "
            f"named by the environment variable {DATA_DIR_ENV} ({where}), "
            f"for example {DATA_DIR_ENV}=/path/to/data. "
            f"The fallback download also failed: {type(exc).__name__}: {exc}"
        ) from exc


def _read_npz_splits(path: Path, *extra_keys: str) -> tuple:
    with np.load(path) as f:
        splits = ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"]))
        extras = tuple(f[k] for k in extra_keys)
    return splits + extras


# --------------------------------------------------------------------------------------
# MNIST
# --------------------------------------------------------------------------------------
def _fetch_mnist() -> tuple:
    """Keras' cached copy of MNIST (``~/.keras/datasets/mnist.npz``), downloading if absent."""
    import tensorflow as tf

    return tf.keras.datasets.mnist.load_data()


def _scale_to_unit_interval_centred(x: np.ndarray) -> np.ndarray:
    """x / 255, then min-max scaled to [-0.5, 0.5], as in the paper's MNIST experiments.

    This follows the alibi CFProto MNIST example: for MNIST the array minimum is 0 and
    maximum 255, so the result is exactly ``x / 255 - 0.5`` in float32.
    """
    x = x.astype(np.float32) / np.float32(255)
    lo, hi = x.min(), x.max()
    return ((x - lo) / (hi - lo)) * np.float32(1.0) + np.float32(-0.5)


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST as used in section 4.2 of the paper.

    Returns ``(x_train, y_train), (x_test, y_test)``: ``x`` float32 of shape
    ``(N, 28, 28, 1)`` scaled to ``[-0.5, 0.5]`` (``x / 255`` then min-max scaled per
    split, i.e. ``x / 255 - 0.5``); ``y`` int64 labels of shape ``(N,)``.
    60,000 training and 10,000 test images.

    The file ``mnist.npz`` (keys as cached by ``keras.datasets.mnist``) is read from
    ``$CGP_DATA_DIR``, else ``tf.keras.datasets.mnist.load_data()`` is used.
    """
    (x_train, y_train), (x_test, y_test) = _load_from_data_dir_or_fetch(MNIST_FILE, _read_npz_splits, _fetch_mnist)
    return (
        (_scale_to_unit_interval_centred(x_train)[..., None], y_train.astype(np.int64)),
        (_scale_to_unit_interval_centred(x_test)[..., None], y_test.astype(np.int64)),
    )


# --------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------
def _fetch_cifar10() -> tuple:
    """Keras' cached copy of CIFAR-10, downloading if absent; all images exact."""
    import tensorflow as tf

    (x_train, y_train), (x_test, y_test) = tf.keras.datasets.cifar10.load_data()
    exact_train = np.ones(len(x_train), dtype=bool)
    exact_test = np.ones(len(x_test), dtype=bool)
    return (x_train, y_train), (x_test, y_test), exact_train, exact_test


def load_cifar10(return_exact: bool = False) -> tuple:
    """CIFAR-10 scaled to ``[0, 1]``.

    Returns ``(x_train, y_train), (x_test, y_test)``, or with ``return_exact=True``
    ``(x_train, y_train), (x_test, y_test), (exact_train, exact_test)``: ``x`` float32
    of shape ``(N, 32, 32, 3)`` equal to ``uint8 / 255``; ``y`` int64 of shape ``(N,)``;
    ``exact_*`` boolean masks of shape ``(N,)`` marking byte-exact images.

    The file ``cifar10.npz`` is read from ``$CGP_DATA_DIR``, else
    ``tf.keras.datasets.cifar10.load_data()`` is used (full data, 50,000 + 10,000
    images, masks all True).

    Caution, the offline copy is partial and mostly not exact. Its README says:
    ``x_train`` = the 10,000 images of ``data_batch_1``, ``x_test`` = the 10,000 images
    of ``test_batch``, labels are the real ones (``y_train`` counts
    ``[1005 974 1032 1016 999 937 1030 1001 1025 981]``). "Most pixels are not exact":
    images come from a JPEG re-encoding of CIFAR-10 (mean absolute pixel error about
    5.8 / 255) except where the true pixels were recovered; ``exact_train``
    (1,017 true) and ``exact_test`` (4,599 true) mark the byte-exact images.
    """
    (x_train, y_train), (x_test, y_test), exact_train, exact_test = _load_from_data_dir_or_fetch(
        CIFAR10_FILE,
        lambda path: _read_npz_splits(path, "exact_train", "exact_test"),
        _fetch_cifar10,
    )
    train = (x_train.astype(np.float32) / np.float32(255), y_train.reshape(-1).astype(np.int64))
    test = (x_test.astype(np.float32) / np.float32(255), y_test.reshape(-1).astype(np.int64))
    if return_exact:
        return train, test, (np.asarray(exact_train, bool), np.asarray(exact_test, bool))
    return train, test


# --------------------------------------------------------------------------------------
# Breast Cancer Wisconsin (Diagnostic)
# --------------------------------------------------------------------------------------
BREAST_CANCER_N_TRAIN = 550  # paper, section 4.3 / appendix A: first 550 train, last 19 test


@dataclass(frozen=True, eq=False)
class BreastCancerData:
    """The paper's Breast Cancer split; unpacks like a 3-tuple.

    ``(x_train, y_train), (x_test, y_test), feature_names = load_breast_cancer()``
    works; ``mean`` and ``std`` (training statistics, population std) are extra
    attributes, so that ``x_raw = x * std + mean`` when the data were standardised.
    """

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    feature_names: list[str]
    mean: np.ndarray
    std: np.ndarray
    standardized: bool

    def __iter__(self) -> Iterator[Any]:
        return iter((self.train, self.test, self.feature_names))


def load_breast_cancer(standardize: bool = True) -> BreastCancerData:
    """Breast Cancer Wisconsin (Diagnostic), split as in the paper (section 4.3, appendix A).

    The 569 instances of ``sklearn.datasets.load_breast_cancer`` in their stored order:
    the first 550 are the training set, the last 19 the test set. With
    ``standardize=True`` every feature is standardised with the training mean and
    population standard deviation (``ddof=0``). ``x`` is float32 of shape ``(N, 30)``,
    ``y`` int64 (0 = malignant, 1 = benign, scikit-learn's coding).

    Returns a :class:`BreastCancerData` that unpacks as
    ``(x_train, y_train), (x_test, y_test), feature_names``.
    """
    from sklearn.datasets import load_breast_cancer as sklearn_breast_cancer

    bunch = sklearn_breast_cancer()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    x_train, x_test = x[:BREAST_CANCER_N_TRAIN], x[BREAST_CANCER_N_TRAIN:]
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0, ddof=0)
    if standardize:
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    return BreastCancerData(
        train=(x_train.astype(np.float32), y[:BREAST_CANCER_N_TRAIN]),
        test=(x_test.astype(np.float32), y[BREAST_CANCER_N_TRAIN:]),
        feature_names=[str(name) for name in bunch.feature_names],
        mean=mean,
        std=std,
        standardized=standardize,
    )


# --------------------------------------------------------------------------------------
# Adult (Census Income)
# --------------------------------------------------------------------------------------
ADULT_RAW_COLUMNS = [
    "Age",
    "Workclass",
    "fnlwgt",
    "Education",
    "Education-Num",
    "Marital Status",
    "Occupation",
    "Relationship",
    "Race",
    "Sex",
    "Capital Gain",
    "Capital Loss",
    "Hours per week",
    "Country",
    "Target",
]
ADULT_DROPPED_COLUMNS = ["fnlwgt", "Education-Num"]
ADULT_TARGET_NAMES = ["<=50K", ">50K"]

# Category groups, written as group -> raw values. They reproduce alibi 0.9.6's
# `fetch_adult` exactly (checked: same codes, targets, names and category maps on adult.data);
# raw values that are not listed stay as they are: Education "Bachelors", "Doctorate";
# Country "Yugoslavia"; every value of Workclass, Relationship, Race and Sex; and the missing
# value "?" (Workclass, Occupation, Country), which is kept as a category of its own.
ADULT_CATEGORY_GROUPS: dict[str, dict[str, list[str]]] = {
    "Education": {
        "Dropout": ["10th", "11th", "12th", "1st-4th", "5th-6th", "7th-8th", "9th", "Preschool"],
        "High School grad": ["HS-grad", "Some-college"],
        "Masters": ["Masters"],
        "Prof-School": ["Prof-school"],
        "Associates": ["Assoc-acdm", "Assoc-voc"],
    },
    "Occupation": {
        "Admin": ["Adm-clerical"],
        "Military": ["Armed-Forces"],
        "Blue-Collar": [
            "Craft-repair",
            "Farming-fishing",
            "Handlers-cleaners",
            "Machine-op-inspct",
            "Transport-moving",
        ],
        "White-Collar": ["Exec-managerial"],
        "Service": ["Other-service", "Priv-house-serv"],
        "Professional": ["Prof-specialty"],
        "Other": ["Protective-serv", "Tech-support"],
        "Sales": ["Sales"],
    },
    "Country": {
        "SE-Asia": ["Cambodia", "Laos", "Philippines", "Thailand", "Vietnam"],
        "British-Commonwealth": ["Canada", "England", "India", "Ireland", "Scotland"],
        "China": ["China", "Hong", "Taiwan"],
        "South-America": ["Columbia", "Ecuador", "El-Salvador", "Peru"],
        "Other": ["Cuba", "Iran", "Japan"],
        "Latin-America": [
            "Dominican-Republic",
            "Guatemala",
            "Haiti",
            "Honduras",
            "Jamaica",
            "Mexico",
            "Nicaragua",
            "Outlying-US(Guam-USVI-etc)",
            "Puerto-Rico",
            "Trinadad&Tobago",
        ],
        "Euro_1": ["France", "Germany", "Holand-Netherlands", "Italy"],
        "Euro_2": ["Greece", "Hungary", "Poland", "Portugal", "South"],
        "United-States": ["United-States"],
    },
    "Marital Status": {
        "Never-Married": ["Never-married"],
        "Married": ["Married-AF-spouse", "Married-civ-spouse"],
        "Separated": ["Married-spouse-absent", "Separated", "Divorced"],
        "Widowed": ["Widowed"],
    },
}


@dataclass(frozen=True, eq=False)
class AdultData:
    """Adult data preprocessed like alibi 0.9.6's ``fetch_adult`` (a Bunch-like record).

    ``data``: int64 ``(32561, 12)``, categorical columns ordinal-encoded;
    ``target``: int64 ``(32561,)``, 1 for ``>50K``; ``feature_names``: the 12 column
    names; ``category_map``: column index -> category names, the code of a category
    being its position in the list (sorted order); ``target_names``: ``['<=50K', '>50K']``.
    """

    data: np.ndarray
    target: np.ndarray
    feature_names: list[str]
    category_map: dict[int, list[str]]
    target_names: list[str]


def _adult_cache_file() -> Path:
    return cache.cache_dir("downloads") / ADULT_FILE


def _download_adult(destination: Path) -> None:
    """Download the UCI Adult training file to ``destination`` (atomic rename)."""
    with urllib.request.urlopen(ADULT_URL, timeout=30) as response:
        body = response.read()
    cache.atomic_write(destination, lambda handle: handle.write(body))


def _fetch_adult_raw() -> pd.DataFrame:
    cached = _adult_cache_file()
    if not cached.is_file():
        _download_adult(cached)
    return _read_adult_raw(cached)


def _read_adult_raw(path: Path) -> pd.DataFrame:
    """The raw UCI file: no header, fields separated by ``", "``, missing values ``"?"``."""
    return pd.read_csv(
        path,
        header=None,
        names=ADULT_RAW_COLUMNS,
        sep=",",
        skipinitialspace=True,  # the separator is ", ": " ?" becomes "?"
        keep_default_na=False,  # keep every string as written
        skip_blank_lines=True,  # the file ends with an empty line
    )


def _preprocess_adult(raw: pd.DataFrame) -> AdultData:
    target = (raw["Target"] == ">50K").to_numpy().astype(np.int64)
    features = raw.drop(columns=ADULT_DROPPED_COLUMNS + ["Target"])
    feature_names = list(features.columns)

    columns: list[np.ndarray] = []
    category_map: dict[int, list[str]] = {}
    for index, name in enumerate(feature_names):
        column = features[name]
        if column.dtype != object:
            columns.append(column.to_numpy().astype(np.int64))
            continue
        groups = ADULT_CATEGORY_GROUPS.get(name, {})
        group_of = {raw_value: group for group, members in groups.items() for raw_value in members}
        values = np.array([group_of.get(v, v) for v in column.to_numpy()], dtype=object)
        categories, codes = np.unique(values.astype(str), return_inverse=True)
        category_map[index] = [str(c) for c in categories]
        columns.append(codes.astype(np.int64))

    return AdultData(
        data=np.stack(columns, axis=1),
        target=target,
        feature_names=feature_names,
        category_map=category_map,
        target_names=list(ADULT_TARGET_NAMES),
    )


def load_adult() -> AdultData:
    """UCI Adult (Census Income), preprocessed like alibi 0.9.6's ``fetch_adult``.

    Drops ``fnlwgt`` and ``Education-Num``; groups Education, Occupation, Country and
    Marital Status into coarser categories; label-encodes every categorical column
    (categories in sorted order, missing values kept as the category ``"?"``).
    Feature order: Age, Workclass, Education, Marital Status, Occupation, Relationship,
    Race, Sex, Capital Gain, Capital Loss, Hours per week, Country.

    The file ``adult.data`` is read from ``$CGP_DATA_DIR``, else from the download cache
    (``$CGP_CACHE_DIR/downloads/``, :func:`cgp_lib.repro.cache.cache_dir`), downloaded from
    :data:`ADULT_URL` if absent.
    """
    raw = _load_from_data_dir_or_fetch(ADULT_FILE, _read_adult_raw, _fetch_adult_raw)
    return _preprocess_adult(raw)


# --------------------------------------------------------------------------------------
# Adult, split and scaled as in alibi's CounterfactualProto examples
# --------------------------------------------------------------------------------------
ADULT_N_TRAIN = 30000


@dataclass(frozen=True, eq=False)
class AdultSplit:
    """The Adult data of the paper's categorical example (section 4.4), ready for a classifier.

    Columns are reordered so that the 8 categorical variables come first (Workclass,
    Education, Marital Status, Occupation, Relationship, Race, Sex, Country), then the 4
    numerical ones (Age, Capital Gain, Capital Loss, Hours per week), min-max scaled to
    ``feature_range``. ``x_*_ord``: ordinal layout (12 columns, codes of the categories);
    ``x_*_ohe``: one-hot layout (57 columns, the 8 blocks first). ``category_map`` and
    ``cat_vars_ord`` are keyed by the ordinal column, ``cat_vars_ohe`` by the first column of
    each one-hot block. ``numeric_min``, ``numeric_max``: the raw bounds used for scaling
    (:meth:`unscale` gives years, dollars and hours back).
    """

    x_train_ord: np.ndarray
    x_test_ord: np.ndarray
    x_train_ohe: np.ndarray
    x_test_ohe: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    category_map: dict[int, list[str]]
    cat_vars_ord: dict[int, int]
    cat_vars_ohe: dict[int, int]
    numeric_min: np.ndarray
    numeric_max: np.ndarray
    feature_range: tuple[float, float]
    target_names: list[str]

    @property
    def numerical(self) -> list[int]:
        """Ordinal columns of the numerical features."""
        return [c for c in range(len(self.feature_names)) if c not in self.cat_vars_ord]

    def unscale(self, x_ord: np.ndarray) -> np.ndarray:
        """Ordinal rows with the numerical columns back in their raw units (float64)."""
        x = np.array(x_ord, dtype=np.float64, copy=True)
        lo, hi = self.feature_range
        cols = self.numerical
        x[:, cols] = (x[:, cols] - lo) / (hi - lo) * (self.numeric_max - self.numeric_min) + self.numeric_min
        return x

    def changes(self, x_ord: np.ndarray, cf_ord: np.ndarray) -> np.ndarray:
        """(N, 12) bool: which features a counterfactual changes. A category changes when its
        code differs; a number when its raw value, rounded to an integer (years, dollars,
        hours), differs. Rows of ``cf_ord`` that are NaN (no counterfactual) change nothing."""
        a, b = np.round(self.unscale(x_ord)), np.round(self.unscale(np.nan_to_num(cf_ord)))
        return (a != b) & ~np.isnan(np.asarray(cf_ord, dtype=np.float64)).any(axis=1, keepdims=True)

    def describe(self, x_ord: np.ndarray) -> pd.DataFrame:
        """Readable rows: category names and raw numbers (Age etc. rounded to integers)."""
        raw = self.unscale(x_ord)
        columns = {}
        for c, name in enumerate(self.feature_names):
            if c in self.category_map:
                columns[name] = [self.category_map[c][int(v)] for v in raw[:, c]]
            else:
                columns[name] = np.round(raw[:, c]).astype(int)
        return pd.DataFrame(columns)


def adult_split(
    seed: int = 0, n_train: int = ADULT_N_TRAIN, feature_range: tuple[float, float] = (-1.0, 1.0)
) -> AdultSplit:
    """Adult as in alibi's ``cfproto_cat_adult_ohe`` example (the paper's section 4.4).

    :func:`load_adult`, rows shuffled with ``np.random.seed(seed)`` and
    ``np.random.permutation``; the first ``n_train`` rows are the training set and the rows
    after the next one the test set (the example skips row ``n_train``: 30,000 / 2,560
    rows). Categorical columns first; numerical columns min-max scaled to
    ``feature_range`` with the minimum and maximum over all rows (as the example does).
    """
    adult = load_adult()
    n = len(adult.data)
    if not isinstance(n_train, (int, np.integer)) or not 1 <= n_train < n - 1:
        raise ValueError(f"n_train: expected an integer in [1, {n - 2}], got {n_train!r}")
    lo, hi = (float(v) for v in feature_range)
    if not lo < hi:
        raise ValueError(f"feature_range: expected (min, max) with min < max, got {feature_range!r}")
    order = np.random.RandomState(seed).permutation(n)
    data, target = adult.data[order], adult.target[order]
    cat_cols = sorted(adult.category_map)
    num_cols = [c for c in range(data.shape[1]) if c not in adult.category_map]
    x_num = data[:, num_cols].astype(np.float64)
    xmin, xmax = x_num.min(axis=0), x_num.max(axis=0)
    x_num = (x_num - xmin) / (xmax - xmin) * (hi - lo) + lo
    x_ord = np.concatenate([data[:, cat_cols].astype(np.float64), x_num], axis=1).astype(np.float32)
    category_map = {i: list(adult.category_map[c]) for i, c in enumerate(cat_cols)}
    cat_vars_ord = {i: len(v) for i, v in category_map.items()}
    blocks, cat_vars_ohe, k = [], {}, 0
    for i, n_cat in cat_vars_ord.items():
        blocks.append(np.eye(n_cat, dtype=np.float32)[x_ord[:, i].astype(int)])
        cat_vars_ohe[k] = n_cat
        k += n_cat
    x_ohe = np.concatenate(blocks + [x_ord[:, len(cat_cols) :]], axis=1)
    train, test = slice(0, n_train), slice(n_train + 1, n)
    return AdultSplit(
        x_train_ord=x_ord[train],
        x_test_ord=x_ord[test],
        x_train_ohe=x_ohe[train],
        x_test_ohe=x_ohe[test],
        y_train=target[train],
        y_test=target[test],
        feature_names=[adult.feature_names[c] for c in cat_cols + num_cols],
        category_map=category_map,
        cat_vars_ord=cat_vars_ord,
        cat_vars_ohe=cat_vars_ohe,
        numeric_min=xmin,
        numeric_max=xmax,
        feature_range=(lo, hi),
        target_names=list(adult.target_names),
    )
