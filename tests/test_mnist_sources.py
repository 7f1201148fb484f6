"""Fetching a data set through the mirror path, against a real HTTP server on 127.0.0.1.

The server serves generated IDX files (gzip-compressed, as the mirrors do); the data set's
description (file names and SHA-256 of their content) is made for them.
"""

import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

from ffnn.data import mnist
from ffnn.data.idx import write_idx
from ffnn.data.sources import Mirrors, SystemFolder
from ffnn.errors import DataUnavailableError

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@pytest.fixture
def files(tmp_path, rng):
    """name → uncompressed IDX bytes of a tiny MNIST-shaped data set (50 train, 20 test)."""
    arrays = [
        rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 50, dtype=np.uint8),
        rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, 20, dtype=np.uint8),
    ]
    out = {}
    for name, array in zip(NAMES, arrays):
        write_idx(tmp_path / name, array)
        out[name] = (tmp_path / name).read_bytes()
    return out


def tiny_dataset(files, base=""):
    sums = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    return mnist.Dataset(name="tiny", title="Tiny", files=sums, mirrors=(base,))


class Server:
    """Serves /NAME.gz; ``mode`` "ok", or "cut" to close the connection halfway through each file."""

    def __init__(self, payloads):
        self.payloads, self.mode, self.requests = payloads, "ok", []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.payloads.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if server.mode == "ok" else body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(files):
    s = Server({f"{name}.gz": gzip.compress(content) for name, content in files.items()})
    yield s
    s.stop()


def test_download_verifies_and_caches_then_serves_from_cache(files, server, tmp_path):
    dataset = tiny_dataset(files, server.url)
    cache = tmp_path / "cache"
    folder = mnist.fetch(dataset, cache, sources=[Mirrors([server.url])])
    assert folder == cache / "tiny"
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES)  # no temporary files left
    for name, content in files.items():
        assert (folder / name).read_bytes() == content
    X, y = mnist.read_split(folder, NAMES[0], NAMES[1])
    assert X.shape == (50, 28, 28) and y.shape == (50,)
    assert len(server.requests) == 4
    server.stop()  # a second call must not touch the network
    assert mnist.fetch(dataset, cache, sources=[Mirrors([server.url], timeout=1)]) == folder


def test_checksum_mismatch_leaves_nothing_in_the_cache(files, server, tmp_path):
    dataset = tiny_dataset(files, server.url)
    dataset.files[NAMES[1]] = "0" * 64  # the server's labels are not the ones described
    cache = tmp_path / "cache"
    with pytest.raises(DataUnavailableError) as info:
        mnist.fetch(dataset, cache, sources=[Mirrors([server.url])])
    message = str(info.value)
    assert "Could not get Tiny. Tried, in order:" in message
    assert "train-labels-idx1-ubyte: SHA-256" in message and "does not match the known 0000" in message
    assert "To provide the files by hand, put train-images-idx3-ubyte" in message
    assert not (cache / "tiny" / NAMES[1]).exists()
    assert not [p for p in (cache / "tiny").iterdir() if p.name.startswith(".")]


def test_connection_closed_mid_file_leaves_no_partial_file(files, server, tmp_path):
    server.mode = "cut"
    cache = tmp_path / "cache"
    with pytest.raises(DataUnavailableError, match=r"IncompleteRead|incomplete|corrupt") as info:
        mnist.fetch(tiny_dataset(files, server.url), cache, sources=[Mirrors([server.url])])
    assert server.url in str(info.value)
    assert list((cache / "tiny").iterdir()) == []


def test_every_source_failing_lists_each_with_its_reason(files, tmp_path):
    dataset = tiny_dataset(files)
    sources = [Mirrors(["http://127.0.0.1:9/"], timeout=1), SystemFolder(tmp_path / "no-such-folder", package="pkg")]
    with pytest.raises(DataUnavailableError) as info:
        mnist.fetch(dataset, tmp_path / "cache", sources=sources)
    lines = str(info.value).splitlines()
    assert lines[0] == "Could not get Tiny. Tried, in order:"
    assert "missing" in lines[1]
    assert lines[2].startswith("  - mirrors http://127.0.0.1:9/: ") and "refused" in lines[2].lower()
    assert (
        lines[3]
        == f"  - {tmp_path / 'no-such-folder'} (Debian package pkg): {tmp_path / 'no-such-folder'} does not exist"
    )


def test_system_folder_source_and_explicit_path(files, tmp_path):
    system = tmp_path / "usr-share"
    system.mkdir()
    for name, content in files.items():
        (system / f"{name}.gz").write_bytes(gzip.compress(content))
    dataset = tiny_dataset(files)
    folder = mnist.fetch(dataset, tmp_path / "cache", sources=[SystemFolder(system)])
    assert (folder / NAMES[0]).read_bytes() == files[NAMES[0]]
    assert mnist.fetch(dataset, system, sources=[]) == system  # files already there: used in place


def test_mismatched_image_and_label_counts(files, tmp_path):
    write_idx(tmp_path / NAMES[1], np.zeros(49, np.uint8))
    with pytest.raises(ValueError, match="holds 50 images but train-labels-idx1-ubyte holds 49 labels"):
        mnist.read_split(tmp_path, NAMES[0], NAMES[1])
