"""Issue 13, part 3: the user's own data, end to end in the command line — class names, sizes
from the data, a held-out test split, standardisation — and the clear error of each bad input;
issue 21, section 3: classes are the labels present, separators, missing values, warnings."""

from __future__ import annotations

import json
import tracemalloc
import warnings

import numpy as np
import pytest

from ffnn import Network, fit, load, save
from ffnn import settings as table
from ffnn.cli import main
from ffnn.data import named
from ffnn.data.arrays import load_data
from ffnn.errors import DataFormatError, ModelFileError, ParameterError, SettingError
from ffnn.serialization import read_header

SPECIES = ["setosa", "versicolor", "virginica"]


def write_flowers(path, n=300, seed=0, names=SPECIES):
    """A CSV with a header, the string label column in the middle and unscaled features (≈1000,
    ≈50, ≈5000, the last one pure noise): 100 rows of each species, in turn."""
    rng = np.random.default_rng(seed)
    lines = ["sepal_mm,petal_mm,species,weight_g"]
    for i in range(n):
        c = i % len(names)
        a, b, w = 1000 + 200 * c + rng.normal(0, 60), 50 + 30 * c + rng.normal(0, 8), 5000 + rng.normal(0, 900)
        lines.append(f"{a:.1f},{b:.2f},{names[c]},{w:.0f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- the worked example of the README ---------------------------------------------------------------


def test_the_readme_example_trains_evaluates_and_predicts_with_class_names(tmp_path, capsys):
    data = write_flowers(tmp_path / "my.csv")
    run = tmp_path / "run"
    code, out, err = cli(
        capsys,
        "train",
        "--dataset",
        data,
        "--label-column",
        "species",
        "--hidden",
        "16",
        "--standardize",
        "--out",
        run,
        "--no-plots",
    )  # fmt: skip  (the README's command, with --out and --no-plots)
    assert code == 0, err
    assert "Final test accuracy: " in out
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_test_accuracy"] >= 0.9  # 60 held-out flowers (measured: 0.967, 58 / 60)
    config = table.read(run / "config.toml")
    assert config["sizes"] == [3, 16, 3] and config["hidden"] == "" and config["standardize"] is True
    assert config["label_column"] == "species" and config["test_fraction"] == 0.2

    model = load(run / "model.npz")
    assert model.sizes == [3, 16, 3] and model.classes == SPECIES
    mean, std = model.standardization
    splits = named.load(str(data), label="species", test_fraction=0.2)
    assert [len(splits.train[1]), len(splits.test[1])] == [240, 60]
    assert np.bincount(splits.test[1]).tolist() == [20, 20, 20]  # stratified
    np.testing.assert_allclose(mean, splits.train[0].mean(axis=0), rtol=1e-6)  # the training split's only
    np.testing.assert_allclose(std, splits.train[0].std(axis=0), rtol=1e-5)

    code, out, err = cli(capsys, "evaluate", run)
    assert code == 0, err
    assert f"on {data} (test, 60 examples)" in out
    lines = out.splitlines()
    assert lines[lines.index("confusion matrix (rows: true class, columns: predicted)") + 1].split() == SPECIES
    assert [line.split()[0] for line in lines[-3:]] == SPECIES
    assert [int(v) for line in lines[-3:] for v in line.split()[1:]] and sum(
        int(v) for line in lines[-3:] for v in line.split()[1:]
    ) == 60

    rows = tmp_path / "new.csv"  # the header and the label column may stay: they are left out
    rows.write_text("sepal_mm,petal_mm,species,weight_g\n1000,50,?,5000\n1400,110,?,5000\n")
    code, out, err = cli(capsys, "predict", run / "model.npz", rows, "--json")
    assert code == 0, err
    assert [r["label"] for r in json.loads(out)] == ["setosa", "virginica"]
    code, out, err = cli(capsys, "predict", run / "model.npz", rows)
    assert out.splitlines()[0].startswith(f"{rows}[0]: setosa    setosa:")


def test_every_run_on_a_file_reports_a_test_score_and_numeric_labels_keep_indices(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] > 0).astype(int)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    code, _, err = cli(
        capsys, "train", "--dataset", tmp_path / "d.npz", "--hidden", "8", "--epochs", "5", "--out", tmp_path / "r",
        "--no-plots", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    model = load(tmp_path / "r" / "model.npz")
    assert model.sizes == [2, 8, 2] and model.classes is None and model.standardization is None
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["final_test_accuracy"] is not None
    assert len(named.load(str(tmp_path / "d.npz"), test_fraction=0.2).test[1]) == 40


# -- class names --------------------------------------------------------------------------------------


def test_string_labels_become_sorted_classes_in_csv_and_npz(tmp_path):
    (tmp_path / "d.csv").write_text("x,kind\n1,b\n2,a\n3,c\n4,a\n")
    loaded = load_data(tmp_path / "d.csv", "kind")
    assert loaded.classes == ["a", "b", "c"] and loaded.train[1].tolist() == [1, 0, 2, 0]
    (tmp_path / "h.csv").write_text("1,b\n2,a\n")  # no header: names alone in the label column
    assert load_data(tmp_path / "h.csv").train[0].tolist() == [[1.0], [2.0]]
    np.savez(tmp_path / "d.npz", X=np.eye(3), y=np.array(["dog", "cat", "dog"]), X_test=np.eye(3)[:1], y_test=["cat"])
    loaded = load_data(tmp_path / "d.npz")
    assert loaded.classes == ["cat", "dog"] and loaded.train[1].tolist() == [1, 0, 1] and loaded.test[1].tolist() == [0]
    assert load_data(tmp_path / "d.csv", "kind", classes=["c", "b", "a"]).train[1].tolist() == [1, 2, 0, 2]


def test_a_class_the_model_does_not_know_is_named(tmp_path):
    (tmp_path / "d.csv").write_text("x,kind\n1,b\n2,daisy\n")
    with pytest.raises(
        DataFormatError, match=r"has class 'daisy', which the model does not know \(its classes: a, b\)"
    ):
        load_data(tmp_path / "d.csv", "kind", classes=["a", "b"])


def test_classes_are_kept_and_validated_in_model_files(tmp_path):
    net = Network([2, 3, 3], seed=0)
    net.classes = ["x", "y", "z"]
    net.standardization = ([1.0, 2.0], [3.0, 4.0])
    save(net, tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert read_header(tmp_path / "m.npz")["format_version"] == 2  # a format-1 reader would feed raw inputs
    assert back.classes == ["x", "y", "z"]
    np.testing.assert_array_equal(back.standardization[1], [3.0, 4.0])
    save(Network([2, 3], seed=0), tmp_path / "old.npz")  # a model without either: indices, raw inputs
    assert load(tmp_path / "old.npz").classes is None and load(tmp_path / "old.npz").standardization is None

    with pytest.raises(ParameterError, match=r"'classes' must list 3 distinct class names"):
        net.classes = ["x", "y"]  # refused when set: what cannot load is never saved (issue 19)
    assert net.classes == ["x", "y", "z"]
    with np.load(tmp_path / "m.npz") as archive:  # a file written otherwise, with a class too few
        arrays = dict(archive)
    header = json.loads(arrays["header"].tobytes())
    header["classes"] = ["x", "y"]
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"'classes' must list 3 distinct class names"):
        load(tmp_path / "bad.npz")


# -- standardisation: once, at the public entry points and in fit ----------------------------------------


def test_standardization_is_applied_once_by_every_entry_point_and_by_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(1000, 50, size=(60, 2))
    y = (X[:, 0] > 1000).astype(int)
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / std
    raw, scaled = Network([2, 4, 2], seed=3, dtype="float64"), Network([2, 4, 2], seed=3, dtype="float64")
    scaled.standardization = (mean, std)
    np.testing.assert_allclose(scaled.feedforward(X), raw.feedforward(Z), rtol=1e-12)
    assert scaled.score(X, y) == pytest.approx(raw.score(Z, y))
    np.testing.assert_allclose(scaled.backprop(X, y)[1][0], raw.backprop(Z, y)[1][0], rtol=1e-10)
    fit(scaled, X, y, epochs=2, batch_size=10, eta=0.5, seed=1, test_data=(X, y))
    fit(raw, Z, y, epochs=2, batch_size=10, eta=0.5, seed=1, test_data=(Z, y))
    np.testing.assert_allclose(scaled.weights[0], raw.weights[0], rtol=1e-10)  # the same training: not twice
    with pytest.raises(ParameterError, match=r"std > 0"):
        scaled.standardization = (mean, [1.0, 0.0])


# -- settings -----------------------------------------------------------------------------------------


def test_sizes_beside_hidden_and_a_label_column_without_a_csv_are_refused(tmp_path, capsys):
    code, _, err = cli(capsys, "train", "--dataset", "a.csv", "--sizes", "2,3,2", "--hidden", "4")
    assert code == 2 and "--sizes and --hidden both give the layers: use --hidden alone" in err
    with pytest.raises(SettingError, match=r"--label-column = 'y' would be ignored: it is used only by a .csv or .tsv"):
        table.resolve(table.Layer({"label_column": "y"}, table.flag))
    with pytest.raises(SettingError, match=r"--hidden must list the hidden layers' sizes, .* got '64,x'"):
        table.resolve(table.Layer({"hidden": "64,x"}, table.flag))


def test_the_test_split_is_stratified_and_seeded(tmp_path):
    write_flowers(tmp_path / "f.csv", n=30)
    a = named.load(str(tmp_path / "f.csv"), seed=1, label="species", test_fraction=0.2)
    b = named.load(str(tmp_path / "f.csv"), seed=1, label="species", test_fraction=0.2)
    c = named.load(str(tmp_path / "f.csv"), seed=2, label="species", test_fraction=0.2)
    assert np.bincount(a.test[1]).tolist() == [2, 2, 2] and len(a.train[1]) == 24
    np.testing.assert_array_equal(a.test[0], b.test[0])
    assert not np.array_equal(a.test[0], c.test[0])
    assert named.load(str(tmp_path / "f.csv"), label="species").test is None  # test_fraction 0: none


# -- bad inputs, through the command line ---------------------------------------------------------------


@pytest.fixture
def trained(tmp_path, capsys):
    data = write_flowers(tmp_path / "my.csv", n=60)
    code, _, err = cli(
        capsys, "train", "--dataset", data, "--label-column", "species", "--hidden", "4", "--standardize",
        "--epochs", "1", "--out", tmp_path / "run", "--no-plots", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    return tmp_path / "run"


def test_a_wrong_label_column_is_named(tmp_path, capsys):
    data = write_flowers(tmp_path / "my.csv", n=30)
    code, _, err = cli(capsys, "train", "--dataset", data, "--label-column", "specie", "--hidden", "4")
    assert code == 2
    assert "no column named 'specie' (columns are ['sepal_mm', 'petal_mm', 'species', 'weight_g'])" in err


def test_evaluate_on_a_file_with_an_unknown_class_says_so(trained, tmp_path, capsys):
    other = write_flowers(tmp_path / "other.csv", n=4, names=["setosa", "daisy"])
    code, _, err = cli(capsys, "evaluate", trained, "--dataset", other)
    assert code == 2
    assert "has class 'daisy', which the model does not know (its classes: setosa, versicolor, virginica)" in err
    same = write_flowers(tmp_path / "same.csv", n=6)
    code, out, err = cli(capsys, "evaluate", trained, "--dataset", same)  # all of a new file is its test
    assert code == 0 and "(test, 6 examples)" in out, err


def test_nan_and_mismatched_widths_are_refused(trained, tmp_path, capsys):
    nan = tmp_path / "nan.csv"
    nan.write_text("sepal_mm,petal_mm,species,weight_g\n1000,nan,setosa,5000\n1200,80,virginica,5000\n")
    code, _, err = cli(capsys, "train", "--dataset", nan, "--label-column", "species", "--hidden", "4")
    assert code == 2 and "nan.csv: line 2, column 'petal_mm' holds nan, not a finite number; clean or impute" in err
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("1000,50\n")
    code, _, err = cli(capsys, "predict", trained / "model.npz", narrow)
    assert code == 2 and "narrow.csv: rows must have 3 values for this model; got shape (1, 2)." in err
    nan_rows = tmp_path / "nan_rows.csv"
    nan_rows.write_text("1000,nan,5000\n")
    code, _, err = cli(capsys, "predict", trained / "model.npz", nan_rows)
    assert code == 2 and "row 0 contains NaN or inf" in err


def test_export_carries_the_class_names_and_the_standardization(trained, tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    code, out, err = cli(capsys, "export", trained / "model.npz", tmp_path / "m.onnx")
    assert code == 0, err
    assert "classes (label 0, 1, …; in the metadata as class_names): setosa, versicolor, virginica" in out
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert json.loads(props["class_names"]) == SPECIES
    model = load(trained / "model.npz")
    X = named.load(str(tmp_path / "my.csv"), label="species").train[0]  # raw, unscaled rows
    values, labels = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"input": X.astype(np.float32)}
    )
    np.testing.assert_allclose(values, model.predict_proba(X), atol=1e-5)
    np.testing.assert_array_equal(labels, model.predict(X))


def test_a_test_file_of_its_own_is_the_test_split(tmp_path, capsys):
    train, test = write_flowers(tmp_path / "train.csv", n=90), write_flowers(tmp_path / "test.csv", n=15, seed=5)
    code, _, err = cli(
        capsys, "train", "--dataset", train, "--test", test, "--label-column", "species", "--hidden", "8",
        "--standardize", "--epochs", "3", "--out", tmp_path / "r", "--no-plots", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    splits = named.load(str(train), label="species", test_fraction=0.2, test_file=str(test))
    assert [len(splits.train[1]), len(splits.test[1])] == [90, 15]  # nothing held out of train.csv
    code, out, err = cli(capsys, "evaluate", tmp_path / "r")
    assert code == 0 and f"on {train} (test, 15 examples)" in out, err
    with pytest.raises(SettingError, match=r"--test must be a .csv, .tsv or .npz file; got 'x.txt'"):
        table.resolve(table.Layer({"dataset": "a.csv", "test": "x.txt"}, table.flag))
    bad = write_flowers(tmp_path / "bad.csv", n=4, names=["setosa", "rose"])
    code, _, err = cli(
        capsys, "train", "--dataset", train, "--test", bad, "--label-column", "species", "--hidden", "8",
        "--out", tmp_path / "r2",
    )  # fmt: skip
    assert code == 2 and "has class 'rose', which the model does not know" in err
    assert not (tmp_path / "r2").exists()


# -- regression ---------------------------------------------------------------------------------------------


def test_regression_reports_mse_and_r2_and_predict_prints_values(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = ["size_m2,price,rooms"]
    for _ in range(400):  # price (k) = 2 × size + 5 × rooms + noise (sd 10)
        size, rooms = rng.uniform(30, 200), int(rng.integers(1, 6))
        lines.append(f"{size:.1f},{2 * size + 5 * rooms + rng.normal(0, 10):.1f},{rooms}")
    (tmp_path / "houses.csv").write_text("\n".join(lines) + "\n")
    code, out, err = cli(
        capsys, "train", "--dataset", tmp_path / "houses.csv", "--task", "regression", "--label-column", "price",
        "--hidden", "16", "--standardize", "--activation", "tanh", "--eta", "0.01", "--epochs", "30",
        "--out", tmp_path / "r", "--no-plots",
    )  # fmt: skip
    assert code == 0, err
    assert "Test MSE: " in out and "Final test accuracy" not in out and "  test cost  " in out
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["test_r2"] > 0.9 and summary["test_mse"] < 400  # measured: R² 0.978, MSE 225 (noise: 100)
    assert summary["final_test_accuracy"] is None
    model = load(tmp_path / "r" / "model.npz")
    assert model.sizes == [2, 16, 1] and model.activations[-1].name == "identity" and model.classes is None

    code, out, err = cli(capsys, "evaluate", tmp_path / "r")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].endswith("(test, 80 examples)") and lines[1].startswith("MSE ") and lines[2].startswith("R² ")
    assert float(lines[2].split()[1]) == pytest.approx(summary["test_r2"], abs=1e-4)

    (tmp_path / "q.csv").write_text("100,3\n")
    code, out, err = cli(capsys, "predict", tmp_path / "r" / "model.npz", tmp_path / "q.csv", "--json")
    assert code == 0, err
    (result,) = json.loads(out)
    assert set(result) == {"input", "outputs"} and result["outputs"][0] == pytest.approx(215, abs=25)

    code, _, err = cli(capsys, "train", "--dataset", tmp_path / "houses.csv", "--task", "regression", "--cost",
                       "cross_entropy", "--hidden", "4")  # fmt: skip
    assert code == 2 and "--task = 'regression' fits real-valued targets with the quadratic cost" in err
    (tmp_path / "names.csv").write_text("a,b\n1,x\n2,y\n")
    with pytest.raises(
        DataFormatError, match=r"a regression target must be a number; the label column .* has 'x' at line 2"
    ):
        load_data(tmp_path / "names.csv", regression=True)


def test_figures_of_an_own_data_run_use_its_label_column_and_split(trained):
    pytest.importorskip("matplotlib")
    from ffnn.plotting import plot_run

    names = sorted(f.name for f in plot_run(trained, ("png",)))
    assert names == ["confusion_matrix.png", "gradient_norms.png", "learning_curves.png"]


def test_resume_restores_the_class_names_and_the_standardization(tmp_path, capsys):
    from ffnn import run
    from ffnn.config import configure

    data = write_flowers(tmp_path / "my.csv", n=60)
    settings = configure(
        flags={"dataset": str(data), "label_column": 2, "hidden": "4", "standardize": True, "epochs": 2,
               "checkpoint_every": 1},
    )  # fmt: skip
    first = run.train(settings, tmp_path / "r", quiet=True)
    (tmp_path / "r" / "model.npz").unlink()
    again = run.resume(tmp_path / "r", quiet=True)
    assert again.network.classes == first.network.classes == SPECIES
    for a, b in zip(again.network.standardization, first.network.standardization):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.network.weights[0], first.network.weights[0])


def test_sizes_that_do_not_fit_the_classes_and_names_for_an_index_model_are_refused(tmp_path, capsys):
    data = write_flowers(tmp_path / "my.csv", n=30)
    code, _, err = cli(capsys, "train", "--dataset", data, "--label-column", "species", "--sizes", "3,4,2")
    assert code == 2
    assert "sizes ends in 2 outputs, but " in err and "has 3 classes (setosa, versicolor, virginica)" in err
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=rng.normal(size=(40, 3)), y=np.arange(40) % 3)
    code, _, err = cli(capsys, "train", "--dataset", tmp_path / "d.npz", "--hidden", "4", "--epochs", "1",
                       "--out", tmp_path / "r", "--quiet", "--no-plots")  # fmt: skip
    assert code == 0, err
    (tmp_path / "named.csv").write_text("a,b,c,kind\n1,2,3,x\n4,5,6,y\n")
    code, _, err = cli(capsys, "evaluate", tmp_path / "r", "--dataset", tmp_path / "named.csv")
    says = "has class 'x', which the model does not know (it has no class names; its classes are the indices 0, 1, 2)"
    assert code == 2 and says in err


