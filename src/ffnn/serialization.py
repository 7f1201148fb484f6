"""Model files: ``.npz`` arrays plus a JSON header. Never pickle.

A model file is a NumPy ``.npz`` archive holding

- ``header``: the UTF-8 bytes of a JSON object — ``format`` ("ffnn-model"), ``format_version``,
  ``ffnn_version``, ``sizes``, ``activations`` (one name per layer, with the leaky ReLU's slope),
  ``cost``, ``init``, ``dtype`` and free-form ``metadata`` (training settings, results);
- ``w1, b1, …, wL, bL``: the weights (n_l, n_{l−1}) and biases (n_l,) of each layer.

It is read with ``allow_pickle=False`` and checked whole — header fields, every array's presence,
shape, dtype and finiteness — before a network is built; any problem raises
:class:`ffnn.errors.ModelFileError` naming the file. It is written to a temporary name and renamed
into place, so a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ffnn._files import atomic_open, check_npz
from ffnn._version import __version__
from ffnn.activations import LeakyReLU
from ffnn.errors import ModelFileError
from ffnn.network import Network

FORMAT = "ffnn-model"
FORMAT_VERSION = 1
_MAX_HEADER = 1 << 20


def save(network: Network, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> None:
    """Write ``network`` and JSON-serialisable ``metadata`` (default: ``network.metadata``) to ``path``, atomically."""
    activations = [{"name": a.name, **({"slope": a.slope} if hasattr(a, "slope") else {})} for a in network.activations]
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ffnn_version": __version__,
        "sizes": network.sizes,
        "activations": activations,
        "cost": network.cost_function.name,
        "init": network.init,
        "dtype": network.dtype.name,
        "metadata": network.metadata if metadata is None else metadata,
    }
    arrays: dict[str, Any] = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    for l, (w, b) in enumerate(zip(network.weights, network.biases), start=1):
        arrays[f"w{l}"], arrays[f"b{l}"] = w, b
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_open(path) as f:
        f.write(buffer.getvalue())


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a model file, checked; the arrays are not read."""
    with _open(Path(path)) as archive:
        return _header(Path(path), archive)


def load(path: str | os.PathLike[str]) -> Network:
    """The network stored in ``path``; its training metadata is in ``network.metadata``."""

    path = Path(path)
    with _open(path) as archive:
        header = _header(path, archive)
        sizes = header["sizes"]
        dtype = np.dtype(header["dtype"])
        arrays = {}
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            for name, shape in ((f"w{l}", (n_out, n_in)), (f"b{l}", (n_out,))):
                arrays[name] = _array(path, archive, name, shape, dtype)
    layers = [LeakyReLU(a["slope"]) if a["name"] == "leaky_relu" else a["name"] for a in header["activations"]]
    try:
        net = Network(sizes, activation=layers, cost=header["cost"], init=header["init"], dtype=header["dtype"])
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{path}: the header describes no valid network ({e}).") from e
    net.weights = [arrays[f"w{l}"] for l in range(1, len(sizes))]
    net.biases = [arrays[f"b{l}"] for l in range(1, len(sizes))]
    net.metadata = header["metadata"]
    return net


@contextlib.contextmanager
def _open(path: Path) -> Iterator[Any]:
    """The .npz archive at ``path``, read without pickle; the file is closed however it ends."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file.")
    try:
        check_npz(path)
    except (ValueError, OSError) as e:
        raise ModelFileError(f"{path}: not an ffnn model file (not a readable .npz archive: {e}).") from e
    with open(path, "rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise ModelFileError(f"{path}: not an ffnn model file (not a readable .npz archive: {e}).") from e
        if not hasattr(archive, "files"):  # a plain .npy array, not an archive
            raise ModelFileError(f"{path}: not an ffnn model file (a single array, not an .npz archive).")
        try:
            with archive:
                yield archive
        except ModelFileError:
            raise
        except Exception as e:  # a member that passed the size check but still cannot be read
            raise ModelFileError(f"{path}: not an ffnn model file ({type(e).__name__}: {e}).") from e


def _header(path: Path, archive: Any) -> dict[str, Any]:
    if "header" not in archive.files:
        raise ModelFileError(f"{path}: not an ffnn model file (no header; arrays: {sorted(archive.files)}).")
    raw = _array(path, archive, "header", None, np.dtype(np.uint8))
    if raw.ndim != 1 or raw.size > _MAX_HEADER:
        raise ModelFileError(f"{path}: the header is not a JSON text of at most {_MAX_HEADER} bytes.")
    try:
        header = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: the header is not valid JSON ({e}).") from e
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an ffnn model file (its header does not say format={FORMAT!r}).")
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: the header has no valid format_version (got {version!r}).")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: written in model format {version} by ffnn {header.get('ffnn_version', '?')}; this ffnn "
            f"({__version__}) reads format {FORMAT_VERSION} and older. Upgrade ffnn to load it."
        )
    problems = _header_problems(header)
    if problems:
        raise ModelFileError(f"{path}: the header is malformed: {problems}.")
    return header


def _header_problems(header: dict[str, Any]) -> str:
    sizes, activations = header.get("sizes"), header.get("activations")
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(isinstance(s, int) and 0 < s < 2**31 for s in sizes)):
        return f"'sizes' must be a list of at least 2 positive integers, got {sizes!r}"
    if not (
        isinstance(activations, list)
        and len(activations) == len(sizes) - 1
        and all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in activations)
    ):
        return f"'activations' must list one {{'name': ...}} per layer, got {activations!r}"
    for key in ("cost", "init"):
        if not isinstance(header.get(key), str):
            return f"{key!r} must be a name, got {header.get(key)!r}"
    if header.get("dtype") not in ("float32", "float64"):
        return f"'dtype' must be 'float32' or 'float64', got {header.get('dtype')!r}"
    if not isinstance(header.get("metadata", {}), dict):
        return "'metadata' must be an object"
    return ""


def _array(path: Path, archive: Any, name: str, shape: tuple[int, ...] | None, dtype: np.dtype[Any]) -> np.ndarray:
    if name not in archive.files:
        raise ModelFileError(f"{path}: array {name!r} is missing; the file is truncated or not a complete model.")
    try:
        array = archive[name]
    except Exception as e:  # zip and npy layers raise many types for a damaged member
        raise ModelFileError(f"{path}: array {name!r} cannot be read ({e}).") from e
    if shape is not None and array.shape != shape:
        raise ModelFileError(f"{path}: array {name!r} has shape {array.shape}, the header's sizes need {shape}.")
    if array.dtype != dtype:
        raise ModelFileError(f"{path}: array {name!r} has dtype {array.dtype}, expected {dtype}.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ModelFileError(f"{path}: array {name!r} contains NaN or inf.")
    return np.ascontiguousarray(array)
