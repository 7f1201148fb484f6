"""Array backends: the library that holds a network's arrays, and the namespace its math calls.

| backend              | arrays                                  | install                              |
|----------------------|-----------------------------------------|--------------------------------------|
| ``numpy``            | NumPy (the default)                     | nothing                              |
| ``torch``            | PyTorch tensors on ``device`` (``cpu``, ``cuda``, ``cuda:1``) | ``pip install 'ffnn[torch]'`` |
| ``cupy``             | CuPy arrays on the current GPU          | ``pip install 'ffnn[cupy]'``         |
| ``array_api_strict`` | the array API standard and nothing more | ``pip install 'ffnn[array-api]'``    |

The math (``ffnn.activations``, ``ffnn.costs``, ``ffnn.backprop``, ``ffnn.optimizers``,
``ffnn.steps``, the max-norm and finiteness checks of ``ffnn.training``) is written once, in
NumPy's dialect restricted to functions the Python array API standard also has, and calls the
namespace of the arrays it is given, :func:`namespace`:

- for NumPy arrays, NumPy itself: the ``out=`` buffers, the fused GEMM of ``ffnn._blas`` and the
  float32 subnormal flushing run exactly as they did before there were backends;
- for any other library, ``array_api_compat.array_namespace(x)`` wrapped so that NumPy's ``out=``
  keeps its meaning: ``f(…, out=o)`` computes f(…) and writes it into o, cast to o's dtype (as
  NumPy's ``out=`` casts). ``array_api_strict``, which has nothing beyond the standard, proves
  that nothing NumPy-only is left in the math.

The boundary stays NumPy: inputs and targets are checked on the host before they are copied
over, every public result (predictions, scores, gradients) comes back as NumPy, and model files
and checkpoints hold NumPy arrays only. Random numbers (initial weights, shuffling, dropout
masks) are drawn from NumPy's seeded ``Generator`` on the host and copied, so every backend sees
the same draws and, in float64, the same weights as NumPy up to rounding (≤ 1e-10 after several
epochs in ``tests/test_backends.py``). ``array_api_compat`` and the libraries themselves are
imported only when such a backend is asked for.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ffnn._blas import gemm_at_b, gemm_at_b_portable
from ffnn.errors import ExtraNotInstalledError, ParameterError

Array = Any

_INSTALL = {  # backend → (the package its arrays come from, how to install it)
    "torch": ("torch", "pip install 'ffnn[torch]'"),
    "cupy": ("cupy", "pip install 'ffnn[cupy]'"),
    "array_api_strict": ("array_api_strict", "pip install 'ffnn[array-api]'"),
}
BACKENDS = ("numpy", *_INSTALL)


@dataclass(frozen=True, eq=False)
class Backend:
    """One array library on one device: ``xp`` (the namespace the math calls), copies to and from the host.

    Get one from :func:`get_backend`; ``NUMPY`` is the default.
    """

    name: str
    device: str | None
    xp: Any
    gemm_at_b: Callable[[float, Array, Array, float, Array], Array]  # c ← β c + α aᵀ b, in place
    _library: Any  # the library's own array-API namespace (dtypes, asarray)
    _to_host: Callable[[Array], np.ndarray]

    @property
    def on_host(self) -> bool:
        """Whether the arrays live in the host's memory (NumPy, array_api_strict, torch on the CPU), not a GPU's."""
        return self.name in ("numpy", "array_api_strict") or (self.name == "torch" and self.device in ("cpu", "cpu:0"))

    def asarray(self, x: np.ndarray) -> Array:
        """The host array ``x`` in this backend: ``x`` itself for NumPy, else a copy on the device."""
        if self._library is np:
            return x
        return self._library.asarray(x, device=self.device)

    def to_numpy(self, x: Array) -> np.ndarray:
        """``x`` as a NumPy array on the host (NumPy's own arrays as they are: it may share memory)."""
        return self._to_host(x)

    def empty(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
        """An uninitialised array of ``shape`` and the float ``dtype`` (named as NumPy names it)."""
        return self._library.empty(shape, dtype=getattr(self._library, dtype.name), device=self.device)

    def zeros(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Array:
        """An array of zeros of ``shape`` and the float ``dtype`` (named as NumPy names it)."""
        return self._library.zeros(shape, dtype=getattr(self._library, dtype.name), device=self.device)

    def copy(self, x: Array) -> Array:
        """A copy of the backend array ``x``."""
        return self._library.asarray(x, copy=True)

    def uniform(self, rng: np.random.Generator, out: Array, dtype: np.dtype[Any]) -> Array:
        """``out`` filled with U[0, 1) draws from the host ``rng`` (the same draws on every backend)."""
        if self._library is np:
            return rng.random(dtype=dtype, out=out)
        out[...] = self.asarray(rng.random(tuple(out.shape), dtype=dtype))
        return out

    def to_host(self, tree: Any) -> Any:
        """``tree`` (lists, tuples, dicts of arrays and plain values) with its arrays copied to NumPy."""
        return _map_arrays(tree, lambda x: np.array(self.to_numpy(x)), self._is_array)

    def from_host(self, tree: Any) -> Any:
        """``tree`` with its NumPy arrays copied into this backend (the inverse of :meth:`to_host`)."""
        return _map_arrays(tree, lambda x: self.asarray(np.array(x)), lambda x: isinstance(x, np.ndarray))

    def _is_array(self, x: Any) -> bool:
        """Whether ``x`` is an array of this backend (NumPy values in another's tree are already on the host)."""
        if self._library is np:
            return isinstance(x, np.ndarray)
        return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (np.ndarray, np.generic))

    def __reduce__(self) -> tuple[Any, tuple[str, str | None]]:
        """Pickled, and deep-copied, by name: the same backend comes back (``get_backend``)."""
        return get_backend, (self.name, self.device)

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, device={self.device!r})"


NUMPY = Backend("numpy", None, np, gemm_at_b, np, np.asarray)


def _map_arrays(tree: Any, f: Callable[[Any], Any], is_array: Callable[[Any], bool]) -> Any:
    if is_array(tree):
        return f(tree)
    if isinstance(tree, (list, tuple)):
        items = [_map_arrays(x, f, is_array) for x in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else type(tree)(items)  # a NamedTuple takes fields
    if isinstance(tree, dict):
        return {k: _map_arrays(v, f, is_array) for k, v in tree.items()}
    return tree


def namespace(x: Array) -> Any:
    """The namespace the math calls for the array ``x``: NumPy for NumPy arrays, else ``x``'s
    array-API namespace taking NumPy's ``out=`` (see the module docstring), looked up once per
    array type (the math asks dozens of times a mini-batch)."""
    if isinstance(x, np.ndarray):
        return np
    xp = _NAMESPACES.get(type(x))
    if xp is None:
        import array_api_compat  # only ever reached with another library's arrays

        xp = _NAMESPACES[type(x)] = _with_out(array_api_compat.array_namespace(x))
    return xp


_NAMESPACES: dict[type, Any] = {}  # array type → its namespace, as namespace() found it


@functools.cache
def _with_out(xp: Any) -> _WithOut:
    return _WithOut(xp)


class _WithOut:
    """An array-API namespace whose functions also take NumPy's ``out=``: computed, then written
    into ``out`` (cast to its dtype, as NumPy's ``out=`` casts)."""

    def __init__(self, xp: Any) -> None:
        self._xp = xp

    def __getattr__(self, name: str) -> Any:
        function = getattr(self._xp, name)
        if not callable(function) or isinstance(function, type):  # constants and dtypes pass as they are
            return function
        xp = self._xp

        def call(*args: Any, out: Array | None = None, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            if out is None:
                return result
            out[...] = result if result.dtype == out.dtype else xp.astype(result, out.dtype)
            return out

        setattr(self, name, call)  # looked up once per name
        return call


@functools.cache
def get_backend(name: str = "numpy", device: str | None = None) -> Backend:
    """The backend ``name`` (one of ``BACKENDS``) on ``device`` (torch only: ``cpu`` by default, or ``cuda``…).

    An unknown name or a device the library does not have is a :class:`ffnn.errors.ParameterError`;
    a library that is not installed an :class:`ffnn.errors.ExtraNotInstalledError` saying what to install.
    """
    if name not in BACKENDS:
        raise ParameterError(f"The 'backend' parameter must be one of {list(BACKENDS)}. Got {name!r} instead.")
    if name != "torch" and device not in (None, "cpu" if name != "cupy" else "cuda"):
        raise ParameterError(f"The 'device' parameter is for the torch backend; {name!r} takes none. Got {device!r}.")
    if name == "numpy":
        return NUMPY
    package, install = _INSTALL[name]
    try:
        import array_api_compat

        library = importlib.import_module(package)
    except ImportError as e:
        raise ExtraNotInstalledError(f"The {name!r} backend needs the {e.name or package} package: {install}.") from e
    if name == "torch":
        device = _torch_device(library, device or "cpu")
        to_host: Callable[[Array], np.ndarray] = lambda x: x.detach().cpu().numpy()  # noqa: E731
    elif name == "cupy":
        device, to_host = None, lambda x: x.get()
    else:
        device, to_host = None, np.asarray
    try:
        probe = library.asarray([0.0]) if device is None else library.asarray([0.0], device=device)  # CuPy: no device=
        xp = array_api_compat.array_namespace(probe)
        to_host(probe)  # a device whose arrays hold no values (torch's "meta") cannot train
    except Exception as e:
        on = "" if device is None else f" on device {device!r}"
        raise ParameterError(
            f"The {name!r} backend cannot make an array{on} and read it back here ({type(e).__name__}: "
            f"{' '.join(str(e).split())}){'; use cpu, or cuda on a GPU' if on else ''}."
        ) from e
    return Backend(name, device, _with_out(xp), gemm_at_b_portable, xp, to_host)


def _torch_device(torch: Any, device: str) -> str:
    """``device`` checked: a device torch knows, and has (CUDA only with a GPU)."""
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError) as e:
        raise ParameterError(
            f"The 'device' parameter must be a torch device (cpu, cuda, cuda:1). Got {device!r}."
        ) from e
    if kind == "cuda" and not torch.cuda.is_available():
        raise ParameterError(f"device={device!r}: torch sees no CUDA GPU here; use device='cpu'.")
    return device