# -- issue 21, section 3: your own data ------------------------------------------------------------------


def cli_warning(capsys, *argv):
    """``cli`` with Python's default warning filters (the test suite turns warnings into errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        return cli(capsys, *argv)


def test_integer_labels_are_the_classes_present_named_by_their_values(tmp_path, capsys):
    """3, 5 and 8 were 9 classes, six of them empty (evaluate printed nan for each)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    y = np.array([3, 5, 8])[np.arange(90) % 3]
    X[:, 0] += y  # learnable
    (tmp_path / "g.csv").write_text("".join(f"{a:.4f},{b:.4f},{c}\n" for (a, b), c in zip(X, y)))
    loaded = load_data(tmp_path / "g.csv")
    assert loaded.classes == ["3", "5", "8"] and loaded.train[1][:4].tolist() == [0, 1, 2, 0]
    np.savez(tmp_path / "g.npz", X=X, y=y, X_test=X[:3], y_test=np.array([8, 3, 8]))
    loaded = load_data(tmp_path / "g.npz")
    assert loaded.classes == ["3", "5", "8"] and loaded.test[1].tolist() == [2, 0, 2]
    np.savez(tmp_path / "s.npz", X=X[:2], y=np.array([1, -1]))  # any whole numbers, sorted by value
    assert load_data(tmp_path / "s.npz").classes == ["-1", "1"]
    np.savez(tmp_path / "i.npz", X=X[:3], y=np.array([2, 0, 1]))  # 0..k−1 present: the indices themselves
    assert load_data(tmp_path / "i.npz").classes is None

    code, _, err = cli(capsys, "train", "--dataset", tmp_path / "g.csv", "--hidden", "8", "--epochs", "20",
                       "--out", tmp_path / "r", "--no-plots", "--quiet")  # fmt: skip
    assert code == 0, err
    model = load(tmp_path / "r" / "model.npz")
    assert model.sizes == [2, 8, 3] and model.classes == ["3", "5", "8"]
    code, out, err = cli(capsys, "evaluate", tmp_path / "r")
    assert code == 0, err
    lines = out.splitlines()
    per_class = lines[lines.index("") + 1 :][:2]
    assert per_class[0].split() == ["per", "class", "3", "5", "8"] and "nan" not in out
    assert [float(v) for v in per_class[1].split()[2:]] and len(per_class[1].split()) == 5
    (tmp_path / "q.csv").write_text("0,0\n")
    code, out, err = cli(capsys, "predict", tmp_path / "r" / "model.npz", tmp_path / "q.csv", "--json")
    assert code == 0 and json.loads(out)[0]["label"] in ("3", "5", "8"), err


