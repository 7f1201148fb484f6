"""A run trained by a real ``ffnn`` process (issue 24): its summary records the command line that
started it, shell-quoted, and ``ffnn runs --json`` in another process reads it back."""

import json
import platform
import shlex
import subprocess
import sys

import pytest

import ffnn

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


def ffnn_cmd(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ffnn", *args], capture_output=True, text=True, cwd=cwd)


def test_a_run_started_by_ffnn_records_its_command_line(tmp_path):
    arguments = ["train", "--recipe", "xor", "--epochs", "5", "--out", "runs/my run", "--quiet", "--no-plots"]
    done = ffnn_cmd(*arguments, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    recorded = json.loads((tmp_path / "runs" / "my run" / "summary.json").read_text())["environment"]
    assert recorded["command"] == "ffnn train --recipe xor --epochs 5 --out 'runs/my run' --quiet --no-plots"
    assert shlex.split(recorded["command"]) == ["ffnn", *arguments]
    assert (recorded["ffnn"], recorded["python"], recorded["threads"]) == (
        ffnn.__version__,
        platform.python_version(),
        1,
    )

    listed = ffnn_cmd("runs", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    (found,) = json.loads(listed.stdout)
    assert (found["name"], found["recipe"], found["changed"]) == ("my run", "xor", {"epochs": 5})
    assert found["environment"] == recorded
