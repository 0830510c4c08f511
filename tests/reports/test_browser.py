"""report.html in a real browser: headless Chromium, offline, from disk.

The page marks ``<html data-plotted="N">`` once its N figures are drawn and counts script errors
and ``console.error`` calls in ``data-errors``; ``--dump-dom`` shows both. Skipped where Debian's
``chromium`` is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


def _chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",  # let the plotting promises settle before the dump
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def _root_attrs(dom: str) -> dict[str, str]:
    match = re.search(r"<html([^>]*)>", dom)
    assert match, dom[:500]
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', match.group(1)))


@pytest.fixture(scope="module")
def browsed(
    written_report: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One Chromium run: the page's DOM after its scripts ran, and a screenshot of it."""
    root = tmp_path_factory.mktemp("browser")
    shot = root / "report.png"
    done = _chromium(
        written_report / "report.html",
        root / "profile",
        "--dump-dom",
        f"--screenshot={shot}",
        "--window-size=1280,1800",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done, shot


def test_report_page_plots_every_figure_without_errors(
    browsed: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    dom = browsed[0].stdout
    attrs = _root_attrs(dom)
    assert "errors" not in attrs, attrs
    assert attrs.get("plotted") == "7"
    # every figure container now holds a rendered plot
    assert dom.count('class="main-svg"') >= 7
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


def test_report_page_screenshot_is_not_blank(
    browsed: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    import numpy as np
    from PIL import Image

    shot = browsed[1]
    assert shot.exists()
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape == (1800, 1280, 3)
    non_white = (pixels != 255).any(axis=2).mean()
    assert non_white > 0.05  # text, tables and plots, not an empty page
    packed = pixels.astype(np.int32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.int32)
    colours = np.unique(packed)
    assert len(colours) > 200  # antialiased plots and text, not a flat error page


def test_error_marker_catches_a_broken_page(tmp_path: Path) -> None:
    """The marker the tests above rely on does count a script error."""
    from prunefront.reports._html import _GUARD

    page = tmp_path / "broken.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><script>{_GUARD}</script></head>"
        "<body><script>undefinedFunction();</script></body></html>"
    )
    done = _chromium(page, tmp_path / "profile", "--dump-dom")
    assert _root_attrs(done.stdout).get("errors") == "1"
