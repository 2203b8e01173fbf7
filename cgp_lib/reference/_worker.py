"""Worker process for :mod:`cgp_lib.reference.runner` -- do not import from eager code.

Usage: ``python -m cgp_lib.reference._worker TMPDIR`` (one job), or ``--serve`` (one job directory
per line of stdin, see :func:`serve`, for :func:`cgp_lib.reference.runner.keep_worker`).  Reads ``TMPDIR/inputs.json``,
``TMPDIR/inputs.npz`` and the ``.h5`` models written by
:func:`cgp_lib.reference.runner.run_alibi_cfproto`, switches this whole process to TF1 graph
mode (required by alibi's ``CounterfactualProto``), builds and fits one explainer, explains every
row of ``X`` one at a time and writes ``TMPDIR/outputs.npz`` and ``TMPDIR/outputs.json``.
See the docstring of :mod:`cgp_lib.reference.runner` for the protocol and what is timed.

``python -m`` imports the ``cgp_lib`` package (its ``__init__``) before this module, so that
``__init__`` must not create TF tensors or variables at import time; everything else in
this process runs after ``disable_eager_execution()``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import importlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# First thing after importing TF: alibi's explainer is TF1 graph code.  Process-wide.
tf.compat.v1.disable_eager_execution()

warnings.simplefilter("ignore")
tf.get_logger().setLevel(logging.ERROR)

_NOT_FOUND = "No counterfactual found"
#: Max |p_worker - p_caller| allowed between the reloaded and the caller's model on X.
_PROBA_ATOL = 1e-3


class _CountingHandler(logging.Handler):
    """Swallows alibi's log records, counting the "No counterfactual found!" ones."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.not_found = 0

    def emit(self, record: logging.LogRecord) -> None:
        if _NOT_FOUND in record.getMessage():
            self.not_found += 1


def _silence_alibi() -> _CountingHandler:
    handler = _CountingHandler()
    alibi_logger = logging.getLogger("alibi")
    alibi_logger.handlers[:] = [handler]
    alibi_logger.setLevel(logging.DEBUG)  # the handler decides; nothing propagates to stderr
    alibi_logger.propagate = False
    return handler


