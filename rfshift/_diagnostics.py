"""When is the proportional limit trustworthy? A concentration diagnostic on the user's spectrum.

The limit (THEORY.md §3) linearises σ at the single pre-activation variance s = tr Σ/n0, i.e. it
assumes v_i = w_iᵀΣw_i/n0 ≈ s for every feature. For Gaussian w, E v_i = tr Σ/n0 and
Var v_i = 2 tr Σ²/n0², so the relative spread is

    sd(v_i)/E v_i = √(2 tr Σ² / (tr Σ)²) = √(2 / r_eff),   r_eff = (tr Σ)²/tr Σ²  (effective rank).

The limit needs r_eff → ∞. The diagnostic reports r_eff, the spread, and the largest eigenvalue's
share of the trace λ_max/tr Σ (note r_eff ≤ 1/share²), for Σ and (as an upper bound on r_eff, from
λ*_k = v_kᵀΣ*v_k, since Σ_k λ*_k² ≤ tr Σ*²) for Σ*. It needs the input dimension n0, which a
:class:`~rfshift.Spectrum` knows only when built from covariances or samples or given ``n0=``:
for a bare atomic spectrum the atoms are a measure of the limit itself (e.g. the bundled shift
families), and the diagnostic stays silent.

The warning threshold :data:`EFFECTIVE_RANK_WARN` is calibrated against the finite-size mode and
Monte Carlo (docs/validation.md, "Finite-size mode").
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .spectra import Spectrum

__all__ = ["EFFECTIVE_RANK_WARN", "Concentration", "ConcentrationWarning", "concentration"]

#: Warn when the effective rank of Σ or of Σ* (see module docstring) is below this. Calibrated on
#: 44 spectra (power laws, spikes; n0 = 100, 400; ReLU, erf; φ = 0.5, ψ = 1, γ = 0.01, σ² = 0.25;
#: docs/validation.md, "Finite-size mode"): with r_eff ≥ 50 the limit was within 1.4% of the
#: finite-size mode (beyond ordinary O(1/n0) effects), with r_eff 20–35 off by 2–6%, below 11 by
#: 5–42%; the finite-size mode itself agrees with Monte Carlo to ≤ 1.3% on those cases.
EFFECTIVE_RANK_WARN = 50.0

#: (upper r_eff bound, typical relative error of the limit) from the same calibration, for the message.
_CALIBRATION = ((11.0, "5–42%"), (20.0, "3–15%"), (35.0, "2–6%"), (50.0, "≈ 2%"))


class ConcentrationWarning(UserWarning):
    """The spectrum is too concentrated for the proportional limit; see :func:`rfshift.finite_size`."""


@dataclass(frozen=True)
class Concentration:
    """Concentration measures of a spectrum at input dimension ``n0``.

    ``effective_rank`` = (tr Σ)²/tr Σ²; ``effective_rank_star`` the same for Σ* computed from the
    diagonal λ* (an upper bound on the true value); ``spread`` = √(2/effective_rank), the relative
    standard deviation of w_iᵀΣw_i/n0; ``top_share`` = λ_max/tr Σ; ``concentrated``: whether
    min(effective_rank, effective_rank_star) < ``threshold``.
    """

    n0: int
    effective_rank: float
    effective_rank_star: float
    spread: float
    top_share: float
    threshold: float
    concentrated: bool

    def expected_gap(self) -> str:
        """Typical relative error of the limit at this effective rank (calibration table)."""
        r = min(self.effective_rank, self.effective_rank_star)
        for bound, gap in _CALIBRATION:
            if r < bound:
                return gap
        return "≤ 1.4%"

    def message(self) -> str:
        r = min(self.effective_rank, self.effective_rank_star)
        if r >= 0.7 * self.n0:  # a well-spread spectrum whose dimension itself is small
            return (
                f"n0 = {self.n0} is small for the proportional limit: the spectrum is well spread "
                f"(effective rank (tr Σ)²/tr Σ² = {self.effective_rank:.1f} of {self.n0}, test law ≤ "
                f"{self.effective_rank_star:.1f}), but per-feature pre-activation variances still spread "
                f"by {100 * self.spread:.0f}% (relative s.d.). At this effective rank the limit was "
                f"typically off by {self.expected_gap()} in calibration runs (docs/validation.md); "
                "use rfshift.finite_size(Sigma, Sigma_star, m=..., n1=..., gamma=...) for the error at "
                "these sizes"
            )
        return (
            f"the spectrum is concentrated for the proportional limit at n0 = {self.n0}: effective rank "
            f"(tr Σ)²/tr Σ² = {self.effective_rank:.1f} (test law ≤ {self.effective_rank_star:.1f}), "
            f"largest eigenvalue {100 * self.top_share:.1f}% of the trace, per-feature pre-activation "
            f"variance spread {100 * self.spread:.0f}% (relative s.d.). At this effective rank the "
            f"limit was typically off by {self.expected_gap()} in calibration runs (docs/validation.md); "
            "use rfshift.finite_size(Sigma, Sigma_star, m=..., n1=..., gamma=..., "
            "equivalent=\"generalized\") for the error at these sizes (on a spectrum this concentrated "
            "the generalized equivalent, "
            "which keeps the x-dependence of the leave-one-out quadratic forms, docs/theory.md §20.2, is "
            "the accurate one; the default equivalent=\"gaussian\" is faster but can be a few per cent off "
            "here, docs/validation.md §9.9)"
        )


def concentration(spec: Spectrum, n0: int | None = None, *,
                  threshold: float = EFFECTIVE_RANK_WARN) -> Concentration | None:
    """Concentration measures of ``spec`` at dimension ``n0`` (default ``spec.n0``); ``None`` when the
    dimension is unknown (a bare atomic spectrum: a measure of the limit, nothing to check).

    Each atom k stands for p_k·n0 eigenvalues, so tr Σ = n0 Σ p λ and tr Σ² = n0 Σ p λ².
    """
    if not isinstance(spec, Spectrum):
        raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
    n0 = spec.n0 if n0 is None else n0
    if n0 is None:
        return None
    if isinstance(n0, bool) or not isinstance(n0, (int, np.integer)) or n0 < 1:
        raise ValueError(f"n0 must be a positive integer, got {n0!r}")
    p = spec.weights
    m2 = float(p @ spec.lam**2)
    m2s = float(p @ spec.lam_star**2)
    r_eff = n0 * spec.s**2 / m2
    r_eff_star = n0 * spec.s_star**2 / m2s
    top = float(spec.lam.max()) / (n0 * spec.s)
    return Concentration(n0=int(n0), effective_rank=r_eff, effective_rank_star=r_eff_star,
                         spread=math.sqrt(2.0 / r_eff), top_share=min(top, 1.0), threshold=threshold,
                         concentrated=min(r_eff, r_eff_star) < threshold)


def warn_if_concentrated(spec: Spectrum, stacklevel: int = 3) -> None:
    """Issue a :class:`ConcentrationWarning` when :func:`concentration` flags ``spec``."""
    c = concentration(spec)
    if c is not None and c.concentrated:
        warnings.warn(c.message(), ConcentrationWarning, stacklevel=stacklevel)
