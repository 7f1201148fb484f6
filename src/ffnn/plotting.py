"""Figures of what a network learned (matplotlib, imported only when a figure is drawn).

Each ``plot_*`` function draws one figure from plain arrays and returns it; :func:`plot_run`
draws every figure that fits a run folder (``ffnn train`` writes one; ``ffnn plot RUN_DIR``
calls this) and saves them beside it. Install matplotlib with ``pip install 'ffnn[plots]'``.

- ``learning_curves``   training cost, and training/validation/test accuracy, per epoch
- ``confusion``         the confusion matrix, counts in the cells
- ``misclassified``     the test images the network got wrong most confidently
- ``first_layer``       each hidden neuron's incoming weights as a 28×28 image (first 100)
- ``gradient_norms``    per layer, the RMS gradient of one weight per epoch, log scale:
                        vanishing gradients made visible
- ``decision_regions``  for 2-D data, the class the network gives each point of the plane
- ``compared``          several runs' learning curves overlaid, one colour per run
                        (``ffnn runs compare``: :func:`compare_runs`)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ffnn._files import atomic_open
from ffnn.callbacks.metrics_log import Metrics, read_metrics
from ffnn.errors import ExtraNotInstalledError, SettingError
from ffnn.network import Network

if TYPE_CHECKING:
    from matplotlib.figure import Figure  # matplotlib itself is imported when a figure is drawn


def _figure(width: float = 8.0, height: float = 5.0, **kwargs: Any) -> tuple[Figure, Any]:
    # A Figure of its own, outside pyplot: it needs no display and leaves the caller's backend
    # alone (a notebook's inline figures keep showing); savefig draws it with Agg.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.subplots(**kwargs)


def plot_learning_curves(metrics: Metrics) -> Figure:
    """Training cost (left); accuracies per epoch (right): training sample, validation, test."""
    fig, (cost_ax, acc_ax) = _figure(11, 4.5, ncols=2)
    epochs = metrics["epoch"]
    cost_ax.plot(epochs, metrics["train_cost"], color="tab:red", label="training cost (running mean)")
    for key in ("validation_cost", "test_cost"):
        if any(v is not None for v in metrics.get(key, [])):
            cost_ax.plot(epochs, metrics[key], label=key.replace("_", " "))
    cost_ax.set(title="Cost", xlabel="epoch", ylabel="mean cost C")
    cost_ax.legend()
    for key, label in (
        ("train_accuracy", "training"),
        ("validation_accuracy", "validation"),
        ("test_accuracy", "test"),
    ):
        values = metrics.get(key, [])
        if any(v is not None for v in values):
            acc_ax.plot(epochs, [100 * v if v is not None else None for v in values], marker=".", label=label)
    acc_ax.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)")
    acc_ax.grid(alpha=0.3)
    acc_ax.legend()
    return fig


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str] | None = None) -> Figure:
    """The confusion matrix: rows are true classes, columns predicted, counts in the cells."""
    fig, ax = _figure(7, 6)
    n = len(confusion)
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    image = ax.imshow(np.log1p(confusion), cmap="Blues")
    for i in range(n):
        for j in range(n):
            shade = "white" if confusion[i, j] > confusion.max() / 3 else "black"
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8, color=shade)
    accuracy = np.trace(confusion) / max(confusion.sum(), 1)
    ax.set(title=f"Confusion matrix — {100 * accuracy:.2f} % correct of {confusion.sum()}",
           xlabel="predicted class", ylabel="true class", xticks=range(n), yticks=range(n))  # fmt: skip
    ax.set_xticklabels(names)
    ax.set_yticklabels(names)
    fig.colorbar(image, ax=ax, label="log(1 + count)")
    return fig


def plot_misclassified(
    images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, margin: np.ndarray, n: int = 25
) -> Figure:
    """The ``n`` wrongly classified images with the largest ``margin`` — by default in
    :func:`plot_run`, a^L of the wrong answer minus a^L of the true class."""
    wrong = np.flatnonzero(y_true != y_pred)
    order = wrong[np.argsort(-margin[wrong], kind="stable")][:n]
    side = max(1, math.ceil(math.sqrt(len(order))))
    fig, axes = _figure(1.6 * side, 1.8 * side, nrows=side, ncols=side, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), order):
        ax.imshow(images[i].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"true {y_true[i]} → {y_pred[i]}\n(margin {margin[i]:.2f})", fontsize=8)
    fig.suptitle(f"Most confident mistakes ({len(wrong)} test images wrong in all)")
    return fig


def plot_first_layer(weights: np.ndarray, n: int = 100) -> Figure:
    """Each of the first ``n`` hidden neurons' incoming weights w¹_j as a 28×28 image."""
    w = weights[:n]
    side = math.ceil(math.sqrt(len(w)))
    fig, axes = _figure(1.0 * side + 1, 1.0 * side, nrows=side, ncols=side, squeeze=False)
    limit = float(np.abs(w).max()) or 1.0
    for ax in axes.ravel():
        ax.axis("off")
    for ax, row in zip(axes.ravel(), w):
        ax.imshow(row.reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.suptitle(f"First layer: the incoming weights of {len(w)} hidden neurons (red +, blue −)")
    return fig


def plot_gradient_norms(metrics: Metrics) -> Figure:
    """‖∂C/∂w^l‖ per layer after each epoch, on a log scale."""
    fig, ax = _figure(8, 5)
    layers = sorted((k for k in metrics if k.startswith("grad_norm_")), key=lambda k: int(k.rsplit("_", 1)[1]))
    for key in layers:
        ax.semilogy(metrics["epoch"], metrics[key], marker="o", label=f"layer {key.rsplit('_', 1)[1]}")
    ax.set(
        title="How fast each layer learns: RMS gradient of one weight, at the start of each epoch",
        xlabel="epoch (0 = untrained)",
        ylabel="‖∂C/∂wˡ‖ / √(nˡ nˡ⁻¹)   (log scale)",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


def plot_decision_regions(network: Network, X: np.ndarray, y: np.ndarray, resolution: int = 300) -> Figure:
    """For 2-D inputs: the class the network gives every point of the plane, and the data."""
    fig, ax = _figure(6.5, 6)
    margin = 0.1 * (X.max(axis=0) - X.min(axis=0))
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    regions = network.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    colours = {"cmap": "tab10", "vmin": 0, "vmax": 9}  # class k has the same colour in regions and points
    ax.contourf(gx, gy, regions, levels=np.arange(-0.5, max(2, network.sizes[-1]) + 0.5), alpha=0.25, **colours)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=12, edgecolors="k", linewidths=0.3, **colours)
    ax.set(
        title=f"Decision regions — {100 * network.accuracy(X, y):.1f} % of these points right", xlabel="x₁", ylabel="x₂"
    )
    return fig


def plot_compared(curves: Mapping[str, Metrics], costs: bool = False) -> Figure:
    """Runs' learning curves overlaid, one colour per run, labelled by its name (``curves``: name →
    its metrics.csv): the training cost per epoch (left); the test accuracy (solid) and the
    validation accuracy (dashed) per epoch (right) — with ``costs`` (regressions), the test and
    validation costs instead."""
    fig, (cost_ax, held_ax) = _figure(11, 4.5, ncols=2)
    measure, scale = ("cost", 1.0) if costs else ("accuracy", 100.0)
    for i, (name, metrics) in enumerate(curves.items()):
        colour, epochs = f"C{i % 10}", metrics.get("epoch", [])
        cost_ax.plot(epochs, metrics.get("train_cost", []), color=colour, label=name)
        for split, style in (("test", "-"), ("validation", "--")):
            values = metrics.get(f"{split}_{measure}", [])
            if any(v is not None for v in values):
                shown = [None if v is None else scale * v for v in values]
                label = name if split == "test" else f"{name} (validation)"
                held_ax.plot(epochs, shown, color=colour, linestyle=style, label=label)
    cost_ax.set(title="Training cost (running mean)", xlabel="epoch", ylabel="mean cost C")
    unit = "mean cost C" if costs else "accuracy (%)"
    held_ax.set(title=f"Test {measure} (solid), validation (dashed)", xlabel="epoch", ylabel=unit)
    from matplotlib.ticker import MaxNLocator

    for ax in (cost_ax, held_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    return fig


def figure_format(out: Path) -> str:
    """The format of the figure file ``out`` of ``ffnn runs compare``, as its suffix names it
    (png, svg, pdf, …); SettingError for a suffix matplotlib does not write (by itself), a folder,
    or a file in a folder that does not exist; without matplotlib, ExtraNotInstalledError."""
    try:
        import matplotlib  # noqa: F401  (the plots extra)
    except ImportError:
        raise ExtraNotInstalledError(
            "the figure of ffnn runs compare needs matplotlib: pip install 'ffnn[plots]'"
        ) from None
    from matplotlib.backend_bases import FigureCanvasBase

    formats = set(FigureCanvasBase.get_supported_filetypes()) - {"pgf"}  # pgf: LaTeX code that needs a TeX install
    kind = out.suffix.removeprefix(".").lower()
    if kind not in formats:
        raise SettingError(
            f"--out {out}: name a figure file ending in one of .{', .'.join(sorted(formats))} (say, compare.png)."
        )
    if out.is_dir():
        raise SettingError(f"--out {out} is a folder: name the figure file to write (say, {out / 'compare.png'}).")
    if not out.parent.is_dir():
        raise SettingError(f"--out {out}: there is no folder {out.parent} to write it into; make it first.")
    return kind


def compare_runs(folders: Mapping[str, Path], out: Path, costs: bool = False) -> Path:
    """The learning curves of the runs in ``folders`` (name → run folder) overlaid
    (:func:`plot_compared`; a run that has no metrics.csv yet has no curve), written to ``out``
    atomically in the format its suffix names (.png, .svg, .pdf, …); returns ``out``. The format
    is checked before any metrics.csv is read (:func:`figure_format`)."""
    kind = figure_format(out)
    files = {name: folder / "metrics.csv" for name, folder in folders.items()}
    curves = {name: read_metrics(file) for name, file in files.items() if file.is_file()}  # none: no epoch ended
    fig = plot_compared({name: metrics for name, metrics in curves.items() if metrics}, costs)
    with atomic_open(out) as f:
        fig.savefig(f, format=kind)
    return out


def save(fig: Figure, path: Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write ``fig`` as ``path`` with each suffix in ``formats``; return the files."""
    out = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        fig.savefig(target)
        out.append(target)
    return out


def plot_run(run_dir: str | Path, formats: Sequence[str] = ("png",)) -> list[Path]:
    """Every figure that fits the run folder ``run_dir``, saved into it; returns the files."""
    from ffnn.build import load_data
    from ffnn.config import RunConfig
    from ffnn.metrics import confusion_matrix
    from ffnn.serialization import load

    run = Path(run_dir)
    network = load(run / "model.npz")
    metrics = read_metrics(run / "metrics.csv")
    written = []
    if metrics:
        written += save(plot_learning_curves(metrics), run / "learning_curves", formats)
        if any(k.startswith("grad_norm_") for k in metrics):
            written += save(plot_gradient_norms(metrics), run / "gradient_norms", formats)
    data = load_data(RunConfig.of_table(network.metadata.get("config", {})), network.classes, "float32")
    X, y = data.test if data.test is not None else data.train
    if np.ndim(y) != 1:  # regression targets: no classes to confuse
        return written
    outputs = network.feedforward(X)
    predicted = network.predict(X)
    written += save(
        plot_confusion(confusion_matrix(y, predicted, max(network.sizes[-1], 2))), run / "confusion_matrix", formats
    )
    if network.sizes[0] == 784:
        rows = np.arange(len(y))
        margin = outputs[rows, predicted] - outputs[rows, y] if network.sizes[-1] > 1 else np.abs(outputs[:, 0] - y)
        written += save(plot_misclassified(X, y, predicted, margin), run / "misclassified", formats)
        written += save(
            plot_first_layer(network.backend.to_numpy(network.weights[0])), run / "first_layer_weights", formats
        )
    if network.sizes[0] == 2:
        written += save(plot_decision_regions(network, X, y), run / "decision_regions", formats)
    return written
