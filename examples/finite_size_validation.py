"""Finite-size mode vs Monte Carlo of the finite model, and vs the proportional engine.

Three parts (``--part``):

* ``table``: ≥ 8 configurations (heavy-tailed, spiked, image-patch covariances, non-commuting Σ*,
  ReLU/erf/tanh, ridge and ridgeless, n0 = 64…1000). For each: an exact-test-expectation Monte Carlo of
  the finite model (``tests/_numpy_sim.py``: W and X sampled, x, β, ε integrated exactly; mean ± s.e.
  over trials), :func:`rfshift.finite_size` (mean ± s.e. over W draws) and :func:`rfshift.asymptotics`
  on ``Spectrum.from_covariances`` (the proportional limit). z = difference / combined s.e.
* ``convergence``: a well-spread spectrum at n0 = 100…1600 (φ, ψ fixed): finite-size → limit.
* ``calibration``: the limit's relative gap against the finite-size mode over spectra of varying
  effective rank (power laws, spikes) — used to set the engine's ConcentrationWarning threshold.

Run from the repository root: ``PYTHONPATH=$PWD python examples/finite_size_validation.py --part table``.
Writes ``examples/output/finite_size_mode_<part>.csv`` and prints a Markdown table (pasted into
docs/validation.md). Errors exclude test-label noise (THEORY.md §1).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

import rfshift as rf

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).resolve().parent / "output"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def power(n0: int, a: float) -> np.ndarray:
    lam = np.arange(1, n0 + 1, dtype=float) ** -a
    return lam / lam.mean()


def spiked(n0: int, share: float = 0.5) -> np.ndarray:
    lam = np.full(n0, (1 - share) * n0 / (n0 - 1))
    lam[0] = share * n0
    return lam


def rotation(n0: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n0, n0)))
    return q * np.sign(np.diag(r))


def patch_covariances(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Covariances of p×p grayscale patches (DC removed): china.jpg (train), flower.jpg (test), both
    scaled by the factor that makes tr Σ_train/n0 = 1 (as examples/real_data.py ``raw``)."""
    from real_data import load_images, patches

    rng = np.random.default_rng(0)
    imgs = load_images()
    a = patches(imgs["china"], p, 20000, rng)
    b = patches(imgs["flower"], p, 20000, rng)
    Sa, Sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    c = np.trace(Sa) / a.shape[1]
    return Sa / c, Sb / c


def cases() -> list[dict]:
    out = []
    lam = power(400, 1.0)
    out.append(dict(name="heavy-tailed λ∝1/k", S=np.diag(lam), Ss=np.diag(lam), act="relu", m=800, n1=400,
                    gamma=0.01, noise_var=0.25, trials=60, draws=8))
    lam = spiked(200)
    out.append(dict(name="spiked (½ of trace)", S=np.diag(lam), Ss=np.eye(200), act="erf", m=400, n1=200,
                    gamma=0.01, noise_var=0.1, trials=80, draws=8))
    Sa, Sb = patch_covariances(8)
    out.append(dict(name="8×8 patches china→flower", S=Sa, Ss=Sb, act="relu", m=128, n1=256,
                    gamma=0.01, noise_var=0.1, trials=200, draws=12))
    Sa, Sb = patch_covariances(10)
    out.append(dict(name="10×10 patches china→flower", S=Sa, Ss=Sb, act="erf", m=200, n1=400,
                    gamma=0.01, noise_var=0.1, trials=150, draws=12))
    n0 = 300
    Q = rotation(n0, 1)
    lam = power(n0, 0.5)
    out.append(dict(name="non-commuting Σ* (rotated)", S=np.diag(lam), Ss=Q @ np.diag(lam[::-1]) @ Q.T,
                    act="tanh", m=600, n1=450, gamma=0.1, noise_var=0.1, trials=60, draws=8))
    lam = power(200, 1.0)
    ls = np.sqrt(lam)
    out.append(dict(name="ridgeless over-param., λ∝1/k", S=np.diag(lam), Ss=np.diag(ls / ls.mean()),
                    act="relu", m=300, n1=600, gamma=0.0, noise_var=0.1, trials=60, draws=8))
    lam = power(64, 1.5)
    out.append(dict(name="ridgeless under-param., λ∝k^-1.5", S=np.diag(lam), Ss=np.eye(64), act="erf",
                    m=256, n1=128, gamma=0.0, noise_var=0.2, trials=150, draws=8))
    lam = power(1000, 1.0)
    out.append(dict(name="n0 = 1000, λ∝1/k, reversed Σ*", S=np.diag(lam), Ss=np.diag(lam[::-1]), act="relu",
                    m=1000, n1=1000, gamma=0.05, noise_var=0.1, trials=30, draws=6))
    out.append(dict(name="isotropic n0 = 64, Σ* = 2I", S=np.eye(64), Ss=2 * np.eye(64), act="tanh", m=128,
                    n1=96, gamma=0.01, noise_var=0.1, trials=200, draws=12))
    return out


