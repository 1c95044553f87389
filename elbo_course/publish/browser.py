"""A local web server and a headless Chromium driven by Playwright, for the layout pass and the browser tests.

Chromium is Debian's (``apt-get install chromium``), found at ``$ELBO_COURSE_CHROMIUM``, on PATH as
``chromium``, or at ``/usr/lib/chromium/chromium``; Playwright (PyPI) drives it through ``executable_path``
(``playwright install`` is not needed). The browser starts with background networking and component
updates off, so that the only requests are the page's own.
"""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

INSTALL_HINT = ("Chromium and Playwright are needed: `sudo apt-get install chromium` (Debian/Ubuntu) and "
                "`pip install playwright`, or set ELBO_COURSE_CHROMIUM to a Chromium binary.")
ARGS = ["--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-default-apps", "--no-first-run"]


class BrowserMissing(RuntimeError):
    """No Chromium or no Playwright here."""


def chromium_path() -> str:
    """The Chromium binary to drive; BrowserMissing with the install hint when there is none."""
    for candidate in (os.environ.get("ELBO_COURSE_CHROMIUM"), shutil.which("chromium"), "/usr/lib/chromium/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BrowserMissing(INSTALL_HINT)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # no line per request on stderr
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A browser that closes a connection early (a page left mid-load) is not an error worth a traceback."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@contextmanager
def served(root: str | Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (a free port) while the block runs; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def page(width: int = 1280, height: int = 720) -> Iterator[Any]:
    """A Playwright page of that viewport in headless Chromium."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise BrowserMissing(INSTALL_HINT) from None
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


# The height of a slide's content in layout pixels (unaffected by reveal's scaling transform): from the top of
# its first child to the bottom of its lowest one. A section's own box is at least the slide's height.
CONTENT_HEIGHT_JS = """(section) => {
  const kids = Array.from(section.children).filter(k => k.offsetParent !== null || k.offsetHeight > 0);
  if (!kids.length) { return 0; }
  const top = Math.min(...kids.map(k => k.offsetTop));
  return Math.max(...kids.map(k => k.offsetTop + k.offsetHeight)) - top;
}"""


def open_deck(page: Any, url: str, timeout_ms: int = 60_000) -> None:
    """Load a deck and wait until reveal.js has started (after MathJax typeset the page)."""
    page.goto(url)
    page.wait_for_selector("body[data-deck-ready='1']", state="attached", timeout=timeout_ms)
