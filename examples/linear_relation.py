"""The exact ID/OOD linear relation (THEORY.md §8), with Monte Carlo points overlaid.

Training spectrum λ = (1.5, 0.5), test spectrum λ* = (0.5, 1.5) (the test law swaps the two
directions, equal trace), ReLU features, φ = n0/m = 0.5, label noise σ² = 0.1. Ridgeless (γ = 0) and
overparameterised (ψ < φ), the number of features varying: every point (E_ID(ψ), E_OOD(ψ)) lies on
the line E_OOD = slope·E_ID + intercept. With a ridge (γ = 0.1, 1) the points leave the line
(``rfshift.analysis.deviation``). Monte Carlo (``rfshift.montecarlo.simulate``, n0 = 256, a few
trials) at N/n ∈ {1.6, 2, 4}, γ = 1e-4 (indistinguishable from the ridgeless line: the engine's
deviation there is below 1e-5), with ±2 standard-error bars; at n0 = 256 a finite-size offset of
O(1/n0) remains. If the Monte Carlo module is not importable, the script draws the theory only.

Run: ``.venv/bin/python examples/linear_relation.py`` (theory: a second; Monte Carlo: < 2 min on two
cores). ``--no-mc`` skips the simulation. Writes ``examples/output/linear_relation.csv`` and ``.png``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rfshift as rf
from rfshift.analysis import deviation

OUT = Path(__file__).resolve().parent / "output"
SPEC = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
PHI, NOISE, ACT = 0.5, 0.1, "relu"
MC_FEATURES_PER_SAMPLE = (1.6, 2.0, 4.0)
MC_GAMMA = 1e-4
N0, TRIALS = 256, 3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-mc", action="store_true", help="theory only")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    rel = rf.linear_relation(SPEC, phi=PHI, noise_var=NOISE, activation=ACT)
    print(f"slope = {float(rel.slope):.12f}, intercept = {float(rel.intercept):.12f}")
    fps = np.geomspace(1.5, 200.0, 120)  # N/n (the peak at N/n = 1 is left out of the plot)
    rows = []
    fig, ax = plt.subplots(1, 2, figsize=(12, 5))
    for gamma, style in ((0.0, "-"), (0.1, "--"), (1.0, ":")):
        res = rf.asymptotics(SPEC, phi=PHI, psi=PHI / fps, gamma=gamma, noise_var=NOISE, activation=ACT)
        dev = deviation(SPEC, phi=PHI, psi=PHI / fps, gamma=gamma, noise_var=NOISE, activation=ACT)
        ax[0].plot(res.error_id, res.error, style, lw=2, label=f"engine, γ = {gamma:g}")
        ax[1].plot(fps, np.abs(dev) + 1e-17, style, lw=2, label=f"γ = {gamma:g}")
        for i in range(fps.size):
            rows.append({"kind": "theory", "gamma": gamma, "N_over_n": fps[i], "psi": PHI / fps[i],
                         "error_id": res.error_id[i], "error_ood": res.error[i], "deviation": dev[i],
                         "error_id_se": "", "error_ood_se": ""})
        if gamma == 0.0:
            print(f"γ = 0: max |deviation| = {np.max(np.abs(dev)):.2e} over {fps.size} values of N/n")
    lo, hi = ax[0].get_xlim()
    x = np.linspace(lo, hi, 2)
    ax[0].plot(x, rel.predict(x), color="k", lw=0.8,
               label=f"E_OOD = {float(rel.slope):.3f}·E_ID + {float(rel.intercept):.3f}")

    if not args.no_mc:
        try:
            from rfshift import montecarlo as mc
        except ImportError as exc:  # the Monte Carlo extra (JAX) is optional
            print(f"Monte Carlo skipped: {exc}")
            mc = None
        if mc is not None:
            for k, r in enumerate(MC_FEATURES_PER_SAMPLE):
                est = mc.simulate(SPEC, n0=N0, phi=PHI, psi=PHI / r, gamma=MC_GAMMA, noise_var=NOISE,
                                  activation=ACT, trials=TRIALS, seed=k)
                th = rf.asymptotics(SPEC, phi=est.phi, psi=est.psi, gamma=MC_GAMMA, noise_var=NOISE,
                                    activation=ACT)
                ax[0].errorbar(est.error_id, est.error, xerr=2 * est.error_id_se, yerr=2 * est.error_se,
                               fmt="o", color="C3", capsize=3,
                               label=f"Monte Carlo n0={N0}, γ={MC_GAMMA:g}" if k == 0 else None)
                z = (est.error - th.error) / est.error_se
                print(f"MC N/n = {r:g}: E_OOD = {est.error:.4f} ± {est.error_se:.4f} (theory {th.error:.4f}, "
                      f"z = {z:+.1f}); E_ID = {est.error_id:.4f} ± {est.error_id_se:.4f} "
                      f"(theory {th.error_id:.4f})")
                rows.append({"kind": "monte_carlo", "gamma": MC_GAMMA, "N_over_n": est.phi / est.psi,
                             "psi": est.psi, "error_id": est.error_id, "error_ood": est.error,
                             "deviation": est.error - rel.predict(est.error_id),
                             "error_id_se": est.error_id_se, "error_ood_se": est.error_se})
    ax[0].set(xlabel="ID error", ylabel="OOD error", title="ID vs OOD error as N/n varies (φ = 0.5)")
    ax[0].legend(fontsize=8)
    ax[1].set(xscale="log", yscale="log", xlabel="N/n = φ/ψ", ylabel="|E_OOD − (slope·E_ID + intercept)|",
              title="distance from the γ = 0 line")
    ax[1].legend(fontsize=8)
    with open(OUT / "linear_relation.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    fig.tight_layout()
    fig.savefig(OUT / "linear_relation.png", dpi=120)
    print(f"wrote {OUT / 'linear_relation.png'} and .csv in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
