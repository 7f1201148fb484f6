"""Checks made once at the public boundary. Each message names the parameter, the rule, the value
received and, where it helps, the fix (the scikit-learn convention)."""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from ffnn.errors import ParameterError, ParameterTypeError
from ffnn.outputs import labels_of


def check_sizes(sizes: Any) -> list[int]:
    """``sizes`` as a list of at least two positive ints (neurons per layer, input first)."""
    try:
        values = list(sizes)
    except TypeError:
        values = None
    if (
        values is None
        or len(values) < 2
        or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and int(s) > 0 for s in values)
    ):
        raise ParameterError(
            "The 'sizes' parameter must be a list of at least 2 positive integers "
            f"(input size first, e.g. [784, 30, 10]). Got {sizes!r} instead."
        )
    return [int(s) for s in values]


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a real number (not a bool) that float64 holds as a finite value.

    The one test of a number given by a user — a setting, an estimator's parameter, a field of a
    web request: NaN, ±inf and integers beyond float64's range (a JSON integer of 400 digits,
    which ``float()`` cannot convert) all fail it alike."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def check_number(value: Any, name: str, *, low: float, strict: bool = True, integer: bool = False) -> Any:
    """``value`` as a finite number > ``low`` (or ≥ ``low`` when not ``strict``)."""
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, numbers.Integral if integer else numbers.Real) and not isinstance(value, bool)
    ok = ok_type and is_finite_number(value) and (value > low if strict else value >= low)
    if not ok:
        bound = f"> {low}" if strict else f">= {low}"
        raise ParameterError(f"The '{name}' parameter must be {kind} {bound}. Got {value!r} instead.")
    return int(value) if integer else float(value)


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``seed`` as None or a non-negative int (what ``numpy.random.default_rng`` accepts)."""
    if seed is None:
        return None
    message = f"The '{name}' parameter must be None or a non-negative integer. Got {seed!r} instead."
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
        raise ParameterTypeError(message)
    if int(seed) < 0:
        raise ParameterError(message)
    return int(seed)


REAL_KINDS = "biuf"  # bool, signed and unsigned integers, floats: not complex, timedelta, datetime, text, objects


def _real_array(values: Any, name: str) -> np.ndarray:
    """``values`` as an array of real numbers (bool, integer or float), or ParameterTypeError."""
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as e:  # ragged nested lists, objects NumPy cannot convert
        raise ParameterTypeError(f"'{name}' must be a numeric array. It cannot be made one: {e}") from e
    if arr.dtype.kind not in REAL_KINDS:
        raise ParameterTypeError(
            f"'{name}' must be a numeric array of real numbers (bool, integer or float). "
            f"Got an array of dtype {arr.dtype} instead."
        )
    return arr


def as_inputs(X: Any, n_in: int, dtype: np.dtype[Any], name: str = "X") -> np.ndarray:
    """``X`` as a C-contiguous (n, n_in) array of ``dtype`` with finite entries."""
    arr = _real_array(X, name)
    if arr.ndim != 2 or arr.shape[1] != n_in:
        raise ParameterError(
            f"'{name}' must have shape (n_samples, {n_in}) to match the input layer. "
            f"Got shape {arr.shape} instead"
            + (" (reshape a single example with X.reshape(1, -1))." if arr.ndim == 1 else ".")
        )
    if arr.shape[0] == 0:
        raise ParameterError(f"'{name}' must contain at least one example. Got shape {arr.shape}.")
    return _finite_in(arr, dtype, name, "inputs")


def _finite_in(given: np.ndarray, dtype: np.dtype[Any], name: str, what: str) -> np.ndarray:
    """The 2-d real array ``given`` as a C-contiguous array of ``dtype``, every entry finite: NaN
    or inf is refused as such, and a finite value beyond ``dtype``'s range (1e300 in float32,
    which the cast makes inf) is named with the range and the fix: rescale the ``what``."""
    with np.errstate(over="ignore"):  # a value beyond the dtype's range becomes inf: named below
        arr = np.ascontiguousarray(given, dtype=dtype)
    if not np.isfinite(arr).all():
        row, column = (int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        value = given[row, column]
        if np.isfinite(value):
            raise ParameterError(
                f"'{name}' row {row} holds {value:.4g}, beyond {np.dtype(dtype)}'s range "
                f"(±{np.finfo(dtype).max:.3g}): rescale the {what}, or use float64."
            )
        raise ParameterError(
            f"'{name}' must be finite, but row {row} contains NaN or inf. Clean or impute the data first."
        )
    return arr


def as_targets(y: Any, n_samples: int, n_out: int, dtype: np.dtype[Any], name: str = "y") -> np.ndarray:
    """``y`` as a (n, n_out) target array of ``dtype``.

    Accepted: integer class labels of shape (n,) in [0, n_out) when n_out > 1 (one-hot encoded
    here, the only place labels become vectors); a (n, n_out) array of targets; or, for a single
    output neuron, target values of shape (n,).
    """
    arr = _real_array(y, name)
    if arr.shape[:1] != (n_samples,):
        raise ParameterError(f"'{name}' must have one entry per example ({n_samples}). Got shape {arr.shape} instead.")
    if arr.ndim == 1 and n_out > 1:
        if not np.issubdtype(arr.dtype, np.integer):
            raise ParameterTypeError(
                f"'{name}' of shape ({n_samples},) must hold integer class labels. "
                f"Got dtype {arr.dtype}; pass labels as integers or targets as shape ({n_samples}, {n_out})."
            )
        bad = (arr < 0) | (arr >= n_out)
        if bad.any():
            raise ParameterError(
                f"'{name}' class labels must lie in [0, {n_out}) for an output layer of {n_out} neurons. "
                f"Got {arr[bad][0]} at index {int(np.flatnonzero(bad)[0])}."
            )
        onehot = np.zeros((n_samples, n_out), dtype=dtype)
        onehot[np.arange(n_samples), arr] = 1.0
        return onehot
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != n_out:
        raise ParameterError(
            f"'{name}' must be class labels of shape ({n_samples},) or targets of shape "
            f"({n_samples}, {n_out}). Got shape {arr.shape} instead."
        )
    return _finite_in(arr, dtype, name, "targets")


def as_labels(y: Any, n_samples: int, n_out: int, name: str = "y") -> np.ndarray:
    """``y`` as integer class labels (n,): labels are checked, one-hot or target rows are argmaxed."""
    arr = np.asarray(y)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
        as_targets(arr, n_samples, n_out, np.dtype(np.float32), name)  # range and shape checks
        return arr.astype(np.intp)
    return labels_of(as_targets(arr, n_samples, n_out, np.dtype(np.float64), name))


def as_sample_weight(sample_weight: Any, n_samples: int, dtype: np.dtype[Any]) -> np.ndarray | None:
    """``sample_weight`` as None or a C-contiguous (n,) array of ``dtype``: finite, ≥ 0, not all 0."""
    if sample_weight is None:
        return None
    arr = _real_array(sample_weight, "sample_weight")
    if arr.shape != (n_samples,):
        raise ParameterError(
            f"'sample_weight' must have shape ({n_samples},), one weight per example. Got shape {arr.shape} instead."
        )
    given = np.asarray(arr, dtype=np.float64)  # checked as given, before a narrower dtype rounds it
    bad = ~np.isfinite(given) | (given < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"'sample_weight' must be finite and >= 0. Got {float(given[i])!r} at index {i}; clean or clip the weights."
        )
    if not given.any():
        raise ParameterError("'sample_weight' must not be all zero: at least one example must count.")
    out = np.ascontiguousarray(given / given.max(), dtype=dtype)  # only ratios matter: scaled into range
    if not np.isfinite(out).all() or not out.any():
        raise ParameterError("'sample_weight' spans a range the network's dtype cannot hold; rescale the weights.")
    return out


def printable(text: str) -> str:
    """``text`` with every character that is not printable — a control character (newline, ESC,
    DEL, C1), a format character (a right-to-left override), a line or paragraph separator — written
    as Python writes it in a string literal (``\\n``, ``\\x1b``, ``\\u202e``), the ASCII space kept.

    For strings a file chose (a model's class names) that reach a terminal: there they cannot
    start a new line, move the cursor or colour what follows."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


GIB = 2**30


def available_memory() -> int | None:
    """The bytes of memory this process can still take without swapping or being killed, as Linux
    estimates it (``MemAvailable`` in ``/proc/meminfo``); elsewhere the machine's physical memory
    (``os.sysconf``); None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # given in kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(needed: int, what: str, fix: str) -> None:
    """Refuse, before allocating, ``what`` that needs ``needed`` bytes when this machine has fewer
    available (:func:`available_memory`): ParameterError naming both sizes in GiB and ``fix``."""
    available = available_memory()
    if available is not None and needed > available:
        raise ParameterError(
            f"{what} needs about {needed / GIB:,.1f} GiB of memory, and this machine has {available / GIB:,.1f} GiB "
            f"available: {fix}."
        )
