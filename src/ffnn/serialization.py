"""Model files: ``.npz`` arrays plus a JSON header. Never pickle.

A model file is a NumPy ``.npz`` archive holding

- ``header``: the UTF-8 bytes of a JSON object — ``format`` ("ffnn-model"), ``format_version``,
  ``ffnn_version``, ``sizes``, ``activations`` (one name per layer, with the leaky ReLU's slope),
  ``cost``, ``init``, ``dtype``, ``dropout`` (one rate per hidden layer) and ``input_dropout``
  (files without them have none), optionally ``classes`` (the class names, one per class: one
  per output neuron, or 2 for a single one) and ``standardization`` (``{"mean": [...], "std":
  [...]}``, one finite value per input, std > 0: the inputs are fed as (x − mean) / std) — files
  without them have class indices and raw inputs — ``reduction`` ("mean" or "sum": the cost's,
  files without it have "mean") and ``bias`` (false: the layers have no biases; files without it
  have them), and ``metadata``: free-form training settings and results. A model with a
  standardisation is written as format 2, so that an ffnn that reads format 1 only (and would
  feed it raw inputs) refuses it; a model without biases as format 3 (an older ffnn would look for
  its biases); any other model is still format 1;
- ``w1, b1, …, wL, bL``: the weights (n_l, n_{l−1}) and biases (n_l,) of each layer — no ``b``
  arrays for a model without biases.

It is read with ``allow_pickle=False`` and checked whole before a network is built, and before
any array is inflated: the header's fields; the size of the arrays its ``sizes`` and ``dtype``
imply, against the limit data files have (:func:`ffnn._files.max_data_bytes`:
``FFNN_MAX_DATA_BYTES``, 512 MiB by default, or ``load``'s ``max_bytes``); every array's presence,
shape and dtype as its ``.npy`` header declares them, against what ``sizes`` and ``dtype`` imply;
and the archive's total size against theirs — so a small file cannot make :func:`load` allocate
more than the model it claims to be, nor that beyond the limit — then each array's finiteness.
The network is built on the arrays read (:class:`ffnn.Network`'s ``parameters``), not filled in
after drawing random ones, so loading a model costs about its size once (plus a quarter of its
largest array, the finiteness check's). Any problem raises :class:`ffnn.errors.ModelFileError`
naming the file. It is written to a temporary name and renamed into place
(:func:`ffnn._files.atomic_open`: a symbolic link is written through, a device or FIFO refused),
so a crash mid-write leaves the previous file intact.

``metadata`` is the caller's, with one rule, because ``ffnn evaluate`` and ``ffnn plot`` read the
run's settings from it: its ``config``, if present, is an object whose ``dataset`` (if present) is
a name or path, and whose ``validation`` and ``seed`` (if present) are integers ≥ 0. :func:`save`
refuses metadata that breaks the rule (or is not JSON), :func:`load` refuses a file that does.

Model files are backend-free: :func:`save` writes a network of any backend (``ffnn.backends``) as
NumPy arrays, and :func:`load` puts them on the backend it is asked for.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ffnn._files import MAX_DATA_BYTES_VARIABLE, ArrayInfo, atomic_open, check_npz, max_data_bytes, too_large
from ffnn._version import __version__
from ffnn.activations import LeakyReLU
from ffnn.backends import get_backend
from ffnn.costs import REDUCTIONS
from ffnn.errors import ModelFileError, ParameterError, ParameterTypeError
from ffnn.network import Network, check_classes, check_standardization

FORMAT = "ffnn-model"
FORMAT_VERSION = 3  # 2: a model with a ``standardization``, which a reader of format 1 would ignore; 3: without biases
_MAX_HEADER = 1 << 20
_SLACK = 1 << 16  # bytes an archive may hold beyond its arrays' data (the .npy headers)


def save(network: Network, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> None:
    """Write ``network`` and JSON-serialisable ``metadata`` (default: ``network.metadata``) to ``path``, atomically.

    The model is checked first as :func:`load` checks a file — the same header rules, every
    array finite — so what saves always loads; a model that could not be loaded back is refused
    (ParameterError), naming what is wrong, and nothing is written. A model larger than what
    :func:`load` reads by default (``FFNN_MAX_DATA_BYTES``, 512 MiB) is written with a warning
    saying how to load it."""
    metadata = network.metadata if metadata is None else metadata
    problem = metadata_problem(metadata)
    if problem:
        raise ParameterError(f"The 'metadata' parameter breaks the model file's rule: {problem}.")
    header = _header_of(network, metadata)
    try:
        text = json.dumps(header, default=_plain)
    except (TypeError, ValueError) as e:
        raise ParameterTypeError(f"The 'metadata' parameter must be JSON-serialisable: {e}.") from e
    arrays: dict[str, Any] = {"header": np.frombuffer(text.encode(), dtype=np.uint8)}
    for l, (w, b) in enumerate(zip(network.weights, network.biases), start=1):
        arrays[f"w{l}"] = network.backend.to_numpy(w)
        if network.bias:
            arrays[f"b{l}"] = network.backend.to_numpy(b)
    problem = model_problem(header, arrays)
    if problem:
        raise ParameterError(
            f"This network cannot be saved, as a model file holding it could not be loaded: {problem}."
        )
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_open(path) as f:
        f.write(buffer.getvalue())
    size = sum(a.nbytes for name, a in arrays.items() if name != "header")
    try:
        limit = max_data_bytes()
    except ParameterError:  # FFNN_MAX_DATA_BYTES unreadable: load says so, to whoever loads the model
        return
    if size > limit:
        warnings.warn(
            f"{path} is saved, but its arrays take {size:,} bytes, more than the {limit:,} that ffnn.load reads "
            f"unless told: load it with max_bytes={size} (or {MAX_DATA_BYTES_VARIABLE}={size} set).",
            stacklevel=2,
        )


def model_problem(header: dict[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    """What keeps a model — its header and its arrays ``w1, b1, …`` — from loading, or "" if nothing:
    the one validity check, run by :func:`save` on what it would write and by :func:`load` on what it reads."""
    problem = _header_problems(header)
    if problem:
        return f"its header is malformed: {problem}"
    if len(arrays["header"]) > _MAX_HEADER:
        return (
            f"its header takes {len(arrays['header']):,} bytes, more than {_MAX_HEADER:,} (the metadata is too large)"
        )
    for name, array in arrays.items():
        problem = _array_problem(name, array)
        if problem:
            return problem
    return ""


def _header_of(network: Network, metadata: Any) -> dict[str, Any]:
    """The JSON header a model file of ``network`` holds (see the module docstring)."""
    activations = [{"name": a.name, **({"slope": a.slope} if hasattr(a, "slope") else {})} for a in network.activations]
    header: dict[str, Any] = {
        "format": FORMAT,
        "format_version": 3 if not network.bias else 2 if network.standardization is not None else 1,
        "ffnn_version": __version__,
        "sizes": network.sizes,
        "activations": activations,
        "cost": network.cost_function.name,
        "reduction": network.cost_function.reduction,
        "init": network.init,
        "bias": network.bias,
        "dtype": network.dtype.name,
        "dropout": network.dropout[1:],
        "input_dropout": network.dropout[0],
        "metadata": metadata,
    }
    if network.classes is not None:
        header["classes"] = network.classes
    if network.standardization is not None:
        mean, std = network.standardization
        header["standardization"] = {"mean": mean.tolist(), "std": std.tolist()}
    return header


def _plain(value: Any) -> Any:
    """NumPy scalars and small arrays in metadata as the JSON values they stand for."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"a {type(value).__name__} is not JSON-serialisable")


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON header of a model file, checked; the arrays are not read."""
    with _open(Path(path), max_data_bytes()) as (archive, members):
        return _header(Path(path), archive, members)


def load(
    path: str | os.PathLike[str], backend: str = "numpy", device: str | None = None, max_bytes: int | None = None
) -> Network:
    """The network stored in ``path``, its parameters on ``backend`` (and torch's ``device``: see
    :class:`ffnn.Network`); its training metadata is in ``network.metadata``.

    A model whose arrays take more than ``max_bytes`` (default: ``$FFNN_MAX_DATA_BYTES``, else
    512 MiB) is refused from its header, before any is read; the message says how to raise it."""
    get_backend(backend, device)  # an unknown or missing backend is the caller's error, not the file's
    limit = max_data_bytes(max_bytes)
    path = Path(path)
    with _open(path, limit) as (archive, members):
        header = _header(path, archive, members)
        sizes = header["sizes"]
        dtype = np.dtype(header["dtype"])
        shapes: dict[str, tuple[int, ...]] = {}
        bias = header.get("bias", True)
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            shapes[f"w{l}"] = (n_out, n_in)
            if bias:
                shapes[f"b{l}"] = (n_out,)
        size = sum(math.prod(shape) for shape in shapes.values()) * dtype.itemsize
        if size > limit:
            raise ModelFileError(too_large(f"{path}: its arrays (sizes {sizes}, {dtype})", size, limit))
        _check_members(path, members, shapes, dtype)
        arrays = {name: _array(path, archive, name) for name in shapes}
    layers = [LeakyReLU(a["slope"]) if a["name"] == "leaky_relu" else a["name"] for a in header["activations"]]
    try:
        net = Network(
            sizes,
            activation=layers,
            cost=header["cost"],
            reduction=header.get("reduction", "mean"),
            init=header["init"],
            bias=bias,
            dtype=header["dtype"],
            dropout=header.get("dropout", [0.0] * (len(sizes) - 2)),
            input_dropout=header.get("input_dropout", 0.0),
            backend=backend,
            device=device,
            parameters=[
                (arrays.pop(f"w{l}"), arrays.pop(f"b{l}") if bias else np.zeros(n, dtype))
                for l, n in enumerate(sizes[1:], start=1)
            ],
        )
    except (ValueError, TypeError) as e:
        raise ModelFileError(f"{path}: the header describes no valid network ({e}).") from e
    net.metadata = header["metadata"]
    net.classes = header.get("classes")  # both checked with the header, by the setters' own rules
    if "standardization" in header:
        net.standardization = (header["standardization"]["mean"], header["standardization"]["std"])
    return net


@contextlib.contextmanager
def _open(path: Path, limit: int) -> Iterator[tuple[Any, dict[str, ArrayInfo]]]:
    """The .npz archive at ``path``, read without pickle, and its arrays as their headers declare
    them (nothing inflated yet; in all, not much beyond ``limit`` bytes); the file is closed however it ends."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file.")
    with open(path, "rb") as f:
        try:
            members = check_npz(f, max(limit, 1 << 32) + _MAX_HEADER + _SLACK)
            f.seek(0)
            archive = np.load(f, allow_pickle=False)
        except Exception as e:  # zip and npy layers raise many types for a damaged file
            raise ModelFileError(f"{path}: not an ffnn model file (not a readable .npz archive: {e}).") from e
        if not hasattr(archive, "files"):  # a plain .npy array, not an archive
            raise ModelFileError(f"{path}: not an ffnn model file (a single array, not an .npz archive).")
        try:
            with archive:
                yield archive, members
        except ModelFileError:
            raise
        except Exception as e:  # a member that passed the size check but still cannot be read
            raise ModelFileError(f"{path}: not an ffnn model file ({type(e).__name__}: {e}).") from e


