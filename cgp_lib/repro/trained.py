"""The paper's models, trained on the paper's data with the paper's settings, cached.

Every notebook, test and benchmark that needs "the MNIST CNN" or "the Breast Cancer
MLP" gets it from here, so that they all use the same weights; training runs once
per machine and the weights are cached by :func:`cgp_lib.repro.models.train_cached`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
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
    (x_train, _), _ = datasets.load_mnist()
    cnn = mnist_classifier(seed=seed, epochs=cnn_epochs, verbose=verbose)
    ae, enc, dec = models.train_cached(
        models.mnist_autoencoder, x_train, x_train, epochs=ae_epochs, batch_size=128, seed=seed, verbose=verbose
    ).parts
    return MnistModels(cnn=cnn, ae=ae, enc=enc, dec=dec)


def mnist_classifier(seed: int = 0, epochs: int = 3, train_size: int | None = None, verbose: int = 0) -> tf.keras.Model:
    """The MNIST CNN alone (appendix B: Adam, batch 64, 3 epochs), on the first ``train_size``
    training images (None: all 60,000, the weights :func:`mnist_models` uses)."""
    check_positive_integer(epochs, "epochs")
    (x_train, y_train), _ = datasets.load_mnist()
    x_train, y_train = _first_rows(x_train, y_train, train_size)
    onehot = tf.keras.utils.to_categorical(y_train, 10)
    return models.train_cached(
        models.mnist_cnn, x_train, onehot, epochs=epochs, batch_size=64, seed=seed, verbose=verbose
    ).model


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
class MetricAutoencoders:
    """The autoencoders of the interpretability metrics (section 4.1).

    ``class_aes[c]`` is trained on the training images of class ``c`` only (AE_i, AE_t0 of
    IM1, eq. 13, and AE_i of IM2, eq. 14); ``ae_all`` on all training images (AE of IM2).
    On MNIST all share the architecture of :func:`cgp_lib.repro.models.mnist_class_autoencoder`
    (appendix B), on CIFAR-10 that of :func:`cgp_lib.repro.models.cifar10_class_autoencoder`.
    """

    class_aes: dict
    ae_all: tf.keras.Model
    train_seconds: float = 0.0  # training time recorded when the weights were trained (cached or not)

    def own_class_errors(self, x: np.ndarray, y: np.ndarray, per_class: int = 500) -> pd.DataFrame:
        """How well each class autoencoder tells its class from the others.

        For each class c of ``class_aes``: the mean squared reconstruction error per feature
        of ``AE_c`` on the first ``per_class`` rows of ``x`` of class c (``own class``) and
        on the first ``per_class`` rows of the other classes (``other classes``), and their
        ratio (other / own): above 1, AE_c reconstructs its own class better, which IM1
        (eq. 13) relies on. ``y`` holds the true classes of ``x``.
        """
        check_positive_integer(per_class, "per_class")
        x, y = np.asarray(x), np.asarray(y).reshape(-1)
        if len(x) != len(y):
            raise ValueError(f"y: expected {len(x)} classes, one per row of x, got {len(y)}")

        def mse(ae, rows):
            return float(np.mean((ae.predict(rows, batch_size=500, verbose=0) - rows) ** 2))

        records = []
        for c, ae in self.class_aes.items():
            own, other = x[y == c][:per_class], x[y != c][:per_class]
            if len(own) == 0:
                raise ValueError(f"y: no row of class {c}")
            records.append({"class": c, "own class": mse(ae, own), "other classes": mse(ae, other)})
        table = pd.DataFrame(records).set_index("class")
        table["ratio"] = table["other classes"] / table["own class"]
        return table


MnistMetricAutoencoders = MetricAutoencoders  # the name of earlier versions


def _metric_autoencoders(
    load: Callable,
    build: Callable,
    seed: int,
    epochs: int,
    batch_size: int,
    classes,
    train_size: int | None,
    verbose: int,
) -> MetricAutoencoders:
    """One autoencoder per class of ``classes`` (rows selected with the true labels) and one on all
    the first ``train_size`` training rows of ``load()``."""
    check_positive_integer(epochs, "epochs")
    check_positive_integer(batch_size, "batch_size")
    classes = _check_classes(classes)
    (x_train, y_train), _ = load()
    x_train, y_train = _first_rows(x_train, y_train, train_size)
    seconds = []

    def fit(x):
        result = models.train_cached(
            build, x, x, epochs=int(epochs), batch_size=int(batch_size), seed=seed, verbose=verbose
        )
        seconds.append(_train_seconds(result))
        return result.model

    class_aes = {}
    for c in classes:
        x_c = x_train[y_train == c]
        if len(x_c) == 0:
            raise ValueError(f"train_size: no training image of class {c} among the first {len(x_train)}")
        class_aes[c] = fit(x_c)
    ae_all = fit(x_train)
    return MetricAutoencoders(class_aes=class_aes, ae_all=ae_all, train_seconds=sum(seconds))


def _check_classes(classes) -> list[int]:
    classes = [int(c) for c in np.atleast_1d(classes)]
    if not classes or min(classes) < 0 or max(classes) > 9 or len(set(classes)) != len(classes):
        raise ValueError(f"classes: expected distinct classes in 0..9, got {classes}")
    return classes


def _first_rows(x: np.ndarray, y: np.ndarray, train_size: int | None, smallest: int = 10) -> tuple:
    if train_size is None:
        return x, y
    if (
        isinstance(train_size, bool)
        or not isinstance(train_size, (int, np.integer))
        or not (smallest <= train_size <= len(x))
    ):
        raise ValueError(f"train_size: expected an integer in [{smallest}, {len(x)}], got {train_size!r}")
    return x[:train_size], y[:train_size]


def mnist_class_autoencoders(
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 128,
    classes=tuple(range(10)),
    train_size: int | None = None,
    verbose: int = 0,
) -> MetricAutoencoders:
    """The IM1/IM2 autoencoders on MNIST: one per class in ``classes`` and one on all classes.

    Appendix B: encoder of 16, 8, 8 3×3 filters, each followed by 2×2 max-pooling, a mirrored
    decoder, Adam and MSE, 30 epochs with batch size 128, trained on the training images of
    one class (selected with the true labels) and, for ``ae_all``, on all of them.
    ``train_size`` keeps only the first images of the training set (None: all 60,000), for
    quick runs. Weights are cached (:func:`cgp_lib.repro.models.train_cached`), keyed among others
    by the data, the epochs and ``seed``.
    """
    return _metric_autoencoders(
        datasets.load_mnist, models.mnist_class_autoencoder, seed, epochs, batch_size, classes, train_size, verbose
    )


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


def mnist_seed_models(metric: MetricAutoencoders | None = None) -> Callable[[int], SeedModels]:
    """The MNIST chapters' ``models(seed)`` for :func:`cgp_lib.repro.experiments.run`.

    Seed s gives the CNN and the search's autoencoder trained with seed s
    (:func:`mnist_models`, loaded once per seed) and the IM1/IM2 autoencoders ``metric``
    (:func:`mnist_class_autoencoders`), the same for every seed: they are the measuring
    instrument. Without ``metric`` the rows carry no IM1/IM2 (NaN), for experiments that do
    not report them (appendix E), which then need not train the 11 autoencoders.
    """
    return _image_seed_models(metric, lambda seed: mnist_models(seed=seed))


def _image_seed_models(metric: MetricAutoencoders | None, load: Callable[[int], Any]) -> Callable[[int], SeedModels]:
    """``models(seed)`` from ``load(seed)`` (anything with ``cnn``, ``ae`` and ``enc``; called once
    per seed) and the metric autoencoders ``metric`` (or none), shared by every seed."""
    loaded: dict[int, Any] = {}

    def models_for(seed: int) -> SeedModels:
        if seed not in loaded:
            loaded[seed] = load(seed)
        m = loaded[seed]
        class_aes, ae_all = (None, None) if metric is None else (metric.class_aes, metric.ae_all)
        return SeedModels(classifier=m.cnn, class_aes=class_aes, ae_all=ae_all, ae=m.ae, enc=m.enc)

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


def _train_seconds(result: models.Trained) -> float:
    """The training time recorded in a cached model's sidecar (0 if absent)."""
    sidecar = result.weights_path.with_name(result.weights_path.name.replace(".weights.npz", ".json"))
    return float(json.loads(sidecar.read_text()).get("train_seconds", 0.0))


