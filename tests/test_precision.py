"""``rf.asymptotics(..., precision=N)`` re-solves a point in mpmath and certifies the float64 engine."""

from __future__ import annotations

import pytest

import rfshift as rf


@pytest.mark.parametrize("ratio", [1 + 1e-6, 1 - 1e-6, 2.0])
def test_precision_path_confirms_float64_near_peak(ratio: float) -> None:
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])
    kw = dict(phi=0.5, psi=0.5 * ratio, gamma=1e-9, noise_var=0.25, activation="relu")
    hp = rf.asymptotics(spec, precision=50, **kw)
    fp = rf.asymptotics(spec, **kw)
    assert hp.precision == 50
    assert float(fp.error) == pytest.approx(float(hp.error), rel=1e-10)
    assert float(fp.error_id) == pytest.approx(float(hp.error_id), rel=1e-10)


def test_precision_needs_a_scalar_point() -> None:
    with pytest.raises(ValueError, match="psi must be a scalar"):
        rf.asymptotics(rf.Spectrum.isotropic(), phi=0.5, psi=[0.1, 0.2], gamma=0.1, precision=30)
