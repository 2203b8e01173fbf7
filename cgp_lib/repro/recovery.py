"""Saliency-masked recovery (the extension report's section 5.2) as a measured experiment.

The report masks the k most salient pixels of a digit so that the CNN misreads it, then asks
the prototype-guided search to bring it back to its class, and shows one image. Here the same
pipeline runs on many images, with baselines:

* :func:`masked_sets`: per attribution method and k, the masked images
  (:func:`cgp_lib.attribution.mask_top_k`), plus a random mask of the same k
  (:func:`cgp_lib.attribution.mask_random`);
* :func:`deletion_curve`: the classifier's accuracy on them, as k grows;
* :func:`run`: for the images each mask makes the classifier misread, the search with
  ``target_class`` = the true class (its prototype is then that class's), under several
  losses, optionally with only the masked pixels mutable (inpainting), and the autoencoder's
  reconstruction of the masked image as a baseline without search;
* :func:`ink_errors`: whether a recovered image re-draws the removed strokes (error on the
  pixels the mask changed) or repaints the rest of the image (error elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cgp_lib import attribution, metrics
from cgp_lib.repro import experiments
from cgp_lib.repro.experiments import SeedModels
from cgp_lib.validation import check_positive_integer

__all__ = [
    "RANDOM",
    "BASELINES",
    "COLUMNS",
    "RecoveryResult",
    "masked_sets",
    "predict_classes",
    "deletion_curve",
    "ink_errors",
    "run",
]

#: Name of the random-pixel baseline among the attribution methods.
RANDOM = "random"
#: Rows of :func:`run` that involve no search: the autoencoder's reconstruction of the masked
#: image, the masked image itself and the original image (references for the error columns).
BASELINES = ("AE(x masked)", "masked image", "original image")


@dataclass
class RecoveryResult:
    """:func:`run`'s rows (columns :data:`COLUMNS`) and the image of each row (``x[i]`` for
    ``frame.iloc[i]``)."""

    frame: pd.DataFrame
    x: np.ndarray
    #: per (method, k): how many images the mask made the classifier misread (``misread``) and
    #: how many of them were explained (``explained``; fewer under ``max_per_mask``)
    counts: pd.DataFrame | None = None

    def images(self, method: str, k: int, config: str) -> tuple[pd.DataFrame, np.ndarray]:
        """The rows of one (method, k, config) and their images; none when that mask made the
        classifier misread no image (or the names are not in the run)."""
        rows = np.flatnonzero(
            (self.frame["method"] == method).to_numpy()
            & (self.frame["k"] == k).to_numpy()
            & (self.frame["config"] == config).to_numpy()
        )
        return self.frame.iloc[rows].reset_index(drop=True), self.x[rows]


def masked_sets(
    X: np.ndarray,
    attributions: Mapping[str, np.ndarray],
    k_values: Sequence[int],
    fill: float,
    random_seed: int = 0,
) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """The masked images of every attribution method and k, and of random pixels.

    Parameters
    ----------
    X
        The images, ``(N, *shape)``.
    attributions
        Method name -> attributions of X's shape (:func:`cgp_lib.attribution.saliency`).
    k_values
        Numbers of pixels masked per image.
    fill
        The value written into the masked pixels (the background: −0.5 for MNIST as scaled).
    random_seed
        The random masks of k use the generator seeded with ``random_seed + k``.

    Returns
    -------
    dict
        ``(method, k) -> (masked, mask)``, methods in the order given, then :data:`RANDOM`.
    """
    if RANDOM in attributions:
        raise ValueError(f"attributions: {RANDOM!r} is the name of the random baseline; rename that method")
    if not k_values:
        raise ValueError("k_values: expected at least one k")
    out = {}
    for name, values in attributions.items():
        for k in k_values:
            out[(name, int(k))] = attribution.mask_top_k(X, values, k, fill)
    for k in k_values:
        out[(RANDOM, int(k))] = attribution.mask_random(X, k, fill, seed=random_seed + int(k))
    return out


def predict_classes(classifier, X: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The classifier's predicted class of every row of X, in batches of ``batch_size``."""
    return np.concatenate(
        [np.asarray(classifier(X[i : i + batch_size])).argmax(axis=1) for i in range(0, len(X), batch_size)]
    )