def _register_custom_objects(modules) -> None:
    """Import the modules that define the models' custom layers, so their registered layers deserialize.

    A module that fails to import is reported and skipped: loading then fails with Keras's
    "Unknown layer" error if a model needs it, and succeeds if none does.
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken module must not break models that do not need it
            print(f"[alibi worker] warning: importing {name} failed: {exc!r}", file=sys.stderr)


def _custom_objects() -> dict:
    """Registered Keras objects under their full (``package>Name``) and bare (``Name``) names.

    Keras 2.14's HDF5 writer stores layers *nested* inside a sub-model (e.g. the decoder of
    ``Sequential([enc, dec])``) with a bare ``class_name`` plus a ``registered_name`` that the
    HDF5 loader ignores, so a registered custom layer there fails with "Unknown layer"
    unless it is also passed under its bare name.
    """
    registered = dict(tf.keras.utils.get_custom_objects())
    objects = {name.split(">", 1)[-1]: obj for name, obj in registered.items()}
    objects.update(registered)
    return objects


def _load(tmpdir: Path, name: str):
    return tf.keras.models.load_model(str(tmpdir / name), custom_objects=_custom_objects(), compile=False)


def main(tmpdir: Path) -> None:
    from cgp_lib.reference.runner import _decode

    counter = _silence_alibi()
    spec = json.loads((tmpdir / "inputs.json").read_text())
    _register_custom_objects(spec.get("layer_modules", ()))
    import alibi
    from alibi.explainers import CounterfactualProto

    with np.load(tmpdir / "inputs.npz") as f:
        arrays = {k: f[k] for k in f.files}
    X = arrays["X"]
    Y = arrays.get("Y")
    fit_data = arrays.get("fit_data")
    init_kwargs = _decode(spec["init_kwargs"], arrays)
    fit_kwargs = _decode(spec["fit_kwargs"], arrays)
    explain_kwargs = _decode(spec["explain_kwargs"], arrays)
    if "feature_range" in init_kwargs:
        init_kwargs["feature_range"] = tuple(init_kwargs["feature_range"])
    for key in ("eps", "clip"):
        if key in init_kwargs:
            init_kwargs[key] = tuple(init_kwargs[key])

    models = {name: _load(tmpdir, fname) for name, fname in spec["models"].items()}
    model = models["predict"]

    # Guard against formats that load without error but with wrong weights.
    proba = model.predict(X, verbose=0)
    diff = float(np.max(np.abs(proba - arrays["ref_proba"])))
    if not np.isfinite(diff) or diff > _PROBA_ATOL:
        raise RuntimeError(f"reloaded model disagrees with the caller's model on X (max |dp| = {diff:.3g})")

    predict = (lambda x: model.predict(x, verbose=0)) if spec["black_box"] else model

    t0 = time.perf_counter()
    explainer = CounterfactualProto(
        predict,
        shape=(1,) + X.shape[1:],
        ae_model=models.get("ae"),
        enc_model=models.get("enc"),
        **init_kwargs,
    )
    # Always fit: alibi 0.9.6's explain needs `cat_vars_ord`, which only fit creates.
    explainer.fit(fit_data if fit_data is not None else X, **fit_kwargs)
    setup_time = time.perf_counter() - t0

    n, n_classes = X.shape[0], proba.shape[1]
    found = np.zeros(n, bool)
    cf = np.full(X.shape, np.nan, np.float32)
    cf_class = np.full(n, -1, np.int64)
    cf_proba = np.full((n, n_classes), np.nan, np.float32)
    orig_class = np.full(n, -1, np.int64)
    orig_proba = np.full((n, n_classes), np.nan, np.float32)
    proto_class = np.full(n, -1, np.int64)
    time_s = np.zeros(n)

    for i in range(n):
        y_i = None if Y is None else Y[i : i + 1]
        t = time.perf_counter()
        expl = explainer.explain(X[i : i + 1], Y=y_i, **explain_kwargs)
        time_s[i] = time.perf_counter() - t
        data = expl.data
        orig_class[i] = int(data["orig_class"])
        if data.get("orig_proba") is not None:
            orig_proba[i] = np.asarray(data["orig_proba"]).reshape(-1)
        if data.get("id_proto") is not None:
            proto_class[i] = int(data["id_proto"])
        if data.get("cf") is not None:
            found[i] = True
            cf[i] = np.asarray(data["cf"]["X"]).reshape(X.shape[1:])
            cf_class[i] = int(data["cf"]["class"])
            cf_proba[i] = np.asarray(data["cf"]["proba"]).reshape(-1)

    # Categorical variables: alibi's numbers of the categories (d_abs) and its feature range after fit.
    categorical = {}
    if getattr(explainer, "is_cat", False):
        for col, values in explainer.d_abs.items():
            categorical[f"d_abs_{int(col)}"] = np.asarray(values, dtype=np.float64)
        categorical["fitted_lower"] = np.asarray(explainer.feature_range[0], dtype=np.float64)
        categorical["fitted_upper"] = np.asarray(explainer.feature_range[1], dtype=np.float64)

    np.savez(
        tmpdir / "outputs.npz",
        found=found,
        cf=cf,
        cf_class=cf_class,
        cf_proba=cf_proba,
        orig_class=orig_class,
        orig_proba=orig_proba,
        proto_class=proto_class,
        time_s=time_s,
        **categorical,
    )
    (tmpdir / "outputs.json").write_text(
        json.dumps(
            {
                "setup_time_s": setup_time,
                "alibi_version": alibi.__version__,
                "tf_version": tf.__version__,
                "n_not_found_logged": counter.not_found,
            }
        )
    )


def serve() -> None:
    """Run jobs until stdin closes: one job directory per line, a status line per job.

    Each job starts from a fresh Keras graph and session (``clear_session``), so it sees the
    same state as a new process, without paying interpreter start-up and the imports again.
    A failed job writes its traceback to ``JOB/error.txt``; the worker goes on serving.
    """
    import traceback

    from cgp_lib.reference.runner import _STATUS

    for line in sys.stdin:
        job = Path(line.strip())
        if not line.strip():
            continue
        tf.keras.backend.clear_session()
        try:
            main(job)
            status = "ok"
        except Exception:  # reported to the caller, who raises it
            (job / "error.txt").write_text(traceback.format_exc())
            status = "error"
        sys.stdout.write(f"{_STATUS} {status}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--serve":
        serve()
    elif len(sys.argv) == 2:
        main(Path(sys.argv[1]))
    else:
        sys.exit("usage: python -m cgp_lib.reference._worker TMPDIR | --serve")
