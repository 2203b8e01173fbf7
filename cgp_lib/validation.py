"""Checks of user input: every error names the argument at fault."""

from __future__ import annotations

import numbers

import numpy as np


def check_instances(X, instance_shape: tuple, name: str = "X") -> np.ndarray:
    """A float32 batch of shape ``(N, *instance_shape)`` with finite values."""
    if not isinstance(X, np.ndarray):
        if hasattr(X, "numpy"):
            X = X.numpy()
        else:
            X = np.asarray(X)
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)) or X.dtype == np.bool_:
        raise TypeError(f"{name}: expected a real-valued numeric array, got dtype {X.dtype}")
    if X.ndim != len(instance_shape) + 1 or tuple(X.shape[1:]) != tuple(instance_shape):
        raise ValueError(
            f"{name}: expected shape (N, {', '.join(map(str, instance_shape))}) to match `shape`, got {X.shape}"
        )
    if len(X) == 0:
        raise ValueError(f"{name}: is empty")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: contains NaN or inf values")
    return X.astype(np.float32, copy=False)


def check_feature_range(feature_range, instance_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """``(lower, upper)`` broadcast to ``(1, *instance_shape)``; scalars or arrays as in alibi."""
    try:
        lower, upper = feature_range
    except (TypeError, ValueError):
        raise ValueError("feature_range: expected a pair (min, max) of scalars or arrays") from None
    bounds = []
    for value in (lower, upper):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"feature_range: expected (min, max) as numbers or arrays of numbers, got {value!r}"
            ) from None
        try:
            arr = np.broadcast_to(
                arr.reshape(arr.shape[1:] if arr.ndim == len(instance_shape) + 1 else arr.shape), instance_shape
            )
        except ValueError:
            raise ValueError(
                f"feature_range: bounds of shape {np.shape(value)} do not broadcast to the "
                f"instance shape {instance_shape}"
            ) from None
        if np.any(np.isnan(arr)):
            raise ValueError("feature_range: contains NaN")
        bounds.append(arr.astype(np.float32)[None])
    if np.any(bounds[0] > bounds[1]):
        raise ValueError("feature_range: min is larger than max for some features")
    return bounds[0], bounds[1]


def check_within_range(X: np.ndarray, lower: np.ndarray, upper: np.ndarray, name: str = "X") -> None:
    if np.any(X < lower) or np.any(X > upper):
        raise ValueError(f"{name}: values lie outside `feature_range`; widen feature_range or rescale {name}")


def check_probabilities(proba, n_rows: int, name: str = "predict", n_classes: int | None = None) -> np.ndarray:
    """The output of a model: an (n_rows, classes) array of probabilities summing to one
    (``n_classes`` of them when given: the count the model returned before)."""
    proba = np.asarray(proba.numpy() if hasattr(proba, "numpy") else proba)
    if proba.ndim != 2 or proba.shape[0] != n_rows or proba.shape[1] < 2:
        raise ValueError(
            f"{name}: must return an (N, classes) array of class probabilities with "
            f"N={n_rows} and at least 2 classes, got shape {proba.shape} for {n_rows} rows"
        )
    if n_classes is not None and proba.shape[1] != n_classes:
        raise ValueError(
            f"{name}: returned {proba.shape[1]} classes where it returned {n_classes} before; "
            "the model must return the same classes on every call"
        )
    if not np.issubdtype(proba.dtype, np.floating) or not np.all(np.isfinite(proba)):
        raise ValueError(f"{name}: returned non-finite or non-float values")
    if np.any(proba < -1e-6) or np.any(proba > 1 + 1e-6) or not np.allclose(proba.sum(1), 1.0, atol=1e-3):
        raise ValueError(
            f"{name}: must return class probabilities (in [0, 1], rows summing to 1); "
            "wrap a model that returns logits with a softmax"
        )
    return proba


def check_number(value, name: str, *, minimum=None, strict=False, integer=False):
    """A real (or integer) scalar, optionally bounded below."""
    ok = isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
    if not ok or isinstance(value, bool) or (not integer and not np.isfinite(value)):
        kind = "an integer" if integer else "a finite number"
        raise TypeError(f"{name}: expected {kind}, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name}: must be {'>' if strict else '>='} {minimum}, got {value!r}")
    return value


def check_positive_integer(value, name: str, *, none_ok: bool = False):
    """A positive integer (not a bool), as ``int``; None passes through when ``none_ok``.

    Raises
    ------
    ValueError
        Naming the argument: ``"<name>: expected a positive integer, got ..."`` (``"None or a
        positive integer"`` when ``none_ok``).
    """
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        kind = "None or a positive integer" if none_ok else "a positive integer"
        raise ValueError(f"{name}: expected {kind}, got {value!r}")
    return int(value)


