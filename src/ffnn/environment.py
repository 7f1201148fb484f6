"""What a run ran on — the versions, the BLAS, its threads and its command line — as each run's
summary.json records it (``"environment"``), for reproducing it: with the same settings
(config.toml), a run repeats bit for bit on the same ffnn, NumPy, BLAS and BLAS threads
(docs/design.md); another BLAS or thread count rounds float32 sums differently.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ffnn import _blas, threads
from ffnn._version import __version__

_ENTRY_POINTS = ("ffnn", "ffnn.exe")  # the console script's names (pip writes ffnn.exe on Windows)
_MAIN = Path(__file__).with_name("__main__.py")  # python -m ffnn
SWEEP = "FFNN_SWEEP_COMMAND"  # set by ffnn sweep for the runs it trains: its own command line


def recorded(backend: str) -> dict[str, Any]:
    """This process as a run on the array ``backend`` (a setting's value) leaves it:

    ``ffnn``, ``python``, ``numpy``  their versions
    ``platform``    the system and machine (``platform.platform()``)
    ``blas``        the BLAS libraries loaded (:func:`ffnn.threads.libraries`: name, version,
                    threading layer, CPU kernels)
    ``gemm``        where plain SGD's fused step goes (:func:`ffnn._blas.backend`): ``openblas``
                    (NumPy's own, through ctypes) or ``numpy`` (``FFNN_BLAS=numpy``, other builds)
    ``threads``     the BLAS threads the run's products ran on (:func:`ffnn.threads.applied`, the
                    fit's decision); None on a backend other than NumPy's, whose library decides
    ``command``     :func:`command`
    """
    return {
        "ffnn": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "blas": threads.libraries(),
        "gemm": _blas.backend(),
        "threads": threads.applied() if backend == "numpy" else None,
        "command": command(),
    }


def command(argv: list[str] | None = None) -> str | None:
    """The command line of this process (``argv``, by default ``sys.argv``), shell-quoted, as a
    shell would run it again — ``ffnn train --recipe xor --out 'runs/my run'`` — when the process is
    the ffnn command (its console script, or ``python -m ffnn``); None when it is another program
    that called ffnn (a script, a notebook, a test), whose command would not repeat the run.

    A run that ``ffnn sweep`` trains records the sweep's command instead (the variable
    ``FFNN_SWEEP_COMMAND`` that the sweep sets; empty for a sweep called from Python: None): its
    own names a settings file in a temporary folder, gone once it ends — on a Dask worker, its
    folder too. A resumed run records the command that resumed it (``ffnn train --resume RUN``);
    its config.toml holds its settings."""
    if argv is None and SWEEP in os.environ:
        return os.environ[SWEEP] or None
    argv = list(sys.argv if argv is None else argv)
    if not argv or not _is_ffnn(argv[0]):
        return None
    return shlex.join(["ffnn", *argv[1:]])


def _is_ffnn(program: str) -> bool:
    path = Path(program)
    return path.name in _ENTRY_POINTS or path.resolve() == _MAIN.resolve()
