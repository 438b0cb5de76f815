"""Finite-size mode with nonlinear targets and the variance split: Monte Carlo and the limit.

Two parts (``--part``):

* ``table``: configurations with a single-index teacher (tanh/erf/linear) or a structured linear
  target, heavy-tailed / spiked / well-spread spectra, ridge and ridgeless. For each, the exact-test-
  expectation Monte Carlo of the finite model (``tests/_numpy_sim.simulate_full``: W, X and, for a
  teacher, β sampled; x and ε integrated exactly) gives the error, the bias, V_W (from the
  disagreement of two models sharing W but not the data), the label-noise variance and the sampling
  variance; :func:`rfshift.finite_size` gives the same five quantities with jackknife s.e.;
  z = difference / combined s.e.
* ``noise``: the label-noise variance alone (its Monte Carlo s.e. is tiny) at n0 = 50, 100, 200 on a
  heavy-tailed and a ridgeless row: the deterministic equivalent's O(1/n0) residual.
* ``convergence``: a well-spread spectrum at n0 = 100…1600 (φ, ψ fixed): the finite-size error, bias,
  V_W, noise and sampling variance → the engine's error, bias, ``variance_terms.w``,
  ``x_eps + wx_eps`` and ``x + wx`` (:func:`rfshift.asymptotics` with the same target).

Run from the repository root: ``PYTHONPATH=$PWD python examples/finite_size_targets.py --part table``.
Writes ``examples/output/finite_size_targets_<part>.csv`` and prints a Markdown table (pasted into
docs/validation.md §9.7). Errors exclude test-label noise (THEORY.md §1).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import numpy as np

import rfshift as rf

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "output"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

QUANTITIES = ("error", "bias", "variance_w", "variance_noise", "variance_sampling")


def power(n0: int, a: float) -> np.ndarray:
    lam = np.arange(1, n0 + 1, dtype=float) ** -a
    return lam / lam.mean()


def spiked(n0: int, share: float = 0.5) -> np.ndarray:
    lam = np.full(n0, (1 - share) * n0 / (n0 - 1))
    lam[0] = share * n0
    return lam


def cases() -> list[dict]:
    n0 = 100
    lam = power(n0, 1.0)
    b = np.linspace(2.0, 0.2, n0)  # target power decreasing with the index (commutes with Σ)
    b = b / b.mean()
    spread = np.linspace(0.5, 1.5, n0)
    return [
        dict(name="heavy-tailed, tanh teacher", S=np.diag(lam), Ss=np.diag(lam[::-1]), act="erf",
             teacher="tanh", B=None, m=200, n1=100, gamma=0.01, noise_var=0.25, trials=150, draws=40),
        dict(name="spiked, tanh teacher", S=np.diag(spiked(n0)), Ss=np.eye(n0), act="relu",
             teacher="tanh", B=None, m=200, n1=150, gamma=0.01, noise_var=0.1, trials=150, draws=40),
        dict(name="heavy-tailed, erf teacher, B", S=np.diag(lam), Ss=np.diag(lam[::-1]), act="erf",
             teacher="erf", B=b, m=150, n1=200, gamma=0.01, noise_var=0.1, trials=150, draws=40),
        dict(name="ridgeless over-param., tanh teacher", S=np.diag(power(n0, 0.5)), Ss=np.eye(n0),
             act="relu", teacher="tanh", B=None, m=150, n1=300, gamma=0.0, noise_var=0.1, trials=120,
             draws=40),
        dict(name="heavy-tailed, linear target, B", S=np.diag(lam), Ss=np.diag(lam[::-1]), act="relu",
             teacher=None, B=b, m=200, n1=100, gamma=0.01, noise_var=0.25, trials=150, draws=12),
        dict(name="well-spread, tanh teacher", S=np.diag(spread), Ss=np.diag(spread[::-1]), act="tanh",
             teacher="tanh", B=None, m=200, n1=100, gamma=0.05, noise_var=0.1, trials=150, draws=40),
    ]


def mc_quantities(res, sfx: str) -> dict[str, tuple[float, float]]:
    """Mean ± s.e. over trials of the five quantities from simulate_full's per-trial samples."""
    s = res.samples
    v = s["dis_independent" + sfx] / 2  # E(ŷ1 − ŷ2)² = 2V for models sharing nothing (β shared)
    data = s["dis_shared_features" + sfx] / 2  # shared W only: 2(V − V_W)
    per = {"error": s["error" + sfx], "bias": s["error" + sfx] - v, "variance_w": v - data,
           "variance_noise": s["noise_part" + sfx], "variance_sampling": data - s["noise_part" + sfx]}
    n = res.trials
    return {k: (float(x.mean()), float(x.std(ddof=1) / math.sqrt(n))) for k, x in per.items()}


