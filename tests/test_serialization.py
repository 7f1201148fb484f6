"""Model files: exact round trip, and one clear error for every kind of bad file."""

import io
import json
import warnings
import zipfile

import numpy as np
import pytest

import ffnn
from ffnn import serialization
from ffnn.activations import LeakyReLU


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_is_bit_identical(dtype, tmp_path, rng):
    net = ffnn.Network([5, 7, 4, 3], [LeakyReLU(0.2), "tanh", "softmax"], cost="cross_entropy", dtype=dtype, seed=1)
    X, y = rng.standard_normal((30, 5)), rng.integers(0, 3, 30)
    ffnn.fit(net, X, y, epochs=2, batch_size=8, eta=0.1, seed=0)
    ffnn.save(net, tmp_path / "m.npz", {"note": "hello", "epochs": 2})
    back = ffnn.load(tmp_path / "m.npz")
    assert back.sizes == net.sizes and back.dtype == net.dtype
    assert [a.name for a in back.activations] == ["leaky_relu", "tanh", "softmax"]
    assert back.activations[0].slope == 0.2
    assert back.metadata == {"note": "hello", "epochs": 2}
    for p, q in zip(net.parameters(), back.parameters()):
        assert p.dtype == q.dtype
        np.testing.assert_array_equal(p, q)
    np.testing.assert_array_equal(net.feedforward(X), back.feedforward(X))
    assert serialization.read_header(tmp_path / "m.npz")["format_version"] == 1  # 2 only with a standardisation


def write_npz(path, **arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def header_array(**changes):
    header = {
        "format": "ffnn-model",
        "format_version": 1,
        "ffnn_version": "0.1.0",
        "sizes": [2, 3],
        "activations": [{"name": "sigmoid"}],
        "cost": "quadratic",
        "init": "normal",
        "dtype": "float64",
        "metadata": {},
    }
    header.update(changes)
    return np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


GOOD = {"w1": np.zeros((3, 2)), "b1": np.zeros(3)}


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"w1": GOOD["w1"]}, r"not an ffnn model file \(no header; arrays: \['w1'\]\)"),
        ({"header": header_array(), "w1": GOOD["w1"]}, r"array 'b1' is missing"),
        (
            {"header": header_array(), "w1": np.zeros((2, 3)), "b1": GOOD["b1"]},
            r"'w1' has shape \(2, 3\), the header's sizes need \(3, 2\)",
        ),
        (
            {"header": header_array(), "w1": GOOD["w1"].astype(np.float32), "b1": GOOD["b1"]},
            r"'w1' has dtype float32, expected float64",
        ),
        ({"header": header_array(), "w1": np.full((3, 2), np.nan), "b1": GOOD["b1"]}, r"'w1' contains NaN or inf"),
        (
            {"header": header_array(format_version=7), **GOOD},
            r"written in model format 7 by ffnn 0.1.0; this ffnn .* reads format 3 and older. Upgrade ffnn",
        ),
        ({"header": header_array(format="other"), **GOOD}, r"its header does not say format='ffnn-model'"),
        ({"header": header_array(sizes=[2]), **GOOD}, r"'sizes' must be a list of at least 2 positive integers"),
        ({"header": header_array(activations=[]), **GOOD}, r"'activations' must list one"),
        ({"header": header_array(dtype="int8"), **GOOD}, r"'dtype' must be 'float32' or 'float64'"),
        ({"header": header_array(activations=[{"name": "swish"}]), **GOOD}, r"the header describes no valid network"),
        ({"header": np.frombuffer(b"{not json", np.uint8), **GOOD}, r"the header is not valid JSON"),
        (
            {"header": np.array([{"a": 1}], dtype=object), **GOOD},
            r"array 'header' must be a JSON text \(uint8 bytes\) of at most 1,048,576 bytes; it is object",
        ),
    ],
)
def test_bad_model_files(arrays, match, tmp_path):
    path = tmp_path / "bad.npz"
    write_npz(path, **arrays)
    with pytest.raises(ffnn.ModelFileError, match=match) as info:
        ffnn.load(path)
    assert str(path) in str(info.value)


def test_pickles_truncation_and_non_models_are_refused(tmp_path):
    net = ffnn.Network([2, 3], dtype="float64", seed=0)
    ffnn.save(net, tmp_path / "good.npz")
    good = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(ffnn.ModelFileError, match=r"not an ffnn model file|cannot be read"):
        ffnn.load(tmp_path / "cut.npz")
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ffnn.ModelFileError, match=r"not an ffnn model file \(not a readable .npz archive"):
        ffnn.load(tmp_path / "text.npz")
    import pickle

    (tmp_path / "pickle.npz").write_bytes(pickle.dumps({"w1": [1, 2]}))
    with pytest.raises(ffnn.ModelFileError, match="not an ffnn model file"):
        ffnn.load(tmp_path / "pickle.npz")
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as z:  # a zip, but no arrays in it
        z.writestr("readme.txt", "hi")
    with pytest.raises(ffnn.ModelFileError, match="no header"):
        ffnn.load(tmp_path / "zip.npz")
    with pytest.raises(ffnn.ModelFileError, match="no such file"):
        ffnn.load(tmp_path / "missing.npz")


