"""The experiment runner: loss definitions (eq. 15), tidy rows, the on-disk cache, summaries.

Runs on the blob classifier of conftest.py with tiny searches (50 steps, 2 c steps), offline.
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cgp_lib import metrics
from cgp_lib.explainer import CounterfactualProto
from cgp_lib.repro import experiments
from cgp_lib.repro.experiments import COLUMNS, SeedModels, loss_kwargs

ROWS = [0, 5, 67, 139]  # one instance of each blob class (and row 0, which loss A does not flip)
COMMON = dict(max_iterations=50, c_steps=2, learning_rate_init=0.02)
CONFIGS = {"A": loss_kwargs("A"), "C": loss_kwargs("C", theta=20.0)}


def tiny_autoencoder(seed):
    """An untrained, seeded 4-2-4 dense autoencoder: enough for IM1/IM2 to be defined."""
    init = lambda s: tf.keras.initializers.GlorotUniform(seed=seed * 10 + s)  # noqa: E731
    return tf.keras.Sequential(
        [
            tf.keras.Input((4,)),
            tf.keras.layers.Dense(2, activation="tanh", kernel_initializer=init(1)),
            tf.keras.layers.Dense(4, kernel_initializer=init(2)),
        ]
    )


def models_for(blobs):
    def factory(seed):
        return SeedModels(
            classifier=blobs.model,
            class_aes={c: tiny_autoencoder(seed + c) for c in range(3)},
            ae_all=tiny_autoencoder(seed + 7),
            ae=tiny_autoencoder(seed + 9),
        )

    return factory


class CountingExplain:
    """Counts calls of CounterfactualProto.explain (and rows explained) while patched in."""

    def __init__(self, monkeypatch):
        self.calls = 0
        original = CounterfactualProto.explain
        counter = self

        def explain(self, X, *args, **kwargs):
            counter.calls += 1
            return original(self, X, *args, **kwargs)

        monkeypatch.setattr(CounterfactualProto, "explain", explain)


def run(blobs, cache_dir, configs=CONFIGS, seeds=(0, 1), common=COMMON, **kwargs):
    return experiments.run(
        blobs.X[ROWS],
        configs,
        models_for(blobs),
        seeds,
        blobs.X,
        dict(common, feature_range=blobs.feature_range),
        cache_dir=cache_dir,
        instance_ids=[100 + r for r in ROWS],
        **kwargs,
    )


@pytest.fixture(scope="module")
def first_run(blobs, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("experiments")
    return cache_dir, run(blobs, cache_dir)


# ----------------------------------------------------------------------------- loss definitions
def test_loss_kwargs_follow_eq_15():
    assert loss_kwargs("A", gamma=5, theta=7, c=2) == dict(c_init=2.0, gamma=0.0, theta=0.0)
    assert loss_kwargs("B", gamma=5, theta=7, c=2) == dict(c_init=2.0, gamma=5.0, theta=0.0)
    assert loss_kwargs("C", gamma=5, theta=7, c=2) == dict(c_init=2.0, gamma=0.0, theta=7.0)
    assert loss_kwargs("D", gamma=5, theta=7, c=2) == dict(c_init=2.0, gamma=5.0, theta=7.0)
    assert loss_kwargs("E", gamma=5, theta=7, c=2) == dict(c_init=0.0, gamma=0.0, theta=7.0)
    assert loss_kwargs("F", gamma=5, theta=7, c=2) == dict(c_init=0.0, gamma=5.0, theta=7.0)


def test_loss_kwargs_follow_eq_16_for_breast_cancer():
    bc = experiments.BREAST_CANCER_LOSSES
    assert sorted(bc) == ["A", "B", "C"]
    assert loss_kwargs("A", gamma=5, theta=7, c=2, losses=bc) == dict(c_init=2.0, gamma=0.0, theta=0.0)
    assert loss_kwargs("B", gamma=5, theta=7, c=2, losses=bc) == dict(c_init=2.0, gamma=0.0, theta=7.0)
    assert loss_kwargs("C", gamma=5, theta=7, c=2, losses=bc) == dict(c_init=0.0, gamma=0.0, theta=7.0)
    with pytest.raises(ValueError, match="loss"):
        loss_kwargs("D", theta=7, losses=bc)
    with pytest.raises(ValueError, match="theta"):
        loss_kwargs("B", losses=bc)


@pytest.mark.parametrize(
    "loss, kwargs, word", [("G", {}, "loss"), ("B", dict(gamma=0), "gamma"), ("C", {}, "theta"), ("A", dict(c=0), "c")]
)
def test_loss_kwargs_reject_missing_terms(loss, kwargs, word):
    with pytest.raises(ValueError, match=word):
        loss_kwargs(loss, **kwargs)


def test_build_explainer_passes_models_only_for_terms_used(blobs):
    models = models_for(blobs)(0)
    common = dict(COMMON, feature_range=blobs.feature_range)
    a = experiments.build_explainer(models, loss_kwargs("A"), (1, 4), blobs.X, **common)
    assert a.ae_model is None and a.prototypes is None and a.c_init == 1.0
    b = experiments.build_explainer(models, loss_kwargs("B", gamma=3.0), (1, 4), blobs.X, **common)
    assert b.ae_model is models.ae and b.prototypes is None and b.gamma == 3.0
    e = experiments.build_explainer(models, loss_kwargs("E", theta=4.0), (1, 4), blobs.X, **common)
    assert e.ae_model is None and e.prototypes is not None and e.fitted and e.c_init == 0.0
    with pytest.raises(ValueError, match="encoder"):
        experiments.build_explainer(
            models, loss_kwargs("C", theta=4.0), (1, 4), blobs.X, prototypes="encoder", **common
        )


def test_build_explainer_kmeans_strategies_take_n_clusters_from_the_config(blobs):
    from cgp_lib.prototypes import KMeansPrototypes

    models = models_for(blobs)(0)
    common = dict(COMMON, feature_range=blobs.feature_range)
    config = dict(loss_kwargs("E", theta=4.0), n_clusters=2)
    km = experiments.build_explainer(models, config, (1, 4), blobs.X, prototypes="kmeans-features", **common)
    assert isinstance(km.prototypes, KMeansPrototypes) and km.prototypes.enc_model is None
    assert [len(c) for c in km.prototypes.centroids_] == [2, 2, 2]
    result = km.explain(blobs.X_explain, stop="first")
    assert result.found.any()
    centroids = np.concatenate(km.prototypes.centroids_)
    assert all(np.isclose(centroids, p, atol=1e-6).all(axis=1).any() for p in result.prototype)
    with pytest.raises(ValueError, match="encoder"):  # the blob models have no encoder
        experiments.build_explainer(models, config, (1, 4), blobs.X, prototypes="kmeans", **common)
    with pytest.raises(ValueError, match="kmeans-features"):
        experiments.build_explainer(models, config, (1, 4), blobs.X, prototypes="centroids", **common)


# ----------------------------------------------------------------------------- the runner
def test_run_gives_one_row_per_instance_config_and_seed(first_run, blobs):
    _, result = first_run
    frame = result.frame
    assert list(frame.columns) == COLUMNS
    assert len(frame) == len(ROWS) * len(CONFIGS) * 2 and result.cf.shape == (len(frame), 4)
    assert frame.groupby(["config", "seed", "instance"]).size().eq(1).all()
    assert sorted(frame["instance"].unique()) == [100 + r for r in ROWS]
    assert result.computed_chunks == 4 and result.cached_chunks == 0
    # the search did something: counterfactuals found, of another class, at a positive step
    found = frame["found"].to_numpy()
    assert found.sum() >= 6 and not found.all()
    assert (frame.loc[found, "cf_class"] != frame.loc[found, "orig_class"]).all()
    assert (frame.loc[found, "steps_to_first"] >= 1).all() and (frame.loc[found, "time_s"] > 0).all()
    assert np.isfinite(result.cf[found]).all() and np.isnan(result.cf[~found]).all()
    assert frame.loc[found, ["im1", "im2"]].notna().all().all()
    assert frame.loc[~found, ["im1", "im2"]].isna().all().all()
    # prototypes are recorded for C only
    assert (frame.loc[frame["config"] == "A", "proto_class"] == -1).all()
    assert (frame.loc[frame["config"] == "C", "proto_class"] >= 0).all()


def test_run_rows_match_the_explainer_and_metrics(first_run, blobs):
    """Rows of one (config, seed) equal a direct one-instance-at-a-time search and direct IM1/IM2."""
    _, result = first_run
    models = models_for(blobs)(1)
    explainer = experiments.build_explainer(
        models, CONFIGS["C"], (1, 4), blobs.X, **dict(COMMON, feature_range=blobs.feature_range)
    )
    direct = [explainer.explain(blobs.X[[r]], stop="satisfactory") for r in ROWS]
    rows = result.frame[(result.frame["config"] == "C") & (result.frame["seed"] == 1)]
    np.testing.assert_array_equal(rows["steps_to_best"], [d.steps_to_best[0] for d in direct])
    np.testing.assert_array_equal(rows["steps_to_first"], [d.steps_to_first[0] for d in direct])
    cf = result.counterfactuals("C", 1)
    np.testing.assert_allclose(cf, np.concatenate([d.cf for d in direct]), atol=1e-6)
    np.testing.assert_allclose(
        result.counterfactuals("C", 1, first=True), np.concatenate([d.first_cf for d in direct]), atol=1e-6
    )
    found = rows["found"].to_numpy()
    np.testing.assert_allclose(
        rows["im1"].to_numpy()[found],
        metrics.im1(
            cf[found], rows["cf_class"].to_numpy()[found], rows["orig_class"].to_numpy()[found], models.class_aes
        ),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        rows["im2"].to_numpy()[found],
        metrics.im2(cf[found], rows["cf_class"].to_numpy()[found], models.class_aes, models.ae_all),
        rtol=1e-6,
    )


def test_cache_returns_identical_results_without_explaining(first_run, blobs, monkeypatch):
    cache_dir, result = first_run
    counter = CountingExplain(monkeypatch)
    again = run(blobs, cache_dir)
    assert counter.calls == 0 and again.cached_chunks == 4 and again.computed_chunks == 0
    pd.testing.assert_frame_equal(again.frame, result.frame)
    np.testing.assert_array_equal(again.cf, result.cf)
    # the same settings under another name come from the cache, labelled with the new name
    renamed = run(blobs, cache_dir, configs={"C, θ=20": CONFIGS["C"]}, seeds=(1,))
    assert counter.calls == 0 and renamed.cached_chunks == 1
    assert (renamed.frame["config"] == "C, θ=20").all()
    np.testing.assert_array_equal(renamed.cf, result.counterfactuals("C", 1))


def test_cache_key_changes_with_settings_and_resumes_missing_chunks(first_run, blobs, monkeypatch, tmp_path):
    cache_dir, result = first_run
    counter = CountingExplain(monkeypatch)
    # another max_iterations is another experiment: one (config, seed) recomputed, 1 warm-up + 3 rows
    run(blobs, cache_dir, configs={"A": CONFIGS["A"]}, seeds=(0,), common=dict(COMMON, max_iterations=40))
    assert counter.calls == 1 + len(ROWS)
    # per-instance chunks: delete one and only that instance is explained again
    counter.calls = 0
    first = run(blobs, tmp_path, configs={"C": CONFIGS["C"]}, seeds=(0,), chunk_size=1)
    files = sorted(tmp_path.glob("*.npz"))
    assert first.computed_chunks == len(ROWS) == len(files)
    files[0].unlink()
    counter.calls = 0
    resumed = run(blobs, tmp_path, configs={"C": CONFIGS["C"]}, seeds=(0,), chunk_size=1)
    assert counter.calls == 2 and resumed.computed_chunks == 1 and resumed.cached_chunks == len(ROWS) - 1
    timings = ["time_s", "time_s_first"]
    pd.testing.assert_frame_equal(resumed.frame.drop(columns=timings), first.frame.drop(columns=timings))
    # and the per-instance chunks agree with the all-instances chunk of the first run
    whole = result.frame[(result.frame["config"] == "C") & (result.frame["seed"] == 0)].reset_index(drop=True)
    pd.testing.assert_frame_equal(resumed.frame.drop(columns=timings), whole.drop(columns=timings))


def test_run_without_metric_autoencoders_finds_the_same_counterfactuals_and_no_im(first_run, blobs, tmp_path):
    """Appendix E's runs leave out the IM1/IM2 autoencoders: same search, NaN IM1/IM2, own cache key."""
    _, result = first_run
    with_metric = models_for(blobs)

    def without_metric(seed):
        m = with_metric(seed)
        return SeedModels(classifier=m.classifier, ae=m.ae)

    assert not without_metric(0).has_metric and with_metric(0).has_metric
    assert without_metric(0).digest() != with_metric(0).digest()
    bare = experiments.run(
        blobs.X[ROWS],
        CONFIGS,
        without_metric,
        (0, 1),
        blobs.X,
        dict(COMMON, feature_range=blobs.feature_range),
        cache_dir=tmp_path,
        instance_ids=[100 + r for r in ROWS],
    )
    assert bare.computed_chunks == 4 and bare.cached_chunks == 0  # not the first run's chunks
    assert bare.frame[["im1", "im2", "im1_first", "im2_first"]].isna().all().all()
    assert bare.frame["found"].sum() >= 6
    same = [c for c in COLUMNS if not c.startswith(("im1", "im2", "time_s"))]
    pd.testing.assert_frame_equal(bare.frame[same], result.frame[same])
    np.testing.assert_array_equal(bare.cf, result.cf)


