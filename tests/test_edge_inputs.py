"""Edge and bad inputs of the public API: what a probe of about 165 of them found (issue 13).

Each test reproduces one defect the probe reported, on the blob classifier of conftest.py:
models whose output is not float32, a counterfactual farther than alibi's 1e10 sentinel,
black boxes that misbehave on the perturbed points, scalars where lists are expected,
settings that can only find nothing, Keras models that do not fit ``shape``, a corrupted
cache entry, and messages that named the wrong thing.
"""

import logging

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib import explainer as explainer_module
from cgp_lib.explainer import (
    CounterfactualProto,
    empty_record,
    merge_records,
    numpy_record,
    track_best,
)
from cgp_lib.repro import batch_check, experiments
from cgp_lib.repro.experiments import SeedModels, loss_kwargs

WELL_CONDITIONED = dict(use_kdtree=True, theta=20.0, c_init=1.0, c_steps=2, max_iterations=100, learning_rate_init=0.02)


def explainer_on(blobs, model=None, **kwargs):
    kwargs.setdefault("feature_range", blobs.feature_range)
    explainer = CounterfactualProto(blobs.model if model is None else model, (1, 4), **kwargs)
    return explainer.fit(blobs.X) if explainer.prototypes is not None else explainer


# ----------------------------------------------------------------------------- model dtypes
def _blob_model_as(blobs, dtype):
    """The blob classifier rebuilt with layers of ``dtype`` (or a mixed-precision policy name)."""
    source = blobs.model
    layers = [layer for layer in source.layers if isinstance(layer, tf.keras.layers.Dense)]
    twin = tf.keras.Sequential(
        [tf.keras.Input((4,))]
        + [tf.keras.layers.Dense(layer.units, activation=layer.activation, dtype=dtype) for layer in layers]
    )
    for mine, theirs in zip([lay for lay in twin.layers if isinstance(lay, tf.keras.layers.Dense)], layers):
        mine.set_weights(theirs.get_weights())
    return twin


@pytest.mark.parametrize("dtype", ["float64", "mixed_float16"])
def test_models_whose_output_is_not_float32_are_explained(blobs, dtype):
    model = _blob_model_as(blobs, dtype)
    assert model.output.dtype != tf.float32  # the case that crashed inside TensorFlow
    ours = explainer_on(blobs, model, **WELL_CONDITIONED).explain(blobs.X_explain)
    reference = explainer_on(blobs, **WELL_CONDITIONED).explain(blobs.X_explain)
    assert ours.found.all()
    np.testing.assert_array_equal(ours.orig_class, reference.orig_class)
    if dtype == "float64":  # same network, float32 search: the same counterfactuals up to rounding
        np.testing.assert_array_equal(ours.cf_class, reference.cf_class)
        np.testing.assert_allclose(ours.distance, reference.distance, rtol=1e-3)


def test_autoencoder_and_encoder_in_float64_are_accepted(blobs):
    enc = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2, dtype="float64")])
    dec = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(4, dtype="float64")])
    ae = tf.keras.Sequential([enc, dec])
    explainer = explainer_on(
        blobs, ae_model=ae, enc_model=enc, gamma=1.0, theta=20.0, c_init=1.0, c_steps=2, max_iterations=50
    )
    result = explainer.explain(blobs.X_explain, record_losses=True)
    assert result.found.any()
    assert np.isfinite(result.loss_history["ae"]).all() and (result.loss_history["ae"] > 0).any()


# ----------------------------------------------------------------------------- no 1e10 sentinel
def test_a_counterfactual_farther_than_1e10_is_found():
    """One feature; the class changes at x = 1e5, so any counterfactual of x0 = 0 has
    β·L1 + L2 > 1e10, alibi's (and formerly our) "no counterfactual yet" value."""
    model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(2, activation="softmax")])
    model.layers[-1].set_weights([np.array([[-1e-5, 1e-5]], np.float32), np.array([1.0, -1.0], np.float32)])
    explainer = CounterfactualProto(
        model,
        (1, 1),
        feature_range=(-1e7, 1e7),
        c_init=1e12,
        c_steps=1,
        max_iterations=50,
        learning_rate_init=1.0,
        clip=(-1e9, 1e9),
    )
    result = explainer.explain(np.zeros((1, 1), np.float32))
    assert result.steps_to_first[0] >= 0  # the search met a counterfactual...
    assert result.found[0] and result.steps_to_best[0] >= 0  # ...and reports it
    assert result.distance[0] > 1e10 and np.isfinite(result.cf).all() and result.cf_class[0] == 1


