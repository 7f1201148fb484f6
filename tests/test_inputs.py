"""Inputs to classify (`ffnn predict`): .npy and .csv files are checked before they are loaded."""

import io
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import ffnn
from ffnn.data.inputs import read_inputs
from ffnn.errors import DataFormatError

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)


def lying_npy(path, shape, dtype=np.float64, data=b""):
    buffer = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    path.write_bytes(buffer.getvalue() + data)


def test_an_npy_claiming_a_billion_rows_is_refused_before_allocating(tmp_path):
    """Issue 12, item 7: 128 bytes claiming (10⁹, 784) float64 made NumPy ask for 6.3 TB."""
    path = tmp_path / "huge.npy"
    lying_npy(path, (10**9, 784))
    assert path.stat().st_size == 128
    tracemalloc.start()
    with pytest.raises(DataFormatError) as info:
        read_inputs([str(path)], 784)
    assert str(info.value) == (
        f"{path}: not a readable .npy file of numbers (its header declares shape (1000000000, 784) of float64 "
        "(6,272,000,000,000 bytes of data) but the file holds 0)."
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # bytes (NumPy reports its arrays to tracemalloc): nothing of that size was allocated


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.array([["a", "b"]]), r"holds <U1 values, not numbers"),
        (np.array([[1 + 2j, 3]]), r"holds complex128 values, not numbers"),
        (np.array([[1, 2]], dtype="m8[s]"), r"holds timedelta64\[s\] values, not numbers"),
        (np.zeros((2, 3)), r"rows must have 2 values for this model; the file declares shape \(2, 3\)"),
        (np.zeros((2, 2, 2)), r"rows must have 2 values for this model; the file declares shape \(2, 2, 2\)"),
        (np.array([[0.5, np.nan]]), r"row 0 contains NaN or inf; the model needs finite numbers"),
    ],
)
def test_npy_inputs_that_are_not_rows_of_numbers(array, match, tmp_path):
    """Issue 12, item 7: a .npy of strings was a TypeError traceback."""
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(DataFormatError, match=match) as info:
        read_inputs([str(tmp_path / "x.npy")], 2)
    assert str(info.value).startswith(f"{tmp_path / 'x.npy'}: ")


def test_object_arrays_and_good_files(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(
        DataFormatError, match=r"obj.npy: not a readable .npy file of numbers \(it holds Python objects"
    ):
        read_inputs([str(tmp_path / "obj.npy")], 2)
    np.save(tmp_path / "two.npy", np.array([[1, 2], [3, 4]], dtype=np.int16))
    (tmp_path / "one.csv").write_bytes(b"\xef\xbb\xbf0.5,0.25\n")
    names, rows = read_inputs([str(tmp_path / "two.npy"), str(tmp_path / "one.csv")], 2)
    assert names == [f"{tmp_path / 'two.npy'}[0]", f"{tmp_path / 'two.npy'}[1]", str(tmp_path / "one.csv")]
    np.testing.assert_array_equal(rows, [[1, 2], [3, 4], [0.5, 0.25]])


def test_predict_refuses_in_one_line(tmp_path):
    ffnn.save(ffnn.Network([784, 10], seed=0), tmp_path / "m.npz")
    lying_npy(tmp_path / "huge.npy", (10**9, 784))
    np.save(tmp_path / "text.npy", np.array([["x"] * 784]))
    for name, says in [("huge.npy", "its header declares shape (1000000000, 784)"), ("text.npy", "holds <U1 values")]:
        done = subprocess.run(
            [sys.executable, "-m", "ffnn", "predict", str(tmp_path / "m.npz"), str(tmp_path / name)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"ffnn: error: {tmp_path / name}: ") and says in done.stderr
        assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_text_tables_of_semicolons_and_tabs_and_their_missing_values(tmp_path):
    """Issue 21, section 3: a ';' file was one field per row; a .tsv was refused; an empty field was
    "a field that is not a number"."""
    (tmp_path / "semi.csv").write_text("a;species;b\n1.5;?;2\n3;?;4\n")  # the training file, label column and all
    names, rows = read_inputs([str(tmp_path / "semi.csv")], 2, "species")
    assert names == [f"{tmp_path / 'semi.csv'}[0]", f"{tmp_path / 'semi.csv'}[1]"]
    np.testing.assert_array_equal(rows, [[1.5, 2], [3, 4]])
    (tmp_path / "x.tsv").write_text("1\t2\n3\t4\n")
    np.testing.assert_array_equal(read_inputs([str(tmp_path / "x.tsv")], 2)[1], [[1, 2], [3, 4]])
    for text, says in [
        ("a;b\n1;\n", "line 2, column 'b' is empty: a missing value; fill it in or drop the row."),
        ("a;b\n1;2,5\n", "line 2, column 'b': '2,5' is not a number; the model needs numbers (fields are "
                         "separated by semicolons); write decimals with a point."),
    ]:  # fmt: skip
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(DataFormatError) as info:
            read_inputs([str(tmp_path / "bad.csv")], 2)
        assert str(info.value) == f"{tmp_path / 'bad.csv'}: {says}"
