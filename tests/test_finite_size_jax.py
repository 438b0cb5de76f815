"""Finite-size mode with backend="jax": the same formulas in jax.numpy (float64) agree with NumPy.

Both backends draw W with NumPy's generator, so they see the same W; differences come only from the
order of floating-point operations (BLAS vs XLA, LAPACK eigh vs JAX's eigh) and must stay ~1e-12.
Runs on JAX's default device (the CPU here; the GPU where present).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import rfshift as rf
from rfshift import _kernels
from rfshift.activations import Activation, get_activation

FIELDS = ("error", "bias", "variance", "error_id", "bias_id", "variance_id", "error_se", "bias_se",
          "variance_se", "error_id_se", "bias_id_se", "variance_id_se", "variance_w", "variance_noise",
          "variance_sampling", "variance_w_id", "variance_noise_id", "variance_sampling_id")
RTOL = 1e-10  # observed: ≤ 1.1e-12 (docs/validation.md §9.5)


def _problem(n0: int = 24, seed: int = 1):
    rng = np.random.default_rng(seed)
    lam = np.arange(1, n0 + 1, dtype=float) ** -1.0
    lam /= lam.mean()
    Q = np.linalg.qr(rng.standard_normal((n0, n0)))[0]
    S, Ss = np.diag(lam), Q @ np.diag(lam[::-1]) @ Q.T  # Σ* does not commute with Σ
    X1 = rng.standard_normal((120, n0)) * np.sqrt(lam)
    X2 = rng.standard_normal((90, n0)) @ Q.T * np.sqrt(lam[::-1]) @ Q.T
    B = np.diag(np.linspace(0.2, 1.8, n0))
    return S, Ss, X1, X2, B


def _assert_same(a, b) -> None:
    assert (a.backend, b.backend) == ("numpy", "jax")
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert abs(x - y) <= RTOL * max(abs(x), 1e-300), (f, x, y)
    for f in ("kappa", "error_draws", "error_id_draws"):
        x, y = getattr(a, f), getattr(b, f)
        assert isinstance(y, np.ndarray) and y.dtype == np.float64
        np.testing.assert_allclose(y, x, rtol=RTOL, atol=0)
    if a.kernel_bound > 0:  # Mehler: the truncation bound is computed on the host from the same h_k
        assert b.kernel_bound == pytest.approx(a.kernel_bound, rel=1e-6)


CASES = [  # (activation, route, gamma, target_cov, extra keywords)
    ("relu", "gaussian", 0.01, False, {}),
    ("relu", "samples", 0.0, True, {}),
    ("erf", "gaussian", 0.0, True, {"nonlinear_var": 0.2, "nonlinear_var_test": 0.3}),
    ("erf", "samples", 0.01, False, {"teacher": "tanh"}),
    ("tanh", "gaussian", 0.01, True, {}),  # Mehler series
    ("tanh", "samples", 0.1, False, {}),
    ("relu", "gaussian", 0.01, True, {"teacher": "tanh"}),  # two-activation Mehler series
]


@pytest.mark.parametrize("act,route,gamma,target,extra", CASES)
def test_jax_backend_agrees_with_numpy(act, route, gamma, target, extra):
    pytest.importorskip("jax")
    S, Ss, X1, X2, B = _problem()
    kw = dict(m=40, n1=30, gamma=gamma, noise_var=0.25, activation=act, draws=3, seed=2,
              target_cov=B if target else None, **extra)
    if route == "gaussian":
        a, b = (rf.finite_size(S, Ss, backend=be, **kw) for be in ("numpy", "jax"))
    else:
        a, b = (rf.finite_size.from_samples(X1, X2, backend=be, **kw) for be in ("numpy", "jax"))
    assert a.source == route
    _assert_same(a, b)


def test_jax_backend_with_a_custom_activation_agrees_with_numpy():
    """A custom Activation has no JAX version: the samples route applies its NumPy fn on the host,
    the Gaussian route sums its Mehler series in JAX."""
    pytest.importorskip("jax")
    act = Activation(lambda x: np.tanh(x) + 0.1 * np.abs(x), "tanh_abs", (0.0,))
    S, Ss, X1, X2, _ = _problem(n0=16)
    kw = dict(m=30, n1=20, gamma=0.01, noise_var=0.1, activation=act, draws=3, seed=5)
    _assert_same(*(rf.finite_size(S, Ss, backend=be, **kw) for be in ("numpy", "jax")))
    _assert_same(*(rf.finite_size.from_samples(X1, X2, backend=be, **kw) for be in ("numpy", "jax")))


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "erf", "linear", "quadratic", "hardtanh"])
def test_kernels_are_array_namespace_generic(name):
    jnp = pytest.importorskip("jax.numpy")
    from rfshift import montecarlo  # noqa: F401  (float64 in JAX)

    act = get_activation(name)
    rng = np.random.default_rng(0)
    W, W2 = rng.standard_normal((9, 7)), rng.standard_normal((11, 7))
    S = np.diag(np.linspace(0.3, 2.0, 7))
    C = W @ S @ W2.T / 7
    v, v2 = np.einsum("ij,jk,ik->i", W, S, W) / 7, np.einsum("ij,jk,ik->i", W2, S, W2) / 7
    for same, CC, vv in ((False, C, v2), (True, W @ S @ W.T / 7, v)):
        ref = _kernels.feature_moments(act, CC, v, vv, same=same)
        got = _kernels.feature_moments(act, jnp.asarray(CC), jnp.asarray(v), jnp.asarray(vv), same=same,
                                       xp=jnp)
        assert got.M.dtype == jnp.float64 and not isinstance(got.M, np.ndarray)
        assert got.order == ref.order
        np.testing.assert_allclose(np.asarray(got.M), ref.M, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(_kernels.mean_slope(act, jnp.asarray(v), jnp)),
                               _kernels.mean_slope(act, v), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(_kernels.second_moment(act, jnp.asarray(v), jnp)),
                               _kernels.second_moment(act, v), rtol=1e-12)


@pytest.mark.parametrize("backend", ["torch", "JAX", "", None, 1])
def test_unknown_backend_is_refused(backend):
    S = np.eye(4)
    with pytest.raises(ValueError, match="backend must be one of 'numpy', 'jax'"):
        rf.finite_size(S, S, m=8, n1=6, gamma=0.1, backend=backend)
    with pytest.raises(ValueError, match="backend must be one of"):
        rf.finite_size.from_samples(np.ones((8, 4)), np.ones((8, 4)), n1=6, gamma=0.1, backend=backend)


def test_jax_backend_without_jax_names_the_extra(monkeypatch):
    import rfshift

    for mod in list(sys.modules):
        if mod.startswith("rfshift.montecarlo"):
            monkeypatch.delitem(sys.modules, mod)
    monkeypatch.delattr(rfshift, "montecarlo", raising=False)
    monkeypatch.setitem(sys.modules, "jax", None)  # `import jax` now raises ImportError
    S = np.eye(4)
    with pytest.raises(ImportError, match=r"rfshift\[mc\]"):
        rf.finite_size(S, S, m=8, n1=6, gamma=0.1, backend="jax")
    assert rf.finite_size(S, S, m=8, n1=6, gamma=0.1, draws=3).backend == "numpy"


def test_cli_finite_backend_jax_matches_numpy(tmp_path, capsys):
    pytest.importorskip("jax")
    import json

    from rfshift.cli import main

    np.save(tmp_path / "S.npy", np.diag(np.linspace(0.5, 1.5, 6)))
    docs = []
    for be in ("numpy", "jax"):
        code = main(["finite", "--sigma", str(tmp_path / "S.npy"), "--m", "12", "--n1", "10", "--draws", "3",
                     "--backend", be, "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        docs.append(json.loads(out))
    assert [d["backend"] for d in docs] == ["numpy", "jax"]
    for f, x in docs[0]["finite_size"].items():
        assert docs[1]["finite_size"][f] == pytest.approx(x, rel=RTOL, abs=1e-300), f
