"""Benchmark: the engine grid with a target-power column against the same grid without one.

Same 10⁴-point (φ, ψ, γ) grid and 1,000-atom spectrum as ``benchmarks/engine.py``; the target is a
source-condition power law b ∝ λ (``rfshift.shifts.source_target``), plus a tanh teacher in a third
run. Every call gets a fresh Spectrum (no cached moment table). Runs are interleaved (best of
``--repeat`` each) so that machine load affects both alike. Prints the three times and the
ratios (target: <= 1.3x).

    python benchmarks/targets.py [--atoms 1000] [--repeat 5] [--activation relu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rfshift as rf
from rfshift.shifts import source_target


def make_spectrum(n_atoms: int) -> rf.Spectrum:
    k = np.arange(1, n_atoms + 1, dtype=float)
    lam = k**-1.0
    lam /= lam.mean()
    lam_star = lam**0.5
    lam_star *= lam.mean() / lam_star.mean()
    return rf.Spectrum(lam, lam_star)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=int, default=1000)
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    spec = make_spectrum(args.atoms)
    spec_b = source_target(spec, alpha=1.0)
    phi, psi, gamma = np.meshgrid(np.geomspace(0.1, 10, 25), np.geomspace(0.05, 20, 20),
                                  np.geomspace(1e-4, 10, 20), indexing="ij")
    kw = dict(phi=phi, psi=psi, gamma=gamma, noise_var=0.1, activation=args.activation)
    # A fresh Spectrum per call (no cached moment table: a first call, as in benchmarks/engine.py).
    def fresh(sp: rf.Spectrum) -> rf.Spectrum:
        return rf.Spectrum(sp.lam, sp.lam_star, sp.weights, sp.target_power)

    runs = {
        "no target": lambda: rf.asymptotics(fresh(spec), **kw),
        "target b ∝ λ": lambda: rf.asymptotics(fresh(spec_b), **kw),
        "target + tanh teacher": lambda: rf.asymptotics(fresh(spec_b), teacher="tanh", **kw),
    }
    for fn in runs.values():  # warm the constant caches
        fn()
    best = dict.fromkeys(runs, np.inf)
    for _ in range(args.repeat):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    base = best["no target"]
    print(f"spectrum: {args.atoms} atoms; grid: {phi.size} points; activation {args.activation}; "
          f"best of {args.repeat}")
    for name, t in best.items():
        print(f"{name:24s}: {t * 1e3:8.1f} ms   ratio {t / base:5.2f}x   (target <= 1.3x)")


if __name__ == "__main__":
    main()
