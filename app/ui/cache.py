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
) -> dict[str, np.ndarray]:
    """Engine call for a sweep: the error/bias/variance arrays (ID and OOD), the peak mask and,
    with ``terms``, the fine-grained OOD variance terms ``term_<name>``; ``target_power`` is the
    target's b per atom (None: isotropic)."""
    spec = make_spectrum(lam, lam_star, weights, target_power)
    res = rf.asymptotics(spec, phi=phi, psi=psi, gamma=gamma, noise_var=noise_var, activation=activation)
    out = {f: np.asarray(getattr(res, f), dtype=float) for f in CURVE_FIELDS}
    out["peak"] = np.asarray(res.interpolation_peak, dtype=bool)
    if terms:
        for k, v in res.variance_terms.as_dict().items():
            out[f"term_{k}"] = np.asarray(v, dtype=float)
    return out


@st.cache_data(show_spinner=False, max_entries=256)
def cached_curve(
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
) -> dict[str, np.ndarray]:
    """:func:`compute_curve` cached on all its arguments (page-boundary cache)."""
    return compute_curve(
        lam,
        lam_star,
        weights,
        phi=phi,
        psi=psi,
        gamma=gamma,
        noise_var=noise_var,
        activation=activation,
        terms=terms,
        target_power=target_power,
    )


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
