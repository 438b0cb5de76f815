"""Regenerate the app screenshots in docs/screenshots/ with headless Chromium (Debian's ``chromium``).

    .venv/bin/python docs/screenshots/make_screenshots.py [--mc]

Starts ``streamlit run app/streamlit_app.py`` on a free localhost port, opens every page with its
default settings (plus a few chosen views: the target explanation, finite sizes, robustness) and saves
a full-page PNG. ``--mc`` also presses "Run Monte Carlo" on the Monte Carlo
page (small settings: d = 64, 4 trials) before the screenshot; it needs JAX and takes a minute.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, start_app, stop_app, wait_healthy  # noqa: E402

PAGES = [  # (URL path and query, file name, what to wait for, page height in px)
    ("", "0_overview.png", '[data-testid="stMetric"]', 1100),
    ("curves?terms=true", "1_learning_curves.png", '[data-testid="stVegaLiteChart"]', 1500),
    (
        "curves?shift=tilt&target=aligned&target_aligned_tau=1.5",
        "1c_target.png",
        '[data-testid="stVegaLiteChart"]',
        1200,
    ),
    (
        "curves?mode=at+these+sizes&shift=swap&fs_d=32&fs_points=4&fs_draws=3&gamma=0.01&xr_Nn=0.25&xr_Nn=4",
        "1b_finite_sizes.png",
        '[data-testid="stVegaLiteChart"]',
        1900,
    ),
    ("order", "2_partial_order.png", '[data-testid="stVegaLiteChart"]', 1700),
    ("id-vs-ood", "3_id_vs_ood.png", '[data-testid="stVegaLiteChart"]', 1700),
    ("monte-carlo?n0=64&trials=4", "4_monte_carlo_check.png", '[data-testid="stVegaLiteChart"]', 1400),
    ("formulas", "5_formulas.png", ".katex", 2000),
    ("disagreement", "6_disagreement.png", '[data-testid="stVegaLiteChart"]', 2300),
    ("id-vs-ood?shifts=swap&shifts=tilt&xr_Nn=1.5&xr_Nn=100", "3b_robustness.png", "text=Robustness", 2600),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mc", action="store_true", help="run a small Monte Carlo before its screenshot")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--only", nargs="*", default=None, help="file-name prefixes to redo, e.g. 2 3")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    port = _free_port()
    proc = start_app(port)
    try:
        wait_healthy(proc, port)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")  # first visit: the root
            page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
            for path, name, ready, height in PAGES:
                if args.only is not None and not any(name.startswith(o) for o in args.only):
                    continue
                # the app scrolls inside its own container, so the viewport sets what is captured
                page.set_viewport_size({"width": 1440, "height": height})
                page.goto(f"http://127.0.0.1:{port}/{path}", wait_until="domcontentloaded")
                page.wait_for_selector(ready, timeout=60_000, state="attached")
                if name.startswith("1b_"):  # press "Compute at these sizes" (seconds)
                    page.get_by_role("button", name="Compute at these sizes").click()
                    page.wait_for_selector("text=Largest s.e.", timeout=600_000)
                if name.startswith("1c_"):  # open the target explanation
                    page.get_by_text("The target: where its power lies").click()
                if args.mc and name.startswith("4_"):
                    page.get_by_role("button", name="Run Monte Carlo").click()
                    page.wait_for_selector("text=max |z|", timeout=600_000)
                page.wait_for_timeout(2500)  # charts and fonts settle
                out = args.out / name
                page.screenshot(path=str(out))
                print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size // 1024} KiB)")
            browser.close()
    finally:
        stop_app(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
