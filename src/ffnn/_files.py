"""Files: atomic writes, and what an ``.npz``/``.npy`` file claims, read before NumPy allocates it.

:func:`atomic_open` writes to a temporary name in the same folder, then renames it into place: a
reader never sees a half-written file, and a failed write leaves whatever was there before. The
file gets the permissions a plain ``open(path, "wb")`` would give it (the umask's, or those of the
file it replaces). It writes regular files only: a path that is a folder, a device (``/dev/null``,
``/dev/full``), a FIFO or a socket is refused before anything is written — renaming over it would
replace that thing with a file — and a symbolic link is written through, as ``open()`` writes
through it: its final target is replaced and the link stays.

:func:`check_npz` and :func:`check_npy` read the zip directory and each array's ``.npy`` header —
a few hundred bytes — so callers can compare every shape and dtype with what they expect, and the
total with a limit, before a byte of data is inflated. Data files are limited by
:func:`max_data_bytes` (``FFNN_MAX_DATA_BYTES``, 512 MiB by default).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ffnn.errors import ParameterError


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path`` for binary writing; on success, rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is untouched. The file's mode is
    what ``open(path, "wb")`` would give: 0o666 less the umask for a new file, the old file's mode
    for one it replaces. An ``OSError`` of the file system (a missing or read-only folder, a full
    disk) names ``path``, never the temporary name.

    ``path`` must be a regular file or not exist: a folder (``IsADirectoryError``), a device, a
    FIFO or a socket (``OSError``) is refused before the temporary file is created, so nothing is
    written and the thing stays what it was (``ffnn export m.npz /dev/full``, run as root, used to
    turn the device into a file). A symbolic link is written through, as ``open(path, "wb")``
    would: the temporary file is made beside the link's final target (``os.path.realpath``), which
    is renamed over that target, so the link stays and points at the new file; its target is
    checked as ``path`` is (a link to ``/dev/null`` is refused), and a dangling link creates its
    target, as ``open()`` does. Errors name ``path`` and, for a link, its target.
    """
    target = Path(path)
    real = Path(os.path.realpath(target)) if os.path.islink(target) else target
    try:
        _require_regular(real)
        fd, tmp = _create_beside(real)
    except OSError as e:
        raise _naming(e, target, real) from e
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                yield f
            except OSError as e:  # the caller's own writes: a full disk, a file-size limit
                raise (_naming(e, target, real) if e.errno in _FULL else e) from e
            try:
                f.flush()
                os.fsync(f.fileno())
            except OSError as e:
                raise _naming(e, target, real) from e
        try:
            os.replace(tmp, real)
        except OSError as e:
            raise _naming(e, target, real) from e
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO}
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


_NOT_REGULAR = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def _require_regular(real: Path) -> None:
    """Refuse a ``real`` (links resolved) that exists and is not a regular file."""
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a folder; name a file in it")
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "a special file")
    raise OSError(f"it is {kind}, not a regular file, and would be replaced by one; name a file's path")


def _create_beside(target: Path) -> tuple[int, Path]:
    """A new file ``.<name>.<random>.tmp`` beside ``target``, created as ``open()`` would create it."""
    try:
        replaced: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        replaced = None
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, _CREATE | getattr(os, "O_BINARY", 0), 0o666)  # the kernel applies the umask
        except FileExistsError:
            continue
        if replaced is not None:
            try:
                os.fchmod(fd, replaced)
            except BaseException:
                os.close(fd)
                os.unlink(tmp)
                raise
        return fd, tmp
    raise FileExistsError(errno.EEXIST, f"no free temporary name beside {target}")


def _naming(error: OSError, target: Path, real: Path) -> OSError:
    """The same kind of error, saying which file could not be written (not the temporary name):
    ``target`` as given, and ``real``, where a link led, if it differs."""
    folder = real.parent
    if isinstance(error, FileNotFoundError) and not folder.is_dir():
        reason = f"the folder {folder} does not exist (create it first, or choose another path)"
    elif isinstance(error, NotADirectoryError):
        reason = f"{folder} is not a folder"
    else:
        reason = error.strerror or str(error)
    name = str(target) if real == target else f"{target} (a link to {real})"
    message = f"cannot write {name}: {reason}"
    return OSError(error.errno, message) if error.errno is not None else OSError(message)


# -- what an .npz or .npy file claims --------------------------------------------------------------

_NPY_MAGIC = b"\x93NUMPY"
_MAX_DEFLATE_RATIO = 1100  # deflate expands at most ~1032:1; a member claiming more is lying
DEFAULT_MAX_DATA_BYTES = 512 << 20
MAX_DATA_BYTES_VARIABLE = "FFNN_MAX_DATA_BYTES"


