"""On-the-fly augmentation of 28×28 images: random affine maps and elastic distortion.

Both work by *inverse mapping*: each output pixel p looks up the source point q(p) in the
original image and takes its bilinear interpolation (zero outside the image), for a whole batch
at once. With c = (13.5, 13.5) the image centre, R_θ a rotation, s a scale and t a shift,

    affine:   q = R_θ⁻¹ (p − c − t) / s + c
    elastic:  q ← q + α · (G * u)(p)      u ~ U(−1, 1)² per pixel, G a Gaussian of width σ

(Simard, Steinkraus & Platt 2003). Parameters are drawn per image from the ``rng`` passed in, so
a seeded run sees the same distortions every time. Use :class:`Augment` as ``fit``'s ``augment``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ffnn.errors import ParameterError

SIDE = 28
_CENTRE = (SIDE - 1) / 2.0


class Augment:
    """A random affine map (and optionally an elastic distortion) for each image of a batch.

    ``shift`` (pixels), ``rotation`` (degrees) and ``scale`` (relative) are the largest values,
    drawn uniformly in [−max, max] per image; ``elastic_alpha`` (pixels, 0 = off) and
    ``elastic_sigma`` (pixels) shape the elastic field.
    """

    def __init__(
        self,
        shift: float = 2.0,
        rotation: float = 10.0,
        scale: float = 0.1,
        elastic_alpha: float = 0.0,
        elastic_sigma: float = 4.0,
    ) -> None:
        for name, value in (
            ("shift", shift),
            ("rotation", rotation),
            ("scale", scale),
            ("elastic_alpha", elastic_alpha),
        ):
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ParameterError(f"The '{name}' parameter must be a number >= 0. Got {value!r} instead.")
        if not 0 <= scale < 1:
            raise ParameterError(f"The 'scale' parameter must be in [0, 1). Got {scale!r} instead.")
        if not elastic_sigma > 0:
            raise ParameterError(f"The 'elastic_sigma' parameter must be > 0. Got {elastic_sigma!r} instead.")
        self.shift, self.rotation, self.scale = float(shift), float(rotation), float(scale)
        self.alpha, self.sigma = float(elastic_alpha), float(elastic_sigma)
        self._gaussian = _gaussian_matrix(self.sigma)

    def __call__(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The batch ``X`` ((n, 784) or (n, 28, 28)) distorted, in the same shape and dtype."""
        n = len(X)
        angle = np.deg2rad(rng.uniform(-self.rotation, self.rotation, n))
        scale = 1.0 + rng.uniform(-self.scale, self.scale, n)
        shift = rng.uniform(-self.shift, self.shift, (n, 2))
        qy, qx = affine_sources(angle, scale, shift)
        if self.alpha:
            field = rng.uniform(-1.0, 1.0, (2, n, SIDE, SIDE))
            smooth = self._gaussian @ field @ self._gaussian.T  # separable Gaussian blur of each field
            qy += self.alpha * smooth[0]
            qx += self.alpha * smooth[1]
        return sample(X, qy, qx)


def affine_sources(angle: np.ndarray, scale: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinates q = R_θ⁻¹ (p − c − t)/s + c for every pixel p of n images (n, 28, 28)."""
    py, px = np.meshgrid(np.arange(SIDE, dtype=np.float64), np.arange(SIDE, dtype=np.float64), indexing="ij")
    dy = py[None] - _CENTRE - shift[:, 0, None, None]
    dx = px[None] - _CENTRE - shift[:, 1, None, None]
    cos, sin, inv = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None], 1.0 / scale[:, None, None]
    return (cos * dy - sin * dx) * inv + _CENTRE, (sin * dy + cos * dx) * inv + _CENTRE


def shift_images(X: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """Every image moved by (dy, dx) pixels (down, right), zero-filled: a plain affine map."""
    n = len(X)
    qy, qx = affine_sources(np.zeros(n), np.ones(n), np.tile([dy, dx], (n, 1)))
    return sample(X, qy, qx)


def sample(X: np.ndarray, qy: np.ndarray, qx: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of each image at its source points (zero outside the image)."""
    images = np.asarray(X).reshape(-1, SIDE, SIDE)
    n = len(images)
    padded = np.zeros((n, SIDE + 2, SIDE + 2), dtype=np.float64)
    padded[:, 1:-1, 1:-1] = images
    flat = padded.reshape(n, -1)
    qy = np.clip(qy, -1.0, SIDE) + 1.0  # into padded coordinates; beyond the edge is zero
    qx = np.clip(qx, -1.0, SIDE) + 1.0
    y0 = np.minimum(np.floor(qy), SIDE).astype(np.intp)
    x0 = np.minimum(np.floor(qx), SIDE).astype(np.intp)
    wy, wx = (qy - y0).reshape(n, -1), (qx - x0).reshape(n, -1)
    base = (y0 * (SIDE + 2) + x0).reshape(n, -1)

    def at(offset: int) -> Any:
        return np.take_along_axis(flat, base + offset, axis=1)

    top = at(0) * (1 - wx) + at(1) * wx
    bottom = at(SIDE + 2) * (1 - wx) + at(SIDE + 3) * wx
    out = top * (1 - wy) + bottom * wy
    result: np.ndarray = out.reshape(np.shape(X)).astype(np.asarray(X).dtype, copy=False)
    return result


def _gaussian_matrix(sigma: float) -> np.ndarray:
    """G (28×28) with G @ v the convolution of v with a normalised Gaussian of width σ (zero padding)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = np.arange(SIDE)[:, None] - np.arange(SIDE)[None, :]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2) * (np.abs(offsets) <= radius)
    total = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).sum()
    return np.asarray(kernel / total)
