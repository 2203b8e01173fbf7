"""Tests for cgp_lib.reference.runner: alibi's CounterfactualProto run in a graph-mode subprocess.

The caller's (this) process stays eager; the worker is a separate process (one kept for the whole
test session, see conftest.py, except where a test says otherwise).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from cgp_lib.reference.runner import AlibiResult, _decode, _encode, run_alibi_cfproto  # noqa: E402

N_PER_CLASS = 100
CENTERS = np.array([[-1.0, -1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [0.0, -1.0, 1.0, 1.0]])


@pytest.fixture(scope="module")
def blobs_and_model():
    """Three well-separated 4-d Gaussian blobs (standardised scale) and a small trained MLP."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), N_PER_CLASS)
    X = (CENTERS[y] + 0.3 * rng.standard_normal((len(y), 4))).astype(np.float32)
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((4,)),
            tf.keras.layers.Dense(16, activation="relu"),
            tf.keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(tf.keras.optimizers.Adam(0.03), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=20, batch_size=32, verbose=0)
    assert np.mean(np.argmax(model.predict(X, verbose=0), axis=1) == y) > 0.97
    assert tf.executing_eagerly()
    return X, y, model


def _check_result(res: AlibiResult, X, model, n_classes, lo, hi):
    n = len(X)
    assert isinstance(res, AlibiResult) and len(res) == n
    assert res.found.shape == (n,) and res.found.dtype == bool
    assert res.cf.shape == X.shape
    assert res.cf_proba.shape == (n, n_classes) and res.orig_proba.shape == (n, n_classes)
    for name in ("cf_class", "orig_class", "proto_class"):
        assert getattr(res, name).shape == (n,)
    assert res.time_s.shape == (n,) and np.all(res.time_s > 0)
    assert res.setup_time_s > 0
    assert res.alibi_version == "0.9.6" and res.tf_version.startswith("2.14")
    assert res.n_not_found_logged == n - res.n_found

    np.testing.assert_array_equal(res.orig_class, np.argmax(model.predict(X, verbose=0), axis=1))
    assert np.all(res.proto_class >= 0) and np.all(res.proto_class != res.orig_class)

    f = res.found
    assert np.all(np.isnan(res.cf[~f])) and np.all(res.cf_class[~f] == -1) and np.all(np.isnan(res.cf_proba[~f]))
    if f.any():
        cf = res.cf[f]
        assert np.all(np.isfinite(cf))
        assert np.all(res.cf_class[f] != res.orig_class[f])
        # The caller's eager model agrees with alibi on the counterfactuals' class.
        proba = model.predict(cf, verbose=0)
        np.testing.assert_array_equal(np.argmax(proba, axis=1), res.cf_class[f])
        np.testing.assert_allclose(proba, res.cf_proba[f], atol=1e-4)
        assert np.all(cf >= lo - 1e-5) and np.all(cf <= hi + 1e-5)

    frame = res.to_frame()
    assert list(frame.columns) == [
        "found",
        "orig_class",
        "cf_class",
        "proto_class",
        "orig_proba_max",
        "cf_proba_max",
        "time_s",
    ]
    assert len(frame) == n and frame["found"].sum() == res.n_found


def test_kdtree_prototypes_white_box(blobs_and_model):
    X, _, model = blobs_and_model
    idx = [0, N_PER_CLASS, 2 * N_PER_CLASS, N_PER_CLASS + 50]  # classes 0, 1, 2, 1
    x = X[idx]
    lo, hi = X.min(axis=0, keepdims=True), X.max(axis=0, keepdims=True)  # feature-wise range
    res = run_alibi_cfproto(
        x,
        predict_model=model,
        fit_data=X,
        init_kwargs=dict(
            use_kdtree=True, theta=10.0, beta=0.01, c_init=1.0, c_steps=2, max_iterations=200, feature_range=(lo, hi)
        ),
        timeout=300,
    )
    _check_result(res, x, model, 3, lo, hi)
    assert res.n_found >= 3
    assert np.all(~np.isnan(res.orig_proba))  # alibi predicted on X itself (no Y given)
    # The prototype was taken from the nearest other class; the counterfactual lands in it here.
    np.testing.assert_array_equal(res.cf_class[res.found], res.proto_class[res.found])


def test_black_box_numerical_gradients(blobs_and_model):
    """The black-box path works: the worker calls fit first (alibi's 'cat_vars_ord' quirk)."""
    X, _, model = blobs_and_model
    x = X[[0, 2 * N_PER_CLASS]]
    Y = np.eye(3, dtype=np.float32)[np.argmax(model.predict(x, verbose=0), axis=1)]
    res = run_alibi_cfproto(
        x,
        predict_model=model,
        black_box=True,
        fit_data=X,
        Y=Y,
        init_kwargs=dict(
            use_kdtree=True, theta=10.0, beta=0.01, c_init=1.0, c_steps=1, max_iterations=50, feature_range=(-4.0, 4.0)
        ),
        timeout=300,
    )
    _check_result(res, x, model, 3, -4.0, 4.0)
    assert res.n_found >= 1
    assert np.all(np.isnan(res.orig_proba))  # with Y given, alibi does not predict on X


