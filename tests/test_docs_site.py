"""The documentation site (mkdocs.yml; `make docs`, issue 24): built here in strict mode, then opened
from disk in Chromium with every request that is not for a file aborted — the math typeset by the
bundled KaTeX, search answering, an API page showing ``ffnn.fit``'s signature and docstring, a
notebook with its figures, and nothing asked of the network. A broken link, or a reference to a
name ffnn lacks, fails the strict build."""

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ffnn
from test_live_server import BROWSER_ARGS
from test_serve import CHROMIUM

pytestmark = [
    pytest.mark.slow,  # make check skips this file (see README, Development)
    pytest.mark.skipif(
        shutil.which("mkdocs", path=Path(sys.executable).parent) is None,
        reason="the docs extra is not installed (make docs installs it)",
    ),
]

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 120_000  # a safety net only, for a busy machine


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("docs") / "site"
    result = build(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING" not in result.stderr
    return site


def test_no_page_names_a_script_or_stylesheet_on_the_network(site):
    pages = sorted(site.rglob("*.html"))
    names = [
        (page.relative_to(site).as_posix(), url)
        for page in pages
        for url in re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"', page.read_text(encoding="utf-8"))
    ]
    assert len(pages) == 32  # home, 8 documents, 7 notebook pages, 15 API pages, 404
    assert [(page, url) for page, url in names if re.match(r"[a-z]+:|//", url)] == []
    assert {url.rsplit("/", 1)[-1] for _, url in names} >= {"katex.min.js", "katex.min.css", "shim.js"}


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (make test installs it)")
def test_the_site_opens_from_disk_with_its_math_search_and_api(site):
    from playwright.sync_api import sync_playwright

    elsewhere, problems = [], []

    def only_files(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            page.route("**/*", only_files)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

            page.goto((site / "index.html").as_uri())
            assert page.title().startswith("ffnn")
            assert page.locator("nav.md-nav--primary a[href='api/index.html']").count() == 1

            # Search, whose index and worker load from disk (the offline plugin, iframe-worker's shim).
            page.locator(".md-search__input").click()
            page.get_by_text("Type to start searching").wait_for()  # (before: "Initializing search")
            page.locator(".md-search__input").press_sequentially("backpropagation")  # (it reads keyup)
            page.wait_for_function("() => document.querySelectorAll('.md-search-result__item').length > 0")

            page.goto((site / "math.html").as_uri())
            page.wait_for_function("() => document.querySelectorAll('.arithmatex .katex').length > 0")
            formulas = page.evaluate(
                "() => [...document.querySelectorAll('.arithmatex')].map(e => e.querySelector('.katex') !== null)"
            )
            assert len(formulas) > 100 and all(formulas)  # every formula of docs/math.md typeset
            assert page.locator(".katex-error").count() == 0
            displayed = (ROOT / "docs" / "math.md").read_text(encoding="utf-8").splitlines().count("$$") // 2
            assert page.locator(".katex-display").count() == displayed >= 7  # each $$ … $$ block

            page.goto((site / "api" / "index.html").as_uri())
            fit = page.locator("div.doc-object:has(> .doc-heading[id='ffnn.fit'])")
            signature = fit.locator(".doc-signature").inner_text()
            assert signature.startswith("fit(")
            assert [name for name in inspect.signature(ffnn.fit).parameters if name not in signature] == []
            first_line = inspect.getdoc(ffnn.fit).splitlines()[0].replace("``", "").replace(":class:", "")
            assert first_line.replace("`", "") in " ".join(fit.inner_text().split())
            assert fit.locator("a[href='#ffnn.History']").count() >= 1  # a :class: role, now a link

            page.goto((site / "notebooks" / "02-gradient-descent.html").as_uri())
            page.wait_for_function("() => document.querySelectorAll('.jp-RenderedMarkdown .katex').length > 0")
            assert page.locator(".jupyter-wrapper img").count() >= 3  # the stored figures
            assert page.locator(".katex-error").count() == 0
        finally:
            browser.close()
    assert (elsewhere, problems) == ([], [])


def test_a_broken_link_and_missing_names_fail_the_strict_build(tmp_path):
    """The site's own configuration, on copies of docs/ and src/ in which the home page links to a
    page that does not exist, the API page refers to a name ffnn lacks, and a docstring's Sphinx
    role names nothing: three warnings, so no site."""
    docs, src = tmp_path / "docs", tmp_path / "src"
    shutil.copytree(ROOT / "docs", docs)
    shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for page in ROOT.glob("*.md"):  # what docs/ includes from the root (BENCHMARKS.md, CHANGELOG.md)
        (tmp_path / page.name).symlink_to(page)
    with (docs / "index.md").open("a", encoding="utf-8") as f:
        f.write("\nSee [the tutorial](tutorial.md).\n")
    with (docs / "api" / "index.md").open("a", encoding="utf-8") as f:
        f.write("\nAlso [`ffnn.train`][ffnn.train].\n")
    with (src / "ffnn" / "errors.py").open("a", encoding="utf-8") as f:
        f.write('\n\ndef _see_also():\n    """As :func:`fitt` does."""\n')
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for hook in ("docs/hooks.py", "docs/griffe_roles.py"):  # the hooks themselves, from the checkout
        config = config.replace(hook, str(ROOT / hook))
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")

    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    warnings = sorted(line for line in result.stderr.splitlines() if line.startswith("WARNING"))
    assert result.returncode == 1
    assert len(warnings) == 3, result.stderr[-4000:]
    assert "contains a link 'tutorial.md', but the target is not found" in warnings[0]
    assert "ffnn.errors._see_also: the docstring's 'fitt' names nothing in its scope" in warnings[1]
    assert "Could not find cross-reference target 'ffnn.train'" in warnings[2]
    assert "Aborted with 3 warnings in strict mode" in result.stdout
