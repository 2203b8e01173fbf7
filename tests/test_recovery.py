"""Saliency-masked recovery (cgp_lib.repro.recovery): masks, the deletion curve, ink errors, runs.

On the blob classifier of conftest.py (4 features): masking the most salient feature of a
class-1 point (the feature in which blob 1 differs) makes the classifier misread it, and the
search toward the true class brings it back.
"""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cgp_lib import attribution
from cgp_lib.repro import recovery
from cgp_lib.repro.experiments import SeedModels, loss_kwargs

FILL = 0.0  # blob 0's centre: masking moves a point toward class 0


def identity_autoencoder():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(4, use_bias=False)])
    model.layers[0].set_weights([np.eye(4, dtype=np.float32)])
    return model


def seed_models(blobs):
    return lambda seed: SeedModels(
        classifier=blobs.model,
        class_aes={c: identity_autoencoder() for c in range(3)},
        ae_all=identity_autoencoder(),
        ae=identity_autoencoder(),
    )


@pytest.fixture(scope="module")
def class_one(blobs):
    """Class-1 blob points the classifier reads correctly, their gradient saliency and masks."""
    rows = np.flatnonzero((blobs.y == 1) & (blobs.model(blobs.X).numpy().argmax(1) == 1))[:12]
    X, y = blobs.X[rows], blobs.y[rows]
    grads = attribution.saliency(blobs.model, X, method="gradient")
    return X, y, grads, recovery.masked_sets(X, {"gradient": grads}, [1, 2], FILL)


def test_masked_sets_hold_every_method_and_k_and_a_random_baseline(class_one):
    X, _, grads, sets = class_one
    assert list(sets) == [("gradient", 1), ("gradient", 2), ("random", 1), ("random", 2)]
    for (_, k), (masked, mask) in sets.items():
        assert (mask.sum(axis=1) == k).all()
        np.testing.assert_array_equal(masked[mask], FILL)
        np.testing.assert_array_equal(masked[~mask], X[~mask])
    top = np.abs(grads).argmax(axis=1)
    np.testing.assert_array_equal(sets[("gradient", 1)][1].argmax(axis=1), top)
    with pytest.raises(ValueError, match="attributions"):
        recovery.masked_sets(X, {"random": grads}, [1], FILL)
    with pytest.raises(ValueError, match="k_values"):
        recovery.masked_sets(X, {"gradient": grads}, [], FILL)


def test_deletion_curve_counts_what_the_classifier_reads(blobs, class_one):
    X, y, _, sets = class_one
    curve = recovery.deletion_curve(blobs.model, X, y, sets)
    assert set(curve["method"]) == {"gradient", "random"}
    assert (curve.loc[curve["k"] == 0, "accuracy"] == 1.0).all()
    for (method, k), (masked, _) in sets.items():
        row = curve[(curve["method"] == method) & (curve["k"] == k)].iloc[0]
        predicted = blobs.model(masked).numpy().argmax(1)
        assert row["misread"] == np.sum(predicted != y)
        assert row["accuracy"] == pytest.approx(np.mean(predicted == y))
        assert row["changed"] == pytest.approx(np.mean((masked != X).sum(1)))
    # the most salient feature hurts more than a random one
    at = lambda m: curve[(curve["method"] == m) & (curve["k"] == 1)]["accuracy"].iloc[0]  # noqa: E731
    assert at("gradient") < at("random")


def test_ink_errors_separate_the_removed_pixels_from_the_others():
    original = np.array([[1.0, 1.0, 0.0, 0.5]])
    mask = np.array([[True, True, True, False]])  # pixel 2 was already at the fill value
    masked = np.where(mask, 0.0, original)
    x = np.array([[0.5, 1.0, 0.3, 0.1]])
    errors = recovery.ink_errors(x, original, masked, mask)
    # removed pixels are 0 and 1 (pixel 2 did not change): errors 0.5 and 0, masked gap 1 and 1
    assert errors["masked_error"].iloc[0] == pytest.approx(0.25)
    assert errors["other_error"].iloc[0] == pytest.approx(0.4)
    assert errors["restored"].iloc[0] == pytest.approx(0.75)
    assert errors["masked_change"].iloc[0] == pytest.approx(0.75)  # |0.5 - 0| and |1 - 0| on the removed pixels
    same = recovery.ink_errors(original, original, masked, mask)
    assert same["restored"].iloc[0] == 1.0 and same["other_error"].iloc[0] == 0.0
    left = recovery.ink_errors(masked, original, masked, mask)
    assert left["restored"].iloc[0] == 0.0
    assert np.isnan(recovery.ink_errors(np.full_like(x, np.nan), original, masked, mask)["masked_error"].iloc[0])
    with pytest.raises(ValueError, match="one shape"):
        recovery.ink_errors(x[:, :3], original, masked, mask)


