"""The set-up every chapter of the book starts with, in one call.

A chapter's first code cell calls :func:`setup` before it imports TensorFlow: the environment
variables TensorFlow and the cache read must be set first.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["setup"]


def setup(seed: int | None = 0, tf_log_level: str = "2", cache_dir: str | os.PathLike | None = None) -> str:
    """Prepare a notebook's process: cache folder, TensorFlow's logging and seed, pandas display.

    Parameters
    ----------
    seed : int or None
        Seed of Python's, numpy's and TensorFlow's global generators
        (``tf.keras.utils.set_random_seed``); None leaves them alone.
    tf_log_level : str
        ``TF_CPP_MIN_LOG_LEVEL`` unless it is set already ("2": errors only, "3": none).
    cache_dir : path or None
        ``CGP_CACHE_DIR`` unless it is set already; None: ``../.cache`` from the working
        folder, the Makefile's default seen from ``notebooks/``.

    Returns
    -------
    str
        The versions of cgp_lib, TensorFlow and numpy, for the chapter to print.
    """
    os.environ.setdefault("CGP_CACHE_DIR", str(Path(cache_dir) if cache_dir else Path("..").resolve() / ".cache"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", str(tf_log_level))
    import numpy as np
    import pandas as pd
    import tensorflow as tf

    import cgp_lib

    tf.get_logger().setLevel("ERROR")
    if seed is not None:
        tf.keras.utils.set_random_seed(seed)
    pd.set_option("display.precision", 3)
    # no table cut: every column, whole cell texts
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_colwidth", None)
    return f"cgp_lib {cgp_lib.__version__}, tensorflow {tf.__version__}, numpy {np.__version__}"
