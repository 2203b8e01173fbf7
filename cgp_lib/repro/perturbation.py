"""Is a counterfactual's perturbation adversarial noise or a semantic change? Two measurements.

The report (section 5.1, Figure 6) says of its CIFAR-10 counterfactuals that they "are simply
high frequency noise, more similar to adversarial attacks than a semantically coherent
transformation". The CIFAR-10 chapter tests this with two numbers per counterfactual:

* :func:`high_frequency_fraction`: the share of the perturbation's spectral energy above a
  radial frequency (by default half the Nyquist radius), to be compared with the same share
  for the images themselves: adversarial perturbations put much of their energy into high
  frequencies, natural images little;
* :func:`transfers`: whether a second classifier (same architecture, another seed) also
  assigns the counterfactual to its counterfactual class: adversarial perturbations are known
  to transfer poorly between independently trained networks at small norms, changes of the
  image's content better.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["radial_frequency", "high_frequency_fraction", "transfers"]


def radial_frequency(height: int, width: int) -> np.ndarray:
    """The radial frequency ``sqrt(f_y² + f_x²)`` in cycles per pixel of each 2-D FFT bin.

    Returns an array of shape ``(height, width)`` aligned with ``numpy.fft.fft2``'s output;
    each axis' frequencies are those of ``numpy.fft.fftfreq``, in ``[-0.5, 0.5)``, so the
    Nyquist frequency of each axis is 0.5 and the largest radius is ``sqrt(0.5)``.
    """
    fy = np.fft.fftfreq(int(height))[:, None]
    fx = np.fft.fftfreq(int(width))[None, :]
    return np.sqrt(fy**2 + fx**2)


def high_frequency_fraction(x: np.ndarray, cutoff: float = 0.5, remove_mean: bool = False) -> np.ndarray:
    """Share of each image's spectral energy at radial frequencies above ``cutoff`` × Nyquist.

    Parameters
    ----------
    x
        Images or perturbations ``(N, H, W)`` or ``(N, H, W, C)`` (channels last).
    cutoff
        The threshold as a fraction of the Nyquist frequency (0.5 cycles per pixel): the
        default 0.5 counts the energy at radii above 0.25 cycles per pixel.
    remove_mean
        Subtract each channel's mean first, so that the zero-frequency term (a uniform change
        of brightness, or an image's mean colour) does not count as low-frequency energy.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` fractions in [0, 1]: the power ``|FFT2|²`` of each channel, averaged over the
        channels, summed over the bins above the threshold and divided by its sum over all
        bins. NaN for an image with no energy (an all-zero perturbation, e.g. of an instance
        with no counterfactual): its spectrum has no shape.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"x: expected (N, H, W) or (N, H, W, C), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x: has non-finite values")
    if not 0 <= float(cutoff) <= np.sqrt(2):
        raise ValueError(f"cutoff: expected a fraction of the Nyquist frequency in [0, sqrt(2)], got {cutoff!r}")
    if remove_mean:
        x = x - x.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2  # (N, H, W, C)
    power = power.mean(axis=3)
    high = radial_frequency(x.shape[1], x.shape[2]) > 0.5 * float(cutoff)
    total = power.sum(axis=(1, 2))
    above = power[:, high].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = above / total
    return np.where(total > 0, fraction, np.nan)


def transfers(model: Any, x_cf: np.ndarray, cf_class: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Whether ``model`` assigns each counterfactual to its counterfactual class.

    Parameters
    ----------
    model
        A Keras model or a function returning class probabilities, typically a second
        classifier trained like the one explained but with another seed.
    x_cf
        Counterfactuals ``(N, ...)``.
    cf_class
        ``(N,)`` the class the explained model gives each counterfactual.

    Returns
    -------
    numpy.ndarray
        ``(N,)`` booleans: True where ``model``'s top class is ``cf_class``.
    """
    x_cf = np.asarray(x_cf, dtype=np.float32)
    cf_class = np.asarray(cf_class).reshape(-1)
    if len(cf_class) != len(x_cf):
        raise ValueError(f"cf_class: expected {len(x_cf)} classes, one per counterfactual, got {len(cf_class)}")
    if len(x_cf) == 0:
        return np.zeros(0, dtype=bool)
    if hasattr(model, "predict"):
        proba = model.predict(x_cf, batch_size=int(batch_size), verbose=0)
    else:
        proba = np.concatenate([np.asarray(model(x_cf[i : i + batch_size])) for i in range(0, len(x_cf), batch_size)])
    return np.asarray(proba).argmax(axis=1) == cf_class
