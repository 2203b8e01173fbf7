"""Attributions and masks (cgp_lib.attribution): gradients against finite differences, the axioms
the methods promise, and masks with exactly k pixels."""

import numpy as np
import pytest
import tensorflow as tf

from cgp_lib import attribution


def small_model(softmax_dense=True):
    tf.keras.utils.set_random_seed(3)
    layers = [tf.keras.Input((6,)), tf.keras.layers.Dense(8, activation="tanh")]
    if softmax_dense:
        layers.append(tf.keras.layers.Dense(3, activation="softmax"))
    else:
        layers += [tf.keras.layers.Dense(3), tf.keras.layers.Softmax()]
    return tf.keras.Sequential(layers)


X = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)


def test_the_score_is_the_logit_when_the_last_layer_is_a_softmax_dense():
    model = small_model()
    assert attribution.score_kind(model) == "logit"
    logits = attribution.class_scores(model)(tf.constant(X)).numpy()
    log_p = np.log(model(X).numpy())
    # logits and log-probabilities differ by one constant per row (log-sum-exp)
    gap = logits - log_p
    np.testing.assert_allclose(gap, np.broadcast_to(gap[:, :1], gap.shape), atol=1e-4)
    other = small_model(softmax_dense=False)
    assert attribution.score_kind(other) == "log-probability"
    scores = attribution.class_scores(other)(tf.constant(X)).numpy()
    np.testing.assert_allclose(scores, np.log(other(X).numpy()), atol=1e-5)


def test_gradient_equals_finite_differences():
    model = small_model()
    grad = attribution.saliency(model, X, "gradient", target=1)
    score = attribution.class_scores(model)
    eps = 1e-2
    for i in range(6):
        step = np.zeros_like(X)
        step[:, i] = eps
        up = score(tf.constant(X + step)).numpy()[:, 1]
        down = score(tf.constant(X - step)).numpy()[:, 1]
        np.testing.assert_allclose(grad[:, i], (up - down) / (2 * eps), rtol=2e-2, atol=2e-3)


def test_integrated_gradients_sum_to_the_score_difference():
    """Completeness: the attributions add up to score(x) − score(baseline) (up to the Riemann sum)."""
    model = small_model()
    ig = attribution.saliency(model, X, "integrated_gradients", target=0, baseline=0.0, x_steps=200)
    score = attribution.class_scores(model)
    gap = score(tf.constant(X)).numpy()[:, 0] - score(tf.constant(np.zeros_like(X))).numpy()[:, 0]
    np.testing.assert_allclose(ig.sum(axis=1), gap, rtol=0.02, atol=0.02)


def test_smoothgrad_is_repeatable_with_its_seed_and_leaves_numpy_alone():
    model = small_model()
    np.random.seed(11)  # noqa: NPY002 (the global generator must be left as it was)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    a = attribution.saliency(model, X, "smoothgrad", nsamples=8, seed=4)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    b = attribution.saliency(model, X, "smoothgrad", nsamples=8, seed=4)
    np.testing.assert_array_equal(a, b)
    assert a.shape == X.shape and (a >= 0).all()  # mean squared gradients
    assert not np.array_equal(a, attribution.saliency(model, X, "smoothgrad", nsamples=8, seed=5))


def test_smoothgrad_of_one_image_is_the_packages_own_and_groups_keep_rows_apart():
    import saliency.core as saliency_core

    model = small_model()
    score = attribution.class_scores(model)
    target = int(np.asarray(model(X[:1])).argmax())

    def call_model(x_batch, call_model_args=None, expected_keys=None):
        x = tf.constant(np.asarray(x_batch, np.float32))
        with tf.GradientTape() as tape:
            tape.watch(x)
            picked = score(x)[:, call_model_args["target"]]
        return {saliency_core.INPUT_OUTPUT_GRADIENTS: tape.gradient(picked, x).numpy()}

    np.random.seed(4)  # noqa: NPY002 (the package's own generator)
    own = saliency_core.GradientSaliency().GetSmoothedMask(X[0], call_model, dict(target=target), nsamples=8)
    ours = attribution.saliency(model, X[:1], "smoothgrad", nsamples=8, seed=4)
    np.testing.assert_allclose(ours[0], own, rtol=1e-5, atol=1e-7)
    # Rows of the same range share one call: without noise every row is its own squared gradient
    # for its own target (targets differ per row here).
    same_range = np.clip(X, -1.0, 1.0)
    same_range[:, 0], same_range[:, 1] = -1.0, 1.0
    targets = np.arange(len(X)) % 3
    squared = attribution.saliency(model, same_range, "gradient", target=targets) ** 2
    smooth = attribution.saliency(model, same_range, "smoothgrad", target=targets, stdev_spread=0.0)
    np.testing.assert_allclose(smooth, squared, rtol=1e-5, atol=1e-8)


def test_mask_top_k_replaces_the_largest_magnitudes_ties_by_index():
    images = np.arange(2 * 3 * 3 * 2, dtype=np.float32).reshape(2, 3, 3, 2)
    attr = np.zeros_like(images)
    attr[0, 0, 0, 0] = -5.0  # magnitude counts
    attr[0, 2, 2, 1] = 4.0
    attr[1] = 1.0  # all tied: the first pixels in row-major order
    masked, mask = attribution.mask_top_k(images, attr, k=2, fill=-0.5)
    assert mask.shape == images.shape and mask.dtype == bool
    assert mask[0, 0, 0].all() and mask[0, 2, 2].all() and mask[0].sum() == 2 * 2  # both channels
    assert mask[1, 0, 0].all() and mask[1, 0, 1].all() and mask[1].sum() == 4
    np.testing.assert_array_equal(masked[mask], -0.5)
    np.testing.assert_array_equal(masked[~mask], images[~mask])


def test_mask_random_has_exactly_k_pixels_and_is_seeded():
    images = np.zeros((20, 28, 28, 1), np.float32)
    masked, mask = attribution.mask_random(images, k=50, fill=1.0, seed=2)
    assert (mask.reshape(20, -1).sum(axis=1) == 50).all()
    np.testing.assert_array_equal(masked[mask], 1.0)
    _, again = attribution.mask_random(images, k=50, fill=1.0, seed=2)
    np.testing.assert_array_equal(mask, again)
    assert attribution.pixel_count(images.shape) == 784 and attribution.pixel_count((3, 30)) == 30


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda m: attribution.mask_top_k(X, X, k=0, fill=0.0), "k"),
        (lambda m: attribution.mask_top_k(X, X, k=7, fill=0.0), "k"),
        (lambda m: attribution.mask_top_k(X, X[:, :5], k=2, fill=0.0), "attributions"),
        (lambda m: attribution.mask_random(X, k=2.0, fill=0.0), "k"),
        (lambda m: attribution.saliency(m, X, "occlusion"), "method"),
        (lambda m: attribution.saliency(m, X, target=[0, 1]), "target"),
        (lambda m: attribution.saliency(m, X[0]), "X"),
    ],
)
def test_bad_input_names_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call(small_model())
