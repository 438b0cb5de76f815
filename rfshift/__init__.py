"""rfshift: exact asymptotics of random-feature ridge regression under covariate shift.

Core API (NumPy/SciPy only; JAX and Streamlit are never imported here)::

    import rfshift as rf
    spec = rf.Spectrum([1.5, 0.5], [0.5, 1.5])             # atoms (λ, λ*) of the joint spectrum
    res = rf.asymptotics(spec, phi=0.5, psi=0.25, gamma=0.01, noise_var=0.25, activation="relu")
    res.error, res.bias, res.variance, res.error_id

Conventions (THEORY.md): φ = n0/m, ψ = n0/n1, kernel FᵀF/n1 + γI, errors exclude test-label noise.
"""

from __future__ import annotations

from . import analysis
from ._diagnostics import Concentration, ConcentrationWarning, concentration
from ._errors import ConvergenceError
from .activations import (
    Activation,
    ActivationConstants,
    activation_constants,
    available_activations,
    get_activation,
)
from .analysis import (
    DISAGREEMENT_KINDS,
    CertifiedRegion,
    DisagreementRelation,
    LinearRelation,
    OODEstimate,
    OptimalRidge,
    RobustnessCurve,
    ShiftComparison,
    ShiftEffect,
    certified_region,
    compare_shifts,
    deviation,
    disagreement_deviation,
    disagreement_relation,
    linear_relation,
    ood_error_estimate,
    optimal_ridge,
    regret,
    robustness_curve,
    shift_effect,
)
from .engine import Asymptotics, Disagreement, Ensemble, VarianceTerms, asymptotics
from .finite_size import FiniteSize, finite_size, finite_size_from_samples
from .spectra import DataSpectrum, Spectrum

__version__ = "0.1.0"

__all__ = [
    "DISAGREEMENT_KINDS",
    "Activation",
    "ActivationConstants",
    "Asymptotics",
    "CertifiedRegion",
    "Concentration",
    "ConcentrationWarning",
    "ConvergenceError",
    "DataSpectrum",
    "Disagreement",
    "DisagreementRelation",
    "Ensemble",
    "FiniteSize",
    "LinearRelation",
    "OODEstimate",
    "OptimalRidge",
    "RobustnessCurve",
    "ShiftComparison",
    "ShiftEffect",
    "Spectrum",
    "VarianceTerms",
    "__version__",
    "activation_constants",
    "analysis",
    "asymptotics",
    "available_activations",
    "certified_region",
    "compare_shifts",
    "concentration",
    "deviation",
    "disagreement_deviation",
    "disagreement_relation",
    "finite_size",
    "finite_size_from_samples",
    "get_activation",
    "linear_relation",
    "ood_error_estimate",
    "optimal_ridge",
    "regret",
    "robustness_curve",
    "shift_effect",
]
