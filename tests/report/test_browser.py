"""The HTML report in a real browser: headless Chromium loads it, lays it out on a phone's
screen and paints the plots, without a console message.

Chromium is driven by its command line only (--dump-dom, --screenshot), each run under
a timeout with a fresh profile and its networking features off. The screenshot is
decoded here with zlib, so the test needs nothing beyond the standard library.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from buggy_grading import graded
from grader.report.html import submission_html
from grader.report.svg import REF, STUDENT

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic", "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]
PHONE = "412,915"  # a common Android phone's viewport, in CSS pixels
SECONDS = 10  # each run takes about one second

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="needs /usr/bin/chromium (apt-get install chromium)")


def chromium(*args: str) -> tuple[str, str]:
    """Run Chromium once (fresh profile, own process group); its stdout and stderr."""
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        proc = subprocess.Popen([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=SECONDS)
        except subprocess.TimeoutExpired:
            out = None
        finally:
            # Its helper processes share the group: none may outlive the run.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
    if out is None:
        pytest.fail(f"chromium did not finish within {SECONDS} s: {' '.join(args)}")
    return out, err


def console_messages(stderr: str) -> list[str]:
    """What the page logged to its console (Chromium's own log lines are not the page's)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The feedback page of a backward pass that evaluates act_grad at A_l, not Z_l."""
    path = tmp_path_factory.mktemp("browser") / "feedback.html"
    path.write_text(submission_html(graded("mlp_cache_holds_activation")), encoding="utf-8")
    return path


# --- the DOM ---------------------------------------------------------------------------------

class Elements(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.found: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def having(self, tag: str, cls: str) -> list[dict]:
        return [a for t, a in self.found if t == tag and cls in (a.get("class") or "").split()]


def test_the_browser_builds_the_plots_without_console_messages(report):
    dom, err = chromium("--window-size=" + PHONE, "--dump-dom", report.as_uri())
    assert not console_messages(err), console_messages(err)
    page = Elements(dom)
    plots = page.having("svg", "layer-norms")
    assert plots and all(p.get("role") == "img" and p.get("aria-label") for p in plots)
    assert page.having("rect", "entry-band")[0]["data-layer"] == "1"
    assert page.having("text", "entry-label")[0]["data-layer"] == "1"
    assert len(page.having("rect", "student-point")) >= 2 * len(plots)
    assert not [t for t, _ in page.found if t == "script"]


# --- the pixels ------------------------------------------------------------------------------

def png_rows(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, RGB rows) of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat, header = 8, [], None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        chunk = data[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous, bpp)
        rows.append(bytes(line) if bpp == 3 else
                    bytes(b for i, b in enumerate(line) if i % 4 != 3))
        previous = line
    return width, height, rows


def unfilter(kind: int, line: bytearray, up: bytearray, bpp: int) -> bytearray:
    """Undo one PNG scanline filter (0 none, 1 sub, 2 up, 3 average, 4 Paeth)."""
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b = up[i]
        c = up[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + a) & 255
        elif kind == 2:
            line[i] = (line[i] + b) & 255
        elif kind == 3:
            line[i] = (line[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    return line


def pixels(rows: list[bytes]) -> set[bytes]:
    return {row[i:i + 3] for row in rows for i in range(0, len(row), 3)}


def rgb(hex_colour: str) -> bytes:
    return bytes.fromhex(hex_colour.lstrip("#"))


def test_a_phone_screenshot_shows_the_page_and_its_plot(report, tmp_path):
    shot = tmp_path / "phone.png"
    _, err = chromium("--window-size=" + PHONE, f"--screenshot={shot}", report.as_uri())
    assert not console_messages(err), console_messages(err)
    width, height, rows = png_rows(shot.read_bytes())
    assert (width, height) == (412, 915)
    colours = pixels(rows)
    assert len(colours) > 100, "the screenshot is blank or nearly so"
    # The plot is above the fold: the reference's circles and the student's squares
    # are filled with exactly these colours.
    assert rgb(REF) in colours and rgb(STUDENT) in colours
    # Nothing painted is wider than the phone: the page's right margin stays background.
    margin = {row[i:i + 3] for row in rows for i in range(3 * (width - 8), 3 * width, 3)}
    assert len(margin) == 1, "something runs into the right margin"
