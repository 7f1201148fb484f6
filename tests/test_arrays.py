"""load_arrays: the user's .npz and .csv files — good ones load, every bad case has its message."""

import numpy as np
import pytest

from ffnn.data import load_arrays
from ffnn.errors import DataFormatError


def test_npz_with_and_without_test_split(tmp_path, rng):
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 3, 20)
    np.savez(tmp_path / "train.npz", X=X, y=y)
    (X1, y1), test = load_arrays(tmp_path / "train.npz")
    np.testing.assert_array_equal(X1, X)
    np.testing.assert_array_equal(y1, y)
    assert test is None
    np.savez(tmp_path / "both.npz", X=X, y=y, X_test=X[:5], y_test=y[:5])
    _, (X_test, y_test) = load_arrays(tmp_path / "both.npz")
    assert X_test.shape == (5, 3) and y_test.dtype == np.intp


def test_csv_with_header_and_named_label(tmp_path):
    (tmp_path / "d.csv").write_text("class,a,b\n1,0.5,2\n0,1.5,3\n1,2.5,4\n")
    (X, y), test = load_arrays(tmp_path / "d.csv", label="class")
    np.testing.assert_array_equal(X, [[0.5, 2], [1.5, 3], [2.5, 4]])
    np.testing.assert_array_equal(y, [1, 0, 1])
    assert test is None


def test_csv_without_header_takes_the_last_column(tmp_path):
    (tmp_path / "d.csv").write_text("0,0.2,1\n1,0.4,2\n")
    (X, y), _ = load_arrays(tmp_path / "d.csv")
    np.testing.assert_array_equal(y, [1, 2])
    (X, y), _ = load_arrays(tmp_path / "d.csv", label=0)
    np.testing.assert_array_equal(X, [[0.2, 1], [0.4, 2]])
    np.testing.assert_array_equal(y, [0, 1])


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"X": np.zeros((3, 2))}, r"missing array\(s\) y; found \['X'\]"),
        ({"X": np.zeros(3), "y": np.array([0, 1, 1])}, r"X must be a 2-D numeric array"),
        ({"X": np.zeros((3, 2)), "y": np.array([0, 1])}, r"X has 3 rows but y has 2 labels"),
        ({"X": np.array([[0.0, np.nan], [1, 1]]), "y": np.array([0, 1])}, r"X row 0 contains NaN or inf"),
        ({"X": np.zeros((2, 2)), "y": np.array([0, -1])}, r"whole-number class labels >= 0"),
        ({"X": np.zeros((2, 2)), "y": np.array([0.5, 1.0])}, r"whole-number class labels >= 0"),
        ({"X": np.zeros((2, 2)), "y": np.array([1, 1])}, r"y has 1 class; a classifier needs at least 2"),
        ({"X": np.zeros((2, 2)), "y": np.array([0, 1]), "X_test": np.zeros((1, 2))}, r"only one of X_test and y_test"),
        (
            {"X": np.zeros((2, 2)), "y": np.array([0, 1]), "X_test": np.zeros((1, 3)), "y_test": np.array([0])},
            r"X_test has 3 features but X has 2",
        ),
    ],
)
def test_bad_npz(arrays, match, tmp_path):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataFormatError, match=match):
        load_arrays(tmp_path / "bad.npz")


def test_pickled_and_corrupt_npz_are_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}], dtype=object), y=np.array([0]))
    with pytest.raises(DataFormatError, match="object array, which would need pickle"):
        load_arrays(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataFormatError, match=r"not a readable \.npz archive"):
        load_arrays(tmp_path / "junk.npz")


@pytest.mark.parametrize(
    ("text", "label", "match"),
    [
        ("", None, r"is empty"),
        ("1,2,0\n1,2\n", None, r"line 2 has 2 fields, the first row has 3"),
        ("a,b,y\n1,x,0\n", None, r"line 2 has a field that is not a number"),
        ("a,b,y\n1,2,0\n", "label", r"no column named 'label' \(columns are \['a', 'b', 'y'\]\)"),
        ("1,2,0\n", "y", r"no column named 'y' \(the file has no header row\)"),
        ("1,2,0\n3,4,1\n", 5, r"label column 5 is out of range for 3 columns"),
        ("1,2,0.5\n3,4,1\n", None, r"whole-number class labels"),
    ],
)
def test_bad_csv(text, label, match, tmp_path):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(DataFormatError, match=match):
        load_arrays(tmp_path / "bad.csv", label=label)


def test_unknown_type_and_missing_file(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataFormatError, match=r"unsupported file type .json; use .npz"):
        load_arrays(tmp_path / "x.json")
    with pytest.raises(DataFormatError, match="no such file"):
        load_arrays(tmp_path / "none.npz")
