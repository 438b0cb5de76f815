"""Real inputs and real labels: predict a pixel from its neighbourhood, train on one photograph, test
on the other, and compare random-feature ridge regression with the theory of an estimated target.

Data (ships inside scikit-learn, no download): the two sample photographs of
``sklearn.datasets.load_sample_images`` (china.jpg, flower.jpg), grayscale in [0, 1]. A sample is a
p×p patch (default 9×9): the input x is its n0 = p² − 1 outer pixels, the label y is the centre pixel;
both have the mean of the outer pixels removed (so inputs and labels are centred per patch).
Training and in-distribution (ID) test patches come from china.jpg, out-of-distribution (OOD) test
patches from flower.jpg. One global factor c makes tr Σ/n0 = 1 on the training pool (x and y both
divided by c, so the labels keep their relation to the inputs).

Theory: ``Spectrum.from_data(train pool X, y, OOD pool X)`` estimates the target power b̂ per
eigen-direction of the training covariance and τ̂², the variance of what no linear function of x
explains (label "noise" + nonlinear part, under the training law); :func:`rfshift.asymptotics` with
``noise_var = τ̂²`` predicts the test MSE against the real labels as ``error_noisy`` (ID:
``error_id_noisy``), which assumes that the unexplained variance is the same under the test law.
For comparison, ``iso`` is the theory with an isotropic target of the same training signal energy
(b ≡ ⟨b̂λ⟩/s): what one would predict without estimating where the target lives. ``resid*`` is a
diagnostic that uses the test labels: the theory's clean-label error plus the measured test-law
residual r̂*² = mean (y − θ̂ᵀx)² of the training pool's OLS coefficients θ̂ on the test pool (under the
model, r*² = σ² + σ_g*², so this replaces the assumption "same unexplained variance at test").

Experiment: random-feature ridge (plain NumPy, ŷ(x) = Y(K + γI)^{-1}Fᵀf(x)/n1, K = FᵀF/n1) trained
on m = n0/φ patches with n1 = n0/ψ features; MSE on held-out patches against the real centre pixels;
mean ± s.e. over seeds (fresh W and training subset). ReLU and erf; inputs ``raw`` (the global
scale only) or ``normalised`` (each patch's x and y divided by ‖x‖/√n0, so every sample has the
pre-activation variance the theory assumes; THEORY.md §12).

Run: ``python examples/real_data_targets.py`` (``--quick`` for a smoke run). Writes
``examples/output/real_data_targets.csv``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

import rfshift as rf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_data import ACTIVATIONS, OUT, load_images


def pixel_task(img: np.ndarray, p: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random p×p patches: (outer pixels − their mean, centre pixel − the same mean);
    patches whose outer pixels are exactly flat are dropped."""
    r = rng.integers(0, img.shape[0] - p + 1, 2 * n)
    c = rng.integers(0, img.shape[1] - p + 1, 2 * n)
    idx = np.arange(p)
    rows, cols = r[:, None, None] + idx[None, :, None], c[:, None, None] + idx[None, None, :]
    P = img[rows, cols].reshape(2 * n, p * p)
    centre = (p * p) // 2
    X = np.delete(P, centre, axis=1)
    mean = X.mean(axis=1, keepdims=True)
    X, y = X - mean, P[:, centre] - mean[:, 0]
    keep = np.linalg.norm(X, axis=1) > 1e-8
    return X[keep][:n], y[keep][:n]


Pools = dict[str, tuple[np.ndarray, np.ndarray]]


def scaled(pools: Pools, mode: str) -> Pools:
    n0 = pools["train"][0].shape[1]
    c = np.sqrt(np.mean(np.sum(pools["train"][0] ** 2, axis=1)) / n0)
    out = {k: (X / c, y / c) for k, (X, y) in pools.items()}
    if mode == "normalised":
        out = {}
        for k, (X, y) in pools.items():
            f = np.linalg.norm(X, axis=1) / np.sqrt(n0)
            out[k] = (X / f[:, None], y / f)
    return out