@dataclass(frozen=True)
class Cifar10Models:
    """The CIFAR-10 classifier and the search's autoencoder of one seed, with their training records."""

    cnn: tf.keras.Model
    ae: tf.keras.Model
    enc: tf.keras.Model
    dec: tf.keras.Model
    cnn_history: dict
    cnn_train_seconds: float
    ae_train_seconds: float


def cifar10_models(
    seed: int = 0,
    cnn_epochs: int = 30,
    ae_epochs: int = 10,
    width: int = 32,
    train_size: int | None = None,
    verbose: int = 0,
) -> Cifar10Models:
    """The CIFAR-10 chapter's classifier and autoencoder, trained from scratch and cached.

    The CNN (:func:`cgp_lib.repro.models.cifar10_cnn` with ``width`` filters in its first
    block) is trained with Adam in batches of 64 for ``cnn_epochs`` epochs, each image
    flipped and shifted at random in every epoch (``augmentation="flip-shift"``); the
    autoencoder (:func:`cgp_lib.repro.models.cifar10_autoencoder`) with Adam and MSE in
    batches of 128 for ``ae_epochs`` epochs. Both on the first ``train_size`` training images
    of :func:`cgp_lib.repro.datasets.load_cifar10` (None: all 10,000 of the offline copy).
    """
    check_positive_integer(cnn_epochs, "cnn_epochs")
    check_positive_integer(ae_epochs, "ae_epochs")
    check_positive_integer(width, "width")
    (x_train, y_train), _ = datasets.load_cifar10()
    x_train, y_train = _first_rows(x_train, y_train, train_size)
    onehot = tf.keras.utils.to_categorical(y_train, 10)
    build_cnn = functools.partial(models.cifar10_cnn, width=int(width))
    cnn = models.train_cached(
        build_cnn,
        x_train,
        onehot,
        epochs=int(cnn_epochs),
        batch_size=64,
        seed=seed,
        verbose=verbose,
        augmentation="flip-shift",
        name="cifar10_cnn",
    )
    autoencoder = models.train_cached(
        models.cifar10_autoencoder, x_train, x_train, epochs=int(ae_epochs), batch_size=128, seed=seed, verbose=verbose
    )
    ae, enc, dec = autoencoder.parts
    return Cifar10Models(
        cnn=cnn.model,
        ae=ae,
        enc=enc,
        dec=dec,
        cnn_history=cnn.history,
        cnn_train_seconds=_train_seconds(cnn),
        ae_train_seconds=_train_seconds(autoencoder),
    )


