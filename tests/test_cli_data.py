"""`ffnn data fetch` and `ffnn data info`, through the real installed command."""

import gzip
import hashlib
import subprocess
import sys

import numpy as np
import pytest

from ffnn.data import mnist
from ffnn.data.idx import write_idx

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "ffnn", *args], capture_output=True, text=True, env=env)


def test_info_on_a_folder_of_files(tmp_path, rng, monkeypatch):
    names = list(mnist.MNIST.files)
    arrays = [
        rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
        np.arange(12, dtype=np.uint8) % 10,
        rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        np.arange(5, dtype=np.uint8),
    ]
    for name, array in zip(names, arrays):
        write_idx(tmp_path / f"{name}.gz", array)
    done = run("data", "info", "mnist", "--path", str(tmp_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"MNIST in {tmp_path}"
    digest = hashlib.sha256(gzip.decompress((tmp_path / f"{names[0]}.gz").read_bytes())).hexdigest()
    assert f"content sha256 {digest} (DIFFERS from the known checksum)" in lines[1]
    assert "12 images 28×28; class counts 0:2 1:2 2:1" in done.stdout
    assert "5 images 28×28; class counts 0:1 1:1 2:1 3:1 4:1 5:0" in done.stdout


def test_info_on_missing_files_and_bad_names(tmp_path):
    done = run("data", "info", "mnist", "--path", str(tmp_path))
    assert done.returncode == 2  # a missing data set is the user's to fetch: a usage error (issue 12)
    assert "train-images-idx3-ubyte is missing; fetch the data set with: ffnn data fetch mnist" in done.stderr
    done = run("data", "fetch", "cifar")
    assert done.returncode == 2
    assert "invalid choice: 'cifar'" in done.stderr


def test_fetch_failure_is_one_clear_error(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    done = run("data", "fetch", "fashion-mnist", "--path", str(blocked))
    assert done.returncode == 2
    assert done.stderr.startswith("ffnn: error: Cannot create the data folder")
    assert "Traceback" not in done.stderr


def test_info_on_a_truncated_or_damaged_gzip_names_the_file(tmp_path):
    """Issue 12, item 7: a truncated .gz was an EOFError traceback; other gzip errors named no file."""
    names = list(mnist.MNIST.files)
    for name in names:
        write_idx(tmp_path / f"{name}.gz", np.zeros((3, 28, 28) if "images" in name else 3, np.uint8))
    broken = tmp_path / f"{names[1]}.gz"
    content = broken.read_bytes()
    for damaged, says in [
        (content[:-10], "(Compressed file ended before the end-of-stream marker was reached)"),
        (content[:10] + b"\xff" * 20, "(Error -3 while decompressing data: invalid block type)"),
        (b"\x1f\x8b\x09" + content[3:], "(Unknown compression method)"),
    ]:
        broken.write_bytes(damaged)
        done = run("data", "info", "mnist", "--path", str(tmp_path))
        assert done.returncode == 2, done.stderr
        assert done.stderr == (
            f"ffnn: error: {broken}: cannot be read: the file is truncated or damaged {says}; "
            "delete it and run ffnn data fetch.\n"
        )