def test_fit_data_required_for_black_box(blobs_and_model):
    X, _, model = blobs_and_model
    with pytest.raises(ValueError, match="fit_data"):
        run_alibi_cfproto(X[:2], predict_model=model, black_box=True, fit_data=None)
    with pytest.raises(ValueError, match="fit_data"):
        run_alibi_cfproto(X[:2], predict_model=model, init_kwargs={"use_kdtree": True})
    with pytest.raises(ValueError, match="shape"):
        run_alibi_cfproto(X[:2], predict_model=model, fit_data=X, init_kwargs={"shape": (1, 4)})


def test_worker_error_is_reported(blobs_and_model):
    X, _, model = blobs_and_model
    with pytest.raises(RuntimeError, match="bogus_option"):
        run_alibi_cfproto(X[:1], predict_model=model, init_kwargs={"bogus_option": 1}, timeout=300)


def test_kwargs_round_trip():
    arrays = {}
    kw = {
        "feature_range": (np.zeros((1, 4)), 1.0),
        "cat_vars": {0: 3, 2: 4},
        "eps": (1e-3, 1e-3),
        "target_class": [1],
        "k": None,
        "flag": True,
        "x": np.float32(0.5),
    }
    back = _decode(_encode(kw, arrays, "t"), arrays)
    assert back["cat_vars"] == {0: 3, 2: 4} and back["eps"] == (1e-3, 1e-3) and back["x"] == 0.5
    assert back["target_class"] == [1] and back["k"] is None and back["flag"] is True
    np.testing.assert_array_equal(back["feature_range"][0], np.zeros((1, 4)))
    assert back["feature_range"][1] == 1.0 and isinstance(back["feature_range"][1], float)


def test_registered_custom_layer_in_nested_model():
    """A cgp_lib-registered layer inside a nested sub-model reloads in the worker.

    Keras 2.14 writes such layers to HDF5 under their bare class name; the worker maps it.
    Also covers the no-prototype path, where ``fit`` runs on ``X`` as ``fit_data`` is absent.
    """
    models = pytest.importorskip("cgp_lib.repro.models")
    if not hasattr(models, "NearestUpsampling2D"):
        pytest.skip("cgp_lib.repro.models.NearestUpsampling2D not available")
    tf.keras.utils.set_random_seed(1)
    inner = tf.keras.Sequential([tf.keras.Input((3, 3, 1)), models.NearestUpsampling2D(2)], name="inner")
    model = tf.keras.Sequential(
        [tf.keras.Input((3, 3, 1)), inner, tf.keras.layers.Flatten(), tf.keras.layers.Dense(3, activation="softmax")]
    )
    x = np.random.default_rng(1).uniform(0, 1, (1, 3, 3, 1)).astype(np.float32)
    res = run_alibi_cfproto(
        x,
        predict_model=model,
        init_kwargs=dict(c_init=10.0, c_steps=1, max_iterations=20, feature_range=(0.0, 1.0)),
        timeout=300,
    )
    assert res.cf.shape == x.shape and res.proto_class[0] == -1
    assert res.orig_class[0] == int(np.argmax(model(x)))
    if res.found[0]:
        assert res.cf_class[0] == int(np.argmax(model(res.cf)))


def test_categorical_embeddings_and_counterfactuals_match_ours():
    """With cat_vars (one-hot) alibi returns its numbers of the categories (d_abs); ours are the
    same, and a small search finds counterfactuals of the same classes."""
    from cgp_lib import categorical
    from cgp_lib.explainer import CounterfactualProto

    rng = np.random.default_rng(1)
    n = 300
    X_ord = np.stack([rng.integers(0, 3, n), rng.uniform(-1, 1, n), rng.integers(0, 2, n)], axis=1)
    y = ((X_ord[:, 0] == 2) | (X_ord[:, 1] > 0.5)).astype(int)
    X, cat_vars = categorical.ord_to_ohe(X_ord.astype(np.float32), {0: 3, 2: 2})
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((6,)),
            tf.keras.layers.Dense(8, activation="relu"),
            tf.keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(tf.keras.optimizers.Adam(0.03), "sparse_categorical_crossentropy")
    model.fit(X, y, epochs=20, batch_size=32, verbose=0)
    x = X[model.predict(X, verbose=0).argmax(1) == 0][:2]
    lo, hi = -np.ones((1, 3), np.float32), np.ones((1, 3), np.float32)
    init = dict(
        beta=0.01,
        feature_range=(lo, hi),
        cat_vars=cat_vars,
        ohe=True,
        use_kdtree=True,
        theta=10.0,
        max_iterations=50,
        c_init=1.0,
        c_steps=1,
    )
    fit = dict(d_type="abdm-mvdm", w=0.5, update_feature_range=False)
    ref = run_alibi_cfproto(x, predict_model=model, fit_data=X, init_kwargs=init, fit_kwargs=fit)
    assert sorted(ref.d_abs) == [0, 2] and ref.fitted_feature_range is not None
    ours = CounterfactualProto(model, (1, 6), **init).fit(X, **fit)
    for col, values in ours.catmap.embedding.items():
        np.testing.assert_allclose(values, ref.d_abs[col], atol=1e-9)
    res = ours.explain(x)
    # alibi is not bitwise reproducible from run to run (multi-threaded TF1 graph), so the
    # counterfactuals themselves are compared in the cross-check chapter, not here
    np.testing.assert_array_equal(res.found, ref.found)
    np.testing.assert_array_equal(res.cf_class, ref.cf_class)


