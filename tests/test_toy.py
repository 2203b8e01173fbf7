"""The toy problem shared by the Method chapters."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cgp_lib.repro import toy  # noqa: E402


def test_blobs_are_seeded_and_centred_on_their_class():
    X, y = toy.make_blobs(per_class=200, seed=3)
    X2, _ = toy.make_blobs(per_class=200, seed=3)
    np.testing.assert_array_equal(X, X2)
    assert X.shape == (600, 2) and X.dtype == np.float32 and np.bincount(y).tolist() == [200, 200, 200]
    for c, centre in enumerate(toy.CENTERS):
        assert np.linalg.norm(X[y == c].mean(axis=0) - centre) < 0.25  # 3 standard errors of 1/sqrt(200)
    with pytest.raises(ValueError, match="per_class"):
        toy.make_blobs(per_class=0)


def test_problem_trains_once_and_its_regions_are_the_classifiers_predictions(monkeypatch, tmp_path):
    monkeypatch.setenv("CGP_CACHE_DIR", str(tmp_path))
    first = toy.problem(classifier_epochs=2, autoencoder_epochs=1, grid=11)
    again = toy.problem(classifier_epochs=2, autoencoder_epochs=1, grid=11)  # from the cache
    for a, b in zip(first.classifier.get_weights(), again.classifier.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert first.regions.shape == (11, 11) and first.plane.shape == (121, 2)
    expected = first.classifier(first.plane).numpy().argmax(axis=1).reshape(11, 11)
    np.testing.assert_array_equal(first.regions, expected)
    assert first.plane[1].tolist() == [first.axis[1], first.axis[0]]  # row by row: x varies first
    assert first.enc(first.X[:4]).shape == (4, 1) and first.ae(first.X[:4]).shape == (4, 2)
    assert toy.problem(classifier_epochs=2, grid=11).ae is None
    fig, ax = plt.subplots()
    toy.draw_regions(ax, first)
    assert ax.get_xlim() == (toy.LOW, toy.HIGH) and len(ax.collections) > 0
    plt.close(fig)
    with pytest.raises(ValueError, match="grid"):
        toy.problem(classifier_epochs=1, grid=1)
