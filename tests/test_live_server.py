"""`ffnn train --serve` for real: a short MNIST run watched in Chromium, twenty listeners for 30 s."""

import contextlib
import csv
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from ffnn.server import STREAMS, WORKERS
from test_serve import CHROMIUM, draw_a_one
from test_serve_server import Server
from waiting import wait_until

pytestmark = pytest.mark.slow  # make check skips this file (see README, Development)

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


class Run(Server):
    """A ``train --serve`` process: its page's address, threads, memory and stderr."""

    def __init__(self, process, stderr, url):
        found = re.match(r"http://([^/:]+):(\d+)/", url)
        super().__init__(process, stderr, found[1], int(found[2]))
        self.url = url


@contextlib.contextmanager
def training(out, *args):
    """``ffnn train --serve --port 0 --out OUT ARGS`` in a subprocess; yields once its page is up."""
    command = [sys.executable, "-m", "ffnn", "train", "--serve", "--port", "0", "--out", str(out), "--no-plots", *args]
    with tempfile.TemporaryFile("w+") as stderr:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        try:
            line = process.stdout.readline()
            found = re.search(r"http://\S+/", line)
            assert found, f"no address in {line!r}; stderr: {stderr.seek(0) or stderr.read()}"
            reader = threading.Thread(target=process.stdout.read, daemon=True)  # never let stdout fill up
            reader.start()
            yield Run(process, stderr, found[0])
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            process.stdout.close()


