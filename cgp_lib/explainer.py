"""Counterfactual explanations guided by prototypes, batched (paper Algorithms 1 and 2).

:class:`CounterfactualProto` mirrors the interface of alibi 0.9.6's explainer of the
same name (the authors' reference implementation) but runs in TensorFlow 2 eager
mode with compiled steps and explains a whole batch at once: every row keeps its own
c, prototype, best-so-far and counters, and no row's search reads another row.

What a batch guarantees, exactly: the rows do not interact (a row gives the same answer
among any other rows, and permuting a batch permutes the answers), but the answer can
depend on the batch *size*. TensorFlow's CPU kernels (oneDNN) round matrix products and
convolutions differently below 16 rows, by about 1e-7. On a well-conditioned search that
stays a float-rounding difference; where c·learning rate is large, the trajectory amplifies
it (measured: 1e-7 at step 1, 0.9 in distance after 99 steps at c = 1000 on Breast Cancer),
and then the counterfactual, its distance and its steps can differ while ``found`` and the
first counterfactual's step have agreed in every case measured. ``block_rows=16`` pads every
compiled call to 16 rows and makes a batch bitwise equal to its rows alone (on the machine
measured; see ``block_rows``).

The search for one c step (Algorithm 1):

1. gradient step on the momentum point y_k with the smooth terms
   c·L_pred + L2 + γ·L_AE + θ·L_proto (eq. 1-10), gradients clipped to ``clip``;
2. shrinkage-thresholding of δ with threshold β, capped at ``feature_range``
   (:func:`cgp_lib.fista.fista_update`), momentum k/(k+3), projection;
3. the iterate x_{k+1} is a counterfactual if its predicted class, after adding κ to
   the original class's probability, differs from the original class and lies in the
   target classes; the best counterfactual is the one with the smallest β·L1 + L2.

Over ``c_steps`` the constant c follows alibi's rule: bisection between the bounds once
a counterfactual was found, ×10 while none was found and no upper bound is known.

When a row stops is :meth:`CounterfactualProto.explain`'s ``stop``: never (every c step, as
alibi), at its first counterfactual (``"first"``), or at the end of the first c step that
found one (``"satisfactory"``: the paper's "satisfactory counterfactual" of section 4.1, the
optimal counterfactual of section 3.6 for the first value of c for which one exists).
"""

from __future__ import annotations

import logging
import numbers
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import tensorflow as tf

from . import categorical, fista
from ._c_search import CSearch
from .gradients import PROBA_PERTURBATIONS, BatchedPredictor, numerical_gradient
from .losses import autoencoder_loss, elastic_net, l1_norm, l2_squared, prediction_loss, prototype_loss
from .prototypes import EncoderPrototypes, KDTreePrototypes, PrototypeStrategy
from .validation import (
    check_cat_vars,
    check_categorical_data,
    check_feature_range,
    check_instances,
    check_keras_model,
    check_number,
    check_pair,
    check_probabilities,
    check_within_range,
)

LOSS_TERMS = ("pred", "l1", "l2", "ae", "proto", "total")
#: Values of ``explain(stop=...)``: when a row leaves the search.
STOP_RULES = (None, "first", "satisfactory")
#: Best distance of a row that has no counterfactual yet. alibi starts from 1e10, which made a
#: counterfactual at a distance of 1e10 or more look like none; +inf cannot be reached, and
#: ``track_best``/``merge_records`` test the step counters, not the distance, for "none yet".
_NO_DISTANCE = np.inf
#: With ``record_path``, the compiled loop runs in windows of steps whose iterates take at most
#: this many bytes, each copied into the result before the next.
PATH_WINDOW_BYTES = 64 * 2**20

#: TensorFlow's warning when a compiled function is traced again: every explainer compiles its own
#: steps, so several explainers in one process retrace the same Python code, as expected.
_RETRACING = "triggered tf.function retracing"


class _ExpectedRetracing(logging.Filter):
    """Drops TensorFlow's retracing warning for this module's compiled steps (and only those)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (_RETRACING in message and "CounterfactualProto." in message)


tf.get_logger().addFilter(_ExpectedRetracing())


def _float32(t):
    """A model's output as float32 (models in float64 or under a mixed-precision policy)."""
    return t if t.dtype == tf.float32 else tf.cast(t, tf.float32)


@dataclass
class CounterfactualResult:
    """Per-instance results of :meth:`CounterfactualProto.explain`, as numpy arrays.

    Rows where no counterfactual was found have ``found`` False, ``cf``, ``cf_proba``,
    ``first_cf``, the distances and the times NaN, ``cf_class``, ``first_cf_class``,
    ``steps_to_first`` and ``steps_to_best`` −1: they are reported, never dropped.

    Two counterfactuals are kept per row: the one reported (``cf``: the best one met before
    the row stopped, see ``explain(stop=...)``) and the first one met (``first_cf``), with the
    gradient steps and the wall time to each. Times are counted from the start of the
    ``explain`` call (validation, prediction and prototype selection included) to the end of
    the step that produced the counterfactual; inside a compiled loop, whose steps cost the
    same, the time of a step is interpolated linearly between the loop's start and end. When
    one instance is explained alone, ``time_to_best_s`` is the paper's time to a satisfactory
    counterfactual (with ``stop="satisfactory"``); in a batch, the times are those of the batch.
    """

    found: np.ndarray  # (N,) bool
    cf: np.ndarray  # (N, *shape) best counterfactual
    orig_class: np.ndarray  # (N,) int
    orig_proba: np.ndarray  # (N, classes)
    cf_class: np.ndarray  # (N,) int
    cf_proba: np.ndarray  # (N, classes)
    proto_class: np.ndarray  # (N,) class of the nearest prototype (guides the search when θ > 0); -1 without
    prototype: np.ndarray | None  # (N, *embedding shape) that prototype, None without prototypes
    distance: np.ndarray  # (N,) β·L1 + L2 of the best counterfactual (EN(δ), eq. 3), NaN if none
    steps_to_first: np.ndarray  # (N,) gradient steps, counted across c steps, to the first counterfactual
    steps_to_best: np.ndarray  # (N,) gradient steps, counted across c steps, to the best counterfactual
    c: np.ndarray  # (N,) value of c in the c step that produced the best counterfactual (NaN if none)
    wall_time_s: np.ndarray  # (N,) wall time of the explain call that produced the row (shared by a batch)
    first_cf: np.ndarray | None = None  # (N, *shape) the first counterfactual met (NaN if none)
    first_cf_class: np.ndarray | None = None  # (N,) its class (-1 if none)
    first_distance: np.ndarray | None = None  # (N,) its β·L1 + L2 (NaN if none)
    time_to_first_s: np.ndarray | None = None  # (N,) seconds from the call's start to the first counterfactual
    time_to_best_s: np.ndarray | None = None  # (N,) seconds from the call's start to the reported one
    stop: str | None = None  # the stop rule the search ran with
    c_history: np.ndarray | None = None  # (c steps run, N) c of each row in each c step (NaN: sat out)
    loss_history: dict | None = field(default=None, repr=False)  # term -> (c_steps, max_iterations, N)
    path: np.ndarray | None = field(default=None, repr=False)  # (c_steps, max_iterations, N, *shape) iterates
    cf_search: np.ndarray | None = field(default=None, repr=False)  # categorical data: cf in the search space

    def __len__(self) -> int:
        return len(self.found)

    def to_frame(self) -> pd.DataFrame:
        """One row per instance with the scalar fields (no arrays)."""
        return pd.DataFrame(
            {
                "found": self.found,
                "orig_class": self.orig_class,
                "cf_class": self.cf_class,
                "proto_class": self.proto_class,
                "distance": self.distance,
                "steps_to_first": self.steps_to_first,
                "steps_to_best": self.steps_to_best,
                "c": self.c,
                "time_to_first_s": self.time_to_first_s,
                "time_to_best_s": self.time_to_best_s,
                "wall_time_s": self.wall_time_s,
            }
        )


