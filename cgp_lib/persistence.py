"""Saving a fitted explainer and loading it again, without pickling code.

Fitting a :class:`~cgp_lib.explainer.CounterfactualProto` costs passes over the training set
(encodings, k-d trees, k-means, the numbers of the categories). :func:`save_explainer` writes
what the fit produced, and the settings, to a folder; :func:`load_explainer` rebuilds an
explainer from it and the models, which the caller passes again.

The format (version 1)
----------------------
A folder holding two files:

``explainer.json``
    ``{"format": "cgp_lib.CounterfactualProto", "format_version": 1, "cgp_lib_version": ...,
    "settings": {...}, "fitted": bool, "n_classes": int, "categorical": {...} or null,
    "prototypes": {...} or null}``. ``settings`` are the constructor's arguments (numbers,
    strings, lists); ``prototypes`` names the strategy (``"encoder"``, ``"kdtree"`` or
    ``"kmeans"``) and its scalar settings.
``arrays.npz``
    Every array, read back with ``allow_pickle=False``: the feature range given to the
    constructor and the one after ``fit`` (``init_lower``, ``init_upper``, ``lower``,
    ``upper``), the mask of mutable features (``mutable``), the number of every category
    (``category_<column>``), and the strategy's fitted state (``proto_*``): the encodings of
    each class and their means (encoder prototypes), the training instances of each class
    (k-d tree prototypes: the trees are rebuilt from them at load, a deterministic
    construction), the centroids of each class (k-means prototypes).

Why the models are not saved
----------------------------
The models are the user's: they are trained, versioned and stored with the user's own tools,
and a Keras model file of one TensorFlow version does not always load in another (the alibi
bridge of :mod:`cgp_lib.reference.runner` found a format that loads with wrong weights
without an error). So the file holds only what the explainer computed, and :func:`load_explainer`
checks that the models passed to it fit: the number of classes, the instance shape, the
autoencoder's output shape and the encoder's latent shape.

A loaded explainer gives bitwise the same results as the one that was saved (tested for every
prototype strategy and for categorical data). Strategies other than the three above cannot be
saved (``TypeError``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .kdtree import KDTree
from .prototypes import EncoderPrototypes, KDTreePrototypes, KMeansPrototypes

__all__ = ["FORMAT", "FORMAT_VERSION", "save_explainer", "load_explainer"]

#: The ``format`` field of ``explainer.json``.
FORMAT = "cgp_lib.CounterfactualProto"
#: The version of the format this module writes and reads.
FORMAT_VERSION = 1
_META, _ARRAYS = "explainer.json", "arrays.npz"


def _embedding_shape_of(model, instance_shape) -> tuple:
    out = model(np.zeros((1,) + tuple(instance_shape), np.float32), training=False)
    return tuple(int(s) for s in np.shape(out)[1:])


# ---------------------------------------------------------------------------- prototypes


_KINDS = ((EncoderPrototypes, "encoder"), (KDTreePrototypes, "kdtree"), (KMeansPrototypes, "kmeans"))


def _kind(strategy) -> str:
    for cls, kind in _KINDS:
        if isinstance(strategy, cls):
            return kind
    raise TypeError(
        f"prototypes: a {type(strategy).__name__} cannot be saved; save_explainer knows "
        "EncoderPrototypes, KDTreePrototypes and KMeansPrototypes"
    )


def _settings(strategy) -> dict:
    """The strategy's kind and constructor settings (JSON), fitted or not."""
    kind = _kind(strategy)
    if kind == "encoder":
        return {"kind": kind, "batch_size": int(strategy.batch_size)}
    if kind == "kdtree":
        return {"kind": kind, "leaf_size": int(strategy.leaf_size)}
    return {
        "kind": kind,
        "n_clusters": strategy.n_clusters,
        "random_state": strategy.random_state,
        "n_init": strategy.n_init,
        "batch_size": int(strategy.batch_size),
        "n_threads": strategy.n_threads,
        "uses_encoder": strategy.enc_model is not None,
    }


def _uses_encoder(state: dict) -> bool:
    return state["kind"] == "encoder" or (state["kind"] == "kmeans" and state["uses_encoder"])


def _prototypes_state(strategy, arrays: dict) -> dict:
    """JSON description of a strategy; a fitted one's arrays go into ``arrays`` (prefix ``proto_``)."""
    state = _settings(strategy)
    if not getattr(strategy, "n_classes", None):  # not fitted
        return {**state, "unfitted": True}
    state["n_classes"] = int(strategy.n_classes)
    arrays["proto_class_sizes"] = np.asarray(strategy.class_sizes)
    if state["kind"] == "encoder":
        per_class, name = strategy.class_encodings, "encodings"
        arrays["proto_class_means"] = strategy.class_means
        state["embedding_shape"] = list(strategy.embedding_shape)
    elif state["kind"] == "kdtree":
        per_class, name = strategy.class_instances, "instances"
        state["instance_shape"] = list(strategy.instance_shape)
    else:
        per_class, name = strategy.centroids_, "centroids"
        state["embedding_shape"] = list(strategy.embedding_shape)
        state["fit_seconds"] = float(strategy.fit_seconds_)
    for c, values in enumerate(per_class):
        arrays[f"proto_{name}_{c}"] = values
    return state