def test_a_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    net = ffnn.Network([2, 3], seed=0)
    ffnn.save(net, tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        ffnn.save(ffnn.Network([2, 5], seed=1), tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {"activations": [{"name": "leaky_relu"}]},
            r"layer 1's 'leaky_relu' needs a 'slope', a number in \(0, 1\); got 'none'",
        ),
        (
            {"activations": [{"name": "leaky_relu", "slope": "0.1"}]},
            r"needs a 'slope', a number in \(0, 1\); got '0.1'",
        ),
        ({"activations": [{"name": "leaky_relu", "slope": 2}]}, r"needs a 'slope', a number in \(0, 1\); got 2"),
        ({"metadata": None}, r"'metadata' must be an object, got NoneType"),
        ({"metadata": {"config": "mnist"}}, r"'metadata.config' must be an object \(the run's settings\), got 'mnist'"),
        (
            {"metadata": {"config": {"dataset": 5}}},
            r"'metadata.config.dataset' must be a data set's name or a file, got 5",
        ),
        ({"metadata": {"config": {"validation": -1}}}, r"'metadata.config.validation' must be an integer >= 0, got -1"),
        ({"metadata": {"config": {"seed": "a"}}}, r"'metadata.config.seed' must be an integer >= 0, got 'a'"),
        ({"dropout": [0.5]}, r"'dropout' must list one rate in \[0, 1\) per hidden layer \(0\), got \[0.5\]"),
        ({"input_dropout": 1.0}, r"'input_dropout' must be a rate in \[0, 1\), got 1.0"),
        ({"sizes": [2, True]}, r"'sizes' must be a list of at least 2 positive integers"),
    ],
)
def test_malformed_headers_name_the_file(changes, match, tmp_path):
    """Issue 12, item 6: each of these was a KeyError, TypeError or a ValueError naming no file."""
    path = tmp_path / "bad.npz"
    write_npz(path, header=header_array(**changes), **GOOD)
    with pytest.raises(ffnn.ModelFileError, match=match) as info:
        ffnn.load(path)
    assert str(info.value).startswith(f"{path}: the header is malformed: ")


def test_a_header_without_metadata_is_refused(tmp_path):
    header = json.loads(header_array().tobytes())
    del header["metadata"]
    write_npz(tmp_path / "m.npz", header=np.frombuffer(json.dumps(header).encode(), np.uint8), **GOOD)
    with pytest.raises(ffnn.ModelFileError) as info:
        ffnn.load(tmp_path / "m.npz")
    assert str(info.value) == (
        f"{tmp_path / 'm.npz'}: the header is malformed: 'metadata' is missing (an object, {{}} when there is none)."
    )


def test_save_refuses_metadata_that_load_would_refuse(tmp_path):
    net = ffnn.Network([2, 3], seed=0)
    for metadata, error, match in [
        ({"config": "mnist"}, ValueError, r"'metadata' parameter breaks the model file's rule: 'metadata.config' must"),
        ({"config": {"dataset": 5}}, ValueError, r"'metadata.config.dataset' must be a data set's name"),
        ({"when": object()}, TypeError, r"'metadata' parameter must be JSON-serialisable: a object is not"),
    ]:
        with pytest.raises(error, match=match):
            ffnn.save(net, tmp_path / "m.npz", metadata)
    assert list(tmp_path.iterdir()) == []
    ffnn.save(net, tmp_path / "m.npz", {"epochs": np.int64(3), "rates": np.array([0.5, 0.25])})  # NumPy values: JSON
    assert ffnn.load(tmp_path / "m.npz").metadata == {"epochs": 3, "rates": [0.5, 0.25]}


def test_evaluate_reads_a_models_config_safely(tmp_path):
    """ffnn evaluate uses metadata.config's dataset, validation and seed: a loaded model's are usable."""
    from ffnn.evaluate import evaluate

    net = ffnn.Network([2, 4, 2], cost="cross_entropy", seed=0)
    ffnn.save(net, tmp_path / "m.npz", {"config": {"dataset": "xor", "validation": 0, "seed": 3}})
    report = evaluate(tmp_path / "m.npz")
    assert (report.dataset, report.split, report.n) == ("xor", "test", 4)


def test_dropout_is_kept_in_model_files(tmp_path):
    """Issue 12, item 12: dropout and input_dropout were lost by save/load."""
    net = ffnn.Network([4, 5, 6, 2], dropout=[0.5, 0.25], input_dropout=0.2, seed=0)
    ffnn.save(net, tmp_path / "m.npz")
    assert serialization.read_header(tmp_path / "m.npz")["dropout"] == [0.5, 0.25]
    assert ffnn.load(tmp_path / "m.npz").dropout == [0.2, 0.5, 0.25]


