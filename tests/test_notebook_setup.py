"""cgp_lib.repro.notebook.setup: what every chapter's first cell does."""

import numpy as np
import pandas as pd

from cgp_lib.repro import notebook


def test_setup_keeps_set_variables_seeds_and_sets_the_display(monkeypatch, tmp_path):
    monkeypatch.setenv("CGP_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with pd.option_context("display.precision", 6, "display.max_colwidth", 50):
        versions = notebook.setup(seed=3, tf_log_level="3")
        first = np.random.rand()  # noqa: NPY002 (the global generator the seed sets)
        notebook.setup(seed=3)
        assert np.random.rand() == first  # noqa: NPY002
        assert pd.get_option("display.precision") == 3 and pd.get_option("display.max_colwidth") is None
    import os

    assert os.environ["CGP_CACHE_DIR"] == str(tmp_path)  # an explicit setting wins
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert versions.startswith("cgp_lib ") and "tensorflow 2.14" in versions
