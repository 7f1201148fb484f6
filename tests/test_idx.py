"""IDX: round trip for every type code, plain and gzip; each malformed case has its message."""

import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from ffnn.data.idx import TYPE_CODES, read_idx, write_idx
from ffnn.errors import DataFormatError


@pytest.mark.parametrize("code", sorted(TYPE_CODES))
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_type_code(code, suffix, tmp_path, rng):
    dtype = TYPE_CODES[code].newbyteorder("=")
    if dtype.kind == "f":
        array = rng.standard_normal((3, 4, 5)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, (3, 4, 5), endpoint=True).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    raw = path.read_bytes()
    header = gzip.decompress(raw)[:4] if suffix else raw[:4]
    assert header == bytes([0, 0, code, 3])
    back = read_idx(path)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, array)


def test_one_dimensional_labels_and_empty_arrays(tmp_path):
    write_idx(tmp_path / "labels", np.arange(10, dtype=np.uint8))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels"), np.arange(10))
    write_idx(tmp_path / "empty", np.zeros((0, 28, 28), np.uint8))
    assert read_idx(tmp_path / "empty").shape == (0, 28, 28)


def idx_bytes(code=0x08, shape=(2, 3), data=None):
    header = struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape)
    return header + (bytes(int(np.prod(shape))) if data is None else data)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\x01\x02\x08\x01" + bytes(8), r"not an IDX file \(it must start with bytes 00 00, found 01 02\)"),
        (b"\x00", r"not an IDX file"),
        (idx_bytes(code=0x0A), r"unknown IDX type code 0x0A \(known: 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E\)"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", r"truncated IDX header \(3 dimensions declared"),
        (
            idx_bytes(shape=(2, 3), data=bytes(5)),
            r"declares shape \(2, 3\) \(6 bytes of data\) but the file holds 5 bytes",
        ),
        (
            idx_bytes(shape=(2, 3), data=bytes(7)),
            r"declares shape \(2, 3\) \(6 bytes of data\) but the file holds 7 bytes",
        ),
        (idx_bytes(code=0x0C, shape=(4,), data=bytes(15)), r"\(16 bytes of data\) but the file holds 15"),
    ],
)
def test_malformed_plain_files(content, match, tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_malformed_gzip_files(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(idx_bytes(shape=(2, 3), data=bytes(4))))
    with pytest.raises(DataFormatError, match=r"truncated: 4 of the 6 data bytes"):
        read_idx(path)
    path.write_bytes(gzip.compress(idx_bytes(shape=(2, 3), data=bytes(9))))
    with pytest.raises(DataFormatError, match=r"trailing bytes after the 6 data bytes"):
        read_idx(path)
    path.write_bytes(gzip.compress(idx_bytes())[:-12])  # cut inside the gzip stream
    with pytest.raises(DataFormatError, match=r"cannot be read as \(gzip-compressed\) IDX"):
        read_idx(path)
    path.write_bytes(b"\x1f\x8b" + bytes(30))
    with pytest.raises(DataFormatError, match=r"cannot be read"):
        read_idx(path)


def test_a_lying_header_is_refused_before_allocating(tmp_path):
    """10⁹ images of 28×28 claimed in a file of a few hundred bytes: refused at once, no 784 GB allocation."""
    for name, content in [
        ("plain", idx_bytes(shape=(10**9, 28, 28), data=bytes(100))),
        ("packed.gz", gzip.compress(idx_bytes(shape=(10**9, 28, 28), data=bytes(100)))),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        tracemalloc.start()
        with pytest.raises(DataFormatError, match=r"declares shape \(1000000000, 28, 28\) \(784,000,000,000 bytes"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1_000_000  # bytes (NumPy reports its arrays to tracemalloc): nothing of that size was allocated


def test_missing_file_and_unsupported_dtype(tmp_path):
    with pytest.raises(DataFormatError, match="no such file"):
        read_idx(tmp_path / "nope")
    with pytest.raises(ValueError, match="write_idx cannot store dtype int64"):
        write_idx(tmp_path / "x", np.arange(3))
    assert not list(tmp_path.iterdir())  # nothing half-written
