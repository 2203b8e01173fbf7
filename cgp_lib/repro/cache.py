"""The on-disk cache shared by trained weights and experiment results: where, keys, writes.

Everything the reproduction computes once and reuses (trained networks in
:mod:`~cgp_lib.repro.models`, explained chunks in :mod:`~cgp_lib.repro.experiments`) lives under
one folder, ``$CGP_CACHE_DIR`` (``~/.cache/cgp_lib`` when the variable is unset), in a
sub-folder per kind. Entries are named by a sha256 of everything they depend on, so a
changed input is a new entry rather than a stale hit, and they are written to a temporary file
first and renamed into place, so an interrupted run never leaves a truncated entry behind.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["CACHE_DIR_ENV", "cache_dir", "array_digest", "weights_digest", "text_digest", "atomic_write"]

#: The environment variable naming the cache folder.
CACHE_DIR_ENV = "CGP_CACHE_DIR"


def cache_dir(kind: str) -> Path:
    """The folder holding the cached entries of one ``kind`` (``"models"``, ``"experiments"``).

    Parameters
    ----------
    kind
        Name of the sub-folder.

    Returns
    -------
    pathlib.Path
        ``$CGP_CACHE_DIR/<kind>``, or ``~/.cache/cgp_lib/<kind>`` when the variable is unset or
        empty. The folder is not created here.
    """
    if not kind or not isinstance(kind, str) or os.sep in kind:
        raise ValueError(f"kind: expected a folder name, got {kind!r}")
    base = os.environ.get(CACHE_DIR_ENV)
    base = Path(base).expanduser() if base else Path.home() / ".cache" / "cgp_lib"
    return base / kind


def array_digest(array: Any) -> str:
    """sha256 of an array's dtype, shape and bytes (C order): equal arrays, equal digests."""
    array = np.ascontiguousarray(np.asarray(array))
    digest = hashlib.sha256()
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def weights_digest(model: Any) -> str:
    """sha256 over a Keras model's weights (dtype, shape and bytes of each, in order).

    Raises
    ------
    TypeError
        If ``model`` has no ``get_weights`` (a plain function cannot be hashed by its weights).
    """
    if not hasattr(model, "get_weights"):
        raise TypeError(f"model: cannot hash {model!r} by its weights: it has no get_weights()")
    digest = hashlib.sha256()
    for w in model.get_weights():
        w = np.ascontiguousarray(w)
        digest.update(f"{w.dtype.str}{w.shape}".encode())
        digest.update(w.tobytes())
    return digest.hexdigest()


def text_digest(text: str) -> str:
    """sha256 hex digest of a string (UTF-8), e.g. of a key serialised as sorted JSON."""
    return hashlib.sha256(text.encode()).hexdigest()


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place.

    Parameters
    ----------
    path
        Destination; its folder is created if needed.
    write
        Called with the open temporary file.
    mode
        ``"wb"`` or ``"w"``.

    Notes
    -----
    The rename is atomic on one file system, so readers see either no entry or a complete one;
    the temporary name carries the process id, so two processes filling the same cache do not
    write into one file. A failed ``write`` leaves no temporary file behind.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode: expected 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.part")
    try:
        with open(partial, mode) as handle:
            write(handle)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()