@dataclass(frozen=True)
class ArrayInfo:
    """One array as its ``.npy`` header declares it; ``stored`` is its uncompressed size in the file."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    stored: int

    @property
    def nbytes(self) -> int:
        count = 1
        for n in self.shape:
            count *= n
        return count * self.dtype.itemsize


def check_npz(path: str | os.PathLike[str] | IO[bytes], max_bytes: int = 1 << 32) -> dict[str, ArrayInfo]:
    """Each array of an ``.npz`` (by name, without ``.npy``) as its header declares it, checked.

    ``np.load`` allocates each array from its header's shape before reading the data, so a small
    file can ask for gigabytes. ``path`` may be an open binary file (read from its start). For every
    member this checks, from the zip directory and the
    ``.npy`` header alone: the declared data size equals the member's uncompressed size, the
    member does not expand beyond deflate's limit, and the total stays under ``max_bytes``.
    Callers compare the shapes and dtypes returned with what they expect before reading any.
    Raises ``ValueError`` (callers turn it into their own error type) with the reason.
    """
    try:
        return _check_npz(path, max_bytes)
    except ValueError:
        raise
    except Exception as e:  # zipfile raises many types (BadZipFile, NotImplementedError, struct.error, …)
        raise ValueError(f"{type(e).__name__}: {e}") from e


def _check_npz(path: str | os.PathLike[str] | IO[bytes], max_bytes: int) -> dict[str, ArrayInfo]:
    import zipfile

    total = 0
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.compress_size and info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
                raise ValueError(f"member {info.filename!r} claims to expand {info.file_size // info.compress_size}×")
            total += info.file_size
            if total > max_bytes:
                raise ValueError(f"its arrays would take more than {max_bytes:,} bytes")
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                shape, dtype, offset = _npy_header(member, f"member {info.filename!r}")
            array = ArrayInfo(shape, dtype, info.file_size - offset)
            if not dtype.hasobject and array.nbytes != array.stored:
                raise ValueError(
                    f"member {info.filename!r} declares {array.nbytes:,} bytes of data but holds {array.stored:,}"
                )
            arrays[info.filename.removesuffix(".npy")] = array
    return arrays


def check_npy(path: str | os.PathLike[str]) -> ArrayInfo:
    """The array of an ``.npy`` file as its header declares it, checked against the file's size.

    Raises ``ValueError`` with the reason (and ``OSError`` if the file cannot be read).
    """
    with open(path, "rb") as f:
        shape, dtype, offset = _npy_header(f, "the file")
        array = ArrayInfo(shape, dtype, os.fstat(f.fileno()).st_size - offset)
    if dtype.hasobject:
        raise ValueError("it holds Python objects, which would need pickle to load")
    if array.nbytes != array.stored:
        raise ValueError(
            f"its header declares shape {shape} of {dtype} ({array.nbytes:,} bytes of data) "
            f"but the file holds {array.stored:,}"
        )
    return array


def _npy_header(stream: IO[bytes], what: str) -> tuple[tuple[int, ...], np.dtype[Any], int]:
    """(shape, dtype, offset of the data) from the start of an ``.npy`` stream."""
    if stream.read(6) != _NPY_MAGIC:
        raise ValueError(f"{what} is not a .npy array")
    version = stream.read(2)
    if len(version) < 2 or version[0] not in (1, 2, 3):
        raise ValueError(f"{what} has an unknown .npy version")
    length_bytes = 2 if version[0] == 1 else 4
    header_length = int.from_bytes(stream.read(length_bytes), "little")
    if header_length > 65536:
        raise ValueError(f"{what} has an oversized header")
    raw = stream.read(header_length)
    try:
        fields = _literal(raw.decode("utf8" if version[0] == 3 else "latin1"))
        dtype = np.dtype(fields["descr"])
    except (ValueError, TypeError, KeyError, SyntaxError, MemoryError, RecursionError) as e:
        raise ValueError(f"{what} has an unreadable header ({e})") from e
    return fields["shape"], dtype, 8 + length_bytes + header_length


def _literal(header: str) -> dict[str, Any]:
    import ast

    fields = ast.literal_eval(header)
    if not isinstance(fields, dict) or not {"descr", "shape"} <= fields.keys():
        raise ValueError("not an array header")
    if not isinstance(fields["shape"], tuple) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in fields["shape"]
    ):
        raise ValueError(f"bad shape {fields['shape']!r}")
    return fields


# -- the size limit of data files ------------------------------------------------------------------

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_AMOUNT = re.compile(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def max_data_bytes(max_bytes: int | None = None) -> int:
    """The most bytes a data file's arrays may take once read: ``max_bytes`` if given, else
    ``$FFNN_MAX_DATA_BYTES`` (a number of bytes, or with a unit: ``2G``, ``800M``), else 512 MiB."""
    if max_bytes is not None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
            raise ParameterError(f"The 'max_bytes' parameter must be a positive integer. Got {max_bytes!r} instead.")
        return max_bytes
    text = os.environ.get(MAX_DATA_BYTES_VARIABLE, "")
    if not text.strip():
        return DEFAULT_MAX_DATA_BYTES
    match = _AMOUNT.fullmatch(text)
    if match is None or int(match.group(1)) < 1:
        raise ParameterError(
            f"{MAX_DATA_BYTES_VARIABLE} must be a positive number of bytes, optionally with a unit "
            f"(e.g. 2000000000 or 2G). Got {text!r} instead."
        )
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def too_large(what: str, size: int, limit: int) -> str:
    """The message for data that would exceed the limit: what, how much, and how to raise it."""
    return (
        f"{what} would take {size:,} bytes once read, more than the limit of {limit:,} bytes; if the file "
        f"is what you expect, raise the limit: set {MAX_DATA_BYTES_VARIABLE} (e.g. "
        f"{MAX_DATA_BYTES_VARIABLE}={_suggest(size)}) or pass max_bytes=."
    )


def _suggest(size: int) -> str:
    gib = -(-size // (1 << 30))
    return f"{gib}G"
