"""Generalized equivalent with nonlinear targets against Monte Carlo of the finite model.

Small concentrated configurations (steep power-law spectra, r_eff ≈ 5–7) with a single-index teacher
(tanh, erf) or a number-valued nonlinear part. For each: the Monte Carlo of the finite model
(``tests/_numpy_sim.simulate_full``: W, X and, for a teacher, β sampled; x and ε integrated exactly;
a number-valued nonlinear part is label noise on the training labels plus σ_g*² at test, the
convention of docs/theory.md §20.1) and :func:`rfshift.finite_size` with ``equivalent="gaussian"``
and ``equivalent="generalized"`` at the same sizes; z = (equivalent − MC)/combined s.e.

Run from the repository root (a few minutes on one core)::

    PYTHONPATH=$PWD python examples/finite_size_generalized_targets.py [--trials T] [--draws D] [--pool N]

Prints a Markdown table (pasted into docs/validation.md §9.10). Errors exclude test-label noise.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

import rfshift as rf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def power(n0: int, a: float) -> np.ndarray:
    lam = np.arange(1, n0 + 1, dtype=float) ** -a
    return lam / lam.mean()


def cases() -> list[dict]:
    steep = power(32, 1.5)
    heavy = power(48, 1.2)
    return [
        dict(name="ridgeless under-param., erf student, tanh teacher", S=np.diag(steep), Ss=np.eye(32),
             act="erf", teacher="tanh", m=128, n1=64, gamma=0.0, noise_var=0.2),
        dict(name="heavy-tailed shift, erf student, erf teacher", S=np.diag(heavy), Ss=np.diag(heavy[::-1]),
             act="erf", teacher="erf", m=96, n1=48, gamma=0.01, noise_var=0.1),
        dict(name="ridgeless under-param., erf, nonlinear_var 0.1 / test 0.2", S=np.diag(steep),
             Ss=np.eye(32), act="erf", teacher=None, m=128, n1=64, gamma=0.0, noise_var=0.2,
             nl=0.1, nl_test=0.2),
        dict(name="ridgeless over-param., ReLU student, tanh teacher", S=np.diag(steep),
             Ss=np.diag(steep[::-1]), act="relu", teacher="tanh", m=48, n1=128, gamma=0.0, noise_var=0.1),
    ]


def main(argv: list[str] | None = None) -> int:
    from _numpy_sim import simulate_full

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=600)
    ap.add_argument("--draws", type=int, default=120)
    ap.add_argument("--pool", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", type=str, default="")
    args = ap.parse_args(argv)
    rows = []
    only = {int(k) for k in args.only.split(",") if k}
    for i, c in enumerate(cases()):
        if only and i not in only:
            continue
        n0 = c["S"].shape[0]
        nl, nl_test = c.get("nl", 0.0), c.get("nl_test", 0.0)
        t0 = time.time()
        mc = simulate_full(c["act"], c["S"], c["Ss"], phi=n0 / c["m"], psi=n0 / c["n1"], gamma=c["gamma"],
                           noise_var=c["noise_var"] + nl, trials=args.trials, seed=args.seed,
                           teacher=c["teacher"], n_ens=1, ks=(1,))
        t_mc = time.time() - t0
        res, secs = {}, {}
        for eq in ("gaussian", "generalized"):
            t0 = time.time()
            res[eq] = rf.finite_size(c["S"], c["Ss"], m=c["m"], n1=c["n1"], gamma=c["gamma"],
                                     noise_var=c["noise_var"], activation=c["act"], draws=args.draws,
                                     seed=args.seed, teacher=c["teacher"], nonlinear_var=nl,
                                     nonlinear_var_test=nl_test, equivalent=eq,
                                     **({"pool": args.pool} if eq == "generalized" else {}))
            secs[eq] = time.time() - t0
        for sfx, test, extra in (("", "OOD", nl_test), ("_id", "ID", nl)):
            x = mc.samples["error" + sfx] + extra
            m_, s_ = float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))
            row = [c["name"] if sfx == "" else "", test, f"{m_:.5f} ± {s_:.5f}"]
            for eq in ("gaussian", "generalized"):
                v, se = getattr(res[eq], "error" + sfx), getattr(res[eq], "error" + sfx + "_se")
                z = (v - m_) / math.hypot(se, s_)
                row.append(f"{v:.5f} ± {se:.5f} ({100 * (v - m_) / m_:+.2f}%, z = {z:+.1f})")
            rows.append(row)
        print(f"{c['name']}: MC {t_mc:.0f}s ({args.trials} trials), gaussian {secs['gaussian']:.1f}s, "
              f"generalized {secs['generalized']:.1f}s ({args.draws} draws, pool {args.pool})", flush=True)
    print("\n| case | test | MC ± s.e. | gaussian ± s.e. (gap, z) | generalized ± s.e. (gap, z) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
