"""The paper's models, trained on the paper's data with the paper's settings, cached.

Every notebook, test and benchmark that needs "the MNIST CNN" or "the Breast Cancer
MLP" gets it from here, so that they all use the same weights; training runs once
per machine and the weights are cached by :func:`cgp_lib.models.train_cached`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from . import datasets, models


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
    cnn = models.train_cached(models.mnist_cnn, x_train, onehot, epochs=cnn_epochs, batch_size=64,
                              seed=seed, verbose=verbose).model
    ae, enc, dec = models.train_cached(models.mnist_autoencoder, x_train, x_train, epochs=ae_epochs,
                                       batch_size=128, seed=seed, verbose=verbose).parts
    return MnistModels(cnn=cnn, ae=ae, enc=enc, dec=dec)


def breast_cancer_mlp(seed: int = 0, epochs: int = 500, verbose: int = 0) -> tf.keras.Model:
    """The 2×40 ReLU MLP (SGD, 500 epochs) on the first 550 standardised instances (appendix A)."""
    (x_train, y_train), _, _ = datasets.load_breast_cancer()
    onehot = tf.keras.utils.to_categorical(y_train, 2)
    return models.train_cached(models.breast_cancer_mlp, x_train, onehot, epochs=epochs, batch_size=32,
                               seed=seed, verbose=verbose).model


def breast_cancer_autoencoder(seed: int = 0, epochs: int = 500, classes=None, verbose: int = 0):
    """The 20-10-6 dense autoencoder (appendix A), trained on the training instances of
    ``classes`` (all when None; one class for the class-specific AEs of IM1/IM2).
    Returns (ae, enc, dec)."""
    (x_train, y_train), _, _ = datasets.load_breast_cancer()
    if classes is not None:
        x_train = x_train[np.isin(y_train, np.atleast_1d(classes))]
    return models.train_cached(models.breast_cancer_autoencoder, x_train, x_train, epochs=epochs,
                               batch_size=32, seed=seed, verbose=verbose).parts
