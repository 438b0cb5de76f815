"""Solver sweep (small version of ``benchmarks/solver_sweep.py``): 10^4 random extreme points.

Spans γ ∈ [1e-12, 1e6] log-uniform plus exact 0 (and exact ψ = φ at γ = 0), ψ/φ ∈ [1e-4, 1e4],
φ ∈ [1e-3, 1e3], σ² ∈ [0, 10], spectra with condition number up to 1e8 and up to 10^5 atoms,
all built-in activations except quadratic/abs (μ1 = 0, rejected by design). Asserted:

* zero NaN in any field (OOD and ID);
* zero unflagged non-convergence: the returned k_x satisfies THEORY.md §4 recomputed independently
  (relative residual <= 1e-9);
* E = B + V to 1e-12 relative;
* B, V >= 0, allowing −1e-15·E of round-off (the bias is a sum of squares of terms of size up to E
  that can cancel; a few ulps of E below zero are rounding, not a wrong formula);
* ``inf`` only where ``interpolation_peak`` is True, which happens only at γ = 0, and the error is
  ``inf`` there;
* no exception other than the engine's documented float64 refusals (docs/theory.md §17), which the
  sweep recognises exactly and counts apart (``test_documented_refusal_is_counted_apart_and_only_it``).

Regression tests for a fixed engine failure (found by this sweep): ConvergenceError when the root
had |log k_x| > 64, because the solver's absolute tolerance 1e-14 on log k_x was below the float
spacing there. It was hit in range by hardtanh at small pre-activation variance, γ = 0 (the
quadrature gives μ⊥² ≈ 1e-35 instead of 0, so k_x ≈ 1e-38); seed 2 of the sweep contains it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import rfshift as rf

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "solver_sweep.py"
_spec = importlib.util.spec_from_file_location("rfshift_solver_sweep", _PATH)
sweep = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sweep
_spec.loader.exec_module(sweep)

N_POINTS = 10_000
#: One group in 20 uses a spectrum with exactly this many atoms (as in the benchmark).
MAX_ATOMS = 100_000
#: Seed 2 of the sweep contained 3 hardtanh points with |log k_x| > 64 that used to fail.
SEED = 2


@pytest.fixture(scope="module")
def counts() -> sweep.Counts:
    return sweep.run_sweep(N_POINTS, seed=SEED, max_atoms=MAX_ATOMS)


def test_sweep_covers_the_requested_ranges(counts: sweep.Counts) -> None:
    assert counts.points == N_POINTS
    assert counts.max_atoms == MAX_ATOMS
    assert counts.max_condition > 1e7
    assert counts.peak_points > 0  # the interpolation peak is exercised


def test_sweep_no_nan(counts: sweep.Counts) -> None:
    assert counts.nan == 0, counts.failures


def test_sweep_no_unflagged_nonconvergence(counts: sweep.Counts) -> None:
    assert counts.residual == 0, counts.failures
    assert counts.max_residual < sweep.RESIDUAL_TOL
    assert counts.other_error == 0, counts.failures


def test_sweep_error_is_bias_plus_variance(counts: sweep.Counts) -> None:
    assert counts.sum_mismatch == 0, counts.failures


def test_sweep_bias_and_variance_nonnegative(counts: sweep.Counts) -> None:
    assert counts.negative_bias == 0, counts.failures
    assert counts.negative_variance == 0, counts.failures


def test_sweep_inf_only_at_interpolation_peak(counts: sweep.Counts) -> None:
    assert counts.inf_off_peak == 0, counts.failures
    assert counts.peak_with_ridge == 0, counts.failures
    assert counts.finite_at_peak == 0, counts.failures


def test_sweep_fine_grained_terms_sum_to_variance(counts: sweep.Counts) -> None:
    assert counts.terms_mismatch == 0, counts.failures


def test_sweep_no_convergence_error(counts: sweep.Counts) -> None:
    assert counts.convergence_error == 0, counts.failures


def test_repro_hardtanh_small_variance_ridgeless() -> None:
    spec = rf.Spectrum([0.00023, 1.1e-05, 0.0006], [0.00023, 1.1e-05, 0.0006])
    res = rf.asymptotics(spec, phi=0.024, psi=0.0, gamma=0.0, activation="hardtanh")
    # hardtanh is linear on [-1, 1] and s = 2.8e-4: the answer must be that of the linear model
    lin = rf.asymptotics(spec, phi=0.024, psi=0.0, gamma=0.0, activation="linear")
    assert float(res.error) == pytest.approx(float(lin.error), abs=1e-20)


def test_repro_huge_ridge_single_atom() -> None:
    res = rf.asymptotics(rf.Spectrum([1.0], [1.0]), phi=0.5, psi=0.25, gamma=2.171117945694492e55)
    assert float(res.error) == pytest.approx(1.0, rel=1e-12)  # γ → ∞: the predictor is 0, E = s* = 1


def test_residual_check_detects_a_wrong_root() -> None:
    """The independent residual is not vacuous: perturbing k_x by 1e-6 relative is caught."""
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    res = rf.asymptotics(spec, phi=np.array([0.5, 2.0]), psi=np.array([0.25, 0.1]), gamma=0.01)
    assert np.all(sweep.fixed_point_residual(spec, res) < 1e-12)
    import dataclasses

    wrong = dataclasses.replace(res, k_x=res.k_x * (1 + 1e-6))
    assert np.all(sweep.fixed_point_residual(spec, wrong) > 1e-8)


def test_documented_refusal_is_counted_apart_and_only_it() -> None:
    """The engine's float64 refusal (docs/theory.md §17: hardtanh μ⊥²(s) underflows, γ = 0, ψ > 0) is
    counted as ``refused``, point by point, and the group's other points are still evaluated and
    checked; any other ValueError, or the refusal's text where μ⊥² does not underflow, is not."""
    spec = rf.Spectrum.isotropic(1e-5)
    pts = {"phi": np.full(5, 0.5), "psi": np.array([0.2, 0.0, 0.2, 0.3, 0.5]),
           "gamma": np.array([0.0, 0.0, 1e-3, 0.0, 1e-6]), "noise_var": np.full(5, 0.1)}
    with pytest.raises(ValueError) as info:
        rf.asymptotics(spec, activation="hardtanh", **pts)
    assert sweep.documented_refusal(spec, "hardtanh", info.value)
    assert not sweep.documented_refusal(rf.Spectrum.isotropic(1.0), "hardtanh", info.value)
    assert not sweep.documented_refusal(spec, "hardtanh", ValueError("phi must be positive"))
    one = {k: v[1:2] for k, v in pts.items()}  # γ = 0, ψ = 0: not a point the refusal covers
    assert not sweep.documented_refusal(spec, "hardtanh", info.value, one)
    c = sweep.Counts()
    sweep._evaluate(spec, "hardtanh", pts, c)
    assert (c.refused, c.other_error, c.convergence_error, c.residual, c.nan) == (2, 0, 0, 0, 0)
    assert c.max_residual < 1e-12  # the three answered points were checked
