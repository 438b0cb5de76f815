"""Monte Carlo verifier (JAX): simulate the finite random-feature model and compare with the engine.

    from rfshift import montecarlo as mc
    est = mc.simulate(spec, n0=512, phi=0.5, psi=0.25, gamma=1e-2, noise_var=0.1,
                      activation="relu", trials=8, seed=0)
    est.error, est.error_se, est.bias_id, ...; est.theory(); est.zscores()

This is the only part of rfshift that imports JAX (``import rfshift`` never does). Importing it turns on
``jax_enable_x64`` (float64 everywhere) and, unless already set, ``XLA_PYTHON_CLIENT_PREALLOCATE=false``
so that a GPU run does not grab 75% of the device memory up front (only effective if JAX was not
imported before). See docs/montecarlo.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax

jax.config.update("jax_enable_x64", True)

from .driver import Estimate, simulate, text_progress  # noqa: E402

__all__ = ["Estimate", "simulate", "text_progress"]
