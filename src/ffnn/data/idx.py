"""IDX files, the format MNIST ships in: read and write, plain or gzip-compressed.

Layout (all integers big-endian):

    bytes 0–1   0x00 0x00
    byte  2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4d bytes    the size of each dimension, uint32
    the rest    the data, C order, big-endian, exactly Π sizes × itemsize bytes

Reading is strict: a wrong magic, an unknown type code, a header that disagrees with the data's
length (too short, or trailing bytes) each raise :class:`ffnn.errors.DataFormatError` naming the
file. The data's length is checked *before* its memory is allocated: against the file size for a
plain file, and for a gzip file against the most its compressed size can expand to (deflate
compresses at most 1032:1), then read in chunks into one buffer so that a lying header costs
nothing; and against a limit (``max_bytes``, ``$FFNN_MAX_DATA_BYTES``, 512 MiB by default).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ffnn._files import atomic_open, max_data_bytes, too_large
from ffnn.errors import DataFormatError, ParameterError

TYPE_CODES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_OF = {dtype.newbyteorder("="): code for code, dtype in TYPE_CODES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20


def read_idx(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> np.ndarray:
    """The array stored in the IDX file ``path`` (gzip-compressed or not), in native byte order.

    The data may take at most ``max_bytes`` (default: ``$FFNN_MAX_DATA_BYTES``, else 512 MiB);
    the header's claim is checked against that, and against what the file can hold, before any
    memory is allocated.
    """
    path = Path(path)
    limit = max_data_bytes(max_bytes)
    with _opened(path) as (f, capacity, plain):
        shape, dtype = _read_header(f, path)
        expected = math.prod(shape) * dtype.itemsize
        _check_claim(path, shape, expected, capacity, plain, limit)
        if plain:  # the size is already checked against the file's
            data = np.fromfile(f, dtype=dtype, count=math.prod(shape))
        else:
            data = _read_chunks(f, path, expected).view(dtype)
        return data.reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def read_idx_header(path: str | os.PathLike[str]) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) as the IDX file ``path`` declares them, checked against what the file can
    hold; the data is not read (a gzip file's first bytes only are inflated)."""
    path = Path(path)
    with _opened(path) as (f, capacity, plain):
        shape, dtype = _read_header(f, path)
        _check_claim(path, shape, math.prod(shape) * dtype.itemsize, capacity, plain, None)
        return shape, dtype.newbyteorder("=")


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[tuple[io.BufferedIOBase, int, bool]]:
    """(stream, the most data bytes the file can hold, whether it is plain); every read error names the file."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw) as f:
                    yield f, size * _MAX_DEFLATE_RATIO, False
            else:
                yield raw, size, True
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise DataFormatError(f"{path}: no such file.") from e
        raise DataFormatError(f"{path}: cannot be read as (gzip-compressed) IDX: {e}.") from e


def _read_header(f: io.BufferedIOBase, path: Path) -> tuple[tuple[int, ...], np.dtype[Any]]:
    magic = f.read(4)
    if len(magic) < 4 or magic[:2] != b"\x00\x00":
        raise DataFormatError(f"{path}: not an IDX file (it must start with bytes 00 00, found {magic[:2].hex(' ')}).")
    code, ndim = magic[2], magic[3]
    if code not in TYPE_CODES:
        known = ", ".join(f"0x{c:02X}" for c in TYPE_CODES)
        raise DataFormatError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known}).")
    header = f.read(4 * ndim)
    if len(header) < 4 * ndim:
        raise DataFormatError(f"{path}: truncated IDX header ({ndim} dimensions declared, file ends first).")
    return struct.unpack(f">{ndim}I", header), TYPE_CODES[code]


def _check_claim(
    path: Path, shape: tuple[int, ...], expected: int, capacity: int, plain: bool, limit: int | None
) -> None:
    """The header's claim against what the file can hold (exactly, for a plain file) and the limit."""
    room = capacity - 4 - 4 * len(shape)
    if expected > room or (plain and expected != room):
        have = f"{room:,}" if plain else f"at most {room:,}"
        raise DataFormatError(
            f"{path}: the header declares shape {shape} ({expected:,} bytes of data) but the file holds "
            f"{have} bytes; the file is truncated or not what it claims."
        )
    if limit is not None and expected > limit:
        raise DataFormatError(too_large(f"{path}: its data (shape {shape})", expected, limit))


def _read_chunks(f: io.BufferedIOBase, path: Path, expected: int) -> np.ndarray:
    """Exactly ``expected`` bytes, read in chunks into one buffer (no copy), and nothing after them."""
    data = np.empty(expected, dtype=np.uint8)
    view, got = data.data, 0
    while got < expected:
        n = f.readinto(view[got : got + min(_CHUNK, expected - got)])
        if not n:
            raise DataFormatError(f"{path}: truncated: {got:,} of the {expected:,} data bytes the header declares.")
        got += n
    if f.read(1):
        raise DataFormatError(f"{path}: trailing bytes after the {expected:,} data bytes the header declares.")
    return data


def write_idx(path: str | os.PathLike[str], array: Any) -> None:
    """Write ``array`` to ``path`` as IDX, gzip-compressed if the name ends in ``.gz``; atomically."""
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=")
    if native not in _CODE_OF:
        raise ParameterError(
            f"write_idx cannot store dtype {arr.dtype}; IDX holds uint8, int8, int16, int32, float32, float64."
        )
    if any(n >= 2**32 for n in arr.shape) or arr.ndim > 255:
        raise ParameterError(f"write_idx cannot store shape {arr.shape}: at most 255 dimensions of < 2**32 each.")
    code = _CODE_OF[native]
    payload = struct.pack(f">BBBB{arr.ndim}I", 0, 0, code, arr.ndim, *arr.shape)
    payload += np.ascontiguousarray(arr, dtype=TYPE_CODES[code]).tobytes()
    with atomic_open(path) as f:
        f.write(gzip.compress(payload, mtime=0) if str(path).endswith(".gz") else payload)
