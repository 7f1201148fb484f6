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

        page.get_by_role("button", name="deep sigmoid (stops learning)").click()
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


def click_training_point(page, i):
    """Click training point ``i`` on the decision regions (the page's own ``pointXY`` places it)."""
    x, y = page.evaluate(f"pointXY({i})")
    box = page.locator("#regions").bounding_box()
    page.mouse.click(box["x"] + 1 + x, box["y"] + 1 + y)  # + the canvas's 1-pixel border


def test_at_the_slowest_speed_n_steps_take_n_minus_1_seconds_and_preset_names_show_whole():
    problems = []
    with running_playground() as url, browser_page(url, problems) as page:
        wait_until(lambda: page.inner_text("#state") == "paused")
        presets = page.locator("#presets button")
        assert presets.count() == 4
        for name, (scroll, client) in zip(
            presets.all_inner_texts(), presets.evaluate_all("bs => bs.map(b => [b.scrollWidth, b.clientWidth])")
        ):
            assert scroll <= client, f"the preset {name!r} is cut off: {scroll} > {client} pixels"
        page.get_by_role("button", name="spirals", exact=True).click()
        wait_until(lambda: page.input_value("#hidden") == "16, 16, 16")
        assert page.get_by_role("button", name="spirals", exact=True).get_attribute("aria-pressed") == "true"

        page.focus("#speed")
        page.keyboard.press("Home")  # the slowest: 1 step a second
        assert page.inner_text("#speed-shown") == "1 step/s"
        wait_until(lambda: page.get_attribute("#speed", "data-applied") == "1")  # the server has it
        assert number(page, "step") == 0
        start = time.monotonic()
        page.get_by_role("button", name="Play", exact=True).click()
        wait_until(lambda: number(page, "step") >= 4)
        assert time.monotonic() - start >= 3.0  # n = 4 steps: at least n − 1 seconds (at full speed: ~2 ms)
        page.focus("#speed")
        page.keyboard.press("End")  # full speed, while playing
        assert page.inner_text("#speed-shown") == "full speed"
        wait_until(lambda: number(page, "step") > 500)
        page.get_by_role("button", name="Pause", exact=True).click()
        wait_until(lambda: page.inner_text("#state") == "paused")
    assert problems == []


def explained_numbers(page, where):
    """{key: value} of every number the explain mode shows in ``where`` (each says where in the
    explanation it comes from, and its full value)."""
    found = page.locator(f"{where} [data-key]").evaluate_all("ns => ns.map(n => [n.dataset.key, n.dataset.value])")
    return {key: float(value) for key, value in found}


def dig(data, key):
    for part in key.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def set_field(page, name, value):
    """Set the field ``name`` as a user would (a change resets the experiment) and wait for the reset."""
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    if page.locator(f"select#{name}").count():
        page.select_option(f"#{name}", text)
    else:
        page.fill(f"#{name}", text)
        page.locator(f"#{name}").blur()
    wait_until(lambda: page.input_value(f"#{name}") == text and number(page, "step") == 0)


