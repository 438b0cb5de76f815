"""Redraw latency of the app's Learning-curves page after a slider move (target < 100 ms).

A slider move re-runs the page: the engine is called for the new value (a cache miss: every
repetition uses a new label-noise value) and the chart is rebuilt. Measured here, for a 200-point
curve (N/n from 0.1 to 10) on a 1,000-atom spectrum (power law, exponent 1, alpha 0.5):

1. engine: ``app/ui/cache.compute_curve`` (one vectorised ``rf.asymptotics`` call);
2. figure: ``curve_frame`` + ``long_frame`` + ``curve_chart``, serialised as
   ``st.vega_lite_chart`` sends it to the browser (spec as JSON, data as Arrow bytes);
3. engine + figure: the redraw the target refers to;
4. full page re-run in Streamlit's own script runner (``AppTest``: every widget, both metrics rows,
   the chart, downloads), with the same spectrum uploaded as CSV — server side, no browser;
5. for reference, the matplotlib PNG that is built only when "Download PNG" is clicked.

Usage: ``python benchmarks/app_latency.py [--reps 30]``. Prints median and 90th percentile in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "app"))

from streamlit.dataframe_util import convert_anything_to_arrow_bytes  # noqa: E402
from ui import cache, charts, export  # noqa: E402

from rfshift.io import spectrum_to_csv  # noqa: E402
from rfshift.shifts import power_law  # noqa: E402

TARGET_MS = 100.0
N_POINTS = 200
N_ATOMS = 1000


def _stats(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    return statistics.median(s) * 1e3, s[min(len(s) - 1, int(0.9 * len(s)))] * 1e3


def _time(fn, reps: int) -> list[float]:
    fn(0)  # warm-up (imports, font caches, JIT-free but first-call overheads)
    out = []
    for i in range(1, reps + 1):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    args = ap.parse_args(argv)

    spec = power_law(1.0, 0.5, n_atoms=N_ATOMS)
    phi = 0.5
    x = np.geomspace(0.1, 10.0, N_POINTS)
    lam, lam_star, w = spec.lam, spec.lam_star, spec.weights
    print(
        f"Learning-curves redraw: {N_POINTS}-point curve, {spec.n_atoms}-atom spectrum, {args.reps} reps "
        "(cache misses: a new σ² each rep)"
    )

    def engine(i: int, gamma: float) -> dict:
        return cache.compute_curve(
            lam, lam_star, w, phi=phi, psi=phi / x, gamma=gamma, noise_var=0.1 + 0.01 * i, activation="relu"
        )

    fixed = engine(0, 0.0)

    def figure(curve: dict) -> tuple[str, bytes]:
        df = charts.curve_frame("N_over_n", x, curve)
        long = charts.long_frame(df, "N_over_n", charts.QUANTITIES, ("OOD", "ID"), log_y=True)
        spec = charts.curve_chart(
            long, "N_over_n", x_title="N/n", peaks=charts.peak_positions(df, "N_over_n"), marker=2.0
        )
        # what st.vega_lite_chart sends: the spec as JSON and the data as Arrow bytes
        return json.dumps(spec), convert_anything_to_arrow_bytes(long)

    rows = []
    for gamma in (0.0, 1e-2):
        t_eng = _time(lambda i, g=gamma: engine(i, g), args.reps)
        t_fig = _time(lambda i: figure(fixed), args.reps)
        t_all = _time(lambda i, g=gamma: figure(engine(i, g)), args.reps)
        rows += [
            (f"engine (γ={gamma:g})", t_eng),
            (f"figure (γ={gamma:g})", t_fig),
            (f"engine + figure (γ={gamma:g})", t_all),
        ]

    def png(i: int) -> bytes:
        df = charts.curve_frame("N_over_n", x, fixed)
        long = charts.long_frame(df, "N_over_n", charts.QUANTITIES, ("OOD", "ID"), log_y=True)
        return export.curve_png(long, "N_over_n", x_title="N/n", peaks=charts.peak_positions(df, "N_over_n"))

    rows.append(("PNG download (on click only)", _time(png, max(5, args.reps // 3))))

    try:
        from streamlit.testing.v1 import AppTest
    except ImportError:  # pragma: no cover
        AppTest = None
    if AppTest is not None:
        at = AppTest.from_file(str(ROOT / "app" / "streamlit_app.py"), default_timeout=120).run()
        at.switch_page("pages/1_Learning_curves.py").run()
        at.selectbox(key="shift").set_value("upload").run()
        at.file_uploader(key="upload_file").set_value(
            ("power_law_1000.csv", spectrum_to_csv(spec).encode(), "text/csv")
        ).run()
        assert not at.exception and not at.error, (at.exception, at.error)
        assert "1000 atoms" in " ".join(m.value for m in at.markdown)

        def page(i: int) -> None:
            at.slider(key="noise").set_value(round(0.1 + 0.05 * (i % 150), 2)).run()
            assert not at.exception

        rows.append(("full page re-run (AppTest, γ=0)", _time(page, max(10, args.reps // 2))))

    print(f"{'step':<38} {'median ms':>10} {'p90 ms':>10}")
    verdict = {}
    for name, samples in rows:
        med, p90 = _stats(samples)
        print(f"{name:<38} {med:>10.1f} {p90:>10.1f}")
        verdict[name] = med
    worst = max(v for k, v in verdict.items() if k.startswith("engine + figure"))
    ok = worst < TARGET_MS
    print(
        f"slider-move redraw (engine + figure), worst median: {worst:.1f} ms -> "
        f"{'meets' if ok else 'MISSES'} the {TARGET_MS:.0f} ms target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
