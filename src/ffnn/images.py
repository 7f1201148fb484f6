"""Images of digits turned into what an MNIST network expects, the way MNIST itself was made.

MNIST's digits are white on black, size-normalised to fit a 20×20 box with their aspect ratio
kept (anti-aliased), and placed in a 28×28 field so that their centre of mass is at its centre.
:func:`mnist_like` does the same to any grey image; :func:`read_image` decodes PNG/JPEG files
(with Pillow, the ``images`` extra: ``pip install ffnn[images]``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ffnn.errors import DataFormatError, ExtraNotInstalledError, ParameterError

MAX_PIXELS = 4096 * 4096


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """A PNG/JPEG file as a grey float array in [0, 1] (transparent pixels count as white)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ExtraNotInstalledError("Reading PNG/JPEG needs Pillow: pip install 'ffnn[images]'.") from e
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:  # checked from the header, before decoding
                raise DataFormatError(f"the image is {image.width}×{image.height}; at most {MAX_PIXELS:,} pixels")
            image.load()
            flat: Image.Image = image
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
            grey = np.asarray(flat.convert("L"), dtype=np.float64)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataFormatError(f"{path}: not a readable PNG/JPEG image ({e}).") from e
    return grey / 255.0


def mnist_like(image: Any, threshold: float = 0.1) -> np.ndarray:
    """A 28×28 float image in [0, 1], white digit on black, prepared as MNIST's digits were.

    1. Invert if the background (the border's mean) is light.
    2. Crop to the bounding box of the pixels above ``threshold`` (of the maximum).
    3. Scale so the longer side is 20 pixels, keeping the aspect ratio (area averaging).
    4. Place in 28×28 with the centre of mass at the field's centre (pixel indices 13.5, 13.5),
       as far as the digit fits.

    An image with no ink gives all zeros.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < 1:
        raise ParameterError(f"mnist_like needs a 2-D grey image; got shape {img.shape}.")
    if not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
        raise ParameterError("mnist_like needs grey values in [0, 1].")
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    if border.mean() > 0.5:
        img = 1.0 - img
    if img.max() <= 0:
        return np.zeros((28, 28))
    rows = np.flatnonzero((img > threshold * img.max()).any(axis=1))
    cols = np.flatnonzero((img > threshold * img.max()).any(axis=0))
    img = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = 20.0 / max(img.shape)
    h, w = (max(1, round(n * scale)) for n in img.shape)
    small = _resize_matrix(h, img.shape[0]) @ img @ _resize_matrix(w, img.shape[1]).T
    out = np.zeros((28, 28))
    mass = small.sum()
    cy, cx = (np.arange(h) @ small.sum(axis=1)) / mass, (np.arange(w) @ small.sum(axis=0)) / mass
    top = int(np.clip(round(14 - cy - 0.5), 0, 28 - h))
    left = int(np.clip(round(14 - cx - 0.5), 0, 28 - w))
    out[top : top + h, left : left + w] = small
    return np.clip(out, 0.0, 1.0)


def _resize_matrix(n_out: int, n_in: int) -> np.ndarray:
    """R (n_out × n_in) with R @ v the area average of v over each output cell (box filter)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    pixels = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, pixels + 1) - np.maximum(lo, pixels), 0.0, None)
    return np.asarray(overlap / overlap.sum(axis=1, keepdims=True))
