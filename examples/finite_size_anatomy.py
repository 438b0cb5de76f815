"""Anatomy of the finite-size mode's residual at one fixed W (docs/validation.md §9.6).

For one W draw, three numbers per test law (OOD Σ*, ID Σ):

* ``DE|W``  — the deterministic equivalent conditional on W (what :func:`rfshift.finite_size`
  averages over draws; private ``_draw``);
* ``realMC`` — ridge on the real features σ(WX/√n0), X ~ N(0, Σ), averaged over X (trials), the test
  error exact in x, β and ε;
* ``gcmMC`` — ridge on *exactly Gaussian* features with the same moments (the Gaussian covariate
  model given W: (f, x) jointly Gaussian, E ffᵀ = Φ, E f xᵀ = √n0 Ψ), same exact test error.
  For ReLU also ``meanGCM``: Gaussian with the features' mean μ and covariance Φ − μμᵀ.

``DE − gcmMC`` is the deterministic equivalent's own residual (step 2 of docs/theory.md §20);
``realMC − gcmMC`` is the Gaussian-equivalence residual (approximation 1). No W averaging is involved.
``k`` tiles the covariances, Σ → I_k ⊗ Σ, with m, n1 → k·m, k·n1: the same spectral shape (the same
proportional limit) at k times the size, to measure how the residual scales with n0.

Usage (repository root): ``PYTHONPATH=$PWD python examples/finite_size_anatomy.py CASE [TRIALS] [K] [SEED]``
with CASE one of heavy (A), patch8 (B), patch10 (C), over (D), under (E) — the misses of §9.1.
"""

from __future__ import annotations

import importlib
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from finite_size_validation import patch_covariances, power

from rfshift.activations import get_activation

fsm = importlib.import_module("rfshift.finite_size")

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    from contextlib import nullcontext

    def threadpool_limits(limits=None):
        return nullcontext()


def sqrt_psd(S: np.ndarray) -> np.ndarray:
    lam, V = np.linalg.eigh(S)
    return (V * np.sqrt(np.maximum(lam, 0.0))) @ V.T


def solve_g(F: np.ndarray, gamma: float) -> np.ndarray:
    """G with coefficients â = G Y: F(FᵀF/n1 + γ)^{-1}/n1, the pseudo-inverse of Fᵀ at γ = 0."""
    n1, m = F.shape
    if n1 <= m:
        return np.linalg.solve(F @ F.T + n1 * gamma * np.eye(n1), F)
    return np.linalg.solve(F.T @ F + n1 * gamma * np.eye(m), F.T).T


def test_error(G, X, PhiT, PsiT, tT, noise_var) -> float:
    """E_{x,β,ε} (y* − âᵀf)² given the training set (exact in x ~ test law, β ~ N(0, I), ε)."""
    n0, m = X.shape
    H = X.T @ X / n0
    H[np.diag_indices(m)] += noise_var
    cross = float(np.sum(X * (G.T @ PsiT).T)) / math.sqrt(n0)
    return tT - 2 * cross + float(np.sum((G @ H) * (PhiT @ G)))


