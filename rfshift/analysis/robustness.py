"""Robustness to covariate shift versus overparameterisation.

N/n = n1/m = φ/ψ (features per sample) and n/d = m/n0 = 1/φ (samples per input dimension). Along the
ridgeless overparameterised family the OOD error is an exact affine function of the ID error
(THEORY.md §8), E_OOD − E_ID = (slope − 1) E_ID + intercept, so when adding features lowers E_ID it
also shrinks the OOD−ID gap (if slope > 1) — while the ratio E_OOD/E_ID = slope + intercept/E_ID
*grows* (if intercept > 0): absolute and relative robustness move in opposite directions
(docs/analysis.md, "Robustness").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_parameter
from ..activations import Activation, get_activation
from ..engine import asymptotics
from ..spectra import Spectrum
from ._ratio import safe_ratio

__all__ = ["RobustnessCurve", "robustness_curve"]

#: Inputs of a curve, in the order that names the axes of ``to_xarray`` (first varying one wins).
_PARAMS = ("features_per_sample", "phi", "psi", "gamma", "noise_var", "samples_per_dim")


@dataclass(frozen=True)
class RobustnessCurve:
    """ID and OOD errors, their gap (OOD − ID) and ratio (OOD/ID) on a grid of (φ, ψ).

    ``features_per_sample`` = N/n = φ/ψ (``inf`` at ψ = 0, the kernel limit) and
    ``samples_per_dim`` = n/d = 1/φ. Fields have the broadcast shape of the inputs.

    ``ratio`` is never NaN: where E_ID = 0 (noiseless and exactly learnable in distribution, e.g. a
    ridgeless linear model with more samples than non-null directions) it is 1 if E_OOD = 0 too
    (the two errors are equal, the shift costs nothing; note the γ → 0 or σ² → 0 limits of the ratio
    depend on the path, so no other value is canonical) and ``inf`` if E_OOD > 0 (test mass on
    directions the training law never shows).
    """

    phi: np.ndarray
    psi: np.ndarray
    gamma: np.ndarray
    noise_var: np.ndarray
    features_per_sample: np.ndarray
    samples_per_dim: np.ndarray
    error_id: np.ndarray
    error_ood: np.ndarray
    gap: np.ndarray
    ratio: np.ndarray

    def to_dataframe(self):  # -> pandas.DataFrame
        """One row per point with every field as a column (needs pandas: ``rfshift[frames]``)."""
        from .._frames import to_dataframe

        return to_dataframe(self, np.shape(self.error_id), _PARAMS)

    def to_xarray(self):  # -> xarray.Dataset
        """The fields on the broadcast grid, axes named after the parameter varying along them
        (needs xarray: ``rfshift[frames]``)."""
        from .._frames import to_xarray

        return to_xarray(self, np.shape(self.error_id), _PARAMS)


def robustness_curve(
    spec: Spectrum,
    *,
    phi: object,
    psi: object | None = None,
    features_per_sample: object | None = None,
    gamma: object = 0.0,
    noise_var: object = 0.0,
    activation: str | Activation = "relu",
    nonlinear_var: object = 0.0,
    nonlinear_var_test: object | None = None,
    teacher: str | Activation | None = None,
) -> RobustnessCurve:
    """ID error, OOD error, gap = OOD − ID and ratio = OOD/ID versus N/n = φ/ψ and n/d = 1/φ.

    Give the feature count either as ``psi`` (= n0/n1) or as ``features_per_sample`` (= N/n, so
    ψ = φ/(N/n)); all inputs broadcast. ``nonlinear_var``, ``nonlinear_var_test`` and ``teacher``
    (structured/nonlinear targets, docs/theory.md §19) are passed to :func:`rfshift.asymptotics`.
    The ridgeless interpolation peak (γ = 0, N/n = 1) has infinite errors and an undefined
    gap/ratio, so it is rejected with a ValueError.

    Examples
    --------
    >>> import numpy as np, rfshift as rf
    >>> spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    >>> cur = rf.robustness_curve(spec, phi=0.5, features_per_sample=[2.0, 8.0, 32.0], noise_var=0.1)
    >>> bool(np.all(np.diff(cur.gap) < 0))  # more features, smaller OOD−ID gap
    True
    """
    if not isinstance(spec, Spectrum):
        raise TypeError(f"spec must be an rfshift.Spectrum, got {type(spec).__name__}")
    if (psi is None) == (features_per_sample is None):
        raise ValueError("give exactly one of psi (= n0/n1) and features_per_sample (= N/n = phi/psi)")
    phi_a = check_parameter(phi, "phi", allow_zero=False, description="n0/m")
    if psi is None:
        fps = check_parameter(features_per_sample, "features_per_sample", allow_zero=False,
                              description="N/n")
        psi_a = phi_a / fps
    else:
        psi_a = check_parameter(psi, "psi", allow_zero=True, description="n0/n1")
    act = get_activation(activation)
    res = asymptotics(spec, phi=phi_a, psi=psi_a, gamma=gamma, noise_var=noise_var, activation=act,
                      nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test,
                      teacher=teacher)
    if np.any(res.interpolation_peak):
        raise ValueError(
            "the grid contains the ridgeless interpolation peak (gamma = 0 and N/n = phi/psi = 1), "
            "where both errors are infinite and their gap/ratio undefined; leave it out or use gamma > 0"
        )
    with np.errstate(divide="ignore"):
        fps_out = np.where(res.psi > 0, res.phi / np.where(res.psi > 0, res.psi, 1.0), np.inf)
    return RobustnessCurve(
        phi=res.phi, psi=res.psi, gamma=res.gamma, noise_var=res.noise_var,
        features_per_sample=np.asarray(fps_out)[()], samples_per_dim=np.asarray(1.0 / res.phi)[()],
        error_id=res.error_id, error_ood=res.error, gap=np.asarray(res.error - res.error_id)[()],
        ratio=safe_ratio(res.error, res.error_id, zero_over_zero=1.0, name="ratio"),
    )
