"""Appendix E's experiment: do the counterfactuals of a loss look like real images of their class?

The paper explains MNIST test images under losses A-F, groups the counterfactuals by the
class the CNN gives them, and per class runs the relative multiple model comparison tests of
:mod:`cgp_lib.model_comparison` (RelMulti and RelPSI, 100 repetitions) with the six losses
as the models and real test images of the class as the reference, on the 256 features the
CNN computes before its softmax layer. Per class the sample size is the smallest count over
the losses; the losses with more counterfactuals are subsampled without replacement, and the
reference is drawn without replacement from test images that were not explained.

* :func:`penultimate_features`: the input of the classifier's last layer (256 units);
* :func:`class_counts`: Table 4, the counterfactuals per loss and class;
* :func:`repeated_tests`: the tests, repeated, per class (and over all classes pooled);
* :func:`rates`: Figure 11's selection and rejection rates;
* :func:`rejection_share`: the share of those rejection rates a set of losses carries.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from cgp_lib import model_comparison
from cgp_lib.validation import check_positive_integer

__all__ = ["ALL", "FLAVOURS", "penultimate_features", "class_counts", "repeated_tests", "rates", "rejection_share"]

#: The ``cls`` label of the test pooled over every counterfactual class.
ALL = "all"
#: The two tests, by the names of Lim et al. (2019) and the paper.
FLAVOURS = ("RelMulti", "RelPSI")


def penultimate_features(classifier: tf.keras.Model, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """What the classifier's last layer receives: the features of appendix E.

    For the paper's MNIST CNN (appendix B) the last layer is the ``Dense(10, softmax)``, whose
    input is the 256 units of ``Dense(256, relu)`` (its dropout is inactive at inference).

    Parameters
    ----------
    classifier
        A Keras model whose last layer has a single input.
    X
        The images (a batch).
    batch_size
        Rows per forward pass.

    Returns
    -------
    numpy.ndarray
        ``(N, units)``, float64.
    """
    if not isinstance(classifier, tf.keras.Model):
        raise ValueError(f"classifier must be a Keras model, got {type(classifier).__name__}")
    extractor = tf.keras.Model(classifier.inputs, classifier.layers[-1].input)
    X = np.asarray(X, np.float32)
    if len(X) == 0:
        return np.zeros((0, int(extractor.output.shape[-1])))
    out = extractor.predict(X, batch_size=batch_size, verbose=0)
    return np.asarray(out, np.float64).reshape(len(X), -1)


def class_counts(cf_classes: Mapping[str, np.ndarray], classes: Sequence[int] = range(10)) -> pd.DataFrame:
    """Table 4: per loss, the counterfactuals found in total and per counterfactual class.

    Parameters
    ----------
    cf_classes
        ``{loss: the counterfactual class of each counterfactual found}``.
    classes
        The classes, in column order.

    Returns
    -------
    pandas.DataFrame
        Index: the losses; columns ``total`` and the classes.
    """
    classes = list(classes)
    rows = {}
    for name, labels in cf_classes.items():
        labels = np.asarray(labels)
        rows[name] = [len(labels), *[int((labels == c).sum()) for c in classes]]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["total", *classes])
    frame.index.name = "loss"
    return frame


def repeated_tests(
    features: Mapping[str, np.ndarray],
    cf_classes: Mapping[str, np.ndarray],
    reference: np.ndarray,
    reference_classes: np.ndarray,
    classes: Sequence[Any] = (*range(10), ALL),
    repetitions: int = 100,
    alpha: float = 0.05,
    split: float = 0.5,
    min_size: int = 8,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RelMulti and RelPSI per counterfactual class, ``repetitions`` times (appendix E).

    For class ``c`` the sample size is ``n_c = min over the losses of their counterfactuals of
    class c``; each repetition draws, without replacement, ``n_c`` counterfactuals of class
    ``c`` of every loss and ``n_c`` reference rows of class ``c``, in random order (so that
    RelMulti's split is random), and runs both tests on the same draws
    (:func:`cgp_lib.model_comparison.rel_tests`). The class
    :data:`ALL` pools every counterfactual and every reference row. Repetition ``r`` of
    class ``c`` draws from ``numpy.random.default_rng([seed, index of c, r])``.

    Parameters
    ----------
    features
        ``{loss: (N_loss, d) features of its counterfactuals}`` (:func:`penultimate_features`).
    cf_classes
        ``{loss: (N_loss,) their counterfactual classes}``.
    reference, reference_classes
        ``(M, d)`` features of real images (none of them an explained original) and their
        classes.
    classes
        The classes to test, :data:`ALL` for the pooled test.
    repetitions, alpha, split
        Repetitions per class; the level of every test; RelMulti's selection share.
    min_size
        Classes with ``n_c`` below it are skipped (RelMulti needs 4 rows in each part).
    seed
        Seed of the draws.

    Returns
    -------
    tests : pandas.DataFrame
        One row per (class, repetition, flavour, loss): ``cls``, ``repetition``, ``flavour``,
        ``loss``, ``n``, ``selected``, ``rejected``, ``pvalue``, and ``seconds`` (the wall
        time of the repetition's two tests, which share their kernel evaluations
        (:func:`cgp_lib.model_comparison.rel_tests`): the same on every row of a repetition).
    sizes : pandas.DataFrame
        One row per class: ``cls``, ``n`` (the sample size), ``reference`` (the reference rows
        available) and ``tested`` (False when skipped: ``n < min_size`` or too few reference
        rows).
    """
    names = list(features)
    if len(names) < 2:
        raise ValueError(f"features must hold at least 2 losses, got {names}")
    if set(cf_classes) != set(names):
        raise ValueError(f"cf_classes must have the losses of features {names}, got {list(cf_classes)}")
    check_positive_integer(repetitions, "repetitions")
    feats = {n: np.asarray(features[n], np.float64) for n in names}
    labels = {n: np.asarray(cf_classes[n]) for n in names}
    for n in names:
        if len(feats[n]) != len(labels[n]):
            raise ValueError(f"features[{n!r}] has {len(feats[n])} rows, cf_classes[{n!r}] {len(labels[n])}")
    reference = np.asarray(reference, np.float64)
    reference_classes = np.asarray(reference_classes)
    if len(reference) != len(reference_classes):
        raise ValueError(f"reference has {len(reference)} rows, reference_classes {len(reference_classes)}")
    tests, sizes = [], []
    for index, cls in enumerate(classes):
        pools = {n: np.arange(len(labels[n])) if cls == ALL else np.flatnonzero(labels[n] == cls) for n in names}
        ref_pool = np.arange(len(reference)) if cls == ALL else np.flatnonzero(reference_classes == cls)
        n_c = min(len(p) for p in pools.values())
        tested = n_c >= min_size and len(ref_pool) >= n_c
        sizes.append(dict(cls=cls, n=n_c, reference=len(ref_pool), tested=tested))
        if not tested:
            continue
        for r in range(repetitions):
            rng = np.random.default_rng([seed, index, r])
            samples = [feats[n][rng.choice(pools[n], n_c, replace=False)] for n in names]
            ref = reference[rng.choice(ref_pool, n_c, replace=False)]
            start = time.perf_counter()
            results = model_comparison.rel_tests(samples, ref, alpha=alpha, split=split)
            seconds = time.perf_counter() - start
            for flavour in FLAVOURS:
                result = results[flavour]
                for i, n in enumerate(names):
                    tests.append(
                        dict(
                            cls=cls,
                            repetition=r,
                            flavour=flavour,
                            loss=n,
                            n=n_c,
                            selected=result.selected == i,
                            rejected=bool(result.rejected[i]),
                            pvalue=float(result.pvalues[i]),
                            seconds=seconds,
                        )
                    )
    columns = ["cls", "repetition", "flavour", "loss", "n", "selected", "rejected", "pvalue", "seconds"]
    return pd.DataFrame(tests, columns=columns), pd.DataFrame(sizes, columns=["cls", "n", "reference", "tested"])