def cifar10_class_autoencoders(
    seed: int = 0,
    epochs: int = 30,
    batch_size: int = 128,
    classes=tuple(range(10)),
    train_size: int | None = None,
    verbose: int = 0,
) -> MetricAutoencoders:
    """The IM1/IM2 autoencoders on CIFAR-10, as :func:`mnist_class_autoencoders` builds MNIST's.

    One :func:`cgp_lib.repro.models.cifar10_class_autoencoder` per class of ``classes``,
    trained on the training images of that class (true labels), and one on all of them;
    Adam, MSE, ``epochs`` epochs in batches of ``batch_size``, on the first ``train_size``
    training images (None: all 10,000). Cached.
    """
    return _metric_autoencoders(
        datasets.load_cifar10, models.cifar10_class_autoencoder, seed, epochs, batch_size, classes, train_size, verbose
    )


def cifar10_seed_models(metric: MetricAutoencoders, **model_kwargs) -> Callable[[int], SeedModels]:
    """The CIFAR-10 chapter's ``models(seed)`` for :func:`cgp_lib.repro.experiments.run`.

    Seed s gives :func:`cifar10_models` ``(seed=s, **model_kwargs)`` (loaded once per seed)
    with the IM1/IM2 autoencoders ``metric``, the same for every seed.
    """
    return _image_seed_models(metric, lambda seed: cifar10_models(seed=seed, **model_kwargs))
