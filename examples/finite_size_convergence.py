"""Finite-size convergence of the Monte Carlo simulator to the asymptotic engine.

For one configuration (default: the validation case ``relu-ridgeless-under``, THEORY.md R5: ReLU,
λ = (3, .5), λ* = (1, 2), p = (.2, .8), φ = .5, ψ = 1, γ = 0, σ² = .1) it simulates the finite model at
n0 = 64 … 1024 and plots |MC − theory| of the test error (OOD and ID) against n0 on log–log axes with
±1 s.e. bars and a 1/n0 reference line. Writes ``examples/output/finite_size_convergence.{png,csv}``.

    python examples/finite_size_convergence.py [--n0 64 128 256 512 1024] [--trials 32] [--case NAME]

(needs JAX and matplotlib; about 10 minutes on 2 idle CPU cores with the defaults).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from rfshift import montecarlo as mc
from rfshift.montecarlo.validate import SUITE
from rfshift.spectra import Spectrum

OUT = Path(__file__).resolve().parent / "output"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n0", type=int, nargs="+", default=[64, 128, 256, 512, 1024])
    p.add_argument("--trials", type=int, default=32,
                   help="trials at the largest n0; smaller n0 get trials·n0_max/n0 (at most 16×)")
    p.add_argument("--case", default="relu-ridgeless-under", choices=[c.name for c in SUITE])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    case = next(c for c in SUITE if c.name == args.case)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    n_max = max(args.n0)
    for n0 in args.n0:
        trials = args.trials * min(16, max(1, n_max // n0))
        spec = case.spec(n0)
        est = mc.simulate(spec, n0=n0 if isinstance(spec, Spectrum) else None, phi=case.phi, psi=case.psi,
                          gamma=case.gamma, noise_var=case.noise_var, activation=case.activation,
                          trials=trials, seed=args.seed, progress=mc.text_progress(f"n0={n0:<5}"))
        th = est.theory()
        for q in ("error", "error_id", "bias", "variance"):
            t, v, se = float(getattr(th, q)), getattr(est, q), getattr(est, f"{q}_se")
            rows.append({"n0": n0, "quantity": q, "theory": t, "mc": v, "se": se, "gap": v - t,
                         "rel_gap": (v - t) / t, "z": (v - t) / se, "trials": trials,
                         "seconds": round(est.seconds, 2)})
        print(f"n0={n0:5d}  error {est.error:.5f}±{est.error_se:.5f} (theory {float(th.error):.5f})  "
              f"error_id {est.error_id:.5f}±{est.error_id_se:.5f} (theory {float(th.error_id):.5f})")
    csv_path = OUT / "finite_size_convergence.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"wrote {csv_path} (matplotlib missing: no plot)", file=sys.stderr)
        return 0
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for q, marker in (("error", "o"), ("error_id", "s")):
        sel = [r for r in rows if r["quantity"] == q]
        n = np.array([r["n0"] for r in sel], float)
        gap = np.abs([r["gap"] for r in sel])
        se = np.array([r["se"] for r in sel])
        ax.errorbar(n, gap, yerr=se, marker=marker, capsize=3, label=f"|MC − theory|, {q}")
    # weighted least-squares fit of each signed gap to c/n0, drawn as |c|/n0
    n = np.array(sorted(set(args.n0)), float)
    for q, style in (("error", "C0--"), ("error_id", "C1:")):
        sel = [r for r in rows if r["quantity"] == q]
        x = np.array([1.0 / r["n0"] for r in sel])
        g = np.array([r["gap"] for r in sel])
        wt = 1.0 / np.array([r["se"] for r in sel]) ** 2
        c = float(np.sum(wt * x * g) / np.sum(wt * x * x))
        c_se = float(1.0 / np.sqrt(np.sum(wt * x * x)))
        chi2 = float(np.sum(wt * (g - c * x) ** 2))
        print(f"{q}: fit gap = c/n0, c = {c:.2f} ± {c_se:.2f}; chi² = {chi2:.1f} for {len(sel) - 1} d.o.f.")
        ax.plot(n, abs(c) / n, style, lw=1, label=f"{q}: |c|/n0, c = {c:.2f} ± {c_se:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n0")
    ax.set_ylabel("|gap| (±1 s.e.)")
    ax.set_title(f"{case.name}: finite-size gap, {args.trials}–{16 * args.trials} trials per n0")
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = OUT / "finite_size_convergence.png"
    fig.savefig(png, dpi=120)
    print(f"wrote {png} and {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