def is_counterfactual(proba, orig_onehot, allowed, kappa):
    """alibi's test: argmax(p + κ·onehot(t0)) ≠ t0 and argmax(p) is an allowed target class."""
    shifted = tf.argmax(proba + kappa * orig_onehot, axis=1)
    predicted = tf.argmax(proba, axis=1)
    orig = tf.argmax(orig_onehot, axis=1)
    in_target = tf.gather(allowed, predicted, axis=1, batch_dims=1)
    return (shifted != orig) & in_target


def step_segments(max_iterations: int, first_length: int = 10) -> list[tuple[int, int]]:
    """[first, last) step ranges covering a c step, each twice as long as the one before
    (10, 20, 40, ...): the compiled loop drops finished rows at their ends."""
    bounds, first, length = [], 0, first_length
    while first < max_iterations:
        bounds.append((first, min(first + length, max_iterations)))
        first, length = first + length, 2 * length
    return bounds


class SearchRecord(NamedTuple):
    """Per row: the best counterfactual met so far (smallest β·L1 + L2) and the first one met.

    ``step``/``first_step`` are −1 (and ``distance`` +inf) while none was met; the first valid
    iterate of a row always becomes its best, whatever its distance.
    """

    distance: tf.Tensor
    x: tf.Tensor
    proba: tf.Tensor
    step: tf.Tensor
    first_step: tf.Tensor
    first_x: tf.Tensor
    first_proba: tf.Tensor
    first_distance: tf.Tensor


def empty_record(x0, n_classes):
    """A :class:`SearchRecord` with no counterfactual for the rows of ``x0``."""
    n = tf.shape(x0)[0]
    none = tf.fill([n], tf.constant(_NO_DISTANCE, tf.float32))
    zeros = tf.zeros([n, n_classes])
    return SearchRecord(none, x0, zeros, tf.fill([n], -1), tf.fill([n], -1), x0, zeros, none)


def track_best(best: SearchRecord, x, proba, distance, valid, step) -> SearchRecord:
    """Keep, per row, the valid iterate with the smallest distance, and the first valid one."""
    better = valid & ((best.step < 0) | (distance < best.distance))
    first = valid & (best.first_step < 0)
    shape = (-1,) + (1,) * (len(x.shape) - 1)
    return SearchRecord(
        tf.where(better, distance, best.distance),
        tf.where(tf.reshape(better, shape), x, best.x),
        tf.where(better[:, None], proba, best.proba),
        tf.where(better, step, best.step),
        tf.where(first, step, best.first_step),
        tf.where(tf.reshape(first, shape), x, best.first_x),
        tf.where(first[:, None], proba, best.first_proba),
        tf.where(first, distance, best.first_distance),
    )


def numpy_record(record: SearchRecord) -> dict:
    """A compiled :class:`SearchRecord` as a dict of numpy arrays keyed by its field names."""
    return {name: value.numpy() for name, value in zip(SearchRecord._fields, record)}


def merge_records(best: dict, part: dict, rows: np.ndarray) -> np.ndarray:
    """Fold ``part`` (the record of ``rows``) into ``best`` (the record of every row) in place.

    Both are dicts of numpy arrays keyed by :class:`SearchRecord`'s field names. A row's best
    counterfactual is replaced where ``part`` has a smaller distance; its first one is set where
    it had none. Returns the rows (indices into ``best``) whose best counterfactual was replaced.
    """
    better = (part["step"] >= 0) & ((best["step"][rows] < 0) | (part["distance"] < best["distance"][rows]))
    for name in ("distance", "x", "proba", "step"):
        best[name][rows[better]] = part[name][better]
    first = (best["first_step"][rows] < 0) & (part["first_step"] >= 0)
    for name in ("first_step", "first_x", "first_proba", "first_distance"):
        best[name][rows[first]] = part[name][first]
    return rows[better]


