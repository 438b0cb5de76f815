"""Engine calls of the app, cached at the page boundary (``st.cache_data``) and returned as plain
dicts of NumPy arrays (cheap to hash, copy and tabulate)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

import rfshift as rf

from .guard import guarded
from .pickers import SpectrumChoice, make_spectrum

CURVE_FIELDS = ("error", "bias", "variance", "error_id", "bias_id", "variance_id")


def compute_curve(
    lam: np.ndarray,
    lam_star: np.ndarray,
    weights: np.ndarray,
    *,
    phi: Any,
    psi: Any,
    gamma: Any,
    noise_var: float,
    activation: str,
    terms: bool = False,
    target_power: np.ndarray | None = None,
    teacher: str | None = None,
    nonlinear_var: float = 0.0,
) -> dict[str, np.ndarray]:
    """Engine call for a sweep: the error/bias/variance arrays (ID and OOD), the peak mask and,
    with ``terms``, the fine-grained OOD variance terms ``term_<name>``; ``target_power`` is the
    target's b per atom (None: isotropic); ``teacher`` a built-in activation name f* for labels
    y = f*(βᵀx/√d) + ε (None: the linear target; passed only when set); ``nonlinear_var`` the
    variance of a nonlinear target part under both laws (passed only when non-zero)."""
    spec = make_spectrum(lam, lam_star, weights, target_power)
    extra = {} if teacher is None else {"teacher": teacher}
    if nonlinear_var:
        extra["nonlinear_var"] = nonlinear_var
    res = rf.asymptotics(
        spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise_var, activation=activation, **extra
    )
    out = {f: np.asarray(getattr(res, f), dtype=float) for f in CURVE_FIELDS}
    out["peak"] = np.asarray(res.interpolation_peak, dtype=bool)
    if terms:
        for k, v in res.variance_terms.as_dict().items():
            out[f"term_{k}"] = np.asarray(v, dtype=float)
    return out


#: :func:`compute_curve` cached on all its arguments (page-boundary cache).
cached_curve = st.cache_data(show_spinner=False, max_entries=256)(compute_curve)


def point(
    choice: SpectrumChoice, *, phi: float, psi: float, gamma: float, noise_var: float, activation: str
) -> rf.Asymptotics:
    """The full engine result at one parameter point (guarded)."""
    return guarded(
        rf.asymptotics,
        choice.spec,
        phi=phi,
        psi=psi,
        gamma=gamma,
        noise_var=noise_var,
        activation=activation,
        what="Engine",
    )


@st.cache_data(show_spinner=False, max_entries=64)
def robustness(
    lam: np.ndarray,
    lam_star: np.ndarray,
    weights: np.ndarray,
    *,
    phi: float,
    features_per_sample: np.ndarray,
    noise_var: float,
    activation: str,
    target_power: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``rf.robustness_curve`` at γ = 0 over N/n = ``features_per_sample``, with the ridgeless line
    (``rf.linear_relation``): gap = E_OOD − E_ID, ratio = E_OOD/E_ID = slope + intercept/E_ID on it."""
    spec = make_spectrum(lam, lam_star, weights, target_power)
    cur = rf.robustness_curve(
        spec,
        phi=phi,
        features_per_sample=features_per_sample,
        gamma=0.0,
        noise_var=noise_var,
        activation=activation,
    )
    rel = rf.linear_relation(spec, phi=phi, noise_var=noise_var, activation=activation)
    return {
        "N_over_n": np.asarray(cur.features_per_sample, dtype=float),
        "error_id": np.asarray(cur.error_id, dtype=float),
        "error_ood": np.asarray(cur.error_ood, dtype=float),
        "gap": np.asarray(cur.gap, dtype=float),
        "ratio": np.asarray(cur.ratio, dtype=float),
        "slope": float(rel.slope),
        "intercept": float(rel.intercept),
    }


# --- finite sizes (rf.finite_size) ----------------------------------------------------------------