def _header(path: Path, archive: Any, members: dict[str, ArrayInfo]) -> dict[str, Any]:
    if "header" not in archive.files or "header" not in members:
        raise ModelFileError(f"{path}: not an ffnn model file (no header; arrays: {sorted(archive.files)}).")
    declared = members["header"]
    if len(declared.shape) != 1 or declared.dtype != np.uint8 or declared.nbytes > _MAX_HEADER:
        raise ModelFileError(
            f"{path}: array 'header' must be a JSON text (uint8 bytes) of at most {_MAX_HEADER:,} bytes; "
            f"it is {declared.dtype} of shape {declared.shape}."
        )
    raw = _array(path, archive, "header")
    try:
        header = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ModelFileError(f"{path}: the header is not valid JSON ({e}).") from e
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an ffnn model file (its header does not say format={FORMAT!r}).")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
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
    if not (
        isinstance(sizes, list)
        and len(sizes) >= 2
        and all(isinstance(s, int) and not isinstance(s, bool) and 0 < s < 2**31 for s in sizes)
    ):
        return f"'sizes' must be a list of at least 2 positive integers, got {sizes!r}"
    if not (
        isinstance(activations, list)
        and len(activations) == len(sizes) - 1
        and all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in activations)
    ):
        return f"'activations' must list one {{'name': ...}} per layer, got {activations!r}"
    for layer, a in enumerate(activations, start=1):
        if a["name"] == "leaky_relu" and not _rate(a.get("slope"), low_open=True):
            return f"layer {layer}'s 'leaky_relu' needs a 'slope', a number in (0, 1); got {a.get('slope', 'none')!r}"
    for key in ("cost", "init"):
        if not isinstance(header.get(key), str):
            return f"{key!r} must be a name, got {header.get(key)!r}"
    if header.get("reduction", "mean") not in REDUCTIONS:
        return f"'reduction' must be one of {list(REDUCTIONS)}, got {header.get('reduction')!r}"
    if not isinstance(header.get("bias", True), bool):
        return f"'bias' must be true or false, got {header.get('bias')!r}"
    if header.get("dtype") not in ("float32", "float64"):
        return f"'dtype' must be 'float32' or 'float64', got {header.get('dtype')!r}"
    dropout = header.get("dropout", [])
    if "dropout" in header and not (
        isinstance(dropout, list) and len(dropout) == len(sizes) - 2 and all(_rate(p) for p in dropout)
    ):
        return f"'dropout' must list one rate in [0, 1) per hidden layer ({len(sizes) - 2}), got {dropout!r}"
    if "input_dropout" in header and not _rate(header["input_dropout"]):
        return f"'input_dropout' must be a rate in [0, 1), got {header['input_dropout']!r}"
    classes = header.get("classes")
    if "classes" in header and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        return f"'classes' must be a list of class names (strings), got {classes!r}"
    standardization: Any = header.get("standardization")
    if "standardization" in header and not _standardization_shape(standardization, sizes[0]):
        return (
            f"'standardization' must be {{'mean': [...], 'std': [...]}} with {sizes[0]} finite numbers each "
            "(one per input) and every std > 0"
        )
    try:  # the network's own rules for these, as its setters apply them
        if "classes" in header:
            check_classes(classes, sizes[-1])
        if "standardization" in header:
            pair = (standardization["mean"], standardization["std"])
            check_standardization(pair, sizes[0], "standardization", np.dtype(header["dtype"]))
    except (ValueError, TypeError) as e:
        return str(e).rstrip(".")
    if "metadata" not in header:
        return "'metadata' is missing (an object, {} when there is none)"
    return metadata_problem(header["metadata"])