def test_a_file_from_before_dropout_was_saved_loads_without_dropout(tmp_path):
    write_npz(tmp_path / "old.npz", header=header_array(), **GOOD)  # no 'dropout' or 'input_dropout' keys
    assert ffnn.load(tmp_path / "old.npz").dropout == [0.0]
    header = json.loads(header_array(sizes=[2, 3, 3], activations=[{"name": "tanh"}] * 2).tobytes())
    arrays = {"w1": np.zeros((3, 2)), "b1": np.zeros(3), "w2": np.zeros((3, 3)), "b2": np.zeros(3)}
    write_npz(tmp_path / "old2.npz", header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    assert ffnn.load(tmp_path / "old2.npz").dropout == [0.0, 0.0]


def test_save_into_a_missing_folder_names_the_folder(tmp_path):
    """Issue 12, item 12: the error named the temporary file (.m.npz.XXXX.tmp)."""
    target = tmp_path / "missing" / "dir" / "m.npz"
    with pytest.raises(FileNotFoundError) as info:
        ffnn.save(ffnn.Network([2, 3], seed=0), target)
    assert str(info.value) == (
        f"[Errno 2] cannot write {target}: the folder {target.parent} does not exist "
        "(create it first, or choose another path)"
    )
    assert ".tmp" not in str(info.value)


def test_the_model_limit_is_set_by_parameter_or_environment(tmp_path, monkeypatch):
    """Issue 21: model files are limited as data files are (FFNN_MAX_DATA_BYTES, 512 MiB by
    default, or max_bytes=), from the header's sizes, before an array is read."""
    ffnn.save(ffnn.Network([2, 3, 2], seed=0), tmp_path / "m.npz")  # (6 + 3 + 6 + 2) float32: 68 bytes
    limit = r"would take 68 bytes once read, more than the limit of 67 bytes; if the file is what you expect"
    with pytest.raises(ffnn.ModelFileError, match=rf"m.npz: its arrays \(sizes \[2, 3, 2\], float32\) {limit}"):
        ffnn.load(tmp_path / "m.npz", max_bytes=67)
    assert ffnn.load(tmp_path / "m.npz", max_bytes=68).sizes == [2, 3, 2]
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "67")
    with pytest.raises(ffnn.ModelFileError, match=limit):
        ffnn.load(tmp_path / "m.npz")
    assert ffnn.load(tmp_path / "m.npz", max_bytes=1 << 20).sizes == [2, 3, 2]
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "1k")
    assert ffnn.load(tmp_path / "m.npz").sizes == [2, 3, 2]


def test_a_loaded_network_holds_the_files_arrays_not_copies(tmp_path):
    """load builds the network on the arrays it read (Network's parameters=), rather than drawing
    random float64 weights first and replacing them: what cost 4× a model's size in memory."""
    w, b = np.arange(6, dtype=np.float32).reshape(3, 2), np.ones(3, np.float32)
    net = ffnn.Network([2, 3], parameters=[(w, b)])
    assert net.weights[0] is w and net.biases[0] is b  # taken as they are: nothing was copied
    as64 = ffnn.Network([2, 3], dtype="float64", parameters=[(w, b)])
    assert as64.weights[0].dtype == np.float64 and np.array_equal(as64.weights[0], w)
    with pytest.raises(ffnn.ParameterError, match=r"layer 1 must have shapes \(3, 2\) and \(3,\).*Got \(2, 3\)"):
        ffnn.Network([2, 3], parameters=[(w.T, b)])
    with pytest.raises(ffnn.ParameterError, match=r"one \(w, b\) pair per layer \(2 for these sizes\)"):
        ffnn.Network([2, 3, 1], parameters=[(w, b)])


def test_a_model_larger_than_load_reads_by_default_is_saved_with_a_warning_saying_how_to_load_it(tmp_path, monkeypatch):
    """What saves always loads: past the limit, with the limit raised, as the warning says."""
    net = ffnn.Network([2, 3, 2], seed=0)  # 68 bytes of float32 arrays
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "67")
    with pytest.warns(UserWarning, match="is saved, but its arrays take 68 bytes") as said:
        ffnn.save(net, tmp_path / "m.npz")
    assert [str(w.message) for w in said] == [
        f"{tmp_path / 'm.npz'} is saved, but its arrays take 68 bytes, more than the 67 that ffnn.load reads unless "
        "told: load it with max_bytes=68 (or FFNN_MAX_DATA_BYTES=68 set)."
    ]
    assert ffnn.load(tmp_path / "m.npz", max_bytes=68).sizes == [2, 3, 2]
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "68")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ffnn.save(net, tmp_path / "m.npz")  # within the limit: no warning


def test_a_limit_that_cannot_be_read_does_not_fail_a_save(tmp_path, monkeypatch):
    """FFNN_MAX_DATA_BYTES matters to save only for its warning: a bad value is load's to report
    (it failed ffnn train after its last epoch, before its model was written)."""
    monkeypatch.setenv("FFNN_MAX_DATA_BYTES", "bogus")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ffnn.save(ffnn.Network([2, 3, 2], seed=0), tmp_path / "m.npz")
    with pytest.raises(ffnn.ParameterError, match="FFNN_MAX_DATA_BYTES must be a positive number of bytes"):
        ffnn.load(tmp_path / "m.npz")