@pytest.mark.parametrize("given", ["class_aes", "ae_all"])
def test_seed_models_need_both_metric_autoencoders_or_neither(blobs, given):
    ae = tiny_autoencoder(0)
    kwargs = {"class_aes": {c: ae for c in range(3)}} if given == "class_aes" else {"ae_all": ae}
    missing = "ae_all" if given == "class_aes" else "class_aes"
    with pytest.raises(ValueError, match=f"^{missing}: IM1/IM2 need both"):
        SeedModels(classifier=blobs.model, **kwargs)


def test_run_reports_the_satisfactory_and_the_first_counterfactual(first_run, blobs, tmp_path):
    """A satisfactory run's "_first" columns are those of a stop="first" run; the stop rule is in the key."""
    _, result = first_run
    frame = result.frame
    found = frame["found"].to_numpy()
    # the satisfactory counterfactual comes at or after the first one, in the same c step, and is
    # at least as close (it is the c step's optimum)
    assert (frame.loc[found, "steps_to_best"] >= frame.loc[found, "steps_to_first"]).all()
    same_c_step = (frame["steps_to_best"] - 1) // COMMON["max_iterations"] == (frame["steps_to_first"] - 1) // COMMON[
        "max_iterations"
    ]
    assert same_c_step[found].all()
    assert (frame.loc[found, "distance"] <= frame.loc[found, "distance_first"] + 1e-6).all()
    assert (frame.loc[found, "steps_to_best"] > frame.loc[found, "steps_to_first"]).any()
    # one at a time, the times are the explainer's times to each counterfactual
    assert (frame.loc[found, "time_s"] >= frame.loc[found, "time_s_first"]).all()
    assert (frame.loc[found, "time_s_first"] > 0).all()
    first = run(blobs, tmp_path, stop="first")
    assert first.computed_chunks == len(CONFIGS) * 2  # its own cache entries
    ff = first.frame
    for col in ("found", "steps_to_first", "orig_class"):
        np.testing.assert_array_equal(ff[col], frame[col])
    np.testing.assert_array_equal(ff["cf_class"], frame["cf_class_first"])
    np.testing.assert_array_equal(ff["steps_to_best"], ff["steps_to_first"])
    np.testing.assert_allclose(first.cf, result.cf_first, atol=1e-6)
    np.testing.assert_allclose(ff["im1"], frame["im1_first"], rtol=1e-6)
    np.testing.assert_allclose(ff["distance"], frame["distance_first"], rtol=1e-6)
    with pytest.raises(ValueError, match="stop"):
        run(blobs, tmp_path, stop=None)


