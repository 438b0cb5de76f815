"""Disagreement-on-the-line: ID vs OOD disagreement and error for several shifts (docs/theory.md §18).

One training covariance (a power law, λ_k ∝ 1/k, 200 atoms, tr Σ/n0 = 1) and four test covariances
from rfshift.shifts: test mass moved to the tail (power law α = 0.5) or the head (α = 2), a tilt
toward small directions (τ = −1), and Σ* = 2Σ. ReLU features, φ = n0/m = 0.5, label noise σ² = 0.25;
the number of features n1 = N varies over N/n ∈ [2, 200] (over-parameterised).

Left panel, ridgeless (γ = 0): for each shift the points (E_ID, E_OOD) (circles) and
(D_ID, D_OOD) of two models trained on the same data with independent features (shared-data
disagreement, crosses) lie on two exact lines **with the same slope** (the disagreement line passes
through 0; the error line does not). Middle panel: with a ridge (γ = 0.1) both curves bend away
from the ridgeless lines. Right panel: the label-free estimate of the OOD error, Ê = (D_OOD/D_ID)·E_ID
(no OOD labels), against the true OOD error; its exact bias (dashed gap) is −(error-line intercept)
on the ridgeless family (``rf.ood_error_estimate``, ``rf.disagreement_relation``).

Run: ``.venv/bin/python examples/disagreement_on_the_line.py``. Writes
``examples/output/disagreement_on_the_line.{csv,png}`` (a few seconds).
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
PHI, NOISE, ACT = 0.5, 0.25, "relu"
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def shifts() -> dict[str, rf.Spectrum]:
    lam = power_law(exponent=1.0, alpha=1.0).lam
    return {
        "tail (power law α=0.5)": power_law(exponent=1.0, alpha=0.5),
        "head (power law α=2)": power_law(exponent=1.0, alpha=2.0),
        "tilt τ=−1": tilt(-1.0, lam=lam),
        "scaling Σ*=2Σ": isotropic_scaling(2.0, lam=lam),
    }


def main() -> int:
    t0 = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    ratio = np.geomspace(2.0, 200.0, 60)  # N/n = φ/ψ (away from the peak at N/n = 1)
    psi = PHI / ratio
    rows = []
    fig, ax = plt.subplots(1, 3, figsize=(17, 5.2))
    for (name, spec), color in zip(shifts().items(), COLORS, strict=True):
        rel_e = rf.linear_relation(spec, phi=PHI, noise_var=NOISE, activation=ACT)
        rel_d = rf.disagreement_relation(spec, phi=PHI, noise_var=NOISE, activation=ACT)
        assert float(rel_d.slope) == float(rel_e.slope)
        for gamma, panel in ((0.0, 0), (0.1, 1)):
            res = rf.asymptotics(spec, phi=PHI, psi=psi, gamma=gamma, noise_var=NOISE, activation=ACT)
            d, di = res.disagreement, res.disagreement_id
            est = rf.ood_error_estimate(spec, phi=PHI, psi=psi, gamma=gamma, noise_var=NOISE, activation=ACT)
            a = ax[panel]
            a.plot(res.error_id, res.error, "o", ms=3, color=color)
            a.plot(di.shared_data, d.shared_data, "x", ms=4, color=color)
            xs = np.array([0.0, float(max(np.max(res.error_id), np.max(di.shared_data)))])
            a.plot(xs, rel_e.predict(xs), "-", lw=1, color=color, alpha=0.7)
            a.plot(xs, rel_d.predict(xs), "--", lw=1, color=color, alpha=0.7)
            if gamma == 0.0:
                ax[2].plot(res.error, est.estimate, "-", color=color, lw=2)
            for i in range(ratio.size):
                rows.append({
                    "shift": name, "gamma": gamma, "N_over_n": ratio[i], "phi": PHI, "psi": psi[i],
                    "noise_var": NOISE, "activation": ACT, "error_id": res.error_id[i],
                    "error_ood": res.error[i],
                    "disagreement_shared_data_id": di.shared_data[i],
                    "disagreement_shared_data_ood": d.shared_data[i],
                    "disagreement_independent_id": di.independent[i],
                    "disagreement_independent_ood": d.independent[i],
                    "disagreement_shared_features_id": di.shared_features[i],
                    "disagreement_shared_features_ood": d.shared_features[i],
                    "ensemble_kinf_error_ood": res.ensemble(np.inf).error[i],
                    "training_error": res.training_error[i],
                    "label_free_estimate": est.estimate[i], "label_free_bias": est.bias[i],
                    "line_slope": float(rel_e.slope), "error_line_intercept": float(rel_e.intercept),
                })
        print(f"{name:24s} slope {float(rel_e.slope):.6f}  error intercept {float(rel_e.intercept):+.6f}  "
              f"disagreement intercept {float(rel_d.intercept):+.1e}  "
              f"label-free bias (γ=0) {float(rel_d.estimator_bias):+.6f}")
    # legends: colour = shift, marker/line = quantity
    from matplotlib.lines import Line2D

    shift_handles = [Line2D([], [], color=c, lw=3, label=n) for n, c in zip(shifts(), COLORS, strict=True)]
    kind_handles = [
        Line2D([], [], color="k", marker="o", ls="", ms=4, label="error (E_ID, E_OOD)"),
        Line2D([], [], color="k", marker="x", ls="", ms=5, label="shared-data disagreement"),
        Line2D([], [], color="k", ls="-", label="γ=0 error line"),
        Line2D([], [], color="k", ls="--", label="γ=0 disagreement line (same slope, through 0)"),
    ]
    for panel, title in ((0, "ridgeless (γ = 0): exact lines"), (1, "ridge γ = 0.1: the lines break")):
        ax[panel].set(xlabel="ID (test law Σ)", ylabel="OOD (test law Σ*)", title=title)
        ax[panel].legend(handles=shift_handles + kind_handles, fontsize=7, loc="upper left")
    lim = [0, max(r["error_ood"] for r in rows if r["gamma"] == 0.0)]
    ax[2].plot(lim, lim, ":", color="gray", label="estimate = truth")
    ax[2].set(xlabel="true OOD error", ylabel="label-free estimate (D_OOD/D_ID)·E_ID",
              title="label-free OOD estimate, γ = 0 (bias = −error intercept)")
    ax[2].legend(handles=[*shift_handles, Line2D([], [], color="gray", ls=":", label="estimate = truth")],
                 fontsize=7, loc="upper left")
    fig.suptitle(f"Disagreement-on-the-line, ReLU, φ = {PHI}, σ² = {NOISE}, N/n ∈ [2, 200]")
    fig.tight_layout()
    fig.savefig(OUT / "disagreement_on_the_line.png", dpi=120)
    with open(OUT / "disagreement_on_the_line.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {OUT / 'disagreement_on_the_line.png'} and .csv ({len(rows)} rows) "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