def test_a_test_file_is_encoded_by_the_training_classes_and_an_unseen_label_is_refused(tmp_path, capsys):
    """As scikit-learn's label encoder refuses a label it was not fitted with."""
    train = tmp_path / "train.csv"
    train.write_text("".join(f"{i % 7}.5,{i % 3},{[3, 5, 8][i % 3]}\n" for i in range(30)))
    (tmp_path / "subset.csv").write_text("1,2,8\n2,1,8\n")
    splits = named.load(str(train), test_file=str(tmp_path / "subset.csv"))
    assert splits.classes == ["3", "5", "8"] and splits.test[1].tolist() == [2, 2]  # '8', not a class of its own
    (tmp_path / "superset.csv").write_text("1,2,8\n2,1,9\n")
    code, _, err = cli(capsys, "train", "--dataset", train, "--test", tmp_path / "superset.csv", "--hidden", "4",
                       "--out", tmp_path / "r")  # fmt: skip
    assert code == 2 and not (tmp_path / "r").exists()
    assert (
        "superset.csv: the label column (column 2, the last, as none was named; the file has 3 columns and no " in err
    )
    assert "has class '9', which the model does not know (its classes: 3, 5, 8)" in err

    indices = tmp_path / "indices.csv"  # labels 0..2: the indices, so a subset keeps them (not renamed 0, 1)
    indices.write_text("".join(f"{i % 7}.5,{i % 3},{i % 3}\n" for i in range(30)))
    code, _, err = cli(capsys, "train", "--dataset", indices, "--hidden", "4", "--epochs", "1", "--out",
                       tmp_path / "ri", "--no-plots", "--quiet")  # fmt: skip
    assert code == 0, err
    (tmp_path / "twos.csv").write_text("1,2,2\n2,1,2\n")
    code, out, err = cli(capsys, "evaluate", tmp_path / "ri", "--dataset", tmp_path / "twos.csv")
    assert code == 0, err
    confusion = out.splitlines()[-3:]
    assert [line.split()[0] for line in confusion] == ["0", "1", "2"]
    assert sum(int(v) for v in confusion[2].split()[1:]) == 2  # both examples are of class 2


