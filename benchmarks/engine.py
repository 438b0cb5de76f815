"""Engine benchmark: vectorised solve vs one scipy.optimize.brentq per point (same run, same formulas).

Evaluates a 10⁴-point (φ, ψ, γ) grid on a 1,000-atom spectrum with ``rfshift.asymptotics``, then a
random subset of the same points one at a time: a scalar ``brentq`` in log k_x on the fixed point
(THEORY.md §4) followed by the same closed formulas. Prints both times (the scalar one extrapolated
to the full grid), their ratio, and the max relative difference of error / error_id / κ.

    python benchmarks/engine.py [--atoms 1000] [--points-scalar 200] [--activation relu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.optimize import brentq

import rfshift as rf
from rfshift._moments import exact_moments
from rfshift.engine import _evaluate


def make_spectrum(n_atoms: int) -> rf.Spectrum:
    k = np.arange(1, n_atoms + 1, dtype=float)
    lam = k**-1.0
    lam /= lam.mean()
    lam_star = lam**0.5
    lam_star *= lam.mean() / lam_star.mean()
    return rf.Spectrum(lam, lam_star)


def scalar_point(spec: rf.Spectrum, phi: float, psi: float, gamma: float, noise: float,
                 mu1: float, mup2: float, te: rf.ActivationConstants) -> dict:
    """One point: brentq on the fixed point in y = log k_x (scalar numpy), then the formulas."""
    lam, p = spec.lam, spec.weights
    rho = mu1 * mu1

    def P(y: float) -> float:  # noqa: N802
        k = np.exp(y)
        return float(p @ (lam / (lam + k))) + mup2 / (rho * k)

    if gamma > 0:
        def g(y: float) -> float:  # clipped residual, increasing in y (THEORY.md §4)
            Pv = P(y)
            return rho * np.exp(y) * max(1 - psi * Pv, 0.0) * max(1 / phi - Pv, 0.0) - gamma
    else:
        q = min(1 / phi, 1 / psi if psi > 0 else np.inf)

        def g(y: float) -> float:
            return q - P(y)

    lo, hi = np.log(spec.s) - 1.0, np.log(spec.s) + 1.0
    while g(lo) >= 0:
        lo -= 2 * (np.log(spec.s) - lo + 1)
    while g(hi) <= 0:
        hi += 2 * (hi - np.log(spec.s) + 1)
    y = brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
    kx = np.array([np.exp(y)])
    cols = np.stack([p, p * spec.lam_star, p * lam], axis=1)

    def moments(k: np.ndarray, kinds: tuple[str, ...] = ("q", "qq", "d2", "u", "uu", "uq")) -> dict:
        return exact_moments(k, lam, cols, kinds)

    one = lambda v: np.array([v], dtype=float)  # noqa: E731
    return _evaluate(spec, moments, kx, one(phi), one(psi), one(gamma), one(noise), mu1=mu1, mu_perp2=mup2,
                     mu1_t=te.mu1, mu_perp2_t=te.mu_perp2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--atoms", type=int, default=1000)
    ap.add_argument("--points-scalar", type=int, default=200)
    ap.add_argument("--activation", default="relu")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    spec = make_spectrum(args.atoms)
    phi, psi, gamma = np.meshgrid(np.geomspace(0.1, 10, 25), np.geomspace(0.05, 20, 20),
                                  np.geomspace(1e-4, 10, 20), indexing="ij")
    noise = 0.1
    n = phi.size
    rf.asymptotics(spec, phi=0.5, psi=0.5, gamma=1.0, activation=args.activation)  # constants cache
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise,
                             activation=args.activation)
        times.append(time.perf_counter() - t0)
    t_vec = min(times)

    act = rf.get_activation(args.activation)
    tr, te = act.constants(spec.s), act.constants(spec.s_star)
    rng = np.random.default_rng(0)
    idx = rng.choice(n, size=min(args.points_scalar, n), replace=False)
    flat = [a.ravel() for a in (phi, psi, gamma)]
    t0 = time.perf_counter()
    out = [scalar_point(spec, flat[0][i], flat[1][i], flat[2][i], noise, tr.mu1, tr.mu_perp2, te)
           for i in idx]
    t_scalar = (time.perf_counter() - t0) * n / idx.size

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))

    diffs = {
        name: rel(np.ravel(getattr(res, name))[idx], np.array([float(o[key][0]) for o in out]))
        for name, key in (("error", "error"), ("error_id", "error_id"), ("kappa", "kappa"))
    }
    print(f"spectrum: {args.atoms} atoms; grid: {n} (phi, psi, gamma) points; activation {act.name}")
    print(f"vectorised rfshift.asymptotics : {t_vec * 1e3:10.1f} ms (best of {args.repeat})")
    print(f"scalar brentq per point        : {t_scalar * 1e3:10.1f} ms "
          f"(measured on {idx.size} points, extrapolated to {n})")
    print(f"speed-up                       : {t_scalar / t_vec:10.1f}x   (target >= 100x)")
    print("max relative difference        : " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
          + "   (target <= 1e-10)")


if __name__ == "__main__":
    main()
