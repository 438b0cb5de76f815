"""Benchmark of ``Spectrum.from_covariances`` against one ``numpy.linalg.eigh`` of Σ (same process).

The reference is ``numpy.linalg.eigh`` (what a user would call). The constructor validates both
matrices (finite, symmetric, PSD), eigendecomposes Σ and projects Σ* onto its eigenvectors
(λ*_k = v_kᵀ Σ* v_k). Its floor is the one ``eigh`` of Σ; the target is at most 2× that at
n0 = 2048. Repetitions are interleaved (eigh, constructor, eigh, ...) and the median of the
per-repetition ratios is printed, so machine load affects both sides alike.

    python benchmarks/covariances.py [--n0 2048] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import rfshift as rf


def make_covariances(n0: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Σ = A Aᵀ/n0 (full rank) and Σ* = B Bᵀ/(n0/2) (rank n0/2: PSD with exact zeros), not commuting."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n0, n0))
    B = rng.standard_normal((n0, n0 // 2))
    return A @ A.T / n0, B @ B.T / (n0 // 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n0", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    S, S_star = make_covariances(args.n0)
    t_eigh, t_ctor, ratios = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        _, V = np.linalg.eigh(S)
        t1 = time.perf_counter()
        spec = rf.Spectrum.from_covariances(S, S_star)
        t2 = time.perf_counter()
        t_eigh.append(t1 - t0)
        t_ctor.append(t2 - t1)
        ratios.append((t2 - t1) / (t1 - t0))
    # accuracy: the projection against an explicit diag(Vᵀ Σ* V)
    ref = np.maximum(np.diag(V.T @ S_star @ V), 0.0)
    err = float(np.max(np.abs(spec.lam_star - ref)) / np.max(ref))
    print(f"n0 = {args.n0}; load average {os.getloadavg()[0]:.2f}; {args.repeat} interleaved repetitions")
    print(f"one eigh of Sigma          : {np.median(t_eigh) * 1e3:9.1f} ms (median)")
    print(f"Spectrum.from_covariances  : {np.median(t_ctor) * 1e3:9.1f} ms (median; validation included)")
    print(f"ratio constructor / eigh   : {np.median(ratios):9.2f}   (target <= 2)")
    print(f"max |lam_star - diag(V^T S* V)| / max : {err:.1e}")


if __name__ == "__main__":
    main()