def test_labels_equal_as_numbers_beside_text_are_named_in_one_warning(tmp_path, capsys):
    data = tmp_path / "mixed.csv"
    data.write_text("a,b,kind\n1,2,1\n2,3,1.0\n4,5,01\n4,1,cat\n5,5,2\n6,6,2.0\n")
    with pytest.warns(UserWarning, match="equal as numbers") as caught:
        loaded = load_data(data, "kind")
    assert loaded.classes == ["01", "1", "1.0", "2", "2.0", "cat"]  # text as written
    assert [str(w.message) for w in caught] == [
        f"{data}: the label column (column 'kind') holds names (such as 'cat'), so every label is a class as "
        "written, and these labels, equal as numbers, are different classes: '01', '1', '1.0'; '2', '2.0'. Write "
        "each class one way if they are one."
    ]
    code, _, err = cli_warning(capsys, "train", "--dataset", data, "--label-column", "kind", "--hidden", "4",
                               "--epochs", "1", "--test-fraction", "0", "--out", tmp_path / "r", "--no-plots",
                               "--quiet")  # fmt: skip
    assert code == 0
    assert err == f"ffnn: warning: {caught[0].message}\n"
    (tmp_path / "numbers.csv").write_text("a,kind\n1,1\n2,1.0\n3,01\n4,2\n")  # numbers alone: one class '1'
    assert load_data(tmp_path / "numbers.csv", "kind").classes == ["1", "2"]


