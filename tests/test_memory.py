"""Memory in proportion to the file (issue 12, item 2): a ~1 MB file that inflates to a gigabyte of
zeros — as a model's weights, a data set's X, an IDX file of images — is refused from its headers,
before the gigabyte is allocated. Each case runs in a fresh Python process that reports its own
peak resident memory (``ru_maxrss``), which must stay under PEAK_MB.

The files are built here in a second: one deflate block of 1 MiB of zeros, compressed after a full
flush, decompresses the same wherever it stands, so a gigabyte of zeros is that block 1,024 times.
"""

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

PEAK_MB = 300  # a bare `import ffnn` peaks near 40 MB; the files below inflate to 1,024 MB or more
CHUNK = 1 << 20
GIB = 1 << 30


def deflated(prefix: bytes, zeros: int) -> tuple[bytes, int, int]:
    """(raw deflate stream, CRC-32, length) of ``prefix`` followed by ``zeros`` zero bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [compressor.compress(prefix), compressor.flush(zlib.Z_FULL_FLUSH)]
    block = compressor.compress(bytes(CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    parts.append(block * (zeros // CHUNK))
    parts += [compressor.compress(bytes(zeros % CHUNK)), compressor.flush()]
    crc = zlib.crc32(prefix)
    whole = bytes(CHUNK)
    for _ in range(zeros // CHUNK):
        crc = zlib.crc32(whole, crc)
    crc = zlib.crc32(bytes(zeros % CHUNK), crc)
    return b"".join(parts), crc, len(prefix) + zeros


def npy_header(shape, dtype) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write_zip(path, members):
    """An .npz of deflated members: name -> (raw deflate stream, CRC-32, uncompressed length)."""
    out, directory = bytearray(), bytearray()
    for name, (data, crc, size) in members.items():
        offset, encoded = len(out), name.encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0)
        out += encoded + data
        directory += struct.pack(
            "<IHHHHHHIIIHHHHHI", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0, 0, 0, 0, 0
        )
        directory += struct.pack("<I", offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(directory), len(out), 0)
    path.write_bytes(bytes(out + directory + end))


def small(array) -> tuple[bytes, int, int]:
    return deflated(npy(array), 0)


def model_header(sizes, dtype="float32") -> np.ndarray:
    header = {
        "format": "ffnn-model",
        "format_version": 1,
        "ffnn_version": "0.1.0",
        "sizes": sizes,
        "activations": [{"name": "sigmoid"}] * (len(sizes) - 1),
        "cost": "quadratic",
        "init": "normal",
        "dtype": dtype,
        "metadata": {},
    }
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


# The peak in kB. Linux's ru_maxrss carries over the parent's across fork and exec (a pytest
# process that held MNIST made every child "peak" at 400 MB); VmHWM is the new process's own.
_PEAK_KB = (
    "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')))"
    if sys.platform == "linux"
    else "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def peak(code: str, env: dict | None = None) -> tuple[str, float]:
    """(what ``code`` printed, its process's peak resident memory in MB), run in a fresh Python."""
    script = f"import resource, sys\n{code}\n{_PEAK_KB}\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    *lines, rss = done.stdout.strip().splitlines()
    return "\n".join(lines), int(rss) / (1 << 20 if sys.platform == "darwin" else 1 << 10)


def refused(call: str, error: str = "ffnn.errors.FFNNError") -> str:
    return f"import ffnn, ffnn.errors, ffnn.data\ntry:\n    {call}\nexcept {error} as e:\n    print(e)\n"


def test_a_model_file_whose_arrays_exceed_its_sizes_is_refused_before_inflating(tmp_path):
    """The issue's file: a 16384² float32 array of zeros, deflated to ~1 MB, under a header for [2, 3]."""
    path = tmp_path / "bomb.npz"
    write_zip(
        path,
        {
            "header.npy": small(model_header([2, 3])),
            "w1.npy": deflated(npy_header((16384, 16384), np.float32), 16384 * 16384 * 4),
            "b1.npy": small(np.zeros(3, np.float32)),
        },
    )
    assert path.stat().st_size < 1.5e6
    message, mb = peak(refused(f"ffnn.load({str(path)!r})", "ffnn.ModelFileError"))
    assert message == f"{path}: array 'w1' has shape (16384, 16384), the header's sizes need (3, 2)."
    assert mb < PEAK_MB, f"peak {mb:.0f} MB"


def test_a_model_file_with_more_data_than_its_sizes_need_is_refused(tmp_path):
    """Every array the sizes need is right, but a gigabyte more sits beside them."""
    path = tmp_path / "extra.npz"
    write_zip(
        path,
        {
            "header.npy": small(model_header([2, 3])),
            "w1.npy": small(np.zeros((3, 2), np.float32)),
            "b1.npy": small(np.zeros(3, np.float32)),
            "extra.npy": deflated(npy_header((GIB,), np.uint8), GIB),
        },
    )
    message, mb = peak(refused(f"ffnn.load({str(path)!r})", "ffnn.ModelFileError"))
    assert message == (
        f"{path}: holds 1,073,742,060 bytes of arrays, but its header describes a model that takes 236 "
        "(header included); it is not a genuine ffnn model file."
    )
    assert mb < PEAK_MB, f"peak {mb:.0f} MB"


def test_a_model_header_claiming_a_gigabyte_is_refused_before_reading_it(tmp_path):
    path = tmp_path / "header.npz"
    write_zip(path, {"header.npy": deflated(npy_header((GIB,), np.uint8), GIB)})
    message, mb = peak(refused(f"ffnn.load({str(path)!r})", "ffnn.ModelFileError"))
    assert message == (
        f"{path}: array 'header' must be a JSON text (uint8 bytes) of at most 1,048,576 bytes; "
        "it is uint8 of shape (1073741824,)."
    )
    assert mb < PEAK_MB, f"peak {mb:.0f} MB"


@pytest.fixture(scope="module")
def data_bomb(tmp_path_factory):
    """A ~1 MB data .npz whose X is 131072 × 1024 float64 zeros (1 GiB), with a y of 131072 labels."""
    path = tmp_path_factory.mktemp("data") / "data.npz"
    n = 131072
    write_zip(
        path,
        {
            "X.npy": deflated(npy_header((n, 1024), np.float64), n * 1024 * 8),
            "y.npy": deflated(npy_header((n,), np.int64), n * 8),
        },
    )
    assert path.stat().st_size < 1.5e6
    return path


def test_a_data_file_beyond_the_limit_is_refused_before_inflating(data_bomb):
    message, mb = peak(refused(f"ffnn.data.load_arrays({str(data_bomb)!r})"))
    assert message == (
        f"{data_bomb}: its arrays would take 1,074,790,400 bytes once read, more than the limit of 536,870,912 "
        "bytes; if the file is what you expect, raise the limit: set FFNN_MAX_DATA_BYTES (e.g. "
        "FFNN_MAX_DATA_BYTES=2G) or pass max_bytes=."
    )
    assert mb < PEAK_MB, f"peak {mb:.0f} MB"


def test_the_data_limit_is_set_by_parameter_or_environment(tmp_path, monkeypatch):
    from ffnn.data import load_arrays
    from ffnn.errors import DataFormatError, ParameterError

    np.savez(tmp_path / "d.npz", X=np.zeros((100, 3)), y=np.arange(100) % 2)  # 3,200 bytes of arrays
    with pytest.raises(DataFormatError, match=r"would take 3,200 bytes once read, more than the limit of 1,000 bytes"):
        load_arrays(tmp_path / "d.npz", max_bytes=1000)
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "3k")
    with pytest.raises(DataFormatError, match=r"more than the limit of 3,072 bytes"):
        load_arrays(tmp_path / "d.npz")
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "4kB")
    assert load_arrays(tmp_path / "d.npz")[0][0].shape == (100, 3)
    assert load_arrays(tmp_path / "d.npz", max_bytes=10**9)[0][0].shape == (100, 3)
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "lots")
    with pytest.raises(ParameterError, match=r"FFNN_MAX_DATA_BYTES must be a positive number of bytes.*Got 'lots'"):
        load_arrays(tmp_path / "d.npz")
    with pytest.raises(ParameterError, match=r"'max_bytes' parameter must be a positive integer. Got -1"):
        load_arrays(tmp_path / "d.npz", max_bytes=-1)


