"""load_arrays: the user's .npz and .csv files — good ones load, every bad case has its message."""

import numpy as np
import pytest

from ffnn.data import load_arrays
from ffnn.data.arrays import load_data
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
    np.testing.assert_array_equal(y, [0, 1])  # the classes '1' and '2' (issue 21: the labels present)
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
        ({"X": np.zeros((2, 2)), "y": np.array([0.5, 1.0])}, r"y holds 0.5 at index 0; class labels are whole"),
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
        ("a,b,y\n1,x,0\n", None, r"line 2, column 'b': 'x' is not a number"),
        ("a,b,y\n1,2,0\n", "label", r"no column named 'label' \(columns are \['a', 'b', 'y'\]\)"),
        ("1,2,0\n", "y", r"no column named 'y' \(the file has no header row\)"),
        ("1,2,0\n3,4,1\n", 5, r"label column 5 is out of range for 3 columns"),
        ("1,2,0.5\n3,4,1\n", None, r"holds '0.5' at line 1; class labels are whole numbers or names"),
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


def test_a_byte_order_mark_without_a_header_keeps_the_first_row(tmp_path):
    """Issue 12, item 9: "\\ufeff1" was not a number, so the first row was taken for a header."""
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf1,2,0\n3,4,1\n5,6,1\n")
    (X, y), _ = load_arrays(tmp_path / "bom.csv")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(y, [0, 1, 1])
    (tmp_path / "bom-header.csv").write_bytes(b"\xef\xbb\xbfa,b,class\n1,2,0\n3,4,1\n")
    (X, y), _ = load_arrays(tmp_path / "bom-header.csv", label="class")  # the first name is "a", not "\ufeffa"
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    ("y", "shown"),
    [
        (np.array([0.0, 1e20]), "100000000000000000000"),
        (np.array([0, 2**63 + 5], dtype=np.uint64), "9223372036854775813"),
        (np.array([0, 2**31], dtype=np.int64), "2147483648"),
    ],
)
def test_large_labels_are_class_names_never_wrapped(y, shown, tmp_path):
    """Issue 12, item 9: such labels became -9223372036854775808 in the cast to intp. Since issue
    21 a label names its class, so a large one is a name like any other, written in full."""
    np.savez(tmp_path / "big.npz", X=np.zeros((2, 2)), y=y)
    assert load_data(tmp_path / "big.npz").classes == ["0", shown]
    (tmp_path / "big.csv").write_text(f"0.5,0\n0.25,{shown}\n")
    assert load_data(tmp_path / "big.csv").classes == ["0", shown]


@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.array([[1 + 2j, 0], [0, 1]]), np.array([0, 1]), r"X must be a 2-D numeric array \(n, features\) of real"),
        (np.array([[1, 2], [3, 4]], dtype="m8[s]"), np.array([0, 1]), r"X must be .* of real numbers; got timedelta64"),
        (np.array([[1, 2], [3, 4]], dtype="M8[D]"), np.array([0, 1]), r"X must be .* of real numbers; got datetime64"),
        (np.zeros((2, 2)), np.array([0, 1], dtype="m8[s]"), r"y must be a 1-D array of labels; got timedelta64"),
        (np.zeros((2, 2)), np.array([0j, 1]), r"y must be a 1-D array of labels; got complex128"),
    ],
)
def test_complex_and_time_arrays_are_refused(X, y, match, tmp_path):
    """Issue 12, item 9: complex inputs lost their imaginary part, timedeltas passed as numbers."""
    np.savez(tmp_path / "odd.npz", X=X, y=y)
    with pytest.raises(DataFormatError, match=match):
        load_arrays(tmp_path / "odd.npz")


def test_bool_features_and_labels_are_numbers(tmp_path):
    np.savez(tmp_path / "b.npz", X=np.array([[True, False], [False, True]]), y=np.array([False, True]))
    (X, y), _ = load_arrays(tmp_path / "b.npz")
    assert X.dtype == np.float64 and y.tolist() == [0, 1]
