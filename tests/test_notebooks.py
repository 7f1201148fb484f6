"""The lessons in notebooks/ (issue 23): each runs top to bottom, without an error, in a fresh
``python3`` kernel — this environment's own interpreter, whose kernel spec ipykernel installs into
it — and each file in git keeps its outputs as notebooks/README.md says: every code cell executed
once, in order, its figures inline, nothing on stderr, no error, no timing metadata.

``make notebooks`` (``python tests/test_notebooks.py``) executes them all again and writes the
outputs back into the files, in this same way."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import nbclient
import nbformat
import pytest

import ffnn
from ffnn.data import load_mnist

pytestmark = pytest.mark.slow  # each notebook starts a kernel, another process

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"  # the default kernel, from ipykernel (the test extra, and the notebooks extra)
CELL_TIMEOUT = 600  # seconds, a safety net only: the slowest cell takes seconds


def execute(path: Path) -> tuple[nbformat.NotebookNode, float]:
    """The notebook at ``path`` run top to bottom in a fresh python3 kernel, from its own folder,
    and the seconds that took; nbclient.exceptions.CellExecutionError at the first failing cell."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        record_timing=False,  # no timestamps in the cells: the files change only when their outputs do
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def shows_a_figure(cell: nbformat.NotebookNode) -> bool:
    """Whether a code cell draws a figure: ``plt.show()``, or a figure (``fig``, ``figures[i]``, a
    ``plotting.plot_*`` call) as its last line, which the kernel then displays."""
    last = cell.source.strip().splitlines()[-1]
    return "plt.show()" in cell.source or bool(re.fullmatch(r"fig|figures\[\d+\]|plotting\.plot_\w+\(.*\)", last))


def check_outputs(nb: nbformat.NotebookNode) -> None:
    """Every code cell executed once, in order; no error; each cell that draws a figure shows it."""
    cells = code_cells(nb)
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1)), "run `make notebooks`"
    assert not [o for cell in cells for o in cell.outputs if o.output_type == "error"]
    figures = [cell for cell in cells if shows_a_figure(cell)]
    assert figures
    for cell in figures:
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), f"cell {cell.id} shows no figure"


def needs_mnist(nb: nbformat.NotebookNode) -> bool:
    return any("load_mnist" in cell.source for cell in code_cells(nb))


@pytest.fixture(scope="module")
def mnist() -> None:
    """Real MNIST in the cache before a notebook that reads it runs (fetched here if need be), or a skip."""
    try:
        load_mnist()
    except ffnn.DataUnavailableError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"real MNIST unavailable: {e}")


def test_there_are_the_six_lessons():
    assert [p.stem for p in NOTEBOOKS] == [
        "01-perceptron",
        "02-gradient-descent",
        "03-backpropagation-by-hand",
        "04-mnist",
        "05-cross-entropy",
        "06-vanishing-gradients",
    ]


def test_the_python3_kernel_is_this_environments_interpreter():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import sys\nprint(sys.prefix)")])
    nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=CELL_TIMEOUT, startup_timeout=120).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.prefix


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, request):
    if needs_mnist(nbformat.read(path, as_version=4)):
        request.getfixturevalue("mnist")
    try:
        nb, seconds = execute(path)
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name} failed: {e}")
    print(f"{path.name}: executed in {seconds:.1f} s")
    check_outputs(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_keeps_its_outputs(path):
    """As notebooks/README.md states: stored executed, so that they read well on a repository page."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == KERNEL
    check_outputs(nb)
    cells = code_cells(nb)
    outputs = [o for cell in cells for o in cell.outputs]
    assert not [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not [cell.id for cell in cells if "execution" in cell.metadata]  # no timestamps


def test_each_lesson_is_listed_in_both_readmes():
    readme, index = (ROOT / "README.md").read_text(), (ROOT / "notebooks" / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme
        assert f"({path.name})" in index


if __name__ == "__main__":  # `make notebooks`: execute every lesson and store its outputs
    for path in NOTEBOOKS:
        nb, seconds = execute(path)
        nbformat.write(nb, path)
        print(f"{path.name}: executed in {seconds:.1f} s, outputs written")
