"""One point at a time: a scalar ``rfshift.asymptotics`` call vs the lean scalar baseline (same run).

For a 2-atom and a 1,000-atom spectrum, evaluates the same random (φ, ψ, γ > 0, σ²) points one call at
a time with ``rfshift.asymptotics`` (plain-float arguments: the one-point path) and with two
baselines: (1) the lean code of ``benchmarks/_lean.py`` (per point: ``scipy.optimize.brentq`` in
log k_x on the fixed point over precomputed atom arrays, then the closed formulas as NumPy dot
products on Python floats; it shares no code with rfshift) and (2) ``own_formulas`` below, a
brentq over rfshift's own residual and formula code. Repetitions are interleaved (rfshift, lean,
own, rfshift, ...); printed are the median time per call of each, the ratios, the max relative
difference of error / error_id / κ between rfshift and (1), and the load average. Targets: ≤ 100 µs
per call with 2 atoms, ≤ 300 µs with 1,000, and faster than the lean code.

    python benchmarks/scalar.py [--points 200] [--repeat 5] [--activation relu]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable

import numpy as np
from _lean import LeanModel  # benchmarks/_lean.py (the script's folder is on sys.path)
from engine import lean_model, make_spectrum  # benchmarks/engine.py
from scipy.optimize import brentq

import rfshift as rf
from rfshift import engine
from rfshift._moments import point_moments


def own_formulas(spec: rf.Spectrum, activation: str) -> Callable[..., dict[str, float]]:
    """Baseline 2, "a lean scalar brentq over rfshift's own formulas": brentq in log k_x on rfshift's
    residual (``engine._ridge_residual`` with exact one-point moments), then rfshift's closed
    formulas (``engine._evaluate`` on scalars) — the one-point path minus its root solver."""
    act = rf.get_activation(activation)
    tr, te = act.constants(spec.s), act.constants(spec.s_star)
    rho, cols = tr.mu1**2, engine._columns(spec)
    mask = None if bool((spec.lam > 0).all()) else spec.lam > 0
    y_ref = math.log(spec.s)

    def point(phi: float, psi: float, gamma: float, noise: float) -> dict[str, float]:
        ph, ps, ga = np.float64(phi), np.float64(psi), np.float64(gamma)
        c, ip = (ph - ps) / ph, 1.0 / ph
        q_cap = min(ip, 1.0 / ps if ps > 0 else math.inf)

        def F(y: float) -> float:  # noqa: N802
            k = np.float64(math.exp(y))
            m = point_moments(k, spec.lam, cols[:, :1], mask, ("q", "uq"))
            return float(engine._ridge_residual(k, m["q"][0], m["uq"][0], ps, c, ip, q_cap, ga, rho,
                                                tr.mu_perp2)[0])

        with np.errstate(all="ignore"):
            lo, hi, step = y_ref - 1.0, y_ref + 1.0, 2.0
            while F(lo) >= 0:
                lo, step = lo - step, 2 * step
            step = 2.0
            while F(hi) <= 0:
                hi, step = hi + step, 2 * step
            kx = np.float64(math.exp(brentq(F, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)))
            m = engine._point_select(kx, spec, cols, mask)
            flat = engine._evaluate(spec, lambda _k, select: m, kx, ph, ps, ga, np.float64(noise), mu1=tr.mu1,
                                    mu_perp2=tr.mu_perp2, mu1_t=te.mu1, mu_perp2_t=te.mu_perp2)
        return {"error": float(flat["error"]), "error_id": float(flat["error_id"]),
                "kappa": float(flat["kappa"])}

    return point


def run(spec: rf.Spectrum, label: str, target_us: float, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(1)
    n = args.points
    cols = (np.exp(rng.uniform(np.log(0.1), np.log(10), n)), np.exp(rng.uniform(np.log(0.05), np.log(20), n)),
            np.exp(rng.uniform(np.log(1e-4), np.log(10), n)), rng.uniform(0, 1, n))
    pts = [tuple(float(c[i]) for c in cols) for i in range(n)]
    lean: LeanModel = lean_model(spec, args.activation)
    act = args.activation
    rf.asymptotics(spec, phi=0.5, psi=0.5, gamma=1.0, activation=act)  # constants and per-spectrum cache
    own = own_formulas(spec, act)
    t_rf, t_lean, t_own = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = [rf.asymptotics(spec, phi=p, psi=q, gamma=g, noise_var=s, activation=act) for p, q, g, s in pts]
        t1 = time.perf_counter()
        ref = [lean.point(p, q, g, s) for p, q, g, s in pts]
        t2 = time.perf_counter()
        [own(p, q, g, s) for p, q, g, s in pts]
        t3 = time.perf_counter()
        t_rf.append((t1 - t0) / n)
        t_lean.append((t2 - t1) / n)
        t_own.append((t3 - t2) / n)
    diffs = {}
    for name in ("error", "error_id", "kappa"):
        a = np.array([float(getattr(r, name)) for r in res])
        b = np.array([o[name] for o in ref])
        diffs[name] = float(np.max(np.abs(a - b) / np.abs(b)))
    ratios = np.array(t_lean) / np.array(t_rf)
    print(f"{label}: {spec.n_atoms} atoms, {n} points x {args.repeat} interleaved repetitions")
    print(f"  rfshift.asymptotics, one call : {np.median(t_rf) * 1e6:8.1f} us   "
          f"(target <= {target_us:.0f} us)")
    print(f"  lean scalar brentq (_lean.py) : {np.median(t_lean) * 1e6:8.1f} us")
    print(f"  lean / rfshift                : {np.median(ratios):8.2f}x  (median of ratios; > 1 = faster)")
    print(f"  brentq over rfshift formulas  : {np.median(t_own) * 1e6:8.1f} us   "
          f"(own / rfshift {np.median(np.array(t_own) / np.array(t_rf)):.2f}x)")
    print("  max relative difference       : " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--activation", default="relu")
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    run(rf.Spectrum([1.5, 0.5], [0.5, 1.5]), "2-atom spectrum", 100.0, args)
    run(make_spectrum(1000), "1,000-atom spectrum", 300.0, args)


if __name__ == "__main__":
    main()
