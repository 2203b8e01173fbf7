"""Run alibi's ``CounterfactualProto`` (the paper authors' reference code) from an eager TF2 process.

This module is the bridge used to cross-check and benchmark ``cgp_lib`` against
``alibi.explainers.CounterfactualProto`` (alibi 0.9.6), the implementation published by
Van Looveren & Klaise alongside "Interpretable Counterfactual Explanations Guided by
Prototypes".  The public entry point is :func:`run_alibi_cfproto`, which returns an
:class:`AlibiResult`.

Why a subprocess
----------------
alibi's explainer is TF1 graph code: it builds ``tf.compat.v1`` variables, placeholders and a
session, and only works after ``tf.compat.v1.disable_eager_execution()``.  That switch is
process-wide and cannot be undone, while the rest of ``cgp_lib`` (and its callers) run eager
TF2.  So the explainer always runs in a fresh child process, ``python -m cgp_lib.reference._worker``;
the caller's process is never switched to graph mode.

Protocol: the caller's Keras models are written to a temporary directory in the legacy HDF5
format (``.h5``) -- the only format found to reload correctly in a graph-mode TF 2.14 process:

* ``.h5``: loads, and predictions match the eager model exactly.
* ``.keras`` (Keras v3 zip): loads *without error but with wrong weights* in graph mode
  (predictions differ from the saved model), i.e. it fails silently.
* SavedModel directory: a compiled ``Functional`` model fails to load with
  ``AttributeError: 'Functional' object has no attribute 'loss'``.

As a guard against silent weight-loading failures the worker compares its predictions on ``X``
with the caller's and aborts if they differ.  Only models that can be saved to HDF5
(``Sequential``/``Functional``; custom layers need ``get_config`` and registration) are
supported.  The worker first imports the module of every custom class found in the models
(``type(layer).__module__``, e.g. ``cgp_lib.repro.models``), so layers registered there with
``tf.keras.utils.register_keras_serializable(package='cgp_lib')`` (e.g. ``NearestUpsampling2D``)
deserialize; registered objects are also passed under their bare class
names, because Keras 2.14's HDF5 writer stores layers nested in a sub-model (the decoder inside
``Sequential([enc, dec])``) under the bare name, which otherwise fails with "Unknown layer" even
in eager mode.  Custom objects registered only in the caller's process are unknown to the worker.

Arrays go in ``inputs.npz``, keyword arguments in ``inputs.json`` (numpy arrays inside keyword
arguments, e.g. feature-wise ``feature_range``, are stored in the ``.npz`` and referenced from
the JSON); outputs come back the same way.

Known alibi 0.9.6 quirk ('cat_vars_ord')
----------------------------------------
``CounterfactualProto.explain`` reads ``self.cat_vars_ord``, an attribute that is only created
by ``fit``.  With a black-box predictor (a plain function, numerical gradients) ``explain``
therefore fails with ``AttributeError: ... 'cat_vars_ord'`` unless ``fit`` was called first.
The worker therefore *always* calls ``fit``: on ``fit_data``, which is required whenever fitting
matters (black box, encoder prototypes, k-d tree prototypes, categorical variables); otherwise,
if ``fit_data`` is not given, on ``X`` itself -- harmless, because without prototypes and
categorical variables ``fit`` only records the model's predictions.

What is timed
-------------
* ``AlibiResult.time_s[i]``: wall-clock time (``time.perf_counter``) of the single
  ``explainer.explain(X[i:i+1], ...)`` call for row ``i`` -- the full FISTA search over all
  ``c_steps`` x ``max_iterations`` steps including alibi's own prediction calls.  Graph
  construction and ``fit`` are excluded.  The first row additionally pays TF's one-off
  graph optimisation on the first ``session.run`` of the new ops (about 0.1 s on a small
  MLP); use the median for per-instance cost.
* ``AlibiResult.setup_time_s``: constructing the explainer (building the TF1 graph) plus ``fit``,
  once.  Interpreter start-up, TF import and model loading are not included anywhere.

Cached results (opt in)
-----------------------
alibi's search at the paper's scale takes hours, and a cross-check that stops half-way would
start again from zero. With ``cache_dir=`` (or the environment variable ``CGP_ALIBI_CACHE_DIR``)
each call's outputs are stored under a sha256 of everything the worker receives: the arrays,
the keyword arguments, every model's architecture (JSON) and weights, and the installed alibi
and TensorFlow versions. A call with the same inputs reads them back instead of running alibi;
its result says so (``AlibiResult.cached``), and its ``time_s`` are those measured when the
entry was written, so timings from cached results are not measurements of this run (the
benchmarks never use the cache). Off by default.

alibi logs "No counterfactual found!" for every unsuccessful row; the worker silences alibi's
logging and warnings, and the count of such messages is returned as ``n_not_found_logged``.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

__all__ = ["AlibiResult", "run_alibi_cfproto", "keep_worker", "CACHE_DIR_ENV"]

#: Keyword arguments of ``CounterfactualProto.__init__`` that this module sets itself.
_RESERVED_INIT = frozenset({"predict", "shape", "ae_model", "enc_model", "sess"})
#: Keyword arguments of ``explain`` that this module sets itself.
_RESERVED_EXPLAIN = frozenset({"X", "Y"})
_STDERR_TAIL = 4000
#: Prefix of the status line a serving worker writes after each job.
_STATUS = "@@cgp_alibi_worker"
#: Environment variable naming the folder of cached alibi results (unset: no cache).
CACHE_DIR_ENV = "CGP_ALIBI_CACHE_DIR"
#: Bump when the worker's outputs change meaning: older entries then stop matching.
_CACHE_FORMAT = "cgp-alibi-cache-1"


@dataclass(frozen=True)
class AlibiResult:
    """Per-row output of :func:`run_alibi_cfproto` (all arrays have ``N = len(X)`` rows).

    Attributes
    ----------
    found : (N,) bool
        Whether alibi returned a counterfactual for the row.
    cf : (N, ...) float
        The counterfactual; NaN rows where none was found.
    cf_class : (N,) int
        alibi's predicted class on ``cf``; -1 where none was found.
    cf_proba : (N, n_classes) float
        Model probabilities on ``cf``; NaN where none was found.
    orig_class : (N,) int
        Class alibi explained away from: the model's argmax on ``X`` or argmax of ``Y`` if given.
    orig_proba : (N, n_classes) float
        Model probabilities on ``X`` as computed by alibi (NaN when ``Y`` was given, because
        alibi then does not predict on ``X``).
    proto_class : (N,) int
        alibi's ``id_proto``: class of the prototype used to guide the search; -1 if no
        prototype loss term was used (no encoder and no k-d trees).
    time_s : (N,) float
        Seconds spent in the ``explain`` call for the row.
    setup_time_s : float
        Seconds for constructing the explainer (TF1 graph) and calling ``fit``, once.
    alibi_version, tf_version : str
        Versions used by the worker process.
    n_not_found_logged : int
        Number of "No counterfactual found!" messages alibi logged (silenced).
    d_abs : dict or None
        With ``cat_vars``: alibi's number for every category, {ordinal column: (n,) array}
        (the ``d_abs`` attribute that ``fit`` computes from ``d_type``, ``w``, ``disc_perc``,
        ``standardize_cat_vars``, ``smooth``, ``center``); None otherwise.
    fitted_feature_range : tuple or None
        With ``cat_vars``: alibi's ``feature_range`` attribute after ``fit`` (updated with
        ``update_feature_range=True``; alibi's search itself clips to the constructor's range).
    cached : bool
        True when the result was read from the cache (see the module's "Cached results"):
        ``time_s`` and ``setup_time_s`` are then those of the run that wrote the entry.
    """

    found: np.ndarray
    cf: np.ndarray
    cf_class: np.ndarray
    cf_proba: np.ndarray
    orig_class: np.ndarray
    orig_proba: np.ndarray
    proto_class: np.ndarray
    time_s: np.ndarray
    setup_time_s: float
    alibi_version: str
    tf_version: str
    n_not_found_logged: int = 0
    d_abs: Optional[dict] = None
    fitted_feature_range: Optional[tuple] = None
    cached: bool = False

    def __len__(self) -> int:
        return int(self.found.shape[0])

    @property
    def n_found(self) -> int:
        """Number of rows for which a counterfactual was found."""
        return int(np.sum(self.found))

    def to_frame(self):
        """Per-row scalar columns as a ``pandas.DataFrame`` (one row per instance of ``X``).

        Columns: ``found, orig_class, cf_class, proto_class, orig_proba_max, cf_proba_max,
        time_s``; the ``*_proba_max`` columns hold the probability of the predicted class
        (NaN where unavailable).
        """
        import pandas as pd

        return pd.DataFrame(
            {
                "found": self.found,
                "orig_class": self.orig_class,
                "cf_class": self.cf_class,
                "proto_class": self.proto_class,
                "orig_proba_max": _nanmax_rows(self.orig_proba),
                "cf_proba_max": _nanmax_rows(self.cf_proba),
                "time_s": self.time_s,
            }
        )


def _nanmax_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float).reshape(len(a), -1)
    out = np.full(len(a), np.nan)
    ok = ~np.all(np.isnan(a), axis=1) if a.shape[1] else np.zeros(len(a), bool)
    out[ok] = np.nanmax(a[ok], axis=1)
    return out


def run_alibi_cfproto(
    X: np.ndarray,
    *,
    predict_model,
    shape: Optional[Sequence[int]] = None,
    ae_model=None,
    enc_model=None,
    black_box: bool = False,
    fit_data: Optional[np.ndarray] = None,
    init_kwargs: Optional[Mapping[str, Any]] = None,
    fit_kwargs: Optional[Mapping[str, Any]] = None,
    explain_kwargs: Optional[Mapping[str, Any]] = None,
    Y: Optional[np.ndarray] = None,
    timeout: Optional[float] = None,
    cache_dir: Optional[os.PathLike] = None,
) -> AlibiResult:
    """Explain each row of ``X`` with alibi's ``CounterfactualProto`` in a graph-mode subprocess.

    One explainer is built with ``shape=(1, *shape)`` and ``init_kwargs``, fitted once with
    ``fit(fit_data, **fit_kwargs)``, then ``explain(X[i:i+1], Y[i:i+1], **explain_kwargs)`` is
    called for every row (alibi explains one instance at a time).

    Parameters
    ----------
    X
        ``(N, *shape)`` instances to explain.
    predict_model
        ``tf.keras.Model`` returning class probabilities (saved to HDF5 for the worker).
    shape
        Per-instance shape; ``X`` is reshaped to ``(-1, *shape)``.  Default ``X.shape[1:]``.
    ae_model, enc_model
        Optional Keras auto-encoder (``gamma`` term) and encoder (prototypes, ``theta`` term).
    black_box
        If true, alibi gets ``lambda x: model.predict(x, verbose=0)`` instead of the Keras model,
        so it uses numerical gradients for the prediction loss term.
    fit_data
        Training data for ``fit`` (class prototypes / k-d trees).  Required when ``black_box``,
        ``enc_model``, ``init_kwargs['use_kdtree']`` or ``init_kwargs['cat_vars']`` is set.
    init_kwargs
        Further ``CounterfactualProto`` arguments (``kappa, beta, gamma, theta, use_kdtree,
        feature_range, learning_rate_init, max_iterations, c_init, c_steps, eps, clip,
        update_num_grad, cat_vars, ohe``...).  Values may be scalars, lists, dicts or numpy
        arrays (e.g. feature-wise ``feature_range``).  Python ints in ``feature_range`` are
        converted to floats (alibi treats only ``float`` as a scalar bound).
    fit_kwargs, explain_kwargs
        Extra keyword arguments for ``fit`` and ``explain`` (e.g. ``{'k': 2}``,
        ``{'target_class': [1]}``, ``{'threshold': 0.}``). With ``init_kwargs['cat_vars']``
        (and ``'ohe'``), ``fit_kwargs`` takes alibi's categorical options ``d_type`` ('abdm',
        'mvdm', 'abdm-mvdm'), ``w``, ``disc_perc``, ``standardize_cat_vars``, ``smooth``,
        ``center``, ``update_feature_range``; the result then carries alibi's embeddings
        (``d_abs``) and fitted ``feature_range``.
    Y
        Optional ``(N, n_classes)`` one-hot labels passed to ``explain`` (alibi then skips
        its own prediction on ``X`` and ``orig_proba`` is NaN).
    timeout
        Seconds before the worker is killed (``subprocess.TimeoutExpired`` is raised).
    cache_dir
        Folder of cached results (see the module's "Cached results"); None: the folder named by
        ``$CGP_ALIBI_CACHE_DIR``, or no cache when that is unset or empty.

    Returns
    -------
    AlibiResult

    Raises
    ------
    ValueError
        Missing ``fit_data`` when it is required, reserved or mis-shaped arguments.
    RuntimeError
        The worker failed (message contains the tail of its stderr).
    """
    init_kwargs = dict(init_kwargs or {})
    fit_kwargs = dict(fit_kwargs or {})
    explain_kwargs = dict(explain_kwargs or {})

    X = np.asarray(X, dtype=np.float32)
    if shape is not None:
        X = X.reshape((-1,) + tuple(int(s) for s in shape))
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (N, *shape) with N >= 1, got {X.shape}")

    bad = _RESERVED_INIT.intersection(init_kwargs)
    if bad:
        raise ValueError(f"init_kwargs must not contain {sorted(bad)}; pass models as arguments")
    bad = _RESERVED_EXPLAIN.intersection(explain_kwargs)
    if bad:
        raise ValueError(f"explain_kwargs must not contain {sorted(bad)}; pass X and Y as arguments")

    needs_fit_data = {
        "black_box=True": black_box,
        "enc_model": enc_model is not None,
        "use_kdtree=True": bool(init_kwargs.get("use_kdtree", False)),
        "cat_vars": bool(init_kwargs.get("cat_vars")),
    }
    if fit_data is None and any(needs_fit_data.values()):
        why = ", ".join(k for k, v in needs_fit_data.items() if v)
        raise ValueError(f"fit_data is required with {why} (alibi's fit needs training data)")
    if fit_data is not None:
        fit_data = np.asarray(fit_data, dtype=np.float32).reshape((-1,) + X.shape[1:])

    if Y is not None:
        Y = np.asarray(Y, dtype=np.float32)
        if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise ValueError(f"Y must be one-hot with shape (N, n_classes), got {Y.shape} for N={X.shape[0]}")

    if "feature_range" in init_kwargs:
        lo, hi = init_kwargs["feature_range"]
        init_kwargs["feature_range"] = tuple(
            float(v) if isinstance(v, Real) and not isinstance(v, bool) else np.asarray(v, dtype=np.float32)
            for v in (lo, hi)
        )

    # The caller's predictions: the worker checks its reloaded model against them.
    ref_proba = np.asarray(predict_model.predict(X, verbose=0), dtype=np.float32)

    with tempfile.TemporaryDirectory(prefix="cgp_alibi_") as tmp:
        tmpdir = Path(tmp)
        arrays: dict[str, np.ndarray] = {"X": X, "ref_proba": ref_proba}
        if fit_data is not None:
            arrays["fit_data"] = fit_data
        if Y is not None:
            arrays["Y"] = Y
        spec = {
            "black_box": bool(black_box),
            "models": {},
            "init_kwargs": _encode(init_kwargs, arrays, "init"),
            "fit_kwargs": _encode(fit_kwargs, arrays, "fit"),
            "explain_kwargs": _encode(explain_kwargs, arrays, "explain"),
            "layer_modules": [],
        }
        for name, model in (("predict", predict_model), ("ae", ae_model), ("enc", enc_model)):
            if model is not None:
                path = tmpdir / f"{name}.h5"
                _save_h5(model, path)
                spec["models"][name] = path.name
                spec["layer_modules"] = sorted(set(spec["layer_modules"]) | _custom_layer_modules(model))
        np.savez(tmpdir / "inputs.npz", **arrays)
        (tmpdir / "inputs.json").write_text(json.dumps(spec))

        if cache_dir is None:
            cache_dir = os.environ.get(CACHE_DIR_ENV) or None
        entry = None
        if cache_dir is not None:
            models = {"predict": predict_model, "ae": ae_model, "enc": enc_model}
            entry = Path(cache_dir).expanduser() / _cache_key(arrays, spec, models)
        cached = entry is not None and (entry / "outputs.json").is_file()
        if cached:
            out_dir = entry
        else:
            _run_worker(tmpdir, timeout)
            out_dir = tmpdir
            if entry is not None:
                _store(tmpdir, entry)
        meta = json.loads((out_dir / "outputs.json").read_text())
        with np.load(out_dir / "outputs.npz") as out:
            arrs = {k: out[k] for k in out.files}

    d_abs = {int(k[len("d_abs_") :]): v for k, v in arrs.items() if k.startswith("d_abs_")} or None
    fitted_range = (arrs["fitted_lower"], arrs["fitted_upper"]) if "fitted_lower" in arrs else None
    return AlibiResult(
        d_abs=dict(sorted(d_abs.items())) if d_abs else None,
        fitted_feature_range=fitted_range,
        found=arrs["found"].astype(bool),
        cf=arrs["cf"],
        cf_class=arrs["cf_class"].astype(int),
        cf_proba=arrs["cf_proba"],
        orig_class=arrs["orig_class"].astype(int),
        orig_proba=arrs["orig_proba"],
        proto_class=arrs["proto_class"].astype(int),
        time_s=arrs["time_s"],
        setup_time_s=float(meta["setup_time_s"]),
        alibi_version=str(meta["alibi_version"]),
        tf_version=str(meta["tf_version"]),
        n_not_found_logged=int(meta["n_not_found_logged"]),
        cached=cached,
    )


def _run_worker(job: Path, timeout: Optional[float]) -> None:
    """Run the job directory ``job`` in the kept worker or in a new process."""
    if _keep:
        _kept_worker().run(job, timeout)
        return
    proc = subprocess.run(
        [sys.executable, "-m", "cgp_lib.reference._worker", str(job)],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=timeout,
    )
    if proc.returncode != 0:
        tail = proc.stderr[-_STDERR_TAIL:]
        raise RuntimeError(f"alibi worker failed with exit code {proc.returncode}; stderr tail:\n{tail}")


def _package_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _cache_key(arrays: Mapping[str, np.ndarray], spec: Mapping[str, Any], models: Mapping[str, Any]) -> str:
    """sha256 of everything a worker job depends on (see the module's "Cached results")."""
    digest = hashlib.sha256()

    def add(text: str) -> None:
        digest.update(text.encode())
        digest.update(b"\0")

    add(_CACHE_FORMAT)
    add(f"alibi {_package_version('alibi')} tensorflow {_package_version('tensorflow')}")
    add(json.dumps(spec, sort_keys=True))
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        add(f"{key} {array.dtype.str} {array.shape}")
        digest.update(array.tobytes())
    for name in sorted(models):
        model = models[name]
        if model is None:
            continue
        add(f"{name} {model.to_json()}")
        for weight in model.get_weights():
            weight = np.ascontiguousarray(weight)
            add(f"{weight.dtype.str} {weight.shape}")
            digest.update(weight.tobytes())
    return digest.hexdigest()


def _store(job: Path, entry: Path) -> None:
    """Copy a finished job's outputs to the cache entry ``entry``; outputs.json is renamed into
    place last, so an interrupted copy is not an entry."""
    entry.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(job / "outputs.npz", entry / "outputs.npz")
    partial = entry / f"outputs.json.{os.getpid()}.tmp"
    shutil.copyfile(job / "outputs.json", partial)
    os.replace(partial, entry / "outputs.json")


class _ServingWorker:
    """One ``python -m cgp_lib.reference._worker --serve`` process that runs job directories in turn."""

    def __init__(self) -> None:
        self.status = _STATUS
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cgp_lib.reference._worker", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            bufsize=1,
            env=_child_env(),
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith(self.status):
                self.lines.put(line[len(self.status) :].strip())
        self.lines.put(None)  # end of output: the worker exited

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-_STDERR_TAIL:]

    def run(self, job: Path, timeout: Optional[float]) -> None:
        try:
            self.proc.stdin.write(f"{job}\n")
            self.proc.stdin.flush()
            status = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise subprocess.TimeoutExpired(self.proc.args, timeout) from None
        except BrokenPipeError:
            status = None
        if status is None:
            raise RuntimeError(f"alibi worker exited with code {self.proc.poll()}; stderr tail:\n{self.stderr_tail()}")
        if status != "ok":
            raise RuntimeError(f"alibi worker failed:\n{(job / 'error.txt').read_text()[-_STDERR_TAIL:]}")

    def close(self) -> None:
        if self.alive():
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


_keep = False
_kept: Optional[_ServingWorker] = None


def keep_worker(enabled: bool = True) -> None:
    """Run every later :func:`run_alibi_cfproto` call of this process in one kept worker process.

    By default each call starts a new graph-mode process, which costs interpreter start-up and
    the TensorFlow and alibi imports (several seconds) every time. With ``keep_worker()`` one
    worker, started at the next call, serves the calls in turn; each job still starts from a
    fresh Keras graph and session, so results are those of a new process. A worker that died
    or timed out is replaced at the next call. ``keep_worker(False)`` stops it (it also stops
    when this process exits).
    """
    global _keep, _kept
    _keep = bool(enabled)
    if not _keep and _kept is not None:
        _kept.close()
        _kept = None


def _kept_worker() -> _ServingWorker:
    global _kept
    if _kept is None or not _kept.alive():
        if _kept is not None:
            _kept.close()
        _kept = _ServingWorker()
    return _kept


def _close_kept() -> None:
    if _kept is not None:
        _kept.close()


atexit.register(_close_kept)


def _custom_layer_modules(model) -> set[str]:
    """Modules (other than TensorFlow's and Keras's) that define a class used in ``model``.

    The worker imports them before loading, so that layers they register with
    ``tf.keras.utils.register_keras_serializable`` deserialize there too.
    """
    modules = set()
    for obj in (model, *model.submodules):
        module = type(obj).__module__
        if module != "__main__" and module.split(".")[0] not in ("keras", "tensorflow", "tf_keras"):
            modules.add(module)
    return modules


def _save_h5(model, path: Path) -> None:
    """Save a Keras model in the legacy HDF5 format (the one that reloads in graph mode)."""
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "HDF5 is a legacy format" UserWarning
        tf.keras.models.save_model(model, str(path), save_format="h5", include_optimizer=False)


def _encode(obj: Any, arrays: dict, prefix: str) -> Any:
    """Make ``obj`` JSON-serialisable; numpy arrays are moved into ``arrays`` and referenced."""
    if isinstance(obj, np.ndarray):
        key = f"__kw_{prefix}_{len(arrays)}"
        arrays[key] = obj
        return {"__ndarray__": key}
    if isinstance(obj, Mapping):
        # JSON object keys must be strings; keep int keys (e.g. cat_vars) recoverable.
        return {"__dict__": [[_encode(k, arrays, prefix), _encode(v, arrays, prefix)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, prefix) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays, prefix) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot pass {type(obj).__name__} to the alibi worker: {obj!r}")


def _decode(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of :func:`_encode` (used by the worker)."""
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return np.asarray(arrays[obj["__ndarray__"]])
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in obj["__dict__"]}
    return obj


def _child_env() -> dict:
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["CUDA_VISIBLE_DEVICES"] = ""
    # Make `python -m cgp_lib.reference._worker` resolve to this very package whatever the cwd.
    root = str(Path(__file__).resolve().parents[2])  # the folder holding cgp_lib/
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in parts if p != root])
    return env
