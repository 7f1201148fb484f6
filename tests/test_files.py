"""Files ffnn writes: atomic, with the permissions a plain open() would give, errors naming the file."""

import os
import stat

import numpy as np
import pytest

import ffnn
from ffnn import checkpoint
from ffnn._files import atomic_open
from ffnn.data.idx import write_idx


@pytest.fixture
def umask():
    """Set the process's umask for one test, and put the old one back."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_follow_the_umask(mask, expected, umask, tmp_path):
    """Issue 12, item 13: every file was 0600 (mkstemp's mode), whatever the umask."""
    umask(mask)
    ffnn.save(ffnn.Network([2, 3], seed=0), tmp_path / "m.npz")
    write_idx(tmp_path / "labels.gz", np.arange(3, dtype=np.uint8))
    checkpoint.save(tmp_path / "c.npz", {"epoch": 0})
    for name in ("m.npz", "labels.gz", "c.npz"):
        assert mode(tmp_path / name) == expected, name
    with open(tmp_path / "plain", "wb"):  # what they are compared with
        pass
    assert mode(tmp_path / "plain") == expected


def test_a_replaced_file_keeps_its_mode(umask, tmp_path):
    umask(0o022)
    path = tmp_path / "m.npz"
    ffnn.save(ffnn.Network([2, 3], seed=0), path)
    path.chmod(0o640)
    ffnn.save(ffnn.Network([2, 3], seed=1), path)
    assert mode(path) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_write_errors_name_the_file_not_the_temporary_one(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError) as info, atomic_open(tmp_path / "file" / "out.bin") as f:
        f.write(b"x")
    assert (
        str(info.value)
        == f"[Errno 20] cannot write {tmp_path / 'file' / 'out.bin'}: {tmp_path / 'file'} is not a folder"
    )
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with (
            pytest.raises(PermissionError, match=rf"cannot write {locked / 'out.bin'}: Permission denied$"),
            atomic_open(locked / "out.bin") as f,
        ):
            f.write(b"x")


def test_a_failure_inside_the_block_leaves_nothing(tmp_path):
    def fail(f):
        f.write(b"partial")
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"), atomic_open(tmp_path / "out.bin") as f:
        fail(f)
    assert list(tmp_path.iterdir()) == []
