"""The cheap PSD route of ``Spectrum.from_covariances`` (Cholesky with a shift) decides like eigenvalues."""

from __future__ import annotations

import numpy as np
import pytest

import rfshift as rf
from rfshift.spectra import COVARIANCE_RTOL


def _with_smallest_eigenvalue(n: int, eig_min: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.r_[eig_min, np.linspace(0.5, 1.0, n - 1)]
    return (V * lam) @ V.T


@pytest.mark.parametrize("factor, ok", [(-3.0, False), (-0.3, True), (0.0, True), (1e-3, True)])
def test_psd_threshold_of_sigma_star(factor: float, ok: bool) -> None:
    n = 40
    S = _with_smallest_eigenvalue(n, 1.0, seed=1)
    probe = _with_smallest_eigenvalue(n, 0.0)
    tol = COVARIANCE_RTOL * np.abs(probe).max() * n  # the documented tolerance
    S_star = _with_smallest_eigenvalue(n, factor * tol)
    if ok:
        spec = rf.Spectrum.from_covariances(S, S_star)
        assert np.all(spec.lam_star >= 0)
    else:
        with pytest.raises(ValueError, match="Sigma_star is not positive semi-definite"):
            rf.Spectrum.from_covariances(S, S_star)


def test_projection_matches_explicit_product() -> None:
    rng = np.random.default_rng(5)
    A, B = rng.standard_normal((30, 30)), rng.standard_normal((30, 12))
    S, S_star = A @ A.T / 30, B @ B.T / 12
    spec = rf.Spectrum.from_covariances(S, S_star)
    lam, V = np.linalg.eigh(S)
    np.testing.assert_allclose(spec.lam, np.maximum(lam, 0), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(spec.lam_star, np.maximum(np.diag(V.T @ S_star @ V), 0),
                               rtol=1e-12, atol=1e-14)