def rates(tests: pd.DataFrame) -> pd.DataFrame:
    """Figure 11's numbers: per class, flavour and loss, the share of repetitions in which the
    loss was selected (the best) and in which it was rejected (worse than the selected one).

    Returns
    -------
    pandas.DataFrame
        Index (``cls``, ``flavour``, ``loss``); columns ``n`` (sample size), ``repetitions``,
        ``selection`` and ``rejection``.
    """
    grouped = tests.groupby(["cls", "flavour", "loss"], sort=False)
    out = grouped.agg(
        n=("n", "first"),
        repetitions=("repetition", "nunique"),
        selection=("selected", "mean"),
        rejection=("rejected", "mean"),
    )
    return out


def rejection_share(rates_frame: pd.DataFrame, classes: Sequence[Any], losses: Sequence[str] = ("A", "B")) -> float:
    """The share of the rejection rates of Figure 11 that ``losses`` carry, over ``classes``.

    Appendix E's first claim is that, for the classes with more than 200 counterfactuals, "the
    non-zero rejection rates mostly correspond to" losses A and B. The paper gives no number;
    this is the number the book reads it by: the rejection rates of ``losses`` summed over
    ``classes``, both flavours, divided by the rejection rates of every loss summed the same
    way (greater than 0.5 reads as "mostly").

    Parameters
    ----------
    rates_frame : pandas.DataFrame
        The output of :func:`rates`.
    classes : sequence
        The ``cls`` labels to sum over.
    losses : sequence of str
        The losses whose share is returned; each must be a loss of ``rates_frame``.

    Returns
    -------
    float
        The share in [0, 1], or NaN when ``classes`` is empty, no class was tested (an empty
        ``rates_frame``) or no loss was rejected in them.
    """
    names = rates_frame.index.get_level_values("loss")
    unknown = sorted(set(losses) - set(names))
    if unknown and len(rates_frame):  # an empty frame (no class tested) has no losses to check
        raise ValueError(f"losses: {unknown} are not losses of rates_frame ({sorted(set(names))})")
    picked = rates_frame[rates_frame.index.get_level_values("cls").isin(list(classes))]
    mass = picked.groupby(level="loss")["rejection"].sum()
    total = float(mass.sum())
    if total <= 0:
        return float("nan")
    return float(mass.reindex(list(losses), fill_value=0.0).sum() / total)
