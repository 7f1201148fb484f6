"""Files ffnn writes: atomic, with the permissions a plain open() would give, errors naming the file."""

import os
import stat
from pathlib import Path

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


# -- what atomic_open writes over: regular files only, links written through (issue 21) ----------


def special(kind, path):
    """Make a folder, a FIFO or a socket at ``path``; return what keeps a socket bound (or None)."""
    if kind == "folder":
        path.mkdir()
    elif kind == "FIFO (named pipe)":
        os.mkfifo(path)
    else:
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        return sock
    return None


KINDS = {"folder": stat.S_ISDIR, "FIFO (named pipe)": stat.S_ISFIFO, "socket": stat.S_ISSOCK}


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_target_that_is_not_a_regular_file_is_refused_before_writing(kind, tmp_path, monkeypatch):
    """Renaming over them turned each into a plain file; now nothing is written, and it stays what it was."""
    monkeypatch.chdir(tmp_path)  # a short relative path: a socket's name is limited to ~100 bytes
    target = Path("t")
    keep = special(kind, target)
    try:
        with pytest.raises(OSError, match=r"^(\[Errno 21\] )?cannot write t: it is ") as info:
            ffnn.save(ffnn.Network([2, 3], seed=0), target)
        what = "a folder; name a file in it" if kind == "folder" else f"a {kind}, not a regular file, and would"
        assert f"cannot write t: it is {what}" in str(info.value)
        assert "\n" not in str(info.value)
        assert KINDS[kind](os.lstat(target).st_mode)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]  # no temporary file was made
    finally:
        if keep is not None:
            keep.close()


def test_a_character_device_is_refused_and_left_as_it_is(tmp_path):
    """``ffnn export m.npz /dev/full``, run as root, replaced the device with a file. As root the test
    makes its own device (1, 3: what /dev/null is) in tmp_path rather than risk /dev/null itself;
    otherwise /dev/null, which a user other than root could not replace anyway."""
    if os.geteuid() == 0:
        device = tmp_path / "null"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    else:
        device = Path("/dev/null")
    before = os.lstat(device)
    with pytest.raises(OSError, match=rf"^cannot write {device}: it is a character device, not a regular file"):
        ffnn.save(ffnn.Network([2, 3], seed=0), device)
    after = os.lstat(device)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    if device.parent == tmp_path:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    """``ffnn.save`` to a link replaced the link with a file, leaving its target as it was."""
    (tmp_path / "models").mkdir()
    real = tmp_path / "models" / "v1.npz"
    ffnn.save(ffnn.Network([2, 3], seed=0), real)
    real.chmod(0o640)
    link = tmp_path / "current.npz"
    link.symlink_to(Path("models") / "v1.npz")  # relative, as links often are
    new = ffnn.Network([2, 3], seed=1)
    ffnn.save(new, link)
    assert link.is_symlink() and os.readlink(link) == str(Path("models") / "v1.npz")
    np.testing.assert_array_equal(ffnn.load(real).weights[0], new.weights[0])
    assert mode(real) == 0o640  # the target's mode is kept, as for any replaced file
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["v1.npz"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "model.npz"
    link.symlink_to(tmp_path / "elsewhere.npz")
    ffnn.save(ffnn.Network([2, 3], seed=0), link)
    assert link.is_symlink() and (tmp_path / "elsewhere.npz").is_file()
    assert ffnn.load(link).sizes == [2, 3]


def test_a_symlink_to_a_fifo_is_refused_naming_both(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "out.npz"
    link.symlink_to(fifo)
    with pytest.raises(OSError, match=r"^cannot write ") as info:
        ffnn.save(ffnn.Network([2, 3], seed=0), link)
    assert str(info.value) == (
        f"cannot write {link} (a link to {fifo}): it is a FIFO (named pipe), not a regular file, and would be "
        "replaced by one; name a file's path"
    )
    assert link.is_symlink() and stat.S_ISFIFO(os.stat(link).st_mode)


def test_a_link_into_a_missing_folder_names_that_folder(tmp_path):
    link = tmp_path / "out.npz"
    link.symlink_to(tmp_path / "gone" / "out.npz")
    with pytest.raises(FileNotFoundError) as info:
        ffnn.save(ffnn.Network([2, 3], seed=0), link)
    assert str(info.value) == (
        f"[Errno 2] cannot write {link} (a link to {tmp_path / 'gone' / 'out.npz'}): the folder "
        f"{tmp_path / 'gone'} does not exist (create it first, or choose another path)"
    )