def test_track_best_and_merge_records_take_any_first_distance():
    x0 = tf.zeros((2, 3))
    best = empty_record(x0, 2)
    x = tf.ones((2, 3))
    proba = tf.constant([[0.1, 0.9], [0.2, 0.8]])
    valid = tf.constant([True, False])
    after = track_best(best, x, proba, tf.constant([1e12, 1.0]), valid, tf.constant(7))
    assert after.step.numpy().tolist() == [7, -1] and after.first_step.numpy().tolist() == [7, -1]
    assert after.distance.numpy()[0] == np.float32(1e12)
    # an infinite distance (overflow) is still a counterfactual met
    inf = track_best(best, x, proba, tf.constant([np.inf, np.inf]), valid, tf.constant(3))
    assert inf.step.numpy().tolist() == [3, -1]
    whole = {k: v.copy() for k, v in numpy_record(empty_record(tf.zeros((3, 3)), 2)).items()}
    replaced = merge_records(whole, numpy_record(after), np.array([2, 0]))
    assert replaced.tolist() == [2] and whole["step"].tolist() == [-1, -1, 7]


# ----------------------------------------------------------------------------- black boxes
def test_black_box_returning_too_few_rows_for_the_perturbed_points_names_predict(blobs):
    proba = blobs.black_box()
    capped = lambda x: proba(x[:64])  # noqa: E731  (a service that answers 64 rows at most)
    explainer = explainer_on(blobs, capped, c_init=1.0, c_steps=1, max_iterations=5)
    explainer.explain(blobs.X_explain[:2])  # 2 + 2 × 9 perturbed rows per call: fine
    with pytest.raises(ValueError, match=r"^predict: .*got shape \(64, 3\) for \d+ rows"):
        explainer.explain(blobs.X[:10])  # 10 + 10 × 9 rows


def test_black_box_that_changes_its_class_count_names_predict(blobs):
    proba = blobs.black_box()

    def drifting(calls):
        """3 classes for the constructor's and explain's first calls, then 4 (a column of zeros)."""

        def predict(x):
            calls.append(len(x))
            p = proba(x)
            return p if len(calls) <= 2 else np.concatenate([p, np.zeros((len(x), 1), p.dtype)], axis=1)

        return predict

    # with L_pred: the call that also predicts the perturbed points; without: the compiled search's call
    for c_init in (1.0, 0.0):
        explainer = explainer_on(blobs, drifting([]), c_init=c_init, c_steps=1, max_iterations=5)
        with pytest.raises(ValueError, match="^predict: returned 4 classes where it returned 3 before"):
            explainer.explain(blobs.X_explain[:2])


# ----------------------------------------------------------------------------- settings that find nothing
BAD_SETTINGS = [
    ("kappa 1 with probabilities", dict(kappa=1.0), ValueError, "^kappa: .*impossible"),
    ("clip NaN", dict(clip=(np.nan, 1.0)), ValueError, "^clip: .*finite"),
    ("clip inf", dict(clip=(-np.inf, np.inf)), ValueError, "^clip: .*finite"),
    ("clip a scalar", dict(clip=5.0), TypeError, "^clip: expected a pair"),
    ("clip strings", dict(clip=("a", "b")), ValueError, "^clip"),
    ("feature_range strings", dict(feature_range=("a", "b")), ValueError, "^feature_range: expected .*numbers"),
    ("immutable a string", dict(immutable="age"), TypeError, "^immutable"),
]


@pytest.mark.parametrize("name, kwargs, error, match", BAD_SETTINGS, ids=[b[0] for b in BAD_SETTINGS])
def test_bad_settings_name_their_argument(blobs, name, kwargs, error, match):
    kwargs = {"feature_range": (-1e10, 1e10), **kwargs}
    with pytest.raises(error, match=match):
        CounterfactualProto(blobs.model, (1, 4), **kwargs)


def test_black_box_that_would_never_get_a_gradient_is_rejected(blobs):
    with pytest.raises(ValueError, match="^update_num_grad: .*no gradient"):
        CounterfactualProto(blobs.black_box(), (1, 4), update_num_grad=10, max_iterations=10)
    # without L_pred (c = 0) no numerical gradient is needed; a white box never needs one
    CounterfactualProto(blobs.black_box(), (1, 4), update_num_grad=10, max_iterations=10, c_init=0.0)
    CounterfactualProto(blobs.model, (1, 4), update_num_grad=10, max_iterations=10)


