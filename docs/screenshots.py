"""The screenshots in docs/img, taken from the real pages. Run by hand after changing a page:

    PYTHONPATH=src python docs/screenshots.py            # every screenshot
    PYTHONPATH=src python docs/screenshots.py playground # one of them

Needs the ``serve`` extra, Playwright (``pip install playwright``) and Chromium at /usr/bin/chromium
(Debian's ``chromium`` package); the documentation site's two need the ``docs`` extra and
docs/vendor/ (``make docs``). Each screenshot is a function in ``SCREENSHOTS`` that starts its
page's command in a subprocess (:func:`command_page`, :func:`site_page`), drives the page, and
saves one PNG.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

IMAGES = Path(__file__).parent / "img"
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1300, "height": 850}


@contextlib.contextmanager
def command_page(*args: str) -> Iterator[Any]:
    """A Chromium page showing ``ffnn ARGS --port 0`` (the address from the command's first line of
    output); the command gets Ctrl-C when the block ends."""
    from playwright.sync_api import sync_playwright

    command = [sys.executable, "-m", "ffnn", *args, "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        found = re.search(r"http://\S+/", line)
        if not found:
            raise RuntimeError(f"ffnn {' '.join(args)} printed no address: {line!r}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(found[0])
            yield page
            browser.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


def playground(path: Path) -> None:
    """``ffnn playground``: the spirals preset after about 8 s of training."""
    with command_page("playground") as page:
        page.get_by_text("paused").wait_for()
        page.get_by_role("button", name="spirals", exact=True).click()
        time.sleep(1.0)  # the reset's frame arrives
        page.get_by_role("button", name="Play", exact=True).click()
        time.sleep(8.0)
        page.get_by_role("button", name="Pause", exact=True).click()
        time.sleep(0.5)
        page.screenshot(path=str(path))


def playground_explain(path: Path) -> None:
    """``ffnn playground``'s explain mode (full height): source 002's four-example toy after about
    a second of training, training point 3 at the BP3/BP4 stage, a connection of layer 2 hovered."""
    with command_page("playground") as page:
        page.get_by_text("paused").wait_for()
        page.get_by_role("button", name="four-example toy (source 002)").click()
        time.sleep(1.0)  # the reset's frame arrives
        page.get_by_role("button", name="Play", exact=True).click()
        time.sleep(1.0)
        page.get_by_role("button", name="Pause", exact=True).click()
        page.get_by_role("button", name="Explain a step").click()
        x, y = page.evaluate("pointXY(2)")
        box = page.locator("#regions").bounding_box()
        page.mouse.click(box["x"] + 1 + x, box["y"] + 1 + y)  # + the canvas's border
        page.wait_for_selector("#explain[data-stage=forward]")
        while page.get_attribute("#explain", "data-stage") != "bp34":
            page.get_by_role("button", name="Step", exact=True).click()
        x, y = page.evaluate("edgePoint(2, 0, 3, 0.35)")
        box = page.locator("#explain-net").bounding_box()
        page.mouse.move(box["x"] + x, box["y"] + y)
        page.wait_for_selector("#edge-tip:not([hidden])")
        page.screenshot(path=str(path), full_page=True)


def live_page(path: Path) -> None:
    """``ffnn train --recipe nielsen-ch1 --serve``: MNIST, 8 epochs, the page at the end (full height)."""
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "run")
        with command_page(
            "train", "--recipe", "nielsen-ch1", "--epochs", "8", "--out", out, "--quiet", "--serve"
        ) as page:
            page.wait_for_selector("[data-state=finished]", timeout=300_000)
            page.wait_for_selector("#draw[src]")
            time.sleep(2.0)  # the drawing pad's frame loads
            page.screenshot(path=str(path), full_page=True)


def explain(path: Path) -> None:
    """``ffnn explain --recipe source-002``: its output as a terminal shows it, in two columns (the
    forward pass; then the cost, the backward pass, the gradient and the update)."""
    import html

    from playwright.sync_api import sync_playwright

    command = [sys.executable, "-m", "ffnn", "explain", "--recipe", "source-002"]
    text = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    forward, rest = text.split("\nCOST", 1)
    columns = "".join(f"<pre>{html.escape(part)}</pre>" for part in (forward, "COST" + rest))
    style = (
        "body{margin:0;background:#1e1e1e;color:#e8e8e8;display:flex;gap:28px;padding:16px 20px;width:max-content}"
        "pre{margin:0;font:13px/1.35 'DejaVu Sans Mono',monospace}"
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 600, "height": 400})
        page.set_content(f"<!doctype html><meta charset=utf-8><style>{style}</style><body>{columns}</body>")
        page.screenshot(path=str(path), full_page=True)
        browser.close()


@contextlib.contextmanager
def site_page(name: str, fragment: str = "") -> Iterator[Any]:
    """A Chromium page showing page ``name`` (at ``#fragment``) of the documentation site
    (mkdocs.yml), built into a temporary folder and opened from disk, as ``site/`` is."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        root = Path(__file__).resolve().parent.parent
        command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", folder]
        subprocess.run(command, cwd=root, check=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport=VIEWPORT)
            page.goto((Path(folder) / name).as_uri() + (f"#{fragment}" if fragment else ""))
            yield page
            browser.close()


def docs_home(path: Path) -> None:
    """The documentation site's home page (``make docs``; needs the ``docs`` extra and docs/vendor/)."""
    with site_page("index.html") as page:
        page.screenshot(path=str(path))


def docs_api(path: Path) -> None:
    """The site's API reference: ``ffnn.Network``, its signature and the start of its parameters."""
    with site_page("api/index.html", "ffnn.Network") as page:
        page.wait_for_function("() => window.scrollY > 0")  # at the anchor
        page.screenshot(path=str(path))


SCREENSHOTS: dict[str, Callable[[Path], None]] = {
    "playground": playground,
    "playground-explain": playground_explain,
    "live-page": live_page,
    "explain": explain,
    "docs-home": docs_home,
    "docs-api": docs_api,
}


if __name__ == "__main__":
    IMAGES.mkdir(exist_ok=True)
    for name in sys.argv[1:] or list(SCREENSHOTS):
        SCREENSHOTS[name](IMAGES / f"{name}.png")
        print(f"wrote {IMAGES / f'{name}.png'}")
