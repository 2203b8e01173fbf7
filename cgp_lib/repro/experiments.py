"""Run the paper's loss functions over instances and seeds: tidy results, cached on disk.

The experiments of the paper (Tables 1-3, the θ and K sweeps) all have the same shape:
for every seed, every loss-function configuration and every instance, search for a
counterfactual one instance at a time until a *satisfactory* counterfactual is found (section
4.1: the optimal counterfactual of the first c step for which one exists), and record how
long it took and how interpretable it is. :func:`run` does exactly that and returns one row
per instance × configuration × seed (:data:`COLUMNS`), with the counterfactuals kept in side
arrays for figures. Each row also describes the *first* counterfactual the same search met
(columns ending in ``_first``): what a user waiting for any counterfactual gets.

The loss functions are defined once, as the terms each one uses: MNIST's six of eq. 15
(:data:`MNIST_LOSSES`) and Breast Cancer's three of eq. 16 (:data:`BREAST_CANCER_LOSSES`);
:func:`loss_kwargs` turns one of them into explainer arguments::

    eq. 15 (MNIST)                             eq. 16 (Breast Cancer)
    A: c·L_pred + β·L1 + L2                    A: c·L_pred + β·L1 + L2
    B: A + γ·L_AE                              B: A + θ·L_proto
    C: A + θ·L_proto                           C: β·L1 + L2 + θ·L_proto (c = 0)
    D: A + γ·L_AE + θ·L_proto
    E: C without L_pred (c = 0)
    F: D without L_pred (c = 0)

Results are cached as ``.npz`` files under ``$CGP_CACHE_DIR/experiments/`` (or ``cache_dir``),
one per chunk: a (configuration, seed) pair and a block of ``chunk_size`` instances (all of
them by default; 1 gives per-instance chunks, so that long runs resume where they stopped).
A chunk's key hashes everything its rows depend on: the configuration's explainer and
explain arguments, the common explainer arguments (feature range included), the weights of
every model used (classifier, autoencoders, encoder, the metric autoencoders), the
instances and their ids, the fit data, the seed and :data:`CACHE_VERSION` (batched chunks
also :data:`BATCH_ENGINE`). Timings are cached with the rest: a cached row reports the time
measured when it was computed.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import metrics
from ..explainer import CounterfactualProto
from ..prototypes import KMeansPrototypes
from ..validation import check_positive_integer
from . import cache, paper

__all__ = [
    "LOSSES",
    "MNIST_LOSSES",
    "BREAST_CANCER_LOSSES",
    "COLUMNS",
    "cifar10_settings",
    "CACHE_VERSION",
    "BATCH_ENGINE",
    "loss_kwargs",
    "mnist_settings",
    "SeedModels",
    "build_explainer",
    "ExperimentResult",
    "run",
    "summarize",
    "batched_throughput",
    "plot_sweep",
    "black_box_predict",
    "seconds_per_steps",
]

#: Version of the cached chunks' content, in every key (2: the stop rule in the key; the first
#: counterfactual stored beside the reported one).
CACHE_VERSION = 2
#: Version of the batched search, in the keys of batched chunks: their timings depend on how a
#: batch is searched (2: finished rows leave the compiled loop at the end of each step segment;
#: before, they were masked).
BATCH_ENGINE = 2
CACHE_DIR_ENV = cache.CACHE_DIR_ENV

#: Which terms each loss function of eq. 15 uses (MNIST, section 4.2).
MNIST_LOSSES: dict[str, dict[str, bool]] = {
    "A": dict(pred=True, ae=False, proto=False),
    "B": dict(pred=True, ae=True, proto=False),
    "C": dict(pred=True, ae=False, proto=True),
    "D": dict(pred=True, ae=True, proto=True),
    "E": dict(pred=False, ae=False, proto=True),
    "F": dict(pred=False, ae=True, proto=True),
}
#: Which terms each loss function of eq. 16 uses (Breast Cancer, section 4.3); no autoencoder
#: term, and B and C are MNIST's C and E.
BREAST_CANCER_LOSSES: dict[str, dict[str, bool]] = {
    "A": dict(pred=True, ae=False, proto=False),
    "B": dict(pred=True, ae=False, proto=True),
    "C": dict(pred=False, ae=False, proto=True),
}
#: Eq. 15, the default of :func:`loss_kwargs`.
LOSSES = MNIST_LOSSES

#: Arguments of a configuration that go to ``explain`` rather than to the constructor.
EXPLAIN_KEYS = ("k", "k_type", "target_class")
#: Per-row arguments of ``explain`` that :func:`run` accepts (``row_args``).
ROW_ARGS = ("target_class", "mutable")
#: Keys of a configuration that set the prototype strategy, not the explainer (k-means).
STRATEGY_KEYS = ("n_clusters",)
#: The prototype strategies of :func:`build_explainer` and :func:`run`.
PROTOTYPES = ("kdtree", "encoder", "kmeans", "kmeans-features")

#: Columns of ``ExperimentResult.frame``, in order. ``cf_class`` to ``im2`` describe the
#: counterfactual reported under the run's stop rule; ``steps_to_first`` and the columns ending
#: in ``_first`` the first counterfactual of the same search.
COLUMNS = [
    "config",
    "seed",
    "instance",
    "found",
    "orig_class",
    "cf_class",
    "proto_class",
    "steps_to_best",
    "time_s",
    "distance",
    "c",
    "im1",
    "im2",
    "steps_to_first",
    "time_s_first",
    "cf_class_first",
    "distance_first",
    "im1_first",
    "im2_first",
]

#: Stop rules :func:`run` accepts (see ``CounterfactualProto.explain``).
RUN_STOPS = ("satisfactory", "first")


def loss_kwargs(
    loss: str,
    gamma: float = 0.0,
    theta: float = 0.0,
    c: float = 1.0,
    losses: Mapping[str, Mapping[str, bool]] = MNIST_LOSSES,
) -> dict[str, float]:
    """``CounterfactualProto`` keyword arguments (``c_init``, ``gamma``, ``theta``) of loss ``loss``.

    Parameters
    ----------
    loss
        A name of ``losses``.
    gamma, theta, c
        Weights of γ·L_AE, θ·L_proto and c·L_pred; each is used only by the losses with that
        term, and must then be positive. Losses without L_pred get c = 0.
    losses
        The definitions: :data:`MNIST_LOSSES` (eq. 15, the default) or
        :data:`BREAST_CANCER_LOSSES` (eq. 16).

    The other terms (β·L1 + L2, κ) are common to all losses and set once for the explainer.
    """
    if loss not in losses:
        raise ValueError(f"loss: expected one of {sorted(losses)}, got {loss!r}")
    terms = losses[loss]
    if terms["ae"] and not gamma > 0:
        raise ValueError(f"gamma: loss {loss} uses γ·L_AE, so gamma must be > 0, got {gamma}")
    if terms["proto"] and not theta > 0:
        raise ValueError(f"theta: loss {loss} uses θ·L_proto, so theta must be > 0, got {theta}")
    if terms["pred"] and not c > 0:
        raise ValueError(f"c: loss {loss} uses c·L_pred, so c must be > 0, got {c}")
    return dict(
        c_init=float(c) if terms["pred"] else 0.0,
        gamma=float(gamma) if terms["ae"] else 0.0,
        theta=float(theta) if terms["proto"] else 0.0,
    )


def mnist_settings(
    max_iterations: int, c_steps: int, names: str | Sequence[str] = "ABCDEF", learning_rate_init: float = 1e-2
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The MNIST searches of Table 1: the explainer settings and the losses of eq. 15.

    From :data:`cgp_lib.repro.paper.MNIST` (appendix B, section 4.2): κ = 0, β = 0.1, the
    feature range [-0.5, 0.5], a learning rate of 0.01 decayed over each c step; per loss
    c = 1 to start with (0 without L_pred), γ = 100, θ = 200 for C and E and 100 for D and F,
    and K = 5 encodings for the losses with L_proto.

    Parameters
    ----------
    max_iterations, c_steps
        FISTA steps per c step, and c steps.
    names
        The losses, letters of :data:`MNIST_LOSSES`.
    learning_rate_init
        The initial learning rate.

    Returns
    -------
    common : dict
        Keyword arguments of ``CounterfactualProto`` shared by every loss.
    losses : dict
        ``{name: configuration}`` for :func:`run`.
    """
    settings = paper.MNIST
    common = dict(
        kappa=settings["kappa"],
        beta=settings["beta"],
        feature_range=settings["feature_range"],
        learning_rate_init=learning_rate_init,
        max_iterations=max_iterations,
        c_steps=c_steps,
    )
    losses = {}
    for name in names:
        kw = loss_kwargs(name, gamma=settings["gamma"], theta=settings["theta"].get(name, 0.0), c=settings["c_init"])
        losses[name] = dict(kw, k=settings["k"]) if kw["theta"] > 0 else kw
    return common, losses