def test_k_without_prototypes_is_rejected(blobs):
    explainer = explainer_on(blobs, c_init=1.0, c_steps=1, max_iterations=5)
    with pytest.raises(ValueError, match="^k: .*has none"):
        explainer.explain(blobs.X_explain[:1], k=3)
    with pytest.raises(ValueError, match="^k: "):
        explainer.explain(blobs.X_explain[:1], k_type="point")


# ----------------------------------------------------------------------------- scalars and mixed lists
def test_a_scalar_target_class_is_one_class_for_every_row(blobs):
    explainer = explainer_on(blobs, **WELL_CONDITIONED)
    x = blobs.X_explain[:2]  # class 0
    scalar, listed = explainer.explain(x, target_class=2), explainer.explain(x, target_class=[2])
    np.testing.assert_array_equal(scalar.cf, listed.cf)
    assert (scalar.cf_class[scalar.found] == 2).all() and scalar.found.any()
    with pytest.raises(ValueError, match="^target_class: mixes classes and lists"):
        explainer.explain(x, target_class=[1, [2]])


def test_a_scalar_immutable_is_one_column(blobs):
    kwargs = dict(c_init=1.0, c_steps=1, max_iterations=30)
    one = explainer_on(blobs, immutable=3, **kwargs).explain(blobs.X_explain)
    listed = explainer_on(blobs, immutable=[3], **kwargs).explain(blobs.X_explain)
    np.testing.assert_array_equal(one.cf, listed.cf)
    found = one.found
    np.testing.assert_array_equal(one.cf[found, 3], blobs.X_explain[found, 3])


def test_float_labels_are_named_as_the_problem(blobs):
    explainer = explainer_on(blobs, c_init=1.0, c_steps=1, max_iterations=2)
    with pytest.raises(TypeError, match="^Y: labels must be integers, got dtype float64"):
        explainer.explain(blobs.X_explain[:2], Y=np.array([0.0, 1.0]))


# ----------------------------------------------------------------------------- Keras models that do not fit
def test_keras_input_that_does_not_match_shape_names_shape(blobs):
    with pytest.raises(ValueError, match=r"^shape: the instances have shape \(3,\) but the model's input is \(4,\)"):
        CounterfactualProto(blobs.model, (1, 3))


def test_keras_model_with_two_outputs_names_predict():
    inputs = tf.keras.Input((4,))
    hidden = tf.keras.layers.Dense(3, activation="softmax")(inputs)
    two = tf.keras.Model(inputs, [hidden, hidden])
    with pytest.raises(ValueError, match="^predict: the Keras model has 2 outputs"):
        CounterfactualProto(two, (1, 4))


# ----------------------------------------------------------------------------- retracing
def test_several_explainers_print_no_retracing_warning(blobs):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    handler = Keep()
    tf.get_logger().addHandler(handler)
    try:
        for _ in range(7):
            explainer_on(blobs, c_init=1.0, c_steps=1, max_iterations=3).explain(blobs.X_explain[:1])
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [m for m in records if "retracing" in m]


# ----------------------------------------------------------------------------- experiments.run
def _models(blobs):
    return lambda seed: SeedModels(classifier=blobs.model, class_aes={}, ae_all=None)


BAD_RUNS = [
    ("empty X", dict(X=np.zeros((0, 4), np.float32)), ValueError, "^X: has no rows"),
    ("1-D X", dict(X=np.zeros(4, np.float32)), ValueError, r"^X: expected instances"),
    ("no seeds", dict(seeds=[]), ValueError, "^seeds: expected at least one"),
    ("no configs", dict(configs={}), ValueError, "^configs: expected at least one"),
    ("chunk_size float", dict(chunk_size=2.5), ValueError, "^chunk_size: expected None or a positive integer"),
    ("chunk_size 0", dict(chunk_size=0), ValueError, "^chunk_size"),
]