def deletion_curve(classifier, X: np.ndarray, labels: np.ndarray, sets: Mapping) -> pd.DataFrame:
    """The classifier's accuracy on the masked images of every (method, k) of ``sets``.

    Returns one row per (method, k), with k = 0 (the unmasked images) for every method:
    ``accuracy``, ``misread`` (the number of images the classifier no longer reads as their
    label) and ``changed`` (the mean number of pixels per image whose value the mask changed:
    masking a pixel already at the fill value changes nothing).
    """
    labels = np.asarray(labels)
    unmasked = predict_classes(classifier, X)  # the k = 0 row of every method
    rows = [
        dict(
            method=method,
            k=0,
            accuracy=float(np.mean(unmasked == labels)),
            misread=int(np.sum(unmasked != labels)),
            changed=0.0,
        )
        for method in dict.fromkeys(m for m, _ in sets)
    ]
    for (method, k), (masked, _) in sets.items():
        predicted = predict_classes(classifier, masked)
        moved = np.abs(masked - X)
        if masked.ndim == 4:  # channels of one pixel count once
            moved = moved.max(axis=-1)
        changed = moved.reshape(len(X), -1) > 0
        rows.append(
            dict(
                method=method,
                k=k,
                accuracy=float(np.mean(predicted == labels)),
                misread=int(np.sum(predicted != labels)),
                changed=float(changed.sum(axis=1).mean()),
            )
        )
    return pd.DataFrame(rows).sort_values(["method", "k"], kind="stable").reset_index(drop=True)


