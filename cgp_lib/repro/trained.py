"""The paper's models, trained on the paper's data with the paper's settings, cached.

Every notebook, test and benchmark that needs "the MNIST CNN" or "the Breast Cancer
MLP" gets it from here, so that they all use the same weights; training runs once
per machine and the weights are cached by :func:`cgp_lib.repro.models.train_cached`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

import numpy as np
import tensorflow as tf

from ..validation import check_positive_integer
from . import datasets, models
from .experiments import SeedModels


@dataclass(frozen=True)
class MnistModels:
    """The MNIST classifier and autoencoder of appendix B."""

    cnn: tf.keras.Model
    ae: tf.keras.Model
    enc: tf.keras.Model
    dec: tf.keras.Model


def mnist_models(seed: int = 0, cnn_epochs: int = 3, ae_epochs: int = 4, verbose: int = 0) -> MnistModels:
    """The CNN (Adam, 3 epochs, batch 64) and the autoencoder (Adam, MSE, 4 epochs, batch 128)
    trained on all 60,000 MNIST training images scaled to [-0.5, 0.5] (appendix B)."""
    (x_train, y_train), _ = datasets.load_mnist()
    onehot = tf.keras.utils.to_categorical(y_train, 10)
    cnn = models.train_cached(
        models.mnist_cnn, x_train, onehot, epochs=cnn_epochs, batch_size=64, seed=seed, verbose=verbose
    ).model
    ae, enc, dec = models.train_cached(
        models.mnist_autoencoder, x_train, x_train, epochs=ae_epochs, batch_size=128, seed=seed, verbose=verbose
    ).parts
    return MnistModels(cnn=cnn, ae=ae, enc=enc, dec=dec)


def breast_cancer_mlp(seed: int = 0, epochs: int = 500, verbose: int = 0) -> tf.keras.Model:
    """The 2×40 ReLU MLP (SGD, 500 epochs) on the first 550 standardised instances (appendix A)."""
    (x_train, y_train), _, _ = datasets.load_breast_cancer()
    onehot = tf.keras.utils.to_categorical(y_train, 2)
    return models.train_cached(
        models.breast_cancer_mlp, x_train, onehot, epochs=epochs, batch_size=32, seed=seed, verbose=verbose
    ).model


def breast_cancer_autoencoder(seed: int = 0, epochs: int = 500, classes=None, verbose: int = 0):
    """The 20-10-6 dense autoencoder (appendix A), trained on the training instances of
    ``classes`` (all when None; one class for the class-specific AEs of IM1/IM2).
    Returns (ae, enc, dec)."""
    (x_train, y_train), _, _ = datasets.load_breast_cancer()
    if classes is not None:
        x_train = x_train[np.isin(y_train, np.atleast_1d(classes))]
    return models.train_cached(
        models.breast_cancer_autoencoder, x_train, x_train, epochs=epochs, batch_size=32, seed=seed, verbose=verbose
    ).parts


@dataclass(frozen=True)
class MnistMetricAutoencoders:
    """The autoencoders of the interpretability metrics on MNIST (section 4.1, appendix B).

    ``class_aes[c]`` is trained on the training images of class ``c`` only (AE_i, AE_t0 of
    IM1, eq. 13, and AE_i of IM2, eq. 14); ``ae_all`` on all training images (AE of IM2).
    All share the architecture of :func:`cgp_lib.repro.models.mnist_class_autoencoder`.
    """

    class_aes: dict
    ae_all: tf.keras.Model
    train_seconds: float = 0.0  # training time recorded when the weights were trained (cached or not)


def mnist_class_autoencoders(
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 128,
    classes=tuple(range(10)),
    train_size: int | None = None,
    verbose: int = 0,
) -> MnistMetricAutoencoders:
    """The IM1/IM2 autoencoders on MNIST: one per class in ``classes`` and one on all classes.

    Appendix B: encoder of 16, 8, 8 3×3 filters, each followed by 2×2 max-pooling, a mirrored
    decoder, Adam and MSE, 30 epochs with batch size 128, trained on the training images of
    one class (selected with the true labels) and, for ``ae_all``, on all of them.
    ``train_size`` keeps only the first images of the training set (None: all 60,000), for
    quick runs. Weights are cached (:func:`cgp_lib.repro.models.train_cached`), keyed among others
    by the data, the epochs and ``seed``.
    """
    check_positive_integer(epochs, "epochs")
    check_positive_integer(batch_size, "batch_size")
    classes = [int(c) for c in np.atleast_1d(classes)]
    if not classes or min(classes) < 0 or max(classes) > 9 or len(set(classes)) != len(classes):
        raise ValueError(f"classes: expected distinct digits in 0..9, got {classes}")
    (x_train, y_train), _ = datasets.load_mnist()
    if train_size is not None:
        if not isinstance(train_size, (int, np.integer)) or not 10 <= train_size <= len(x_train):
            raise ValueError(f"train_size: expected an integer in [10, {len(x_train)}], got {train_size!r}")
        x_train, y_train = x_train[:train_size], y_train[:train_size]

    seconds = []

    def fit(x):
        result = models.train_cached(
            models.mnist_class_autoencoder,
            x,
            x,
            epochs=int(epochs),
            batch_size=int(batch_size),
            seed=seed,
            verbose=verbose,
        )
        sidecar = result.weights_path.with_name(result.weights_path.name.replace(".weights.npz", ".json"))
        seconds.append(float(json.loads(sidecar.read_text()).get("train_seconds", 0.0)))
        return result.model

    class_aes = {}
    for c in classes:
        x_c = x_train[y_train == c]
        if len(x_c) == 0:
            raise ValueError(f"train_size: no training image of class {c} among the first {len(x_train)}")
        class_aes[c] = fit(x_c)
    ae_all = fit(x_train)
    return MnistMetricAutoencoders(class_aes=class_aes, ae_all=ae_all, train_seconds=sum(seconds))


@dataclass(frozen=True)
class AdultModels:
    """The Adult classifier (section 4.4) on one-hot input (``ohe``) and the same network on
    ordinal input (``ordinal``, weights shared), with the data split it was trained on."""

    ohe: tf.keras.Model
    ordinal: tf.keras.Model
    data: "datasets.AdultSplit"
    history: dict


def adult_models(seed: int = 0, epochs: int = 30, verbose: int = 0) -> AdultModels:
    """The Adult MLP (:func:`cgp_lib.repro.models.adult_mlp`; Adam, batch size 256, ``epochs``, 30
    in alibi's example) trained on the 30,000 training rows of :func:`cgp_lib.repro.datasets.adult_split`
    (one-hot), plus its ordinal-input twin."""
    split = datasets.adult_split()
    onehot = tf.keras.utils.to_categorical(split.y_train, 2)
    trained_ = models.train_cached(
        models.adult_mlp, split.x_train_ohe, onehot, epochs=epochs, batch_size=256, seed=seed, verbose=verbose
    )
    ordinal = models.adult_ordinal_model(trained_.model, split.cat_vars_ord, split.x_train_ord.shape[1])
    return AdultModels(ohe=trained_.model, ordinal=ordinal, data=split, history=trained_.history)


def mnist_seed_models(metric: MnistMetricAutoencoders) -> Callable[[int], SeedModels]:
    """The MNIST chapters' ``models(seed)`` for :func:`cgp_lib.repro.experiments.run`.

    Seed s gives the CNN and the search's autoencoder trained with seed s
    (:func:`mnist_models`, loaded once per seed) and the IM1/IM2 autoencoders ``metric``
    (:func:`mnist_class_autoencoders`), the same for every seed: they are the measuring
    instrument.
    """
    loaded: dict[int, MnistModels] = {}

    def models_for(seed: int) -> SeedModels:
        if seed not in loaded:
            loaded[seed] = mnist_models(seed=seed)
        m = loaded[seed]
        return SeedModels(classifier=m.cnn, class_aes=metric.class_aes, ae_all=metric.ae_all, ae=m.ae, enc=m.enc)

    return models_for


def breast_cancer_seed_models(
    classifier_epochs: int = 500, autoencoder_epochs: int = 500, metric_seed_offset: int = 1000
) -> Callable[[int], SeedModels]:
    """The Breast Cancer chapters' ``models(seed)`` for :func:`cgp_lib.repro.experiments.run`.

    Seed s gives the MLP trained with seed s (:func:`breast_cancer_mlp`) and the IM1/IM2
    autoencoders (one per class and one on both, :func:`breast_cancer_autoencoder`) trained
    with seed s + ``metric_seed_offset``; weights come from the cache after the first call.
    """

    def models_for(seed: int) -> SeedModels:
        mlp = breast_cancer_mlp(seed, epochs=classifier_epochs)
        metric_seed = seed + metric_seed_offset
        class_aes = {c: breast_cancer_autoencoder(metric_seed, epochs=autoencoder_epochs, classes=c)[0] for c in (0, 1)}
        ae_all, _, _ = breast_cancer_autoencoder(metric_seed, epochs=autoencoder_epochs)
        return SeedModels(classifier=mlp, class_aes=class_aes, ae_all=ae_all)

    return models_for
