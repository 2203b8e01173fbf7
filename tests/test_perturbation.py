"""Tests of cgp_lib.repro.perturbation: the spectral share above a frequency and transfer."""

from __future__ import annotations

import numpy as np
import pytest

from cgp_lib.repro import perturbation

RNG = np.random.default_rng(0)


def _wave(period_y, period_x, size=32):
    i, j = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    return np.cos(2 * np.pi * (i / period_y + j / period_x))


def test_pure_frequencies_fall_on_their_side_of_the_cutoff():
    constant = np.ones((32, 32))
    checkerboard = (-1.0) ** np.add.outer(np.arange(32), np.arange(32))  # (0.5, 0.5) cycles per pixel
    slow = _wave(16, 16)  # radius sqrt(2)/16 = 0.088 < 0.25
    fast = _wave(2, 1e9)  # 0.5 cycles per pixel along y
    x = np.stack([constant, checkerboard, slow, fast])
    np.testing.assert_allclose(perturbation.high_frequency_fraction(x), [0.0, 1.0, 0.0, 1.0], atol=1e-12)


def test_fraction_equals_the_energy_of_the_high_passed_signal_parseval():
    x = RNG.normal(size=(5, 16, 20, 3))
    cutoff = 0.5
    mask = perturbation.radial_frequency(16, 20) > 0.25
    spectrum = np.fft.fft2(x, axes=(1, 2))
    high_passed = np.real(np.fft.ifft2(spectrum * mask[None, :, :, None], axes=(1, 2)))
    # By Parseval the energy of each part in pixel space equals its spectral energy / (H W).
    expected = (np.abs(np.fft.fft2(high_passed, axes=(1, 2))) ** 2).sum(axis=(1, 2, 3)) / (np.abs(spectrum) ** 2).sum(
        axis=(1, 2, 3)
    )
    np.testing.assert_allclose(perturbation.high_frequency_fraction(x, cutoff), expected, rtol=1e-10)
    # White noise spreads its energy evenly: the share is the share of bins above the cutoff.
    noise = RNG.normal(size=(200, 32, 32))
    share = (perturbation.radial_frequency(32, 32) > 0.25).mean()
    assert abs(np.mean(perturbation.high_frequency_fraction(noise)) - share) < 0.01


def test_channels_are_averaged_and_the_mean_can_be_removed():
    slow, fast = _wave(16, 16), _wave(4, 4)  # same energy, radii 0.088 and 0.354
    two_channels = np.stack([slow, fast], axis=-1)[None]
    assert perturbation.high_frequency_fraction(two_channels)[0] == pytest.approx(0.5)
    shifted = (fast + 3.0)[None]
    assert perturbation.high_frequency_fraction(shifted)[0] < 0.1
    assert perturbation.high_frequency_fraction(shifted, remove_mean=True)[0] == pytest.approx(1.0)


def test_zero_perturbation_is_nan_and_bad_input_is_named():
    out = perturbation.high_frequency_fraction(np.zeros((2, 8, 8, 3)))
    assert np.isnan(out).all()
    with pytest.raises(ValueError, match="x:"):
        perturbation.high_frequency_fraction(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="x:"):
        perturbation.high_frequency_fraction(np.full((1, 8, 8), np.nan))
    with pytest.raises(ValueError, match="cutoff"):
        perturbation.high_frequency_fraction(np.zeros((1, 8, 8)), cutoff=2.0)


def test_transfers_compares_the_second_models_top_class():
    def model(x):  # class = 1 where the first pixel is positive
        p = (x.reshape(len(x), -1)[:, 0] > 0).astype(np.float32)
        return np.stack([1 - p, p], axis=1)

    x = np.array([[1.0, 0.0], [-1.0, 0.0], [2.0, 1.0]], np.float32)
    np.testing.assert_array_equal(perturbation.transfers(model, x, [1, 1, 0], batch_size=2), [True, False, False])
    assert perturbation.transfers(model, x[:0], []).shape == (0,)
    with pytest.raises(ValueError, match="cf_class"):
        perturbation.transfers(model, x, [1, 1])
