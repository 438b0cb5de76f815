"""The exact ID/OOD linear relation (THEORY.md §8).

Ridgeless (γ = 0), overparameterised (0 ≤ ψ < φ), number of features varying, everything else
fixed: κ solves κ(ω + I_{1,1}) = 1 independently of ψ and, for x ∈ {ID, OOD},

    E_x(ψ) = a_x + b_x · ψ/(φ − ψ),
    b_x = (ρ_x/ρ) κ (σ² + I_{1,1})(ω_x + I^x_{1,1}),
    a_x = B_x + (ρ_x/ρ) κ (σ² + φI_{1,2}) I^x_{2,2} / (ω + φI_{1,2}),

so E_OOD = slope · E_ID + intercept with slope = b_OOD/b_ID = (ρ*/ρ) κ (ω* + I*_{1,1}) (independent
of σ²) and intercept = a_OOD − slope · a_ID. Moments (THEORY.md §4, u = φ/(φ + κλ)):
I_{1,1} = ∫λu dμ, φI_{1,2} = ∫λu² dμ, I*_{1,1} = ∫u dν, κI*_{2,2} = ∫u(1−u) dν, ν = λ* μ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._anova import variance_parts
from .._validation import check_parameter
from ..activations import Activation, get_activation
from ..engine import asymptotics
from ..spectra import Spectrum
from ._weights import atom_u

__all__ = ["LinearRelation", "deviation", "linear_relation"]


@dataclass(frozen=True)
class LinearRelation:
    """E_OOD = slope · E_ID + intercept along ψ ∈ [0, φ) at γ = 0 (THEORY.md §8).

    ``a_id``/``a_ood`` are the ψ → 0 (kernel) errors and ``b_id``/``b_ood`` the coefficients of
    ψ/(φ − ψ). Fields broadcast over ``phi`` and ``noise_var``.
    """

    slope: np.ndarray
    intercept: np.ndarray
    phi: np.ndarray
    noise_var: np.ndarray
    a_id: np.ndarray
    b_id: np.ndarray
    a_ood: np.ndarray
    b_ood: np.ndarray
    kappa: np.ndarray

    def predict(self, error_id: object) -> np.ndarray:
        """slope · error_id + intercept."""
        return self.slope * np.asarray(error_id, dtype=float) + self.intercept

    def errors(self, psi: object) -> tuple[np.ndarray, np.ndarray]:
        """(E_ID(ψ), E_OOD(ψ)) = a + b ψ/(φ − ψ) for 0 ≤ ψ < φ (γ = 0)."""
        psi_a = check_parameter(psi, "psi", allow_zero=True, description="n0/n1")
        if np.any(psi_a >= self.phi):
            raise ValueError("the linear relation holds for 0 <= psi < phi (overparameterised); "
                             f"got psi up to {float(np.max(psi_a))!r} with phi = {self.phi!r}")
        x = psi_a / (self.phi - psi_a)
        return self.a_id + self.b_id * x, self.a_ood + self.b_ood * x

    def intercept_noisy(self) -> np.ndarray:
        """Intercept for noisy test labels: intercept + σ²(1 − slope)."""
        return self.intercept + self.noise_var * (1.0 - self.slope)

    def to_dataframe(self):  # -> pandas.DataFrame
        """One row per point with every field as a column (needs pandas: ``rfshift[frames]``)."""
        from .._frames import to_dataframe

        return to_dataframe(self, np.shape(self.slope), ("phi", "noise_var"),
                            {"intercept_noisy": self.intercept_noisy()})

    def to_xarray(self):  # -> xarray.Dataset
        """The fields on the broadcast grid, axes named after the parameter varying along them
        (needs xarray: ``rfshift[frames]``)."""
        from .._frames import to_xarray

        return to_xarray(self, np.shape(self.slope), ("phi", "noise_var"),
                         {"intercept_noisy": self.intercept_noisy()})


def linear_relation(
    spec: Spectrum,
    *,
    phi: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> LinearRelation:
    """Slope and intercept of E_OOD = slope · E_ID + intercept (THEORY.md §8).

    Exact along the ridgeless (γ = 0), overparameterised (ψ < φ) family with the number of features
    varying; ``phi`` and ``noise_var`` broadcast. The slope does not depend on ``noise_var``.

    With a structured or nonlinear target (``spec.target_power``, ``nonlinear_var``,
    ``nonlinear_var_test``, ``teacher``; docs/theory.md §19) the form E_x(ψ) = a_x + b_x ψ/(φ − ψ)
    still holds (κ is label-independent, and the target enters only through ψ-free training
    scalars); a_x and b_x are then read off the engine at ψ = 0 and ψ = φ/2, where ψ/(φ − ψ) = 1.

    Examples
    --------
    >>> import rfshift as rf
    >>> spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    >>> rel = rf.linear_relation(spec, phi=2.0, noise_var=0.1)
    >>> res = rf.asymptotics(spec, phi=2.0, psi=0.7, gamma=0.0, noise_var=0.1)
    >>> abs(float(rel.predict(res.error_id) - res.error)) < 1e-10
    True
    """
    if not isinstance(spec, Spectrum):
        raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
    act = get_activation(activation)
    phi_a = check_parameter(phi, "phi", allow_zero=False, description="n0/m")
    nv_a = check_parameter(noise_var, "noise_var", allow_zero=True, description="label noise")
    shape = np.broadcast_shapes(phi_a.shape, nv_a.shape)
    ph = np.ravel(np.broadcast_to(phi_a, shape))
    nv = np.ravel(np.broadcast_to(nv_a, shape))
    tkw = dict(nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test, teacher=teacher)
    targeted = (spec.has_target or teacher is not None or np.any(np.asarray(nonlinear_var) != 0)
                or (nonlinear_var_test is not None and np.any(np.asarray(nonlinear_var_test) != 0)))
    if targeted:
        for name in ("nonlinear_var", "nonlinear_var_test"):
            if np.ndim(tkw[name]) != 0:
                raise ValueError(f"linear_relation takes a scalar {name}")
    # κ does not depend on ψ on this family: solve at ψ = φ/2 (γ = 0).
    res = asymptotics(spec, phi=ph, psi=0.5 * ph, gamma=0.0, noise_var=nv, activation=act, **tkw)
    kx = np.ravel(res.k_x)
    if np.any(kx <= 0):
        raise ValueError(
            f"κ = ∞ for activation {act.name!r} at phi = {float(ph[np.flatnonzero(kx <= 0)[0]])!r} "
            "(ridgeless linear model with at least as many samples as non-null directions); the "
            "ψ-family is degenerate there and the relation of THEORY.md §8 is not defined"
        )
    lam, lam_s, p = spec.lam, spec.lam_star, spec.weights
    u = atom_u(kx, lam)
    kappa = ph / kx
    rho, omega, rho_s, omega_s, r = res.rho, res.omega, res.rho_star, res.omega_star, res.r
    i11 = (u * lam) @ p
    phi_i12 = (u * u * lam) @ p

    def side(lx: np.ndarray, rho_x: float, omega_x: float, r_x: float) -> tuple[np.ndarray, np.ndarray]:
        ix11 = u @ (p * lx)  # I^x_{1,1} = ∫ u dν_x
        k_ix22 = (u * (1.0 - u)) @ (p * lx)  # κ I^x_{2,2}
        bias = ((1.0 - r_x * (1.0 - u)) ** 2) @ (p * lx)  # B_x (THEORY.md §5), a sum of squares
        # The §5 variance at γ = 0 and ψ = φ/2 (t = 0, t̄ = 1/2, ψ/(φ − ψ) = 1, D = ρ(φ/2)(ω + φI₁₂)):
        # its parts are (0, b, a − B) exactly (rfshift._anova holds the assembly).
        kp = (rho_x / rho) * kappa / (0.5 * ph * (omega + phi_i12))
        _, b, a_var = variance_parts(kp, phi=ph, psi=0.5 * ph, t=0.0, t_bar=0.5, noise_var=nv,
                                     omega=omega, i11=i11, phi_i12=phi_i12, i22=0.0, omega_x=omega_x,
                                     ix11=ix11, phi_ix12=0.0, ix22=k_ix22 / kappa)
        return bias + a_var, b

    if targeted:
        # docs/theory.md §19: same a + b ψ/(φ − ψ) form; read a at ψ = 0 and a + b at ψ = φ/2.
        res0 = asymptotics(spec, phi=ph, psi=0.0, gamma=0.0, noise_var=nv, activation=act, **tkw)
        a_id, a_ood = np.ravel(res0.error_id), np.ravel(res0.error)
        b_id, b_ood = np.ravel(res.error_id) - a_id, np.ravel(res.error) - a_ood
    else:
        a_id, b_id = side(lam, rho, omega, 1.0)
        a_ood, b_ood = side(lam_s, rho_s, omega_s, r)
    slope = (rho_s / rho) * kappa * (omega_s + (u @ (p * lam_s)))  # = b_ood/b_id (κ(ω+I11) = 1)
    intercept = a_ood - slope * a_id

    def shaped(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=float).reshape(shape)
        return a[()] if a.ndim == 0 else a

    return LinearRelation(slope=shaped(slope), intercept=shaped(intercept), phi=shaped(ph),
                          noise_var=shaped(nv), a_id=shaped(a_id), b_id=shaped(b_id),
                          a_ood=shaped(a_ood), b_ood=shaped(b_ood), kappa=shaped(kappa))


def deviation(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> np.ndarray:
    """Signed distance of the engine's (E_ID, E_OOD) from the γ = 0 line: E_OOD − (slope·E_ID + intercept).

    The line is :func:`linear_relation` at the same ``phi`` and ``noise_var``; the deviation is 0
    (to rounding) for γ = 0 and ψ < φ, and measures how far the points leave the line for γ > 0
    (roughly ∝ γ) or ψ > φ. ``inf`` is never returned: the interpolation peak (γ = 0, ψ = φ) raises.

    Examples
    --------
    >>> import rfshift as rf
    >>> spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    >>> d = rf.analysis.deviation(spec, phi=2.0, psi=[0.5, 0.5], gamma=[0.0, 1e-2], noise_var=0.1)
    >>> bool(abs(d[0]) < 1e-12 and abs(d[1]) > 1e-6)
    True
    """
    act = get_activation(activation)
    res = asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise_var, activation=act,
                      nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test,
                      teacher=teacher)
    if np.any(res.interpolation_peak):
        raise ValueError("deviation is undefined at the interpolation peak (gamma = 0, psi = phi): "
                         "both errors are infinite")
    rel = linear_relation(spec, phi=res.phi, noise_var=res.noise_var, activation=act,
                          nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test,
                          teacher=teacher)
    return np.asarray(res.error - rel.predict(res.error_id))[()]
