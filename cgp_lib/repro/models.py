"""The paper's classifiers and autoencoders (appendices A and B) and a cached trainer.

Van Looveren & Klaise (2021) explain a CNN on MNIST (section 4.2, appendix B) and an
MLP on Breast Cancer Wisconsin (section 4.3, appendix A). The counterfactual search uses
an autoencoder ``AE = dec(enc(.))`` for the loss terms L_AE and L_proto, and the
interpretability metrics IM1/IM2 (section 4.1) use class-specific autoencoders plus one
trained on all classes.

Every builder takes a ``seed`` that fixes the initial weights (each layer's initializer
and dropout get their own seed derived from it, without touching global random state)
and returns a *compiled* model. Autoencoder builders return ``(ae, enc, dec)`` where
``enc`` and ``dec`` are separate Keras models and ``ae = Sequential([enc, dec])``, so
``ae.layers[0] is enc`` and ``ae.layers[1] is dec`` and the three share weights.

:func:`train_cached` trains a builder's model once and caches the weights on disk.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from ..validation import check_positive_integer
from . import cache

__all__ = [
    "NearestUpsampling2D",
    "mnist_cnn",
    "mnist_autoencoder",
    "mnist_class_autoencoder",
    "cifar10_cnn",
    "cifar10_autoencoder",
    "cifar10_class_autoencoder",
    "breast_cancer_mlp",
    "breast_cancer_autoencoder",
    "OrdinalToOneHot",
    "adult_mlp",
    "adult_ordinal_model",
    "Trained",
    "training_cache_key",
    "train_cached",
    "AUGMENTATIONS",
    "CACHE_DIR_ENV",
]

CACHE_DIR_ENV = cache.CACHE_DIR_ENV  # where train_cached keeps weights: $CGP_CACHE_DIR/models

layers = tf.keras.layers


# --------------------------------------------------------------------------------------
# Nearest-neighbour upsampling
# --------------------------------------------------------------------------------------
@tf.keras.utils.register_keras_serializable(package="cgp_lib")
class NearestUpsampling2D(layers.Layer):
    """Nearest-neighbour upsampling of NHWC images by an integer factor.

    Computes exactly what ``tf.keras.layers.UpSampling2D(size, interpolation='nearest')``
    computes (channels-last only), but as ``x[:, :, None, :, None, :]`` tiled ``size``
    times along the new axes and reshaped, so its gradient is a reshape plus a sum
    instead of TensorFlow's ``ResizeNearestNeighborGrad`` kernel. Values are identical;
    gradients are identical up to float summation order (bitwise identical in our checks).

    Speed: the layer was written expecting the resize gradient kernel to be slow on CPU.
    With TensorFlow 2.14.1 on this project's 2-core CPU machine it is not (min of 7
    rounds, forward + input gradient): the layer alone on (N, 14, 14, 16) takes
    0.44 / 4.3 / 16.0 ms for N = 1 / 64 / 256 against 0.33 / 1.7 / 8.0 ms for
    ``UpSampling2D``; through the whole :func:`mnist_autoencoder` the input gradient takes
    2.2 / 19.5 / 80.6 ms against 2.2 / 18.9 / 71.5 ms. Swapping in ``UpSampling2D``
    changes no value.

    Registered as ``cgp_lib>NearestUpsampling2D`` (and, for the legacy HDF5 format, under
    its bare name): models containing it load with ``tf.keras.models.load_model`` once
    ``cgp_lib.repro.models`` has been imported, in the ``.keras`` and ``.h5`` formats.
    """

    def __init__(self, size: int | tuple[int, int] = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(size, int):
            size = (size, size)
        size = tuple(int(s) for s in size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be a positive int or a pair of them, got {size!r}")
        self.size = size

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        rows, cols = self.size
        static = inputs.shape
        dynamic = tf.shape(inputs)
        height = static[1] if static[1] is not None else dynamic[1]
        width = static[2] if static[2] is not None else dynamic[2]
        channels = static[3] if static[3] is not None else dynamic[3]
        repeated = tf.tile(inputs[:, :, None, :, None, :], [1, 1, rows, 1, cols, 1])
        return tf.reshape(repeated, [-1, height * rows, width * cols, channels])

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        shape = tf.TensorShape(input_shape).as_list()
        scale = lambda n, s: None if n is None else n * s  # noqa: E731
        return tf.TensorShape([shape[0], scale(shape[1], self.size[0]), scale(shape[2], self.size[1]), shape[3]])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": list(self.size)}


# Keras 2.14's legacy HDF5 format stores layers nested in a sub-model (the decoder inside
# Sequential([enc, dec])) under their bare class name and its loader ignores the
# registered name, so the layer is also made known under "NearestUpsampling2D".
tf.keras.utils.get_custom_objects().setdefault("NearestUpsampling2D", NearestUpsampling2D)


# --------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------
class _SeedStream:
    """Distinct, reproducible integer seeds for the layers of one model."""

    def __init__(self, seed: int) -> None:
        self._sequence = np.random.SeedSequence(int(seed))

    def __call__(self) -> int:
        (child,) = self._sequence.spawn(1)
        return int(child.generate_state(1)[0] % (2**31 - 1))


def _conv(
    seeds: _SeedStream, filters: int, activation: str | None, padding: str = "same", kernel_size: int = 3
) -> layers.Conv2D:
    return layers.Conv2D(
        filters,
        kernel_size,
        padding=padding,
        activation=activation,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seeds()),
    )


def _dense(seeds: _SeedStream, units: int, activation: str | None) -> layers.Dense:
    return layers.Dense(
        units, activation=activation, kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seeds())
    )


def _autoencoder(
    encoder: tf.keras.Model, decoder: tf.keras.Model, name: str, optimizer: str | tf.keras.optimizers.Optimizer = "adam"
):
    # The explicit Input makes Keras build the graph now; Sequential.layers omits it, so
    # autoencoder.layers == [encoder, decoder].
    autoencoder = tf.keras.Sequential([tf.keras.Input(shape=encoder.input_shape[1:]), encoder, decoder], name=name)
    autoencoder.compile(optimizer=optimizer, loss="mse")
    return autoencoder, encoder, decoder


def mnist_cnn(seed: int = 0) -> tf.keras.Sequential:
    """The MNIST classifier of the paper (appendix B), a compiled ``Sequential`` model.

    Conv2D(64, 2, same, relu) - MaxPool(2) - Dropout(0.3) - Conv2D(32, 2, same, relu) -
    MaxPool(2) - Dropout(0.3) - Flatten - Dense(256, relu) - Dropout(0.5) -
    Dense(10, softmax) on inputs ``(28, 28, 1)`` in ``[-0.5, 0.5]``. Compiled with Adam
    and categorical cross-entropy (one-hot targets); the paper trains 3 epochs with
    batch size 64.
    """
    seeds = _SeedStream(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(28, 28, 1)),
            _conv(seeds, 64, "relu", kernel_size=2),
            layers.MaxPooling2D(2),
            layers.Dropout(0.3, seed=seeds()),
            _conv(seeds, 32, "relu", kernel_size=2),
            layers.MaxPooling2D(2),
            layers.Dropout(0.3, seed=seeds()),
            layers.Flatten(),
            _dense(seeds, 256, "relu"),
            layers.Dropout(0.5, seed=seeds()),
            _dense(seeds, 10, "softmax"),
        ],
        name="mnist_cnn",
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def mnist_autoencoder(seed: int = 0) -> tuple[tf.keras.Sequential, tf.keras.Sequential, tf.keras.Sequential]:
    """The MNIST autoencoder of the paper (appendix B): ``(ae, enc, dec)``, all ``Sequential``.

    Encoder ``(28, 28, 1) -> (14, 14, 1)``: Conv2D(16, 3, same, relu) - Conv2D(16, 3, same,
    relu) - MaxPool(2) - Conv2D(1, 3, same, linear). Decoder ``(14, 14, 1) -> (28, 28, 1)``:
    Conv2D(16, 3, same, relu) - nearest upsampling x2 - Conv2D(16, 3, same, relu) -
    Conv2D(1, 3, same, linear). ``ae = Sequential([enc, dec])`` is compiled with Adam and
    MSE; the paper trains 4 epochs with batch size 128. The encoder also defines the
    prototypes of the paper's L_proto term (eq. 9).
    """
    seeds = _SeedStream(seed)
    encoder = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(28, 28, 1)),
            _conv(seeds, 16, "relu"),
            _conv(seeds, 16, "relu"),
            layers.MaxPooling2D(2),
            _conv(seeds, 1, None),
        ],
        name="mnist_encoder",
    )
    decoder = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(14, 14, 1)),
            _conv(seeds, 16, "relu"),
            NearestUpsampling2D(2),
            _conv(seeds, 16, "relu"),
            _conv(seeds, 1, None),
        ],
        name="mnist_decoder",
    )
    return _autoencoder(encoder, decoder, "mnist_autoencoder")


def _class_autoencoder(
    seed: int,
    input_shape: tuple[int, int, int],
    prefix: str,
    pad_last_pool: str = "valid",
    third_decoder_padding: str = "same",
) -> tuple[tf.keras.Sequential, tf.keras.Sequential, tf.keras.Sequential]:
    """The IM1/IM2 autoencoder of appendix B for images of ``input_shape``: ``(ae, enc, dec)``.

    Encoder Conv2D(16) - MaxPool(2) - Conv2D(8) - MaxPool(2) - Conv2D(8) - MaxPool(2,
    ``pad_last_pool``) to ``(4, 4, 8)``; decoder Conv2D(8) - up x2 - Conv2D(8) - up x2 -
    Conv2D(16, ``third_decoder_padding``) - up x2 - Conv2D(channels, linear); all 3x3,
    ReLU unless stated. The two paddings land a 28-pixel image back on 28 pixels; a 32-pixel
    image needs neither. The models are named ``{prefix}_encoder``, ``{prefix}_decoder`` and
    ``{prefix}_autoencoder``.
    """
    seeds = _SeedStream(seed)
    encoder = tf.keras.Sequential(
        [
            tf.keras.Input(shape=input_shape),
            _conv(seeds, 16, "relu"),
            layers.MaxPooling2D(2),
            _conv(seeds, 8, "relu"),
            layers.MaxPooling2D(2),
            _conv(seeds, 8, "relu"),
            layers.MaxPooling2D(2, padding=pad_last_pool),
        ],
        name=f"{prefix}_encoder",
    )
    decoder = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(4, 4, 8)),
            _conv(seeds, 8, "relu"),
            NearestUpsampling2D(2),
            _conv(seeds, 8, "relu"),
            NearestUpsampling2D(2),
            _conv(seeds, 16, "relu", padding=third_decoder_padding),
            NearestUpsampling2D(2),
            _conv(seeds, input_shape[-1], None),
        ],
        name=f"{prefix}_decoder",
    )
    return _autoencoder(encoder, decoder, f"{prefix}_autoencoder")


def mnist_class_autoencoder(seed: int = 0) -> tuple[tf.keras.Sequential, tf.keras.Sequential, tf.keras.Sequential]:
    """A class-specific MNIST autoencoder for IM1/IM2 (section 4.1): ``(ae, enc, dec)``.

    The classic Keras convolutional autoencoder, all ``Sequential``. Encoder
    ``(28, 28, 1) -> (4, 4, 8)``: Conv2D(16, 3, same, relu) - MaxPool(2) - Conv2D(8, 3,
    same, relu) - MaxPool(2) - Conv2D(8, 3, same, relu) - MaxPool(2, same). Decoder
    ``(4, 4, 8) -> (28, 28, 1)``: Conv2D(8, 3, same, relu) - up x2 - Conv2D(8, 3, same,
    relu) - up x2 - Conv2D(16, 3, valid, relu) - up x2 - Conv2D(1, 3, same, linear).
    ``ae`` is compiled with Adam and MSE; the paper trains 30 epochs with batch size 128,
    one autoencoder per class (and one on all classes for IM2).
    """
    return _class_autoencoder(seed, (28, 28, 1), "mnist_class", pad_last_pool="same", third_decoder_padding="valid")


def cifar10_cnn(seed: int = 0, width: int = 32) -> tf.keras.Sequential:
    """A CIFAR-10 classifier for this project's CIFAR-10 chapter, a compiled ``Sequential``.

    The report (section 5.1) used a pre-trained ResNet that cannot be had offline; this is a
    small VGG-style network trained from scratch instead. Three blocks of two Conv2D(3×3,
    same, ReLU) layers with ``width``, ``2·width`` and ``4·width`` filters, each block
    followed by 2×2 max-pooling and Dropout(0.25), then Flatten - Dense(256, ReLU) -
    Dropout(0.5) - Dense(10, softmax), on inputs ``(32, 32, 3)`` in ``[0, 1]``. Compiled
    with Adam and categorical cross-entropy (one-hot targets). No batch normalisation, so
    the model explained is the same function in training and inference apart from dropout.
    """
    check_positive_integer(width, "width")
    seeds = _SeedStream(seed)
    stack: list[Any] = [tf.keras.Input(shape=(32, 32, 3))]
    for filters in (width, 2 * width, 4 * width):
        stack += [
            _conv(seeds, filters, "relu"),
            _conv(seeds, filters, "relu"),
            layers.MaxPooling2D(2),
            layers.Dropout(0.25, seed=seeds()),
        ]
    stack += [
        layers.Flatten(),
        _dense(seeds, 256, "relu"),
        layers.Dropout(0.5, seed=seeds()),
        _dense(seeds, 10, "softmax"),
    ]
    model = tf.keras.Sequential(stack, name="cifar10_cnn")
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def cifar10_autoencoder(seed: int = 0) -> tuple[tf.keras.Sequential, tf.keras.Sequential, tf.keras.Sequential]:
    """The autoencoder of the search on CIFAR-10: ``(ae, enc, dec)``, all ``Sequential``.

    :func:`mnist_autoencoder` with three channels: encoder ``(32, 32, 3) -> (16, 16, 3)``:
    Conv2D(16, 3, same, relu) - Conv2D(16, 3, same, relu) - MaxPool(2) - Conv2D(3, 3, same,
    linear), so an image is encoded with a quarter of its numbers, as MNIST's 28×28 is
    encoded with 14×14; decoder Conv2D(16) - nearest upsampling ×2 - Conv2D(16) -
    Conv2D(3, linear). Adam and MSE. The encoder defines the encoder prototypes of L_proto.
    """
    seeds = _SeedStream(seed)
    encoder = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(32, 32, 3)),
            _conv(seeds, 16, "relu"),
            _conv(seeds, 16, "relu"),
            layers.MaxPooling2D(2),
            _conv(seeds, 3, None),
        ],
        name="cifar10_encoder",
    )
    decoder = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(16, 16, 3)),
            _conv(seeds, 16, "relu"),
            NearestUpsampling2D(2),
            _conv(seeds, 16, "relu"),
            _conv(seeds, 3, None),
        ],
        name="cifar10_decoder",
    )
    return _autoencoder(encoder, decoder, "cifar10_autoencoder")


def cifar10_class_autoencoder(seed: int = 0) -> tuple[tf.keras.Sequential, tf.keras.Sequential, tf.keras.Sequential]:
    """An IM1/IM2 autoencoder on CIFAR-10: ``(ae, enc, dec)``.

    :func:`mnist_class_autoencoder` for ``(32, 32, 3)`` images: encoder Conv2D(16) -
    MaxPool(2) - Conv2D(8) - MaxPool(2) - Conv2D(8) - MaxPool(2) to ``(4, 4, 8)``, all 3×3,
    same, ReLU; decoder Conv2D(8) - up ×2 - Conv2D(8) - up ×2 - Conv2D(16) - up ×2 -
    Conv2D(3, linear) (32 is a power of two, so no "valid" convolution is needed to land on
    the input size). Adam and MSE.
    """
    return _class_autoencoder(seed, (32, 32, 3), "cifar10_class")


def breast_cancer_mlp(seed: int = 0) -> tf.keras.Sequential:
    """The Breast Cancer classifier of the paper (appendix A), a compiled ``Sequential``.

    Dense(40, relu) - Dense(40, relu) - Dense(2, softmax) on 30 standardised features.
    Compiled with SGD (Keras default learning rate 0.01) and categorical cross-entropy
    (one-hot targets); the paper trains 500 epochs.
    """
    seeds = _SeedStream(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(30,)),
            _dense(seeds, 40, "relu"),
            _dense(seeds, 40, "relu"),
            _dense(seeds, 2, "softmax"),
        ],
        name="breast_cancer_mlp",
    )
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def breast_cancer_autoencoder(seed: int = 0) -> tuple[tf.keras.Sequential, tf.keras.Sequential, tf.keras.Sequential]:
    """The Breast Cancer autoencoder (appendix A): ``(ae, enc, dec)``, all ``Sequential``.

    Encoder ``30 -> 6``: Dense(20, relu) - Dense(10, relu) - Dense(6, linear); decoder
    ``6 -> 30``: Dense(10, relu) - Dense(20, relu) - Dense(30, linear);
    ``ae = Sequential([enc, dec])`` compiled with Adam and MSE (the optimizer is this
    project's choice). Used as the L_AE/L_proto autoencoder and, trained per class,
    for IM1/IM2.
    """
    seeds = _SeedStream(seed)
    encoder = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(30,)),
            _dense(seeds, 20, "relu"),
            _dense(seeds, 10, "relu"),
            _dense(seeds, 6, None),
        ],
        name="breast_cancer_encoder",
    )
    decoder = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(6,)),
            _dense(seeds, 10, "relu"),
            _dense(seeds, 20, "relu"),
            _dense(seeds, 30, None),
        ],
        name="breast_cancer_decoder",
    )
    return _autoencoder(encoder, decoder, "breast_cancer_autoencoder")


@tf.keras.utils.register_keras_serializable(package="cgp_lib")
class OrdinalToOneHot(layers.Layer):
    """Ordinal layout → one-hot layout: each categorical column's code becomes a block of
    one-hot columns, numerical columns pass through (in order).

    ``cat_vars``: {ordinal column: number of categories}. Codes are rounded to the nearest
    integer; like an embedding layer, the layer has no gradient with respect to the codes.
    Registered as ``cgp_lib>OrdinalToOneHot`` so that models containing it reload (also in
    the alibi worker).
    """

    def __init__(self, cat_vars, n_columns: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pairs = cat_vars.items() if isinstance(cat_vars, dict) else cat_vars
        self.cat_vars = {int(k): int(v) for k, v in pairs}
        self.n_columns = int(n_columns)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        parts = []
        for c in range(self.n_columns):
            if c in self.cat_vars:
                codes = tf.cast(tf.round(tf.stop_gradient(inputs[:, c])), tf.int32)
                parts.append(tf.one_hot(codes, self.cat_vars[c], dtype=inputs.dtype))
            else:
                parts.append(inputs[:, c : c + 1])
        return tf.concat(parts, axis=1)

    def compute_output_shape(self, input_shape: Any) -> tf.TensorShape:
        width = self.n_columns + sum(v - 1 for v in self.cat_vars.values())
        return tf.TensorShape([tf.TensorShape(input_shape)[0], width])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "cat_vars": [[k, v] for k, v in self.cat_vars.items()],
            "n_columns": self.n_columns,
        }


tf.keras.utils.get_custom_objects().setdefault("OrdinalToOneHot", OrdinalToOneHot)


def adult_mlp(seed: int = 0, n_features: int = 57) -> tf.keras.Sequential:
    """The Adult classifier of the paper's categorical example (section 4.4), as in alibi's
    ``cfproto_cat_adult_ohe`` example: on the 57 one-hot and scaled numerical columns,
    three Dense(60, relu) layers each followed by Dropout(0.2), then Dense(2, softmax);
    Adam and categorical cross-entropy (the example trains 30 epochs, batch size 256)."""
    seeds = _SeedStream(seed)
    model = tf.keras.Sequential(
        [tf.keras.Input(shape=(n_features,))]
        + [layer for _ in range(3) for layer in (_dense(seeds, 60, "relu"), layers.Dropout(0.2, seed=seeds()))]
        + [_dense(seeds, 2, "softmax")],
        name="adult_mlp",
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def adult_ordinal_model(ohe_model: tf.keras.Model, cat_vars_ord: dict[int, int], n_columns: int) -> tf.keras.Sequential:
    """The same classifier on ordinal input: :class:`OrdinalToOneHot` in front of ``ohe_model``
    (weights shared). Gives the same probabilities as ``ohe_model`` on the one-hot rows; its
    gradient with respect to a category code is zero, as with alibi's ordinal example
    (embedding layers)."""
    model = tf.keras.Sequential(
        [tf.keras.Input(shape=(n_columns,)), OrdinalToOneHot(cat_vars_ord, n_columns), ohe_model],
        name="adult_ordinal_mlp",
    )
    return model


# --------------------------------------------------------------------------------------
# Cached training
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Trained:
    """What :func:`train_cached` returns.

    ``model``: the trained (first) model; ``parts``: everything the builder returned, as a
    tuple (``(model,)`` for a single model, ``(ae, enc, dec)`` for autoencoders), sharing
    the trained weights; ``from_cache``: True when the weights were loaded instead of
    trained; ``history``: ``model.fit``'s history dict (stored in the sidecar, so also
    available on a cache hit); ``key``: the cache key; ``weights_path``: the ``.npz`` file.
    """

    model: tf.keras.Model
    parts: tuple
    from_cache: bool
    history: dict[str, list[float]] = field(default_factory=dict)
    key: str = ""
    weights_path: Path | None = None


def _canonical_architecture(model: tf.keras.Model) -> Any:
    """``model.to_json()`` with every layer/model name replaced by its order of appearance.

    Keras numbers automatic names per process (``dense_7``), so the raw JSON of the same
    architecture differs between calls; names carry no weights, so they are normalised.
    """
    config = json.loads(model.to_json())
    names: dict[str, str] = {}

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "name" and isinstance(v, str) and v not in names:
                    names[v] = f"layer_{len(names)}"
                collect(v)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: rename(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rename(item) for item in node]
        if isinstance(node, str):
            return names.get(node, node)
        return node

    collect(config)
    return rename(config)


def _loss_name(model: tf.keras.Model) -> Any:
    """The loss's name, with its configuration when it is a Loss object (e.g. label smoothing)."""
    loss = getattr(model, "loss", None)
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, tf.keras.losses.Loss):
        config = dict(loss.get_config())
        config.pop("name", None)
        return {"class": type(loss).__name__, "config": config}
    return getattr(loss, "__name__", type(loss).__name__)


