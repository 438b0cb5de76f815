"""Generalized (x-dependent) deterministic equivalent at one fixed W, against ridge on the real features.

Research prototype for issue 10 (docs/theory.md §20.2, docs/validation.md §9.9). The finite-size mode
(:func:`rfshift.finite_size`, docs/theory.md §20) uses the Gaussian-covariate-model deterministic
equivalent (DE) given W, which assumes that the quadratic forms f(x)ᵀQ₋f(x)/m concentrate over x. The
*generalized* equivalent keeps their x-dependence (leave-one-out, each input a point mass):

    R = (E_x[D(x) f fᵀ] + κ)^{-1},   D(x) = 1/(ε + f(x)ᵀ R f(x)/m),
    ā = R E_x[D(x) f(x) y(x)],
    E[âᵀ M â] = āᵀ M ā + (1/m) E_x[D(x)² u_M(x) (r(x)² + σ²)],   r = y* − āᵀf,
    u_M(x) = f(x)ᵀ T_M f(x),  T_M = R M R + R E_x[D² (u_M/m) f fᵀ] R,

with (ε, κ) = (1, λ) (λ = n1γ/m the ridge on FFᵀ/m), (1, 0) ridgeless with n1 < m, and (0, 1) ridgeless
with n1 > m (the λ → 0 limit, rescaled). Derivation: docs/theory.md §20.2 (our own, by the
envelope theorem on the training loss with regulariser λ + tM). When D(x) and u(x) are replaced by
constants it is *exactly* the current DE (checked here: ``--check``).

The computation is :mod:`rfshift._generalized` (core): x-expectations are averages over a pool of N
inputs x ~ N(0, Σ) with the exact closed-form Φ, Ψ as control variates, each pool point's own term
removed from what is evaluated at it (leave-one-out), matrix-free (O(iterations · n1² · N)). The pool's
sampling error is measured by repeating with independent pools (``--pools``), or, W-averaged
(``table``), by one fresh pool per W draw.

Usage (repository root)::

    PYTHONPATH=$PWD python examples/finite_size_generalized.py CASE [--trials T] [--pool N] [--pools P]
        [--k K] [--seed S] [--gcm] [--check] [--act ACT]
    PYTHONPATH=$PWD python examples/finite_size_generalized.py table [--only ROWS] [--pool N]
    PYTHONPATH=$PWD python examples/finite_size_generalized.py raw|normalised [--draws D]

CASE: heavy, patch8, patch10, over, under (the six misses of docs/validation.md §9.1) or spiked, iso,
noncomm, n1000 (passing rows). W is the anatomy script's (examples/finite_size_anatomy.py, same seed),
so DE and the real Monte Carlo refer to the same W as docs/validation.md §9.6.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from finite_size_anatomy import CASES as ANATOMY_CASES
from finite_size_anatomy import solve_g, sqrt_psd, test_error, threadpool_limits
from finite_size_validation import power, rotation, spiked

from rfshift import _generalized as gz
from rfshift.activations import get_activation

fsm = importlib.import_module("rfshift.finite_size")

CASES = dict(ANATOMY_CASES)
CASES.update({
    "spiked": lambda: ("spiked erf", np.diag(spiked(200)), np.eye(200), "erf", 400, 200, 0.01, 0.1),
    "iso": lambda: ("isotropic tanh", np.eye(64), 2 * np.eye(64), "tanh", 128, 96, 0.01, 0.1),
    "noncomm": lambda: ("non-commuting tanh", np.diag(power(300, 0.5)),
                        rotation(300, 1) @ np.diag(power(300, 0.5)[::-1]) @ rotation(300, 1).T,
                        "tanh", 600, 450, 0.1, 0.1),
    "n1000": lambda: ("n0=1000 relu", np.diag(power(1000, 1.0)), np.diag(power(1000, 1.0)[::-1]), "relu",
                      1000, 1000, 0.05, 0.1),
})


def generalized(S, laws, W, act, m, n1, gamma, noise_var, pool, rng, constant=False):
    """Generalized equivalent given W (rfshift._generalized) on a fresh pool of ``pool`` inputs
    x ~ N(0, S). ``laws``: list of (Φ_T, Ψ_T, t_T). ``constant=True``: D, u, ρ frozen at their means
    (must equal the current DE). Returns dict(laws=[dict(error, mean, var)], D, iters, delta_cv)."""
    n0 = S.shape[0]
    a = get_activation(act)
    train = fsm._GaussianLaw(S, a)
    st = train.prepare(W)
    Phi, _ = train.second(st, st, True)
    kw = dict(m=m, n1=n1, gamma=gamma, noise_var=noise_var)
    if constant:
        g = gz.constant_draw(Phi, st["Psi"], train.target2(None), laws, **kw)
    else:
        X = sqrt_psd(S) @ rng.standard_normal((n0, pool))  # n0 × N
        with np.errstate(all="ignore"):
            F = np.asarray(a.fn(W @ X / math.sqrt(n0)), dtype=float)  # n1 × N
        g = gz.generalized_draw(Phi, st["Psi"], F, X, laws, **kw)
    eps = gz.regime(m, n1, gamma)[0]
    delta = 1 / g.D - eps
    per_law = [dict(error=e, mean=mu, var=v) for e, mu, v in zip(g.error, g.mean, g.variance, strict=True)]
    return dict(laws=per_law, D=g.D, iters=g.iterations, delta_cv=float(np.std(delta) / np.mean(delta)))


def real_mc(S, laws, W, act, m, gamma, noise_var, trials, rng, gcm=False):
    """Ridge on the real features σ(WX/√n0), X ~ N(0, S), exact test error (anatomy's machinery);
    with ``gcm`` also ridge on exactly Gaussian features with the same moments."""
    n0 = S.shape[0]
    n1 = W.shape[0]
    a = get_activation(act)
    half = sqrt_psd(S)
    mom = [(P, Q) for P, Q, _ in laws]
    tT = [t for _, _, t in laws]
    if gcm:
        train = fsm._GaussianLaw(S, a)
        st = train.prepare(W)
        Phi, _ = train.second(st, st, True)
        J = np.block([[Phi, math.sqrt(n0) * st["Psi"]], [math.sqrt(n0) * st["Psi"].T, S]])
        Jh = sqrt_psd(J)
    real, gaus = [], []
    with threadpool_limits(1):
        for _ in range(trials):
            X = half @ rng.standard_normal((n0, m))
            G = solve_g(a.fn(W @ X / math.sqrt(n0)), gamma)
            real.append([test_error(G, X, P, Q, t, noise_var) for (P, Q), t in zip(mom, tT, strict=True)])
            if gcm:
                Z = Jh @ rng.standard_normal((n1 + n0, m))
                G2 = solve_g(Z[:n1], gamma)
                gaus.append([test_error(G2, Z[n1:], P, Q, t, noise_var)
                             for (P, Q), t in zip(mom, tT, strict=True)])
    return np.array(real), (np.array(gaus) if gcm else None)


def draw_de(S, Ss, act, W, m, n1, gamma, noise_var) -> list[float]:
    """The current DE given W from rfshift.finite_size's private ``_draw`` (OOD, ID), for either of
    its signatures (with or without the target blocks of the nonlinear-targets branch)."""
    a = get_activation(act)
    train, test = fsm._GaussianLaw(S, a), fsm._GaussianLaw(Ss, a)
    laws = (test, train)
    if hasattr(fsm, "_linear_target"):
        out, *_ = fsm._draw(train, laws, W, m, n1, gamma, noise_var, fsm._linear_target(None, laws))
        return [float(sum(o)) for o in out]
    out, *_ = fsm._draw(train, laws, W, m, n1, gamma, noise_var, None, train.target2(None),
                        (test.target2(None), train.target2(None)))
    return [float(o) for o in out]


def setup(case, k, seed, act_override=None):
    name, S, Ss, act, m, n1, gamma, noise_var = CASES[case]()
    if act_override:
        name, act = f"{name} [{act_override}]", act_override
    eye = np.eye(k)
    S, Ss, m, n1 = np.kron(eye, S), np.kron(eye, Ss), k * m, k * n1
    n0 = S.shape[0]
    rng = np.random.default_rng(k + 10 * seed)  # as finite_size_anatomy.run
    W = rng.standard_normal((n1, n0))
    a = get_activation(act)
    laws = []
    for L in (fsm._GaussianLaw(Ss, a), fsm._GaussianLaw(S, a)):  # OOD, ID
        st = L.prepare(W)
        PhiT, _ = L.second(st, st, True)
        laws.append((PhiT, st["Psi"], L.target2(None)))
    return name, S, Ss, act, m, n1, gamma, noise_var, W, laws, rng


def run_table(only: str, pool: int, max_draws: int) -> list[dict]:
    """W-averaged generalized equivalent on the rows of docs/validation.md §9.1, the same W draws as
    ``rf.finite_size(..., seed=i)`` there, one independent pool per draw (so the s.e. over draws
    includes the pool's sampling error); z against the stored Monte Carlo
    (examples/output/finite_size_mode_table.csv)."""
    import csv

    from finite_size_validation import OUT, cases

    with open(OUT / "finite_size_mode_table.csv") as fh:
        stored = {(r["case"], r["test"]): r for r in csv.DictReader(fh)}
    rows = []
    for i, c in enumerate(cases()):
        if only and str(i) not in only.split(","):
            continue
        S, Ss, m, n1 = c["S"], c["Ss"], c["m"], c["n1"]
        n0 = S.shape[0]
        a = get_activation(c["act"])
        tr_, te_ = fsm._GaussianLaw(S, a), fsm._GaussianLaw(Ss, a)
        rng = np.random.default_rng(i)  # as rf.finite_size(seed=i)
        draws = min(c["draws"], max_draws)
        de, ge, t0 = [], [], time.perf_counter()
        for d in range(draws):
            W = rng.standard_normal((n1, n0))
            laws = []
            for L in (te_, tr_):
                st = L.prepare(W)
                PhiT, _ = L.second(st, st, True)
                laws.append((PhiT, st["Psi"], L.target2(None)))
            cst = generalized(S, laws, W, c["act"], m, n1, c["gamma"], c["noise_var"], 0, None, constant=True)
            de.append([x["error"] for x in cst["laws"]])
            g = generalized(S, laws, W, c["act"], m, n1, c["gamma"], c["noise_var"], pool,
                            np.random.default_rng(10_000 + 100 * i + d))
            ge.append([x["error"] for x in g["laws"]])
        de, ge = np.array(de), np.array(ge)
        secs = time.perf_counter() - t0
        for j, side in enumerate(("OOD", "ID")):
            r = stored[(c["name"], side)]
            mc, mcse = float(r["mc"]), float(r["mc_se"])
            dm, ds = de[:, j].mean(), de[:, j].std(ddof=1) / math.sqrt(draws)
            gm, gs = ge[:, j].mean(), ge[:, j].std(ddof=1) / math.sqrt(draws)
            rows.append(dict(case=c["name"], act=c["act"], n0=n0, m=m, n1=n1, gamma=c["gamma"], test=side,
                             mc=mc, mc_se=mcse, de=dm, de_se=ds, z_de=(dm - mc) / math.hypot(ds, mcse),
                             gen=gm, gen_se=gs, z_gen=(gm - mc) / math.hypot(gs, mcse), draws=draws,
                             pool=pool, seconds=secs))
            print(f"[{i}] {c['name']} {side}: MC {mc:.4f}±{mcse:.4f} DE {dm:.4f}±{ds:.4f} "
                  f"(z {rows[-1]['z_de']:+.1f}) gen {gm:.4f}±{gs:.4f} (z {rows[-1]['z_gen']:+.1f}) "
                  f"[{secs:.0f} s]", flush=True)
    return rows


def run_real(mode: str, draws: int) -> None:
    """§9.4's real-patch experiment (examples/real_data_finite.py: same pools, 8×8 patches, m = 256,
    n1 = 512, γ = 0.01, σ² = 0.1, W seed 1) with ``from_samples(..., equivalent="generalized")``,
    against the stored experiment and from-samples DE (examples/output/real_data_finite.csv)."""
    import csv

    from real_data import OUT, load_images, patches, scale_inputs

    import rfshift as rf

    rng = np.random.default_rng(0)  # as real_data_finite.run (the raw/normalised pools use only these)
    imgs = load_images()
    china = patches(imgs["china"], 8, 40000, rng)
    pools_raw = {"train": china[:20000], "id": china[20000:], "ood": patches(imgs["flower"], 8, 20000, rng)}
    pools = scale_inputs(pools_raw, mode, rng)
    with open(OUT / "real_data_finite.csv") as fh:
        exp = {(r["inputs"], r["activation"], r["test"]): r for r in csv.DictReader(fh)}
    for act in ("relu", "erf"):
        t0 = time.perf_counter()
        r = rf.finite_size.from_samples(pools["train"], pools["ood"], m=256, n1=512, gamma=0.01,
                                        noise_var=0.1, activation=act, draws=draws, seed=1,
                                        equivalent="generalized")
        for side, v, se in (("OOD", r.error, r.error_se), ("ID", r.error_id, r.error_id_se)):
            e = exp[(mode, act, side)]
            x, xs, fs = float(e["experiment"]), float(e["se"]), float(e["finite_samples"])
            print(f"{mode} {act} {side}: experiment {x:.4f}±{xs:.4f} | from samples, DE {fs:.4f} "
                  f"({100 * (fs - x) / x:+.1f}%) | generalized {v:.4f}±{se:.4f} ({100 * (v - x) / x:+.1f}%) "
                  f"[{time.perf_counter() - t0:.0f} s]", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=[*sorted(CASES), "table", "raw", "normalised"],
                    help="a fixed-W case, 'table' (W-averaged §9.1 rows), 'raw'/'normalised' (§9.4)")
    ap.add_argument("--only", default="", help="table: comma-separated row indices of §9.1")
    ap.add_argument("--max-draws", type=int, default=12, dest="max_draws")
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--pool", type=int, default=4000)
    ap.add_argument("--pools", type=int, default=2, help="independent pools (pool sampling error)")
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gcm", action="store_true")
    ap.add_argument("--act", default=None, help="override the case's activation")
    ap.add_argument("--check", action="store_true", help="constant-D reduction vs finite_size's _draw")
    ap.add_argument("--draws", type=int, default=3, help="raw/normalised: W draws")
    args = ap.parse_args(argv)
    if args.case in ("raw", "normalised"):
        run_real(args.case, args.draws)
        return 0
    if args.case == "table":
        rows = run_table(args.only, args.pool, args.max_draws)
        import csv

        from finite_size_validation import OUT
        stem = "finite_size_generalized_table" + (f"_{args.only.replace(',', '_')}" if args.only else "")
        with open(OUT / f"{stem}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        print("| case | σ | test | MC ± s.e. | DE ± s.e. | z (DE) | generalized ± s.e. | z (gen.) |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['case']} | {r['act']} | {r['test']} | {r['mc']:.4f} ± {r['mc_se']:.4f} | "
                  f"{r['de']:.4f} ± {r['de_se']:.4f} | {r['z_de']:+.1f} | "
                  f"{r['gen']:.4f} ± {r['gen_se']:.4f} | {r['z_gen']:+.1f} |")
        return 0
    name, S, Ss, act, m, n1, gamma, noise_var, W, laws, rng = setup(args.case, args.k, args.seed, args.act)
    n0 = S.shape[0]
    cst = generalized(S, laws, W, act, m, n1, gamma, noise_var, 0, None, constant=True)
    de = [x["error"] for x in cst["laws"]]
    print(f"{name} k={args.k} seed={args.seed}: n0={n0} m={m} n1={n1} gamma={gamma}")
    if args.check:
        ref = draw_de(S, Ss, act, W, m, n1, gamma, noise_var)
        for j, side in enumerate(("OOD", "ID")):
            print(f"  check {side}: constant-D generalized {de[j]:.12f}  finite_size._draw {ref[j]:.12f}  "
                  f"rel diff {abs(de[j] - ref[j]) / ref[j]:.1e}")
    gen = []
    t0 = time.perf_counter()
    prng = np.random.default_rng(1000 + args.seed)
    for _ in range(args.pools):
        gen.append(generalized(S, laws, W, act, m, n1, gamma, noise_var, args.pool, prng))
    t_gen = (time.perf_counter() - t0) / args.pools
    g0 = gen[0]
    print(f"  generalized: pool {args.pool} x {args.pools}, {t_gen:.1f} s/pool, iters {g0['iters']}, "
          f"D mean {g0['D'].mean():.4g} cv(δ) {g0['delta_cv']:.3f}")
    t0 = time.perf_counter()
    real, gaus = real_mc(S, laws, W, act, m, gamma, noise_var, args.trials, rng, gcm=args.gcm) \
        if args.trials > 0 else (None, None)
    t_mc = time.perf_counter() - t0
    for j, side in enumerate(("OOD", "ID")):
        ge = np.array([x["laws"][j]["error"] for x in gen])
        gm = np.array([x["laws"][j]["mean"] for x in gen])
        gv = np.array([x["laws"][j]["var"] for x in gen])
        gsd = ge.std(ddof=1) if len(ge) > 1 else float("nan")
        line = (f"  {side}: DE {de[j]:.5f} | gen {ge.mean():.5f} (pool sd {gsd:.5f}; mean {gm.mean():.5f} "
                f"var {gv.mean():.5f})")
        if real is not None:
            r = real[:, j]
            rm, rs = r.mean(), r.std(ddof=1) / math.sqrt(len(r))
            gse = gsd / math.sqrt(len(ge)) if len(ge) > 1 else 0.0
            zg = (ge.mean() - rm) / math.hypot(rs, gse)
            line += (f" | real {rm:.5f}±{rs:.5f} | DE-real {100 * (de[j] - rm) / rm:+.2f}% "
                     f"gen-real {100 * (ge.mean() - rm) / rm:+.2f}% (z={zg:+.1f})")
            if gaus is not None:
                q = gaus[:, j]
                qm, qs = q.mean(), q.std(ddof=1) / math.sqrt(len(q))
                line += f" | GCM {qm:.5f}±{qs:.5f} DE-GCM {100 * (de[j] - qm) / qm:+.2f}%"
        print(line, flush=True)
    print(f"  [{t_mc:.0f} s MC]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