def test_a_data_file_within_the_limit_but_inconsistent_is_refused_from_its_headers(tmp_path):
    """With the limit raised, the headers still have to agree: X's 131072 rows against y's 10 labels."""
    path = tmp_path / "rows.npz"
    write_zip(
        path,
        {
            "X.npy": deflated(npy_header((131072, 1024), np.float64), GIB),
            "y.npy": small(np.arange(10)),
        },
    )
    env = {**__import__("os").environ, "FFNN_MAX_DATA_BYTES": "4G"}
    message, mb = peak(refused(f"ffnn.data.load_arrays({str(path)!r})"), env)
    assert message == f"{path}: X has 131072 rows but y has 10 labels."
    assert mb < PEAK_MB, f"peak {mb:.0f} MB"


def gzip_of(prefix: bytes, zeros: int) -> bytes:
    stream, crc, size = deflated(prefix, zeros)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + stream + struct.pack("<II", crc, size % (1 << 32))


def test_an_idx_gzip_claiming_a_gigabyte_is_refused_before_inflating(tmp_path):
    """1,400,000 images of 28×28 (1.1 GB), all zeros, in a ~1 MB .gz: beyond the limit."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_of(struct.pack(">BBBBIII", 0, 0, 8, 3, 1_400_000, 28, 28), 1_400_000 * 784))
    assert path.stat().st_size < 1.5e6
    message, mb = peak(refused(f"ffnn.data.idx.read_idx({str(path)!r})"))
    assert message.startswith(f"{path}: its data (shape (1400000, 28, 28)) would take 1,097,600,000 bytes once read,")
    assert "raise the limit: set FFNN_MAX_DATA_BYTES (e.g. FFNN_MAX_DATA_BYTES=2G)" in message
    assert mb < PEAK_MB, f"peak {mb:.0f} MB"


def test_training_on_an_idx_gzip_claiming_more_images_than_labels_costs_nothing(tmp_path):
    """`ffnn train` on MNIST files whose images claim 1,400,000 images for 60,000 labels — with the
    limit raised, so that only the claims' disagreement can refuse it — fails before reading them."""
    from ffnn.data.idx import write_idx

    folder = tmp_path / "mnist"
    folder.mkdir()
    images = folder / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip_of(struct.pack(">BBBBIII", 0, 0, 8, 3, 1_400_000, 28, 28), 1_400_000 * 784))
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.arange(60000, dtype=np.uint8) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28), np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(10, dtype=np.uint8))
    env = {**__import__("os").environ, "FFNN_MAX_DATA_BYTES": "4G", "FFNN_DATA": str(tmp_path)}
    code = (
        "import contextlib, io\nfrom ffnn.cli import main\nerr = io.StringIO()\n"
        f"with contextlib.redirect_stderr(err):\n    status = main(['train', '--out', {str(tmp_path / 'run')!r}])\n"
        "print(status, err.getvalue().strip())\n"
    )
    message, mb = peak(code, env)
    assert message == f"2 ffnn: error: {folder}: train-images-idx3-ubyte holds 1400000 images but " + (
        "train-labels-idx1-ubyte holds 60000 labels."
    )
    assert not (tmp_path / "run").exists()
    assert mb < PEAK_MB, f"peak {mb:.0f} MB"


