"""``rfshift validate``: Monte Carlo (finite n0) against the engine (n0 → ∞) on a documented suite.

Suite (parameters as in THEORY.md §10 where a reference case exists):

======================  ==========  =======================================================
case                    activation  what it covers
======================  ==========  =======================================================
relu-swap-ridge         relu        R2: λ=(1.5,.5), λ*=(.5,1.5); φ=.5 ψ=.25 γ=.01 σ²=.25; n1>m
erf-trace-ridge         erf         R3: λ=1, λ*=2 (tr Σ* ≠ tr Σ); φ=.8 ψ=.4 γ=.05 σ²=0
tanh-ridgeless-over     tanh        R4: 3 atoms; φ=1 ψ=.3 γ=0 σ²=.2; min-norm, sampled test
relu-ridgeless-under    relu        R5: λ=(3,.5), λ*=(1,2), p=(.2,.8); φ=.5 ψ=1 γ=0; n1<m
linear-ridge            linear      R6: λ=(2,.5), λ*=(1,1); φ=.7 ψ=.3 γ=.1 σ²=.2
relu-dense-rotated      relu        Σ=diag(1.5,.5 halves), Σ* = Q diag(.5,1.5 halves) Qᵀ with
                                    a random rotation Q (non-commuting, dense); φ=.5 ψ=1 γ=.1
======================  ==========  =======================================================

Cases for structured targets and single-index teachers (issue 9) and for the disagreements,
K-ensembles and training error (issue 11) follow (``TARGET_SUITE``, ``EXTRA_SUITE``, run after the
six above so that those keep their seeds):

======================  ==========  =======================================================
target-small-dirs       relu        b=(.2, 3) on λ=(1.5,.5), λ*=(.5,1.5): target on the small
                                    directions the shift moves test mass onto; φ=.5 ψ=.25 γ=.01
target-null-shift       erf         λ=(2,1,.5), λ*=(.5,1,2), b=(1.5,1,0): shift onto b=0;
                                    φ=.8 ψ=.4 γ=.05 σ²=.1
target-teacher-tanh     relu        teacher tanh, b=(1.5,.5); λ=(1.5,.5), λ*=(.5,1.5);
                                    φ=.5 ψ=1 γ=.05 σ²=.1 (Mehler-exact test expectation)
target-dense-rotated    relu        the dense rotated pair with B = diag(2 on the first half,
                                    .5 on the second); φ=.5 ψ=1 γ=.1
dis-relu-ridge-over     relu        λ=(1.5,.5), λ*=(.5,1.5); φ=.5 ψ=.25 γ=.01 σ²=.25
dis-erf-ridgeless-under erf         λ=(3,.5), λ*=(1,2), p=(.2,.8); φ=.5 ψ=1 γ=0 σ²=.1
dis-relu-dense-rotated  relu        dense non-commuting Σ*; φ=.5 ψ=1 γ=.1 σ²=.1
======================  ==========  =======================================================

The ``dis-*`` cases add the three disagreements, E_K for K = 2 and ∞ (OOD and ID), the training
error, df/m and GCV (``driver.theory_values``). ``--case NAME`` (repeatable) runs only the named
cases. ``--fine`` adds the §7 ANOVA terms (2×2×2 design over W, X, ε) on ``erf-swap-noisy`` (erf,
λ=(1.5,.5), λ*=(.5,1.5), φ=.5 ψ=.25 γ=.01 σ²=.25). The theory is
evaluated at the simulated spectrum and ratios (atom weights rounded to n0, φ = n0/m, ψ = n0/n1).
Case k uses seed 1000·seed + k (k: the six cases above 0–5, the fine case 6, then the target and
``dis-*`` cases 7, 8, … in table order, whatever subset runs), so the cases' random draws are
independent of each other (with one shared seed, same-shaped draws coincide and all cases fluctuate
together). The dense cases are capped at n0 = 1024 (their eigendecompositions are O(n0³) in NumPy).

Defaults: n0 = 256, 32 trials; ``--quick``: n0 = 128, 12 trials (about a minute on 2 busy CPU cores).
z = (MC − theory)/s.e.; the exit status is 1 if any |z| > 4. At least 12 trials are required (the s.e.
is estimated from the trials: with few of them z has Student-t tails); 32 or more are recommended.
Finite-size bias is O(1/n0) while the
s.e. falls like 1/√(n0·trials), so very long runs at small n0 can fail honestly: raise n0 with trials.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..spectra import Spectrum
from .driver import Estimate, simulate, text_progress, theory_values

__all__ = ["ALL_CASES", "EXTRA_SUITE", "SUITE", "TARGET_SUITE", "Case", "Row", "format_table", "main",
           "run_suite", "select_cases"]

Z_FAIL = 4.0
DEFAULT_N0, DEFAULT_TRIALS = 256, 32
QUICK_N0, QUICK_TRIALS = 128, 12
#: Fewer trials make the s.e. itself too noisy for a |z| > 4 rule (Student t with trials − 1 d.o.f.).
MIN_TRIALS = 12
DENSE_N0_CAP = 1024


def _dense_rotated_target(n0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    S, S_star = _dense_rotated(n0)
    half = n0 // 2
    return S, S_star, np.diag(np.r_[np.full(half, 2.0), np.full(n0 - half, 0.5)])


def _dense_rotated(n0: int) -> tuple[np.ndarray, np.ndarray]:
    half = n0 // 2
    lam = np.r_[np.full(half, 1.5), np.full(n0 - half, 0.5)]
    lam_star = np.r_[np.full(half, 0.5), np.full(n0 - half, 1.5)]
    rng = np.random.default_rng(12345)
    Q, R = np.linalg.qr(rng.standard_normal((n0, n0)))
    Q = Q * np.sign(np.diag(R))[None, :]
    return np.diag(lam), (Q * lam_star[None, :]) @ Q.T


@dataclass(frozen=True)
class Case:
    name: str
    spec: Callable[[int], Spectrum | tuple[np.ndarray, np.ndarray]]
    phi: float
    psi: float
    gamma: float
    noise_var: float
    activation: str
    n0_cap: int | None = None
    target_power: tuple[float, ...] | None = None
    teacher: str | None = None
    extras: bool = False


SUITE: tuple[Case, ...] = (
    Case("relu-swap-ridge", lambda n0: Spectrum([1.5, 0.5], [0.5, 1.5]), 0.5, 0.25, 0.01, 0.25, "relu"),
    Case("erf-trace-ridge", lambda n0: Spectrum([1.0], [2.0]), 0.8, 0.4, 0.05, 0.0, "erf"),
    Case("tanh-ridgeless-over", lambda n0: Spectrum([2, 1, 0.25], [0.5, 1, 1.5], [0.25, 0.5, 0.25]),
         1.0, 0.3, 0.0, 0.2, "tanh"),
    Case("relu-ridgeless-under", lambda n0: Spectrum([3, 0.5], [1, 2], [0.2, 0.8]), 0.5, 1.0, 0.0, 0.1,
         "relu"),
    Case("linear-ridge", lambda n0: Spectrum([2, 0.5], [1, 1]), 0.7, 0.3, 0.1, 0.2, "linear"),
    Case("relu-dense-rotated", _dense_rotated, 0.5, 1.0, 0.1, 0.1, "relu", DENSE_N0_CAP),
)
#: Structured targets and a single-index teacher (issue 9).
TARGET_SUITE: tuple[Case, ...] = (
    Case("target-small-dirs", lambda n0: Spectrum([1.5, 0.5], [0.5, 1.5]), 0.5, 0.25, 0.01, 0.25, "relu",
         target_power=(0.2, 3.0)),
    Case("target-null-shift", lambda n0: Spectrum([2, 1, 0.5], [0.5, 1, 2]), 0.8, 0.4, 0.05, 0.1, "erf",
         target_power=(1.5, 1.0, 0.0)),
    Case("target-teacher-tanh", lambda n0: Spectrum([1.5, 0.5], [0.5, 1.5]), 0.5, 1.0, 0.05, 0.1, "relu",
         target_power=(1.5, 0.5), teacher="tanh"),
    Case("target-dense-rotated", _dense_rotated_target, 0.5, 1.0, 0.1, 0.1, "relu", DENSE_N0_CAP),
)
#: Disagreements, K-ensembles, training error and GCV (issue 11).
EXTRA_SUITE: tuple[Case, ...] = (
    Case("dis-relu-ridge-over", lambda n0: Spectrum([1.5, 0.5], [0.5, 1.5]), 0.5, 0.25, 0.01, 0.25, "relu",
         extras=True),
    Case("dis-erf-ridgeless-under", lambda n0: Spectrum([3, 0.5], [1, 2], [0.2, 0.8]), 0.5, 1.0, 0.0, 0.1,
         "erf", extras=True),
    Case("dis-relu-dense-rotated", _dense_rotated, 0.5, 1.0, 0.1, 0.1, "relu", DENSE_N0_CAP, extras=True),
)
#: Ensemble sizes compared in the ``extras`` cases.
ENSEMBLE_K = (2.0, math.inf)
#: Fine-grained (§7) check: erf (μ0 = 0) with label noise so that the ε terms are non-zero.
FINE_CASE = Case("erf-swap-noisy", lambda n0: Spectrum([1.5, 0.5], [0.5, 1.5]), 0.5, 0.25, 0.01, 0.25, "erf")


@dataclass(frozen=True)
class Row:
    case: str
    quantity: str
    theory: float
    mc: float
    se: float

    @property
    def z(self) -> float:
        # s.e. 0: 0 if MC equals theory exactly (0/0), else |z| = inf; never NaN
        diff = self.mc - self.theory
        return diff / self.se if self.se > 0 else (0.0 if diff == 0 else math.inf)


def _rows(case: str, est: Estimate, fine: bool) -> list[Row]:
    th = est.theory()
    rows = []
    for q in ("error", "bias", "variance", "error_id", "bias_id", "variance_id"):
        rows.append(Row(case, q, float(getattr(th, q)), getattr(est, q), getattr(est, f"{q}_se")))
    for q, (t, mc, se) in theory_values(est, th).items():
        rows.append(Row(case, q, t, mc, se))
    if fine:
        for suffix, tt in (("", th.variance_terms), ("_id", th.variance_terms_id)):
            mc, se = getattr(est, f"variance_terms{suffix}"), getattr(est, f"variance_terms{suffix}_se")
            for t in ("w", "x", "wx", "x_eps", "wx_eps", "eps", "w_eps"):
                rows.append(Row(case, f"V_{t}{suffix}", float(getattr(tt, t)), float(getattr(mc, t)),
                                float(getattr(se, t))))
    return rows


def run_suite(n0: int | None = None, trials: int | None = None, quick: bool = False, seed: int = 0,
              fine: bool = False, show_progress: bool = True,
              cases: tuple[Case, ...] | None = None,
              on_rows: Callable[[list[Row]], None] | None = None) -> list[Row]:
    """Simulate every case (and the fine-grained case if ``fine``) and return the comparison rows
    (``on_rows`` is called with each case's rows as soon as they are ready)."""
    n0 = n0 if n0 is not None else (QUICK_N0 if quick else DEFAULT_N0)
    trials = trials if trials is not None else (QUICK_TRIALS if quick else DEFAULT_TRIALS)
    _check_trials(trials)
    cases = ALL_CASES if cases is None else cases
    runs = [(c, False) for c in cases] + ([(FINE_CASE, True)] if fine else [])
    rows: list[Row] = []
    for case, fine_run in runs:
        k = _seed_index(case)
        n = min(n0, case.n0_cap) if case.n0_cap else n0
        label = f"{case.name}{' (fine)' if fine_run else ''} n0={n}"
        est = simulate(case.spec(n), n0=n if isinstance(case.spec(2), Spectrum) else None, phi=case.phi,
                       psi=case.psi, gamma=case.gamma, noise_var=case.noise_var, activation=case.activation,
                       trials=trials, seed=1000 * seed + k, fine=fine_run,
                       progress=text_progress(f"{label:<34}") if show_progress else None,
                       target_power=case.target_power, teacher=case.teacher,
                       disagreement=case.extras, ensemble=ENSEMBLE_K if case.extras else None,
                       training_error=case.extras)
        new = _rows(case.name + (" (fine)" if fine_run else ""), est, fine_run)
        rows.extend(new)
        if on_rows is not None:
            on_rows(new)
    return rows


#: The cases ``rfshift validate`` runs.
ALL_CASES: tuple[Case, ...] = SUITE + TARGET_SUITE + EXTRA_SUITE


def _seed_index(case: Case) -> int:
    """Stable seed offset of a case: SUITE 0–5, FINE_CASE 6, then TARGET_SUITE + EXTRA_SUITE."""
    if case is FINE_CASE:
        return len(SUITE)
    if case in SUITE:
        return SUITE.index(case)
    new = TARGET_SUITE + EXTRA_SUITE
    return len(SUITE) + 1 + new.index(case) if case in new else 100 + len(case.name)


def select_cases(names: list[str] | None) -> tuple[Case, ...]:
    """The cases named (all when ``names`` is empty/None); ValueError naming an unknown case."""
    if not names:
        return ALL_CASES
    by_name = {c.name: c for c in ALL_CASES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown validate case(s) {', '.join(unknown)}; choose from {', '.join(by_name)}")
    return tuple(by_name[n] for n in names)


_HEAD = f"{'case':<26} {'quantity':<24} {'theory':>11} {'MC':>11} {'s.e.':>9} {'z':>7}"


def _check_trials(trials: int) -> None:
    if trials < MIN_TRIALS:
        raise ValueError(f"--trials must be >= {MIN_TRIALS} for the |z| > {Z_FAIL:g} test (the standard "
                         f"error from {trials} trials is too noisy); got {trials}")


def format_table(rows: list[Row], header: bool = True) -> str:
    lines = [_HEAD, "-" * len(_HEAD)] if header else []
    for r in rows:
        flag = "  <-- |z| > 4" if abs(r.z) > Z_FAIL else ""
        lines.append(f"{r.case:<26} {r.quantity:<24} {r.theory:>11.5f} {r.mc:>11.5f} {r.se:>9.5f} "
                     f"{r.z:>7.2f}{flag}")
    return "\n".join(lines)


def main(args) -> int:
    """CLI entry: ``args.n0, args.trials, args.quick, args.seed, args.fine, args.case``; 0 if every
    |z| <= 4."""
    t0 = time.perf_counter()
    if args.trials is not None:
        _check_trials(int(args.trials))
    cases = select_cases(getattr(args, "case", None))
    print(format_table([]), flush=True)
    rows = run_suite(n0=args.n0, trials=args.trials, quick=bool(args.quick), seed=int(args.seed),
                     fine=bool(getattr(args, "fine", False)), cases=cases,
                     on_rows=lambda new: print(format_table(new, header=False), flush=True))
    worst = max(rows, key=lambda r: abs(r.z))
    n_bad = sum(abs(r.z) > Z_FAIL for r in rows)
    print(f"\n{len(rows)} comparisons, max |z| = {abs(worst.z):.2f} ({worst.case}, {worst.quantity}), "
          f"{n_bad} with |z| > {Z_FAIL:g}; {time.perf_counter() - t0:.1f} s")
    sys.stdout.flush()
    return 1 if n_bad else 0