def test_a_first_row_taken_as_the_header_is_said_when_it_holds_numbers(tmp_path, capsys):
    data = tmp_path / "cat.csv"
    data.write_text("0.1,0.2,cat\n1,2,3\n2,3,5\n4,5,3\n")
    with pytest.warns(UserWarning, match="is taken as the header") as caught:
        loaded = load_data(data)
    assert len(loaded.train[1]) == 3
    assert [str(w.message) for w in caught] == [
        f"{data}: line 1 ('0.1,0.2,cat') is taken as the header (the column names), since 'cat' is not a number "
        "where the next row has one; if it is an example, add a header row above it."
    ]
    load_data(write_flowers(tmp_path / "flowers.csv", n=6), "species")  # a header of names: no warning
    model = tmp_path / "m.npz"
    save(Network([2, 3, 2], seed=0), model)
    rows = tmp_path / "rows.csv"
    rows.write_text("0.5,x\n1,2\n")
    code, out, err = cli_warning(capsys, "predict", model, rows)
    assert code == 0 and out.startswith(f"{rows}: ")  # one row: the one below the header
    assert err == (
        f"ffnn: warning: {rows}: line 1 ('0.5,x') is taken as the header (the column names), since 'x' is not a "
        "number; if it is an example, add a header row above it.\n"
    )


