"""`ffnn playground` for real: the command in a subprocess, the page in Chromium (Playwright)."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from waiting import wait_until

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,  # make check skips this file (see README, Development)
    pytest.mark.skipif(
        not shutil.which("chromium"), reason="Debian's chromium is not installed (make test installs it)"
    ),
]


@contextlib.contextmanager
def running_playground():
    """``ffnn playground --port 0`` until the block ends: then Ctrl-C, which must stop it with exit
    status 0. Yields the page's address, from the first line the command prints."""
    command = [sys.executable, "-m", "ffnn", "playground", "--port", "0"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        found = re.search(r"http://[^ ]+/", line)
        assert found, f"no address in {line!r}"
        yield found[0]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=120) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


@contextlib.contextmanager
def browser_page(url, problems):
    """A Chromium page at ``url``; console errors and CSP violations are appended to ``problems``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1300, "height": 850})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url)
        try:
            yield page
        finally:
            browser.close()


def number(page, testid):
    return float(page.get_by_test_id(testid).inner_text())


def test_play_pause_reset_and_the_vanishing_gradient_in_a_real_browser():
    problems = []
    with running_playground() as url, browser_page(url, problems) as page:
        wait_until(lambda: page.inner_text("#state") == "paused")
        page.select_option("#dataset", "spirals")
        wait_until(lambda: page.get_by_test_id("cost").inner_text() != "–")
        first_cost = number(page, "cost")
        regions = page.locator("#regions")
        before = regions.screenshot()
        page.get_by_role("button", name="Play", exact=True).click()
        wait_until(lambda: number(page, "step") > 2000 and number(page, "cost") < 0.7 * first_cost)
        assert regions.screenshot() != before  # the regions were redrawn as the network learned

        page.get_by_role("button", name="Pause", exact=True).click()
        wait_until(lambda: page.inner_text("#state") == "paused")
        stopped = number(page, "step")
        time.sleep(0.5)
        assert number(page, "step") == stopped
        page.get_by_role("button", name="Step", exact=True).click()
        wait_until(lambda: number(page, "step") == stopped + 1)
        page.get_by_role("button", name="Reset", exact=True).click()
        wait_until(lambda: number(page, "step") == 0)

        page.select_option("#preset", "deep sigmoid (stops learning)")
        wait_until(lambda: page.input_value("#hidden") == "8, 8, 8, 8, 8, 8, 8, 8" and number(page, "step") == 0)
        page.get_by_role("button", name="Step", exact=True).click()
        wait_until(lambda: page.get_by_test_id("grad-1").inner_text() != "–")
        sigmoid = number(page, "grad-1")
        page.select_option("#activation", "relu")  # a change resets the experiment with it
        wait_until(lambda: page.get_by_test_id("grad-1").inner_text() == "–")
        page.get_by_role("button", name="Step", exact=True).click()
        wait_until(lambda: page.get_by_test_id("grad-1").inner_text() != "–")
        relu = number(page, "grad-1")
        assert relu >= 10 * sigmoid, (relu, sigmoid)
        assert page.locator("#gradients .grad").count() == 9  # eight hidden layers and the output

        page.fill("#learning_rate", "1e9")  # refused: nothing trains until it is fixed
        page.press("#learning_rate", "Enter")
        page.locator("#learning_rate").blur()
        wait_until(lambda: "'learning_rate' must be a number in (0, 10]" in page.inner_text("#status"))
        assert page.get_by_role("button", name="Play", exact=True).is_disabled()
        assert page.get_by_role("button", name="Step", exact=True).is_disabled()
        page.fill("#learning_rate", "0.1")
        page.locator("#learning_rate").blur()
        wait_until(lambda: page.get_by_role("button", name="Play", exact=True).is_enabled())
        assert page.inner_text("#status") == ""
    assert [p for p in problems if "400 (BAD REQUEST)" not in p] == []  # the refused value's answer is logged