def run_table(args) -> list[dict]:
    from _numpy_sim import simulate_rf

    rows = []
    for i, c in enumerate(cases()):
        if args.only and str(i) not in args.only.split(","):
            continue
        n0 = c["S"].shape[0]
        t0 = time.perf_counter()
        mc = simulate_rf(c["act"], c["S"], c["Ss"], phi=n0 / c["m"], psi=n0 / c["n1"],
                         gamma=c["gamma"], noise_var=c["noise_var"],
                         trials=max(3, int(c["trials"] * args.scale)), seed=100 + i)
        t_mc = time.perf_counter() - t0
        t0 = time.perf_counter()
        fs = rf.finite_size(c["S"], c["Ss"], m=c["m"], n1=c["n1"], gamma=c["gamma"],
                            noise_var=c["noise_var"], activation=c["act"], draws=c["draws"], seed=i)
        t_fs = time.perf_counter() - t0
        spec = rf.Spectrum.from_covariances(c["S"], c["Ss"])
        lim = rf.asymptotics(spec, phi=n0 / c["m"], psi=n0 / c["n1"], gamma=c["gamma"],
                             noise_var=c["noise_var"], activation=c["act"])
        r_eff = float(np.trace(c["S"]) ** 2 / np.sum(c["S"] * c["S"]))
        for side, mcv, mcse, fsv, fsse, limv in (
            ("OOD", mc.error, mc.error_se, fs.error, fs.error_se, float(lim.error)),
            ("ID", mc.error_id, mc.error_id_se, fs.error_id, fs.error_id_se, float(lim.error_id)),
        ):
            se = float(np.hypot(mcse, fsse))
            rows.append(dict(case=c["name"], act=c["act"], n0=n0, m=c["m"], n1=c["n1"], gamma=c["gamma"],
                             noise_var=c["noise_var"], r_eff=r_eff, test=side, mc=mcv, mc_se=mcse,
                             trials=mc.trials, finite=fsv, finite_se=fsse, draws=fs.draws,
                             z_finite=(fsv - mcv) / se, limit=limv, gap_limit=(limv - mcv) / mcv,
                             z_limit=(limv - mcv) / mcse, t_mc=t_mc, t_finite=t_fs))
        r = rows[-2]
        print(f"[{i}] {c['name']}: MC {r['mc']:.4f}±{r['mc_se']:.4f} "
              f"finite {r['finite']:.4f}±{r['finite_se']:.4f} z={r['z_finite']:+.1f} "
              f"limit {r['limit']:.4f} z={r['z_limit']:+.1f} ({t_mc:.0f}s MC, {t_fs:.1f}s fs)", flush=True)
    return rows


def run_convergence(args) -> list[dict]:
    rows = []
    for n0 in (100, 200, 400, 800, 1600):
        if args.max_n0 and n0 > args.max_n0:
            continue
        lam = np.linspace(0.5, 1.5, n0)
        S, Ss = np.diag(lam), np.diag(lam[::-1])
        m, n1 = 2 * n0, n0
        t0 = time.perf_counter()
        fs = rf.finite_size(S, Ss, m=m, n1=n1, gamma=0.05, noise_var=0.1, activation="relu",
                            draws=8 if n0 <= 400 else 4, seed=n0)
        lim = rf.asymptotics(rf.Spectrum.from_covariances(S, Ss), phi=0.5, psi=1.0, gamma=0.05,
                             noise_var=0.1, activation="relu")
        row = dict(n0=n0, m=m, n1=n1, draws=fs.draws, seconds=time.perf_counter() - t0)
        for k in ("error", "bias", "variance", "error_id", "bias_id", "variance_id"):
            row[k] = getattr(fs, k)
            row[k + "_se"] = getattr(fs, k + "_se")
            row[k + "_limit"] = float(getattr(lim, k))
        rows.append(row)
        print(f"n0={n0}: E {fs.error:.4f}±{fs.error_se:.4f} (limit {float(lim.error):.4f}) "
              f"B {fs.bias:.4f}±{fs.bias_se:.4f} ({float(lim.bias):.4f}) "
              f"E_id {fs.error_id:.4f}±{fs.error_id_se:.4f} ({float(lim.error_id):.4f}) "
              f"B_id {fs.bias_id:.4f}±{fs.bias_id_se:.4f} ({float(lim.bias_id):.4f}) [{row['seconds']:.0f}s]",
              flush=True)
    return rows


