"""The live page of `ffnn train --serve` laid out in Chromium, fed by real short MNIST runs: both
tables whole in view at 1024 and 1920 px, the drawing pad's frame as tall as its page, and the
words and axes the page writes (issue 21, section 5)."""

import contextlib
import math
import shutil

import pytest

from test_live_server import BROWSER_ARGS, CHROMIUM, training

pytestmark = [
    pytest.mark.slow,  # make check skips this file (see README, Development)
    pytest.mark.skipif(
        not shutil.which("chromium"), reason="Debian's chromium is not installed (make test installs it)"
    ),
]

WIDTHS = (1024, 1920)

# Each table's cells, as [row][column] booleans: inside every box that clips it (a scroll box's
# visible part, without its scroll bars), inside its card (.panel), and inside the window's width.
IN_VIEW = """id => {
  const inside = (r, left, top, right, bottom) =>
    r.left >= left - 0.5 && r.right <= right + 0.5 && r.top >= top - 0.5 && r.bottom <= bottom + 0.5;
  const seen = cell => {
    const r = cell.getBoundingClientRect();
    if (r.width === 0 || r.left < 0 || r.right > document.documentElement.clientWidth + 0.5) return false;
    for (let e = cell.parentElement; e; e = e.parentElement) {
      const box = e.getBoundingClientRect(), style = getComputedStyle(e);
      if (style.overflowX !== "visible" || style.overflowY !== "visible") {
        const left = box.left + e.clientLeft, top = box.top + e.clientTop;
        if (!inside(r, left, top, left + e.clientWidth, top + e.clientHeight)) return false;
      }
      if (e.classList.contains("panel")) return inside(r, box.left, box.top, box.right, box.bottom);
    }
    return false;
  };
  return [...document.getElementById(id).rows].map(row => [...row.cells].map(seen));
}"""

FRAME_FITS = """() => {
  const frame = document.getElementById("draw"), page = frame.contentDocument.documentElement;
  return Math.abs(frame.getBoundingClientRect().height - page.getBoundingClientRect().height) <= 1
    && page.scrollHeight <= page.clientHeight;
}"""

# Each progress bar's visible label (null if it has none) and its value.
BARS = """bars => bars.map(bar => {
  const label = document.getElementById(bar.getAttribute("aria-labelledby"));
  const r = label && label.getBoundingClientRect();
  return [label && r.width > 0 && r.height > 0 ? label.innerText : null, bar.getAttribute("aria-valuenow")];
})"""


@contextlib.contextmanager
def live_page(out, *args):
    """Chromium (its scroll bars shown, as in a desktop window) on the page of ``ffnn train
    --serve ARGS``, once the run has finished and the page shows its summary."""
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=BROWSER_ARGS, ignore_default_args=["--hide-scrollbars"]
        )
        try:
            with training(out, *args) as run:
                page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(run.url)
                page.wait_for_function(
                    "() => document.getElementById('state').dataset.state === 'finished'", timeout=120_000
                )
                page.wait_for_function("() => document.querySelectorAll('#confusion tbody tr').length === 10")
                page.wait_for_function(
                    "() => document.getElementById('summary').textContent.startsWith('Training ended')"
                )
                yield page
                assert problems == []  # (ending the run then breaks the page's event stream: an error)
        finally:
            browser.close()


def cut_columns(table):
    """The columns of which some cell is (partly) out of view."""
    return sorted({k for row in table for k, seen in enumerate(row) if not seen})


def x_ticks(page, canvas):
    return page.evaluate(f"() => JSON.parse(document.getElementById('{canvas}').dataset.xTicks)")


def gradient_sample_epochs(page):
    return page.evaluate("() => run.gradients.map(g => g.epoch)")


def test_every_cell_of_both_tables_is_in_view_at_1024_and_1920_px(tmp_path):
    """Before, at both widths: the matrix showed 9 of its 11 columns (those of classes 8 and 9 cut
    off) and the epochs table 5 of its 10. And the drawing pad's frame was 760 px tall whatever its
    page's height (797 px at 1024 px: cut; 533 px at 1920 px: a 227 px empty band)."""
    with live_page(tmp_path / "run", "--recipe", "nielsen-ch1", "--epochs", "3", "--batches-per-epoch", "300") as page:
        page.wait_for_function("() => getComputedStyle(document.getElementById('draw')).display === 'block'")
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            confusion, epochs = page.evaluate(IN_VIEW, "confusion"), page.evaluate(IN_VIEW, "epochs")
            assert [len(row) for row in confusion] == [11] * 11  # the header row and ten classes
            assert [len(row) for row in epochs] == [10] * 4  # every column of metrics.csv, three epochs
            assert (width, cut_columns(confusion), cut_columns(epochs)) == (width, [], [])
            page.wait_for_function(FRAME_FITS, timeout=120_000)  # the frame follows its page's height
        page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        page.wait_for_function(FRAME_FITS, timeout=120_000)  # narrower again: taller again


def test_the_words_and_axes_of_a_three_epoch_run(tmp_path):
    """Before: "epoch 2 (of 0–2)", two bars labelled for screen readers only, and the axes' two
    end values rounded to 0.01 epoch ("0 … 0" for a chart drawn in epoch 0)."""
    with live_page(tmp_path / "run", "--recipe", "nielsen-ch1", "--epochs", "3", "--batches-per-epoch", "300") as page:
        assert page.inner_text("#network").endswith("3 epochs of 300 mini-batches (50,000 training examples).")
        assert page.inner_text("#epoch") == "2 (3rd of 3)"
        bars = page.eval_on_selector_all("[role=progressbar]", BARS)
        assert bars == [["epoch 2 (3rd of 3): mini-batch 300 of 300", "100.0"], ["the whole run: 100 % done", "100.0"]]
        assert x_ticks(page, "costs") == x_ticks(page, "accuracy") == [0, 1, 2]  # the rows' epochs
        samples = gradient_sample_epochs(page)  # epochs trained when each was taken, from 0
        assert samples[:2] == [0, round(1 / 300, 4)]  # untrained; after the first mini-batch
        assert x_ticks(page, "gradients") == list(range(math.ceil(max(samples)) + 1))
        assert "; 3 epochs in " in page.inner_text("[data-testid=summary]")


def test_a_one_epoch_run_says_1_epoch_and_its_gradient_axis_reads_0_to_1(tmp_path):
    """Before: "1 epochs" (twice), "epoch 0 (of 0–0)", and the gradient chart's axis "0 … 0":
    its samples, taken in epoch 0, ran from 0 to a fraction of an epoch, both ends rounded to 0."""
    with live_page(tmp_path / "run", "--recipe", "nielsen-ch1", "--epochs", "1", "--batches-per-epoch", "300") as page:
        assert page.inner_text("#network").endswith("; 1 epoch of 300 mini-batches (50,000 training examples).")
        assert page.inner_text("#epoch") == "0 (1st of 1)"
        assert "; 1 epoch in " in page.inner_text("[data-testid=summary]")
        samples = gradient_sample_epochs(page)
        assert samples[0] == 0 and 0 < max(samples) <= 1
        assert x_ticks(page, "gradients") == [0, 1] and x_ticks(page, "costs") == [0, 1]
        ordinals = page.evaluate("() => [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 100, 101, 111, 112].map(ordinal)")
        assert " ".join(ordinals) == "1st 2nd 3rd 4th 11th 12th 13th 21st 22nd 23rd 100th 101st 111th 112th"
