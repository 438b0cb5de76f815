"""Finite-size mode benchmark: cost of one W draw and its scaling, against a direct Monte Carlo trial.

For n0 = n1/2 and m = n1 (ReLU, Σ a 1/k power law, Σ* its reversal, γ = 0.01), times

* ``draw``: one W draw of :func:`rfshift.finite_size` (moments under Σ and Σ*, eigendecomposition of Φ,
  κ, OOD and ID errors) plus its share of the pair terms for the W-averaged bias (one cross kernel per
  law), i.e. the cost per draw of ``finite_size(..., draws=D)``, split into phases;
* ``MC trial`` (the baseline a user would write without rfshift): one trial of the finite model at the
  same sizes with the exact test expectation (``tests/_numpy_sim.py``: sample X, train, exact E_x).
  One trial gives one noisy sample of the error (W and X random); a finite-size draw gives the
  X-averaged deterministic equivalent for its W (docs/validation.md §9.5 compares their s.e.).

Both run in this process with BLAS limited to ``--threads`` (default 2), after a warm-up; each time is
the minimum over ``--repeats`` (default 3) runs, the least disturbed by other processes. Prints a
table and the fitted scaling exponents t ∝ n1^a.

    PYTHONPATH=$PWD python benchmarks/finite_size.py [--sizes 500,1000,2000] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import rfshift as rf
from rfshift.activations import get_activation

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

FS = sys.modules["rfshift.finite_size"]


def one_draw(S, Ss, n1, m, gamma, noise_var, seed) -> tuple[dict[str, float], float]:
    act = get_activation("relu")
    train, test = FS._GaussianLaw(S, act), FS._GaussianLaw(Ss, act)
    n0 = S.shape[0]
    W = np.random.default_rng(seed).standard_normal((n1, n0))
    t = {}
    t0 = time.perf_counter()
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
    t["moments (Σ)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    np.linalg.eigh(Phi)
    t["eigh"] = time.perf_counter() - t0
    return t, sum(out[0])


def mc_trial(S, Ss, n1, m, gamma, noise_var, seed) -> float:
    from _numpy_sim import _sqrt_psd, _trial_errors

    rng = np.random.default_rng(seed)
    half = _sqrt_psd(S)
    t0 = time.perf_counter()
    _trial_errors(rng, "relu", half, S, Ss, n1, m, gamma, noise_var)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500,1000,2000", help="n1 values (n0 = n1/2, m = n1)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="timings are the minimum over repeats")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    lam = np.linspace(0.5, 1.5, 20)
    one_draw(np.diag(lam), np.diag(lam), 40, 40, 0.01, 0.1, 0)  # warm-up: first-call imports
    with threadpool_limits(args.threads):
        for n1 in sizes:
            n0, m = n1 // 2, n1
            lam = np.arange(1, n0 + 1, dtype=float) ** -1.0
            lam /= lam.mean()
            S, Ss = np.diag(lam), np.diag(lam[::-1])
            runs = [one_draw(S, Ss, n1, m, 0.01, 0.1, r) for r in range(args.repeats)]
            t = {k: min(r[0][k] for r in runs) for k in runs[0][0]}  # min over repeats: least contention
            err = runs[0][1]
            t_mc = min(mc_trial(S, Ss, n1, m, 0.01, 0.1, r) for r in range(args.repeats))
            rows.append((n0, n1, m, t, t_mc, err))
            print(f"n0={n0} n1={n1} m={m}: draw {t['draw']:.2f}s (moments {t['moments (Σ)']:.2f}s, eigh "
                  f"{t['eigh']:.2f}s) + pairs {t['pairs']:.2f}s; MC trial {t_mc:.2f}s", flush=True)
    print()
    print("| n0 | n1 | m | finite-size draw + pairs (s) | of which eigh (s) | MC trial (s) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for n0, n1, m, t, t_mc, _ in rows:
        tot = t["draw"] + t["pairs"]
        print(f"| {n0} | {n1} | {m} | {tot:.2f} | {t['eigh']:.2f} | {t_mc:.2f} | {tot / t_mc:.2f} |")
    if len(rows) >= 2:
        x = np.log([r[1] for r in rows])
        for name, y in (("finite-size draw", [r[3]["draw"] + r[3]["pairs"] for r in rows]),
                        ("MC trial", [r[4] for r in rows])):
            a = np.polyfit(x, np.log(y), 1)[0]
            print(f"scaling exponent ({name}): t ∝ n1^{a:.2f}")
    print(f"BLAS threads: {args.threads}; rfshift {rf.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