def atom_counts(weights: np.ndarray, n0: int) -> np.ndarray:
    """Directions per atom at dimension ``n0``: round(p_k·n0) by the largest-remainder rule, summing to
    n0 exactly (the rule the Monte Carlo simulator uses, so both realise a spectrum the same way)."""
    w = np.asarray(weights, dtype=float)
    raw = w * n0
    counts = np.floor(raw).astype(np.int64)
    short = int(n0 - counts.sum())
    if short > 0:
        order = np.lexsort((np.arange(w.size), -(raw - counts)))
        counts[order[:short]] += 1
    return counts


def realise(
    choice: SpectrumChoice, n0: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, rf.Spectrum]:
    """Covariances at a finite dimension: (Σ, Σ*, target covariance or None, the spectrum realised).

    Uploaded covariance matrices are used as they are, at their own size (``n0`` is ignored). A spectrum
    given by atoms is realised at ``n0`` as diagonal matrices, atom k repeated over round(p_k·n0)
    directions; Σ* is then diagonal in Σ's eigenbasis with the projected variances λ*_k (the only part
    of Σ* the limit sees). The target power b_k is repeated the same way (a diagonal B)."""
    b = choice.b
    if choice.covariances is not None:
        S, S_star, *rest = choice.covariances
        B = rest[0] if rest else None
        if b is not None and (B is None or choice.target is not None):
            raise ValueError(
                "a target chosen here cannot be used with uploaded covariances at their own size: its b is "
                "given per atom of the joint eigenbasis, not as a matrix. Use the file's own target "
                "(target_cov in the .npz), the isotropic target, or a spectrum file (CSV)"
            )
        return S, S_star, (B if b is not None else None), choice.spec
    if n0 is None:
        raise ValueError("give the input dimension d for a spectrum given by atoms")
    counts = atom_counts(choice.spec.weights, n0)
    keep = counts > 0
    lam = np.repeat(choice.spec.lam, counts)
    lam_star = np.repeat(choice.spec.lam_star, counts)
    bb = None if b is None else np.repeat(b, counts)
    realised = make_spectrum(
        choice.spec.lam[keep], choice.spec.lam_star[keep], counts[keep] / n0, None if b is None else b[keep]
    )
    return np.diag(lam), np.diag(lam_star), bb, realised


FINITE_FIELDS = ("error", "bias", "variance", "error_id", "bias_id", "variance_id")
#: the variance split of rf.finite_size (docs/theory.md §20.1), OOD then ID
FINITE_SPLIT = tuple(f"variance_{p}{s}" for s in ("", "_id") for p in ("w", "noise", "sampling"))


@st.cache_data(show_spinner=False, max_entries=256)
def finite_point(
    Sigma: np.ndarray,
    Sigma_star: np.ndarray,
    target_cov: np.ndarray | None,
    *,
    m: int,
    n1: int,
    gamma: float,
    noise_var: float,
    activation: str,
    draws: int,
    seed: int,
    teacher: str | None = None,
    nonlinear_var: float = 0.0,
    equivalent: str = "gaussian",
    pool: int = 2000,
) -> dict[str, float]:
    """``rf.finite_size`` at one set of sizes (cached): the six quantities, the variance split
    (``FINITE_SPLIT``) and their ``*_se``. ``teacher``/``nonlinear_var`` as in :func:`compute_curve`;
    ``equivalent``/``pool`` as in :func:`rfshift.finite_size` (``pool`` only for ``"generalized"``)."""
    kw: dict[str, Any] = {} if target_cov is None else {"target_cov": target_cov}
    if equivalent != "gaussian":
        kw.update(equivalent=equivalent, pool=pool)
    if teacher is not None:
        kw["teacher"] = teacher
    if nonlinear_var:
        kw["nonlinear_var"] = nonlinear_var
    res = rf.finite_size(
        Sigma,
        Sigma_star,
        m=m,
        n1=n1,
        gamma=gamma,
        noise_var=noise_var,
        activation=activation,
        draws=draws,
        seed=seed,
        **kw,
    )
    out = {f: float(getattr(res, f)) for f in FINITE_FIELDS + FINITE_SPLIT}
    out.update({f"{f}_se": float(getattr(res, f"{f}_se")) for f in FINITE_FIELDS + FINITE_SPLIT})
    return out