def ink_errors(x, original, masked, mask) -> pd.DataFrame:
    """Where an image differs from the original: on the removed ink or elsewhere.

    Parameters
    ----------
    x
        The images to score (counterfactuals, reconstructions), ``(N, *shape)``; NaN rows
        (no counterfactual) give NaN.
    original, masked, mask
        The original images, the masked ones and the boolean mask (:func:`masked_sets`).

    Returns
    -------
    pandas.DataFrame
        Per row: ``masked_error``, the mean absolute difference between x and the original
        over the *removed* pixels (masked, and changed by the mask); ``other_error``, the same
        over the pixels not masked (there the original and the masked image agree, so it is
        also how far x moved them); ``masked_change``, the mean absolute difference between x
        and the masked image over the removed pixels (how far x moved them); ``restored``,
        1 − masked_error / (the same error of the masked image): 1 when the removed ink is
        re-drawn exactly, 0 when it is left as masked.
    """
    x, original, masked = (np.asarray(a, np.float64) for a in (x, original, masked))
    mask = np.asarray(mask, bool)
    if not (x.shape == original.shape == masked.shape == mask.shape):
        raise ValueError(
            "x, original, masked, mask: expected one shape, got "
            f"{x.shape}, {original.shape}, {masked.shape}, {mask.shape}"
        )
    n = len(x)
    removed = (mask & (masked != original)).reshape(n, -1)
    kept = (~mask).reshape(n, -1)
    error = np.abs(x - original).reshape(n, -1)
    gap = np.abs(masked - original).reshape(n, -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        masked_error = np.where(removed.any(1), (error * removed).sum(1) / removed.sum(1), np.nan)
        other_error = (error * kept).sum(1) / np.maximum(kept.sum(1), 1)
        masked_gap = np.where(removed.any(1), (gap * removed).sum(1) / removed.sum(1), np.nan)
        moved = np.abs(x - masked).reshape(n, -1)
        masked_change = np.where(removed.any(1), (moved * removed).sum(1) / removed.sum(1), np.nan)
        restored = 1.0 - masked_error / masked_gap
    return pd.DataFrame(
        dict(masked_error=masked_error, other_error=other_error, masked_change=masked_change, restored=restored)
    )


def _baseline_rows(
    models: SeedModels, original, masked, mask, labels, misread_as, beta: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows of :data:`BASELINES` for the misread images, and the images they score."""
    if models.ae is None:
        raise ValueError("models: the AE(x masked) baseline needs the search's autoencoder (SeedModels.ae)")
    reconstruction = np.concatenate([np.asarray(models.ae(masked[i : i + 512])) for i in range(0, len(masked), 512)])
    frames, images = [], []
    for name, x in zip(BASELINES, (reconstruction, masked, original)):
        x = x.astype(np.float32)
        images.append(x)
        predicted = predict_classes(models.classifier, x)
        frame = ink_errors(x, original, masked, mask)
        frame["config"] = name
        frame["found"] = predicted != misread_as  # it left the class the masked image is read as
        frame["recovered"] = predicted == labels
        frame["cf_class"] = predicted
        frame["steps_to_best"] = 0
        frame["distance"] = metrics.elastic_net(x - masked, beta)
        frame["im1"] = metrics.im1(x, labels, misread_as, models.class_aes)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True), np.concatenate(images)


def run(
    original: np.ndarray,
    labels: np.ndarray,
    sets: Mapping[tuple[str, int], tuple[np.ndarray, np.ndarray]],
    configs: Mapping[str, Mapping[str, Any]],
    models: Callable[[int], SeedModels],
    seed: int,
    fit_data: np.ndarray,
    explainer_kwargs: Mapping[str, Any],
    inpaint: Sequence[str] = (),
    instance_ids: Sequence[int] | None = None,
    batch_size: int = 100,
    prototypes: str = "encoder",
    stop: str = "satisfactory",
    progress: bool = False,
    max_per_mask: int | None = None,
    sample_seed: int = 0,
) -> RecoveryResult:
    """Explain the images each mask makes the classifier misread, toward their true class.

    The misread images of every ``(method, k)`` of ``sets`` are explained together (one
    explainer per configuration, batches of ``batch_size`` rows) with
    :func:`cgp_lib.repro.experiments.run` (cached per chunk, resumable), under every
    configuration of ``configs``, with ``target_class`` = the image's label; the
    configurations named in ``inpaint`` run a second time with only the masked pixels mutable
    (``explain(mutable=mask)``; their rows are named ``"<config>, masked pixels only"``).
    :data:`BASELINES` rows follow, without search.

    Parameters
    ----------
    original, labels
        The unmasked images and their true classes.
    sets
        :func:`masked_sets` output.
    configs, models, seed, fit_data, explainer_kwargs, batch_size, prototypes, stop
        As for :func:`cgp_lib.repro.experiments.run` (one seed: the masks are computed on that
        seed's classifier).
    inpaint
        Configurations also run with only the masked pixels mutable.
    max_per_mask
        Explain at most this many of each mask's misread images (None: all of them): a
        uniform sample without replacement, drawn with ``numpy.random.default_rng(sample_seed)``
        per (method, k) and kept in image order. The baselines use the same images.
    sample_seed
        Seed of that sample.
    instance_ids
        Labels of the images in the ``instance`` column (default 0..N-1).

    Returns
    -------
    RecoveryResult
        ``frame``: one row per (method, k, config, misread image): ``method``, ``k``, ``config``,
        ``instance``, ``label``, ``misread_as``, ``found`` (a counterfactual of another class
        than the masked image's), ``recovered`` (classified as the label again), ``cf_class``,
        ``steps_to_best``, ``distance`` (EN(δ) from the masked image), ``im1`` (eq. 13 with
        the label as counterfactual class and the misread class as original), and the
        columns of :func:`ink_errors`; ``x``: the image of each row (the counterfactual, NaN
        where none was found, or the baseline's image); ``counts``: per (method, k), the
        images misread and explained.
    """
    check_positive_integer(max_per_mask, "max_per_mask", none_ok=True)
    missing = [name for name in inpaint if name not in configs]
    if missing:
        raise ValueError(f"inpaint: {missing} are not among the configurations {list(configs)}")
    original = np.asarray(original, np.float32)
    labels = np.asarray(labels)
    ids = np.arange(len(original)) if instance_ids is None else np.asarray(instance_ids)
    seed_models = models(seed)
    beta = float(dict(explainer_kwargs).get("beta", 0.1))
    # every misread image of every (method, k), stacked: one search per configuration
    parts, counts = [], []
    for (method, k), (masked, mask) in sets.items():
        misread_as = predict_classes(seed_models.classifier, masked)
        rows = np.flatnonzero(misread_as != labels)
        misread = rows.size
        if max_per_mask is not None and rows.size > max_per_mask:
            rng = np.random.default_rng(sample_seed)
            rows = np.sort(rng.choice(rows, size=int(max_per_mask), replace=False))
        counts.append({"method": method, "k": k, "misread": misread, "explained": rows.size})
        parts.append((method, k, rows, masked[rows], mask[rows], misread_as[rows]))
    counts = pd.DataFrame(counts, columns=["method", "k", "misread", "explained"])
    parts = [p for p in parts if p[2].size]
    if not parts:
        return RecoveryResult(frame=pd.DataFrame(columns=COLUMNS), x=original[:0], counts=counts)
    rows = np.concatenate([p[2] for p in parts])
    stacked = dict(
        method=np.concatenate([[p[0]] * len(p[2]) for p in parts]),
        k=np.concatenate([[p[1]] * len(p[2]) for p in parts]),
        instance=ids[rows],
        label=labels[rows],
        misread_as=np.concatenate([p[5] for p in parts]),
    )
    masked, mask, originals = (
        np.concatenate([p[3] for p in parts]),
        np.concatenate([p[4] for p in parts]),
        original[rows],
    )
    target = labels[rows, None]
    runs = [("", configs, dict(target_class=target))]
    if inpaint:
        runs.append((", masked pixels only", {n: configs[n] for n in inpaint}, dict(target_class=target, mutable=mask)))
    frames, images = [], []
    for suffix, chosen, row_args in runs:
        result = experiments.run(
            masked,
            chosen,
            models,
            [seed],
            fit_data,
            explainer_kwargs,
            prototypes=prototypes,
            chunk_size=batch_size,
            batch_size=batch_size,
            stop=stop,
            row_args=row_args,
            progress=progress,
            desc=f"recovery{suffix}",
        )
        for name in chosen:
            part = result.frame[result.frame["config"] == name].reset_index(drop=True)
            cf = result.counterfactuals(name, seed)
            part = pd.concat(
                [
                    part[["found", "cf_class", "steps_to_best", "distance", "im1"]],
                    ink_errors(cf, originals, masked, mask),
                ],
                axis=1,
            )
            part["config"] = name + suffix
            part["recovered"] = part["found"].to_numpy() & (part["cf_class"].to_numpy() == stacked["label"])
            frames.append(part.assign(**stacked))
            images.append(cf)
    base, base_x = _baseline_rows(seed_models, originals, masked, mask, stacked["label"], stacked["misread_as"], beta)
    frames.append(base.assign(**{name: np.tile(v, len(BASELINES)) for name, v in stacked.items()}))
    images.append(base_x)
    return RecoveryResult(frame=pd.concat(frames, ignore_index=True)[COLUMNS], x=np.concatenate(images), counts=counts)


#: Columns of :func:`run`'s frame.
COLUMNS = [
    "method",
    "k",
    "config",
    "instance",
    "label",
    "misread_as",
    "found",
    "recovered",
    "cf_class",
    "steps_to_best",
    "distance",
    "im1",
    "masked_error",
    "other_error",
    "masked_change",
    "restored",
]
