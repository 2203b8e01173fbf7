"""Checks of user input: every error names the argument at fault."""
from __future__ import annotations

import numbers

import numpy as np


def check_instances(X, instance_shape: tuple, name: str = "X") -> np.ndarray:
    """A float32 batch of shape (N, *instance_shape) with finite values."""
    if not isinstance(X, np.ndarray):
        if hasattr(X, "numpy"):
            X = X.numpy()
        else:
            X = np.asarray(X)
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)) \
            or X.dtype == np.bool_:
        raise TypeError(f"{name}: expected a real-valued numeric array, got dtype {X.dtype}")
    if X.ndim != len(instance_shape) + 1 or tuple(X.shape[1:]) != tuple(instance_shape):
        raise ValueError(f"{name}: expected shape (N, {', '.join(map(str, instance_shape))}) to match "
                         f"`shape`, got {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{name}: is empty")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: contains NaN or inf values")
    return X.astype(np.float32, copy=False)


def check_feature_range(feature_range, instance_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) broadcast to (1, *instance_shape); scalars or arrays as in alibi."""
    try:
        lower, upper = feature_range
    except (TypeError, ValueError):
        raise ValueError("feature_range: expected a pair (min, max) of scalars or arrays") from None
    bounds = []
    for value in (lower, upper):
        arr = np.asarray(value, dtype=np.float64)
        try:
            arr = np.broadcast_to(arr.reshape(arr.shape[1:] if arr.ndim == len(instance_shape) + 1 else arr.shape),
                                  instance_shape)
        except ValueError:
            raise ValueError(f"feature_range: bounds of shape {np.shape(value)} do not broadcast to the "
                             f"instance shape {instance_shape}") from None
        if np.any(np.isnan(arr)):
            raise ValueError("feature_range: contains NaN")
        bounds.append(arr.astype(np.float32)[None])
    if np.any(bounds[0] > bounds[1]):
        raise ValueError("feature_range: min is larger than max for some features")
    return bounds[0], bounds[1]


def check_within_range(X: np.ndarray, lower: np.ndarray, upper: np.ndarray, name: str = "X") -> None:
    if np.any(X < lower) or np.any(X > upper):
        raise ValueError(f"{name}: values lie outside `feature_range`; widen feature_range or rescale {name}")


def check_probabilities(proba, n_rows: int, name: str = "predict") -> np.ndarray:
    """The output of a model: an (n_rows, classes) array of probabilities summing to one."""
    proba = np.asarray(proba.numpy() if hasattr(proba, "numpy") else proba)
    if proba.ndim != 2 or proba.shape[0] != n_rows or proba.shape[1] < 2:
        raise ValueError(f"{name}: must return an (N, classes) array of class probabilities with "
                         f"N={n_rows} and at least 2 classes, got shape {proba.shape}")
    if not np.issubdtype(proba.dtype, np.floating) or not np.all(np.isfinite(proba)):
        raise ValueError(f"{name}: returned non-finite or non-float values")
    if np.any(proba < -1e-6) or np.any(proba > 1 + 1e-6) or not np.allclose(proba.sum(1), 1.0, atol=1e-3):
        raise ValueError(f"{name}: must return class probabilities (in [0, 1], rows summing to 1); "
                         "wrap a model that returns logits with a softmax")
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
