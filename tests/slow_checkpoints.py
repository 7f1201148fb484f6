"""The ``ffnn`` command with slow checkpoint writes, for test_kill.py to kill a run mid-write.

    python tests/slow_checkpoints.py PAUSE ffnn-arguments...

The first checkpoint is written as usual. The next one's temporary file gets the first half of
its bytes, a flush, PAUSE seconds of sleep, then the rest: a half-written ``.checkpoint-*.tmp``
sits on disk until the process is killed (test_kill.py does; PAUSE only ends a run it did not).
Model files and everything else are written as usual.
"""

import contextlib
import sys
import time

import ffnn.checkpoint
from ffnn.cli import main


class HalfThenPause:
    """A binary file whose ``write`` writes half, flushes, sleeps ``pause`` seconds, writes the rest."""

    def __init__(self, file, pause):
        self.file, self.pause = file, pause

    def write(self, data):
        half = len(data) // 2
        self.file.write(data[:half])
        self.file.flush()
        time.sleep(self.pause)
        return half + self.file.write(data[half:])


def slow_atomic_open(pause):
    atomic_open = ffnn.checkpoint.atomic_open
    opened = []

    @contextlib.contextmanager
    def opener(path):
        with atomic_open(path) as f:
            opened.append(path)
            yield f if len(opened) == 1 else HalfThenPause(f, pause)

    return opener


if __name__ == "__main__":
    ffnn.checkpoint.atomic_open = slow_atomic_open(float(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