@pytest.mark.parametrize(
    ("preset", "fields"),
    [
        ("four-example toy (source 002)", {}),  # quadratic cost, sigmoid output, plain SGD
        (None, {"dataset": "moons", "points": 40, "hidden": [3, 2], "optimizer": "adam", "learning_rate": 0.05}),
    ],
    ids=["toy", "moons"],
)
def test_explain_mode_shows_ffnn_explains_numbers_stage_by_stage(preset, fields, tmp_path):
    """Two mini-batch Steps, then Explain a step on a training point, Step through every stage and
    hover connections: every number shown is what ``ffnn explain --format json`` prints for the
    same network (the same config and steps, rebuilt here and saved), point and update rule, and
    ``explain(...).as_dict()``'s, exactly; σ'(z) is the activation's own. Quadratic cost with
    sigmoid outputs and plain SGD; softmax with cross-entropy and Adam."""
    import json

    import numpy as np

    import ffnn
    from ffnn.activations import get_activation
    from ffnn.experiment import PRESETS, Experiment, check_config
    from ffnn.explain import explain
    from ffnn.optimizers import get_optimizer

    config = PRESETS[preset] if preset else check_config(fields)
    problems = []
    with running_playground() as url, browser_page(url, problems) as page:
        wait_until(lambda: page.inner_text("#state") == "paused")
        if preset:
            page.get_by_role("button", name=preset).click()
            wait_until(lambda: page.input_value("#dataset") == config.dataset)
        for name, value in fields.items():
            set_field(page, name, value)
        page.get_by_role("button", name="Step", exact=True).click()
        wait_until(lambda: number(page, "step") == 1)
        page.get_by_role("button", name="Step", exact=True).click()
        wait_until(lambda: number(page, "step") == 2)
        page.get_by_role("button", name="Explain a step").click()
        wait_until(lambda: page.locator("#explain").is_visible())
        click_training_point(page, 1)
        wait_until(lambda: page.get_attribute("#explain", "data-stage") == "forward")
        point = int(page.get_attribute("#explain", "data-point"))

        shown, stages = {}, []
        canvas = page.locator("#explain-net").bounding_box()
        while True:
            stages.append(page.get_attribute("#explain", "data-stage"))
            shown.update(explained_numbers(page, "#equation"))
            if stages[-1] in ("bp34", "update"):
                for l, j, k in [(1, 0, 0), (1, 1, 1), (2, 1, 0)]:  # connections, hovered a fifth along
                    x, y = page.evaluate(f"edgePoint({l}, {j}, {k}, 0.2)")
                    page.mouse.move(canvas["x"] + x, canvas["y"] + y)
                    wait_until(lambda: page.locator("#edge-tip").is_visible())
                    shown.update(explained_numbers(page, "#edge-tip"))
                page.mouse.move(canvas["x"] - 20, canvas["y"])
            step = page.get_by_role("button", name="Step", exact=True)
            if step.is_disabled():
                break
            step.click()
            wait_until(lambda: page.get_attribute("#explain", "data-index") == str(len(stages)))
    hidden = len(config.hidden)
    assert stages == ["forward"] * (hidden + 1) + ["bp1"] + ["bp2"] * hidden + ["bp34", "update"]
    same = Experiment(config)  # the page's network, rebuilt: the same config, the same two steps
    for _ in range(2):
        same.step()
    rate = same.config.learning_rate
    optimizer = None if same.config.optimizer == "sgd" else get_optimizer(same.config.optimizer, rate)
    expected = explain(same.network, same.X[point], same.y[point], eta=rate, optimizer=optimizer).as_dict()
    ffnn.save(same.network, tmp_path / "page.npz")
    x = ",".join(repr(float(v)) for v in same.X[point])
    command = ["explain", str(tmp_path / "page.npz"), "--input", x, "--target", str(same.y[point]), "--format", "json"]
    command += ["--optimizer", config.optimizer, "--eta", repr(rate)]
    printed = subprocess.run([sys.executable, "-m", "ffnn", *command], capture_output=True, text=True, check=True)
    assert {k: v for k, v in json.loads(printed.stdout).items() if k not in ("title", "examples")} == expected
    for key, value in shown.items():
        if key.startswith("explanation."):
            assert value == dig(expected, key.removeprefix("explanation.")), key
        else:  # sigma_prime.{layer}.{j}: σ'(z) from a, by the layer's activation
            _, i, j = key.split(".")
            layer = expected["layers"][int(i)]
            assert value == get_activation(layer["activation"]).derivative(np.array(layer["a"][0]))[int(j)], key
    sizes = expected["sizes"]
    for i, n in enumerate(sizes[1:]):  # every z, a and δ; the last layer's gradient and update
        for j in range(n):
            for name in ("z.0", "a.0", "delta.0"):
                assert f"explanation.layers.{i}.{name}.{j}" in shown
    last = len(sizes) - 2
    for j in range(sizes[-1]):
        for name in ("dC/db", "b", "b_new"):
            assert f"explanation.layers.{last}.{name}.{j}" in shown
    assert "explanation.cost.value" in shown and "explanation.layers.0.dC/dw.0.0" in shown
    assert "explanation.layers.1.w_new.1.0" in shown and "explanation.layers.0.w_new.1.1" in shown
    assert problems == []
