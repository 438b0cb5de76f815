"""Monte Carlo (JAX, finite n0) vs theory for the quantities of issues 9 and 11: z-score table.

Issue 9 (structured targets β ~ N(0, B) and a single-index teacher) and issue 11 (the three
disagreements, K-ensemble errors, training error, df/m and GCV), each on several configurations
(ReLU / erf / tanh / linear, ridge and ridgeless, under- and over-parameterised, a non-commuting Σ*).
Every configuration is simulated by ``rfshift.montecarlo.simulate`` at the given n0 and compared
with ``rf.asymptotics`` at the realised spectrum and ratios; z = (MC − theory)/s.e.

    PYTHONPATH=$PWD python benchmarks/mc_new_quantities.py [--n0 256] [--trials 24] [--seed 0]
        [--only targets|extras] [--exact-beta] [--extrapolate] [--csv out.csv]

Prints a Markdown table (case, quantity, theory, MC ± s.e., z) and the max |z| per group. Needs
JAX and an engine with ``Spectrum(target_power=)``/``teacher=`` (targets) and ``res.disagreement``,
``res.ensemble``, ``res.training_error``, ``res.gcv``, ``res.degrees_of_freedom`` (extras).
Cases are seeded 1000·seed + k independently. ``--exact-beta``: average exactly over β and ε
where the activation has a closed-form kernel (smaller s.e.; the O(1/n0) finite-size gap shows
sooner). ``--extrapolate``: simulate at n0 and 2·n0 (independent seeds) and remove the O(1/n0)
finite-size term by Richardson extrapolation of the gap g = MC − theory (each against the theory at
its own realised spectrum): g∞ = 2 g(2n0) − g(n0), s.e. √(4 s.e.(2n0)² + s.e.(n0)²), z∞ = g∞/s.e.
(as tests/test_engine.py does). CPU: a few minutes at n0 = 256 on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np


def _dense_rotated(n0: int, target: bool):
    half = n0 // 2
    lam = np.r_[np.full(half, 1.5), np.full(n0 - half, 0.5)]
    lam_star = np.r_[np.full(half, 0.5), np.full(n0 - half, 1.5)]
    rng = np.random.default_rng(12345)
    Q, R = np.linalg.qr(rng.standard_normal((n0, n0)))
    Q = Q * np.sign(np.diag(R))[None, :]
    S, S_star = np.diag(lam), (Q * lam_star[None, :]) @ Q.T
    if target:
        return S, S_star, np.diag(np.r_[np.full(half, 2.0), np.full(n0 - half, 0.5)])
    return S, S_star


@dataclass(frozen=True)
class Config:
    name: str
    group: str  # "targets" or "extras"
    spec: object  # callable n0 -> Spectrum | tuple
    kw: dict = field(default_factory=dict)


def configs():
    import rfshift as rf

    swap = lambda n0: rf.Spectrum([1.5, 0.5], [0.5, 1.5])  # noqa: E731
    under = lambda n0: rf.Spectrum([3, 0.5], [1, 2], [0.2, 0.8])  # noqa: E731
    three = lambda n0: rf.Spectrum([2, 1, 0.25], [0.5, 1, 1.5], [0.25, 0.5, 0.25])  # noqa: E731
    ext = dict(disagreement=True, ensemble=[2, math.inf], training_error=True)
    return [
        # issue 9: targets
        Config("relu b on small dirs, ridge, over", "targets", swap,
               dict(activation="relu", phi=0.5, psi=0.25, gamma=0.01, noise_var=0.25,
                    target_power=[0.2, 3.0])),
        Config("relu b on large dirs, ridge, over", "targets", swap,
               dict(activation="relu", phi=0.5, psi=0.25, gamma=0.01, noise_var=0.25,
                    target_power=[3.0, 0.2])),
        Config("erf shift onto b=0, ridge, over", "targets",
               lambda n0: rf.Spectrum([2, 1, 0.5], [0.5, 1, 2]),
               dict(activation="erf", phi=0.8, psi=0.4, gamma=0.05, noise_var=0.1,
                    target_power=[1.5, 1.0, 0.0])),
        Config("tanh b, ridgeless, over", "targets", lambda n0: rf.Spectrum([2, 0.5], [1, 1.5]),
               dict(activation="tanh", phi=1.0, psi=0.3, gamma=0.0, noise_var=0.2,
                    target_power=[2.0, 0.5])),
        Config("linear b, ridge, under", "targets", lambda n0: rf.Spectrum([2, 0.5], [1, 1]),
               dict(activation="linear", phi=0.7, psi=1.4, gamma=0.1, noise_var=0.2,
                    target_power=[2.0, 0.5])),
        Config("relu b, ridgeless, under", "targets", under,
               dict(activation="relu", phi=0.5, psi=1.0, gamma=0.0, noise_var=0.1,
                    target_power=[0.5, 2.0])),
        Config("relu dense rotated Σ*, B", "targets", lambda n0: _dense_rotated(min(n0, 1024), True),
               dict(activation="relu", phi=0.5, psi=1.0, gamma=0.1, noise_var=0.1)),
        Config("relu + tanh teacher, ridge, under", "targets", swap,
               dict(activation="relu", phi=0.5, psi=1.0, gamma=0.05, noise_var=0.1, target_power=[1.5, 0.5],
                    teacher="tanh")),
        Config("erf + erf teacher, ridge, over", "targets", three,
               dict(activation="erf", phi=1.0, psi=0.5, gamma=0.02, noise_var=0.1, teacher="erf")),
        # issue 11: disagreement, ensembles, training error
        Config("relu ridge over", "extras", swap,
               dict(activation="relu", phi=0.5, psi=0.25, gamma=0.01, noise_var=0.25, **ext)),
        Config("relu ridgeless under", "extras", under,
               dict(activation="relu", phi=0.5, psi=1.0, gamma=0.0, noise_var=0.1, **ext)),
        Config("erf ridge under (tr Σ* = 2 tr Σ)", "extras", lambda n0: rf.Spectrum([1.0], [2.0]),
               dict(activation="erf", phi=0.8, psi=1.6, gamma=0.05, noise_var=0.1, **ext)),
        Config("erf ridgeless over", "extras", swap,
               dict(activation="erf", phi=1.0, psi=0.4, gamma=0.0, noise_var=0.2, **ext)),
        Config("tanh ridge over", "extras", three,
               dict(activation="tanh", phi=1.0, psi=0.3, gamma=0.02, noise_var=0.2, **ext)),
        Config("tanh ridgeless under", "extras", three,
               dict(activation="tanh", phi=0.5, psi=1.0, gamma=0.0, noise_var=0.1, **ext)),
        Config("relu dense rotated Σ*, ridge", "extras", lambda n0: _dense_rotated(min(n0, 1024), False),
               dict(activation="relu", phi=0.5, psi=1.0, gamma=0.1, noise_var=0.1, **ext)),
    ]


def run(n0: int, trials: int, seed: int, only: str | None, exact_beta: bool = False) -> list[dict]:
    import rfshift as rf
    from rfshift import montecarlo as mc
    from rfshift.montecarlo.driver import theory_values

    rows = []
    for k, cfg in enumerate(configs()):
        if only and cfg.group != only:
            continue
        spec = cfg.spec(n0)
        t0 = time.perf_counter()
        eb = exact_beta and cfg.kw["activation"] in ("relu", "erf", "linear", "leaky_relu")
        est = mc.simulate(spec, n0=n0 if isinstance(spec, rf.Spectrum) else None, trials=trials,
                          seed=1000 * seed + k, exact_beta=eb, **cfg.kw)
        th = est.theory()
        vals = {q: (float(getattr(th, q)), getattr(est, q), getattr(est, q + "_se"))
                for q in ("error", "error_id", "bias", "variance")}
        vals.update(theory_values(est, th))
        for q, (t, m, s) in vals.items():
            z = (m - t) / s if s > 0 else (0.0 if m == t else math.inf)
            rows.append(dict(group=cfg.group, case=cfg.name, n0=est.n0, trials=trials, quantity=q,
                             theory=t, mc=m, se=s, z=z))
        print(f"  {cfg.name}: n0={est.n0}, {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return rows


def extrapolate(rows_a: list[dict], rows_b: list[dict]) -> list[dict]:
    """Richardson-extrapolated gaps from rows at n0 (a) and 2·n0 (b) (same cases and quantities)."""
    by_key = {(r["case"], r["quantity"]): r for r in rows_a}
    out = []
    for rb in rows_b:
        ra = by_key.get((rb["case"], rb["quantity"]))
        if ra is None:
            continue
        ga, gb = ra["mc"] - ra["theory"], rb["mc"] - rb["theory"]
        g = 2 * gb - ga
        se = math.hypot(2 * rb["se"], ra["se"])
        z = g / se if se > 0 else (0.0 if g == 0 else math.inf)
        out.append(dict(group=rb["group"], case=rb["case"], n0=f"{ra['n0']}/{rb['n0']}", trials=rb["trials"],
                        quantity=rb["quantity"], theory=rb["theory"], gap_a=ga, se_a=ra["se"], gap_b=gb,
                        se_b=rb["se"], mc=rb["theory"] + g, se=se, z=z))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n0", type=int, default=256)
    p.add_argument("--trials", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["targets", "extras"], default=None)
    p.add_argument("--exact-beta", action="store_true", help="exact average over β and ε where possible")
    p.add_argument("--extrapolate", action="store_true", help="n0 and 2·n0, Richardson-extrapolated gaps")
    p.add_argument("--csv", default=None, help="also write the rows to this CSV file")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    rows = run(args.n0, args.trials, args.seed, args.only, args.exact_beta)
    if args.extrapolate:
        rows = extrapolate(rows, run(2 * args.n0, args.trials, args.seed + 1, args.only, args.exact_beta))
        print("| group | case | n0 | quantity | theory | gap(n0) ± s.e. | gap(2n0) ± s.e. | "
              "extrapolated gap ± s.e. | z∞ |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['group']} | {r['case']} | {r['n0']} | {r['quantity']} | {r['theory']:.5f} | "
                  f"{r['gap_a']:+.5f} ± {r['se_a']:.5f} | {r['gap_b']:+.5f} ± {r['se_b']:.5f} | "
                  f"{r['mc'] - r['theory']:+.5f} ± {r['se']:.5f} | {r['z']:+.2f} |")
    else:
        print("| group | case | n0 | quantity | theory | MC ± s.e. | z |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['group']} | {r['case']} | {r['n0']} | {r['quantity']} | {r['theory']:.5f} | "
                  f"{r['mc']:.5f} ± {r['se']:.5f} | {r['z']:+.2f} |")
    for g in sorted({r["group"] for r in rows}):
        sel = [r for r in rows if r["group"] == g]
        worst = max(sel, key=lambda r: abs(r["z"]))
        n_cases = len({r["case"] for r in sel})
        print(f"\n{g}: {n_cases} configurations, {len(sel)} comparisons, max |z| = {abs(worst['z']):.2f} "
              f"({worst['case']}, {worst['quantity']}), {sum(abs(r['z']) > 3.5 for r in sel)} with |z| > 3.5")
    print(f"total {time.perf_counter() - t0:.0f} s (trials={args.trials}, seed={args.seed}, "
          f"exact_beta={args.exact_beta}, extrapolate={args.extrapolate})")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