def _optimizer_config(model: tf.keras.Model) -> dict[str, Any] | None:
    """The optimizer's config without ``jit_compile`` (Keras sets it only on GPU machines)."""
    if model.optimizer is None:
        return None
    config = dict(model.optimizer.get_config())
    config.pop("jit_compile", None)
    return config


def _key_inputs(
    model: tf.keras.Model, x: Any, y: Any, epochs: int, batch_size: int, seed: int, augmentation: str | None = None
) -> dict[str, Any]:
    inputs = {
        "architecture": _canonical_architecture(model),
        "x_sha256": cache.array_digest(x),
        "y_sha256": cache.array_digest(y),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "optimizer": _optimizer_config(model),
        "loss": _loss_name(model),
    }
    if augmentation is not None:  # absent otherwise, so that the keys of unaugmented models are unchanged
        inputs["augmentation"] = augmentation
    return inputs


def _key_of(inputs: dict[str, Any]) -> str:
    text = json.dumps(inputs, sort_keys=True, default=str)
    return cache.text_digest(text)


def training_cache_key(
    model: tf.keras.Model,
    x: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    augmentation: str | None = None,
) -> str:
    """The sha256 key under which :func:`train_cached` stores ``model`` trained on (x, y).

    Hashes the architecture (``model.to_json()`` with automatic names normalised,
    including initializer seeds), the bytes, dtype and shape of ``x`` and ``y``,
    ``epochs``, ``batch_size``, ``seed``, the optimizer config (without the
    hardware-dependent ``jit_compile`` flag), the loss name and, when there is one, the
    name of the augmentation (:data:`AUGMENTATIONS`).
    """
    return _key_of(_key_inputs(model, x, y, epochs, batch_size, seed, augmentation))