def _standardization_shape(value: Any, n_in: int) -> bool:
    """Whether ``value`` is {"mean": [...], "std": [...]}, ``n_in`` JSON numbers each (their rule: the network's)."""
    if not (isinstance(value, dict) and set(value) == {"mean", "std"}):
        return False
    return all(
        isinstance(value[key], list)
        and len(value[key]) == n_in
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value[key])
        for key in ("mean", "std")
    )


def _rate(value: Any, low_open: bool = False) -> bool:
    """Whether ``value`` is a JSON number in [0, 1) (in (0, 1) when ``low_open``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return False
    return (value > 0.0 if low_open else value >= 0.0) and value < 1.0


def metadata_problem(metadata: Any) -> str:
    """What breaks the rule for a model's ``metadata`` (see the module docstring), or "" if nothing."""
    if not isinstance(metadata, dict):
        return f"'metadata' must be an object, got {type(metadata).__name__}"
    if "config" not in metadata:
        return ""
    config = metadata["config"]
    if not isinstance(config, dict):
        return f"'metadata.config' must be an object (the run's settings), got {config!r}"
    if "dataset" in config and not (isinstance(config["dataset"], str) and config["dataset"]):
        return f"'metadata.config.dataset' must be a data set's name or a file, got {config['dataset']!r}"
    for key in ("validation", "seed"):
        value = config.get(key, 0)
        if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) >= 0):
            return f"'metadata.config.{key}' must be an integer >= 0, got {value!r}"
    return ""