def test_semicolons_tabs_and_missing_values(tmp_path, capsys):
    (tmp_path / "semi.csv").write_text("a;b;species\n1.5;2;cat\n2;3;dog\n3;4;cat\n")
    loaded = load_data(tmp_path / "semi.csv", "species")
    assert loaded.classes == ["cat", "dog"] and loaded.train[0].tolist() == [[1.5, 2], [2, 3], [3, 4]]
    (tmp_path / "t.tsv").write_text("a\tb\tspecies\n1.5\t2\tcat\n2\t3\tdog\n")
    assert load_data(tmp_path / "t.tsv", "species").train[1].tolist() == [0, 1]
    resolved = table.resolve(table.Layer({"dataset": "t.tsv", "label_column": "species"}, table.flag))
    assert resolved["label_column"] == "species"  # was: "--label-column would be ignored"
    (tmp_path / "comma.csv").write_text("a;b;species\n1,5;2;cat\n2;3;dog\n")
    with pytest.raises(DataFormatError) as info:
        load_data(tmp_path / "comma.csv", "species")
    assert str(info.value) == (
        f"{tmp_path / 'comma.csv'}: line 2, column 'a': '1,5' is not a number; only the label column (column "
        "'species') may hold names (fields are separated by semicolons); write decimals with a point."
    )

    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,species\n1,2,cat\n3,,dog\n")
    code, _, err = cli(capsys, "train", "--dataset", empty, "--label-column", "species", "--hidden", "4")
    assert code == 2
    assert err == f"ffnn: error: {empty}: line 3, column 'b' is empty: a missing value; fill it in or drop the row.\n"
    (tmp_path / "nolabel.csv").write_text("1,2,cat\n3,4, \n")
    with pytest.raises(DataFormatError, match=r"line 2, the label column \(column 2, .*\) is empty: a missing label"):
        load_data(tmp_path / "nolabel.csv")
    model = tmp_path / "m.npz"
    save(Network([2, 3, 2], seed=0), model)
    (tmp_path / "in.tsv").write_text("1\t2\n3\t\n")
    code, _, err = cli(capsys, "predict", model, tmp_path / "in.tsv")
    assert code == 2 and f"{tmp_path / 'in.tsv'}: line 2, column 1 is empty: a missing value" in err