def test_summarize_uses_found_rows_and_mean_ci(first_run):
    _, result = first_run
    table = experiments.summarize(result.frame)
    assert list(table["config"]) == list(CONFIGS)
    for _, row in table.iterrows():
        rows = result.frame[result.frame["config"] == row["config"]]
        assert row["n"] == len(rows) and row["found"] == rows["found"].sum()
        mean, low, high = metrics.mean_ci(rows.loc[rows["found"], "steps_to_best"].to_numpy(float))
        assert (row["steps_to_best"], row["steps_to_best_low"], row["steps_to_best_high"]) == pytest.approx(
            (mean, low, high), nan_ok=True
        )


def test_batched_throughput(blobs):
    models = models_for(blobs)(0)
    explainer = experiments.build_explainer(
        models, CONFIGS["C"], (1, 4), blobs.X, **dict(COMMON, feature_range=blobs.feature_range)
    )
    out = experiments.batched_throughput(explainer, blobs.X[ROWS], repeats=2)
    assert out["instances"] == len(ROWS) and out["found"] == len(ROWS)
    assert out["instances_per_s"] == pytest.approx(len(ROWS) / out["seconds"])
    with pytest.raises(ValueError, match="repeats"):
        experiments.batched_throughput(explainer, blobs.X[ROWS], repeats=0)


