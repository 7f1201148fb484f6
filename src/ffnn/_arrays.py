"""Array helpers shared by the math modules: the array namespace and dtype names.

The math in ``activations``, ``costs`` and ``network`` never names NumPy directly in its hot
paths; it asks its inputs for their namespace (NumPy 2's ``x.__array_namespace__()``), so an
array library with the same interface (CuPy, say) runs the same code.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

DTYPES = {"float32": np.float32, "float64": np.float64}


def namespace(x: Any) -> ModuleType:
    """The array namespace of ``x`` (``x.__array_namespace__()``), NumPy for anything else."""
    get = getattr(x, "__array_namespace__", None)
    return get() if get is not None else np


def resolve_dtype(dtype: Any) -> np.dtype[Any]:
    """``"float32"``/``"float64"`` (or the NumPy types) as a NumPy dtype; anything else is an error."""
    name = np.dtype(dtype).name if isinstance(dtype, (type, np.dtype)) else dtype
    if name not in DTYPES:
        raise ValueError(f"The 'dtype' parameter must be one of {sorted(DTYPES)}. Got {dtype!r} instead.")
    return np.dtype(DTYPES[name])