def run_table(args) -> list[dict]:
    from _numpy_sim import simulate_full

    rows = []
    for c in cases():
        n0 = c["S"].shape[0]
        t0 = time.time()
        mc = simulate_full(c["act"], c["S"], c["Ss"], phi=n0 / c["m"], psi=n0 / c["n1"], gamma=c["gamma"],
                           noise_var=c["noise_var"], trials=max(3, int(c["trials"] * args.scale)),
                           seed=args.seed, target_power=c["B"], teacher=c["teacher"], n_ens=2, ks=(1,))
        t_mc = time.time() - t0
        t0 = time.time()
        fs = rf.finite_size(c["S"], c["Ss"], m=c["m"], n1=c["n1"], gamma=c["gamma"], noise_var=c["noise_var"],
                            activation=c["act"], draws=c["draws"], seed=args.seed, target_cov=c["B"],
                            teacher=c["teacher"])
        t_fs = time.time() - t0
        for sfx, test in (("", "OOD"), ("_id", "ID")):
            q = mc_quantities(mc, sfx)
            for name in QUANTITIES:
                val = getattr(fs, name + sfx)
                se = getattr(fs, name + sfx + "_se")
                m_, s_ = q[name]
                rows.append({"case": c["name"], "sigma": c["act"], "teacher": c["teacher"] or "linear",
                             "n0": n0, "m": c["m"], "n1": c["n1"], "gamma": c["gamma"], "test": test,
                             "quantity": name, "mc": m_, "mc_se": s_, "finite": val, "finite_se": se,
                             "z": (val - m_) / math.hypot(se, s_), "trials": mc.trials, "draws": fs.draws,
                             "seconds_mc": round(t_mc, 1), "seconds_fs": round(t_fs, 1)})
        print(f"{c['name']}: MC {t_mc:.0f}s ({mc.trials} trials), finite-size {t_fs:.1f}s", flush=True)
    return rows


def _engine(S, Ss, B, teacher, act, n0, m, n1, gamma, noise_var):
    spec = rf.Spectrum.from_covariances(S, Ss, target_cov=B)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rf.ConcentrationWarning)
        return rf.asymptotics(spec, phi=n0 / m, psi=n0 / n1, gamma=gamma, noise_var=noise_var,
                              activation=act, teacher=teacher)


def run_convergence(args) -> list[dict]:
    rows = []
    for teacher in ("tanh", None):
        for n0 in args.n0:
            lam = np.linspace(0.5, 1.5, n0)
            S, Ss = np.diag(lam), np.diag(lam[::-1])
            m, n1, gamma, noise_var = 2 * n0, n0, 0.05, 0.1
            draws = 24 if teacher else 8
            draws = max(4, int(draws * min(1.0, 400 / n0))) if n0 > 400 else draws
            t0 = time.time()
            fs = rf.finite_size(S, Ss, m=m, n1=n1, gamma=gamma, noise_var=noise_var, activation="relu",
                                draws=draws, seed=args.seed, teacher=teacher)
            th = _engine(S, Ss, None, teacher, "relu", n0, m, n1, gamma, noise_var)
            for sfx in ("", "_id"):
                tm = th.variance_terms if not sfx else th.variance_terms_id
                lim = {"error": float(getattr(th, "error" + sfx)), "bias": float(getattr(th, "bias" + sfx)),
                       "variance_w": float(tm.w), "variance_noise": float(tm.x_eps + tm.wx_eps),
                       "variance_sampling": float(tm.x + tm.wx)}
                for name in QUANTITIES:
                    rows.append({"teacher": teacher or "linear", "n0": n0, "m": m, "n1": n1, "draws": draws,
                                 "test": "ID" if sfx else "OOD", "quantity": name,
                                 "finite": getattr(fs, name + sfx),
                                 "finite_se": getattr(fs, name + sfx + "_se"),
                                 "limit": lim[name]})
            print(f"teacher={teacher} n0={n0}: {time.time() - t0:.1f}s", flush=True)
    return rows