# ----------------------------------------------------------------------------- batched first counterfactuals
def test_run_batched_agrees_with_one_at_a_time_and_has_its_own_cache(first_run, blobs, monkeypatch):
    cache_dir, single = first_run
    batched = run(blobs, cache_dir, batch_size=3)
    assert batched.computed_chunks == len(CONFIGS) * 2  # not read from the one-at-a-time cache
    for col in ("found", "steps_to_first", "cf_class", "orig_class"):
        np.testing.assert_array_equal(batched.frame[col], single.frame[col])
    np.testing.assert_allclose(batched.frame["im1"], single.frame["im1"], rtol=1e-3)
    again = run(blobs, cache_dir, batch_size=3)
    assert again.computed_chunks == 0
    with pytest.raises(ValueError, match="batch_size"):
        run(blobs, cache_dir, batch_size=0)


# ----------------------------------------------------------------------------- black box timing
def test_black_box_predict_returns_the_model_probabilities(blobs):
    predict = experiments.black_box_predict(blobs.model, batch_size=7)
    out = predict(blobs.X[:20].astype(np.float64))
    assert isinstance(out, np.ndarray) and out.shape == (20, 3)
    np.testing.assert_allclose(out, blobs.model(blobs.X[:20]).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="model"):
        experiments.black_box_predict("not a model")
    with pytest.raises(ValueError, match="batch_size"):
        experiments.black_box_predict(blobs.model, batch_size=0)
    calls = []
    counted = experiments.black_box_predict(blobs.model, batch_size=7, calls=calls)
    counted(blobs.X[:20])
    counted(blobs.X[:3])
    assert calls == [20, 3]  # rows per call to the black box, however it is split into batches
    with pytest.raises(TypeError, match="calls"):
        experiments.black_box_predict(blobs.model, calls=0)


