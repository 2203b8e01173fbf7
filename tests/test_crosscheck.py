"""cgp_lib against alibi 0.9.6 on a reduced set of the cross-check cases (issue targets:
same counterfactual and prototype class on >= 95% of instances, median relative
difference of EN(δ) <= 2%)."""

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib.reference.crosscheck import run_case, summarize
from cgp_lib.repro import datasets, trained


@pytest.fixture(scope="module")
def breast_cancer():
    (x_train, _), (x_test, _), _ = datasets.load_breast_cancer()
    lower = np.minimum(x_train.min(0), x_test.min(0))
    upper = np.maximum(x_train.max(0), x_test.max(0))
    return trained.breast_cancer_mlp(), x_train, x_test, (lower, upper)


def test_breast_cancer_kdtree_loss_c_agrees_with_alibi(breast_cancer):
    model, x_train, x_test, feature_range = breast_cancer
    init = dict(
        beta=0.1,
        kappa=0.0,
        feature_range=feature_range,
        max_iterations=1000,
        c_init=1.0,
        c_steps=2,
        theta=100.0,
        use_kdtree=True,
    )
    case = run_case(model, x_test, x_train, init, dict(k=2))
    s = case.summary
    assert s["found_cgp"] == s["found_alibi"] == 19
    assert s["cf_class_agreement"] >= 0.95 and s["proto_class_agreement"] >= 0.95
    assert s["median_en_rel_diff"] <= 0.02
    # cgp_lib explaining each row alone finds the same as the batch
    assert case.per_instance.found_cgp_b1.all()


def test_breast_cancer_black_box_loss_c_agrees_with_alibi(breast_cancer):
    """Numerical gradients with alibi's probability perturbation ('simplex'), 200 steps.

    alibi's update reads `adv` in an order TensorFlow does not fix, which can drop the momentum
    during the first ~100 FISTA steps of its process, so alibi explains the first instance once
    before the compared ones (see the cross-check chapter)."""
    model, x_train, x_test, feature_range = breast_cancer
    forward = tf.function(lambda x: model(x, training=False), input_signature=[tf.TensorSpec((None, 30), tf.float32)])

    def black_box(x):
        return forward(np.asarray(x, np.float32)).numpy()

    init = dict(
        beta=0.1,
        kappa=0.0,
        feature_range=feature_range,
        max_iterations=200,
        c_init=1.0,
        c_steps=1,
        theta=100.0,
        use_kdtree=True,
    )
    case = run_case(
        model,
        x_test[[0, 0, 1, 2, 3]],
        x_train,
        init,
        dict(k=2),
        black_box_predict=black_box,
        cgp_kwargs=dict(proba_perturbation="simplex"),
    )
    s = summarize(case.per_instance.iloc[1:])
    assert s["found_cgp"] == s["found_alibi"] == 4
    assert s["cf_class_agreement"] >= 0.95 and s["proto_class_agreement"] >= 0.95
    assert s["median_en_rel_diff"] <= 0.02
    assert s["max_abs_diff"] <= 1e-4  # the same search step by step, to rounding


@pytest.mark.parametrize("loss, c_init", [("B", 1.0), ("C", 0.0)])
def test_breast_cancer_eq16_satisfactory_agrees_with_alibi_one_c_step(breast_cancer, loss, c_init):
    """Eq. 16's B and C: cgp_lib's satisfactory counterfactual (up to 2 c steps, stopping after the
    first that finds one) against alibi with a single c step, whose answer is that c step's optimum."""
    model, x_train, x_test, feature_range = breast_cancer
    init = dict(
        beta=0.1,
        kappa=0.0,
        feature_range=feature_range,
        max_iterations=1000,
        c_init=c_init,
        c_steps=1,
        theta=100.0,
        use_kdtree=True,
    )
    X = x_test[:5]
    case = run_case(
        model, X, x_train, init, dict(k=1), cgp_kwargs=dict(c_steps=2), cgp_explain_kwargs=dict(stop="satisfactory")
    )
    s = case.summary
    assert s["found_cgp"] == s["found_alibi"] == len(X)
    assert case.ours.stop == "satisfactory" and (case.ours.steps_to_best <= 1000).all()
    assert (case.ours.steps_to_best > case.ours.steps_to_first).any()  # the optimum, not the first one
    assert s["cf_class_agreement"] >= 0.95 and s["proto_class_agreement"] >= 0.95
    assert s["median_en_rel_diff"] <= 0.02


def test_compare_rejects_mismatched_lengths(breast_cancer):
    from cgp_lib.explainer import CounterfactualProto
    from cgp_lib.reference.crosscheck import compare

    model, x_train, x_test, feature_range = breast_cancer
    ours = CounterfactualProto(model, (1, 30), feature_range=feature_range, max_iterations=2, c_steps=1).explain(
        x_test[:2]
    )
    with pytest.raises(ValueError, match="ours, ref"):
        compare(ours, ours, x_test[:3], 0.1)


def test_cross_check_reports_whether_alibi_came_from_the_cache(blobs, tmp_path, monkeypatch):
    from cgp_lib.reference import runner
    from cgp_lib.reference.crosscheck import cross_check

    init = dict(beta=0.1, kappa=0.0, feature_range=blobs.feature_range, max_iterations=30, c_init=1.0, c_steps=1)
    init.update(theta=5.0, use_kdtree=True)
    monkeypatch.setenv(runner.CACHE_DIR_ENV, str(tmp_path))
    X = blobs.X_explain[:2]
    first = cross_check(blobs.model, X, blobs.X, init, dict(k=1), alibi_warmup_steps=30)
    again = cross_check(blobs.model, X, blobs.X, init, dict(k=1), alibi_warmup_steps=30)
    assert not first.alibi_cached and again.alibi_cached
    np.testing.assert_array_equal(again.ref.cf, first.ref.cf)
    np.testing.assert_array_equal(again.per_instance.time_alibi_s, first.per_instance.time_alibi_s)