def cifar10_settings(
    max_iterations: int, c_steps: int, names: str | Sequence[str] = "ABCDEF", learning_rate_init: float = 1e-2
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The CIFAR-10 chapter's searches: :func:`mnist_settings` on images in [0, 1].

    The paper has no CIFAR-10 experiment; the chapter keeps every MNIST setting of Table 1
    (κ, β, γ, θ per loss, K, the learning rate and its decay) and changes only the feature
    range, to [0, 1] (:func:`cgp_lib.repro.datasets.load_cifar10`'s scaling). Every term is a
    sum over the 3,072 numbers of an image (or over its encoding), as on MNIST's 784, so no
    weight is rescaled for the three channels; the chapter says what that implies.
    """
    common, losses = mnist_settings(max_iterations, c_steps, names, learning_rate_init)
    common["feature_range"] = (0.0, 1.0)
    return common, losses


@dataclass
class SeedModels:
    """The models of one seed: the classifier, the search's autoencoder/encoder, the metrics' autoencoders.

    classifier
        The model explained (a Keras model or a function returning probabilities).
    class_aes, ae_all
        The autoencoders of IM1/IM2 (:mod:`cgp_lib.metrics`): one per class and one on all classes.
        Leave both out (``None``, or ``{}`` and ``None``) for an experiment that does not report
        IM1/IM2 (appendix E): its rows then have NaN in the ``im1``/``im2`` columns. Giving one
        without the other raises ValueError.
    ae, enc
        The autoencoder of L_AE and the encoder of encoder prototypes, when a loss uses them.
    key
        Identifies the models in cache keys. By default the weights of every Keras model above
        are hashed; give a key when a model is a plain function.
    """

    classifier: Any
    class_aes: Mapping[int, Any] | None = None
    ae_all: Any = None
    ae: Any = None
    enc: Any = None
    key: str | None = None

    def __post_init__(self):
        if bool(self.class_aes) != (self.ae_all is not None):
            given, missing = ("class_aes", "ae_all") if self.class_aes else ("ae_all", "class_aes")
            raise ValueError(
                f"{missing}: IM1/IM2 need both the class autoencoders and ae_all; {given} was given "
                f"without {missing} (leave both out to skip IM1/IM2)"
            )

    @property
    def has_metric(self) -> bool:
        """True when the IM1/IM2 autoencoders are given (rows then carry IM1 and IM2)."""
        return self.ae_all is not None

    def digest(self) -> str:
        if self.key is not None:
            return str(self.key)
        parts = {
            "classifier": _model_digest(self.classifier),
            "ae_all": _model_digest(self.ae_all),
            "ae": _model_digest(self.ae),
            "enc": _model_digest(self.enc),
            "class_aes": {str(c): _model_digest(m) for c, m in sorted(dict(self.class_aes or {}).items())},
        }
        return _hash(parts)


def _model_digest(model) -> str | None:
    if model is None:
        return None
    if not hasattr(model, "get_weights"):
        raise TypeError(
            f"cannot hash the model {model!r} for the cache key: it has no weights; pass SeedModels(key=...)"
        )
    return cache.weights_digest(model)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return {"array": cache.array_digest(value)}
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"cannot put {type(value).__name__} in a cache key: {value!r}")


def _hash(obj) -> str:
    return cache.text_digest(json.dumps(_jsonable(obj), sort_keys=True))


def _split_config(config: Mapping[str, Any]) -> tuple[dict, dict]:
    init = {k: v for k, v in config.items() if k not in EXPLAIN_KEYS + STRATEGY_KEYS}
    explain = {k: v for k, v in config.items() if k in EXPLAIN_KEYS}
    return init, explain


def build_explainer(
    models: SeedModels,
    config: Mapping[str, Any],
    shape: tuple,
    fit_data: np.ndarray,
    prototypes: str = "kdtree",
    **common,
) -> CounterfactualProto:
    """A fitted ``CounterfactualProto`` for one configuration (e.g. :func:`loss_kwargs` output).

    The autoencoder ``models.ae`` is passed only when γ > 0; prototypes only when θ > 0, so
    that losses without these terms are exactly the paper's: ``'kdtree'`` (k-d trees,
    Algorithm 2), ``'encoder'`` (the K nearest encodings of ``models.enc``, Algorithm 1),
    ``'kmeans'`` (:class:`~cgp_lib.prototypes.KMeansPrototypes` in the latent space of
    ``models.enc``) or ``'kmeans-features'`` (k-means in the feature space); the k-means
    strategies take ``n_clusters`` from the configuration (default 3). ``common`` holds the
    arguments shared by all configurations (κ, β, feature_range, max_iterations, c_steps,
    ...). Arguments of ``explain`` in the configuration (``k``, ``k_type``) are ignored here.
    """
    if prototypes not in PROTOTYPES:
        raise ValueError(f"prototypes: expected one of {PROTOTYPES}, got {prototypes!r}")
    init, _ = _split_config(config)
    n_clusters = config.get("n_clusters", 3)
    kwargs = dict(common)
    kwargs.update(init)
    if kwargs.get("gamma", 0) > 0:
        if models.ae is None:
            raise ValueError("models.ae: the configuration has γ > 0 and needs an autoencoder")
        kwargs["ae_model"] = models.ae
    if kwargs.get("theta", 0) > 0:
        if prototypes == "kdtree":
            kwargs["use_kdtree"] = True
        elif prototypes == "kmeans-features":
            kwargs["prototypes"] = KMeansPrototypes(n_clusters=n_clusters)
        else:
            if models.enc is None:
                raise ValueError(f"models.enc: {prototypes!r} prototypes with θ > 0 need an encoder")
            if prototypes == "encoder":
                kwargs["enc_model"] = models.enc
            else:
                kwargs["prototypes"] = KMeansPrototypes(n_clusters=n_clusters, enc_model=models.enc)
                if kwargs.get("gamma", 0) > 0:
                    kwargs["enc_model"] = models.enc  # the encoder pass shared with L_AE
    explainer = CounterfactualProto(models.classifier, shape, **kwargs)
    return explainer.fit(fit_data)


@dataclass
class ExperimentResult:
    """Rows (``frame``, columns :data:`COLUMNS`) and the counterfactuals ``cf`` aligned with them.

    ``cf[i]`` is the counterfactual of row ``i`` of ``frame`` (NaN where none was found) and
    ``cf_first[i]`` the first counterfactual of the same search.
    """

    frame: pd.DataFrame
    cf: np.ndarray
    cf_first: np.ndarray
    computed_chunks: int = 0  # chunks computed in this call (the others came from the cache)
    cached_chunks: int = 0

    def counterfactuals(self, config: str, seed: int, first: bool = False) -> np.ndarray:
        """The counterfactuals of one configuration and seed, in instance order (the first ones
        met if ``first``)."""
        rows = np.flatnonzero((self.frame["config"] == config).to_numpy() & (self.frame["seed"] == seed).to_numpy())
        if rows.size == 0:
            raise KeyError(f"no rows for config {config!r} and seed {seed}")
        return (self.cf_first if first else self.cf)[rows]


def _save_chunk(path: Path, frame: pd.DataFrame, cf: np.ndarray, cf_first: np.ndarray) -> None:
    arrays = {f"col_{c}": frame[c].to_numpy() for c in COLUMNS}
    arrays["col_config"] = frame["config"].to_numpy().astype(str)  # no pickled objects in the file
    cache.atomic_write(path, lambda handle: np.savez(handle, cf=cf, cf_first=cf_first, **arrays))


def _load_chunk(path: Path, n_rows: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """A cached chunk of ``n_rows`` rows, or None (with a warning naming the file) if it cannot
    be read: the caller then computes it again and overwrites the file."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            frame = pd.DataFrame({c: stored[f"col_{c}"] for c in COLUMNS})
            cf, cf_first = stored["cf"], stored["cf_first"]
        if len(frame) != n_rows or len(cf) != n_rows or len(cf_first) != n_rows:
            raise ValueError(f"{len(frame)} rows where the chunk has {n_rows}")
    except Exception as error:  # a truncated, corrupted or foreign file: recompute it
        warnings.warn(
            f"cached chunk {path} cannot be read ({type(error).__name__}: {error}); computing it again",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return frame, cf, cf_first


def _interpretability(cf, cf_class, orig_class, found, models: SeedModels) -> tuple[np.ndarray, np.ndarray]:
    """IM1 and IM2 (eq. 13-14) of the counterfactuals found, NaN elsewhere (and everywhere when
    ``models`` has no IM1/IM2 autoencoders)."""
    im1, im2 = np.full(len(cf), np.nan), np.full(len(cf), np.nan)
    if found.any() and models.has_metric:
        im1[found] = metrics.im1(cf[found], cf_class[found], orig_class[found], models.class_aes)
        im2[found] = metrics.im2(cf[found], cf_class[found], models.class_aes, models.ae_all)
    return im1, im2


def _explain_chunk(
    explainer: CounterfactualProto,
    X: np.ndarray,
    explain_kwargs: dict,
    models: SeedModels,
    stop: str,
    batch_size: int | None = None,
    row_args: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict, np.ndarray, np.ndarray]:
    """Explain the rows under the stop rule; IM1/IM2 of the reported and of the first counterfactuals.

    ``row_args`` are per-row arguments of ``explain`` (``target_class``, ``mutable``), sliced
    with the rows.

    One at a time when ``batch_size`` is None: each row's times are the explainer's times to
    the reported and to the first counterfactual. Else ``batch_size`` rows in one call, and
    both times are the row's share of the batch's wall time (a throughput).
    """
    row_args = row_args or {}
    if batch_size is None:
        results = [
            explainer.explain(
                X[i : i + 1], stop=stop, **explain_kwargs, **{k: v[i : i + 1] for k, v in row_args.items()}
            )
            for i in range(len(X))
        ]
    else:
        results = []
        for start in range(0, len(X), batch_size):
            part = slice(start, start + batch_size)
            result = explainer.explain(
                X[part], stop=stop, **explain_kwargs, **{k: v[part] for k, v in row_args.items()}
            )
            result.time_to_best_s = result.time_to_first_s = result.wall_time_s / len(result)
            results.append(result)
    cat = lambda name: np.concatenate([getattr(r, name) for r in results])  # noqa: E731
    found, orig_class = cat("found"), cat("orig_class")
    cf, cf_class, cf_first, cf_class_first = cat("cf"), cat("cf_class"), cat("first_cf"), cat("first_cf_class")
    im1, im2 = _interpretability(cf, cf_class, orig_class, found, models)
    im1_first, im2_first = _interpretability(cf_first, cf_class_first, orig_class, found, models)
    columns = dict(
        found=found,
        orig_class=orig_class,
        cf_class=cf_class,
        proto_class=cat("proto_class"),
        steps_to_best=cat("steps_to_best"),
        time_s=cat("time_to_best_s"),
        distance=cat("distance"),
        c=cat("c"),
        im1=im1,
        im2=im2,
        steps_to_first=cat("steps_to_first"),
        time_s_first=cat("time_to_first_s"),
        cf_class_first=cf_class_first,
        distance_first=cat("first_distance"),
        im1_first=im1_first,
        im2_first=im2_first,
    )
    return columns, cf, cf_first


def run(
    X: np.ndarray,
    configs: Mapping[str, Mapping[str, Any]],
    models: Callable[[int], SeedModels],
    seeds: Sequence[int],
    fit_data: np.ndarray,
    explainer_kwargs: Mapping[str, Any] | None = None,
    prototypes: str = "kdtree",
    instance_ids: Sequence[int] | None = None,
    chunk_size: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    desc: str = "explaining",
    batch_size: int | None = None,
    stop: str = "satisfactory",
    row_args: Mapping[str, Any] | None = None,
) -> ExperimentResult:
    """Explain every row of ``X`` under every configuration and seed, one instance at a time.

    configs
        Name -> explainer arguments of that configuration, typically ``loss_kwargs(...)``,
        possibly with ``k``/``k_type`` for ``explain`` (e.g. ``{"C": loss_kwargs("C", theta=100)}``).
    models
        seed -> :class:`SeedModels`; called once per seed (training, or loading cached weights).
    explainer_kwargs
        Arguments common to every configuration: ``kappa``, ``beta``, ``feature_range``,
        ``max_iterations``, ``c_steps``, ``learning_rate_init``, ...
    instance_ids
        Labels of the rows of X in the ``instance`` column (default 0..N-1).
    chunk_size
        Instances per cached chunk (default: all of them).
    stop
        ``"satisfactory"`` (default: the paper's definition, section 4.1) or ``"first"``; see
        ``CounterfactualProto.explain``. It is part of the cache key.
    batch_size
        None (default): each instance is explained alone with
        ``explain(X[i:i+1], stop=stop)`` after one untimed warm-up call of the explainer
        (tracing), so ``time_s`` is the time to the reported counterfactual as the paper
        measures it (and ``time_s_first`` to the first one). An integer: the rows of a chunk
        are explained ``batch_size`` at a time (the counterfactuals and step counts of each
        row alone up to the rounding of small batches, see :mod:`cgp_lib.explainer`; much
        higher throughput); both times are then the batch's wall time
        divided by its rows, a throughput, not a latency. The batch size and
        :data:`BATCH_ENGINE` are part of the cache key.
    row_args
        Per-row arguments of ``explain``, the same for every configuration and seed, each an
        array with one entry per row of X: ``target_class`` (N, m) (the classes each row may
        reach) and ``mutable`` (the boolean mask of the features each row may change, X's
        shape). They are sliced with the rows and are part of the cache key.

    IM1 and IM2 are those of the reported counterfactual, ``im1_first`` and ``im2_first``
    those of the first one (NaN where none was found).
    """
    if stop not in RUN_STOPS:
        raise ValueError(f"stop: expected one of {RUN_STOPS}, got {stop!r}")
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 2:
        raise ValueError(f"X: expected instances (N, *instance shape), got shape {X.shape}")
    if len(X) == 0:
        raise ValueError("X: has no rows to explain")
    fit_data = np.asarray(fit_data, dtype=np.float32)
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds: expected at least one seed")
    if not configs:
        raise ValueError("configs: expected at least one configuration {name: explainer arguments}")
    n = len(X)
    row_args = {name: np.asarray(value) for name, value in (row_args or {}).items()}
    for name, value in row_args.items():
        if name not in ROW_ARGS:
            raise ValueError(f"row_args: expected keys among {ROW_ARGS}, got {name!r}")
        if len(value) != n:
            raise ValueError(f"row_args: {name} has {len(value)} rows, X has {n}")
    ids = np.arange(n) if instance_ids is None else np.asarray(instance_ids)
    if ids.shape != (n,):
        raise ValueError(f"instance_ids: expected {n} ids, got shape {ids.shape}")
    chunk_size = n if chunk_size is None else check_positive_integer(chunk_size, "chunk_size", none_ok=True)
    check_positive_integer(batch_size, "batch_size", none_ok=True)
    common = dict(explainer_kwargs or {})
    common.setdefault("kappa", 0.0)
    common.setdefault("beta", 0.1)
    directory = Path(cache_dir).expanduser() if cache_dir is not None else cache.cache_dir("experiments")
    shape = (1,) + X.shape[1:]
    fit_digest = cache.array_digest(fit_data)
    blocks = [np.arange(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]

    frames, cfs, cfs_first = [], [], []
    computed = cached = 0
    jobs = [(seed, name) for seed in seeds for name in configs]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs) * len(blocks), desc=desc, file=sys.stderr)
    model_cache: dict[int, tuple[SeedModels, str]] = {}
    for seed, name in jobs:
        if seed not in model_cache:
            model_cache.clear()  # one seed's models at a time
            seed_models = models(seed)
            model_cache[seed] = (seed_models, seed_models.digest())
        seed_models, model_digest = model_cache[seed]
        config = dict(configs[name])
        _, explain_kwargs = _split_config(config)
        base_key = dict(
            version=CACHE_VERSION,
            config=config,
            common=common,
            prototypes=prototypes,
            models=model_digest,
            fit=fit_digest,
            seed=int(seed),
            shape=list(shape),
            stop=stop,
        )
        if batch_size is not None:  # one at a time keeps the keys it always had
            base_key["batch_size"] = int(batch_size)
            base_key["engine"] = BATCH_ENGINE
        explainer = None
        for rows in blocks:
            chunk_key = dict(base_key, X=cache.array_digest(X[rows]), ids=ids[rows].tolist())
            if row_args:  # runs without them keep the keys they always had
                chunk_key["row_args"] = {name: cache.array_digest(v[rows]) for name, v in sorted(row_args.items())}
            key = _hash(chunk_key)
            path = directory / f"{key[:32]}.npz"
            stored = _load_chunk(path, len(rows)) if path.is_file() else None
            if stored is not None:
                frame, cf, cf_first = stored
                frame["config"] = name  # the key holds the settings, not the name they go by
                cached += 1
            else:
                if explainer is None:
                    explainer = build_explainer(seed_models, config, shape, fit_data, prototypes, **common)
                    warm = {name: v[rows[:1]] for name, v in row_args.items()}
                    explainer.explain(X[rows[:1]], stop=stop, **explain_kwargs, **warm)  # warm-up: tracing
                columns, cf, cf_first = _explain_chunk(
                    explainer,
                    X[rows],
                    explain_kwargs,
                    seed_models,
                    stop,
                    batch_size,
                    {name: v[rows] for name, v in row_args.items()},
                )
                frame = pd.DataFrame(
                    dict(
                        config=np.array([name] * len(rows), dtype=object),
                        seed=np.full(len(rows), int(seed)),
                        instance=ids[rows],
                        **columns,
                    )
                )
                frame = frame[COLUMNS]
                _save_chunk(path, frame, cf, cf_first)
                computed += 1
            frames.append(frame)
            cfs.append(cf)
            cfs_first.append(cf_first)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.astype(
        dict(
            config=str,
            seed=int,
            found=bool,
            orig_class=int,
            cf_class=int,
            proto_class=int,
            steps_to_best=int,
            time_s=float,
            distance=float,
            c=float,
            im1=float,
            im2=float,
            steps_to_first=int,
            time_s_first=float,
            cf_class_first=int,
            distance_first=float,
            im1_first=float,
            im2_first=float,
        )
    )
    return ExperimentResult(
        frame=frame,
        cf=np.concatenate(cfs, axis=0),
        cf_first=np.concatenate(cfs_first, axis=0),
        computed_chunks=computed,
        cached_chunks=cached,
    )


def summarize(
    frame: pd.DataFrame,
    columns: Sequence[str] = ("time_s", "steps_to_best", "im1", "im2"),
    by: str = "config",
    found_only: bool = True,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean and confidence bounds (:func:`cgp_lib.metrics.mean_ci`) of ``columns`` per ``by`` group.

    Rows where no counterfactual was found are left out (``found_only``); the ``found`` and
    ``n`` columns say how many rows each group had and how many were found. Returns one row
    per group (in order of first appearance) with columns ``<col>``, ``<col>_low``, ``<col>_high``.
    """
    out = []
    for group, rows in frame.groupby(by, sort=False):
        record = {by: group, "n": len(rows), "found": int(rows["found"].sum())}
        used = rows[rows["found"]] if found_only else rows
        for col in columns:
            values = used[col].to_numpy(dtype=float)
            if values.size == 0:
                record[col] = record[f"{col}_low"] = record[f"{col}_high"] = np.nan
                continue
            record[col], record[f"{col}_low"], record[f"{col}_high"] = metrics.mean_ci(values, confidence)
        out.append(record)
    return pd.DataFrame(out)


def batched_throughput(
    explainer: CounterfactualProto, X: np.ndarray, repeats: int = 3, stop: str = "first", **explain_kwargs
) -> dict[str, float]:
    """Instances per second when all rows of ``X`` are explained together under the stop rule ``stop``.

    One untimed call first (tracing for the batch shape), then the median wall time of
    ``repeats`` calls. Returns ``instances``, ``seconds`` (median per call),
    ``instances_per_s`` and ``found`` (rows with a counterfactual in the last call).
    """
    check_positive_integer(repeats, "repeats")
    explainer.explain(X, stop=stop, **explain_kwargs)
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = explainer.explain(X, stop=stop, **explain_kwargs)
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    return dict(instances=len(X), seconds=seconds, instances_per_s=len(X) / seconds, found=int(result.found.sum()))


def plot_sweep(
    summary: pd.DataFrame,
    x: str,
    columns: Sequence[str],
    labels: Sequence[str] | None = None,
    axes=None,
    scales: Mapping[str, float] | None = None,
    xlabel: str | None = None,
):
    """One panel per column of a :func:`summarize` table: the mean against ``x``, with its confidence band.

    ``summary`` needs the column ``x`` (the swept setting, e.g. θ or K) and, for each name in
    ``columns``, ``<name>``, ``<name>_low`` and ``<name>_high``; ``scales`` multiplies a column
    for display (e.g. ``{"im2": 10}``). Returns the axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 2.8), constrained_layout=True)
    axes = np.atleast_1d(axes)
    labels = list(labels) if labels is not None else list(columns)
    scales = dict(scales or {})
    order = np.argsort(summary[x].to_numpy(dtype=float))
    xs = summary[x].to_numpy(dtype=float)[order]
    for ax, col, label in zip(axes, columns, labels):
        scale = scales.get(col, 1.0)
        mean = summary[col].to_numpy(dtype=float)[order] * scale
        low = summary[f"{col}_low"].to_numpy(dtype=float)[order] * scale
        high = summary[f"{col}_high"].to_numpy(dtype=float)[order] * scale
        ax.plot(xs, mean, "o-", color="C0")
        if np.isfinite(low).any():
            ax.fill_between(xs, low, high, color="C0", alpha=0.2, linewidth=0)
        ax.set_xlabel(xlabel or x)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    return axes