def _prototypes_from_state(state: dict, arrays, enc_model, instance_shape):
    """The strategy described by ``state`` (fitted when it was), with ``enc_model`` where it needs one."""
    kind = state["kind"]
    if _uses_encoder(state) and enc_model is None:
        raise ValueError(
            f"enc_model: the saved explainer's {kind} prototypes live in an encoder's latent space; pass it"
        )
    if kind == "encoder":
        strategy = EncoderPrototypes(enc_model, batch_size=state["batch_size"])
    elif kind == "kdtree":
        strategy = KDTreePrototypes(leaf_size=state["leaf_size"])
    elif kind == "kmeans":
        strategy = KMeansPrototypes(
            n_clusters=state["n_clusters"],
            enc_model=enc_model if state["uses_encoder"] else None,
            random_state=state["random_state"],
            n_init=state["n_init"],
            batch_size=state["batch_size"],
            n_threads=state["n_threads"],
        )
    else:
        raise ValueError(f"path: unknown prototype strategy {kind!r} in the saved file")
    if state.get("unfitted"):
        return strategy
    if _uses_encoder(state):
        got, saved = _embedding_shape_of(enc_model, instance_shape), tuple(state["embedding_shape"])
        if got != saved:
            raise ValueError(f"enc_model: its latent shape is {got}, the saved prototypes have shape {saved}")
    n_classes = int(state["n_classes"])
    if kind == "encoder":
        strategy.embedding_shape = tuple(state["embedding_shape"])
        strategy.class_encodings = [arrays[f"proto_encodings_{c}"] for c in range(n_classes)]
        strategy.class_means = arrays["proto_class_means"]
    elif kind == "kdtree":
        strategy.instance_shape = tuple(state["instance_shape"])
        strategy.class_instances = [arrays[f"proto_instances_{c}"] for c in range(n_classes)]
        strategy.trees = [KDTree(points, leaf_size=strategy.leaf_size) for points in strategy.class_instances]
    else:
        strategy.embedding_shape = tuple(state["embedding_shape"])
        strategy.centroids_ = [arrays[f"proto_centroids_{c}"] for c in range(n_classes)]
        strategy.fit_seconds_ = state["fit_seconds"]
    strategy.n_classes = n_classes
    strategy.class_sizes = arrays["proto_class_sizes"]
    return strategy


# ---------------------------------------------------------------------------- explainer


def save_explainer(explainer, path: str | os.PathLike) -> Path:
    """Write an explainer's settings and fitted state to the folder ``path`` (format version 1).

    Parameters
    ----------
    explainer : CounterfactualProto
        Fitted or not; its models are not saved (see the module's notes).
    path : str or path-like
        A folder, created if needed; its ``explainer.json`` and ``arrays.npz`` are replaced.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    TypeError
        The explainer uses a prototype strategy this format does not know.
    """
    from . import __version__

    e = explainer
    arrays: dict[str, np.ndarray] = {
        "init_lower": e._init_bounds[0],
        "init_upper": e._init_bounds[1],
        "lower": np.asarray(e.lower),
        "upper": np.asarray(e.upper),
    }
    if e._mutable is not None:
        arrays["mutable"] = np.asarray(e._mutable)
    settings = {
        "shape": list(e.shape),
        "kappa": e.kappa,
        "beta": e.beta,
        "gamma": e.gamma,
        "theta": e.theta,
        "learning_rate_init": e.learning_rate_init,
        "max_iterations": e.max_iterations,
        "c_init": e.c_init,
        "c_steps": e.c_steps,
        "eps": list(e.eps),
        "clip": list(e.clip),
        "update_num_grad": e.update_num_grad,
        "proba_perturbation": e.proba_perturbation,
        "max_predict_rows": e.max_predict_rows,
        "cat_vars": None if e.cat_vars is None else [[int(k), int(v)] for k, v in e.cat_vars.items()],
        "ohe": e.ohe,
        "block_rows": e.block_rows,
        "black_box": not e.is_keras,
    }
    categorical = None
    if e.catmap is not None:
        categorical = {"columns": sorted(int(c) for c in e.catmap.embedding)}
        for c, values in e.catmap.embedding.items():
            arrays[f"category_{int(c)}"] = np.asarray(values)
    prototypes = None if e.prototypes is None else _prototypes_state(e.prototypes, arrays)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "cgp_lib_version": __version__,
        "settings": settings,
        "fitted": bool(e.fitted),
        "n_classes": int(e.n_classes),
        "categorical": categorical,
        "prototypes": prototypes,
    }
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / _ARRAYS, **arrays)
    (folder / _META).write_text(json.dumps(meta, indent=1) + "\n")
    return folder