def test_the_builders_make_what_they_claim(tmp_path):
    """The deflate trick above is sound: a small member decompresses to what was written."""
    stream, crc, size = deflated(b"head", 3 * CHUNK + 5)
    data = zlib.decompress(stream, -15)
    assert data == b"head" + bytes(3 * CHUNK + 5) and zlib.crc32(data) == crc and size == len(data)
    assert gzip.decompress(gzip_of(b"abc", 7)) == b"abc" + bytes(7)
    write_zip(tmp_path / "a.npz", {"a.npy": small(np.arange(5)), "b.npy": deflated(npy_header((4,), np.int8), 4)})
    with np.load(tmp_path / "a.npz") as archive:
        np.testing.assert_array_equal(archive["a"], np.arange(5))
        np.testing.assert_array_equal(archive["b"], np.zeros(4, np.int8))


# -- model files: limited as data files, read into the network without copies (issue 21) ----------

MODEL_PEAK_MB = 100  # what a refused model may cost, imports included (a bare `import ffnn`: ~40 MB)


def write_model_bomb(path, n=16384):
    """A model file of sizes [n, n] float32 whose zero weights are deflated: ~1 MB on disk for n²·4
    bytes read (1 GiB at n = 16384)."""
    write_zip(
        path,
        {
            "header.npy": small(model_header([n, n])),
            "w1.npy": deflated(npy_header((n, n), np.float32), n * n * 4),
            "b1.npy": small(np.zeros(n, np.float32)),
        },
    )