def _flip_shift(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A random horizontal flip and a random shift of up to 4 pixels each way (reflected border)."""
    image = tf.image.random_flip_left_right(image)
    padded = tf.pad(image, [[4, 4], [4, 4], [0, 0]], mode="REFLECT")
    return tf.image.random_crop(padded, tf.shape(image)), label


#: Named training-time augmentations of :func:`train_cached` (``augmentation=``): each maps
#: one (image, target) pair to another and is applied afresh in every epoch.
AUGMENTATIONS: dict[str, Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]] = {
    "flip-shift": _flip_shift,
}


def _augmented_dataset(x: Any, y: Any, augmentation: str, batch_size: int, seed: int) -> tf.data.Dataset:
    augment = AUGMENTATIONS[augmentation]
    data = tf.data.Dataset.from_tensor_slices((np.asarray(x), np.asarray(y)))
    data = data.shuffle(len(x), seed=int(seed), reshuffle_each_iteration=True)
    return data.map(augment).batch(int(batch_size)).prefetch(2)


def train_cached(
    build: Callable[..., Any],
    x: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    cache_dir: str | os.PathLike | None = None,
    validation_data: Any = None,
    verbose: int = 0,
    name: str | None = None,
    augmentation: str | None = None,
) -> Trained:
    """Build ``build(seed=seed)``, train it on NumPy arrays ``(x, y)`` once, cache the weights.

    The builder may return a model or a tuple whose first element is the (compiled)
    model to train, e.g. ``(ae, enc, dec)``; ``y`` is what ``model.fit`` expects (one-hot
    labels for the classifiers, ``x`` itself for autoencoders). Calls
    ``tf.keras.utils.set_random_seed(seed)`` first (this seeds Python, NumPy and
    TensorFlow's global generators, for shuffling and dropout; op determinism is not
    enabled), then ``model.fit(x, y, epochs, batch_size, shuffle=True)``.

    Weights are stored as ``<cache_dir>/<name>-<key[:16]>.weights.npz`` with a JSON
    sidecar (``.json``) holding the key, its inputs (except the architecture), and the
    training history. ``cache_dir`` defaults to ``$CGP_CACHE_DIR/models``, else
    ``~/.cache/cgp_lib/models`` (:func:`cgp_lib.repro.cache.cache_dir`); ``name`` defaults to
    ``model.name`` and only labels the files. The key is :func:`training_cache_key`;
    ``validation_data`` and ``verbose`` do not enter it (they do not change the weights). On a
    hit the model is rebuilt and the weights loaded into it, which updates every part since
    they share layers; the optimizer state is not restored.

    ``augmentation`` names a transformation of :data:`AUGMENTATIONS` applied to every
    training pair afresh in every epoch (e.g. ``"flip-shift"`` for the CIFAR-10 classifier);
    the rows are then shuffled by a ``tf.data`` pipeline seeded with ``seed``, and the name
    enters the key.
    """
    if augmentation is not None and augmentation not in AUGMENTATIONS:
        raise ValueError(f"augmentation: expected None or one of {sorted(AUGMENTATIONS)}, got {augmentation!r}")
    tf.keras.utils.set_random_seed(int(seed))
    built = build(seed=seed)
    parts = tuple(built) if isinstance(built, (tuple, list)) else (built,)
    model = parts[0]
    if not isinstance(model, tf.keras.Model):
        raise ValueError(f"build must return a Keras model or a tuple starting with one, got {type(model).__name__}")
    if model.optimizer is None:
        raise ValueError(f"build must return a compiled model; {model.name!r} is not compiled")

    inputs = _key_inputs(model, x, y, epochs, batch_size, seed, augmentation)
    key = _key_of(inputs)
    directory = Path(cache_dir).expanduser() if cache_dir is not None else cache.cache_dir("models")
    # Keras numbers automatic names per process ("sequential_3"): drop the number so that the
    # same model finds its files again.
    label = name or re.sub(r"_\d+$", "", model.name)
    stem = f"{label}-{key[:16]}"
    weights_path = directory / f"{stem}.weights.npz"
    sidecar_path = directory / f"{stem}.json"

    if weights_path.is_file() and sidecar_path.is_file():
        try:
            sidecar = json.loads(sidecar_path.read_text())
            if sidecar.get("key") == key:
                if not model.built:  # e.g. Sequential([enc, dec]) without an Input: build it first
                    model(np.asarray(x[:1]))
                with np.load(weights_path, allow_pickle=False) as stored:
                    model.set_weights([stored[f"arr_{i}"] for i in range(len(stored.files))])
                return Trained(model, parts, True, sidecar.get("history", {}), key, weights_path)
        except Exception as error:  # a truncated or corrupted entry: train again and overwrite it
            warnings.warn(
                f"cached weights {weights_path} (or {sidecar_path.name}) cannot be read "
                f"({type(error).__name__}: {error}); training the model again",
                RuntimeWarning,
                stacklevel=2,
            )

    started = time.perf_counter()
    if augmentation is None:
        history = model.fit(
            x, y, epochs=epochs, batch_size=batch_size, shuffle=True, validation_data=validation_data, verbose=verbose
        )
    else:
        data = _augmented_dataset(x, y, augmentation, batch_size, seed)
        history = model.fit(data, epochs=epochs, validation_data=validation_data, verbose=verbose)
    seconds = time.perf_counter() - started
    history_dict = {k: [float(v) for v in values] for k, values in history.history.items()}

    directory.mkdir(parents=True, exist_ok=True)
    cache.atomic_write(weights_path, lambda f: np.savez(f, *model.get_weights()), "wb")
    sidecar = {
        "key": key,
        "name": label,
        "inputs": {k: v for k, v in inputs.items() if k != "architecture"},
        "x_shape": list(np.shape(x)),
        "y_shape": list(np.shape(y)),
        "history": history_dict,
        "train_seconds": seconds,
        "tensorflow": tf.__version__,
    }
    cache.atomic_write(sidecar_path, lambda f: f.write(json.dumps(sidecar, indent=2, sort_keys=True, default=str)), "w")
    return Trained(model, parts, False, history_dict, key, weights_path)