def _read(path) -> tuple[dict, dict[str, np.ndarray]]:
    folder = Path(path)
    if not (folder / _META).is_file() or not (folder / _ARRAYS).is_file():
        raise FileNotFoundError(f"path: {folder} has no {_META} and {_ARRAYS} (written by CounterfactualProto.save)")
    meta = json.loads((folder / _META).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"path: {folder} holds format {meta.get('format')!r}, not {FORMAT!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"path: {folder} was written in format version {meta.get('format_version')!r} (by cgp_lib "
            f"{meta.get('cgp_lib_version')}); this cgp_lib reads version {FORMAT_VERSION} only"
        )
    with np.load(folder / _ARRAYS, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return meta, arrays


def load_explainer(path: str | os.PathLike, predict, ae_model=None, enc_model=None, cls=None):
    """Rebuild an explainer written by :func:`save_explainer`, with the caller's models.

    Parameters
    ----------
    path : str or path-like
        The folder written by :func:`save_explainer`.
    predict : keras.Model or callable
        The classifier: a Keras model when the saved explainer had one, else a black box.
    ae_model, enc_model : keras.Model or None
        The autoencoder (needed when γ > 0) and the encoder (needed by encoder prototypes and
        by k-means prototypes fitted in a latent space), as when the explainer was made.
    cls : type or None
        The class to build (default :class:`~cgp_lib.explainer.CounterfactualProto`).

    Returns
    -------
    CounterfactualProto
        Fitted when the saved one was; its results are bitwise those of the saved explainer.

    Raises
    ------
    FileNotFoundError
        ``path`` holds no saved explainer.
    ValueError
        Another format or format version; models missing, superfluous, or of other shapes
        than the saved explainer's (the argument is named).
    """
    if cls is None:
        from .explainer import CounterfactualProto as cls
    meta, arrays = _read(path)
    s = meta["settings"]
    shape = tuple(s["shape"])
    instance_shape = shape[1:]
    import tensorflow as tf

    if s["black_box"] == isinstance(predict, tf.keras.Model):
        kind = "a black-box function" if s["black_box"] else "a Keras model"
        raise ValueError(f"predict: the saved explainer was made with {kind}; pass one again")
    if ae_model is not None:
        got = _embedding_shape_of(ae_model, instance_shape)
        if got != tuple(instance_shape):
            raise ValueError(f"ae_model: its output shape is {got}, the instances have shape {tuple(instance_shape)}")
        if s["gamma"] == 0:
            raise ValueError("ae_model: the saved explainer has gamma=0 and uses no autoencoder; pass ae_model=None")
    proto_state = meta["prototypes"]
    if enc_model is not None and (proto_state is None or not _uses_encoder(proto_state)):
        raise ValueError("enc_model: the saved explainer's prototypes use no encoder; pass enc_model=None")
    prototypes = None
    if proto_state is not None:
        prototypes = _prototypes_from_state(proto_state, arrays, enc_model, instance_shape)
    cat_vars = None if s["cat_vars"] is None else {int(k): int(v) for k, v in s["cat_vars"]}
    explainer = cls(
        predict,
        shape,
        kappa=s["kappa"],
        beta=s["beta"],
        feature_range=(arrays["init_lower"], arrays["init_upper"]),
        gamma=s["gamma"],
        ae_model=ae_model,
        enc_model=enc_model,
        theta=s["theta"],
        learning_rate_init=s["learning_rate_init"],
        max_iterations=s["max_iterations"],
        c_init=s["c_init"],
        c_steps=s["c_steps"],
        eps=tuple(s["eps"]),
        clip=tuple(s["clip"]),
        update_num_grad=s["update_num_grad"],
        prototypes=prototypes,
        proba_perturbation=s["proba_perturbation"],
        max_predict_rows=s["max_predict_rows"],
        cat_vars=cat_vars,
        ohe=s["ohe"],
        block_rows=s["block_rows"],
    )
    if explainer.n_classes != meta["n_classes"]:
        raise ValueError(f"predict: it returns {explainer.n_classes} classes, the saved explainer {meta['n_classes']}")
    if "mutable" in arrays:
        explainer._mutable = tf.constant(arrays["mutable"])
    if meta["categorical"] is not None:
        from .categorical import CategoricalMap

        embedding = {c: arrays[f"category_{c}"] for c in meta["categorical"]["columns"]}
        explainer.catmap = CategoricalMap(cat_vars, s["ohe"], int(instance_shape[0]), embedding)
    explainer.lower, explainer.upper = arrays["lower"], arrays["upper"]
    explainer.feature_range = (explainer.lower, explainer.upper)
    if meta["categorical"] is not None:
        explainer._compile()
    explainer.fitted = bool(meta["fitted"])
    return explainer
