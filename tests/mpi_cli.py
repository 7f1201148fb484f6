"""The ``ffnn`` command, recording what it writes, for test_mpi.py:

    mpiexec -n K python tests/mpi_cli.py LOG ffnn-arguments...

Each process runs ``ffnn.cli.main`` under an audit hook that notes every file it opens for
writing, creates, renames or removes, and then writes that list to LOG.R (R its rank).
"""

import os
import sys

from ffnn.cli import main

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
written = []


def audit(event, args):
    if event == "open" and isinstance(args[0], (str, os.PathLike)):
        mode, flags = args[1], args[2]
        if (mode is not None and set(mode) & set("wax+")) or (mode is None and flags & WRITE_FLAGS):
            written.append(os.fspath(args[0]))
    elif event in ("os.rename", "os.replace"):
        written.append(os.fspath(args[1]))
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "shutil.rmtree"):
        written.append(os.fspath(args[0]))


if __name__ == "__main__":
    sys.addaudithook(audit)
    status = main(sys.argv[2:])
    rank = os.environ.get("PMI_RANK", "0")
    log = f"{sys.argv[1]}.{rank}"
    done = "\n".join(written)
    with open(log, "w", encoding="utf-8") as f:
        f.write(done)
    sys.exit(status)
