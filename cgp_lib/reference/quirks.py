"""Evidence for the quirks of alibi 0.9.6's ``CounterfactualProto`` that the cross-check finds.

Each quirk is a place where alibi's code does something the paper does not describe; the
cross-check chapter lists them with the line of alibi's source, the evidence measured here, and
whether `cgp_lib` mirrors it. This module finds the lines (:func:`source_location`), computes
alibi's numerical ∂L/∂p next to cgp_lib's (:func:`proba_gradient_ratios`), and runs the probe of
alibi's graph in its own process (:func:`run_probe`, ``cgp_lib.reference._alibi_probe``).
Importing alibi's modules to read them is safe in an eager process; its explainers are not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from ..gradients import loss_gradient_wrt_proba

__all__ = ["source_location", "alibi_proba_gradient", "proba_gradient_ratios", "run_probe"]

#: The alibi source files the quirks point into, relative to the alibi package.
SOURCE_FILES = {"cfproto.py": "explainers/cfproto.py", "utils/gradients.py": "utils/gradients.py"}


def source_location(pattern: str, file: str = "cfproto.py") -> str:
    """``"file:line,line"``: the lines of the installed alibi's ``file`` that contain ``pattern``.

    Raises
    ------
    ValueError
        If ``file`` is not one of ``SOURCE_FILES`` or no line contains ``pattern`` (the
        installed alibi is not 0.9.6's code).
    """
    if file not in SOURCE_FILES:
        raise ValueError(f"file: expected one of {sorted(SOURCE_FILES)}, got {file!r}")
    import alibi

    lines = (Path(alibi.__file__).parent / SOURCE_FILES[file]).read_text().splitlines()
    found = [i + 1 for i, line in enumerate(lines) if pattern in line]
    if not found:
        raise ValueError(f"pattern: {pattern!r} not found in alibi's {file}")
    return f"{file}:{','.join(map(str, found))}"


def alibi_proba_gradient(proba: np.ndarray, onehot: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """alibi's ∂L_pred/∂p for one instance (``cfproto.py``, ``get_gradients``, κ = 0).

    alibi perturbs the probabilities with its ``perturb(..., proba=True)``, which keeps their sum
    at 1, and differentiates ``f − g`` (the original class's probability minus the largest other).
    """
    from alibi.utils.gradients import perturb

    pos, neg = perturb(proba[None], eps, proba=True)

    def f(p):
        return np.sum(onehot[None] * p, axis=1)

    def g(p):
        return np.max((1 - onehot[None]) * p, axis=1)

    return ((f(pos) - f(neg)) - (g(pos) - g(neg))) / (2 * eps)


def proba_gradient_ratios(classes=(2, 10), rows: int = 5, eps: float = 1e-3) -> tuple[dict, dict]:
    """alibi's ∂L/∂p divided by the exact one, and how far its perturbed probabilities sum from 1.

    For random probability vectors of each number of classes P, checks that cgp_lib's
    ``proba_perturbation="simplex"`` gives alibi's gradient (to 1e-6) and measures the median
    ratio of alibi's nonzero entries to the exact (``"coordinate"``) ones: P/(P − 1).

    Returns
    -------
    ratios, sums
        ``{P: median ratio}`` and ``{P: max |Σ perturbed p − 1|}``.
    """
    from alibi.utils.gradients import perturb

    ratios, sums = {}, {}
    for n_classes in classes:
        proba = np.random.default_rng(n_classes).dirichlet(np.ones(n_classes), size=rows)
        onehot = np.eye(n_classes)[proba.argmax(1)]
        alibi_grad = np.stack([alibi_proba_gradient(p, y, eps) for p, y in zip(proba, onehot)])
        simplex = loss_gradient_wrt_proba(proba, onehot, 0.0, eps, "simplex")
        if not np.allclose(alibi_grad, simplex, atol=1e-6):
            raise AssertionError(f"proba_perturbation='simplex' does not reproduce alibi's ∂L/∂p for P={n_classes}")
        coordinate = loss_gradient_wrt_proba(proba, onehot, 0.0, eps, "coordinate")
        nonzero = np.abs(coordinate) > 0
        ratios[n_classes] = float(np.median(alibi_grad[nonzero] / coordinate[nonzero]))
        sums[n_classes] = float(np.abs(perturb(proba, eps, proba=True)[0].sum(1) - 1).max())
    return ratios, sums


def run_probe(trials: int) -> dict:
    """Run ``cgp_lib.reference._alibi_probe`` in its own process and return its evidence."""
    if not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"trials: expected a positive integer, got {trials!r}")
    result = subprocess.run(
        [sys.executable, "-m", "cgp_lib.reference._alibi_probe", str(int(trials))],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"the alibi probe failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