@pytest.fixture(scope="module")
def model_bomb(tmp_path_factory):
    """A ~1 MB model file that is what its header says — sizes [16384, 16384], float32 — but whose
    weights, all zeros, inflate to 1 GiB: only a limit on size can refuse it before reading."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    write_model_bomb(path)
    assert path.stat().st_size < 1.5e6
    return path


def cli(args) -> str:
    """Code that runs ``ffnn ARGS`` in-process and prints its exit status and error output."""
    return (
        "import contextlib, io\nfrom ffnn.cli import main\nerr = io.StringIO()\n"
        f"with contextlib.redirect_stderr(err):\n    status = main({[str(a) for a in args]!r})\n"
        "print(status, err.getvalue().strip())\n"
    )


@pytest.mark.parametrize("command", ["load", "evaluate", "predict", "export"])
def test_a_model_beyond_the_limit_is_refused_from_its_header(model_bomb, command, tmp_path):
    """Each command read the bomb whole, peaking at 4.1 GB (export: 7.2 GB, and wrote it out)."""
    inputs = tmp_path / "x.csv"
    inputs.write_text("0.5\n")
    code = {
        "load": refused(f"ffnn.load({str(model_bomb)!r})", "ffnn.ModelFileError"),
        "evaluate": cli(["evaluate", model_bomb]),
        "predict": cli(["predict", model_bomb, inputs]),
        "export": cli(["export", model_bomb, tmp_path / "m.onnx"]),
    }[command]
    message, mb = peak(code)
    reason = (
        f"{model_bomb}: its arrays (sizes [16384, 16384], float32) would take 1,073,807,360 bytes once read, "
        "more than the limit of 536,870,912 bytes; if the file is what you expect, raise the limit: set "
        "FFNN_MAX_DATA_BYTES (e.g. FFNN_MAX_DATA_BYTES=2G) or pass max_bytes=."
    )
    assert message == (reason if command == "load" else f"2 ffnn: error: {reason}")
    assert mb < MODEL_PEAK_MB, f"peak {mb:.0f} MB"
    assert not (tmp_path / "m.onnx").exists()


# Peak over the memory of a process that has imported everything (so imports do not count):
# its VmHWM is restarted from its current size by writing 5 to /proc/self/clear_refs.
_GROWTH = """
import ffnn, ffnn.export, onnx, onnx.checker, onnx.reference
def kib(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":"))
before = kib("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
{run}
print(before / 1024)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="reads Linux's /proc")
def test_a_valid_model_costs_about_its_size_once_in_load_and_export(tmp_path):
    """A 64 MiB model: ``load`` drew a float64 random network before filling it with the file's
    arrays (measured: 4.0× the model's size), ``export`` copied the weights into ONNX tensors, a
    graph, a model, the checker's and the evaluator's copies (7.3×). Measured now: 1.26× and 1.31×
    (the file's arrays, and a quarter of them for the finiteness check)."""
    import ffnn

    pytest.importorskip("onnx")
    model = tmp_path / "model.npz"
    ffnn.save(ffnn.Network([4096, 4096], seed=0), model)
    size = model.stat().st_size / (1 << 20)
    assert 64 < size < 65
    for run in (
        f"net = ffnn.load({str(model)!r})",
        f"ffnn.export.to_onnx(ffnn.load({str(model)!r}), {str(tmp_path / 'm.onnx')!r})",
    ):
        before, mb = peak(_GROWTH.format(run=run))
        growth = mb - float(before)
        assert growth < 1.5 * size, f"{run}: {growth:.0f} MB for a {size:.0f} MB model"
    assert 64 < (tmp_path / "m.onnx").stat().st_size / (1 << 20) < 65