def test_a_test_file_beside_a_test_fraction_is_refused(tmp_path):
    with pytest.raises(SettingError) as info:
        table.resolve(table.Layer({"dataset": "a.csv", "test": "b.csv", "test_fraction": 0.3}, table.flag))
    assert (
        str(info.value)
        == "--test = 'b.csv' is the test split, so --test-fraction = 0.3 would be ignored: drop one of them."
    )
    with pytest.raises(SettingError, match=r"--test-fraction = 0.2 would be ignored"):  # the default, but written
        table.resolve(table.Layer({"dataset": "a.csv", "test": "b.csv", "test_fraction": 0.2}, table.flag))
    (tmp_path / "run.toml").write_text('dataset = "a.csv"\ntest = "b.csv"\ntest_fraction = 0.2\n')  # a config.toml
    settings = table.resolve(
        table.Layer(table.read(tmp_path / "run.toml"), table.in_file("run.toml"), "refuse-changed")
    )
    assert settings["test"] == "b.csv"


def test_a_forgotten_label_column_names_the_one_used_and_the_columns(tmp_path, capsys):
    data = write_flowers(tmp_path / "my.csv", n=6)
    code, _, err = cli(capsys, "train", "--dataset", data, "--hidden", "4")
    assert code == 2
    assert err == (
        f"ffnn: error: {data}: line 2, column 'species': 'setosa' is not a number; only the label column (column "
        "'weight_g', the last, as none was named; the columns are sepal_mm, petal_mm, species, weight_g) may hold "
        "names (fields are separated by commas).\n"
    )