def run_noise(args) -> list[dict]:
    from _numpy_sim import simulate_full

    rows = []
    for case in ("heavy-tailed", "ridgeless"):
        for n0 in (50, 100, 200):
            if case == "heavy-tailed":
                lam = power(n0, 1.0)
                S, Ss, m, n1, gamma = np.diag(lam), np.diag(lam[::-1]), 2 * n0, n0, 0.01
            else:
                S, Ss, m, n1, gamma = np.diag(power(n0, 0.5)), np.eye(n0), 3 * n0 // 2, 3 * n0, 0.0
            mc = simulate_full("relu", S, Ss, phi=n0 / m, psi=n0 / n1, gamma=gamma, noise_var=0.25,
                               trials=int(6000 / n0 * args.scale), seed=1, n_ens=2, ks=(1,))
            fs = rf.finite_size(S, Ss, m=m, n1=n1, gamma=gamma, noise_var=0.25, activation="relu", draws=8,
                                seed=1)
            for sfx, test in (("", "OOD"), ("_id", "ID")):
                x = mc.samples["noise_part" + sfx]
                m_, s_ = float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))
                val, se = getattr(fs, "variance_noise" + sfx), getattr(fs, "variance_noise" + sfx + "_se")
                rows.append({"case": case, "n0": n0, "test": test, "mc": m_, "mc_se": s_, "finite": val,
                             "finite_se": se, "rel": val / m_ - 1, "z": (val - m_) / math.hypot(se, s_)})
    return rows


def markdown(part: str, rows: list[dict]) -> str:
    if part == "noise":
        return "\n".join(f"{r['case']} n0={r['n0']} {r['test']}: MC {r['mc']:.5f} ± {r['mc_se']:.5f}, finite "
                         f"{r['finite']:.5f} ± {r['finite_se']:.5f}, {100 * r['rel']:+.2f}% (z {r['z']:+.1f})"
                         for r in rows)
    if part == "table":
        out = ["| case | σ | f* | n0 | m | n1 | γ | test | quantity | MC ± s.e. | finite-size ± s.e. | z |",
               "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            out.append(f"| {r['case']} | {r['sigma']} | {r['teacher']} | {r['n0']} | {r['m']} | {r['n1']} | "
                       f"{r['gamma']:g} | {r['test']} | {r['quantity']} | {r['mc']:.4f} ± {r['mc_se']:.4f} | "
                       f"{r['finite']:.4f} ± {r['finite_se']:.4f} | {r['z']:+.1f} |")
        return "\n".join(out)
    out = ["| f* | test | quantity | " + " | ".join(f"n0 = {n}" for n in sorted({r['n0'] for r in rows}))
           + " | limit (largest n0) |", ""]
    ns = sorted({r["n0"] for r in rows})
    out[1] = "|" + "---|" * (len(ns) + 4)
    keys = sorted({(r["teacher"], r["test"], r["quantity"]) for r in rows},
                  key=lambda k: (k[0], k[1], QUANTITIES.index(k[2])))
    for key in keys:
        cells = []
        lim = None
        for n in ns:
            r = next(x for x in rows if (x["teacher"], x["test"], x["quantity"]) == key and x["n0"] == n)
            gap = f" ({100 * (r['finite'] / r['limit'] - 1):+.1f}%)" if r["limit"] else ""
            cells.append(f"{r['finite']:.4f} ± {r['finite_se']:.4f}{gap}")
            lim = r["limit"]
        out.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells) + f" | {lim:.4f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("table", "convergence", "noise"), default="table")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the Monte Carlo trials")
    p.add_argument("--n0", type=int, nargs="+", default=[100, 200, 400, 800, 1600])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rows = {"table": run_table, "convergence": run_convergence, "noise": run_noise}[args.part](args)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"finite_size_targets_{args.part}.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(markdown(args.part, rows))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