def rf_ridge(X: np.ndarray, y: np.ndarray, tests: dict[str, tuple[np.ndarray, np.ndarray]], act, n1: int,
             gamma: float, rng: np.random.Generator) -> dict[str, float]:
    m, n0 = X.shape
    W = rng.standard_normal((n1, n0))
    F = act(W @ X.T / np.sqrt(n0))
    alpha = np.linalg.solve(F.T @ F / n1 + gamma * np.eye(m), y)
    coef = F @ alpha / n1
    return {k: float(np.mean((yt - act(Xt @ W.T / np.sqrt(n0)) @ coef) ** 2))
            for k, (Xt, yt) in tests.items()}


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    rng = np.random.default_rng(args.seed)
    imgs = load_images()
    p = args.patch
    n0 = p * p - 1
    m, n1 = round(n0 / args.phi), round(n0 / args.psi)
    Xc, yc = pixel_task(imgs["china"], p, 2 * args.pool, rng)
    raw = {"train": (Xc[: args.pool], yc[: args.pool]), "id": (Xc[args.pool:], yc[args.pool:]),
           "ood": pixel_task(imgs["flower"], p, args.pool, rng)}
    rows = []
    for mode in ("raw", "normalised"):
        pools = scaled(raw, mode)
        ds = rf.Spectrum.from_data(pools["train"][0], pools["train"][1], pools["ood"][0])
        spec, tau2 = ds
        iso = spec.with_target(np.full(spec.n_atoms, spec.signal / spec.s))
        Xtr, ytr = pools["train"]
        theta = np.linalg.lstsq(Xtr - Xtr.mean(0), ytr - ytr.mean(), rcond=None)[0]
        resid = {k: float(np.mean((pools[k][1] - pools[k][1].mean() - (pools[k][0] - pools[k][0].mean(0))
                                   @ theta) ** 2)) for k in ("id", "ood")}
        r_eff = float(n0 * spec.s**2 / (spec.weights @ spec.lam**2))
        for act_name, act in ACTIVATIONS.items():
            kw = dict(phi=args.phi, psi=args.psi, gamma=args.gamma, noise_var=tau2, activation=act_name)
            th, th_iso = rf.asymptotics(spec, **kw), rf.asymptotics(iso, **kw)
            errs = {"id": [], "ood": []}
            for _ in range(args.seeds):
                sub = rng.choice(args.pool, size=m, replace=False)
                te = {}
                for k in ("id", "ood"):
                    j = rng.choice(pools[k][0].shape[0], size=args.n_test, replace=False)
                    te[k] = (pools[k][0][j], pools[k][1][j])
                e = rf_ridge(pools["train"][0][sub], pools["train"][1][sub], te, act, n1, args.gamma, rng)
                for k in errs:
                    errs[k].append(e[k])
            for side, theory, theory_iso, theory_res, var_y in (
                    ("id", float(th.error_id_noisy), float(th_iso.error_id_noisy),
                     float(th.error_id) + resid["id"], float(pools["id"][1].var())),
                    ("ood", float(th.error_noisy), float(th_iso.error_noisy),
                     float(th.error) + resid["ood"], float(pools["ood"][1].var()))):
                a = np.asarray(errs[side])
                mean, se = float(a.mean()), float(a.std(ddof=1) / np.sqrt(a.size))
                rows.append({
                    "inputs": mode, "activation": act_name, "test": side.upper(), "n0": n0, "m": m, "n1": n1,
                    "gamma": args.gamma, "tau2": tau2, "signal": spec.signal, "r_eff": r_eff,
                    "var_y": var_y, "resid": resid[side], "theory": theory, "theory_iso": theory_iso,
                    "theory_resid": theory_res, "experiment": mean, "se": se,
                    "seeds": a.size, "rel_gap": (mean - theory) / theory,
                    "rel_gap_iso": (mean - theory_iso) / theory_iso,
                    "rel_gap_resid": (mean - theory_res) / theory_res,
                })
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=9, help="patch side (n0 = patch² − 1), default 9")
    ap.add_argument("--phi", type=float, default=0.25, help="n0/m (default 0.25)")
    ap.add_argument("--psi", type=float, default=0.125, help="n0/n1 (default 0.125)")
    ap.add_argument("--gamma", type=float, default=0.01)
    ap.add_argument("--seeds", type=int, default=12)
    ap.add_argument("--pool", type=int, default=20000, help="patches per pool (train, ID test, OOD test)")
    ap.add_argument("--n-test", type=int, default=4000, dest="n_test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.pool, args.n_test = 4, 4000, 1000
    t0 = time.perf_counter()
    rows = run(args)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "real_data_targets.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{'inputs':<11}{'act':<6}{'test':<5}{'Var y':>7}{'τ̂²/r̂*²':>8}{'theory':>8}{'iso':>8}"
          f"{'resid*':>8}{'measured':>10}{'s.e.':>8}{'gap':>8}{'gap iso':>8}{'gap res*':>9}")
    for r in rows:
        print(f"{r['inputs']:<11}{r['activation']:<6}{r['test']:<5}{r['var_y']:>7.3f}{r['resid']:>8.3f}"
              f"{r['theory']:>8.3f}{r['theory_iso']:>8.3f}{r['theory_resid']:>8.3f}{r['experiment']:>10.4f}"
              f"{r['se']:>8.4f}{100 * r['rel_gap']:>7.1f}%{100 * r['rel_gap_iso']:>7.1f}%"
              f"{100 * r['rel_gap_resid']:>8.1f}%")
    print('tau2 (train residual), raw and normalised: ' + ', '.join(f"{r['tau2']:.4f}" for r in rows[::4]))
    r0 = rows[0]
    print(f"n0={r0['n0']}, m={r0['m']}, n1={r0['n1']}, gamma={r0['gamma']}; wrote "
          f"{OUT / 'real_data_targets.csv'} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