def test_forty_thousand_class_names_are_encoded_by_one_sort(tmp_path):
    """Issue 21: a list lookup per class made 40,000 names take 11 s (now 0.1 s; speed is a benchmark,
    not an assertion — this checks the encoding at that scale)."""
    names = [f"c{i:05d}" for i in range(40_000)]
    order = np.random.default_rng(0).permutation(40_000)
    (tmp_path / "many.csv").write_text("".join(f"{i},{names[i]}\n" for i in order))
    loaded = load_data(tmp_path / "many.csv")
    assert loaded.classes == names and loaded.train[1].tolist() == order.tolist()


def test_a_csv_is_read_in_memory_near_its_size(tmp_path):
    """A 36 MB CSV peaked at 541 MB: every field was a Python string at once. Counted by
    tracemalloc (NumPy's buffers included), the peak while loading stays under 4× the file."""
    rng = np.random.default_rng(0)
    data = tmp_path / "wide.csv"
    with open(data, "w") as f:
        f.write(",".join(f"x{i}" for i in range(20)) + ",label\n")
        for row, label in zip(rng.random((5000, 20)), rng.integers(0, 10, 5000)):
            f.write(",".join(f"{v:.6f}" for v in row) + f",{label}\n")
    tracemalloc.start()
    try:
        loaded = load_data(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert loaded.train[0].shape == (5000, 20) and loaded.classes is None
    assert peak < 4 * data.stat().st_size  # measured: 1.2× (before: 8.7×)


def test_a_run_whose_model_numbers_its_classes_by_index_resumes_on_labels_that_skip(tmp_path):
    """A run begun by ffnn 0.1 on labels 3, 5, 8 has 9 outputs and no class names; today the same
    file has the classes 3, 5, 8. Resuming it encodes the data as its model was trained: by index."""
    from ffnn import run
    from ffnn.config import configure

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 2))
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([X, np.arange(90) % 9]), delimiter=",", fmt=["%.6f", "%.6f", "%d"])
    settings = configure(flags={"dataset": str(path), "hidden": "4", "epochs": 2, "checkpoint_every": 1})
    first = run.train(settings, tmp_path / "r", quiet=True)
    assert first.network.sizes[-1] == 9 and first.network.classes is None
    np.savetxt(
        path,
        np.column_stack([X, 3 + (np.arange(90) % 3) * 2 + (np.arange(90) % 3 == 2)]),
        delimiter=",",
        fmt=["%.6f", "%.6f", "%d"],
    )  # fmt: skip  (labels 3, 5, 8 only: what 0.1 gave 9 outputs)
    assert load_data(path).classes == ["3", "5", "8"]
    (tmp_path / "r" / "model.npz").unlink()  # as if killed after its last checkpoint
    again = run.resume(tmp_path / "r", quiet=True)
    assert again.network.classes is None and again.network.sizes[-1] == 9
    for a, b in zip(again.network.parameters(), first.network.parameters()):
        np.testing.assert_array_equal(a, b)