def test_kept_worker_serves_calls_in_one_process(blobs_and_model):
    """keep_worker(): one graph-mode process runs every call, survives a failed job, and gives the
    answers of a new process (each job starts from a fresh Keras graph and session)."""
    from cgp_lib.reference import runner as alibi_reference

    X, _, model = blobs_and_model
    x = X[[0, N_PER_CLASS, 2 * N_PER_CLASS]]
    kwargs = dict(
        predict_model=model,
        fit_data=X,
        timeout=300,
        init_kwargs=dict(
            use_kdtree=True, theta=10.0, beta=0.01, c_init=1.0, c_steps=1, max_iterations=150, feature_range=(-4.0, 4.0)
        ),
    )
    was_kept = alibi_reference._keep
    alibi_reference.keep_worker(False)
    fresh = run_alibi_cfproto(x, **kwargs)
    assert alibi_reference._kept is None  # a one-off process
    alibi_reference.keep_worker()
    try:
        first = run_alibi_cfproto(x, **kwargs)
        pid = alibi_reference._kept.proc.pid
        with pytest.raises(RuntimeError, match="bogus_option"):
            run_alibi_cfproto(X[:1], predict_model=model, init_kwargs={"bogus_option": 1}, timeout=300)
        second = run_alibi_cfproto(x, **kwargs)
        assert alibi_reference._kept.proc.pid == pid and alibi_reference._kept.alive()
        alibi_reference.keep_worker(False)
        assert alibi_reference._kept is None
    finally:
        alibi_reference.keep_worker(was_kept)
    for res in (first, second):
        _check_result(res, x, model, 3, -4.0, 4.0)
        for name in ("found", "orig_class", "cf_class", "proto_class"):
            np.testing.assert_array_equal(getattr(res, name), getattr(fresh, name))


def test_cache_reads_back_the_same_result_and_misses_on_any_changed_input(blobs_and_model, tmp_path, monkeypatch):
    """cache_dir= / $CGP_ALIBI_CACHE_DIR: a repeated call reads the stored outputs without running
    alibi; changed weights or arguments are new entries."""
    from cgp_lib.reference import runner as alibi_reference

    X, _, model = blobs_and_model
    x = X[[0, N_PER_CLASS]]
    init = dict(use_kdtree=True, theta=10.0, beta=0.01, c_init=1.0, c_steps=1, max_iterations=50)
    kwargs = dict(predict_model=model, fit_data=X, init_kwargs=init, timeout=300)
    monkeypatch.delenv(alibi_reference.CACHE_DIR_ENV, raising=False)
    first = run_alibi_cfproto(x, cache_dir=tmp_path, **kwargs)
    assert not first.cached and len(list(tmp_path.iterdir())) == 1

    def no_worker(*args, **kw):
        raise AssertionError("the worker ran although the result was cached")

    with monkeypatch.context() as patch:
        patch.setattr(alibi_reference, "_run_worker", no_worker)
        patch.setenv(alibi_reference.CACHE_DIR_ENV, str(tmp_path))
        again = run_alibi_cfproto(x, **kwargs)  # the folder from the environment variable
    assert again.cached
    for name in ("found", "cf", "cf_class", "proto_class", "time_s"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    assert again.setup_time_s == first.setup_time_s

    other_model = tf.keras.models.clone_model(model)
    other_model.set_weights([w + 1e-3 for w in model.get_weights()])
    changed = [
        run_alibi_cfproto(x, cache_dir=tmp_path, **{**kwargs, "predict_model": other_model}),
        run_alibi_cfproto(x, cache_dir=tmp_path, **{**kwargs, "init_kwargs": {**init, "theta": 5.0}}),
        run_alibi_cfproto(X[[0, 2 * N_PER_CLASS]], cache_dir=tmp_path, **kwargs),
    ]
    assert not any(res.cached for res in changed)
    assert len(list(tmp_path.iterdir())) == 4
    # without a folder (argument or variable) nothing is cached
    assert not run_alibi_cfproto(x, **kwargs).cached
