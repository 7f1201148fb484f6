"""dtype names shared by the math and data modules: ``"float32"``/``"float64"`` and their NumPy types."""

from __future__ import annotations

from typing import Any

import numpy as np

from ffnn.errors import ParameterError

DTYPES = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype: Any) -> np.dtype[Any]:
    """``"float32"``/``"float64"`` (or the NumPy types) as a NumPy dtype; anything else is an error."""
    name = np.dtype(dtype).name if isinstance(dtype, (type, np.dtype)) else dtype
    if name not in DTYPES:
        raise ParameterError(f"The 'dtype' parameter must be one of {sorted(DTYPES)}. Got {dtype!r} instead.")
    return np.dtype(DTYPES[name])
