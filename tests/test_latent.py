"""Where prototypes lie among the training encodings (cgp_lib.repro.latent), and paired verdicts."""

import numpy as np
import pandas as pd
import pytest

from cgp_lib.repro import claims, latent

# Class 0 on a grid of spacing 1 around (0, 0); class 1 on the same grid shifted to (20, 0).
GRID = np.array([(x, y) for x in range(5) for y in range(5)], dtype=float)
ENC = np.concatenate([GRID, GRID + [20.0, 0.0]])
LABELS = np.repeat([0, 1], len(GRID))


def test_class_spacing_is_the_grid_step():
    np.testing.assert_allclose(latent.class_spacing(ENC, LABELS), [1.0, 1.0])


def test_a_point_inside_its_class_and_one_in_a_gap():
    points = np.array([[2.0, 2.0], [10.0, 2.0], [20.5, 2.0]])
    out = latent.neighbourhood(points, np.array([0, 0, 1]), ENC, LABELS, n_neighbours=4)
    # inside class 0: its 4 nearest are class 0, at a distance 0 from a point of the grid
    assert out.loc[0, "same_class"] == 1.0 and out.loc[0, "distance_ratio"] == 0.0
    # halfway between the classes, as class 0: 6 away from class 0's nearest point (4, 2)
    assert out.loc[1, "distance_ratio"] == pytest.approx(6.0)
    # half a step inside class 1
    assert out.loc[2, "same_class"] == 1.0 and out.loc[2, "distance_ratio"] == pytest.approx(0.5)


def test_neighbours_of_another_class_lower_same_class():
    out = latent.neighbourhood(np.array([[19.0, 2.0]]), np.array([0]), ENC, LABELS, n_neighbours=5)
    assert out.loc[0, "same_class"] == 0.0  # labelled class 0, surrounded by class 1


def test_bad_neighbourhood_arguments_are_named():
    with pytest.raises(ValueError, match="n_neighbours"):
        latent.neighbourhood(ENC[:1], [0], ENC, LABELS, n_neighbours=0)
    with pytest.raises(ValueError, match="points"):
        latent.neighbourhood(np.zeros((1, 3)), [0], ENC, LABELS)
    with pytest.raises(ValueError, match="point_class"):
        latent.neighbourhood(ENC[:2], [0], ENC, LABELS)


def test_projected_points_land_near_their_neighbours():
    rng = np.random.default_rng(0)
    enc = np.concatenate([rng.normal(size=(150, 5)), rng.normal(size=(150, 5)) + 12.0])
    embedding = latent.tsne_map(enc, random_state=0, perplexity=20, n_jobs=1)
    coords = np.asarray(embedding)
    new = latent.project(embedding, np.array([enc[0] + 0.01, enc[200] + 0.01]))
    centres = coords[:150].mean(0), coords[150:].mean(0)
    assert np.linalg.norm(new[0] - centres[0]) < np.linalg.norm(new[0] - centres[1])
    assert np.linalg.norm(new[1] - centres[1]) < np.linalg.norm(new[1] - centres[0])


def test_paired_difference_and_its_verdict():
    index = pd.MultiIndex.from_product([[0], range(8)], names=["seed", "instance"])
    a = pd.Series([1.0, 2, 3, 4, 5, 6, 7, np.nan], index=index)
    b = a + 1.0 + 0.01 * np.arange(8)
    d = claims.paired_difference(a, b)
    assert d["n"] == 7  # the NaN pair is left out
    assert d["mean"] == pytest.approx(-1.03)
    assert d["high"] < 0 and d["p"] < 0.05
    assert claims.paired_below(d) == "reproduces"
    assert claims.paired_below(claims.paired_difference(b, a)) == "contradicted"
    mixed = claims.paired_difference(a, a + np.array([1.0, -1, 1, -1, 1, -1, 1, 1]))
    assert mixed["low"] < 0 < mixed["high"] and claims.paired_below(mixed) == "inconclusive"
    same = claims.paired_difference(a, a)
    assert same["mean"] == 0 and np.isnan(same["p"]) and claims.paired_below(same) == "inconclusive"