def run_calibration(args) -> list[dict]:
    rows = []
    specs = []
    for n0 in (100, 400):
        for a in (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5):
            specs.append((f"power a={a}", n0, power(n0, a)))
        for share in (0.05, 0.1, 0.2, 0.5):
            specs.append((f"spike {share}", n0, spiked(n0, share)))
    for name, n0, lam in specs:
        S = np.diag(lam)
        for act in ("relu", "erf"):
            fs = rf.finite_size(S, S, m=2 * n0, n1=n0, gamma=0.01, noise_var=0.25, activation=act, draws=4,
                                seed=1)
            spec = rf.Spectrum.from_covariances(S, S)
            lim = rf.asymptotics(spec, phi=0.5, psi=1.0, gamma=0.01, noise_var=0.25, activation=act)
            d = rf.concentration(spec)
            rows.append(dict(spectrum=name, n0=n0, act=act, r_eff=d.effective_rank, top_share=d.top_share,
                             spread=d.spread, finite=fs.error_id, finite_se=fs.error_id_se,
                             limit=float(lim.error_id),
                             gap=(float(lim.error_id) - fs.error_id) / fs.error_id))
            r = rows[-1]
            print(f"{name:<14} n0={n0:<5} {act:<5} r_eff={r['r_eff']:7.1f} top={r['top_share']:.3f} "
                  f"gap={100 * r['gap']:+6.1f}%", flush=True)
    return rows


def markdown(part: str, rows: list[dict]) -> str:
    def pm(r: dict, k: str) -> str:
        return f"{r[k]:.4f} ± {r[k + '_se']:.4f}"

    if part == "table":
        head = ["case", "σ", "n0", "m", "n1", "γ", "r_eff", "test", "MC ± s.e.", "finite-size ± s.e.", "z",
                "limit", "limit gap", "z (limit)"]
        body = [[r["case"], r["act"], r["n0"], r["m"], r["n1"], f"{r['gamma']:g}", f"{r['r_eff']:.1f}",
                 r["test"], pm(r, "mc"), pm(r, "finite"), f"{r['z_finite']:+.1f}", f"{r['limit']:.4f}",
                 f"{100 * r['gap_limit']:+.1f}%", f"{r['z_limit']:+.1f}"] for r in rows]
    elif part == "convergence":
        head = ["n0", "m", "n1", "draws", "E (OOD)", "limit", "B (OOD)", "limit", "E (ID)", "limit", "B (ID)",
                "limit"]
        keys = ("error", "bias", "error_id", "bias_id")
        body = [[r["n0"], r["m"], r["n1"], r["draws"],
                 *(c for k in keys for c in (pm(r, k), f"{r[k + '_limit']:.4f}"))] for r in rows]
    else:
        head = ["spectrum", "n0", "σ", "r_eff", "top share", "spread", "finite-size (ID)", "limit",
                "limit gap"]
        body = [[r["spectrum"], r["n0"], r["act"], f"{r['r_eff']:.1f}", f"{r['top_share']:.3f}",
                 f"{r['spread']:.3f}", pm(r, "finite"), f"{r['limit']:.4f}", f"{100 * r['gap']:+.1f}%"]
                for r in rows]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("table", "convergence", "calibration"), default="table")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the Monte Carlo trial counts")
    ap.add_argument("--only", default="", help="comma-separated case indices (table)")
    ap.add_argument("--max-n0", type=int, default=0, dest="max_n0", help="convergence: largest n0")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    runner = {"table": run_table, "convergence": run_convergence, "calibration": run_calibration}[args.part]
    rows = runner(args)
    OUT.mkdir(parents=True, exist_ok=True)
    stem = f"finite_size_mode_{args.part}" + (f"_{args.only.replace(',', '_')}" if args.only else "")
    with open(OUT / f"{stem}.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(markdown(args.part, rows))
    print(f"wrote {OUT / (stem + '.csv')} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
