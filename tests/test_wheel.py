"""ffnn as a user installs it: the README's install lines, run as written, into fresh virtual
environments outside the source tree.

The README's "Install" section holds two code blocks, and every line of them runs here (the last
test checks that none was left out): the clone's ``pip install -e`` lines run from the source tree
into one fresh environment; ``make dist`` builds the sdist and, from it, the wheel into a temporary
folder (``DIST=``), and the wheel's ``pip install`` lines (its ``<version>`` placeholder replaced)
install it into another. From a folder outside the tree, the installed ``ffnn`` then shows its
version, trains the xor recipe, lists the recipes and prints the playground's help; its Python
reads every piece of package data through ``importlib.resources`` (and proves that it imported the
installed ffnn, not the tree's); the light extras the README installs import; and every other
extra of the wheel's metadata resolves with ``pip install --dry-run``, so that a new extra cannot
be forgotten and nothing heavy is installed. One build and one environment per kind serve every
test (module-scoped fixtures); pip's cache keeps a second run short.
"""

import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import ffnn
from ffnn import recipes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.slow  # builds, creates virtual environments, runs pip and ffnn

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ffnn"
WHEEL = "dist/ffnn-<version>-py3-none-any.whl"  # the README's name for the wheel `make dist` builds
VERSION = ffnn.__version__  # the tree's: what the wheel must carry
SAFETY = 900  # seconds for one command: only a hang reaches it (pip may fetch packages)

# The module each requirement of a light extra (installed for real) gives to `import`.
IMPORTS = {"matplotlib": "matplotlib", "tqdm": "tqdm", "flask": "flask", "waitress": "waitress", "pillow": "PIL"}


def install_section() -> str:
    """The README's "Install" section."""
    section = re.search(r"^## Install\n(.*?)(?=^## )", (ROOT / "README.md").read_text(encoding="utf-8"), re.M | re.S)
    assert section, "README.md has no '## Install' section"
    return section.group(1)


def install_lines() -> list[str]:
    """The command lines of the README's "Install" section: its code blocks, comments dropped."""
    blocks = re.findall(r"^```(?:sh|bash|console)?\n(.*?)^```", install_section(), re.M | re.S)
    return [line for block in blocks for line in block.splitlines() if words(line)]


def words(line: str) -> list[str]:
    """A command line's words, as the shell splits them (its comment dropped)."""
    return shlex.split(line, comments=True)


