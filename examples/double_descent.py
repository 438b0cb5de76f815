"""Double descent in and out of distribution: error, bias and variance against N/n = n1/m = φ/ψ.

One training covariance (a power law, λ_k ∝ 1/k, 200 atoms, tr Σ/n0 = 1) and several test
covariances Σ* built on it (rfshift.shifts): test mass moved to the spectrum's tail (power law
α = 0.5) or head (α = 2), a tilt toward small directions (τ = −1), and Σ* = 2Σ (a trace change).
ReLU features, label noise σ² = 0.25, φ = n0/m = 0.5; the number of features n1 = N varies.

Ridgeless (γ = 0): the variance, hence the error, is infinite exactly at the interpolation threshold
N = n (ψ = φ); rfshift returns ``inf`` there (``interpolation_peak`` is True) and the plot marks it
with a vertical line instead of drawing a huge finite value. With a small ridge (γ = 1e-2) the peak
is finite and smoothed. Left of the peak (N < n) more features hurt; right of it, more features
help and every curve decreases toward the kernel limit N/n → ∞ (ψ = 0), drawn as a dotted line.

Run: ``.venv/bin/python examples/double_descent.py``. Writes ``examples/output/double_descent.csv``
and ``examples/output/double_descent.png`` (a few seconds).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rfshift as rf
from rfshift.shifts import isotropic_scaling, power_law, tilt

OUT = Path(__file__).resolve().parent / "output"
PHI = 0.5
NOISE = 0.25
ACT = "relu"


def shifts() -> dict[str, rf.Spectrum]:
    base = power_law(exponent=1.0, alpha=1.0)
    lam = base.lam
    return {
        "tail (power law α=0.5)": power_law(exponent=1.0, alpha=0.5),
        "head (power law α=2)": power_law(exponent=1.0, alpha=2.0),
        "tilt τ=−1": tilt(-1.0, lam=lam),
        "scaling Σ*=2Σ": isotropic_scaling(2.0, lam=lam),
    }


def main() -> int:
    t0 = time.perf_counter()
    ratio = np.unique(np.concatenate([np.geomspace(0.05, 20.0, 241), [1.0]]))  # N/n, exact 1 included
    psi = PHI / ratio
    psi[ratio == 1.0] = PHI  # exactly the interpolation threshold
    rows = []
    results: dict[tuple[str, float], rf.Asymptotics] = {}
    kernel: dict[tuple[str, float], rf.Asymptotics] = {}
    for name, spec in shifts().items():
        for gamma in (0.0, 1e-2):
            res = rf.asymptotics(spec, phi=PHI, psi=psi, gamma=gamma, noise_var=NOISE, activation=ACT)
            results[name, gamma] = res
            kernel[name, gamma] = rf.asymptotics(spec, phi=PHI, psi=0.0, gamma=gamma, noise_var=NOISE,
                                                 activation=ACT)
            for i, r in enumerate(ratio):
                rows.append({
                    "shift": name, "gamma": gamma, "N_over_n": r, "phi": PHI, "psi": psi[i],
                    "noise_var": NOISE, "activation": ACT,
                    "error": res.error[i], "bias": res.bias[i], "variance": res.variance[i],
                    "error_id": res.error_id[i], "bias_id": res.bias_id[i],
                    "variance_id": res.variance_id[i], "interpolation_peak": bool(res.interpolation_peak[i]),
                })
    peak_rows = [r for r in rows if r["interpolation_peak"]]
    assert peak_rows and all(r["gamma"] == 0 and r["N_over_n"] == 1.0 for r in peak_rows)
    assert all(np.isinf(r["error"]) for r in peak_rows)

    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "double_descent.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({k: (f"{v:.10g}" if isinstance(v, float | np.floating) else v) for k, v in r.items()}
                    for r in rows)

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    names = list(shifts())
    for ax, gamma in zip(axes[:2], (0.0, 1e-2), strict=True):
        first = results[names[0], gamma]
        ax.plot(ratio, first.error_id, "k-", lw=2.2, label="ID (Σ* = Σ)")
        ax.axhline(float(kernel[names[0], gamma].error_id), color="k", ls=":", lw=1)
        for j, name in enumerate(names):
            res = results[name, gamma]
            ax.plot(ratio, res.error, color=f"C{j}", label=f"OOD: {name}")
            ax.axhline(float(kernel[name, gamma].error), color=f"C{j}", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N/n = n1/m = φ/ψ")
        ax.set_ylabel("test error (clean labels)")
        title = "ridgeless (γ = 0)" if gamma == 0 else f"ridge γ = {gamma:g}"
        ax.set_title(f"{title}, ReLU, φ = {PHI}, σ² = {NOISE}")
        if gamma == 0:
            ax.axvline(1.0, color="grey", ls="--", lw=1)
            ax.text(1.4, 0.97, "N = n: E = ∞\n(returned as inf)", transform=ax.get_xaxis_transform(),
                    va="top", fontsize=8, color="grey")
        ax.set_ylim(top=min(ax.get_ylim()[1], 30.0))
    axes[0].legend(fontsize=7, loc="lower left")
    ax = axes[2]
    res = results[names[0], 0.0]
    ax.plot(ratio, res.bias, "C0-", label="OOD bias")
    ax.plot(ratio, res.variance, "C0--", label="OOD variance")
    ax.plot(ratio, res.bias_id, "k-", lw=1, label="ID bias")
    ax.plot(ratio, res.variance_id, "k--", lw=1, label="ID variance")
    ax.axvline(1.0, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(top=30.0)
    ax.set_xlabel("N/n = n1/m = φ/ψ")
    ax.set_title(f"bias/variance, ridgeless, shift: {names[0]}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "double_descent.png", dpi=120)
    plt.close(fig)

    print(f"{'shift':<26}{'γ':>6}{'E_ID(N/n=0.5)':>15}{'E_OOD(0.5)':>12}{'E_OOD(2)':>10}{'E_OOD(∞)':>10}")
    for name in names:
        for gamma in (0.0, 1e-2):
            res = results[name, gamma]
            i05, i2 = np.argmin(abs(ratio - 0.5)), np.argmin(abs(ratio - 2.0))
            print(f"{name:<26}{gamma:>6g}{res.error_id[i05]:>15.4f}{res.error[i05]:>12.4f}"
                  f"{res.error[i2]:>10.4f}{float(kernel[name, gamma].error):>10.4f}")
    print(f"interpolation peak (N = n, γ = 0): error = inf for all {len(peak_rows)} shift rows")
    print(f"wrote {OUT / 'double_descent.csv'} and .png in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