def test_recovery_returns_the_true_class_and_inpainting_moves_only_masked_pixels(
    blobs, class_one, tmp_path, monkeypatch
):
    monkeypatch.setenv("CGP_CACHE_DIR", str(tmp_path))
    X, y, _, sets = class_one
    chosen = {("gradient", 1): sets[("gradient", 1)]}
    misread = blobs.model(chosen[("gradient", 1)][0]).numpy().argmax(1) != y
    assert misread.sum() >= 3  # the case the test is about
    configs = {"A": loss_kwargs("A"), "C": loss_kwargs("C", theta=20.0)}
    common = dict(feature_range=blobs.feature_range, max_iterations=100, c_steps=2, learning_rate_init=0.02)
    result = recovery.run(
        X, y, chosen, configs, seed_models(blobs), 0, blobs.X, common, inpaint=["C"], prototypes="kdtree", batch_size=8
    )
    frame = result.frame
    assert list(frame.columns) == recovery.COLUMNS and len(result.x) == len(frame)
    names = ["A", "C", "C, masked pixels only", *recovery.BASELINES]
    assert list(frame["config"].unique()) == names
    assert (frame.groupby("config").size() == misread.sum()).all()
    searched = frame[frame["config"].isin(names[:3])]
    assert searched["found"].mean() >= 0.5
    found = searched[searched["found"]]
    assert (found["cf_class"] == 1).all() and found["recovered"].all()  # target_class = the label
    # references: the original image is recovered, with no error; the masked one restores nothing
    original_rows = frame[frame["config"] == "original image"]
    assert original_rows["recovered"].all() and (original_rows["masked_error"] == 0).all()
    assert (frame.loc[frame["config"] == "masked image", "restored"] == 0).all()
    # inpainting: the unmasked features keep their values (no error there)
    inpainted = frame[(frame["config"] == "C, masked pixels only") & frame["found"]]
    assert len(inpainted) >= 1 and (inpainted["other_error"] == 0).all()
    free = frame[(frame["config"] == "C") & frame["found"]]
    assert (free["other_error"] > 0).any()
    with pytest.raises(ValueError, match="inpaint"):
        recovery.run(X, y, chosen, configs, seed_models(blobs), 0, blobs.X, common, inpaint=["E"])
    # the images follow the rows: the references are the original and the masked images
    rows, images = result.images("gradient", 1, "original image")
    np.testing.assert_array_equal(images, X[rows["instance"].to_numpy()])
    rows, images = result.images("gradient", 1, "C")
    found = rows["found"].to_numpy()
    np.testing.assert_array_equal(blobs.model(images[found]).numpy().argmax(1), rows.loc[found, "cf_class"])
    assert isinstance(frame, pd.DataFrame)


def test_max_per_mask_explains_a_seeded_sample_of_each_masks_misread_images(blobs, class_one, tmp_path, monkeypatch):
    monkeypatch.setenv("CGP_CACHE_DIR", str(tmp_path))
    X, y, _, sets = class_one
    chosen = {("gradient", 1): sets[("gradient", 1)]}
    misread = np.flatnonzero(blobs.model(chosen[("gradient", 1)][0]).numpy().argmax(1) != y)
    assert misread.size >= 3
    configs = {"A": loss_kwargs("A")}
    common = dict(feature_range=blobs.feature_range, max_iterations=20, c_steps=1)

    def run(**kw):
        return recovery.run(X, y, chosen, configs, seed_models(blobs), 0, blobs.X, common, batch_size=8, **kw)

    full = run()
    assert full.counts[["misread", "explained"]].values.tolist() == [[misread.size, misread.size]]
    sample = run(max_per_mask=2, sample_seed=3)
    again = run(max_per_mask=2, sample_seed=3)
    assert sample.counts[["misread", "explained"]].values.tolist() == [[misread.size, 2]]
    for config in ["A", *recovery.BASELINES]:  # the searches and the baselines use the same 2 images
        chosen_ids = sample.frame.loc[sample.frame["config"] == config, "instance"].to_numpy()
        assert len(chosen_ids) == 2 and set(chosen_ids) <= set(misread) and list(chosen_ids) == sorted(chosen_ids)
    pd.testing.assert_frame_equal(sample.frame, again.frame)  # seeded: the same sample twice
    assert run(max_per_mask=misread.size + 5).counts["explained"].item() == misread.size
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_per_mask"):
            run(max_per_mask=bad)