def run(name, S, Ss, act, m, n1, gamma, noise_var, trials, seed, gauss=True):
    n0 = S.shape[0]
    a = get_activation(act)
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n1, n0))
    train, test = fsm._GaussianLaw(S, a), fsm._GaussianLaw(Ss, a)
    laws = (test, train)
    out, kappa, _, _ = fsm._draw(train, laws, W, m, n1, gamma, noise_var, fsm._linear_target(None, laws))
    de = [sum(o) for o in out]
    tT = (test.target2(None), train.target2(None))
    mom = []
    for law in (test, train):
        st = law.prepare(W)
        Phi, _ = law.second(st, st, True)
        mom.append((Phi, st["Psi"]))
    half = sqrt_psd(S)
    Phi, Psi = mom[1]
    J = np.block([[Phi, math.sqrt(n0) * Psi], [math.sqrt(n0) * Psi.T, S]])
    Jh = sqrt_psd(J) if gauss else None
    mu = np.sqrt(train.prepare(W)["v"] / (2 * np.pi)) if (act == "relu" and gauss) else None
    if mu is not None:
        J2 = J.copy()
        J2[:n1, :n1] -= np.outer(mu, mu)
        Jh2 = sqrt_psd(J2)
    samples = {"real": [], "gcm": [], "meanGCM": []}
    with threadpool_limits(1):
        for _ in range(trials):
            X = half @ rng.standard_normal((n0, m))
            G = solve_g(a.fn(W @ X / math.sqrt(n0)), gamma)
            samples["real"].append([test_error(G, X, P, Q, t, noise_var)
                                    for (P, Q), t in zip(mom, tT, strict=True)])
            if gauss:
                Z = Jh @ rng.standard_normal((n1 + n0, m))
                G2 = solve_g(Z[:n1], gamma)
                samples["gcm"].append([test_error(G2, Z[n1:], P, Q, t, noise_var)
                                       for (P, Q), t in zip(mom, tT, strict=True)])
            if mu is not None:
                Z = Jh2 @ rng.standard_normal((n1 + n0, m))
                G3 = solve_g(Z[:n1] + mu[:, None], gamma)
                samples["meanGCM"].append([test_error(G3, Z[n1:], P, Q, t, noise_var)
                                           for (P, Q), t in zip(mom, tT, strict=True)])
    print(f"{name}: n0={n0} m={m} n1={n1} kappa={kappa:.4g}")
    for k, side in enumerate(("OOD", "ID")):
        r = np.array(samples["real"])[:, k]
        rm, rs = r.mean(), r.std(ddof=1) / math.sqrt(trials)
        line = f"  {side}: DE|W {de[k]:.5f}  realMC {rm:.5f}±{rs:.5f} DE-real {100 * (de[k] - rm) / rm:+.2f}%"
        for key in ("gcm", "meanGCM"):
            if samples[key]:
                g = np.array(samples[key])[:, k]
                gm, gs = g.mean(), g.std(ddof=1) / math.sqrt(trials)
                line += (f" | {key} {gm:.5f}±{gs:.5f} DE-{key} {100 * (de[k] - gm) / gm:+.2f}%"
                         f" (z={(de[k] - gm) / gs:+.1f}) real-{key} {100 * (rm - gm) / gm:+.2f}%")
        print(line, flush=True)


CASES = {
    "heavy": lambda: ("heavy-tailed 1/k relu", np.diag(power(400, 1.0)), np.diag(power(400, 1.0)), "relu",
                      800, 400, 0.01, 0.25),
    "patch8": lambda: ("8x8 patches relu", *patch_covariances(8), "relu", 128, 256, 0.01, 0.1),
    "patch10": lambda: ("10x10 patches erf", *patch_covariances(10), "erf", 200, 400, 0.01, 0.1),
    "over": lambda: ("ridgeless over-param relu", np.diag(power(200, 1.0)),
                     np.diag(np.sqrt(power(200, 1.0)) / np.sqrt(power(200, 1.0)).mean()), "relu",
                     300, 600, 0.0, 0.1),
    "under": lambda: ("ridgeless under-param erf", np.diag(power(64, 1.5)), np.eye(64), "erf",
                      256, 128, 0.0, 0.2),
}


def main(argv: list[str]) -> int:
    case = argv[0] if argv else "patch10"
    trials = int(argv[1]) if len(argv) > 1 else 100
    k = int(argv[2]) if len(argv) > 2 else 1
    seed = int(argv[3]) if len(argv) > 3 else 0
    name, S, Ss, act, m, n1, gamma, noise_var = CASES[case]()
    eye = np.eye(k)
    t0 = time.perf_counter()
    run(f"{name} (k={k}, seed {seed})", np.kron(eye, S), np.kron(eye, Ss), act, k * m, k * n1, gamma,
        noise_var, trials, seed=k + 10 * seed, gauss=(S.shape[0] * k <= 800))
    print(f"[{time.perf_counter() - t0:.0f} s]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
