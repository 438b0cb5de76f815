"""Real data: Gaussian-input theory vs random-feature ridge regression trained on natural-image patches.

Inputs are grayscale patches (8×8 → n0 = 64 by default, DC removed) from the two photographs that
ship inside scikit-learn (``sklearn.datasets.load_sample_images``: china.jpg and flower.jpg; no
download). Training inputs come from china.jpg; the in-distribution (ID) test inputs are other
patches of china.jpg, the out-of-distribution (OOD) test inputs are patches of flower.jpg.

Target: a synthetic linear teacher y = βᵀx/√n0 + ε, β ~ N(0, I), ε ~ N(0, σ²). The theory
(:func:`rfshift.asymptotics`) gets the spectrum from ``Spectrum.from_samples(train pool, test pool)``
and predicts the test error (clean test labels). The experiment trains random-feature ridge regression
(plain NumPy, the exact estimator of THEORY.md §1) on m patches with n1 features and measures its
error on held-out patches, averaged over seeds (fresh W, training subset, β, ε; mean ± standard error).

Two input scalings:

* ``raw``: one global factor for all patches so that tr Σ/n0 = 1 on the training pool. The per-patch
  norm ‖x‖ still varies by two orders of magnitude (flat sky vs edges).
* ``normalised``: every patch rescaled to ‖x‖² = n0, so the pre-activation variance ‖x‖²/n0 of
  ``w·x/√n0`` is exactly 1 for every sample, as it is (asymptotically) for Gaussian inputs.

* ``gaussian`` (control): Gaussian inputs with the covariances of the raw pools at the same sizes.
  Its gap is not Gaussianity but dimension: the patch covariance has effective rank
  r_eff = (tr Σ)²/tr Σ² of only a few, so ‖x‖²/n0 and ⟨x, x'⟩/n0 do not concentrate as the
  proportional limit assumes, and r_eff barely grows with the patch size.
* ``isotropic`` (pipeline check): Gaussian inputs with Σ = I (r_eff = n0), Σ* = s*·I. Here the
  experiment must agree with the theory up to O(1/n0): it checks the simulation code itself.

Why it matters: the theory linearises σ around the Gaussian with variance s = tr Σ/n0, i.e. it
assumes ‖x‖²/n0 ≈ s for every sample. ReLU is positively homogeneous, relu(w·x) = ‖x‖ relu(w·x̂),
so a sample with a larger norm just has proportionally larger features, the same linear-plus-noise
structure; erf saturates, so for a high-norm patch erf(w·x) is nearly a sign function and for a
low-norm patch nearly linear: its (μ1, μ⊥) change from sample to sample, which the theory cannot see.

Run: ``.venv/bin/python examples/real_data.py`` (add ``--quick`` for a fast smoke run). Writes
``examples/output/real_data.csv`` and ``examples/output/real_data.png``.
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
from scipy import special

import rfshift as rf

OUT = Path(__file__).resolve().parent / "output"

ACTIVATIONS = {"relu": lambda z: np.maximum(z, 0.0), "erf": special.erf}
MODES = ("raw", "normalised", "gaussian", "isotropic")


def load_images() -> dict[str, np.ndarray]:
    """The two photographs bundled with scikit-learn, as grayscale arrays in [0, 1]."""
    try:
        from sklearn.datasets import load_sample_images
    except ImportError as exc:  # pragma: no cover
        raise SystemExit("this example needs scikit-learn: pip install 'rfshift[dev]'") from exc
    data = load_sample_images()
    out = {}
    for name, img in zip(data.filenames, data.images, strict=True):
        out[Path(name).stem] = img.astype(float).mean(axis=2) / 255.0
    return out


def patches(img: np.ndarray, p: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random p×p patches (rows), each with its mean (DC) removed; exactly flat ones dropped."""
    r = rng.integers(0, img.shape[0] - p + 1, 2 * n)
    c = rng.integers(0, img.shape[1] - p + 1, 2 * n)
    idx = np.arange(p)
    rows, cols = r[:, None, None] + idx[None, :, None], c[:, None, None] + idx[None, None, :]
    X = img[rows, cols].reshape(2 * n, p * p)
    X = X - X.mean(axis=1, keepdims=True)
    X = X[np.linalg.norm(X, axis=1) > 1e-8][:n]
    return X