def check_pair(value, name: str) -> tuple[float, float]:
    """A pair of finite numbers, e.g. ``clip=(-1000.0, 1000.0)``."""
    if isinstance(value, (str, bytes)) or np.ndim(value) != 1 or len(value) != 2:
        raise TypeError(f"{name}: expected a pair (min, max) of finite numbers, got {value!r}")
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not np.isfinite(v):
            raise ValueError(f"{name}: expected a pair (min, max) of finite numbers, got {value!r}")
    return float(value[0]), float(value[1])


def check_keras_model(model, instance_shape: tuple, name: str = "predict") -> None:
    """A Keras classifier fits the explainer: one output, and an input of ``instance_shape``.

    The input check needs a built model (``model.input_shape``); a subclassed model that was
    never called is checked by its first prediction instead.
    """
    outputs = getattr(model, "outputs", None)
    if outputs is not None and len(outputs) != 1:
        raise ValueError(
            f"{name}: the Keras model has {len(outputs)} outputs; expected one output of class "
            "probabilities (wrap the model to return that output)"
        )
    try:
        input_shape = model.input_shape
    except (AttributeError, RuntimeError):
        return
    if isinstance(input_shape, list):
        raise ValueError(f"{name}: the Keras model has {len(input_shape)} inputs; expected one")
    expected = tuple(input_shape[1:])
    if len(expected) != len(instance_shape) or any(e is not None and e != s for e, s in zip(expected, instance_shape)):
        raise ValueError(
            f"shape: the instances have shape {tuple(instance_shape)} but the model's input is "
            f"{tuple('N' if e is None else e for e in expected)}; pass shape=(1, *the model's input shape)"
        )


def check_cat_vars(cat_vars, n_columns: int, ohe: bool) -> dict[int, int]:
    """``cat_vars`` as in alibi: {column: number of categories}, sorted by column.

    Ordinal data (``ohe=False``): each key is the column holding the category codes
    0..n-1. One-hot data (``ohe=True``): each key is the first of the n columns of the
    variable's one-hot block; blocks must lie inside the instance and not overlap.
    """
    if not isinstance(cat_vars, dict) or not cat_vars:
        raise TypeError(f"cat_vars: expected a non-empty dict {{column: number of categories}}, got {cat_vars!r}")
    out = {}
    for key, value in cat_vars.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"cat_vars: column indices must be integers, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"cat_vars: the number of categories of column {key} must be an integer, got {value!r}")
        if not 0 <= key < n_columns:
            raise ValueError(f"cat_vars: column {key} is out of range for instances with {n_columns} columns")
        if value < 2:
            raise ValueError(f"cat_vars: column {key} must have at least 2 categories, got {value}")
        out[int(key)] = int(value)
    out = dict(sorted(out.items()))
    if ohe:
        end = -1
        for key, value in out.items():
            if key < end:
                raise ValueError(
                    f"cat_vars: the one-hot block starting at column {key} overlaps the previous block "
                    f"(which ends at column {end - 1})"
                )
            end = key + value
            if end > n_columns:
                raise ValueError(
                    f"cat_vars: the one-hot block of column {key} ({value} columns) runs past the last "
                    f"column ({n_columns - 1})"
                )
    return out


def check_categorical_data(X: np.ndarray, cat_vars: dict[int, int], ohe: bool, name: str = "X") -> None:
    """Categorical columns hold valid codes: integers in [0, n) (ordinal) or one-hot blocks
    of zeros and ones with exactly one 1 per row (one-hot)."""
    X = np.asarray(X).reshape(len(X), -1)
    for key, n_cat in cat_vars.items():
        if ohe:
            block = X[:, key : key + n_cat]
            bad_values = ~np.isin(block, (0.0, 1.0)).all(axis=1)
            bad_sum = block.sum(axis=1) != 1
            rows = np.flatnonzero(bad_values | bad_sum)
            if rows.size:
                raise ValueError(
                    f"{name}: the one-hot columns {key}..{key + n_cat - 1} (cat_vars key {key}) must "
                    f"hold zeros and ones summing to 1 in every row; row(s) {rows[:10].tolist()} "
                    "do not"
                )
        else:
            col = X[:, key]
            bad = (col != np.round(col)) | (col < 0) | (col >= n_cat)
            rows = np.flatnonzero(bad)
            if rows.size:
                raise ValueError(
                    f"{name}: column {key} must hold category codes 0..{n_cat - 1} (cat_vars says "
                    f"{n_cat} categories); row {rows[0]} holds {col[rows[0]]!r}"
                )
