"""Hostile files: mutated IDX, .npz, model and CSV files (truncated, bytes flipped, header bytes
overwritten, bytes inserted), 1,000 cases per format. Every reader either loads the data or
raises ffnn's own error with a message — never another exception, never a huge allocation.

Formats with an integrity check (gzip and zip carry CRC-32s) must load *equal* data when they
load at all; plain IDX and CSV have no checksum, so a changed data byte can only be seen as
different but well-formed data.
"""

import ast
import gzip
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ffnn
from ffnn.data.arrays import load_arrays
from ffnn.data.idx import read_idx, write_idx
from ffnn.errors import DataFormatError

FOLDER = Path(tempfile.mkdtemp(prefix="ffnn-fuzz-"))
CASES = settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fixed_zip(path: Path) -> bytes:
    """The .npz at ``path`` rewritten with fixed timestamps, so every run fuzzes the same bytes."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0)), source.read(info))
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def mutations(size: int):
    """A list of 1-3 edits of a file of ``size`` bytes."""
    position = st.integers(0, max(size - 1, 0))
    edit = st.one_of(
        st.tuples(st.just("truncate"), position, st.just(0)),
        st.tuples(st.just("flip"), position, st.integers(1, 255)),
        st.tuples(st.just("header"), st.integers(0, min(size, 64) - 1), st.integers(0, 255)),
        st.tuples(st.just("insert"), position, st.integers(0, 255)),
    )
    return st.lists(edit, min_size=1, max_size=3)


def mutate(content: bytes, edits) -> bytes:
    data = bytearray(content)
    for kind, at, value in edits:
        at = min(at, max(len(data) - 1, 0))
        if kind == "truncate":
            del data[at:]
        elif kind in ("flip", "header") and data:
            data[at] = data[at] ^ value if kind == "flip" else value
        elif kind == "insert":
            data[at:at] = bytes([value])
    return bytes(data)


def check(read, path: Path, content: bytes, edits, errors=(DataFormatError,)):
    """``read(path)`` on the mutated file: the value it returns, or None after ffnn's own error."""
    path.write_bytes(mutate(content, edits))
    try:
        return read(path)
    except errors as e:
        message = str(e)
    assert message and "Traceback" not in message
    return None


# -- IDX ---------------------------------------------------------------------------------------------

IMAGES = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
write_idx(FOLDER / "base-idx", IMAGES)
IDX = (FOLDER / "base-idx").read_bytes()
IDX_GZ = gzip.compress(IDX, mtime=0)


@CASES
@given(edits=mutations(len(IDX)))
def test_fuzz_plain_idx(edits):
    array = check(read_idx, FOLDER / "plain-idx", IDX, edits)
    if array is not None:  # no checksum: well-formed, whatever it holds
        assert array.dtype.isnative and array.size * array.itemsize <= len(IDX) + 4


@CASES
@given(edits=mutations(len(IDX_GZ)))
def test_fuzz_gzip_idx(edits):
    array = check(read_idx, FOLDER / "packed-idx.gz", IDX_GZ, edits)
    if array is not None:  # gzip's CRC-32: the same data or an error
        np.testing.assert_array_equal(array, IMAGES)


# -- the user's .npz ------------------------------------------------------------------------------

rng = np.random.default_rng(1)
NPZ_X, NPZ_Y = rng.standard_normal((8, 3)), np.array([0, 1, 2, 0, 1, 2, 0, 1])
np.savez(FOLDER / "base.npz", X=NPZ_X, y=NPZ_Y, X_test=NPZ_X[:2], y_test=NPZ_Y[:2])
NPZ = fixed_zip(FOLDER / "base.npz")


@CASES
@given(edits=mutations(len(NPZ)))
def test_fuzz_npz(edits):
    loaded = check(load_arrays, FOLDER / "mutated.npz", NPZ, edits)
    if loaded is not None:  # zip's CRC-32: the same arrays or an error
        (X, y), _ = loaded
        np.testing.assert_array_equal(X, NPZ_X)
        np.testing.assert_array_equal(y, NPZ_Y)


# -- model files ----------------------------------------------------------------------------------

NET = ffnn.Network([5, 4, 3], ["tanh", "softmax"], cost="cross_entropy", dtype="float64", seed=2)
ffnn.save(NET, FOLDER / "base-model.npz", {"note": "fuzz"})
MODEL = fixed_zip(FOLDER / "base-model.npz")


@CASES
@given(edits=mutations(len(MODEL)))
def test_fuzz_model(edits):
    net = check(ffnn.load, FOLDER / "mutated-model.npz", MODEL, edits)
    if net is not None:
        assert net.sizes == NET.sizes
        for p, q in zip(net.parameters(), NET.parameters()):
            np.testing.assert_array_equal(p, q)


# -- CSV ------------------------------------------------------------------------------------------

CSV = b"a,b,label\n0.5,1.5,0\n2.0,-1.0,1\n3.25,0.0,2\n-4.0,8.5,1\n"


@CASES
@given(edits=mutations(len(CSV)))
@pytest.mark.filterwarnings("ignore::UserWarning")  # a mutated file may load with a warning (a header of numbers)
def test_fuzz_csv(edits):
    loaded = check(load_arrays, FOLDER / "mutated.csv", CSV, edits)
    if loaded is not None:  # no checksum: well-formed, whatever it holds
        (X, y), test = loaded
        assert X.ndim == 2 and len(X) == len(y) and np.isfinite(X).all()
        assert y.dtype.kind == "i" and y.min() >= 0 and len(np.unique(y)) >= 2 and test is None


def test_regression_unsupported_zip_version_is_a_format_error():
    """Found by this file's fuzzing in CI: zipfile raised NotImplementedError ("zip file version
    10.9") for a mutated "version needed to extract" field, past every reader."""
    for content, read, error in ((NPZ, load_arrays, DataFormatError), (MODEL, ffnn.load, ffnn.ModelFileError)):
        data = bytearray(content)
        directory = data.find(b"PK\x01\x02")
        data[directory + 6 : directory + 8] = (109).to_bytes(2, "little")
        path = FOLDER / "version.npz"
        path.write_bytes(bytes(data))
        with pytest.raises(error, match=r"zip file version 10\.9"):
            read(path)


@given(st.text())
@settings(max_examples=1000)
def test_printable_text_cannot_drive_a_terminal(text):
    """Issue 21: a model's class names reached the terminal raw (a newline printed a fake result line,
    ESC sequences coloured it). Escaped, no character of a name is a control, format or separator one,
    and the escapes are Python's own: evaluating them as a string literal gives the name back."""
    from ffnn._validation import printable

    shown = printable(text)
    assert all(c.isprintable() for c in shown)
    if "\\" not in text and "'" not in text:  # a name's own backslashes and quotes are shown as they are
        assert ast.literal_eval(f"'{shown}'") == text
    assert printable("cat\n\x1b[31mdog\u202e\x7f é ²") == "cat\\n\\x1b[31mdog\\u202e\\x7f é ²"