def test_seconds_per_steps_runs_every_step_of_one_c_step(blobs, monkeypatch):
    predict = experiments.black_box_predict(blobs.model)
    explainer = CounterfactualProto(
        predict, (1, 4), feature_range=blobs.feature_range, max_iterations=10, c_init=1.0, c_steps=4
    )
    calls = []
    original = CounterfactualProto.explain

    def explain(self, X, *args, **kwargs):
        result = original(self, X, *args, **kwargs)
        calls.append(self.last_predict_calls)
        return result

    monkeypatch.setattr(CounterfactualProto, "explain", explain)
    seconds = experiments.seconds_per_steps(explainer, blobs.X[[0, 60, 120]], per=100)
    assert seconds.shape == (3,) and (seconds > 0).all()
    assert len(calls) == 4 and calls[-1] == 10  # warm-up + 3 rows; one predict call per step, 10 steps
    assert explainer.c_steps == 4
    with pytest.raises(ValueError, match="stop"):
        experiments.seconds_per_steps(explainer, blobs.X[:1], stop="first")


# ----------------------------------------------------------------------------- per-row explain arguments
def test_run_passes_per_row_targets_and_masks_and_keys_the_cache_on_them(first_run, blobs, tmp_path):
    """row_args reach explain row by row (batched or not), and another mask is another entry."""
    predicted = blobs.model(blobs.X[ROWS]).numpy().argmax(axis=1)
    targets = ((predicted + 1) % 3)[:, None]  # one class other than each row's own
    mutable = np.ones((len(ROWS), 4), bool)
    mutable[:, 2:] = False  # only the features in which the blobs differ may move
    args = dict(target_class=targets, mutable=mutable)
    for batch_size in (None, 3):
        result = run(blobs, tmp_path, configs={"C": CONFIGS["C"]}, seeds=(0,), row_args=args, batch_size=batch_size)
        frame = result.frame
        found = frame["found"].to_numpy()
        assert found.sum() >= 3
        np.testing.assert_array_equal(frame["cf_class"].to_numpy()[found], targets[found, 0])
        np.testing.assert_array_equal(result.cf[found][:, 2:], blobs.X[ROWS][found][:, 2:])
        assert (frame.loc[found, "proto_class"].to_numpy() == targets[found, 0]).all()
    again = run(blobs, tmp_path, configs={"C": CONFIGS["C"]}, seeds=(0,), row_args=args, batch_size=3)
    assert again.computed_chunks == 0
    other = dict(args, mutable=np.ones_like(mutable))
    assert run(blobs, tmp_path, configs={"C": CONFIGS["C"]}, seeds=(0,), row_args=other).computed_chunks == 1
    with pytest.raises(ValueError, match="row_args"):
        run(blobs, tmp_path, configs={"C": CONFIGS["C"]}, seeds=(0,), row_args=dict(k=targets))
    with pytest.raises(ValueError, match="row_args: mutable has 2 rows"):
        run(blobs, tmp_path, configs={"C": CONFIGS["C"]}, seeds=(0,), row_args=dict(mutable=mutable[:2]))


def test_mnist_settings_are_table_1s():
    common, losses = experiments.mnist_settings(1000, 10)
    assert common == dict(
        kappa=0.0, beta=0.1, feature_range=(-0.5, 0.5), learning_rate_init=1e-2, max_iterations=1000, c_steps=10
    )
    assert list(losses) == list("ABCDEF")
    assert losses["A"] == dict(c_init=1.0, gamma=0.0, theta=0.0)
    assert losses["B"] == dict(c_init=1.0, gamma=100.0, theta=0.0)
    assert losses["D"] == dict(c_init=1.0, gamma=100.0, theta=100.0, k=5)
    assert losses["E"] == dict(c_init=0.0, gamma=0.0, theta=200.0, k=5)
    assert list(experiments.mnist_settings(5, 1, names="CE")[1]) == ["C", "E"]