def metrics(folder):
    with open(folder / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed (make test installs it)")
def test_a_short_mnist_run_watched_in_a_browser_shows_metrics_csv(tmp_path):
    """Open the page while MNIST trains (a second tab comes and goes); it shows the run live and,
    at the end, epoch rows equal to metrics.csv, the 10×10 confusion matrix of the 10,000
    validation images, each layer's gradient size, the first layer's 30 weight images, the summary,
    and the drawing pad for the trained model, which reads a drawn "1". Ctrl-C then ends it with 0."""
    from playwright.sync_api import sync_playwright

    console = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        with training(tmp_path / "run", "--recipe", "nielsen-ch1", "--epochs", "6") as run:
            page = browser.new_page(viewport={"width": 1300, "height": 1400})
            page.set_default_timeout(120_000)  # a safety net only, for a busy machine
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.goto(run.url)
            page.wait_for_function("() => document.querySelectorAll('#epochs tbody tr').length >= 1", timeout=300_000)
            seen_training = page.get_attribute("#state", "data-state")
            other = browser.new_page()  # a second tab sees the same run; closing it stops nothing
            other.goto(run.url)
            other.wait_for_function("() => document.querySelectorAll('#epochs tbody tr').length >= 1", timeout=120_000)
            other.close()
            page.wait_for_function(
                "() => document.getElementById('state').dataset.state === 'finished'", timeout=600_000
            )
            page.wait_for_function("() => getComputedStyle(document.getElementById('draw')).display === 'block'")
            rows = page.eval_on_selector_all(
                "#epochs tbody tr",
                "rows => rows.map(r => Object.fromEntries([...r.cells].map(c => [c.dataset.column, c.dataset.value])))",
            )
            confusion = page.eval_on_selector_all(
                "#confusion tbody tr", "rows => rows.map(r => [...r.cells].map(c => +c.textContent))"
            )
            rms = page.get_attribute("#gradients", "data-rms")
            summary = page.inner_text("[data-testid=summary]")
            weights_drawn = page.evaluate(
                "() => { const c = document.getElementById('weights');"
                " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
                " for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] !== 255 || d[i + 2] !== 255)) n++;"
                " return n; }"
            )
            pad = page.frame_locator("#draw").locator("#pad")
            pad.scroll_into_view_if_needed()
            draw_a_one(page, pad)
            drawing = next(frame for frame in page.frames if frame.url.endswith("/draw"))
            drawing.wait_for_function("() => document.getElementById('label').dataset.label !== ''", timeout=120_000)
            drawn_label = drawing.inner_text("#label")
            page.screenshot(path=str(tmp_path / "live.png"), full_page=True)
            late = browser.new_page()  # opened after the end: the whole run at once
            late.goto(run.url)
            late.wait_for_function("() => document.querySelectorAll('#epochs tbody tr').length === 6", timeout=120_000)
            late.close()
            run.process.send_signal(signal.SIGINT)
            assert run.process.wait(timeout=120) == 0
            errors = run.errors()
        browser.close()

    table = metrics(tmp_path / "run")
    assert seen_training == "training"  # the page was open while the run trained
    assert len(rows) == len(table) == 6
    for row, line in zip(rows, table):
        assert row.keys() == line.keys()
        for name, value in row.items():
            assert value == line[name] or float(value) == float(line[name]), (name, value, line[name])
    assert len(confusion) == 10 and all(len(r) == 11 for r in confusion)
    assert sum(sum(r[1:]) for r in confusion) == 10_000
    assert sum(r[1 + i] for i, r in enumerate(confusion)) == round(float(table[-1]["validation_accuracy"]) * 10_000)
    assert len(eval(rms)) == 2
    assert "final test accuracy" in summary and "6 epochs" in summary
    assert weights_drawn > 30 * 28 * 28 // 4  # 30 coloured 28×28 images, most pixels not white
    assert drawn_label == "1"
    assert [m for m in console if "Content Security Policy" in m or m.startswith("error")] == []
    assert "Traceback" not in errors, errors


LISTENERS, EPOCHS_WATCHED = 20, 40  # 40 epochs: about 25 s here


def listen(run, counts, failures, training):
    """Read the event stream until it has brought ``EPOCHS_WATCHED`` epoch rows; count its events
    and its progress events. ``training`` gets an item once the stream shows the run training."""
    connection = http.client.HTTPConnection(run.host, run.port, timeout=120)
    try:
        connection.request("GET", "/api/events")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/event-stream")
        events, progress, rows, event = 0, 0, 0, b""
        while rows < EPOCHS_WATCHED:
            line = response.readline()
            if not line:
                failures.append("the stream ended early")
                return
            if line.startswith(b"event: "):
                event = line[7:].strip()
                events += 1
                progress += event == b"progress"
                if progress == 1 and event == b"progress":
                    training.append(1)
            elif line.startswith(b"data: ") and event == b"epochs":
                data = json.loads(line[6:])
                assert data["from"] == rows, (data["from"], rows)  # every row once, in order
                rows += len(data["items"])
        counts.append((events, progress))
    except Exception as e:  # every failure is counted, none hidden
        failures.append(repr(e))
    finally:
        connection.close()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_twenty_listeners_for_forty_epochs_no_error_flat_memory_bounded_threads(tmp_path):
    """Twenty clients read the event stream of an MNIST run on loopback until it has brought forty
    epochs' rows (however long that takes on this machine). Expected: every stream stays open and
    brings every row once, in order, and progress within every epoch; the process's threads stay
    at 1 (main) + the server's (loop, WORKERS + STREAMS pool) + none per listener beyond the pool;
    its memory, from when the run trains (its data loaded), rises by less than 30 MB and is then
    flat; Ctrl-C then interrupts the run (exit 130) and keeps its model."""
    with training(tmp_path / "run", "--recipe", "nielsen-ch1", "--epochs", "500", "--quiet") as run:
        counts, failures, training_seen = [], [], []
        listeners = [
            threading.Thread(target=listen, args=(run, counts, failures, training_seen)) for _ in range(LISTENERS)
        ]
        for listener in listeners:
            listener.start()

        def all_see_training():
            """every listener has seen the run train (or failed)"""
            return len(training_seen) + len(failures) >= LISTENERS

        wait_until(all_see_training)
        samples = []
        while True:  # a sample a second while they listen
            samples.append(run.status())
            alive = [listener for listener in listeners if listener.is_alive()]
            if not alive:
                break
            alive[0].join(timeout=1)
        run.process.send_signal(signal.SIGINT)
        status = run.process.wait(timeout=120)
        errors = run.errors()
    assert failures == [] and len(counts) == LISTENERS, failures
    threads = [t for t, _ in samples]
    rss = [r for _, r in samples]
    epochs = len(metrics(tmp_path / "run"))
    print(
        f"{LISTENERS} listeners × {EPOCHS_WATCHED} epochs: events per listener {min(counts)}–{max(counts)}; threads "
        f"{min(threads)}–{max(threads)}; RSS {rss[0]:.0f} → max {max(rss):.0f} → {rss[-1]:.0f} MB; {epochs} epochs; "
        f"RSS each second {[round(r) for r in rss]}"
    )
    assert min(progress for _, progress in counts) >= EPOCHS_WATCHED  # progress in every epoch, to every listener
    assert max(threads) <= 1 + 1 + WORKERS + STREAMS + 2  # main, loop, the pool, the BLAS/NumPy helpers at most
    assert max(rss) - rss[0] < 30  # measured: 8–15 MB, each connection's buffer filling to OUTPUT_BUFFER
    assert max(rss[len(rss) // 2 :]) - max(rss[: len(rss) // 2]) < 10  # then flat; measured: 1–8 MB
    assert status == 130 and (tmp_path / "run" / "model.npz").is_file() and epochs >= EPOCHS_WATCHED
    assert "Traceback" not in errors, errors


def test_a_port_in_use_is_refused_before_anything_is_written(tmp_path, capsys):
    from ffnn.cli import main

    with socket_on_loopback() as port:
        status = main(["train", "--recipe", "xor", "--serve", "--port", str(port), "--out", str(tmp_path / "run")])
    assert status == 2 and not (tmp_path / "run").exists()
    assert f"port {port} is already in use" in capsys.readouterr().err


@contextlib.contextmanager
def socket_on_loopback():
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        yield taken.getsockname()[1]
    finally:
        taken.close()


def test_host_and_port_without_serve_are_refused(tmp_path, capsys):
    from ffnn.cli import main

    status = main(["train", "--recipe", "xor", "--port", "9000", "--out", str(tmp_path / "run")])
    assert status == 2 and not (tmp_path / "run").exists()
    assert "--host and --port go with --serve" in capsys.readouterr().err
