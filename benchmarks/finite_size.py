"""Finite-size mode benchmark: cost of one W draw and its scaling, against a direct Monte Carlo trial.

For n0 = n1/2 and m = n1 (ReLU by default, Σ a 1/k power law, Σ* its reversal, γ = 0.01), times

* ``draw``: one W draw of :func:`rfshift.finite_size` (moments under Σ and Σ*, eigendecomposition of Φ,
  κ, OOD and ID errors) plus its share of the pair terms for the W-averaged bias (one cross kernel per
  law), i.e. the cost per draw of ``finite_size(..., draws=D)``, split into phases;
* ``MC trial`` (the baseline a user would write without rfshift): one trial of the finite model at the
  same sizes with the exact test expectation (``tests/_numpy_sim.py``: sample X, train, exact E_x).
  One trial gives one noisy sample of the error (W and X random); a finite-size draw gives the
  X-averaged deterministic equivalent for its W (docs/validation.md §9.5 compares their s.e.).

``--backend jax`` instead times the same draw with ``backend="jax"`` (jax.numpy, float64, on JAX's
default device: the GPU when there is one) against ``backend="numpy"`` in the same process, on the same
W, and prints the ratio jax/numpy per draw and the relative difference of the two draws' errors. JAX
compiles each operation on first use at each shape: one untimed warm-up draw per size precedes the
timed ones. NumPy's BLAS is limited to ``--threads``; JAX on the CPU uses its own thread pool (all
cores), so on a CPU the ratio compares two CPU libraries, not a GPU.

Both run in this process after a warm-up; each time is the minimum over ``--repeats`` (default 3) runs,
the least disturbed by other processes. Prints a table and the fitted scaling exponents t ∝ n1^a.

    PYTHONPATH=$PWD python benchmarks/finite_size.py [--sizes 500,1000,2000] [--threads 2]
    PYTHONPATH=$PWD python benchmarks/finite_size.py --backend jax [--activation tanh]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import rfshift as rf
from rfshift.activations import get_activation

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

FS = sys.modules["rfshift.finite_size"]

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # e.g. a bare GPU machine (benchmarks/gpu_check.sh): BLAS keeps its own default
    import contextlib

    def threadpool_limits(n):  # type: ignore[no-redef]
        print(f"(threadpoolctl not installed: --threads {n} not applied)")
        return contextlib.nullcontext()


def _sync(x):
    """Wait for a JAX computation (no-op for NumPy), so that the timer measures it."""
    return x.block_until_ready() if hasattr(x, "block_until_ready") else x


def one_draw(S, Ss, n1, m, gamma, noise_var, seed, *, backend="numpy", activation="relu"
             ) -> tuple[dict[str, float], float]:
    """Time one draw (+ its pair terms) with ``backend``; returns (phase times, OOD error)."""
    xp = FS._namespace(backend)
    act = get_activation(activation)
    train, test = FS._GaussianLaw(S, act, xp), FS._GaussianLaw(Ss, act, xp)
    n0 = S.shape[0]
    t = {}
    t0 = time.perf_counter()
    W = np.random.default_rng(seed).standard_normal((n1, n0))
    if xp is not np:
        W = _sync(xp.asarray(W))  # the transfer is part of a draw's cost, as in finite_size
    laws = (test, train)
    out, _kappa, _, states = FS._draw(train, laws, W, m, n1, gamma, noise_var, FS._linear_target(None, laws))
    t["draw"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for law, st in zip((test, train), states, strict=True):
        FS._pair(law, st, st)  # same cost as a pair of independent draws
    t["pairs"] = time.perf_counter() - t0
    # phase split of the draw: moments and the eigendecomposition
    t0 = time.perf_counter()
    st = train.prepare(W)
    Phi, _ = train.second(st, st, same=True)
    _sync(Phi)
    t["moments (Σ)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _sync(xp.linalg.eigh(Phi)[0])
    t["eigh"] = time.perf_counter() - t0
    return t, sum(out[0])


def mc_trial(S, Ss, n1, m, gamma, noise_var, seed, activation="relu") -> float:
    from _numpy_sim import _sqrt_psd, _trial_errors

    rng = np.random.default_rng(seed)
    half = _sqrt_psd(S)
    t0 = time.perf_counter()
    _trial_errors(rng, activation, half, S, Ss, n1, m, gamma, noise_var)
    return time.perf_counter() - t0


def _problem(n1: int):
    n0, m = n1 // 2, n1
    lam = np.arange(1, n0 + 1, dtype=float) ** -1.0
    lam /= lam.mean()
    return n0, m, np.diag(lam), np.diag(lam[::-1])


def _exponents(rows, series) -> None:
    if len(rows) >= 2:
        x = np.log([r[1] for r in rows])
        for name, y in series:
            a = np.polyfit(x, np.log(y), 1)[0]
            print(f"scaling exponent ({name}): t ∝ n1^{a:.2f}")


def _vs_mc(args, sizes) -> None:
    rows = []
    with threadpool_limits(args.threads):
        for n1 in sizes:
            n0, m, S, Ss = _problem(n1)
            runs = [one_draw(S, Ss, n1, m, 0.01, 0.1, r, activation=args.activation)
                    for r in range(args.repeats)]
            t = {k: min(r[0][k] for r in runs) for k in runs[0][0]}  # min over repeats: least contention
            t_mc = min(mc_trial(S, Ss, n1, m, 0.01, 0.1, r, args.activation) for r in range(args.repeats))
            rows.append((n0, n1, m, t, t_mc))
            print(f"n0={n0} n1={n1} m={m}: draw {t['draw']:.2f}s (moments {t['moments (Σ)']:.2f}s, eigh "
                  f"{t['eigh']:.2f}s) + pairs {t['pairs']:.2f}s; MC trial {t_mc:.2f}s", flush=True)
    print()
    print("| n0 | n1 | m | finite-size draw + pairs (s) | of which eigh (s) | MC trial (s) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for n0, n1, m, t, t_mc in rows:
        tot = t["draw"] + t["pairs"]
        print(f"| {n0} | {n1} | {m} | {tot:.2f} | {t['eigh']:.2f} | {t_mc:.2f} | {tot / t_mc:.2f} |")
    _exponents(rows, (("finite-size draw", [r[3]["draw"] + r[3]["pairs"] for r in rows]),
                      ("MC trial", [r[4] for r in rows])))


def _vs_numpy(args, sizes) -> None:
    jnp = FS._namespace("jax")
    import jax

    dev = jax.devices()[0]
    print(f"JAX {jax.__version__} on {dev.platform} ({dev.device_kind}), x64 {jnp.zeros(1).dtype}; "
          f"numpy {np.__version__} with {args.threads} BLAS threads; activation {args.activation}")
    rows = []
    for n1 in sizes:
        n0, m, S, Ss = _problem(n1)
        one_draw(S, Ss, n1, m, 0.01, 0.1, 0, backend="jax", activation=args.activation)  # compile
        tj, tn = [], []
        for r in range(args.repeats):  # interleaved, so that both see the same machine load
            tj.append(one_draw(S, Ss, n1, m, 0.01, 0.1, r, backend="jax", activation=args.activation))
            with threadpool_limits(args.threads):
                tn.append(one_draw(S, Ss, n1, m, 0.01, 0.1, r, activation=args.activation))
        best = [{k: min(r[0][k] for r in runs) for k in runs[0][0]} for runs in (tj, tn)]
        diff = max(abs(a[1] - b[1]) / abs(b[1]) for a, b in zip(tj, tn, strict=True))
        rows.append((n0, n1, m, *best, diff))
        j, n = best
        print(f"n0={n0} n1={n1}: jax {j['draw'] + j['pairs']:.3f}s (eigh {j['eigh']:.3f}s), numpy "
              f"{n['draw'] + n['pairs']:.3f}s (eigh {n['eigh']:.3f}s); errors differ by {diff:.1e}",
              flush=True)
    print()
    print("| n0 | n1 | m | numpy draw + pairs (s) | jax draw + pairs (s) | ratio jax/numpy | eigh numpy (s) "
          "| eigh jax (s) | max rel. diff of errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n0, n1, m, j, n, diff in rows:
        tj, tn = j["draw"] + j["pairs"], n["draw"] + n["pairs"]
        print(f"| {n0} | {n1} | {m} | {tn:.3f} | {tj:.3f} | {tj / tn:.2f} | {n['eigh']:.3f} "
              f"| {j['eigh']:.3f} | {diff:.1e} |")
    _exponents(rows, (("numpy draw", [r[4]["draw"] + r[4]["pairs"] for r in rows]),
                      ("jax draw", [r[3]["draw"] + r[3]["pairs"] for r in rows])))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,1000,2000", help="n1 values (n0 = n1/2, m = n1)")
    ap.add_argument("--threads", type=int, default=2, help="NumPy BLAS threads")
    ap.add_argument("--repeats", type=int, default=3, help="timings are the minimum over repeats")
    ap.add_argument("--backend", choices=("numpy", "jax"), default="numpy",
                    help="numpy: draw vs a Monte Carlo trial; jax: backend='jax' vs 'numpy' per draw")
    ap.add_argument("--activation", default="relu", help="relu (closed form) or e.g. tanh (Mehler series)")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    lam = np.linspace(0.5, 1.5, 20)
    one_draw(np.diag(lam), np.diag(lam), 40, 40, 0.01, 0.1, 0, activation=args.activation)  # warm-up
    if args.backend == "jax":
        _vs_numpy(args, sizes)
    else:
        _vs_mc(args, sizes)
    print(f"BLAS threads: {args.threads}; rfshift {rf.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
