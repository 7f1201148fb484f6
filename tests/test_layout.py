"""The module map of docs/design.md: imports point one way, and `import ffnn` stays light."""

import ast
from pathlib import Path

import ffnn

SRC = Path(ffnn.__file__).parent

# docs/design.md: each module's layer. A module imports only from its own layer and those below,
# counting imports inside functions (only `if TYPE_CHECKING:` blocks, which never run, are not
# counted), and no module imports itself back through others.
LAYERS = {
    1: "_arrays _blas _files _validation _version errors backends activations costs initializers backprop network "
    "reference gradcheck perceptron metrics outputs threads environment",
    2: "optimizers schedules steps state callbacks callbacks.base callbacks.printing callbacks.metrics_log "
    "callbacks.early_stopping callbacks.interrupt callbacks.probes training distributed checkpoint feed live monitor "
    "explain",
    3: "serialization export images data data.arrays data.augment data.idx data.inputs data.mnist data.named "
    "data.sources data.toy",
    4: "settings recipes config build folder evaluate run experiment runs sweep listing explaining",
    5: "cli __main__ server serve playground plotting web sklearn",
}
LAYER = {name: layer for layer, names in LAYERS.items() for name in names.split()}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def ffnn_imports(path: Path) -> set[str]:
    """Every ffnn module ``path`` imports, anywhere in the file but under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for stmt in ast.walk(tree)
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)
        for node in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ffnn.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ffnn":
            # `from ffnn import x` names a module when x is one, else the package's own namespace
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (SRC / Path(*candidate.split(".")[1:])).with_suffix(".py").exists() or (
                    SRC / Path(*candidate.split(".")[1:]) / "__init__.py"
                ).exists()
                found.add(candidate if is_module else node.module)
    return {name.removeprefix("ffnn.").removeprefix("ffnn") or "__init__" for name in found}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    return {name: {m for m in ffnn_imports(path) if m != "__init__"} for name, path in modules.items() if name}


def test_every_module_has_a_layer():
    assert set(graph()) == set(LAYER), "a module was added or removed: give it its layer in docs/design.md"


def test_imports_point_down_or_across_never_up():
    upward = [
        f"{name} (layer {LAYER[name]}) imports {target} (layer {LAYER[target]})"
        for name, targets in graph().items()
        for target in targets
        if LAYER[target] > LAYER[name]
    ]
    assert upward == []


def test_there_is_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_checker_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ffnn.cli import main\n"
        "def f():\n    from ffnn.training import fit\n    import ffnn.run\n"
    )
    assert ffnn_imports(source) == {"training", "run"}
