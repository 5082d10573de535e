"""A real browser for the explorer's page: Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium (what .ci/run
installs) with the flags this machine's closed network needs. Tests that take the
``browser`` fixture skip where either is missing; CI has both.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("GRADER_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]
HAVE_BROWSER = CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None
needs_browser = pytest.mark.skipif(not HAVE_BROWSER,
                                   reason="needs /usr/bin/chromium and playwright (pip install "
                                          "-e '.[test]', apt-get install chromium)")


@pytest.fixture(scope="session")
def browser():
    if not HAVE_BROWSER:
        pytest.skip("needs /usr/bin/chromium and playwright")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page whose console errors and uncaught exceptions fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
          if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    pg.console_errors = errors
    yield pg
    context.close()
    assert not errors, "the page logged: " + "; ".join(errors)
