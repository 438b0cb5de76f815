"""Engine benchmark: vectorised ``rfshift.asymptotics`` vs a lean scalar baseline (same run).

Evaluates a 10⁴-point (φ, ψ, γ) grid (γ > 0) on a 1,000-atom spectrum with ``rfshift.asymptotics``,
and a random subset of the same points one at a time with the lean baseline of ``benchmarks/_lean.py``:
what a user would write with NumPy/SciPy — per point, one ``scipy.optimize.brentq`` in log k_x on the
smooth increasing form of the fixed point (THEORY.md §4) over precomputed atom arrays (one dot product
per residual, no Python loop over atoms), then the closed formulas of THEORY.md §5/§7 as plain dot
products. The baseline shares no code with rfshift, so it is also the accuracy reference.

Repetitions are interleaved (engine on the grid with a fresh Spectrum — a first call, which builds
the moment table —, again on the same Spectrum — a repeat call, which reuses it —, then the baseline
on the subset); the printed ratios are the medians over repetitions of (baseline time per point ×
grid size) / (engine time on the grid), so machine load affects both sides alike. Also printed:
the max relative difference of error, error_id and κ between the two on the subset, and the load
average.

    python benchmarks/engine.py [--atoms 1000] [--points-scalar 200] [--activation relu] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _lean import LeanModel  # benchmarks/_lean.py (the script's folder is on sys.path)

import rfshift as rf


def make_spectrum(n_atoms: int) -> rf.Spectrum:
    k = np.arange(1, n_atoms + 1, dtype=float)
    lam = k**-1.0
    lam /= lam.mean()
    lam_star = lam**0.5
    lam_star *= lam.mean() / lam_star.mean()
    return rf.Spectrum(lam, lam_star)


def lean_model(spec: rf.Spectrum, activation: str) -> LeanModel:
    act = rf.get_activation(activation)
    tr, te = act.constants(spec.s), act.constants(spec.s_star)
    return LeanModel(spec.lam, spec.lam_star, spec.weights, tr.mu1, tr.mu_perp2, te.mu1, te.mu_perp2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=int, default=1000)
    ap.add_argument("--points-scalar", type=int, default=200)
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    spec = make_spectrum(args.atoms)
    phi, psi, gamma = np.meshgrid(np.geomspace(0.1, 10, 25), np.geomspace(0.05, 20, 20),
                                  np.geomspace(1e-4, 10, 20), indexing="ij")
    noise = 0.1
    n = phi.size
    rf.asymptotics(spec, phi=0.5, psi=0.5, gamma=1.0, activation=args.activation)  # constants cache
    lean = lean_model(spec, args.activation)
    rng = np.random.default_rng(0)
    idx = rng.choice(n, size=min(args.points_scalar, n), replace=False)
    flat = [a.ravel() for a in (phi, psi, gamma)]
    t_cold, t_warm, t_lean, r_cold, r_warm = [], [], [], [], []
    for _ in range(args.repeat):
        fresh = rf.Spectrum(spec.lam, spec.lam_star)  # no cached moment table: a first call
        t0 = time.perf_counter()
        rf.asymptotics(fresh, phi=phi, psi=psi, gamma=gamma, noise_var=noise, activation=args.activation)
        t1 = time.perf_counter()
        res = rf.asymptotics(fresh, phi=phi, psi=psi, gamma=gamma, noise_var=noise,
                             activation=args.activation)  # a repeat call: the table is reused
        t2 = time.perf_counter()
        out = [lean.point(flat[0][i], flat[1][i], flat[2][i], noise) for i in idx]
        t3 = time.perf_counter()
        t_cold.append(t1 - t0)
        t_warm.append(t2 - t1)
        t_lean.append((t3 - t2) / idx.size)
        r_cold.append(t_lean[-1] * n / t_cold[-1])
        r_warm.append(t_lean[-1] * n / t_warm[-1])

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    diffs = {name: rel(np.ravel(getattr(res, name))[idx], np.array([o[name] for o in out]))
             for name in ("error", "error_id", "kappa")}
    print(f"spectrum: {args.atoms} atoms; grid: {n} (phi, psi, gamma) points; activation "
          f"{args.activation}; load average {os.getloadavg()[0]:.2f}")
    print(f"rfshift.asymptotics, first call : {np.median(t_cold) * 1e3:9.1f} ms for the grid "
          f"(median of {args.repeat}; builds the moment table)")
    print(f"rfshift.asymptotics, repeat call: {np.median(t_warm) * 1e3:9.1f} ms for the grid "
          "(same spectrum: the table is reused)")
    print(f"lean scalar brentq (_lean.py)   : {np.median(t_lean) * 1e6:9.1f} us per point "
          f"(median; {idx.size} points per repetition) = {np.median(t_lean) * n:.2f} s for the grid")
    print(f"speed-up, first call            : {np.median(r_cold):9.1f}x   "
          f"(median of ratios, range {min(r_cold):.1f}-{max(r_cold):.1f}; target >= 100x)")
    print(f"speed-up, repeat call           : {np.median(r_warm):9.1f}x   "
          f"(range {min(r_warm):.1f}-{max(r_warm):.1f})")
    print("max relative difference         : " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
          + "   (target <= 1e-10)")


if __name__ == "__main__":
    main()
