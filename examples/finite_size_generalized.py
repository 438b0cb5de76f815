"""Generalized (x-dependent) deterministic equivalent at one fixed W, against ridge on the real features.

Research prototype for issue 10 (docs/theory.md §20.1, docs/validation.md §9.7). The finite-size mode
(:func:`rfshift.finite_size`, docs/theory.md §20) uses the Gaussian-covariate-model deterministic
equivalent (DE) given W, which assumes that the quadratic forms f(x)ᵀQ₋f(x)/m concentrate over x. The
*generalized* equivalent keeps their x-dependence (leave-one-out, each input a point mass):

    R = (E_x[D(x) f fᵀ] + κ)^{-1},   D(x) = 1/(ε + f(x)ᵀ R f(x)/m),
    ā = R E_x[D(x) f(x) y(x)],
    E[âᵀ M â] = āᵀ M ā + (1/m) E_x[D(x)² u_M(x) (r(x)² + σ²)],   r = y* − āᵀf,
    u_M(x) = f(x)ᵀ T_M f(x),  T_M = R M R + R E_x[D² (u_M/m) f fᵀ] R,

with (ε, κ) = (1, λ) (λ = n1γ/m the ridge on FFᵀ/m), (1, 0) ridgeless with n1 < m, and (0, 1) ridgeless
with n1 > m (the λ → 0 limit, rescaled). Derivation: docs/theory.md §20.1 (our own, by the
envelope theorem on the training loss with regulariser λ + tM). When D(x) and u(x) are replaced by
constants it is *exactly* the current DE (checked here: ``--check``).

The expectations over x are pool averages over N inputs x ~ N(0, Σ) with the exact closed-form Φ, Ψ
as control variates (E[D f fᵀ] ≈ D̄ Φ + mean_k (D_k − D̄) f_k f_kᵀ, the same for Ψ and for the
second-order kernel, self-pairs excluded); its sampling error is measured by repeating with
independent pools.

Usage (repository root)::

    PYTHONPATH=$PWD python examples/finite_size_generalized.py CASE [--trials T] [--pool N] [--pools P]
        [--k K] [--seed S] [--gcm] [--check]

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
from scipy.linalg import solve_triangular
from scipy.sparse.linalg import LinearOperator, gmres

sys.path.insert(0, str(Path(__file__).resolve().parent))

from finite_size_anatomy import CASES as ANATOMY_CASES
from finite_size_anatomy import solve_g, sqrt_psd, test_error, threadpool_limits
from finite_size_validation import power, rotation, spiked

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


def _regime(m: int, n1: int, gamma: float) -> tuple[float, float]:
    """(ε, κ) of D(x) = 1/(ε + fᵀRf/m), R = (E[D ffᵀ] + κ)^{-1}."""
    lam = n1 * gamma / m
    if lam > 0:
        return 1.0, lam
    if n1 < m:
        return 1.0, 0.0
    if n1 > m:
        return 0.0, 1.0
    raise ValueError("ridgeless with n1 = m: interpolation threshold")


def _anderson(step, x0, tol, maxit, what, depth=6):
    """Anderson-accelerated fixed point x = step(x) (sup-norm tolerance)."""
    x = x0
    hx, hg = [], []
    res = np.inf
    for it in range(maxit):
        g = step(x)
        res = float(np.max(np.abs(g - x)))
        if res < tol:
            return g, it
        hx.append(x.copy())
        hg.append(g.copy())
        if len(hx) > depth:
            hx.pop(0)
            hg.pop(0)
        if len(hx) >= 2:
            Rk = np.array(hg) - np.array(hx)
            coef, *_ = np.linalg.lstsq(np.diff(Rk, axis=0).T, g - x, rcond=None)
            x = g - coef @ np.diff(np.array(hg), axis=0)
        else:
            x = g
    raise RuntimeError(f"{what}: no convergence in {maxit} iterations (residual {res:.2e})")


def _pool_matrix(F, wdev, N):
    """F diag(wdev) Fᵀ / N in chunks (n1 × n1)."""
    n1 = F.shape[0]
    out = np.zeros((n1, n1))
    for i in range(0, N, 4096):
        Fc = F[:, i:i + 4096]
        out += (Fc * wdev[i:i + 4096]) @ Fc.T
    return out / N


def _solve_d(F, Phi, m, eps, kap, d0, tol=1e-11, maxit=300):
    """Fixed point D_k = 1/(ε + s_k/m), s_k = f_kᵀ R_{−k} f_k, R = (D̄Φ + F diag(D − D̄) Fᵀ/N + κ)^{-1}.

    R_{−k} drops the pool point's own term (D_k − D̄) f_k f_kᵀ/N (Sherman–Morrison), so the pool
    average has no self-interaction. Anderson-accelerated iteration on log D."""
    n1, N = F.shape
    I = np.eye(n1)

    def parts(D):
        Db = D.mean()
        P = Db * Phi + _pool_matrix(F, D - Db, N) + kap * I
        L = np.linalg.cholesky(0.5 * (P + P.T))
        Z = solve_triangular(L, F, lower=True, check_finite=False)
        s = np.einsum("ij,ij->j", Z, Z)  # f_kᵀ R f_k
        a = (D - Db) / N
        return s / (1.0 - a * s), a, s, P

    def step(logd):
        s_loo, *_ = parts(np.exp(logd))
        return -np.log(eps + s_loo / m)

    logd, it = _anderson(step, np.log(d0), tol, maxit, "D(x) fixed point")
    D = np.exp(logd)
    _, a, s, P = parts(D)
    return D, it, a, s, P


def generalized(S, laws, W, act, m, n1, gamma, noise_var, pool, rng, constant=False):
    """Generalized DE given W. ``laws``: list of (Phi_T, Psi_T, t_T) test laws.

    Returns dict with per-law errors, their mean and variance parts, and diagnostics.
    ``constant=True`` replaces D(x), u(x), ρ(x) by their expectations (the current DE, as a check)."""
    n0 = S.shape[0]
    a_ = get_activation(act)
    train = fsm._GaussianLaw(S, a_)
    st = train.prepare(W)
    Phi, _ = train.second(st, st, True)
    Psi = st["Psi"]
    eps, kap = _regime(m, n1, gamma)
    # constant-D starting point from the current DE
    e, _ = np.linalg.eigh(Phi)
    e = np.maximum(e, 0.0)
    k_de = fsm._solve_kappa(e, m, n1 * gamma / m, int(np.sum(e > e[-1] * n1 * 1e-13)))
    df1 = float(np.sum(e / (e + k_de)))
    D0 = (1.0 - df1 / m) if eps == 1.0 else 1.0 / k_de
    if constant:
        # the current DE in the generalized notation: D constant = D0, R = (D0 Φ + κ)^{-1}
        R = np.linalg.inv(D0 * Phi + kap * np.eye(n1))
        A = D0 * R @ Psi
        out = []
        PhiR = Phi @ R
        df2D = D0 ** 2 * float(np.sum(PhiR * PhiR.T))  # D² tr(ΦRΦR)
        rho = train.target2(None) - 2 * float(np.sum(Psi * A)) + float(np.sum((Phi @ A) * A))
        for PhiT, PsiT, tT in laws:
            mean = tT - 2 * float(np.sum(PsiT * A)) + float(np.sum((PhiT @ A) * A))
            trPTM = float(np.sum((R @ Phi @ R) * PhiT))  # tr(Φ R M R)
            var = D0 ** 2 * trPTM / (1 - df2D / m) * (rho + noise_var) / m
            out.append(dict(error=mean + var, mean=mean, var=var))
        return dict(laws=out, D=np.full(1, D0), iters=0)
    half = sqrt_psd(S)
    X = half @ rng.standard_normal((n0, pool))  # n0 × N
    with np.errstate(all="ignore"):
        F = np.asarray(a_.fn(W @ X / math.sqrt(n0)), dtype=float)  # n1 × N
    N = pool
    D, iters, a, s, P = _solve_d(F, Phi, m, eps, kap, np.full(N, D0))
    c = 1.0 / (1.0 - a * s)  # R_{−k} f_k = c_k R f_k
    Db = D.mean()
    R = np.linalg.inv(0.5 * (P + P.T))
    R = 0.5 * (R + R.T)
    PsiD = Db * Psi + (F * (D - Db)) @ X.T / (N * math.sqrt(n0))
    A = R @ PsiD  # ā = A β
    RF = R @ F
    # leave-one-out fitted value at pool point k: f_kᵀ A_{−k} = c_k (f_kᵀ A − a_k s_k x_kᵀ/√n0)
    fitted = c[None, :] * (A.T @ F - (a * s)[None, :] * X / math.sqrt(n0))  # n0 × N
    Rres = X / math.sqrt(n0) - fitted
    rho = np.einsum("ij,ij->j", Rres, Rres)  # E_β r(x_k)², B = I
    h = np.einsum("ij,ij->j", RF, Phi @ RF)  # f_kᵀ R Φ R f_k
    omega = D * D * (rho + noise_var) / m
    # u_M = u0_M + L u_M with (L u)_k = c_k² [h_k w̄ + Σ_{l≠k} G_kl² (w_l − w̄)/N]/m, w = D² u, w̄ = mean w
    # (G = FᵀRF; c_k the leave-one-out factor). Variance = mean(ω u_M) = ω_Nᵀ (I − L)^{-1} u0_M: solve
    # the adjoint (I − Lᵀ) v = ω/N once, then variance_M = vᵀ u0_M for every test law M.
    c2m = c * c / m

    def sandwich(z):  # Σ_{l≠k} G_kl² z_l
        Y = _pool_matrix(F, z, N) * N
        return np.einsum("ij,ij->j", RF, Y @ RF) - s * s * z

    def lt(v):
        z = c2m * v
        t = sandwich(z)
        return D * D * ((h @ z) / N + (t - t.mean()) / N)

    op = LinearOperator((N, N), matvec=lambda v: v - lt(v), dtype=float)
    v, info = gmres(op, omega / N, rtol=1e-9, atol=0.0, restart=80, maxiter=20)
    if info != 0:
        raise RuntimeError(f"adjoint u system: GMRES info {info}")
    out = []
    for PhiT, PsiT, tT in laws:
        mean = tT - 2 * float(np.sum(PsiT * A)) + float(np.sum((PhiT @ A) * A))
        u0 = c * c * np.einsum("ij,ij->j", RF, PhiT @ RF)
        var = float(v @ u0)
        out.append(dict(error=mean + var, mean=mean, var=var))
    delta_cv = float(np.std(1 / D - eps) / np.mean(1 / D - eps))
    return dict(laws=out, D=D, iters=iters, delta_cv=delta_cv, rho_mean=float(rho.mean()))


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
            out, *_ = fsm._draw(tr_, (te_, tr_), W, m, n1, c["gamma"], c["noise_var"], None, laws[1][2],
                                (laws[0][2], laws[1][2]))
            de.append(out)
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=[*sorted(CASES), "table"])
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
    args = ap.parse_args(argv)
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
    a = get_activation(act)
    train, test = fsm._GaussianLaw(S, a), fsm._GaussianLaw(Ss, a)
    de, kappa, _, _ = fsm._draw(train, (test, train), W, m, n1, gamma, noise_var, None, laws[1][2],
                                (laws[0][2], laws[1][2]))
    print(f"{name} k={args.k} seed={args.seed}: n0={n0} m={m} n1={n1} gamma={gamma} kappa_DE={kappa:.4g}")
    if args.check:
        c = generalized(S, laws, W, act, m, n1, gamma, noise_var, 0, None, constant=True)
        for j, side in enumerate(("OOD", "ID")):
            print(f"  check {side}: constant-D generalized {c['laws'][j]['error']:.12f}  DE {de[j]:.12f}  "
                  f"rel diff {abs(c['laws'][j]['error'] - de[j]) / de[j]:.1e}")
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