@dataclass
class Venv:
    """A fresh virtual environment, and its commands run with it active (PATH, VIRTUAL_ENV)."""

    root: Path
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        run_cmd([sys.executable, "-m", "venv", self.root], cwd=self.root.parent)
        hidden = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
        self.env = {k: v for k, v in os.environ.items() if k not in hidden}
        self.env |= {"VIRTUAL_ENV": str(self.root), "PYTHONNOUSERSITE": "1"}
        self.env["PATH"] = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"

    def run(self, *args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
        """``args[0]`` from the environment's bin/ (``ffnn``, ``python``), the rest as given."""
        return run_cmd([self.root / "bin" / str(args[0]), *args[1:]], cwd=cwd, env=self.env)

    def python(self, code: str, cwd: Path) -> object:
        """What ``code`` prints as JSON, run by the environment's Python."""
        return json.loads(self.run("python", "-c", code, cwd=cwd).stdout)


def run_cmd(args, cwd: Path, env=None) -> subprocess.CompletedProcess[str]:
    """A command run to its end; one that fails fails the test, with its output."""
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=SAFETY, check=False
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


class Readme:
    """Runs the README's install lines, each as written but for the placeholders, and records them."""

    def __init__(self, work: Path) -> None:
        self.lines = install_lines()
        self.dist = work / "dist"  # what `make dist` builds, here
        self.wheel = self.dist / Path(WHEEL.replace("<version>", VERSION)).name
        self.ran: list[str] = []

    def run(self, line: str, venv: Venv | None, cwd: Path) -> subprocess.CompletedProcess[str]:
        command = words(line)
        if command == ["make", "dist"]:
            done = run_cmd(["make", "dist", f"DIST={self.dist}"], cwd=ROOT)
        elif command[0] == "pip" and venv is not None:
            done = venv.run("python", "-m", "pip", *(w.replace(WHEEL, str(self.wheel)) for w in command[1:]), cwd=cwd)
        else:
            raise AssertionError(f"README install line {line!r}: this test runs `make dist` and `pip` lines only")
        self.ran.append(line)
        return done


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    assert not folder.resolve().is_relative_to(ROOT), "the test must run outside the source tree"
    return folder


@pytest.fixture(scope="module")
def readme(work) -> Readme:
    return Readme(work)


@pytest.fixture(scope="module")
def built(readme) -> str:
    """``make dist``'s output (stdout and stderr), having built the sdist and the wheel into ``readme.dist``."""
    (line,) = [line for line in readme.lines if words(line)[0] == "make"]
    done = readme.run(line, None, ROOT)
    assert readme.wheel.is_file(), f"`make dist` built {sorted(p.name for p in readme.dist.iterdir())}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(work, readme, built) -> Venv:
    """A fresh environment holding the wheel, no extras: the README's plain wheel lines run."""
    venv = Venv(work / "venv")
    lines = [line for line in readme.lines if WHEEL in words(line)]
    assert lines, f"the README's install section has no `pip install {WHEEL}` line"
    for line in lines:
        readme.run(line, venv, work)
    return venv


@pytest.fixture(scope="module")
def with_extras(work, readme, installed) -> tuple[Venv, list[str]]:
    """The same environment after the README's lines that install the wheel with extras: it and
    the extras they name."""
    lines = [line for line in readme.lines if any(w.startswith(f"{WHEEL}[") for w in words(line))]
    assert lines, f"the README's install section has no `pip install '{WHEEL}[...]'` line"
    extras = []
    for line in lines:
        readme.run(line, installed, work)
        extras += re.search(re.escape(WHEEL) + r"\[([^]]*)\]", " ".join(words(line))).group(1).split(",")
    return installed, extras


@pytest.fixture(scope="module")
def cloned(work, readme) -> Venv:
    """A fresh environment into which the README's clone lines installed the source tree."""
    venv = Venv(work / "clone-venv")
    lines = [line for line in readme.lines if words(line)[0] == "pip" and not any(WHEEL in w for w in words(line))]
    assert lines, "the README's install section has no line installing from the clone"
    for line in lines:
        readme.run(line, venv, ROOT)
    return venv


def wheel_metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        return Parser().parsestr(z.read(f"ffnn-{VERSION}.dist-info/METADATA").decode())


def extras_of(metadata) -> dict[str, list[Requirement]]:
    """Each extra the wheel declares, with its requirements (those its name adds to the core's)."""
    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist")]
    extra = [r for r in requirements if r.marker is not None and not r.marker.evaluate({"extra": ""})]
    return {
        name: [r for r in extra if r.marker.evaluate({"extra": name})] for name in metadata.get_all("Provides-Extra")
    }


def package_data() -> list[str]:
    """The files of src/ffnn that are not modules, relative to it: each must be declared package data."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ffnn"]
    found = sorted(
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )
    undeclared = [name for name in found if not any(Path(name).match(pattern) for pattern in declared)]
    assert not undeclared, f"not in [tool.setuptools.package-data], so not in the wheel: {undeclared}"
    return found


def test_sdist_holds_what_a_build_needs_and_the_wheel_was_built_from_it(built, readme):
    with tarfile.open(readme.dist / f"ffnn-{VERSION}.tar.gz") as t:
        names = {n.removeprefix(f"ffnn-{VERSION}/") for n in t.getnames()}
    assert {"pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "PKG-INFO"} <= names
    modules = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")]
    missing = [name for name in [*modules, *package_data()] if f"src/ffnn/{name}" not in names]
    assert not missing, f"not in the sdist: {missing}"
    assert not [n for n in names if n.startswith("tests/")], "the sdist holds part of the test suite"
    assert "Building wheel from sdist" in built  # `build`'s default: the wheel is the sdist's


def test_wheel_holds_the_package_and_declares_every_extra(readme, built):
    with zipfile.ZipFile(readme.wheel) as z:
        names = set(z.namelist())
    modules = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")]
    missing = [name for name in [*modules, *package_data()] if f"ffnn/{name}" not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert f"ffnn-{VERSION}.dist-info/licenses/LICENSE" in names
    metadata = wheel_metadata(readme.wheel)
    assert metadata["Version"] == VERSION and metadata["License-Expression"] == "MIT"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    extras = extras_of(metadata)
    assert sorted(extras) == sorted(pyproject)
    assert all(extras.values()), f"an extra without requirements in the metadata: {extras}"


def test_readme_lists_every_extra(readme, built):
    listed = re.findall(r"^\| `([a-z-]+)` \|", install_section(), re.M)  # the table's rows, one per extra
    assert sorted(listed) == sorted(extras_of(wheel_metadata(readme.wheel)))


def test_version(installed, work):
    assert installed.run("ffnn", "--version", cwd=work).stdout == f"ffnn {VERSION}\n"


def test_installed_ffnn_reads_its_package_data(installed, work):
    """The environment's own ffnn, not the tree's, reads every data file as the tree holds it,
    loads every recipe as `--recipe` does, and finds every web page the servers serve."""
    data = package_data()
    code = f"""if True:
        import hashlib, json
        from importlib import resources
        import ffnn
        from ffnn import recipes
        files = resources.files("ffnn")
        print(json.dumps({{
            "file": ffnn.__file__,
            "version": ffnn.__version__,
            "data": {{name: hashlib.sha256(files.joinpath(*name.split("/")).read_bytes()).hexdigest()
                      for name in {data!r}}},
            "recipes": {{name: recipes.settings(name) for name in recipes.names()}},
            "pages": {{page.name: len(resources.files("ffnn.web").joinpath(page.name).read_text(encoding="utf-8"))
                       for page in resources.files("ffnn.web").iterdir() if page.name.endswith(".html")}},
        }}))
    """
    found = installed.python(code, cwd=work)
    assert Path(found["file"]).is_relative_to(installed.root), found["file"]
    assert found["version"] == VERSION
    assert found["data"] == {name: hashlib.sha256((PACKAGE / name).read_bytes()).hexdigest() for name in data}
    tree = {name: recipes.settings(name) for name in recipes.names()}
    assert found["recipes"] == json.loads(json.dumps(tree))  # tuples as JSON lists, as the environment's
    pages = sorted(p.name for p in (PACKAGE / "web").glob("*.html"))
    assert sorted(found["pages"]) == pages and len(pages) >= 3
    assert all(size > 1000 for size in found["pages"].values()), found["pages"]


def test_train_xor(installed, work):
    out = work / "xor"
    done = installed.run("ffnn", "train", "--recipe", "xor", "--out", out, cwd=work)
    assert "Final test accuracy: 100.00 %" in done.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["recipe"] == "xor" and summary["epochs_completed"] == 500
    assert summary["final_test_accuracy"] == 1.0 and summary["ffnn_version"] == VERSION
    assert (out / "model.npz").stat().st_size > 0


def test_recipes(installed, work):
    listing = installed.run("ffnn", "recipes", cwd=work).stdout
    assert [line for line in listing.splitlines() if line and not line[0].isspace()] == recipes.names()


def test_playground_help(installed, work):
    done = installed.run("ffnn", "playground", "--help", cwd=work)
    assert done.stdout.startswith("usage: ffnn playground") and "--port" in done.stdout


def test_light_extras_import(with_extras, readme, work):
    venv, extras = with_extras
    assert sorted(extras) == ["plots", "progress", "serve"]
    wanted = [r for extra in extras for r in extras_of(wheel_metadata(readme.wheel))[extra]]
    names = {canonicalize_name(r.name) for r in wanted}
    assert names <= set(IMPORTS), f"add the import name of {names - set(IMPORTS)} to IMPORTS"
    code = f"""if True:
        import importlib, json
        from importlib import metadata
        for module in {sorted(IMPORTS[n] for n in names)!r}:
            importlib.import_module(module)
        print(json.dumps({{name: metadata.version(name) for name in {sorted(names)!r}}}))
    """
    versions = venv.python(code, cwd=work)
    assert all(r.specifier.contains(versions[canonicalize_name(r.name)]) for r in wanted), versions


def test_heavy_extras_resolve(with_extras, readme, work):
    """Every extra not installed for real resolves, as `pip install 'ffnn[...]'` over the installed
    wheel (the form ffnn's messages give): pip keeps that ffnn and finds all the extras' packages."""
    venv, installed_extras = with_extras
    extras = extras_of(wheel_metadata(readme.wheel))
    heavy = sorted(set(extras) - set(installed_extras))
    assert {"torch", "onnx", "sklearn", "mpi", "sweep", "notebooks", "test"} <= set(heavy)
    report = work / "dry-run.json"
    venv.run("python", "-m", "pip", "install", "--dry-run", "--quiet", "--report", report,
             f"ffnn[{','.join(heavy)}]", cwd=work)  # fmt: skip
    would_install = {canonicalize_name(i["metadata"]["name"]) for i in json.loads(report.read_text())["install"]}
    assert "ffnn" not in would_install, "pip would replace the installed ffnn"
    code = "import json; from importlib import metadata; print(json.dumps([d.name for d in metadata.distributions()]))"
    present = {canonicalize_name(name) for name in venv.python(code, cwd=work)}
    unresolved = {
        extra: missing
        for extra in heavy
        if (missing := {canonicalize_name(r.name) for r in extras[extra]} - would_install - present)
    }
    assert not unresolved


def test_clone_install(cloned, work):
    """The README's clone lines install the tree, editable, with the extras they name."""
    code = "import json, ffnn, matplotlib, tqdm; print(json.dumps([ffnn.__file__, ffnn.__version__]))"
    file, version = cloned.python(code, cwd=work)
    assert Path(file) == PACKAGE / "__init__.py" and version == VERSION
    assert cloned.run("ffnn", "--version", cwd=work).stdout == f"ffnn {VERSION}\n"


def test_every_readme_install_line_ran(readme, built, installed, with_extras, cloned):
    assert sorted(readme.ran) == sorted(readme.lines) and len(readme.lines) >= 5