@pytest.mark.parametrize("name, kwargs, error, match", BAD_RUNS, ids=[b[0] for b in BAD_RUNS])
def test_run_rejects_edge_inputs_naming_them(blobs, tmp_path, name, kwargs, error, match):
    arguments = dict(X=blobs.X_explain[:2], configs={"A": loss_kwargs("A")}, seeds=[0])
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        experiments.run(
            arguments.pop("X"),
            arguments.pop("configs"),
            _models(blobs),
            arguments.pop("seeds"),
            blobs.X,
            dict(max_iterations=5, c_steps=1, feature_range=blobs.feature_range),
            cache_dir=tmp_path,
            **arguments,
        )


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign npz", "empty"])
def test_a_corrupted_cache_chunk_is_computed_again_with_a_warning(blobs, tmp_path, damage):
    def run():
        return experiments.run(
            blobs.X_explain[:3],
            {"A": loss_kwargs("A")},
            _models_with_metrics(blobs),
            [0],
            blobs.X,
            dict(max_iterations=20, c_steps=1, feature_range=blobs.feature_range),
            cache_dir=tmp_path,
        )

    first = run()
    (path,) = tmp_path.glob("*.npz")
    content = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(content[: len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "foreign npz":
        np.savez(path.with_suffix(""), something=np.zeros(3))  # np.savez appends .npz
    else:
        path.write_bytes(b"")
    with pytest.warns(RuntimeWarning, match=f"cached chunk {path} cannot be read"):
        again = run()
    assert again.computed_chunks == 1 and again.cached_chunks == 0
    timings = ["time_s", "time_s_first"]
    assert again.frame.drop(columns=timings).equals(first.frame.drop(columns=timings))
    third = run()  # the chunk was written again, whole
    assert third.cached_chunks == 1 and third.computed_chunks == 0


def _models_with_metrics(blobs):
    identity = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Lambda(lambda x: x)])
    return lambda seed: SeedModels(
        classifier=blobs.model, class_aes={c: identity for c in range(3)}, ae_all=identity, key=f"blobs-{seed}"
    )


# ----------------------------------------------------------------------------- record_path memory
@pytest.mark.parametrize("stop", [None, "first"])
def test_record_path_in_windows_equals_one_loop(blobs, monkeypatch, stop):
    """The path is recorded window by window (to hold it once in memory): same path, same results."""
    explainer = explainer_on(blobs, **WELL_CONDITIONED)
    whole = explainer.explain(blobs.X_explain, stop=stop, record_path=True, record_losses=True)
    monkeypatch.setattr(explainer_module, "PATH_WINDOW_BYTES", 7 * len(blobs.X_explain) * 4 * 4)  # 7 steps
    windowed = explainer.explain(blobs.X_explain, stop=stop, record_path=True, record_losses=True)
    np.testing.assert_array_equal(windowed.path, whole.path)
    for term in whole.loss_history:
        np.testing.assert_array_equal(windowed.loss_history[term], whole.loss_history[term])
    for name in ("found", "cf", "steps_to_first", "steps_to_best", "distance", "c"):
        np.testing.assert_array_equal(getattr(windowed, name), getattr(whole, name))
    if stop == "first":  # rows stopped at different steps: NaN after the last step that ran
        assert np.isnan(whole.path).any()


# ----------------------------------------------------------------------------- batch against alone
def test_alone_vs_batch_measures_the_batch_size_effect(blobs):
    chaotic = dict(use_kdtree=True, theta=5.0, c_init=10.0, c_steps=3, max_iterations=100, learning_rate_init=0.05)
    X = blobs.X[::12]
    plain = explainer_on(blobs, **chaotic)
    frame = batch_check.alone_vs_batch(plain, X, plain.explain(X))
    counts = batch_check.agreement_counts(frame)
    assert counts["rows checked"] == len(X) and counts["same found"] == len(X)
    assert counts["same step"] < len(X)  # this setting drifts without padding (see test_explainer)
    padded = explainer_on(blobs, block_rows=16, **chaotic)
    exact = batch_check.agreement_counts(batch_check.alone_vs_batch(padded, X, padded.explain(X), rows=[0, 3, 7]))
    assert exact["same step"] == exact["rows checked"] == 3
    assert exact["counterfactuals equal (within 1e-05)"] == exact["both found"]
    with pytest.raises(ValueError, match="^rows"):
        batch_check.alone_vs_batch(padded, X, padded.explain(X), rows=[len(X)])


@pytest.mark.parametrize("bad", [0, -1, 2.0, True, "3"])
def test_check_positive_integer_names_the_argument(bad):
    from cgp_lib.validation import check_positive_integer

    with pytest.raises(ValueError, match="^epochs: expected a positive integer, got"):
        check_positive_integer(bad, "epochs")
    assert (
        check_positive_integer(np.int64(3), "epochs") == 3 and check_positive_integer(None, "k", none_ok=True) is None
    )
    with pytest.raises(ValueError, match="^k: expected None or a positive integer"):
        check_positive_integer(bad, "k", none_ok=True)
