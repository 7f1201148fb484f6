"""Atomic file writing: write to a temporary name in the same folder, then rename into place.

A reader never sees a half-written file, and a failed write leaves whatever was there before.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path`` for binary writing; on success, rename it to ``path``.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_NPY_MAGIC = b"\x93NUMPY"
_MAX_DEFLATE_RATIO = 1100  # deflate expands at most ~1032:1; a member claiming more is lying


def check_npz(path: str | os.PathLike[str], max_bytes: int = 1 << 32) -> None:
    """Refuse an .npz whose members would make NumPy allocate more than the file can hold.

    ``np.load`` allocates each array from its header's shape before reading the data, so a small
    file can ask for gigabytes. For every member this checks, from the zip directory and the
    ``.npy`` header alone: the declared data size equals the member's uncompressed size, the
    member does not expand beyond deflate's limit, and the total stays under ``max_bytes``.
    Raises ``ValueError`` (callers turn it into their own error type) with the reason.
    """
    try:
        _check_npz(path, max_bytes)
    except ValueError:
        raise
    except Exception as e:  # zipfile raises many types (BadZipFile, NotImplementedError, struct.error, …)
        raise ValueError(f"{type(e).__name__}: {e}") from e


def _check_npz(path: str | os.PathLike[str], max_bytes: int) -> None:
    import zipfile

    import numpy as np

    total = 0
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
                if member.read(6) != _NPY_MAGIC:
                    raise ValueError(f"member {info.filename!r} is not a .npy array")
                major, _ = member.read(2)
                length_bytes = 2 if major == 1 else 4
                header_length = int.from_bytes(member.read(length_bytes), "little")
                if header_length > 65536:
                    raise ValueError(f"member {info.filename!r} has an oversized header")
                header = member.read(header_length).decode("latin1")
            try:
                fields = _literal(header)
                dtype = np.dtype(fields["descr"])
                count = int(np.prod(fields["shape"], dtype=np.int64)) if fields["shape"] else 1
            except (ValueError, TypeError, KeyError, SyntaxError) as e:
                raise ValueError(f"member {info.filename!r} has an unreadable header ({e})") from e
            declared = count * dtype.itemsize
            stored = info.file_size - 8 - length_bytes - header_length
            if not dtype.hasobject and declared != stored:
                raise ValueError(f"member {info.filename!r} declares {declared:,} bytes of data but holds {stored:,}")


def _literal(header: str) -> dict[str, Any]:
    import ast

    fields = ast.literal_eval(header)
    if not isinstance(fields, dict) or not {"descr", "shape"} <= fields.keys():
        raise ValueError("not an array header")
    if not isinstance(fields["shape"], tuple) or not all(isinstance(n, int) and n >= 0 for n in fields["shape"]):
        raise ValueError(f"bad shape {fields['shape']!r}")
    return fields
