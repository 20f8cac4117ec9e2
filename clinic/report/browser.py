"""The report through headless Chromium (the OS package): printed to PDF, or drawn to a screenshot (the tests)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome")
#: no sandbox (root in a container), no GPU, nothing fetched: the page is all there is
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium() -> str:
    """The browser's path, or a RuntimeError that says how to install it."""
    for name in NAMES:
        if found := shutil.which(name):
            return found
    raise RuntimeError("a PDF needs headless Chromium, which is not installed (apt-get install chromium)")


def render(page: Path, *, pdf: Path | None = None, screenshot: Path | None = None, size=(1200, 1800)) -> Path:
    """`page` (an HTML file) printed to `pdf` (on the page's own paper and with its own footer: the report's is A4;
    Chromium's header and footer, date and address, off) or drawn to `screenshot` (PNG, `size`)."""
    if (pdf is None) == (screenshot is None):
        raise ValueError("render to a pdf or a screenshot")
    out = Path(pdf or screenshot).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    what = [f"--print-to-pdf={out}", "--no-pdf-header-footer"] if pdf else [f"--screenshot={out}"]
    command = [chromium(), *FLAGS, f"--window-size={size[0]},{size[1]}", *what, Path(page).resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=out.parent)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"Chromium could not render {page}: {done.stderr.strip()[-300:]}")
    return out