def black_box_predict(model, batch_size: int = 8192, calls: list | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``model`` behind a plain function from numpy arrays to numpy probabilities: a black box.

    The explainer sees arrays in and out and must estimate the gradient of L_pred by central
    differences (eq. 11-12, Table 3's A′). The function runs one compiled call of the model
    per ``batch_size`` rows.

    Parameters
    ----------
    model
        A Keras model returning class probabilities.
    batch_size
        Rows per compiled call.
    calls
        If a list, the number of rows of every call is appended to it (to count the queries a
        search makes of the black box).
    """
    if not callable(model):
        raise TypeError(f"model: expected a callable Keras model, got {type(model).__name__}")
    check_positive_integer(batch_size, "batch_size")
    if calls is not None and not isinstance(calls, list):
        raise TypeError(f"calls: expected a list or None, got {type(calls).__name__}")
    import tensorflow as tf

    compiled = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def predict(x):
        x = np.asarray(x, dtype=np.float32)
        if calls is not None:
            calls.append(len(x))
        return np.concatenate([compiled(x[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)])

    return predict


def seconds_per_steps(explainer: CounterfactualProto, X: np.ndarray, per: int = 100, **explain_kwargs) -> np.ndarray:
    """Seconds per ``per`` optimisation steps for each row of ``X`` explained alone (Table 3).

    Each row runs one c step of ``explainer.max_iterations`` steps without stopping early (one
    untimed warm-up call first); its wall time is scaled to ``per`` steps. With numerical
    gradients (a black-box ``predict``) the first step of a c step has no L_pred gradient, as
    in alibi, so a short run slightly underestimates the cost of ``per`` steps.
    Returns an array with one value per row.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 2 or len(X) == 0:
        raise ValueError(f"X: expected a non-empty batch of instances, got shape {X.shape}")
    check_positive_integer(per, "per")
    for name in ("stop", "stop_at_first", "record_losses", "record_path"):
        if explain_kwargs.get(name):
            raise ValueError(f"{name}: every step must run and nothing is recorded")
    c_steps = explainer.c_steps
    try:
        explainer.c_steps = 1
        explainer.explain(X[:1], **explain_kwargs)  # warm-up: tracing
        times = []
        for i in range(len(X)):
            start = time.perf_counter()
            explainer.explain(X[i : i + 1], **explain_kwargs)
            times.append(time.perf_counter() - start)
    finally:
        explainer.c_steps = c_steps
    return np.asarray(times) * per / explainer.max_iterations
