"""Fixtures for checking the built book in a real browser (headless Chromium)."""

from __future__ import annotations

import functools
import http.server
import shutil
import socketserver
import subprocess
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("headless Chromium is needed: apt-get install chromium")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the browser closing a connection early is not an error of the book


@pytest.fixture(scope="session")
def site():
    """The built book served on a free local port; yields its base URL."""
    if not (HTML / "index.html").exists():
        raise RuntimeError(f"no built book in {HTML}: run `make book` first")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    with QuietServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Run headless Chromium on a URL: the DOM after scripts ran, or a screenshot."""
    binary = chromium_binary()
    profile = tmp_path_factory.mktemp("chromium-profile")

    def run(url: str, screenshot: Path | None = None) -> str:
        args = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000"]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            args += [f"--screenshot={screenshot}", "--window-size=1280,1800"]
        else:
            args += ["--dump-dom"]
        done = subprocess.run(args + [url], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"chromium failed on {url}: {done.stderr[-2000:]}")
        return done.stdout

    return run
