"""The two tiers: `make check` runs `pytest -m "not slow"`, `make test` runs everything. A test file
that starts another process (a subprocess, `ffnn` as a command, mpiexec, a browser through
Playwright) must carry a module-level ``pytestmark`` with ``pytest.mark.slow``, or the fast tier
would quietly grow slow again. Read from the source (ast), so nothing is imported or run."""

import ast
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).parent

# Modules whose import means another process, and names (functions, helpers) that start one.
PROCESS_MODULES = {"subprocess", "multiprocessing", "playwright", "pexpect"}
PROCESS_NAMES = {"Popen", "ffnn_cmd", "mpiexec", "sync_playwright", "async_playwright", "create_subprocess_exec"}
PROCESS_OS_CALLS = {"system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp"}  # os.<name>
PROCESS_OS_PREFIXES = ("exec", "spawn")  # os.execv, os.spawnl, ...


def starts_processes(tree: ast.Module) -> list[str]:
    """What in a test module starts another process: the signs found, empty when none."""
    signs = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            signs |= {a.name for a in node.names if a.name.split(".")[0] in PROCESS_MODULES}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PROCESS_MODULES:
            signs.add(node.module)
        elif isinstance(node, ast.Name) and node.id in PROCESS_NAMES:
            signs.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in PROCESS_NAMES:
            signs.add(node.name)
        elif isinstance(node, ast.Attribute):
            if node.attr in PROCESS_NAMES:
                signs.add(node.attr)
            elif (
                isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and (node.attr in PROCESS_OS_CALLS or node.attr.startswith(PROCESS_OS_PREFIXES))
            ):
                signs.add(f"os.{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in ("mpiexec", "mpirun", "chromium"):
            signs.add(repr(node.value))
    return sorted(signs)


def _is_slow_mark(node: ast.AST) -> bool:
    """``pytest.mark.slow`` (or ``<anything>.mark.slow``, e.g. ``__import__("pytest").mark.slow``)."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "slow"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "mark"
    )


def marked_slow(tree: ast.Module) -> bool:
    """Whether a module-level ``pytestmark = ...`` (one mark or a list of them) includes slow."""
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets) and node.value is not None:
                value = node.value
                marks = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
                if any(_is_slow_mark(m) for m in marks):
                    return True
    return False


def scan(folder: Path) -> dict[str, tuple[list[str], bool]]:
    """Every test file of a folder: (what starts processes, whether it is marked slow)."""
    found = {}
    for path in sorted(folder.glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue  # this file names the signs without using them
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found[path.name] = (starts_processes(tree), marked_slow(tree))
    return found


def unmarked(folder: Path) -> list[str]:
    """The test files that start processes but are not marked slow, with what gave them away."""
    return [f"{name}: {', '.join(signs)}" for name, (signs, slow) in scan(folder).items() if signs and not slow]


def test_every_test_file_that_starts_processes_is_marked_slow():
    assert unmarked(HERE) == [], "mark these with `pytestmark = pytest.mark.slow` (make check must stay fast)"


def test_the_scan_sees_the_real_files():
    found = scan(HERE)
    # Files known to start processes are seen as such, each by its own means, and are marked.
    for name, sign in [
        ("test_cli.py", "subprocess"),
        ("test_decisions.py", "ffnn_cmd"),
        ("test_mpi.py", "mpiexec"),
        ("test_playground_browser.py", "Popen"),
        ("test_serve.py", "playwright.sync_api"),
        ("test_kill.py", "subprocess"),
    ]:
        signs, slow = found[name]
        assert sign in signs, (name, signs)
        assert slow, name
    # Files of the fast tier start nothing and are not marked.
    for name in ["test_activations.py", "test_backprop.py", "test_gradcheck.py", "test_settings.py", "test_idx.py"]:
        assert found[name] == ([], False), name
    # Slow for another reason (real MNIST, a server in a thread, waiting on live streams).
    for name in ["test_mnist_real.py", "test_mnist_sources.py", "test_live.py"]:
        assert found[name][1], name
    # A mark inside a list, with a skipif, counts; and test_tiers.py itself is not scanned.
    assert found["test_mnist_real.py"][1]
    assert "test_tiers.py" not in found


UNMARKED = textwrap.dedent('''
    """Starts the command line."""

    import subprocess
    import sys

    import pytest


    def test_version():
        subprocess.run([sys.executable, "-m", "ffnn", "--version"], check=True)
''')


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        (UNMARKED, True),
        (UNMARKED + "\npytestmark = pytest.mark.slow\n", False),
        (UNMARKED + "\npytestmark = [pytest.mark.slow, pytest.mark.skipif(False, reason='x')]\n", False),
        (UNMARKED + "\npytestmark = pytest.mark.skipif(False, reason='not slow')\n", True),
        (UNMARKED.replace("subprocess.run(", "ffnn_cmd(").replace("import subprocess", ""), True),
        ("from playwright.sync_api import sync_playwright\n", True),
        ("import os\n\n\ndef test_shell():\n    os.system('true')\n", True),
        ("def test_math():\n    assert 1 + 1 == 2\n", False),
        # A slow mark on one test is not a module-level mark: the file is still flagged.
        (
            "import subprocess\nimport pytest\n\n\n@pytest.mark.slow\ndef test_a():\n    subprocess.run(['true'])\n",
            True,
        ),
    ],
)
def test_the_scan_flags_an_unmarked_file(tmp_path, source, flagged):
    (tmp_path / "test_new.py").write_text(source)
    (tmp_path / "helper.py").write_text("import subprocess\n")  # not a test file: not scanned
    found = unmarked(tmp_path)
    assert found == (["test_new.py: " + ", ".join(scan(tmp_path)["test_new.py"][0])] if flagged else [])
