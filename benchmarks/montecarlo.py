"""Benchmark: one Monte Carlo trial, JAX (jit, after warm-up) vs plain NumPy float64, same run.

A trial = β, two independent trainings (W, X, ε) of the random-feature model at n0, φ = n0/m,
ψ = n0/n1 (default n0 = 1024, φ = ψ = 0.5: n1 = m = 2048), ReLU, γ = 0.01, and the exact test
statistics (arc-cosine kernel) under Σ* and Σ. Both sides draw their own random numbers and do the
same linear algebra (Cholesky on the smaller Gram side, kernel per pair of weight matrices).

    python benchmarks/montecarlo.py [--n0 1024] [--repeat 3] [--numpy-repeat N] [--no-numpy]

Prints the median wall time of each and the ratio JAX/NumPy (target on CPU: <= 1.0).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n0", type=int, default=1024)
    p.add_argument("--phi", type=float, default=0.5)
    p.add_argument("--psi", type=float, default=0.5)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--numpy-repeat", type=int, default=None, help="NumPy repeats (default: --repeat)")
    p.add_argument("--no-numpy", action="store_true", help="skip the NumPy baseline (large n0)")
    args = p.parse_args(argv)

    import jax
    import jax.numpy as jnp

    import rfshift as rf
    from rfshift.montecarlo import driver, reference, sampling, simulator

    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    n0 = args.n0
    m, n1 = round(n0 / args.phi), round(n0 / args.psi)
    geom = sampling.realise(spec, n0)
    design = sampling.replicate_design(2)
    block = driver.tile_size(n1)
    cfg = simulator.Config(n0, n1, m, design.idx, "relu", True, True, block, 1, 1)
    L, T = jnp.asarray(geom.train_factor), jnp.asarray(geom.test_factor)
    noise_sd, gamma = jnp.asarray(0.1**0.5), jnp.asarray(0.01)
    dev = jax.devices()[0]
    print(f"n0={n0} n1={n1} m={m} relu, 2 trainings + exact test statistics (OOD and ID); "
          f"JAX {jax.__version__} on {dev.platform} ({dev.device_kind}), numpy {np.__version__}")

    def run_jax(i: int) -> float:
        keys = jax.random.PRNGKey(i)[None, None]
        t = time.perf_counter()
        out = simulator.run_batch(keys, L, T, noise_sd, gamma, cfg)
        jax.block_until_ready(out)
        return time.perf_counter() - t

    t_compile = run_jax(0)
    print(f"JAX first call (incl. compile): {t_compile:.2f} s")
    if args.no_numpy:
        t_jax = statistics.median(run_jax(i + 1) for i in range(args.repeat))
        print(f"JAX   (jit, after warm-up): {t_jax:.3f} s per trial")
        return 0

    def run_numpy(i: int) -> float:
        rng = np.random.default_rng(i)
        t = time.perf_counter()
        beta = rng.standard_normal(n0)
        W = rng.standard_normal((2, n1, n0))
        Z = rng.standard_normal((2, n0, m))
        E = rng.standard_normal((2, m))
        reference.reference_trial(beta, W, Z, E, geom.train_factor, geom.test_factor, 0.1**0.5, 0.01,
                                  design.idx, "relu")
        return time.perf_counter() - t

    # interleave the two so that both see the same machine load
    n_np = args.numpy_repeat or args.repeat
    t_j, t_n = [], []
    for i in range(max(args.repeat, n_np)):
        if i < args.repeat:
            t_j.append(run_jax(i + 1))
        if i < n_np:
            t_n.append(run_numpy(i))
    t_jax, t_np = statistics.median(t_j), statistics.median(t_n)
    print(f"JAX   (jit, after warm-up): {t_jax:.3f} s per trial (runs: {', '.join(f'{t:.2f}' for t in t_j)})")
    print(f"NumPy (float64, same trial): {t_np:.3f} s per trial (runs: {', '.join(f'{t:.2f}' for t in t_n)})")
    print(f"ratio JAX/NumPy = {t_jax / t_np:.3f}  (target <= 1.0 on CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
