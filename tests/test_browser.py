"""Real-browser test of the app: ``streamlit run`` on a free localhost port, driven by headless Chromium
(Debian's ``chromium`` package) through Playwright's Python client.

Skipped, with the reason shown, only when Chromium (or the Playwright client) is not installed;
``.ci/install_browser.sh`` installs Chromium in CI.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import rfshift as rf
from rfshift.shifts import make_shift

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(port: int) -> subprocess.Popen:
    """``streamlit run app/streamlit_app.py`` on 127.0.0.1:port (headless, no telemetry)."""
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app" / "streamlit_app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_healthy(proc: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{out}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not become healthy on port {port} within {timeout} s")


def stop_app(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: only the server we started
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    port = _free_port()
    proc = start_app(port)
    try:
        wait_healthy(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_app(proc)


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (run .ci/install_browser.sh)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python client is not installed"
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def metric_value(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]', has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_learning_curves_in_a_real_browser(browser, app_url, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        # Open the overview first: on a freshly started server Streamlit answers the very first deep link
        # with a "Page not found" notice (it still runs the page); a user starts at the root anyway.
        page.goto(f"{app_url}/", wait_until="domcontentloaded", timeout=20_000)
        page.wait_for_selector('[data-testid="stMetric"]', timeout=30_000)
        page.wait_for_function("document.title.includes('Overview')", timeout=10_000)
        assert page.title() == "Overview · rfshift"
        page.goto(f"{app_url}/curves", wait_until="domcontentloaded", timeout=20_000)
        page.wait_for_selector('[data-testid="stMetric"]', timeout=30_000)
        page.wait_for_function("document.title.includes('Learning curves')", timeout=10_000)
        assert page.title() == "Learning curves · rfshift"
        spec = make_shift("power_law")
        kw = dict(phi=0.5, psi=0.25, gamma=0.0, activation="relu")
        before = metric_value(page, "OOD error")
        assert before == f"{float(rf.asymptotics(spec, noise_var=0.1, **kw).error):.5g}"

        # Move the label-noise slider (0 to 10): click its track at 30 % of the width.
        thumb = page.locator('.st-key-noise input[type="range"]')
        thumb.wait_for(state="attached", timeout=20_000)
        assert float(thumb.input_value()) == pytest.approx(0.1)
        # layout settled: the main chart is drawn (a chart in a collapsed expander stays hidden)
        page.locator('[data-testid="stVegaLiteChart"]:visible').first.wait_for(timeout=30_000)
        track = page.locator('.st-key-noise [role="group"]')
        for _ in range(3):  # a click during a re-layout can miss; retry
            box = track.bounding_box()
            page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + box["height"] / 2)
            try:
                page.wait_for_function(
                    "() => document.querySelector('.st-key-noise input[type=range]').value !== '0.1'",
                    timeout=3_000,
                )
                break
            except PlaywrightTimeout:
                continue
        page.wait_for_function(
            "() => { const el = [...document.querySelectorAll('[data-testid=stMetric]')]"
            ".find(e => e.innerText.includes('OOD error'));"
            f" return el && !el.innerText.includes('{before}'); }}",
            timeout=20_000,
        )
        noise = float(thumb.input_value())
        assert 1.0 < noise < 5.0, noise
        after = metric_value(page, "OOD error")
        assert after == f"{float(rf.asymptotics(spec, noise_var=noise, **kw).error):.5g}"
        # The setting is in the URL (shareable).
        page.wait_for_function("location.search.includes('noise=')", timeout=10_000)
        assert re.search(rf"noise={noise:g}(&|$)", page.url), page.url
        # Both downloads of the chart work (the PNG is rendered by matplotlib on click).
        with page.expect_download(timeout=30_000) as dl:
            page.get_by_role("button", name="Download CSV").first.click()
        csv_text = Path(dl.value.path()).read_text()
        assert csv_text.startswith("N_over_n,error,bias,variance,error_id,bias_id,variance_id")
        assert "inf" in csv_text  # the interpolation peak (γ = 0, N/n = 1) is kept, not dropped
        with page.expect_download(timeout=30_000) as dl:
            page.get_by_role("button", name="Download PNG").first.click()
        assert Path(dl.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        page.wait_for_timeout(500)  # let the chart finish drawing
        shot = tmp_path / "learning_curves.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        assert not page.locator('[data-testid="stException"]').count()
        assert not page.get_by_text("Page not found").count()
    finally:
        page.close()


def test_settings_carry_to_the_next_page_in_a_real_browser(browser, app_url):
    """Settings chosen on one page carry to the page reached through the sidebar, and its address bar
    then holds them (a link to that page reproduces it)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{app_url}/", wait_until="domcontentloaded", timeout=20_000)
        page.wait_for_selector('[data-testid="stMetric"]', timeout=30_000)
        page.goto(f"{app_url}/curves?noise=0.7&shift=tilt&act=erf", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=30_000, state="attached")
        page.get_by_role("link", name="Formulas").first.click()
        page.wait_for_function("document.title.includes('Formulas')", timeout=30_000)
        page.wait_for_function("location.search.includes('noise=0.7')", timeout=30_000)
        assert "shift=tilt" in page.url and "act=erf" in page.url, page.url
        assert page.locator('.st-key-noise input[type="range"]').input_value() == "0.7"
        kw = dict(phi=0.5, psi=0.25, gamma=0.01, noise_var=0.7, activation="erf")
        ref = rf.asymptotics(make_shift("tilt"), **kw)
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=stMetric]')]"
            ".some(e => e.innerText.includes('κ'))",
            timeout=30_000,
        )
        assert metric_value(page, "OOD error") == f"{float(ref.error):.8g}"
        # the partial-order page keeps its own default σ² = 3 only for settings never chosen
        page.get_by_role("link", name="Partial order").first.click()
        page.wait_for_function("document.title.includes('Partial order')", timeout=30_000)
        page.wait_for_function("location.search.includes('a_shift=tilt')", timeout=30_000)
        assert page.locator('.st-key-noise input[type="range"]').input_value() == "0.7"
        assert not page.locator('[data-testid="stException"]').count()
    finally:
        page.close()