def scale_inputs(pools: dict[str, np.ndarray], mode: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``raw``: one global factor making tr Σ_train/n0 = 1; ``normalised``: ‖x‖² = n0 per patch;
    ``gaussian``: a control, Gaussian vectors with the covariances of the ``raw`` pools (train and ID
    from the training pool's, OOD from the OOD pool's); ``isotropic``: a pipeline check, train and ID
    inputs N(0, I), OOD inputs N(0, s*·I) with s* of the raw OOD pool (effective rank n0)."""
    n0 = pools["train"].shape[1]
    c = np.sqrt(np.mean(np.sum(pools["train"] ** 2, axis=1)) / n0)
    raw = {k: v / c for k, v in pools.items()}
    if mode == "raw":
        return raw
    if mode == "normalised":
        return {k: v * np.sqrt(n0) / np.linalg.norm(v, axis=1, keepdims=True) for k, v in pools.items()}
    if mode == "isotropic":
        s_ood = float(np.mean(np.sum(raw["ood"] ** 2, axis=1)) / n0)
        return {k: rng.standard_normal(v.shape) * (np.sqrt(s_ood) if k == "ood" else 1.0)
                for k, v in raw.items()}
    out = {}
    for k, src in (("train", "train"), ("id", "train"), ("ood", "ood")):
        lam, vecs = np.linalg.eigh(np.cov(raw[src], rowvar=False))
        root = vecs * np.sqrt(np.maximum(lam, 0.0))
        out[k] = rng.standard_normal((raw[k].shape[0], n0)) @ root.T
    return out


def rf_ridge_error(X: np.ndarray, tests: dict[str, np.ndarray], act, n1: int, gamma: float,
                   noise_var: float, rng: np.random.Generator) -> dict[str, float]:
    """Train RF ridge (K = FᵀF/n1, ŷ(x) = Y (K + γI)^{-1} Fᵀ f(x)/n1) once; test errors (clean labels)."""
    m, n0 = X.shape
    beta = rng.standard_normal(n0)
    y = X @ beta / np.sqrt(n0) + np.sqrt(noise_var) * rng.standard_normal(m)
    W = rng.standard_normal((n1, n0))
    F = act(W @ X.T / np.sqrt(n0))  # n1 × m
    K = F.T @ F / n1
    alpha = np.linalg.solve(K + gamma * np.eye(m), y)  # (K + γI)^{-1} Y
    coef = F @ alpha / n1  # ŷ(x) = coefᵀ f(x)
    out = {}
    for name, Xt in tests.items():
        pred = act(Xt @ W.T / np.sqrt(n0)) @ coef
        out[name] = float(np.mean((Xt @ beta / np.sqrt(n0) - pred) ** 2))
    return out


def patch_pools(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The experiment's three raw pools of ``args.pool`` patches (``args.patch`` × ``args.patch``):
    training and ID test from china.jpg, OOD test from flower.jpg (drawn in that order from ``rng``)."""
    imgs = load_images()
    china = patches(imgs["china"], args.patch, 2 * args.pool, rng)
    return {"train": china[: args.pool], "id": china[args.pool:],
            "ood": patches(imgs["flower"], args.patch, args.pool, rng)}


def run(args: argparse.Namespace) -> list[dict[str, object]]:
    rng = np.random.default_rng(args.seed)
    n0 = args.patch**2
    m, n1 = round(n0 / args.phi), round(n0 / args.psi)
    pools_raw = patch_pools(args, rng)
    rows = []
    for mode in MODES:
        pools = scale_inputs(pools_raw, mode, rng)
        spec = rf.Spectrum.from_samples(pools["train"], pools["ood"])
        norms2 = np.sum(pools["train"] ** 2, axis=1) / n0
        r_eff = float(n0 * spec.s**2 / (spec.weights @ spec.lam**2))  # (tr Σ)²/tr Σ², effective rank
        for act_name, act in ACTIVATIONS.items():
            th = rf.asymptotics(spec, phi=args.phi, psi=args.psi, gamma=args.gamma,
                                noise_var=args.noise_var, activation=act_name)
            errs = {"id": [], "ood": []}
            for _ in range(args.seeds):
                sub = rng.choice(args.pool, size=m, replace=False)
                te = {k: pools[k][rng.choice(args.pool, size=args.n_test, replace=False)]
                      for k in ("id", "ood")}
                e = rf_ridge_error(pools["train"][sub], te, act, n1, args.gamma, args.noise_var, rng)
                for k in errs:
                    errs[k].append(e[k])
            for side, theory in (("id", float(th.error_id)), ("ood", float(th.error))):
                a = np.asarray(errs[side])
                mean, se = float(a.mean()), float(a.std(ddof=1) / np.sqrt(a.size))
                rows.append({
                    "inputs": mode, "activation": act_name, "test": side.upper(), "n0": n0, "m": m, "n1": n1,
                    "phi": args.phi, "psi": args.psi, "gamma": args.gamma, "noise_var": args.noise_var,
                    "s": spec.s, "s_star": spec.s_star if side == "ood" else spec.s,
                    "cv_norm2": float(norms2.std() / norms2.mean()), "r_eff": r_eff,
                    "theory": theory, "experiment": mean, "se": se, "seeds": a.size,
                    "rel_gap": (mean - theory) / theory, "z": (mean - theory) / se if se > 0 else np.nan,
                })
    return rows


def write_outputs(rows: list[dict[str, object]], stem: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / f"{stem}.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    fig, axes = plt.subplots(1, len(MODES), figsize=(4.6 * len(MODES), 4), sharey=True)
    for ax, mode in zip(axes, MODES, strict=True):
        sel = [r for r in rows if r["inputs"] == mode]
        x = np.arange(len(sel))
        ax.bar(x - 0.2, [r["theory"] for r in sel], 0.4, label="theory (Gaussian inputs)", color="C0")
        ax.bar(x + 0.2, [r["experiment"] for r in sel], 0.4, yerr=[2 * r["se"] for r in sel],
               label="RF ridge on patches (±2 s.e.)", color="C1", capsize=3)
        ax.set_xticks(x, [f"{r['activation']}\n{r['test']}" for r in sel])
        what = {"gaussian": "Gaussian, same Σ", "isotropic": "Gaussian, Σ = I"}.get(mode, f"{mode} patches")
        ax.set_title(f"{what}\nCV(‖x‖²/n0) = {sel[0]['cv_norm2']:.2f}, r_eff = {sel[0]['r_eff']:.1f}",
                     fontsize=10)
        ax.set_ylabel("test error (clean labels)")
    axes[0].legend(loc="upper left", fontsize=8)
    r0 = rows[0]
    fig.suptitle(f"china.jpg → flower.jpg, {int(np.sqrt(r0['n0']))}×{int(np.sqrt(r0['n0']))} patches: "
                 f"n0={r0['n0']}, m={r0['m']}, n1={r0['n1']}, γ={r0['gamma']}, σ²={r0['noise_var']}")
    fig.tight_layout()
    fig.savefig(OUT / f"{stem}.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=8, help="patch side (n0 = patch²), default 8")
    ap.add_argument("--phi", type=float, default=0.25, help="n0/m (default 0.25)")
    ap.add_argument("--psi", type=float, default=0.125, help="n0/n1 (default 0.125)")
    ap.add_argument("--gamma", type=float, default=0.01)
    ap.add_argument("--noise-var", type=float, default=0.1, dest="noise_var")
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--pool", type=int, default=20000, help="patches per pool (train, ID test, OOD test)")
    ap.add_argument("--n-test", type=int, default=4000, dest="n_test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="few seeds, for a smoke run")
    ap.add_argument("--stem", default="real_data", help="output file stem in examples/output/")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.pool, args.n_test = 4, 4000, 1000
    t0 = time.perf_counter()
    rows = run(args)
    write_outputs(rows, args.stem)
    print(f"{'inputs':<11}{'r_eff':>6} {'act':<6}{'test':<5}{'theory':>9}{'experiment':>12}{'s.e.':>8}"
          f"{'gap':>8}{'z':>7}")
    for r in rows:
        print(f"{r['inputs']:<11}{r['r_eff']:>6.1f} {r['activation']:<6}{r['test']:<5}{r['theory']:>9.4f}"
              f"{r['experiment']:>12.4f}{r['se']:>8.4f}{100 * r['rel_gap']:>7.1f}%{r['z']:>7.1f}")
    print(f"wrote {OUT / (args.stem + '.csv')} and .png in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