class CounterfactualProto:
    """Counterfactual explanations guided by prototypes (Van Looveren & Klaise, 2021).

    Parameters mirror alibi 0.9.6's ``CounterfactualProto``:

    predict
        A ``tf.keras.Model`` returning class probabilities (gradients by automatic
        differentiation) or any function from an ``(N, *shape)`` array to an ``(N, classes)``
        array of probabilities (a black box: gradients of L_pred by central differences,
        eq. 11-12).
    shape
        Shape of a batch of instances, batch size first, as in alibi, e.g. ``(1, 28, 28, 1)``.
        Only ``shape[1:]`` matters: :meth:`explain` takes any batch size.
    kappa, beta, gamma, theta
        κ (margin of L_pred, eq. 2), β (weight of L1, eq. 3), γ (weight of L_AE, eq. 4),
        θ (weight of L_proto, eq. 9/10).
    feature_range
        (min, max), scalars or arrays broadcasting to an instance.
    ae_model, enc_model
        Keras autoencoder for L_AE and encoder for prototypes in latent space. When
        ``ae_model.layers[0] is enc_model`` the encoding is computed once per step and
        shared by L_AE and L_proto.
    use_kdtree
        Prototypes from class-specific k-d trees in feature space (Algorithm 2) when no
        encoder is given.
    learning_rate_init, max_iterations, c_init, c_steps, clip
        FISTA's initial learning rate, steps per c step, initial c, number of c steps,
        and the clipping range of gradients.
    eps, update_num_grad
        Black-box only: the perturbation sizes (probabilities, features) of eq. 12, and
        how often numerical gradients are computed. As in alibi: at steps k > 0 with
        k % update_num_grad == 0 the gradient is the mean of the numerical gradients at
        the momentum points since the previous computation, and zero at other steps.
    prototypes
        A :class:`~cgp_lib.prototypes.PrototypeStrategy` to use instead of the encoder
        or k-d trees (for example k-means centroids).
    proba_perturbation
        Black-box only: ``'coordinate'`` (exact central differences) or ``'simplex'``
        (alibi's, which scales the gradient by classes/(classes−1)); see
        :mod:`cgp_lib.gradients`.
    max_predict_rows
        Black-box only: at most this many rows per call to ``predict``.
    cat_vars, ohe
        Categorical variables (paper section 3.4), as in alibi: {column: number of
        categories}; with ``ohe=True`` the column is the first of the variable's one-hot
        block. The search then runs in the ordinal layout, each category replaced by a number
        computed in :meth:`fit` (:mod:`cgp_lib.categorical`); ``feature_range`` is given in
        that layout (one column per variable). The model always sees the nearest category;
        gradients pass the mapping straight through, as in alibi. Prototypes: k-d trees only
        (in the search space); no autoencoder.
    immutable
        Columns (of the model's input; for one-hot data any column of a variable's block)
        that the search never changes, for example race or sex: their gradient is set to
        zero, so they keep the instance's value.
    block_rows
        White box only: every compiled search call and every prediction runs on at least this
        many rows (the batch padded with inactive copies of its first row). TensorFlow's CPU
        matrix kernels (oneDNN) round differently for small batches: measured here (TF 2.14,
        x86-64), matrix products and convolutions give the same bits per row, wherever the row
        sits, for any batch of 16 rows or more, and other bits below 16. The difference is
        ~1e-7; at large c it grows along the trajectory (see the README), so by default
        (None) a batch and its rows explained one by one agree to float tolerance only on
        well-conditioned searches. ``block_rows=16`` makes them identical on this machine, at the
        cost of computing 16 rows for any smaller batch (one instance alone costs 16 rows).
    """

    def __init__(
        self,
        predict,
        shape,
        kappa=0.0,
        beta=0.1,
        feature_range=(-1e10, 1e10),
        gamma=0.0,
        ae_model=None,
        enc_model=None,
        theta=0.0,
        use_kdtree=False,
        learning_rate_init=1e-2,
        max_iterations=1000,
        c_init=10.0,
        c_steps=10,
        eps=(1e-3, 1e-3),
        clip=(-1000.0, 1000.0),
        update_num_grad=1,
        prototypes: PrototypeStrategy | None = None,
        proba_perturbation="coordinate",
        max_predict_rows=16384,
        cat_vars=None,
        ohe=False,
        immutable=None,
        block_rows=None,
    ):
        if not callable(predict):
            raise TypeError("predict: expected a tf.keras.Model or a function returning probabilities")
        try:
            shape = tuple(int(s) for s in shape)
        except TypeError:
            raise TypeError(f"shape: expected a tuple of ints like (1, 28, 28, 1), got {shape!r}") from None
        if len(shape) < 2 or any(s < 1 for s in shape):
            raise ValueError(f"shape: expected (batch size, *instance shape) with positive entries, got {shape}")
        for name, value in (("kappa", kappa), ("beta", beta), ("gamma", gamma), ("theta", theta), ("c_init", c_init)):
            check_number(value, name, minimum=0)
        if kappa >= 1:
            raise ValueError(
                f"kappa: a counterfactual needs p_j > p_t0 + κ for some class j, impossible with class "
                f"probabilities when κ >= 1; got {kappa!r}"
            )
        check_number(learning_rate_init, "learning_rate_init", minimum=0, strict=True)
        check_number(max_iterations, "max_iterations", minimum=1, integer=True)
        check_number(c_steps, "c_steps", minimum=1, integer=True)
        check_number(update_num_grad, "update_num_grad", minimum=1, integer=True)
        check_number(max_predict_rows, "max_predict_rows", minimum=1, integer=True)
        if np.ndim(eps) != 1 or len(eps) != 2:
            raise ValueError(f"eps: expected a pair (probabilities, features) of positive numbers, got {eps!r}")
        for e in eps:
            check_number(e, "eps", minimum=0, strict=True)
        clip = check_pair(clip, "clip")
        if clip[0] >= clip[1]:
            raise ValueError(f"clip: expected (min, max) with min < max, got {clip!r}")
        if proba_perturbation not in PROBA_PERTURBATIONS:
            raise ValueError(f"proba_perturbation: expected one of {PROBA_PERTURBATIONS}, got {proba_perturbation!r}")
        if gamma > 0 and ae_model is None:
            raise ValueError("gamma: L_AE needs an autoencoder; pass ae_model or set gamma=0")
        if prototypes is None:
            if enc_model is not None:
                prototypes = EncoderPrototypes(enc_model)
            elif use_kdtree:
                prototypes = KDTreePrototypes()
        elif not isinstance(prototypes, PrototypeStrategy):
            raise TypeError("prototypes: expected a cgp_lib.prototypes.PrototypeStrategy")
        if theta > 0 and prototypes is None:
            raise ValueError("theta: L_proto needs prototypes; pass enc_model, use_kdtree=True or prototypes")
        if not isinstance(ohe, bool):
            raise TypeError(f"ohe: expected True or False, got {ohe!r}")
        self.cat_vars, self.ohe = None, ohe
        search_shape = shape[1:]
        if cat_vars:
            if len(shape) != 2:
                raise ValueError(
                    f"cat_vars: categorical variables need tabular instances, shape (1, columns); got shape {shape}"
                )
            self.cat_vars = check_cat_vars(cat_vars, shape[1], ohe)
            search_shape = (categorical.ordinal_width(self.cat_vars, shape[1], ohe),)
            if ae_model is not None or gamma > 0:
                raise ValueError("ae_model: L_AE is not supported with cat_vars; set gamma=0 and ae_model=None")
            if prototypes is not None and not isinstance(prototypes, KDTreePrototypes):
                raise ValueError(
                    "enc_model: with cat_vars only k-d tree prototypes are supported "
                    "(use_kdtree=True), built in the search space"
                )
        elif ohe:
            raise ValueError("ohe: one-hot encoding needs cat_vars")
        self.search_shape = search_shape

        self.predict = predict
        self.is_keras = isinstance(predict, tf.keras.Model)
        if self.is_keras:
            check_keras_model(predict, shape[1:])
        elif c_init > 0 and update_num_grad >= max_iterations:
            raise ValueError(
                f"update_num_grad: a black box gets L_pred's numerical gradient at steps k > 0 with "
                f"k % update_num_grad == 0 and k < max_iterations, so update_num_grad={update_num_grad} "
                f">= max_iterations={max_iterations} means no gradient at all; lower it (or set c_init=0)"
            )
        self.shape = shape
        self.instance_shape = shape[1:]
        self.kappa, self.beta, self.gamma, self.theta = float(kappa), float(beta), float(gamma), float(theta)
        self.lower, self.upper = check_feature_range(feature_range, self.search_shape)
        self._init_bounds = (self.lower.copy(), self.upper.copy())
        self.feature_range = (self.lower, self.upper)
        self.catmap: categorical.CategoricalMap | None = None
        self._mutable = self._immutable_mask(immutable)
        self.ae_model, self.enc_model, self.prototypes = ae_model, enc_model, prototypes
        self.learning_rate_init, self.max_iterations = float(learning_rate_init), int(max_iterations)
        self.c_init, self.c_steps = float(c_init), int(c_steps)
        self.eps, self.clip = (float(eps[0]), float(eps[1])), (float(clip[0]), float(clip[1]))
        self.update_num_grad, self.proba_perturbation = int(update_num_grad), proba_perturbation
        self.max_predict_rows = int(max_predict_rows)
        if block_rows is not None:
            check_number(block_rows, "block_rows", minimum=1, integer=True)
        self.block_rows = None if block_rows is None else int(block_rows)
        # The encoder pass is shared by L_AE and L_proto when the autoencoder is encoder + decoder.
        self._decoder = None
        if (
            ae_model is not None
            and enc_model is not None
            and getattr(prototypes, "enc_model", None) is enc_model
            and len(ae_model.layers) == 2
            and ae_model.layers[0] is enc_model
        ):
            self._decoder = ae_model.layers[1]
        self.n_classes = check_probabilities(
            self._predict_numpy(np.zeros((1,) + self.instance_shape, np.float32)), 1
        ).shape[1]
        self.fitted = False
        self.last_predict_calls = 0
        self._black_box_error = None
        self._compile()

    def _compile(self):
        """(Re)create the compiled steps; called again after a categorical fit changes the mapping."""
        self._white_box_runs = {}  # (flags, prototype shape) -> compiled c step, see _white_box_run
        self._smooth_step = tf.function(self._black_box_step, reduce_retracing=True)
        self._loss_terms_fn = tf.function(self._loss_terms, reduce_retracing=True)
        self._track = tf.function(self._check_and_track, reduce_retracing=True)

    def _immutable_mask(self, immutable):
        """(1, *search shape) float mask: 0 for immutable columns, 1 elsewhere; None if none."""
        if isinstance(immutable, numbers.Integral) and not isinstance(immutable, bool):
            immutable = [immutable]  # one column
        if immutable is not None and (isinstance(immutable, (str, bytes)) or not hasattr(immutable, "__len__")):
            raise TypeError(f"immutable: expected a list of column indices, got {immutable!r}")
        if immutable is None or len(immutable) == 0:
            return None
        n_model = int(np.prod(self.instance_shape))
        mask = np.ones(int(np.prod(self.search_shape)), np.float32)
        if self.cat_vars is not None and self.ohe:  # model column -> search column
            to_search, j, k = {}, 0, 0
            while k < n_model:
                width = self.cat_vars.get(k, 1)
                for i in range(k, k + width):
                    to_search[i] = j
                j, k = j + 1, k + width
        else:
            to_search = {i: i for i in range(n_model)}
        for col in immutable:
            if isinstance(col, bool) or not isinstance(col, (int, np.integer)) or not 0 <= col < n_model:
                raise ValueError(f"immutable: expected column indices in [0, {n_model}), got {col!r}")
            mask[to_search[int(col)]] = 0.0
        return tf.constant(mask.reshape((1,) + tuple(self.search_shape)))

    def _model_proba(self, z):
        """The Keras model's probabilities at search-space points (categories mapped back first)."""
        x = z if self.catmap is None else self.catmap.to_model_tf(z)
        return _float32(self.predict(x, training=False))

    def _search_predict(self, Z: np.ndarray) -> np.ndarray:
        """Black box: ``predict`` at search-space points (categories mapped back first)."""
        return self.predict(Z if self.catmap is None else self.catmap.to_model(Z))

    def to_search(self, X) -> np.ndarray:
        """Instances of the model's input space in the search space (identity without cat_vars)."""
        X = check_instances(X, self.instance_shape)
        if self.cat_vars is None:
            return X
        if self.catmap is None:
            raise ValueError("X: call fit(X_train) first; it computes the numbers of the categories")
        return self.catmap.to_search(X)

    # ------------------------------------------------------------------ prediction
    def _predict_numpy(self, X: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        if self.is_keras:
            out = []
            for i in range(0, len(X), batch_size):
                rows = X[i : i + batch_size]
                proba = self.predict(tf.constant(self._padding(len(rows))(rows)), training=False)[: len(rows)]
                if not tf.is_tensor(proba):
                    raise ValueError(
                        f"predict: the Keras model returned {type(proba).__name__}; expected one tensor of "
                        "class probabilities (a model with several outputs needs a wrapper)"
                    )
                out.append(_float32(proba).numpy())
            return np.concatenate(out, axis=0)
        return np.asarray(self.predict(X))

    def _forward(self, x):
        """Class probabilities inside compiled code: the Keras model, or the black box through
        ``tf.numpy_function`` (no gradient flows through it; used where none is needed)."""
        if self.is_keras:
            return self._model_proba(x)
        proba = tf.numpy_function(self._black_box_proba, [x], tf.float32, stateful=True)
        return tf.ensure_shape(proba, [x.shape[0], self.n_classes])

    def _black_box_proba(self, x: np.ndarray) -> np.ndarray:
        """The black box on ``x``, chunked by ``max_predict_rows``, checked; counts the calls."""
        try:
            out = []
            for i in range(0, len(x), self.max_predict_rows):
                self.last_predict_calls += 1
                out.append(np.asarray(self._search_predict(x[i : i + self.max_predict_rows])))
            return check_probabilities(np.concatenate(out, axis=0), len(x), n_classes=self.n_classes).astype(np.float32)
        except Exception as error:  # re-raised as is by explain(), not as TensorFlow's wrapper
            self._black_box_error = error
            raise

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the model on ``X``, checked."""
        X = check_instances(X, self.instance_shape)
        return check_probabilities(self._predict_numpy(X), len(X), n_classes=self.n_classes)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X,
        batch_size: int = 4096,
        d_type: str = "abdm",
        w: float | None = None,
        disc_perc=(25, 50, 75),
        standardize_cat_vars: bool = False,
        smooth: float = 1.0,
        center: bool = True,
        update_feature_range: bool = True,
    ) -> "CounterfactualProto":
        """Label a training sample with the model's predictions and build the class prototypes.

        Needed when prototypes are used (θ > 0, an encoder or k-d trees) or with ``cat_vars``;
        harmless otherwise. With ``cat_vars`` it first computes one number per category
        (paper section 3.4, appendix D; :func:`cgp_lib.categorical.embed_categories`):
        ``d_type`` 'abdm' (eq. 18, numerical features binned at the ``disc_perc``
        percentiles), 'mvdm' (eq. 17, from the model's predictions) or 'abdm-mvdm' (weight
        ``w`` on ABDM); ``standardize_cat_vars``, ``smooth``, ``center`` as in alibi. With
        ``update_feature_range`` the bounds of each categorical column become the [min, max]
        of its numbers. (alibi 0.9.6 updates its attribute but its search keeps clipping to
        the ``feature_range`` given to the constructor, which is what ``False`` does here.)
        The k-d trees are built in the search space.
        """
        X = check_instances(X, self.instance_shape)
        labels = np.argmax(self.predict_proba(X), axis=1)
        Xs = X
        if self.cat_vars is not None:
            check_categorical_data(X, self.cat_vars, self.ohe)
            lower, upper = self._init_bounds
            self.catmap = categorical.fit_categorical_map(
                X,
                labels,
                self.cat_vars,
                self.ohe,
                lower[0],
                upper[0],
                d_type=d_type,
                w=w,
                disc_perc=disc_perc,
                standardize_cat_vars=standardize_cat_vars,
                smooth=smooth,
                center=center,
            )
            if update_feature_range:
                self.lower, self.upper = self.catmap.bounds(lower, upper)
            else:
                self.lower, self.upper = lower.copy(), upper.copy()
                for c, values in self.catmap.embedding.items():
                    if values.min() < lower[0, c] or values.max() > upper[0, c]:
                        raise ValueError(
                            f"update_feature_range: the numbers of the categories of search column {c} "
                            f"([{values.min():.3g}, {values.max():.3g}]) leave feature_range "
                            f"[{lower[0, c]:.3g}, {upper[0, c]:.3g}]; pass update_feature_range=True or widen it"
                        )
            self.feature_range = (self.lower, self.upper)
            Xs = self.catmap.to_search(X)
            self._compile()
        if self.prototypes is not None:
            self.prototypes.fit(Xs, labels, self.n_classes)
        self.fitted = True
        return self

    # ------------------------------------------------------------------ saving

    def save(self, path) -> "Path":
        """Write the settings and the fitted state (prototypes, k-d trees or centroids, the numbers
        of the categories, the feature range) to the folder ``path``, as JSON and ``.npz``, not the
        models; see :mod:`cgp_lib.persistence` for the format and why."""
        from .persistence import save_explainer

        return save_explainer(self, path)

    @classmethod
    def load(cls, path, predict, ae_model=None, enc_model=None) -> "CounterfactualProto":
        """An explainer written by :meth:`save`, with the models passed again (the same ones: a
        loaded explainer gives bitwise the results of the saved one). Raises ValueError for
        another format version or models whose shapes or class count do not match; see
        :func:`cgp_lib.persistence.load_explainer`."""
        from .persistence import load_explainer

        return load_explainer(path, predict, ae_model=ae_model, enc_model=enc_model, cls=cls)

    # ------------------------------------------------------------------ the objective
    def _smooth_terms(self, y, proto, with_ae: bool, with_proto: bool):
        """γ·L_AE and θ·L_proto per row at y (zeros when not used)."""
        zero = tf.zeros(tf.shape(y)[:1])
        ae_term, proto_term = zero, zero
        if self._decoder is not None and (with_ae or with_proto):
            z = _float32(self.enc_model(y, training=False))
            if with_ae:
                ae_term = autoencoder_loss(y, _float32(self._decoder(z, training=False)), self.gamma)
            if with_proto:
                proto_term = prototype_loss(z, proto, self.theta)
            return ae_term, proto_term
        if with_ae:
            ae_term = autoencoder_loss(y, _float32(self.ae_model(y, training=False)), self.gamma)
        if with_proto:
            proto_term = prototype_loss(_float32(self.prototypes.embed(y)), proto, self.theta)
        return ae_term, proto_term

    def _smooth_gradient(self, y, x0, onehot, c, proto, with_pred: bool):
        """Clipped gradient at y of c·L_pred (white box only) + L2 + γ·L_AE + θ·L_proto."""
        with tf.GradientTape() as tape:
            tape.watch(y)
            ae_term, proto_term = self._smooth_terms(y, proto, self.gamma > 0, self.theta > 0)
            loss = l2_squared(y - x0) + ae_term + proto_term
            if with_pred:
                proba = self._model_proba(y)
                loss += c * prediction_loss(proba, onehot, self.kappa)
            total = tf.reduce_sum(loss)
        return tf.clip_by_value(tape.gradient(total, y), self.clip[0], self.clip[1])

    def _loss_terms(self, x, x0, onehot, c, proto, proba):
        """Every term of the objective per row at the iterate x (alibi's loss_total), for plots."""
        delta = x - x0
        ae_term, proto_term = self._smooth_terms(x, proto, self.gamma > 0, self.theta > 0)
        terms = {
            "pred": c * prediction_loss(proba, onehot, self.kappa),
            "l1": l1_norm(delta),
            "l2": l2_squared(delta),
            "ae": ae_term,
            "proto": proto_term,
        }
        terms["total"] = terms["pred"] + self.beta * terms["l1"] + terms["l2"] + terms["ae"] + terms["proto"]
        return tf.stack([terms[t] for t in LOSS_TERMS])

    def _update(self, y, x, x0, grad, step, active, mutable=None):
        """Gradient step with the decayed learning rate, then shrinkage and momentum; rows
        that are not ``active`` (stopped at their first counterfactual) keep their iterates.
        ``mutable`` (per row, 0 where a feature may not change) replaces the constructor's
        ``immutable`` mask, which it already includes."""
        lr = fista.learning_rate(step, self.learning_rate_init, self.max_iterations)
        if mutable is not None:
            grad = grad * mutable
        elif self._mutable is not None:
            grad = grad * self._mutable
        x_next, y_next = fista.fista_update(y - lr * grad, x, x0, self.beta, step + 1, self.lower, self.upper)
        rows = tf.reshape(active, (-1,) + (1,) * len(self.search_shape))
        return tf.where(rows, x_next, x), tf.where(rows, y_next, y)

    # ------------------------------------------------------------------ one c step, white box
    def _white_box_c_step(
        self,
        x0,
        onehot,
        allowed,
        c,
        proto,
        step_offset,
        active,
        x,
        y,
        first,
        last,
        with_pred: bool,
        stop_at_first: bool,
        record: bool,
        record_path: bool,
        mutable=None,
    ):
        """FISTA steps ``first`` to ``last`` − 1 of a c step for every row, in one compiled loop.

        The loop starts from the iterates ``x`` (x_k) and ``y`` (y_k) at step k = ``first``
        (x0 and x0 at k = 0). ``active`` marks the rows still searching; with
        ``stop_at_first`` a row leaves it at its first counterfactual and the loop ends when
        no row is left. Returns the :class:`SearchRecord` of these steps, the recorded loss
        terms and iterates, the last (x, y) and the number of steps run.
        """
        n = tf.shape(x0)[0]
        best = empty_record(x0, self.n_classes)
        history = tf.TensorArray(tf.float32, size=last - first if record else 0)
        path = tf.TensorArray(tf.float32, size=last - first if record_path else 0)
        steps_run = tf.constant(0)
        for i in tf.range(first, last):
            grad = self._smooth_gradient(y, x0, onehot, c, proto, with_pred)
            x, y = self._update(y, x, x0, grad, i, active, mutable)
            proba = self._forward(x)
            valid = is_counterfactual(proba, onehot, allowed, self.kappa) & active
            best = track_best(best, x, proba, elastic_net(x - x0, self.beta), valid, step_offset + i + 1)
            if record:
                history = history.write(i - first, self._loss_terms(x, x0, onehot, c, proto, proba))
            if record_path:
                path = path.write(i - first, x)
            steps_run = i + 1 - first
            if stop_at_first:
                active = active & (best.first_step < 0)
                if not tf.reduce_any(active):
                    break
        hist = history.stack()[:steps_run] if record else tf.zeros([0, len(LOSS_TERMS), n])
        iterates = tf.zeros([0, n] + list(self.search_shape))
        if record_path:  # slicing copies: only when the loop can end early
            iterates = path.stack()[:steps_run] if stop_at_first else path.stack()
        return best, hist, iterates, x, y, steps_run

    def _white_box_run(self, flags: tuple, proto_shape: tuple, masked: bool = False):
        """The compiled :meth:`_white_box_c_step` for these flags, traced once for any batch size.

        Its input signature leaves the batch dimension open, so that a batch whose rows leave the
        search (a new size at every segment or c step) reuses the one trace. With ``masked`` it
        takes one more argument, the per-row mask of the features that may change.
        """
        key = (flags, tuple(proto_shape), bool(masked))
        if key not in self._white_box_runs:
            with_pred, stop_at_first, record, record_path = flags
            rows = (None,) + tuple(self.search_shape)
            scalar = tf.TensorSpec([], tf.int32)
            signature = [
                tf.TensorSpec(rows, tf.float32),
                tf.TensorSpec([None, self.n_classes], tf.float32),
                tf.TensorSpec([None, self.n_classes], tf.bool),
                tf.TensorSpec([None], tf.float32),
                tf.TensorSpec((None,) + tuple(proto_shape), tf.float32),
                scalar,
                tf.TensorSpec([None], tf.bool),
                tf.TensorSpec(rows, tf.float32),
                tf.TensorSpec(rows, tf.float32),
                scalar,
                scalar,
            ] + ([tf.TensorSpec(rows, tf.float32)] if masked else [])

            def c_step(x0, onehot, allowed, c, proto, step_offset, active, x, y, first, last, *mutable):
                return self._white_box_c_step(
                    x0,
                    onehot,
                    allowed,
                    c,
                    proto,
                    step_offset,
                    active,
                    x,
                    y,
                    first,
                    last,
                    with_pred,
                    stop_at_first,
                    record,
                    record_path,
                    mutable[0] if mutable else None,
                )

            self._white_box_runs[key] = tf.function(c_step, input_signature=signature)
        return self._white_box_runs[key]

    def _empty_numpy_record(self, X: np.ndarray) -> dict:
        """A :class:`SearchRecord` as a dict of numpy arrays, no counterfactual in any row of X."""
        n = len(X)
        return dict(
            distance=np.full(n, _NO_DISTANCE, np.float32),
            x=np.full_like(X, np.nan),
            proba=np.full((n, self.n_classes), np.nan, np.float32),
            step=np.full(n, -1, np.int64),
            first_step=np.full(n, -1, np.int64),
            first_x=np.full_like(X, np.nan),
            first_proba=np.full((n, self.n_classes), np.nan, np.float32),
            first_distance=np.full(n, _NO_DISTANCE, np.float32),
        )

    def _run_c_step(self, X, onehot, allowed, c, proto, offset, active, stop_at_first, record, path_out, mutable=None):
        """Drive one c step through the compiled loop (:meth:`_white_box_c_step`).

        Returns the c step's record (a dict of numpy arrays, see :meth:`_empty_numpy_record`),
        the recorded loss terms, and the clock: the ``time.perf_counter()`` at the end of each
        step run (interpolated linearly inside each compiled call). With ``path_out`` (an
        ``(max_iterations, N, *shape)`` array) the iterates are written into it, step by step.

        With ``stop_at_first`` (and nothing recorded) the steps run in segments of growing
        length (:func:`step_segments`); after each segment the rows that found their
        counterfactual leave the batch, so a row that needs many steps no longer makes the
        compiled loop carry the rows that finished long before. When the path is recorded, the
        steps run in windows of at most :data:`PATH_WINDOW_BYTES` of iterates, each copied into
        ``path_out`` before the next, so memory holds the path once plus one window. Rows are
        independent and the loop's state carries over, so the result is the one of a single
        loop over all rows.
        """
        n = len(X)
        with_pred = bool(np.any(c != 0))
        c = np.asarray(c, np.float32)
        record_path = path_out is not None
        flags = (with_pred, bool(stop_at_first), bool(record), record_path)
        segmented = stop_at_first and not (record or record_path) and n > 1
        if segmented:
            windows = step_segments(self.max_iterations)
        elif record_path:
            per_step = max(1, n * int(np.prod(self.search_shape)) * 4)
            length = int(min(self.max_iterations, max(1, PATH_WINDOW_BYTES // per_step)))
            windows = [(f, min(f + length, self.max_iterations)) for f in range(0, self.max_iterations, length)]
        else:
            windows = [(0, self.max_iterations)]
        record_ = self._empty_numpy_record(X)
        clock, hists = [], []
        rows, x, y = np.arange(n), X, X
        for first, last in windows:
            if rows.size == 0:
                break
            if record_path and stop_at_first:  # rows stay in the batch; those done stop searching
                active = active & (record_["first_step"] < 0)
                if not active.any():
                    break
            begin = time.perf_counter()
            k, pad = len(rows), self._padding(len(rows))
            extra = () if mutable is None else (tf.constant(pad(mutable[rows]), tf.float32),)
            part, hist, iterates, x_end, y_end, steps_run = self._white_box_run(
                flags, proto.shape[1:], mutable is not None
            )(
                tf.constant(pad(X[rows]), tf.float32),
                tf.constant(pad(onehot[rows]), tf.float32),
                tf.constant(pad(allowed[rows])),
                tf.constant(pad(c[rows])),
                tf.constant(pad(proto[rows]), tf.float32),
                tf.constant(offset, tf.int32),
                tf.constant(pad(active[rows], fill=False)),
                tf.constant(pad(x), tf.float32),
                tf.constant(pad(y), tf.float32),
                tf.constant(first, tf.int32),
                tf.constant(last, tf.int32),
                *extra,
            )
            part = {name: value[:k] for name, value in numpy_record(part).items()}
            x_end, y_end = x_end[:k], y_end[:k]
            steps_run = int(steps_run)
            if record_path:
                path_out[first : first + steps_run] = iterates.numpy()[:steps_run, :k]
            del iterates
            hists.append(hist[:, :, :k])
            end = time.perf_counter()
            clock.extend(begin + (end - begin) * np.arange(1, steps_run + 1) / steps_run)
            merge_records(record_, part, rows)
            if segmented:  # rows with a counterfactual leave the batch
                searching = part["first_step"] < 0
                rows, x, y = rows[searching], x_end.numpy()[searching], y_end.numpy()[searching]
            elif len(windows) > 1:  # the next window starts where this one ended
                x, y = x_end.numpy(), y_end.numpy()
                if steps_run < last - first:  # every row stopped inside the window
                    break
        hist = tf.concat(hists, axis=0) if record else tf.zeros([0, len(LOSS_TERMS), n])
        return record_, hist, clock

    def _padding(self, n_rows: int):
        """A function padding the arrays of ``n_rows`` rows to ``block_rows`` rows (copies of the
        first row, or ``fill``); the identity when no padding is needed."""
        missing = 0 if self.block_rows is None else self.block_rows - n_rows
        if missing <= 0:
            return lambda a, fill=None: a

        def pad(a, fill=None):
            extra = np.repeat(a[:1], missing, axis=0) if fill is None else np.full((missing,) + a.shape[1:], fill)
            return np.concatenate([a, extra.astype(a.dtype, copy=False)], axis=0)

        return pad

    # ------------------------------------------------------------------ one c step, black box
    def _black_box_step(self, y, x, x0, proto, grad_pred, step, active, mutable=None):
        """One update with the numerical gradient of c·L_pred (already clipped) added."""
        grad = self._smooth_gradient(y, x0, None, None, proto, with_pred=False)
        return self._update(y, x, x0, grad + grad_pred, step, active, mutable)

    def _check_and_track(self, best, x, x0, proba, onehot, allowed, active, step):
        """The counterfactual test and best-so-far update of one black-box step, compiled as one call."""
        valid = is_counterfactual(proba, onehot, allowed, self.kappa) & active
        return track_best(best, x, proba, elastic_net(x - x0, self.beta), valid, step)

    def _black_box_c_step(
        self, x0, onehot, allowed, c, proto, step_offset, active, stop_at_first, record, path_out, mutable=None
    ):
        """The same loop as :meth:`_white_box_c_step`, with L_pred's gradient by central differences.

        As in alibi, the numerical gradient is computed at steps k > 0 with
        k % update_num_grad == 0, averaged over the momentum points since the last one.
        Each step makes one call to ``predict`` (chunked by ``max_predict_rows``): the new
        iterates for the counterfactual test together with the perturbed momentum points.
        Returns what :meth:`_run_c_step` returns; the clock is read after every step.
        """
        n = len(x0)
        x0_t, proto_t, onehot_t = tf.constant(x0), tf.constant(proto), tf.constant(onehot)
        mutable_t = None if mutable is None else tf.constant(mutable, tf.float32)
        allowed_t, c_t, active_t = tf.constant(allowed), tf.constant(c, tf.float32), tf.constant(active)
        best = empty_record(x0_t, self.n_classes)
        predictor = BatchedPredictor(self._search_predict, self.eps[1], self.max_predict_rows, self.n_classes)
        needs_grad = c != 0  # rows whose prediction loss has a non-zero weight
        n_grad = int(needs_grad.sum())
        history, clock = [], []
        x, y = x0_t, x0_t
        accumulated = [x0[needs_grad]]  # momentum points since the last numerical gradient (alibi)
        grad_pred = tf.zeros_like(x0_t)
        for i in range(self.max_iterations):
            x, y = self._smooth_step(y, x, x0_t, proto_t, grad_pred, tf.constant(i), active_t, mutable_t)
            x_np = x.numpy()
            if n_grad:
                accumulated.append(y.numpy()[needs_grad])
            next_step = i + 1
            if n_grad and next_step < self.max_iterations and next_step % self.update_num_grad == 0:
                proba_x, proba_pts, jac = predictor(x_np, np.concatenate(accumulated, axis=0))
                grads = numerical_gradient(
                    proba_pts,
                    jac,
                    np.tile(onehot[needs_grad], (len(accumulated), 1)),
                    self.kappa,
                    self.eps[0],
                    self.proba_perturbation,
                )
                grads = grads.reshape(len(accumulated), n_grad, -1).mean(axis=0)
                full = np.zeros((n, grads.shape[1]))
                full[needs_grad] = np.clip(grads * c[needs_grad, None], self.clip[0], self.clip[1])
                grad_pred = tf.constant(full.reshape(x0.shape), tf.float32)
                accumulated = []
            else:
                proba_x, _, _ = predictor(x_np, x_np[:0])
                grad_pred = tf.zeros_like(x0_t)
            proba_t = tf.constant(check_probabilities(proba_x, n), tf.float32)
            best = self._track(best, x, x0_t, proba_t, onehot_t, allowed_t, active_t, tf.constant(step_offset + i + 1))
            if record:
                history.append(self._loss_terms_fn(x, x0_t, onehot_t, c_t, proto_t, proba_t))
            if path_out is not None:
                path_out[i] = x_np
            clock.append(time.perf_counter())
            if stop_at_first:
                active_t = active_t & (best.first_step < 0)
                if not bool(tf.reduce_any(active_t)):
                    break
        self.last_predict_calls += predictor.calls
        record_ = self._empty_numpy_record(x0)
        merge_records(record_, numpy_record(best), np.arange(n))
        hist = tf.stack(history) if record else tf.zeros([0, len(LOSS_TERMS), n])
        return record_, hist, clock

    # ------------------------------------------------------------------ explain
    def _allowed_classes(self, orig_class: np.ndarray, target_class) -> np.ndarray:
        n = len(orig_class)
        allowed = np.ones((n, self.n_classes), dtype=bool)
        if target_class is not None:
            if isinstance(target_class, numbers.Integral) and not isinstance(target_class, bool):
                target_class = [target_class]  # one class for every row
            if isinstance(target_class, (str, bytes)) or not hasattr(target_class, "__len__"):
                raise TypeError(f"target_class: expected a list of classes or one list per row, got {target_class!r}")
            scalars = [np.isscalar(t) for t in target_class]
            if all(scalars):
                per_row = [list(target_class)] * n
            elif not any(scalars):
                per_row = list(target_class)
            else:
                raise ValueError(
                    f"target_class: mixes classes and lists of classes ({target_class!r}); give one list of "
                    "classes for every row or one list per row"
                )
            if len(per_row) != n:
                raise ValueError(
                    f"target_class: expected a list of classes or one list per row ({n}), got {len(per_row)} lists"
                )
            allowed[:] = False
            for row, classes in enumerate(per_row):
                classes = np.asarray(classes)
                if (
                    classes.size == 0
                    or not np.issubdtype(classes.dtype, np.integer)
                    or classes.min() < 0
                    or classes.max() >= self.n_classes
                ):
                    raise ValueError(
                        f"target_class: expected class indices in [0, {self.n_classes}), got {classes.tolist()}"
                    )
                allowed[row, classes] = True
        allowed[np.arange(n), orig_class] = False
        empty = np.flatnonzero(~allowed.any(axis=1))
        if empty.size:
            raise ValueError(
                f"target_class: leaves no class to reach for row(s) {empty.tolist()} "
                "(the only target is the original class)"
            )
        return allowed

    @staticmethod
    def _stop_rule(stop, stop_at_first):
        """The ``stop`` argument checked, with the deprecated ``stop_at_first`` folded in."""
        if stop_at_first is not None:
            warnings.warn(
                "explain(stop_at_first=...) is deprecated: use stop='first' (for True) or stop=None (for False)",
                DeprecationWarning,
                stacklevel=3,
            )
            if not isinstance(stop_at_first, (bool, np.bool_)):
                raise TypeError(f"stop_at_first: expected True or False, got {stop_at_first!r}")
            legacy = "first" if stop_at_first else None
            if stop is not None and stop != legacy:
                raise ValueError(f"stop_at_first: {stop_at_first} contradicts stop={stop!r}; pass stop only")
            stop = legacy
        if not (stop is None or isinstance(stop, str)) or stop not in STOP_RULES:
            raise ValueError(f"stop: expected one of {STOP_RULES}, got {stop!r}")
        return stop

    def explain(
        self,
        X,
        Y=None,
        target_class=None,
        k=None,
        k_type="mean",
        stop=None,
        record_losses=False,
        record_path=False,
        stop_at_first=None,
        mutable=None,
    ) -> CounterfactualResult:
        """Find a counterfactual for every row of ``X`` (any batch size).

        Parameters
        ----------
        X
            Instances, ``(N, *shape)``.
        Y
            Original classes, one-hot (N, classes) or labels (N,); by default the model's predictions.
        target_class
            Classes a counterfactual may belong to: one list for all rows or one per row;
            by default every class but the original one. The prototype is chosen among them.
        k, k_type
            Prototype definition, see :mod:`cgp_lib.prototypes` (k=None: all instances of a
            class for an encoder, 1 for k-d trees).
        stop
            When a row leaves the search; rows stop independently, so a batch gives the results
            of each row alone (up to the rounding of kernels described in the module docstring
            and ``block_rows``), and the search ends once every row stopped.

            * ``None`` (default, alibi's behaviour): every row runs every c step; its result is
              the best counterfactual (smallest β·L1 + L2) over all of them.
            * ``"first"``: a row stops at its first counterfactual, which is its result. Unless
              losses or paths are recorded, it also leaves the compiled loop at the end of its
              segment of :func:`step_segments`.
            * ``"satisfactory"`` (paper, section 4.1): a row stops at the end of the first c step
              in which it found a counterfactual; its result is that c step's optimal
              counterfactual x0 + δ_n*, n* = argmin β·‖δ_n‖₁ + ‖δ_n‖₂² over the iterates
              predicted as another class (section 3.6). ``steps_to_best`` counts the steps to
              it, across c steps, and ``time_to_best_s`` the time.

            With ``"first"`` or ``"satisfactory"`` a row that stopped is left out of the next
            c steps (unless losses or paths are recorded: then it stays in the batch at x0,
            without searching).
        record_losses
            Keep the value of every loss term at every step in ``loss_history``.
        record_path
            Keep every iterate x_k in ``path`` (memory: steps × N × instance size).
        stop_at_first
            Deprecated: ``True`` is ``stop="first"``, ``False`` is ``stop=None``.
        mutable
            Per row, the features that may change: a boolean array of ``X``'s shape (True where
            the search may move the feature). The gradient of every loss term is zeroed where it
            is False, so those features keep their values in x_cf exactly, as the constructor's
            ``immutable`` columns do (which still apply: a feature changes only if it is mutable
            in both). A row with no mutable feature finds no counterfactual and is reported as
            not found. Not available with ``cat_vars`` (the search then runs on the categories'
            numbers, not on the model's columns). Default: every feature may change.

        Returns
        -------
        CounterfactualResult
            One row per instance, found or not.
        """
        start = time.perf_counter()
        stop = self._stop_rule(stop, stop_at_first)
        X = check_instances(X, self.instance_shape)
        X_model = X
        if self.cat_vars is not None:
            if self.catmap is None:
                raise ValueError("X: call fit(X_train) before explain() when cat_vars are used")
            X = self.catmap.to_search(X_model)  # the search runs on the numbers of the categories
        check_within_range(X, self.lower, self.upper)
        n = len(X)
        orig_proba = self.predict_proba(X_model)
        if Y is None:
            orig_class = np.argmax(orig_proba, axis=1)
        else:
            Y = np.asarray(Y)
            if Y.shape == (n, self.n_classes):
                orig_class = np.argmax(Y, axis=1)
            elif Y.shape == (n,) and np.issubdtype(Y.dtype, np.integer):
                orig_class = Y.astype(np.int64)
            elif Y.shape == (n,):
                raise TypeError(f"Y: labels must be integers, got dtype {Y.dtype} (or pass one-hot rows)")
            else:
                raise ValueError(f"Y: expected one-hot ({n}, {self.n_classes}) or labels ({n},), got {Y.shape}")
            if orig_class.min() < 0 or orig_class.max() >= self.n_classes:
                raise ValueError(f"Y: classes must lie in [0, {self.n_classes})")
        allowed = self._allowed_classes(orig_class, target_class)
        onehot = np.eye(self.n_classes, dtype=np.float32)[orig_class]
        mutable = self._row_masks(mutable, X.shape)

        if self.prototypes is not None:
            if not self.fitted:
                raise ValueError("X: call fit(X_train) before explain() when prototypes are used")
            choice = self.prototypes.select(X, allowed, k=k, k_type=k_type)
            proto, proto_class, prototype = choice.prototype, choice.proto_class, choice.prototype
        else:
            if k is not None or k_type != "mean":
                raise ValueError(
                    f"k: k={k!r}, k_type={k_type!r} define prototypes, but this explainer has none; pass "
                    "enc_model, use_kdtree=True or prototypes to the constructor, or leave k and k_type out"
                )
            prototype = None
            proto, proto_class = np.zeros_like(X), np.full(n, -1)

        self.last_predict_calls = 0  # black box: calls to predict during the search
        search = CSearch(self.c_init, n, self.c_steps)
        best = self._empty_numpy_record(X)
        best_c = np.full(n, np.nan)
        step_time = np.full(self.c_steps * self.max_iterations + 1, np.nan)  # seconds since start, per step
        history = []
        # the iterates of every c step in one array, filled in place (the pages of c steps never
        # run are never touched)
        path = (
            np.empty((self.c_steps, self.max_iterations, n) + tuple(self.search_shape), np.float32)
            if record_path
            else None
        )
        compact = stop is not None and not (record_losses or record_path)
        for c_step in range(self.c_steps):
            c_steps_run = c_step + 1
            offset = c_step * self.max_iterations
            # with a stop rule, rows that already have a counterfactual stay where they are; unless
            # every step is recorded (which needs all rows), they are left out of the search
            active = ~((stop is not None) & (best["first_step"] >= 0))
            rows = np.flatnonzero(active) if compact else np.arange(n)
            search.record(c_step, rows)
            c = search.c
            args = (
                X[rows],
                onehot[rows],
                allowed[rows],
                c[rows],
                proto[rows],
                offset,
                active[rows],
                stop == "first",
                record_losses,
                None if path is None else path[c_step],
                None if mutable is None else mutable[rows],
            )
            if self.is_keras or not np.any(c[rows] != 0):
                # A black box with c = 0 (losses E, F) needs no numerical gradient: the whole c step
                # runs compiled, with one predict call per step for the counterfactual test.
                self._black_box_error = None
                try:
                    part, hist, clock = self._run_c_step(*args)
                except tf.errors.OpError:
                    if self._black_box_error is not None:
                        raise self._black_box_error from None
                    raise
            else:
                part, hist, clock = self._black_box_c_step(*args)
            step_time[offset + 1 : offset + 1 + len(clock)] = np.asarray(clock) - start
            if record_losses:
                history.append(hist.numpy())
            if path is not None:
                path[c_step, len(clock) :] = np.nan  # steps not run (after a stop)
            replaced = merge_records(best, part, rows)
            best_c[replaced] = c[replaced]
            found_now = np.zeros(n, bool)
            found_now[rows] = part["first_step"] >= 0
            search.update(found_now)  # alibi's rule: x10 before a counterfactual, bisection after
            if stop is not None and np.all(best["first_step"] >= 0):
                break
            if search.stuck:  # c = 0 stays 0 under the rule: later c steps would repeat this one
                break

        found = best["step"] >= 0
        loss_history = None
        if record_losses:
            stacked = self._pad_steps(history)  # (c_steps run, iterations, terms, N)
            loss_history = {term: stacked[:, :, j, :] for j, term in enumerate(LOSS_TERMS)}
        if path is not None:
            path = path[:c_steps_run]  # (c_steps run, iterations, N, *shape)
        cf, first_cf, cf_search = best["x"], best["first_x"], None
        if self.catmap is not None:  # back to the categories the model saw
            cf_search = cf
            cf = np.full((n,) + tuple(self.instance_shape), np.nan, np.float32)
            first_cf = cf.copy()
            if found.any():
                cf[found] = self.catmap.to_model(best["x"][found])
                first_cf[found] = self.catmap.to_model(best["first_x"][found])

        def at_step(steps):
            return np.where(steps >= 0, step_time[np.maximum(steps, 0)], np.nan)

        wall = time.perf_counter() - start
        return CounterfactualResult(
            found=found,
            cf=cf,
            orig_class=orig_class,
            orig_proba=orig_proba,
            cf_class=np.where(found, np.nan_to_num(best["proba"]).argmax(axis=1), -1),
            cf_proba=np.where(found[:, None], best["proba"], np.nan),
            proto_class=np.asarray(proto_class),
            prototype=prototype,
            distance=np.where(found, best["distance"], np.nan),
            steps_to_first=best["first_step"],
            steps_to_best=best["step"],
            c=best_c,
            c_history=search.c_history(),
            wall_time_s=np.full(n, wall),
            loss_history=loss_history,
            path=path,
            cf_search=cf_search,
            first_cf=first_cf,
            first_cf_class=np.where(found, np.nan_to_num(best["first_proba"]).argmax(axis=1), -1),
            first_distance=np.where(found, best["first_distance"], np.nan),
            time_to_first_s=at_step(best["first_step"]),
            time_to_best_s=at_step(best["step"]),
            stop=stop,
        )

    def _row_masks(self, mutable, shape) -> np.ndarray | None:
        """``explain``'s ``mutable`` checked and combined with the constructor's ``immutable``:
        a float32 array of ``shape`` (1 where a feature may change), or None if not given."""
        if mutable is None:
            return None
        if self.cat_vars is not None:
            raise ValueError("mutable: per-row masks are not available with cat_vars; use immutable")
        mask = np.asarray(mutable)
        if mask.dtype != bool:
            raise TypeError(
                f"mutable: expected a boolean array (True where a feature may change), got dtype {mask.dtype}"
            )
        if mask.shape != tuple(shape):
            raise ValueError(f"mutable: expected one mask per row of X, shape {tuple(shape)}, got {mask.shape}")
        mask = mask.astype(np.float32)
        if self._mutable is not None:
            mask = mask * self._mutable.numpy()
        return mask

    def _pad_steps(self, per_c_step: list) -> np.ndarray:
        """Stack per-c-step records, padding steps not run (after a stop) with NaN."""
        return np.stack(
            [
                np.pad(a, [(0, self.max_iterations - len(a))] + [(0, 0)] * (a.ndim - 1), constant_values=np.nan)
                for a in per_c_step
            ]
        )
