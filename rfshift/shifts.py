"""Named covariate-shift families built on :class:`rfshift.Spectrum`.

Each family is a function returning a ``Spectrum``; :data:`FAMILIES` lists them with their
parameters (default, lower, upper bound) for the CLI and the app. Those bounds are the one source
of truth for each named parameter's allowed range: the family functions enforce exactly them.

Target families (docs/theory.md, "Structured and nonlinear targets") put a target power b_k on the
atoms of a given spectrum; :data:`TARGETS` lists them like :data:`FAMILIES`. Every target family is
normalised to the **same training signal energy as the isotropic target**, ⟨b λ⟩ = s (so
E(βᵀx)²/n0 = tr Σ/n0 under the training law), so that changing the target's shape never changes
its overall size under the training law.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .spectra import Spectrum

__all__ = [
    "FAMILIES",
    "TARGETS",
    "ShiftFamily",
    "TargetFamily",
    "against_target",
    "aligned_target",
    "isotropic_scaling",
    "make_shift",
    "make_target",
    "power_law",
    "rotation",
    "source_target",
    "swap",
    "tilt",
]


def _check(name: str, value: float, lo: float, hi: float, *, lo_open: bool = False) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
        lo_s = f"({lo}" if lo_open else f"[{lo}"
        raise ValueError(f"{name} must be in {lo_s}, {hi}], got {value!r}")
    return x


def _param(kind: str, family: str, name: str, value: object) -> float:
    """Check ``value`` of parameter ``name`` of a named shift (``kind="shift"``) or target
    (``kind="target"``) family against its accepted range in :data:`FAMILIES` / :data:`TARGETS`
    (``limits``, else the slider range of ``params``). Raises TypeError (not a real number) or
    ValueError (NaN, or outside [lo, hi]), naming the family and the parameter."""
    table = FAMILIES if kind == "shift" else TARGETS
    fam = table[family]
    lo, hi = fam.limits[name] if name in fam.limits else fam.params[name][1:]
    where = f"{family} {kind}: {name}"
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TypeError(f"{where} must be a real number, got {value!r}") from None
    if math.isnan(x):
        raise ValueError(f"{where} is NaN; give a number in [{lo:g}, {hi:g}]")
    if not lo <= x <= hi:
        raise ValueError(f"{where} must be in [{lo:g}, {hi:g}], got {value!r}")
    return x


def isotropic_scaling(c: float = 2.0, *, lam: object = (1.0,), weights: object | None = None,
                      target_power: object | None = None) -> Spectrum:
    """Σ* = c Σ (test inputs c times larger in every direction); ``lam`` is the training spectrum
    (with optional ``weights`` and ``target_power`` per atom)."""
    c = _param("shift", "scaling", "c", c)
    lam_a = np.asarray(lam, dtype=float)
    return Spectrum(lam_a, c * lam_a, weights, target_power)


def swap(high: float = 1.5, low: float = 0.5) -> Spectrum:
    """Two equally weighted directions; the test law swaps their variances: λ = (high, low),
    λ* = (low, high). Equal traces; the shift moves test mass to the poorly learned direction."""
    high = _param("shift", "swap", "high", high)
    low = _param("shift", "swap", "low", low)
    return Spectrum([high, low], [low, high])


def power_law(
    exponent: float = 1.0, alpha: float = 0.5, *, n_atoms: int = 200, trace: str = "equal"
) -> Spectrum:
    """Power-law training spectrum λ_k ∝ k^(−exponent), k = 1..n_atoms, normalised to tr Σ/n0 = 1,
    and test spectrum Σ* = Σ^alpha renormalised to the same trace (``trace="equal"``) or left as is
    (``trace="raw"``). alpha > 1 moves test mass to the top directions, alpha < 1 to the tail."""
    exponent = _param("shift", "power_law", "exponent", exponent)
    alpha = _param("shift", "power_law", "alpha", alpha)
    n = int(_check("n_atoms", n_atoms, 1, 1e6))
    if trace not in ("equal", "raw"):
        raise ValueError(f"trace must be 'equal' or 'raw', got {trace!r}")
    k = np.arange(1, n + 1, dtype=float)
    lam = k**-exponent
    lam /= lam.mean()
    lam_star = lam**alpha
    if trace == "equal":
        lam_star *= lam.mean() / lam_star.mean()
    return Spectrum(lam, lam_star)


def tilt(tau: float = 1.0, *, lam: object | None = None, weights: object | None = None,
         target_power: object | None = None) -> Spectrum:
    """Tilt the test mass toward large (tau > 0) or small (tau < 0) training eigen-directions at
    equal trace: λ*_k ∝ λ_k exp(tau · z_k), z_k the standardised log λ_k. Default training spectrum:
    10 atoms log-spaced over [0.1, 10]; ``target_power`` (per atom) is carried over."""
    tau = _param("shift", "tilt", "tau", tau)
    lam_a = np.geomspace(0.1, 10.0, 10) if lam is None else np.asarray(lam, dtype=float)
    spec0 = Spectrum(lam_a, lam_a, weights)
    logl = np.log(np.where(spec0.lam > 0, spec0.lam, np.nan))
    mean = np.nansum(spec0.weights * logl) / spec0.weights[spec0.lam > 0].sum()
    sd = math.sqrt(np.nansum(spec0.weights * (logl - mean) ** 2)) or 1.0
    z = np.nan_to_num((logl - mean) / sd, nan=0.0)
    lam_star = spec0.lam * np.exp(tau * z)
    lam_star *= spec0.s / float(spec0.weights @ lam_star)
    return Spectrum(spec0.lam, lam_star, spec0.weights, target_power)


def rotation(angle: float = 45.0, high: float = 1.5, low: float = 0.5) -> Spectrum:
    """Σ = diag(high, low) and Σ* = R Σ Rᵀ with R a rotation by ``angle`` degrees (non-commuting
    for 0 < angle < 90): λ* = (high cos²θ + low sin²θ, high sin²θ + low cos²θ)."""
    angle = _param("shift", "rotation", "angle", angle)
    high = _param("shift", "rotation", "high", high)
    low = _param("shift", "rotation", "low", low)
    c, s = math.cos(math.radians(angle)) ** 2, math.sin(math.radians(angle)) ** 2
    return Spectrum([high, low], [high * c + low * s, high * s + low * c])


@dataclass(frozen=True)
class ShiftFamily:
    """A named family: ``fn(**params)`` returns a Spectrum; ``params`` maps name -> (default, lo, hi),
    the suggested (slider) range; ``limits`` the wider accepted range where there is one."""

    name: str
    fn: Callable[..., Spectrum]
    params: dict[str, tuple[float, float, float]]
    description: str
    #: Accepted range (lo, hi) per parameter where wider than the slider range of ``params``.
    limits: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __call__(self, **kwargs: float) -> Spectrum:
        unknown = set(kwargs) - set(self.params)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {sorted(unknown)} for shift {self.name!r}; "
                f"allowed: {sorted(self.params)}"
            )
        return self.fn(**kwargs)


FAMILIES: dict[str, ShiftFamily] = {
    "none": ShiftFamily("none", lambda: Spectrum.isotropic(), {}, "no shift, Σ = Σ* = I"),
    "scaling": ShiftFamily("scaling", isotropic_scaling, {"c": (2.0, 0.05, 10.0)}, "Σ* = cΣ",
                           {"c": (1e-6, 1e6)}),
    "swap": ShiftFamily("swap", swap, {"high": (1.5, 0.05, 10.0), "low": (0.5, 0.0, 10.0)},
                        "two directions whose variances swap at test time",
                        {"high": (1e-6, 1e6), "low": (0.0, 1e6)}),
    "power_law": ShiftFamily("power_law", power_law,
                             {"exponent": (1.0, 0.0, 3.0), "alpha": (0.5, -2.0, 3.0)},
                             "λ_k ∝ k^-exponent, Σ* ∝ Σ^alpha at equal trace",
                             {"exponent": (0.0, 10.0), "alpha": (-5.0, 5.0)}),
    "tilt": ShiftFamily("tilt", tilt, {"tau": (1.0, -3.0, 3.0)},
                        "test mass tilted toward large (tau>0) or small (tau<0) directions",
                        {"tau": (-10.0, 10.0)}),
    "rotation": ShiftFamily("rotation", rotation,
                            {"angle": (45.0, -90.0, 90.0), "high": (1.5, 0.05, 10.0),
                             "low": (0.5, 0.0, 10.0)},
                            "Σ* a rotated copy of Σ (non-commuting)",
                            {"angle": (-360.0, 360.0), "high": (1e-6, 1e6), "low": (0.0, 1e6)}),
}


# --- target families ------------------------------------------------------------------------------


def _normalised(spec: Spectrum, b: np.ndarray) -> Spectrum:
    """Attach b scaled so that ⟨b λ⟩ = s (same training signal energy as the isotropic target)."""
    energy = float(spec.weights @ (b * spec.lam))
    if not (math.isfinite(energy) and energy > 0):
        raise ValueError(
            "the target power vanishes on every direction the training law sees (⟨b λ⟩ = 0); "
            "choose other parameters"
        )
    return spec.with_target(b * (spec.s / energy))


def source_target(spec: Spectrum, alpha: float = 1.0) -> Spectrum:
    """Source-condition power law b_k ∝ λ_k^alpha on the atoms of ``spec``, normalised to ⟨b λ⟩ = s.

    alpha > 0 puts the target on the large training eigen-directions (easy targets), alpha < 0 on
    the small ones (hard targets), alpha = 0 is isotropic. Atoms with λ = 0 get b = 0 for alpha > 0
    and are refused for alpha < 0 (λ^alpha would be infinite). Raises ValueError.
    """
    alpha = _param("target", "power_law", "alpha", alpha)
    lam = spec.lam
    zero = lam == 0
    if alpha < 0 and (zero & (spec.weights > 0)).any():
        raise ValueError(
            f"alpha = {alpha!r} < 0 needs every training eigenvalue > 0 (λ^alpha is infinite at λ = 0)"
        )
    with np.errstate(divide="ignore"):
        b = np.where(zero, 1.0 if alpha == 0 else 0.0, np.where(zero, 1.0, lam) ** alpha)
    return _normalised(spec, b)


def _aligned_power(spec: Spectrum, tau: float) -> Spectrum:
    """b ∝ ρ^tau, ρ_k = (λ*_k/s* + δ)/(λ_k/s + δ), δ = 1e-6, normalised to ⟨b λ⟩ = s (signed tau)."""
    delta = 1e-6
    ratio = (spec.lam_star / spec.s_star + delta) / (spec.lam / spec.s + delta)
    return _normalised(spec, ratio**tau)


def aligned_target(spec: Spectrum, tau: float = 1.0) -> Spectrum:
    """Target power aligned with the shift: b_k ∝ (ρ_k)^tau with ρ_k = (λ*_k/s* + δ)/(λ_k/s + δ),
    δ = 1e-6, the test-to-train variance ratio of direction k (trace-normalised); normalised to
    ⟨b λ⟩ = s.

    tau > 0 puts the target where the shift adds test mass relative to training (the harmful case:
    the shift moves test mass onto directions the target needs and training rarely saw); tau = 0 is
    isotropic. tau must lie in the accepted range of ``TARGETS["aligned"]`` ([0, 10]); the opposite direction
    is :func:`against_target`. Raises TypeError/ValueError naming the family and tau.
    """
    return _aligned_power(spec, _param("target", "aligned", "tau", tau))


def against_target(spec: Spectrum, tau: float = 1.0) -> Spectrum:
    """Target power against the shift: b_k ∝ (1/ρ_k)^tau (ρ_k as in :func:`aligned_target`), i.e.
    the target sits where the shift removes test mass; tau in the range of ``TARGETS["against"]``
    ([0, 10]). Raises TypeError/ValueError naming the family and tau."""
    return _aligned_power(spec, -_param("target", "against", "tau", tau))


@dataclass(frozen=True)
class TargetFamily:
    """A named target family: ``fn(spec, **params)`` returns ``spec`` with a target power;
    ``params`` maps name -> (default, lo, hi)."""

    name: str
    fn: Callable[..., Spectrum]
    params: dict[str, tuple[float, float, float]]
    description: str
    #: Accepted range (lo, hi) per parameter where wider than the slider range of ``params``.
    limits: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __call__(self, spec: Spectrum, **kwargs: float) -> Spectrum:
        unknown = set(kwargs) - set(self.params)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {sorted(unknown)} for target {self.name!r}; "
                f"allowed: {sorted(self.params)}"
            )
        return self.fn(spec, **kwargs)


TARGETS: dict[str, TargetFamily] = {
    "isotropic": TargetFamily("isotropic", lambda spec: spec.with_target(None), {},
                              "β ~ N(0, I): b ≡ 1"),
    "power_law": TargetFamily("power_law", source_target, {"alpha": (1.0, -3.0, 3.0)},
                              "source condition b ∝ λ^alpha, ⟨bλ⟩ = s", {"alpha": (-5.0, 5.0)}),
    "aligned": TargetFamily("aligned", aligned_target, {"tau": (1.0, 0.0, 3.0)},
                            "b ∝ (λ*/λ)^tau: target where the shift adds test mass",
                            {"tau": (0.0, 10.0)}),
    "against": TargetFamily("against", against_target,
                            {"tau": (1.0, 0.0, 3.0)},
                            "b ∝ (λ/λ*)^tau: target where the shift removes test mass",
                            {"tau": (0.0, 10.0)}),
}


def make_target(spec: Spectrum, name: str, **params: float) -> Spectrum:
    """Attach a named target family to ``spec``: ``make_target(spec, "power_law", alpha=1)``."""
    try:
        fam = TARGETS[name]
    except KeyError:
        raise ValueError(f"unknown target family {name!r}; choose one of {', '.join(TARGETS)}") from None
    return fam(spec, **params)


def make_shift(name: str, **params: float) -> Spectrum:
    """Build a named shift: ``make_shift("swap", high=2, low=0.5)``."""
    try:
        fam = FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown shift family {name!r}; choose one of {', '.join(FAMILIES)}") from None
    return fam(**params)