def _check_members(path: Path, members: dict[str, ArrayInfo], shapes: dict[str, tuple[int, ...]], dtype: Any) -> None:
    """Every array the header's sizes need, as declared, before any is inflated; and no more data than they take."""
    for name, shape in shapes.items():
        if name not in members:
            raise ModelFileError(f"{path}: array {name!r} is missing; the file is truncated or not a complete model.")
        if members[name].shape != shape:
            raise ModelFileError(
                f"{path}: array {name!r} has shape {members[name].shape}, the header's sizes need {shape}."
            )
        if members[name].dtype != dtype:
            raise ModelFileError(f"{path}: array {name!r} has dtype {members[name].dtype}, expected {dtype}.")
    needed = sum(math.prod(shape) for shape in shapes.values()) * dtype.itemsize + members["header"].nbytes
    held = sum(m.stored for m in members.values())
    if held > needed + _SLACK:
        raise ModelFileError(
            f"{path}: holds {held:,} bytes of arrays, but its header describes a model that takes {needed:,} "
            "(header included); it is not a genuine ffnn model file."
        )


def _array(path: Path, archive: Any, name: str) -> np.ndarray:
    """One array, already checked against its declared shape and dtype: read, and checked finite."""
    try:
        array = archive[name]
    except Exception as e:  # zip and npy layers raise many types for a damaged member
        raise ModelFileError(f"{path}: array {name!r} cannot be read ({e}).") from e
    problem = _array_problem(name, array)
    if problem:
        raise ModelFileError(f"{path}: {problem}.")
    return np.ascontiguousarray(array)


def _array_problem(name: str, array: np.ndarray) -> str:
    """What is wrong with a model's array ``name`` (NaN or inf in it), or ""."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return f"array {name!r} contains NaN or inf"
    return ""
