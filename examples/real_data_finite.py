"""Real data three ways: the limit, the finite-size mode with Gaussian moments, and from the samples.

Same experiment as ``examples/real_data.py`` (grayscale 8×8 patches, DC removed; train and ID test on
china.jpg, OOD test on flower.jpg; y = βᵀx/√n0 + ε; RF ridge actually trained on m patches with n1
features, mean ± s.e. over seeds), compared with three predictions:

* ``limit``: :func:`rfshift.asymptotics` on ``Spectrum.from_samples(train pool, OOD pool)``;
* ``finite (Gaussian)``: :func:`rfshift.finite_size` with the pools' covariances at the actual
  (n0, m, n1) — Gaussian inputs with the patch covariances;
* ``finite (samples)``: :func:`rfshift.finite_size.from_samples` with the pools themselves (the feature
  moments are the empirical moments of the patches given W, so the patches' non-Gaussian second-order
  structure — norms that vary by two orders of magnitude — enters).

The sampling error of ``finite (samples)`` (its moments come from a finite pool) is measured by
re-running it on the two disjoint halves of every pool with the same W draws: ``samples_split`` is
|half A − half B|/2, an estimate of the s.d. of the full-pool value (the two halves differ by √2 the
half-pool s.d., which is √2 the full-pool s.d.).

Run: ``PYTHONPATH=$PWD python examples/real_data_finite.py`` (``--quick`` for a smoke run). Writes
``examples/output/real_data_finite.csv`` and prints a Markdown table (docs/validation.md).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import rfshift as rf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_data import ACTIVATIONS, OUT, patch_pools, rf_ridge_error, scale_inputs

MODES = ("raw", "normalised", "gaussian")


def run(args: argparse.Namespace) -> list[dict]:
    rng = np.random.default_rng(args.seed)
    n0 = args.patch**2
    m, n1 = round(n0 / args.phi), round(n0 / args.psi)
    pools_raw = patch_pools(args, rng)
    rows = []
    for mode in MODES:
        pools = scale_inputs(pools_raw, mode, rng)
        spec = rf.Spectrum.from_samples(pools["train"], pools["ood"])
        Ca, Cb = np.cov(pools["train"], rowvar=False), np.cov(pools["ood"], rowvar=False)
        for act_name, act in ACTIVATIONS.items():
            kw = dict(n1=n1, gamma=args.gamma, noise_var=args.noise_var, activation=act_name,
                      draws=args.draws, seed=1)
            with warnings.catch_warnings():  # the warning is expected here: r_eff ≈ 20
                warnings.simplefilter("ignore", rf.ConcentrationWarning)
                lim = rf.asymptotics(spec, phi=args.phi, psi=args.psi, gamma=args.gamma,
                                     noise_var=args.noise_var, activation=act_name)
            t0 = time.perf_counter()
            fg = rf.finite_size(Ca, Cb, m=m, **kw)
            t_g = time.perf_counter() - t0
            t0 = time.perf_counter()
            fsamp = rf.finite_size.from_samples(pools["train"], pools["ood"], m=m, **kw)
            t_s = time.perf_counter() - t0
            h = args.pool // 2
            half_a = rf.finite_size.from_samples(pools["train"][:h], pools["ood"][:h], m=m, **kw)
            half_b = rf.finite_size.from_samples(pools["train"][h:], pools["ood"][h:], m=m, **kw)
            errs = {"id": [], "ood": []}
            for _ in range(args.seeds):
                sub = rng.choice(args.pool, size=m, replace=False)
                te = {k: pools[k][rng.choice(args.pool, size=args.n_test, replace=False)]
                      for k in ("id", "ood")}
                e = rf_ridge_error(pools["train"][sub], te, act, n1, args.gamma, args.noise_var, rng)
                for k in errs:
                    errs[k].append(e[k])
            for side, lv, gv, gse, sv, sse, ha, hb in (
                ("ID", float(lim.error_id), fg.error_id, fg.error_id_se, fsamp.error_id,
                 fsamp.error_id_se, half_a.error_id, half_b.error_id),
                ("OOD", float(lim.error), fg.error, fg.error_se, fsamp.error, fsamp.error_se,
                 half_a.error, half_b.error),
            ):
                a = np.asarray(errs[side.lower()])
                mean, se = float(a.mean()), float(a.std(ddof=1) / np.sqrt(a.size))
                rows.append(dict(inputs=mode, activation=act_name, test=side, n0=n0, m=m, n1=n1,
                                 experiment=mean, se=se, limit=lv, finite_gauss=gv, finite_gauss_se=gse,
                                 finite_samples=sv, finite_samples_se=sse, samples_split=abs(ha - hb) / 2,
                                 gap_limit=(lv - mean) / mean, gap_gauss=(gv - mean) / mean,
                                 gap_samples=(sv - mean) / mean, t_gauss=t_g, t_samples=t_s))
            r = rows[-1]
            print(f"{mode:<11}{act_name:<5} OOD exp {r['experiment']:.4f}±{r['se']:.4f} "
                  f"limit {r['limit']:.4f} gauss {r['finite_gauss']:.4f} samples {r['finite_samples']:.4f} "
                  f"({t_g:.0f}s, {t_s:.0f}s)", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patch", type=int, default=8)
    ap.add_argument("--phi", type=float, default=0.25)
    ap.add_argument("--psi", type=float, default=0.125)
    ap.add_argument("--gamma", type=float, default=0.01)
    ap.add_argument("--noise-var", type=float, default=0.1, dest="noise_var")
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--pool", type=int, default=20000)
    ap.add_argument("--n-test", type=int, default=4000, dest="n_test")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.pool, args.n_test, args.draws = 4, 4000, 1000, 3
    t0 = time.perf_counter()
    rows = run(args)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "real_data_finite.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("| inputs | σ | test | experiment ± s.e. | limit (gap) | finite, Gaussian moments (gap) "
          "| finite, from samples (gap) | sampling s.d. of the last |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['inputs']} | {r['activation']} | {r['test']} | {r['experiment']:.4f} ± {r['se']:.4f} "
              f"| {r['limit']:.4f} ({100 * r['gap_limit']:+.1f}%) "
              f"| {r['finite_gauss']:.4f} ± {r['finite_gauss_se']:.4f} ({100 * r['gap_gauss']:+.1f}%) "
              f"| {r['finite_samples']:.4f} ± {r['finite_samples_se']:.4f} ({100 * r['gap_samples']:+.1f}%) "
              f"| {r['samples_split']:.4f} |")
    print(f"wrote {path} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
