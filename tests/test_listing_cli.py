"""``ffnn runs`` with other processes (issue 24): a run trained by a real ``ffnn`` process records
the command line that started it, shell-quoted, and ``ffnn runs --json`` in another process reads
it back; folders that the user may not read, listed by an unprivileged process."""

import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import ffnn
from ffnn import run
from test_listing import cli
from test_runs import MOONS

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


def as_unprivileged(action):
    """``action()``'s result (text), computed by a user whom file modes bind: this one, or — for
    root, whom they do not — a child process (forked) that has become ``nobody``."""
    if os.geteuid() != 0:
        return action()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's coverage is not collected
        status = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, action().encode())
        except BaseException as e:
            os.write(write, f"{type(e).__name__}: {e}".encode())
            status = 1
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        text = f.read().decode()
    assert os.waitpid(child, 0)[1] == 0, text
    return text


def test_a_folder_that_cannot_be_read_is_listed_as_damaged_and_the_rest_as_they_are(capsys):
    """A run folder, and a sweep folder, that this user may not open: each listed as damaged,
    saying so — the other runs listed as before, never a traceback; named alone, the locked
    folder is listed alone, so; a folder that may be entered but not listed is refused in one line."""
    with tempfile.TemporaryDirectory() as top:
        root = Path(top) / "runs"
        run.train({**MOONS, "epochs": 2}, root / "finished", quiet=True)
        for name in ("locked", "locked-sweep/eta=1"):
            shutil.copytree(root / "finished", root / name)
        os.chmod(top, 0o755)
        os.chmod(root / "locked", 0o000)
        os.chmod(root / "locked-sweep", 0o000)
        (root / "unlisted").mkdir(mode=0o111)

        def listing_text():
            code, out, err = cli(capsys, "runs", root)
            alone = cli(capsys, "runs", root / "locked")
            refused = cli(capsys, "runs", root / "unlisted")
            return json.dumps([code, out, err, alone, refused])

        code, out, err, alone, refused = json.loads(as_unprivileged(listing_text))
    assert code == 0 and err == ""
    rows = {line.split()[0]: line.split()[2] for line in out.splitlines()[1:4]}
    assert rows == {"finished": "finished", "locked": "damaged", "locked-sweep": "damaged"}
    assert f"locked is damaged: {root / 'locked'}" in out and "cannot be read (Permission denied)." in out
    assert alone[0] == 0 and alone[1].splitlines()[1].split()[:3] == ["locked", "—", "damaged"]
    assert refused == [
        2, "", f"ffnn: error: {root / 'unlisted'} cannot be read (Permission denied): name a folder of runs that you "
        "can read.\n",
    ]  # fmt: skip
