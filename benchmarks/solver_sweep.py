"""Solver sweep: hammer ``rfshift.asymptotics`` with random, extreme parameter points and count failures.

Usage::

    .venv/bin/python benchmarks/solver_sweep.py                # >= 10^5 points (about a minute)
    .venv/bin/python benchmarks/solver_sweep.py --points 20000 --seed 3

Points span γ ∈ [1e-12, 1e6] log-uniform plus exact 0 (with some points exactly at the ridgeless
interpolation threshold ψ = φ), ψ/φ ∈ [1e-4, 1e4], φ ∈ [1e-3, 1e3], σ² ∈ [0, 10], spectra with
condition number up to 1e8 and up to 10^5 atoms (a few large atoms and many small ones, power laws,
two-level spectra, some with exactly-zero atoms), and every built-in activation except ``quadratic``
and ``abs`` (μ1 = 0, rejected by design).

Counted per point (all fields, OOD and ID): NaN, ``ConvergenceError`` (and any other exception),
the documented float64 refusals of docs/theory.md §17 counted apart (a ``ValueError`` pointing to
``precision=``: μ⊥²(s) below the float64 range at γ = 0 with ψ > 0, a γ = 0 root below e^-700, or a
γ = 0 root at a rank threshold fixed by rounding; the group's other points are evaluated),
``inf`` outside the interpolation peak, the peak flagged where γ > 0, finite error at the peak,
negative bias/variance beyond round-off (−1e-15 relative to the error), ``E ≠ B + V`` beyond 1e-12
relative, the fixed-point residual at the returned k_x recomputed independently from THEORY.md §4
(unflagged non-convergence), and the fine-grained variance terms not summing to V (1e-9 relative,
informational).
``--extreme`` widens every range (condition number 1e14, overall scale 1e±6, φ ∈ [1e-6, 1e6],
ψ/φ ∈ [1e-8, 1e8], γ ∈ [1e-30, 1e12], σ² ∈ [0, 1e4]). The same code backs
``tests/test_solver_sweep.py`` with fewer points.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np

import rfshift as rf

#: Activations swept: every built-in except those with μ1 = 0 (quadratic, abs), which are rejected.
ACTIVATIONS = tuple(a for a in rf.available_activations() if a not in ("quadratic", "abs"))

#: Round-off allowance for B, V >= 0 (relative to the error E = B + V).
NEG_RTOL = 1e-15
#: Allowed relative mismatch of E and B + V.
SUM_RTOL = 1e-12
#: Allowed fixed-point residual (relative to max(1, φP)) at the returned k_x.
RESIDUAL_TOL = 1e-9
#: Allowed relative mismatch of the seven fine-grained terms and V (informational count).
TERMS_RTOL = 1e-9


@dataclass
class Counts:
    points: int = 0
    groups: int = 0
    nan: int = 0
    convergence_error: int = 0
    other_error: int = 0
    refused: int = 0
    #: refusals by kind: μ⊥²(s) underflows / root below e^-700 / root fixed by rounding at a rank threshold
    refused_kinds: dict[str, int] = field(
        default_factory=lambda: {"underflow": 0, "below": 0, "threshold": 0})
    inf_off_peak: int = 0
    peak_points: int = 0
    peak_with_ridge: int = 0
    finite_at_peak: int = 0
    negative_bias: int = 0
    negative_variance: int = 0
    sum_mismatch: int = 0
    residual: int = 0
    max_residual: float = 0.0
    terms_mismatch: int = 0
    max_atoms: int = 0
    max_condition: float = 0.0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def hard_failures(self) -> int:
        return (self.nan + self.convergence_error + self.other_error + self.inf_off_peak
                + self.peak_with_ridge + self.finite_at_peak + self.negative_bias
                + self.negative_variance + self.sum_mismatch + self.residual)


#: Sampling ranges (log10 bounds). ``EXTREME`` widens every range far beyond the documented one.
STANDARD = {"cond": 8.0, "scale": 2.0, "phi": 3.0, "ratio": 4.0, "gamma": (-12.0, 6.0), "noise": 10.0}
EXTREME = {"cond": 14.0, "scale": 6.0, "phi": 6.0, "ratio": 8.0, "gamma": (-30.0, 12.0), "noise": 1e4}


def random_spectrum(rng: np.random.Generator, max_atoms: int, ranges: dict | None = None) -> rf.Spectrum:
    """A random joint spectrum: condition number up to 1e8, up to ``max_atoms`` atoms."""
    n = int(np.exp(rng.uniform(0.0, np.log(max_atoms)))) if rng.random() < 0.85 else max_atoms
    n = max(1, min(n, max_atoms))
    r = STANDARD if ranges is None else ranges
    cond = 10.0 ** rng.uniform(0.0, r["cond"])
    kind = rng.integers(4)
    if kind == 0:  # a few large atoms and many small ones
        n_big = int(rng.integers(1, min(n, 5) + 1))
        lam = np.concatenate([rng.uniform(0.5, 1.0, n_big), rng.uniform(1.0, 2.0, n - n_big) / cond])
    elif kind == 1:  # power law spanning the condition number
        lam = np.geomspace(1.0, 1.0 / cond, n) if n > 1 else np.ones(1)
    elif kind == 2:  # log-uniform
        lam = 10.0 ** rng.uniform(-np.log10(cond), 0.0, n)
    else:  # two levels
        lam = np.where(rng.random(n) < 0.5, 1.0, 1.0 / cond)
    if n > 1 and rng.random() < 0.1:  # some exactly-null training directions
        lam[rng.random(n) < 0.2] = 0.0
        lam[0] = max(lam[0], 1.0)
    # test variances: same, rescaled, reshuffled, independent, or tilted
    mode = rng.integers(5)
    if mode == 0:
        lam_star = lam.copy()
    elif mode == 1:
        lam_star = lam * 10.0 ** rng.uniform(-2, 2)
    elif mode == 2:
        lam_star = rng.permutation(lam)
    elif mode == 3:
        lam_star = 10.0 ** rng.uniform(-np.log10(cond), 0.0, n)
    else:
        lam_star = lam ** rng.uniform(0.0, 2.0)
    if n > 1 and rng.random() < 0.1:
        lam_star[rng.random(n) < 0.3] = 0.0
        lam_star[-1] = max(lam_star[-1], 1.0)
    weights = None if rng.random() < 0.5 else rng.uniform(0.0, 1.0, n) + 1e-3
    scale = 10.0 ** rng.uniform(-r["scale"], r["scale"])
    return rf.Spectrum(lam * scale, lam_star * scale, weights)


def random_points(rng: np.random.Generator, n: int, ranges: dict | None = None) -> dict[str, np.ndarray]:
    """φ log-uniform on [1e-3, 1e3], ψ = φ·r with r log-uniform on [1e-4, 1e4] (10% ψ = 0, 5% ψ = φ),
    γ log-uniform on [1e-12, 1e6] (20% exactly 0), σ² uniform on [0, 10] (20% exactly 0)."""
    r = STANDARD if ranges is None else ranges
    phi = 10.0 ** rng.uniform(-r["phi"], r["phi"], n)
    psi = phi * 10.0 ** rng.uniform(-r["ratio"], r["ratio"], n)
    u = rng.random(n)
    psi[u < 0.10] = 0.0
    psi[(u >= 0.10) & (u < 0.15)] = phi[(u >= 0.10) & (u < 0.15)]
    gamma = 10.0 ** rng.uniform(*r["gamma"], n)
    gamma[rng.random(n) < 0.2] = 0.0
    noise = rng.uniform(0, r["noise"], n)
    noise[rng.random(n) < 0.2] = 0.0
    return {"phi": phi, "psi": psi, "gamma": gamma, "noise_var": noise}


def _describe(spec: rf.Spectrum, act: str, phi: float, psi: float, gamma: float, noise: float) -> str:
    return (f"activation={act!r}, phi={phi!r}, psi={psi!r}, gamma={gamma!r}, noise_var={noise!r}, "
            f"spectrum: n_atoms={spec.n_atoms}, s={spec.s!r}, s_star={spec.s_star!r}, "
            f"lam range=[{spec.lam.min()!r}, {spec.lam.max()!r}], "
            f"lam_star range=[{spec.lam_star.min()!r}, {spec.lam_star.max()!r}]")


def check_result(res: rf.Asymptotics, counts: Counts, describe) -> None:
    """Add the failures of one vectorised result to ``counts``."""
    peak = np.asarray(res.interpolation_peak, dtype=bool).ravel()
    gamma = np.asarray(res.gamma).ravel()
    counts.peak_points += int(peak.sum())
    bad_peak = peak & (gamma > 0)
    counts.peak_with_ridge += int(bad_peak.sum())
    sides = (("", res.error, res.bias, res.variance, res.variance_terms),
             ("_id", res.error_id, res.bias_id, res.variance_id, res.variance_terms_id))
    for suffix, e, b, v, terms in sides:
        e, b, v = (np.asarray(a, dtype=float).ravel() for a in (e, b, v))
        tot = np.asarray(terms.total, dtype=float).ravel()
        fields = {"error": e, "bias": b, "variance": v, "k_x": np.asarray(res.k_x, float).ravel()}
        nan = np.zeros(e.size, bool)
        for a in fields.values():
            nan |= np.isnan(a)
        counts.nan += int(nan.sum())
        inf_off = ~peak & (np.isinf(e) | np.isinf(b) | np.isinf(v))
        counts.inf_off_peak += int(inf_off.sum())
        counts.finite_at_peak += int((peak & np.isfinite(e)).sum())
        fin = np.isfinite(e) & ~nan
        with np.errstate(invalid="ignore"):
            negb = fin & (b < -NEG_RTOL * e)
            negv = fin & (v < -NEG_RTOL * e)
            mism = fin & (np.abs(e - (b + v)) > SUM_RTOL * np.abs(e))
            tmis = fin & (np.abs(tot - v) > TERMS_RTOL * np.maximum(np.abs(v), 1e-300))
        counts.negative_bias += int(negb.sum())
        counts.negative_variance += int(negv.sum())
        counts.sum_mismatch += int(mism.sum())
        counts.terms_mismatch += int(tmis.sum())
        for label, mask in (("NaN", nan), ("inf off peak", inf_off), ("negative bias", negb),
                            ("negative variance", negv), ("E != B+V", mism)):
            if mask.any() and len(counts.failures) < 50:
                i = int(np.flatnonzero(mask)[0])
                counts.failures.append(
                    f"{label}{suffix}: {describe(i)} -> E={e[i]!r}, B={b[i]!r}, V={v[i]!r}")
    if bad_peak.any() and len(counts.failures) < 50:
        counts.failures.append(f"peak flagged with gamma>0: {describe(int(np.flatnonzero(bad_peak)[0]))}")


def fixed_point_residual(spec: rf.Spectrum, res: rf.Asymptotics) -> np.ndarray:
    """Independent check of the returned root: THEORY.md §4 in κ = φ/k_x, written as
    ``κ(ω + I_{1,1}) − 1 + t(κ) = φP − 1 + t`` with P = ⟨λ/(λ + k_x)⟩ + ω/k_x and t(κ) from the
    closed form of §4 (ridgeless: t = max(0, 1 − φ/ψ); kernel limit ψ = 0: t = κγ/ρ). Relative to
    max(1, φP); NaN where k_x = 0 (κ = ∞, the linear ridgeless case, nothing to check)."""
    kx = np.asarray(res.k_x, float).ravel()
    phi, psi, gamma = (np.asarray(a, float).ravel() for a in (res.phi, res.psi, res.gamma))
    rho, omega = res.rho, res.omega
    out = np.full(kx.size, np.nan)
    for i in np.flatnonzero(kx > 0):
        k, ph, ps, ga = kx[i], phi[i], psi[i], gamma[i]
        P = float(spec.weights @ (spec.lam / (spec.lam + k))) + omega / k
        kappa = ph / k
        if ga == 0:
            t = max(0.0, 1.0 - ph / ps) if ps > 0 else 0.0
        elif ps == 0:
            t = kappa * ga / rho
        else:
            root = np.sqrt((ps - ph) ** 2 + 4 * kappa * ps * ph * ga / rho)
            t = (2 * kappa * ph * ga / rho) / (root + ph - ps) if ph > ps else (root + ps - ph) / (2 * ps)
        out[i] = abs(ph * P - 1.0 + t) / max(1.0, ph * P)
    return out


#: Built-in activations whose μ⊥²(s) > 0 can underflow float64 (the engine's refusal applies to them).
_NONLINEAR = frozenset(ACTIVATIONS) - {"linear"}


def documented_refusal(spec: rf.Spectrum, act: str, exc: BaseException,
                       point: dict[str, np.ndarray] | None = None) -> bool:
    """Whether ``exc`` is the engine's documented float64 refusal (docs/theory.md §17): a ValueError
    for a built-in nonlinear activation whose μ⊥²(s) is below the smallest normal float64 (or so close
    to it that the γ = 0 root lies below e^-700), that names mu_perp2 and points to ``precision=30``,
    or (γ = 0 at a rank threshold min(1/φ, 1/ψ) = μ(λ > 0), k_x fixed by rounding) names the
    threshold (or near-null eigenvalues acting as one, for any activation);
    for a single ``point``, also that it is one the refusal covers (γ = 0, and ψ > 0 where μ⊥² underflows)."""
    if type(exc) is not ValueError:
        return False
    msg = str(exc)
    if "not resolved in float64" in msg and "near-null eigenvalues" in msg:  # slope test, any activation
        ridgeless = point is None or bool(point["gamma"][0] == 0)
        return ridgeless and "gamma > 0" in msg and "precision=30" in msg
    if act not in _NONLINEAR:
        return False
    mup2 = rf.activation_constants(act, spec.s).mu_perp2
    ridgeless = point is None or bool(point["gamma"][0] == 0)
    if "below the float64 range" in msg:  # μ⊥²(s) itself underflows
        ok = mup2 < np.finfo(float).tiny and ridgeless and (point is None or bool(point["psi"][0] > 0))
    elif "below e^-700" in msg:  # μ⊥²(s) is normal but the ridgeless root is not
        ok = 0.0 < mup2 < 1e-290 and ridgeless
    elif "not resolved in float64" in msg and "rank threshold" in msg:  # k_x fixed by rounding
        pos = spec.weights[spec.lam > 0].sum()
        q = None if point is None else min(1 / point["phi"][0], 1 / point["psi"][0] if point["psi"][0] > 0
                                           else np.inf)
        ok = ridgeless and (q is None or abs(q - pos) <= 1e-6 * q)
        return ok and "gamma > 0" in msg and "precision=" in msg
    else:
        return False
    return ok and "mu_perp2" in msg and "precision=30" in msg and "gamma=0" in msg.replace(" = ", "=")


def _evaluate(spec: rf.Spectrum, act: str, pts: dict[str, np.ndarray], counts: Counts) -> None:
    def describe(i: int) -> str:
        return _describe(spec, act, *(float(pts[k][i]) for k in ("phi", "psi", "gamma", "noise_var")))

    try:
        res = rf.asymptotics(spec, activation=act, **pts)
    except ValueError as exc:
        if not documented_refusal(spec, act, exc):
            counts.other_error += pts["phi"].size
            if len(counts.failures) < 50:
                counts.failures.append(f"ValueError for a whole group: {describe(0)}: {exc}")
            return
        # The refusal concerns only γ = 0 points (with ψ > 0 where μ⊥² underflows): evaluate the
        # others as usual; the γ = 0 points one by one, each refused or checked.
        ridgeless = pts["gamma"] == 0
        rest = {k: v[~ridgeless] for k, v in pts.items()}
        if rest["phi"].size:
            _evaluate(spec, act, rest, counts)
        for i in np.flatnonzero(ridgeless):
            _evaluate_one(spec, act, {k: v[i:i + 1] for k, v in pts.items()}, counts, describe(int(i)))
        return
    except rf.ConvergenceError:
        # find the failing points one by one (the vectorised call reports only the first)
        for i in range(pts["phi"].size):
            one = {k: v[i:i + 1] for k, v in pts.items()}
            _evaluate_one(spec, act, one, counts, describe(i))
        return
    except Exception as exc:
        counts.other_error += pts["phi"].size
        if len(counts.failures) < 50:
            counts.failures.append(f"{type(exc).__name__} for a whole group: {describe(0)}: {exc}")
        return
    check_result(res, counts, describe)
    _check_residual(spec, res, counts, describe)


def _evaluate_one(spec: rf.Spectrum, act: str, one: dict[str, np.ndarray], counts: Counts,
                  where: str) -> None:
    """One point (arrays of length 1): every check, with its exception classified."""
    try:
        res = rf.asymptotics(spec, activation=act, **one)
    except rf.ConvergenceError as exc:
        counts.convergence_error += 1
        if len(counts.failures) < 50:
            counts.failures.append(f"ConvergenceError: {where}: {exc}")
    except Exception as exc:
        if documented_refusal(spec, act, exc, one):
            counts.refused += 1
            msg = str(exc)
            kind = ("underflow" if "below the float64 range" in msg else
                    "below" if "below e^-700" in msg else "threshold")
            counts.refused_kinds[kind] += 1
            return
        counts.other_error += 1
        if len(counts.failures) < 50:
            counts.failures.append(f"{type(exc).__name__}: {where}: {exc}")
    else:
        check_result(res, counts, lambda _j: where)
        _check_residual(spec, res, counts, lambda _j: where)


def _check_residual(spec: rf.Spectrum, res: rf.Asymptotics, counts: Counts, describe) -> None:
    resid = fixed_point_residual(spec, res)
    bad = resid > RESIDUAL_TOL
    counts.residual += int(bad.sum())
    if np.isfinite(resid).any():
        counts.max_residual = max(counts.max_residual, float(np.nanmax(resid)))
    if bad.any() and len(counts.failures) < 50:
        i = int(np.flatnonzero(bad)[0])
        counts.failures.append(f"fixed-point residual {resid[i]:.3g}: {describe(i)}")


def run_sweep(n_points: int = 100_000, *, seed: int = 0, max_atoms: int = 100_000,
              points_per_group: int = 500, big_every: int = 20, ranges: dict | None = None) -> Counts:
    """Evaluate about ``n_points`` random points in groups sharing a spectrum and an activation.

    Every ``big_every``-th group uses a spectrum with exactly ``max_atoms`` atoms."""
    rng = np.random.default_rng(seed)
    counts = Counts()
    t0 = time.perf_counter()
    g = 0
    while counts.points < n_points:
        atoms = max_atoms if g % big_every == 0 else min(max_atoms, 2000)
        spec = random_spectrum(rng, atoms, ranges)
        if g % big_every == 0 and spec.n_atoms < max_atoms:
            spec = rf.Spectrum(np.resize(spec.lam, max_atoms), np.resize(spec.lam_star, max_atoms))
        act = ACTIVATIONS[g % len(ACTIVATIONS)]
        n = min(points_per_group, n_points - counts.points)
        pts = random_points(rng, n, ranges)
        _evaluate(spec, act, pts, counts)
        pos = spec.lam[spec.lam > 0]
        counts.max_condition = max(counts.max_condition, float(pos.max() / pos.min()))
        counts.max_atoms = max(counts.max_atoms, spec.n_atoms)
        counts.points += n
        counts.groups += 1
        g += 1
    counts.seconds = time.perf_counter() - t0
    return counts


def report(c: Counts) -> str:
    lines = [
        f"points evaluated           {c.points}  (in {c.groups} groups)",
        f"activations                {', '.join(ACTIVATIONS)}",
        f"largest spectrum           {c.max_atoms} atoms; largest condition number {c.max_condition:.3g}",
        f"NaN (any field, OOD or ID) {c.nan}",
        f"ConvergenceError           {c.convergence_error}",
        f"other exceptions           {c.other_error}",
        f"refused: μ⊥² below float64 {c.refused}  (documented ValueError, docs/theory.md §17; not a failure: "
        f"{c.refused_kinds['underflow']} μ⊥²(s) underflows, {c.refused_kinds['below']} root below e^-700, "
        f"{c.refused_kinds['threshold']} rank threshold)",
        f"inf off the peak           {c.inf_off_peak}",
        f"interpolation-peak points  {c.peak_points}  (inf there, as THEORY.md §5 requires)",
        f"peak flagged with γ > 0    {c.peak_with_ridge}",
        f"finite error at the peak   {c.finite_at_peak}",
        f"negative bias  (< -1e-15E) {c.negative_bias}",
        f"negative var.  (< -1e-15E) {c.negative_variance}",
        f"|E - (B+V)| > 1e-12|E|     {c.sum_mismatch}",
        f"fixed-point residual>1e-9  {c.residual}  (max {c.max_residual:.2g}; k_x re-checked)",
        f"|Σterms - V| > 1e-9|V|     {c.terms_mismatch}  (informational)",
        f"runtime                    {c.seconds:.1f} s  ({1e6 * c.seconds / max(c.points, 1):.1f} µs/point)",
    ]
    if c.failures:
        lines.append("first failures:")
        lines += [f"  - {f}" for f in c.failures[:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-atoms", type=int, default=100_000)
    ap.add_argument("--extreme", action="store_true",
                    help="far wider ranges: cond 1e14, scale 1e±6, φ 1e±6, ψ/φ 1e±8, γ 1e-30..1e12, σ² ≤ 1e4")
    args = ap.parse_args(argv)
    c = run_sweep(args.points, seed=args.seed, max_atoms=args.max_atoms,
                  ranges=EXTREME if args.extreme else STANDARD)
    print(report(c))
    return 0 if c.hard_failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
