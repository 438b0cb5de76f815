"""Disagreement-on-the-line and a label-free estimate of the OOD error (docs/theory.md §18.4–18.5).

Ridgeless (γ = 0), overparameterised (0 < ψ < φ), number of features varying, everything else
fixed: k_x (hence κ) does not depend on ψ (THEORY.md §8). The bias and the data-only ANOVA terms
V_X, V_Xε depend on k_x alone, so with x = ψ/(φ − ψ) and the error line E_x = a_x + b_x·x of
:func:`rfshift.linear_relation`, for each test law (ID, OOD)

    shared data      D = 2(V − V_X − V_Xε)       = 2 b_x · x                       (a line through 0)
    independent      D = 2V                      = 2(a_x − B_x) + 2 b_x · x        (a line)
    shared features  D = 2(V − V_W)              = 2(a_x − B_x) + 2 b_x · x − 2 V_W,x(ψ),
                     V_W,x(ψ) = ψ a2 Ξ_x / (μ1² (1 − ψ a2))                     (not a line)

so OOD against ID disagreement is a line for the first two kinds, with **the error line's slope**
b_OOD/b_ID (whatever σ², shift or activation), and intercept 0 (shared data) or
2[(a − B)_OOD − slope·(a − B)_ID] (independent). For shared features it is a line only when
Ξ_OOD = slope·Ξ_ID (e.g. ReLU with Σ* = cΣ); ``departure`` gives its exact distance from the
asymptote (the independent line). Off the family (γ > 0 or ψ > φ) no kind is exactly a line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_parameter
from ..activations import Activation, get_activation
from ..engine import asymptotics
from ..spectra import Spectrum
from ._weights import atom_u
from .linear import linear_relation

__all__ = [
    "DISAGREEMENT_KINDS",
    "DisagreementRelation",
    "OODEstimate",
    "disagreement_deviation",
    "disagreement_relation",
    "ood_error_estimate",
]

#: The three pairings of :class:`rfshift.engine.Disagreement`.
DISAGREEMENT_KINDS = ("shared_data", "shared_features", "independent")


def _check_kind(kind: object) -> str:
    if kind not in DISAGREEMENT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DISAGREEMENT_KINDS)}, got {kind!r}")
    return str(kind)


@dataclass(frozen=True)
class DisagreementRelation:
    """D_OOD = slope · D_ID + intercept along ψ ∈ (0, φ) at γ = 0 (docs/theory.md §18.4).

    ``a_id``/``a_ood`` are the ψ → 0 disagreements and ``b_id``/``b_ood`` the coefficients of
    ψ/(φ − ψ); ``c_id``/``c_ood`` are 2a2Ξ/μ1² (the shared-features correction −c ψ/(1 − ψ a2),
    0 for the other kinds) and ``a2`` = ⟨λ²/(λ + k_x)²⟩. ``error_slope``/``error_intercept`` are the
    error line of :func:`rfshift.linear_relation` (``slope == error_slope`` always: the two
    slopes are the same number, computed once). Fields broadcast over ``phi`` and ``noise_var``.
    """

    kind: str
    slope: np.ndarray
    intercept: np.ndarray
    phi: np.ndarray
    noise_var: np.ndarray
    a_id: np.ndarray
    b_id: np.ndarray
    a_ood: np.ndarray
    b_ood: np.ndarray
    c_id: np.ndarray
    c_ood: np.ndarray
    a2: np.ndarray
    error_slope: np.ndarray
    error_intercept: np.ndarray
    kappa: np.ndarray

    @property
    def is_line(self) -> np.ndarray:
        """True where OOD vs ID disagreement is exactly a line (always for shared_data/independent)."""
        if self.kind != "shared_features":
            return np.ones(np.shape(self.slope), dtype=bool)[()]
        return np.isclose(self.c_ood, self.slope * self.c_id, rtol=1e-12, atol=0.0)[()]

    def predict(self, disagreement_id: object) -> np.ndarray:
        """slope · disagreement_id + intercept."""
        return self.slope * np.asarray(disagreement_id, dtype=float) + self.intercept

    def disagreements(self, psi: object) -> tuple[np.ndarray, np.ndarray]:
        """(D_ID(ψ), D_OOD(ψ)) for 0 <= ψ < φ at γ = 0 (equal to the engine's values)."""
        psi_a = check_parameter(psi, "psi", allow_zero=True, description="n0/n1")
        if np.any(psi_a >= self.phi):
            raise ValueError("the disagreement line is defined for 0 <= psi < phi (overparameterised); "
                             f"got psi up to {float(np.max(psi_a))!r} with phi = {self.phi!r}")
        x = psi_a / (self.phi - psi_a)
        corr = psi_a / (1.0 - psi_a * self.a2)
        return (self.a_id + self.b_id * x - self.c_id * corr,
                self.a_ood + self.b_ood * x - self.c_ood * corr)

    def departure(self, psi: object) -> np.ndarray:
        """D_OOD(ψ) − (slope · D_ID(ψ) + intercept): exactly −(c_OOD − slope·c_ID) ψ/(1 − ψ a2)
        for shared features, 0 (to rounding) for the other kinds."""
        d_id, d_ood = self.disagreements(psi)
        return d_ood - self.predict(d_id)

    def estimate_ood_error(self, error_id: object) -> np.ndarray:
        """Disagreement-on-the-line estimate slope · E_ID + intercept of the OOD error: the error
        line assumed equal to this disagreement line (Baek et al. 2022's transfer; no OOD labels)."""
        return self.predict(error_id)

    @property
    def estimator_bias(self) -> np.ndarray:
        """Exact bias of :meth:`estimate_ood_error` on the family: intercept − error_intercept
        (ψ-independent because the slopes coincide)."""
        return self.intercept - self.error_intercept


def disagreement_relation(
    spec: Spectrum,
    *,
    phi: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    kind: str = "shared_data",
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> DisagreementRelation:
    """Slope and intercept of OOD vs ID disagreement as the number of features varies.

    Source: docs/theory.md §18.4 (disagreement-on-the-line; with targets §19.2–19.3). Exact along
    the ridgeless (γ = 0), overparameterised (ψ < φ) family of :func:`rfshift.linear_relation`,
    on which D_x(ψ) = a_x + b_x·ψ/(φ − ψ) − c_x·ψ/(1 − ψ a2) for x ∈ {ID, OOD}.

    Parameters
    ----------
    spec:
        The joint spectrum (:class:`rfshift.Spectrum`); its ``target_power`` is honoured.
    phi:
        φ = n0/m > 0; broadcasts with ``noise_var``.
    noise_var:
        Training label-noise variance σ² >= 0 (the slope does not depend on it).
    activation:
        Name or :class:`rfshift.Activation`.
    kind:
        ``"shared_data"`` (default; two models trained on the same data with independent
        features), ``"shared_features"`` or ``"independent"`` (:data:`DISAGREEMENT_KINDS`).
        For ``shared_features`` the slope and intercept are those of the asymptote (the
        independent line) and :meth:`DisagreementRelation.departure` is the exact, generally
        non-zero, distance from it.
    nonlinear_var, nonlinear_var_test, teacher:
        Structured/nonlinear target (docs/theory.md §19), passed to :func:`rfshift.asymptotics`;
        scalars only when set (as in :func:`rfshift.linear_relation`). The slope still equals the
        error line's slope; the coefficients are then read off the engine at ψ = 0 and ψ = φ/2.

    Returns
    -------
    DisagreementRelation
        Every array field (``slope``, ``intercept``, ``phi``, ``noise_var``, ``a_id``, ``b_id``,
        ``a_ood``, ``b_ood``, ``c_id``, ``c_ood``, ``a2``, ``error_slope``, ``error_intercept``,
        ``kappa``) has the broadcast shape of (``phi``, ``noise_var``); 0-d inputs give NumPy
        scalars. ``kind`` is a str.

    Raises
    ------
    ValueError
        Bad input (naming the argument), an unknown ``kind``, an array ``nonlinear_var`` with a
        target, or κ = ∞ (ridgeless linear model with at least as many samples as non-null
        directions, as in :func:`rfshift.linear_relation`).
    TypeError
        ``spec`` is not a :class:`rfshift.Spectrum`.

    Examples
    --------
    >>> import rfshift as rf
    >>> spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    >>> rel = rf.disagreement_relation(spec, phi=2.0, noise_var=0.1)
    >>> res = rf.asymptotics(spec, phi=2.0, psi=0.7, gamma=0.0, noise_var=0.1)
    >>> d = res.disagreement.shared_data, res.disagreement_id.shared_data
    >>> abs(float(rel.predict(d[1]) - d[0])) < 1e-10, bool(rel.slope == rel.error_slope)
    (True, True)
    """
    kind = _check_kind(kind)
    if not isinstance(spec, Spectrum):
        raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
    act = get_activation(activation)
    tkw = dict(nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test, teacher=teacher)
    lin = linear_relation(spec, phi=phi, noise_var=noise_var, activation=act, **tkw)
    shape = np.shape(lin.slope)
    ph, nv = np.ravel(lin.phi), np.ravel(lin.noise_var)
    # Bias does not depend on ψ on this family (k_x does not): evaluate it at ψ = φ/2.
    res = asymptotics(spec, phi=ph, psi=0.5 * ph, gamma=0.0, noise_var=nv, activation=act, **tkw)
    bias_id, bias_ood = np.ravel(res.bias_id), np.ravel(res.bias)
    kx = np.ravel(res.k_x)
    lam, lam_s, p = spec.lam, spec.lam_star, spec.weights
    u = atom_u(kx, lam)
    a2 = ((1.0 - u) ** 2) @ p  # ⟨λ²/(λ + k_x)²⟩
    slope = np.ravel(lin.slope)
    zeros = np.zeros_like(slope)
    targeted = (spec.has_target or teacher is not None or np.any(np.asarray(nonlinear_var) != 0)
                or (nonlinear_var_test is not None and np.any(np.asarray(nonlinear_var_test) != 0)))
    if targeted:
        # docs/theory.md §19.2–19.3: the target changes the ψ-free scalars only (k_x, B, V_X, V_Xε,
        # Ξ do not move with ψ), so D = a + b·ψ/(φ − ψ) − c·ψ/(1 − ψa2) keeps its form; read a at
        # ψ = 0, a + b at ψ = φ/2 (x = 1) and c from V_W(φ/2) = (c/2)·(φ/2)/(1 − (φ/2)a2)
        # (V_W = ψ a2_b Ξ/(μ1²(1 − ψa2)), a2_b the target-weighted a2).
        res0 = asymptotics(spec, phi=ph, psi=0.0, gamma=0.0, noise_var=nv, activation=act, **tkw)
        pair = "independent" if kind == "shared_features" else kind
        d0_id = np.ravel(getattr(res0.disagreement_id, pair))
        d0_ood = np.ravel(getattr(res0.disagreement, pair))
        a_id, a_ood = (zeros, zeros) if kind == "shared_data" else (d0_id, d0_ood)
        b_id = np.ravel(getattr(res.disagreement_id, pair)) - d0_id
        b_ood = np.ravel(getattr(res.disagreement, pair)) - d0_ood
        if kind == "shared_features":
            to_c = 2.0 * (1.0 - 0.5 * ph * a2) / (0.5 * ph)
            c_id = to_c * np.ravel(res.variance_terms_id.w)
            c_ood = to_c * np.ravel(res.variance_terms.w)
        else:
            c_id, c_ood = zeros, zeros
    else:
        tr, te = res.train_constants, res.test_constants
        xi_id = tr.mu1**2 * ((u * u) @ (p * lam)) + tr.mu_perp2  # Ξ = μ1² k_x² c0 + μ⊥²
        xi_ood = te.mu1**2 * ((u * u) @ (p * lam_s)) + te.mu_perp2  # Ξ* (THEORY.md §7)
        b_id, b_ood = 2.0 * np.ravel(lin.b_id), 2.0 * np.ravel(lin.b_ood)
        if kind == "shared_data":
            a_id, a_ood, c_id, c_ood = zeros, zeros, zeros, zeros
        else:
            a_id = 2.0 * (np.ravel(lin.a_id) - bias_id)  # 2(V_X + V_Xε), ID
            a_ood = 2.0 * (np.ravel(lin.a_ood) - bias_ood)
            if kind == "independent":
                c_id, c_ood = zeros, zeros
            else:
                c_id, c_ood = 2.0 * a2 * xi_id / tr.mu1**2, 2.0 * a2 * xi_ood / tr.mu1**2
    intercept = a_ood - slope * a_id

    def shaped(a: np.ndarray) -> np.ndarray:
        a = np.asarray(a, dtype=float).reshape(shape)
        return a[()] if a.ndim == 0 else a

    return DisagreementRelation(
        kind=kind, slope=shaped(slope), intercept=shaped(intercept), phi=shaped(ph),
        noise_var=shaped(nv), a_id=shaped(a_id), b_id=shaped(b_id), a_ood=shaped(a_ood),
        b_ood=shaped(b_ood), c_id=shaped(c_id), c_ood=shaped(c_ood), a2=shaped(a2),
        error_slope=lin.slope, error_intercept=lin.intercept, kappa=lin.kappa,
    )


def disagreement_deviation(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    kind: str = "shared_data",
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> np.ndarray:
    """Signed distance of the engine's (D_ID, D_OOD) from the γ = 0 disagreement line of ``kind``.

    0 (to rounding) for γ = 0, ψ < φ and kind ``shared_data``/``independent``; measures how far the
    points leave the line for γ > 0 or ψ > φ (docs/theory.md §18.4). Parameters broadcast as in
    :func:`rfshift.asymptotics`; the result has their broadcast shape. ``nonlinear_var``,
    ``nonlinear_var_test`` and ``teacher`` (scalars) are passed to the engine and to
    :func:`disagreement_relation`. Raises ValueError at the interpolation peak.
    """
    kind = _check_kind(kind)
    act = get_activation(activation)
    tkw = dict(nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test, teacher=teacher)
    res = asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise_var, activation=act,
                      **tkw)
    if np.any(res.interpolation_peak):
        raise ValueError("the disagreement deviation is undefined at the interpolation peak "
                         "(gamma = 0, psi = phi): the disagreements are infinite")
    rel = disagreement_relation(spec, phi=res.phi, noise_var=res.noise_var, activation=act, kind=kind,
                                **tkw)
    d_ood = getattr(res.disagreement, kind)
    d_id = getattr(res.disagreement_id, kind)
    return np.asarray(d_ood - rel.predict(d_id))[()]


@dataclass(frozen=True)
class OODEstimate:
    """Label-free estimate of the OOD error (clean test labels) and its exact bias (docs/theory.md §18.5).

    ``estimate`` uses only the ID error and ID/OOD disagreements; ``error`` is the true OOD error
    and ``bias = estimate − error``; ``slope`` is the label-free slope ŝ = D_OOD/D_ID of the
    shared-data disagreement. Arrays have the broadcast shape of the parameters.
    """

    method: str
    estimate: np.ndarray
    error: np.ndarray
    bias: np.ndarray
    slope: np.ndarray


def ood_error_estimate(
    spec: Spectrum,
    *,
    phi: object,
    psi: object,
    gamma: object,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    method: str = "ratio",
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> OODEstimate:
    """Estimate the OOD error without OOD labels, and its exact bias, at any (φ, ψ, γ, σ²).

    Source: docs/theory.md §18.5. ``phi``, ``psi``, ``gamma``, ``noise_var`` (and
    ``nonlinear_var``, ``nonlinear_var_test``) broadcast as in :func:`rfshift.asymptotics`; the
    structured/nonlinear target keywords ``nonlinear_var``, ``nonlinear_var_test``, ``teacher``
    (docs/theory.md §19) are passed to it, and ``spec.target_power`` is honoured. Returns an
    :class:`OODEstimate` whose ``estimate``, ``error``, ``bias`` and ``slope`` all have that
    broadcast shape (NumPy scalars for 0-d input); ``method`` is the str given.

    With ŝ = D^sd_OOD/D^sd_ID (shared-data disagreements: retrain with new features on the same
    data and compare predictions on unlabelled ID and OOD inputs):

    * ``method="ratio"``: Ê = ŝ · E_ID. On the ridgeless overparameterised family ŝ is the error
      line's slope and the bias is −(error intercept) = slope·a_ID − a_OOD; elsewhere
      ŝ·E_ID − E_OOD.
    * ``method="variance"``: Ê = ŝ · (E_ID − D^in_ID/2) + D^in_OOD/2, which uses that half the
      independent disagreement *is* the variance; only the bias is transferred, so the bias is
      ŝ·B_ID − B_OOD in every regime (0 for ReLU with Σ* = cΣ, for example).

    Raises ValueError where the shared-data ID disagreement vanishes (ψ = 0, or a linear model
    whose features span the data), since ŝ is then 0/0, and at the interpolation peak (inf/inf).
    """
    if method not in ("ratio", "variance"):
        raise ValueError(f"method must be 'ratio' or 'variance', got {method!r}")
    act = get_activation(activation)
    tkw = dict(nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test, teacher=teacher)
    res = asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise_var, activation=act,
                      **tkw)
    if np.any(res.interpolation_peak):
        raise ValueError("the label-free estimate is undefined at the interpolation peak "
                         "(gamma = 0, psi = phi): the disagreements are infinite")
    d, d_id = res.disagreement, res.disagreement_id
    if np.any(d_id.shared_data <= 0):
        i = int(np.flatnonzero(np.ravel(d_id.shared_data) <= 0)[0])
        raise ValueError(
            "the shared-data ID disagreement is 0 at "
            f"psi={float(np.ravel(res.psi)[i])!r} (psi = 0, or linear features spanning the data): "
            "the slope D_OOD/D_ID is 0/0 there"
        )
    s_hat = d.shared_data / d_id.shared_data
    if method == "ratio":
        est = s_hat * res.error_id
    else:
        est = s_hat * (res.error_id - 0.5 * d_id.independent) + 0.5 * d.independent
    return OODEstimate(method=method, estimate=np.asarray(est)[()], error=res.error,
                       bias=np.asarray(est - res.error)[()], slope=np.asarray(s_hat)[()])
