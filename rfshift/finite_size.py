"""Finite-size deterministic equivalents of random-feature ridge regression (conditional on W).

The proportional engine (:func:`rfshift.asymptotics`) is the n0, n1, m → ∞ limit. At the actual sizes,
and above all for concentrated spectra (low effective rank, a spike, heavy tails), the pre-activation
variances w_iᵀΣw_i/n0 do not concentrate and the limit is off by several per cent. This module
computes the error of the finite model of THEORY.md §1 at the given (n0, m, n1) by

1. drawing W (n1 × n0, iid N(0, 1)) and computing *exactly* the feature second moments
   Φ = E_x[f fᵀ] (uncentred, f = σ(Wx/√n0)) under the training law and Φ* under the test law, the
   cross-moments Ψ = E_x[f xᵀ]/√n0 (Stein's lemma: diag(E σ'(g_i)) W Σ/n0) and E y²;
2. the Gaussian-covariate-model deterministic equivalent of ridge regression on m samples with those
   moments (Loureiro et al. 2021; Bach 2024; Atanasov, Zavatone-Veth & Pehlevan 2024; for random
   features Defilippis, Loureiro & Misiakiewicz 2024), with the covariate-shift terms;
3. averaging over ``draws`` independent W (mean ± jackknife standard error), with the bias of
   THEORY.md §1 (the predictor averaged over W, X, ε) estimated from pairs of independent draws.

Targets (docs/theory.md §20.1): β ~ N(0, B) averaged exactly; a single-index ``teacher`` through the
exact two-activation moments E[f y], E y² given W and β (β sampled, two per draw); a number-valued
nonlinear part as noise on X uncorrelated with the features. The variance is split into
``variance_w`` (the engine's V_W), ``variance_noise`` (V_Xε + V_WXε) and ``variance_sampling``
(V_X + V_WX).

Derivation, approximations and validation: docs/theory.md, section "Finite-size deterministic
equivalents"; docs/validation.md, section "Finite-size mode".

Core layer: NumPy/SciPy only. ``backend="jax"`` runs the same formulas (one home: the functions here and
in :mod:`rfshift._kernels` take the array namespace ``xp``) in jax.numpy; JAX is then imported lazily
through :mod:`rfshift.montecarlo`, never by ``import rfshift``.
"""

from __future__ import annotations

import importlib
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import _kernels
from ._errors import ConvergenceError
from ._validation import as_real_array
from .activations import Activation, get_activation
from .spectra import Spectrum, _covariance, _samples

__all__ = ["BACKENDS", "DEFAULT_POOL", "MAX_DRAWS", "MAX_MEMORY_GIB", "FiniteSize", "finite_size",
           "finite_size_from_samples"]

#: Refuse sizes whose working arrays would exceed this many GiB (a clear error instead of an OOM kill).
MAX_MEMORY_GIB = 16.0
#: Pool size of the generalized equivalent when ``pool`` is not given (docs/validation.md §9.9).
DEFAULT_POOL = 8000
#: Largest number of W draws (each costs an n1 × n1 eigendecomposition; the s.e. falls like 1/√draws).
MAX_DRAWS = 10_000
#: Array backends of the per-draw linear algebra (``backend=`` of :func:`finite_size`).
BACKENDS = ("numpy", "jax")


@dataclass(frozen=True)
class FiniteSize:
    """Deterministic-equivalent test error at finite sizes, averaged over W draws.

    ``error = bias + variance`` (OOD, test law Σ*) and the same with ``_id`` (test law Σ). Each has a
    standard error ``*_se`` over the W draws (delete-one jackknife; for ``error`` it equals the
    standard deviation over draws / √draws). ``bias`` follows THEORY.md §1: the squared error of the
    predictor averaged over W, X and ε; it is estimated from pairs of independent draws (see
    docs/theory.md), so it is unbiased but carries its own standard error. Where that estimate comes
    out negative (only when the bias is unresolved, e.g. near the ridgeless threshold with few draws)
    ``bias`` is reported as 0, ``variance`` as the whole error, and a RuntimeWarning gives the raw
    estimate and its s.e. With few draws (3–5) the ``*_se`` are themselves rough (2–4 degrees of
    freedom): use ≥ 8 draws where the s.e. matters. Errors exclude test-label noise, as everywhere in
    rfshift. ``inf`` marks the interpolation threshold (ridgeless with
    rank(Φ) = m): there ``error``, ``variance`` and their ``*_se`` are ``inf`` and
    ``interpolation_peak`` is True.

    **Variance split** (docs/theory.md §20.1), each with ``_id`` and ``_se`` twins:
    ``variance = variance_w + variance_noise + variance_sampling`` (to rounding).
    ``variance_w``: Var over W of the predictor averaged over X and ε (the per-draw error of the
    mean predictor ā minus the pair bias, estimated as ½E(ā_Wᵀf_W − ā_W'ᵀf_W')² over the pairs, so
    ≥ 0 term by term) — the same quantity as the engine's ``variance_terms.w`` (V_W).
    ``variance_noise``: E_W of the deterministic equivalent's label-noise variance given W,
    σ² × amplification — the engine's ``variance_terms.x_eps + variance_terms.wx_eps``.
    ``variance_sampling``: E_W of the rest of the data variance given W (the target's residual
    and nonlinear part, which live on X, × amplification) — the engine's
    ``variance_terms.x + variance_terms.wx``. At finite size the X-only and W×X parts are not
    separated (that would need the two-feature-map cross fluctuation).
    ``nonlinear_var``/``nonlinear_var_test``/``teacher``: the arguments as given. Unlike
    ``Asymptotics.nonlinear_var``, which includes a teacher's own nonlinear part, these hold only the
    explicit, uncorrelated part: a teacher's nonlinearity is computed exactly from f* instead.

    ``error_draws``/``error_id_draws``: the per-draw errors (conditional on W); ``kappa``: the
    per-draw effective regulariser κ; ``kernel_bound``: the largest truncation bound of a Mehler
    series (0 for closed-form kernels); ``source``: ``"gaussian"`` (moments of N(0, Σ)) or
    ``"samples"`` (empirical moments of the given inputs); ``backend``: ``"numpy"`` or ``"jax"``;
    ``equivalent``: ``"gaussian"`` (§20 step 2) or ``"generalized"`` (docs/theory.md §20.2; ``kappa``
    is then κ/mean D(x)).
    """

    error: float
    bias: float
    variance: float
    error_id: float
    bias_id: float
    variance_id: float
    error_se: float
    bias_se: float
    variance_se: float
    error_id_se: float
    bias_id_se: float
    variance_id_se: float
    variance_w: float
    variance_noise: float
    variance_sampling: float
    variance_w_id: float
    variance_noise_id: float
    variance_sampling_id: float
    variance_w_se: float
    variance_noise_se: float
    variance_sampling_se: float
    variance_w_id_se: float
    variance_noise_id_se: float
    variance_sampling_id_se: float
    n0: int
    m: int
    n1: int
    gamma: float
    noise_var: float
    activation: str
    draws: int
    seed: int
    source: str
    error_draws: np.ndarray = field(repr=False)
    error_id_draws: np.ndarray = field(repr=False)
    kappa: np.ndarray = field(repr=False)
    kernel_bound: float = 0.0
    interpolation_peak: bool = False
    nonlinear_var: float = 0.0
    nonlinear_var_test: float = 0.0
    teacher: str | None = None
    backend: str = "numpy"
    equivalent: str = "gaussian"

    @property
    def phi(self) -> float:
        """n0/m."""
        return self.n0 / self.m

    @property
    def psi(self) -> float:
        """n0/n1."""
        return self.n0 / self.n1


# --- input laws: what each needs to provide given W ------------------------------------------------

class _GaussianLaw:
    """x ~ N(0, S): moments in closed form given W (step 1 of the derivation). ``xp`` is the array
    namespace of the heavy work (``numpy`` or ``jax.numpy``); S is moved to it once."""

    def __init__(self, S: np.ndarray, act: Activation, xp=np) -> None:
        self.xp = xp
        self.S = S if xp is np else xp.asarray(S)
        self.act = act
        self.n0 = S.shape[0]
        self.rows = 0  # no sample rows: moments in closed form

    def prepare(self, W) -> dict:
        xp = self.xp
        WS = W @ self.S
        v = xp.einsum("ij,ij->i", WS, W) / self.n0  # Var g_i = w_iᵀ S w_i / n0
        if not bool(xp.all(v > 0)):
            raise ValueError("a feature has zero pre-activation variance (w_iᵀΣw_i = 0)")
        d = _kernels.mean_slope(self.act, v, xp)
        return {"W": W, "WS": WS, "v": v, "Psi": (d[:, None] * WS) / self.n0}

    def second(self, a: dict, b: dict, same: bool) -> tuple:
        C = a["WS"] @ b["W"].T / self.n0
        fm = _kernels.feature_moments(self.act, C, a["v"], b["v"], same=same, xp=self.xp)
        return fm.M, fm.bound

    def target2(self, B) -> float:
        """E (βᵀx)²/n0 averaged over β ~ N(0, B): tr(S B)/n0."""
        if B is None:
            return float(self.xp.trace(self.S)) / self.n0
        return float(self.xp.sum(self.S * B)) / self.n0

    def teacher(self, a: dict, f: Activation, beta) -> tuple:
        """E[f y] (n1 × 1), E y² and the kernel bound for y = f*(t), t = βᵀx/√n0 ~ N(0, βᵀSβ/n0),
        Cov(g_i, t) = w_iᵀSβ/n0 (docs/theory.md §20.1)."""
        xp = self.xp
        Sb = self.S @ beta
        vt = float(beta @ Sb) / self.n0
        if not vt > 0:  # Sβ = 0 (only if tr(SB) = 0): y = f*(0), which the mean check made ≈ 0
            return xp.zeros((a["v"].size, 1)), 0.0, 0.0
        c = (a["W"] @ Sb)[:, None] / self.n0
        fm = _kernels.feature_moments(self.act, c, a["v"], xp.asarray([vt]), act2=f, xp=xp)
        return fm.M, float(_kernels.second_moment(f, np.array([vt]))[0]), fm.bound


class _SampleLaw:
    """x uniform on the rows of X: empirical (uncentred) moments given W. ``xp`` as for
    :class:`_GaussianLaw`; with JAX, σ is the built-in's JAX version (``montecarlo.kernels``), and a
    custom activation is applied on the host (its ``fn`` is a NumPy callable)."""

    def __init__(self, X: np.ndarray, act: Activation, xp=np) -> None:
        self.xp = xp
        self.X = X if xp is np else xp.asarray(X)
        self.act = act
        self.n0 = X.shape[1]
        self.rows = 3 * X.shape[0]  # feature matrices of up to three draws are alive at once
        self.fn = act.fn if xp is np else _jax_fn(act, xp)

    def prepare(self, W) -> dict:
        xp = self.xp
        with np.errstate(all="ignore"):
            F = xp.asarray(self.fn(self.X @ W.T / math.sqrt(self.n0)), dtype=float)  # N × n1
        if not bool(xp.all(xp.isfinite(F))):
            raise ValueError(f"activation {self.act.name!r} returns NaN/inf on the given inputs")
        N = self.X.shape[0]
        return {"F": F, "Psi": F.T @ self.X / (N * math.sqrt(self.n0))}

    def second(self, a: dict, b: dict, same: bool) -> tuple:
        M = a["F"].T @ b["F"] / self.X.shape[0]
        if same:
            M = 0.5 * (M + M.T)
        return M, 0.0

    def target2(self, B) -> float:
        xp = self.xp
        N = self.X.shape[0]
        if B is None:
            return float(xp.sum(self.X * self.X)) / (N * self.n0)
        return float(xp.sum((self.X @ B) * self.X)) / (N * self.n0)

    def teacher(self, a: dict, f: Activation, beta) -> tuple:
        """Empirical E[f y] (n1 × 1) and E y² of y = f*(x·β/√n0) over the rows."""
        xp = self.xp
        fn = f.fn if xp is np else _jax_fn(f, xp)
        with np.errstate(all="ignore"):
            y = xp.asarray(fn(self.X @ beta / math.sqrt(self.n0)), dtype=float)
        if not bool(xp.all(xp.isfinite(y))):
            raise ValueError(f"teacher {f.name!r} returns NaN/inf on the given inputs")
        N = self.X.shape[0]
        return (a["F"].T @ y)[:, None] / N, float(y @ y) / N, 0.0


def _jax_fn(act: Activation, xp):
    """σ on ``xp`` (jax.numpy) arrays: the built-in's JAX version (one home:
    ``rfshift.montecarlo.kernels``), else ``act.fn`` on the host and back."""
    from .montecarlo.kernels import jax_activation, resolve_builtin

    try:
        return jax_activation(resolve_builtin(act))
    except ValueError:  # a custom Activation: no JAX version
        return lambda z: xp.asarray(np.asarray(act.fn(np.asarray(z)), dtype=float))


# --- the feature-space deterministic equivalent ----------------------------------------------------

def _solve_kappa(e: np.ndarray, m: int, lam: float, rank: int) -> float:
    """κ ≥ 0 with lam = κ (1 − df1(κ)/m), df1 = Σ e/(e + κ) (docs/theory.md, step 2).

    lam > 0: unique root of the convex h(κ) = κ − (κ/m) Σ e/(e+κ) (h(0) = 0) at level lam.
    lam = 0: κ = 0 if rank(Φ) < m, else the root of df1(κ) = m (rank = m is the interpolation
    threshold, handled by the caller)."""
    from scipy.optimize import brentq

    if lam > 0:
        pos = e[e > 0]  # null directions of Φ contribute nothing to df1

        def h(k: float) -> float:
            return k - float(np.sum(k * pos / (pos + k))) / m - lam

        hi = lam + float(e.sum()) / m + 1e-300
        while h(hi) < 0:  # pragma: no cover - the bound above always brackets
            hi *= 2
        root = brentq(h, 0.0, hi, xtol=1e-300, rtol=1e-14, maxiter=500)
    else:
        if rank <= m:
            return 0.0
        pos = e[e > 0]

        def g(t: float) -> float:
            k = math.exp(t)
            return float(np.sum(pos / (pos + k))) - m

        lo, hi = math.log(pos.min()) - 40.0, math.log(pos.sum()) + 5.0
        if not (g(lo) > 0 > g(hi)):  # pragma: no cover
            raise ConvergenceError(f"could not bracket κ (rank {rank}, m = {m})")
        root = math.exp(brentq(g, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500))
    if not (math.isfinite(root) and root >= 0):  # pragma: no cover
        raise ConvergenceError(f"κ solve returned {root!r} (m = {m}, ridge {lam!r})")
    return root


def _linear_target(B: np.ndarray | None, laws) -> object:
    """The blocks of y = βᵀx/√n0 with β ~ N(0, B) averaged exactly: P = Ψ, weight B, t = tr(SB)/n0."""
    t_law = {id(law): law.target2(B) for law in laws}
    return lambda law, st: [(st["Psi"], B, t_law[id(law)], 0.0)]


def _test_law(law, train, W, st: dict, Phi, blocks, target, bound: float):
    """A test law's state, feature second moment and target blocks given W (the training law's are
    reused), with the running Mehler truncation bound."""
    if law is train:
        return st, Phi, blocks, bound
    stL = law.prepare(W)
    PhiL, b2 = law.second(stL, stL, same=True)
    blocksL = target(law, stL)
    return stL, PhiL, blocksL, max(bound, b2, *(b for *_, b in blocksL))


def _draw(train, tests, W, m, n1, gamma, noise_var, target, nl_train=0.0, nl_tests=None):
    """One W draw (docs/theory.md §20, steps 1–2, and §20.1 for targets and the variance split).

    ``target(law, state)`` returns the target's blocks [(P, G, t, bound)]: P = E_law[f yᵀ] (n1 × q),
    G the q × q weight of the β average (None: I), t = E_law y²; the draw's quantities are the mean
    over its blocks (one block for β ~ N(0, B) averaged exactly; two sampled β for a teacher).
    ``nl_train``/``nl_tests``: variance of the target's nonlinear part treated as noise on X.
    Returns per test law (error of the mean predictor ā, label-noise variance, sampling variance),
    κ, the largest kernel bound and each law's state for the pair terms."""
    st = train.prepare(W)
    Phi, bound = train.second(st, st, same=True)
    xp = train.xp
    e, U = xp.linalg.eigh(Phi)
    e = np.maximum(_kernels._host(e), 0.0)  # κ, ranks and traces of e on the host (n1 numbers)
    tol = max(float(e[-1]), np.finfo(float).tiny) * n1 * 1e-13
    rank = int(np.sum(e > tol))
    e = np.where(e > tol, e, 0.0)
    lam = n1 * gamma / m  # ridge on FFᵀ/m, since FFᵀ/n1 + γ ⇔ FFᵀ/m + n1γ/m
    kappa = _solve_kappa(e, m, lam, rank)
    with np.errstate(divide="ignore"):
        r = np.where(e + kappa > 0, 1.0 / (e + kappa), 0.0)  # pseudo-inverse at κ = 0
    df2 = float(np.sum((e * r) ** 2))
    er2 = e * r * r
    if xp is not np:
        r, er2 = xp.asarray(r), xp.asarray(er2)
    blocks = target(train, st)
    A = [U @ (r[:, None] * (U.T @ P)) for P, *_ in blocks]  # ā = A β, A = (Φ + κ)^{-1} P  (n1 × q)
    AG = [a if G is None else a @ G for a, (_, G, _, _) in zip(A, blocks, strict=True)]
    # population error of ā under the training law without label noise: the sampling part of the
    # effective noise (target residual plus the nonlinear part living on X); ≥ 0 up to rounding
    fit = np.mean([t - 2.0 * float(xp.sum(P * ag)) + float(xp.sum((Phi @ a) * ag))
                   for a, ag, (P, _, t, _) in zip(A, AG, blocks, strict=True)])
    e_samp = max(float(fit) + nl_train, 0.0)
    bound = max(bound, *(b for *_, b in blocks))
    slack = m - df2
    out = []
    states = []
    for law, nl_t in zip(tests, nl_tests or (0.0,) * len(tests), strict=True):
        stL, PhiL, blocksL, bound = _test_law(law, train, W, st, Phi, blocks, target, bound)
        cross = [float(xp.sum(P * ag)) for (P, *_), ag in zip(blocksL, AG, strict=True)]
        tt = [t + nl_t for _, _, t, _ in blocksL]
        means = [t - 2.0 * c + float(xp.sum((PhiL @ a) * ag))
                 for t, c, a, ag in zip(tt, cross, A, AG, strict=True)]
        if slack <= 1e-9 * m:
            amp = math.inf
        else:  # tr(Φ_L Φ R²)/(m − df2); for the training law tr(Φ Φ R²) = df2
            amp = (df2 if law is train else float(xp.sum((PhiL @ U) * U, axis=0) @ er2)) / slack
        out.append((float(np.mean(means)), _times(noise_var, amp), _times(e_samp, amp)))
        states.append({"st": stL, "A": A, "AG": AG, "cross": cross, "t": tt, "mean": means})
    return out, kappa, bound, states


def _times(x: float, amp: float) -> float:
    """x·amp with 0·inf := 0 (no noise adds no variance, even at the interpolation threshold)."""
    return 0.0 if x == 0 else x * amp


def _pair(law, a: dict, b: dict) -> tuple[float, float, float]:
    """Two independent draws a, b sharing β (a's last block, b's first): the pair bias
    E_{β,x}[(ā_aᵀ f_a − y)(ā_bᵀ f_b − y)] (unbiased for the W-averaged bias of THEORY.md §1), the pair
    V_W = ½ E_{β,x}(ā_aᵀ f_a − ā_bᵀ f_b)² ≥ 0 (unbiased for Var_W of the (X, ε)-mean predictor), and
    the kernel bound."""
    M, bound = law.second(a["st"], b["st"], same=False)
    quad = float(law.xp.sum((M @ b["A"][0]) * a["AG"][-1]))
    bias = a["t"][-1] - a["cross"][-1] - b["cross"][0] + quad
    return bias, 0.5 * (a["mean"][-1] + b["mean"][0]) - bias, bound


def _jackknife(values: np.ndarray) -> float:
    n = values.size
    return float(math.sqrt((n - 1) / n * np.sum((values - values.mean()) ** 2)))


def _check_int(value: object, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if int(value) < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value!r}")
    return int(value)


def _check_real(value: object, name: str) -> float:
    arr = as_real_array(value, name)
    if arr.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {arr.shape}")
    x = float(arr)
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return x


def _target_cov(target_cov: object, n0: int) -> np.ndarray | None:
    if target_cov is None:
        return None
    arr = as_real_array(target_cov, "target_cov")
    if arr.ndim == 1:
        if arr.shape != (n0,) or not np.all(np.isfinite(arr)) or (arr < 0).any():
            raise ValueError(f"target_cov as a vector must hold {n0} finite values >= 0 (a diagonal)")
        B = np.diag(arr)
    else:
        B = _covariance(arr, "target_cov")
        if B.shape != (n0, n0):
            raise ValueError(f"target_cov must be {n0} × {n0}, got {B.shape}")
    if not np.trace(B) > 0:  # as Spectrum refuses an all-zero target_power
        raise ValueError("target_cov is zero (tr B = 0): the target would be identically zero")
    return B


def _sqrt_psd(B: np.ndarray) -> np.ndarray:
    """A symmetric square root of a PSD matrix (β = B^{1/2} z)."""
    e, V = np.linalg.eigh(B)
    return (V * np.sqrt(np.maximum(e, 0.0))) @ V.T


def _teacher(teacher: object, train, test, B: np.ndarray | None) -> Activation | None:
    """The teacher's activation, refused (as by :func:`rfshift.asymptotics`) if its Gaussian mean is
    non-zero at the training or test signal variance tr(SB)/n0 (docs/theory.md §19.4)."""
    if teacher is None:
        return None
    from types import SimpleNamespace

    from .engine import _teacher_parts

    signals = SimpleNamespace(signal=train.target2(B), signal_star=test.target2(B))
    try:
        return _teacher_parts(teacher, signals)[0]  # type: ignore[arg-type]
    except ValueError as exc:  # the engine's advice names its own arguments; give this function's
        raise ValueError(str(exc).replace("target_power and nonlinear_var", "target_cov and nonlinear_var")
                         ) from None


def _pool_of(train, W, st: dict, pool: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (n0 × N) and features (n1 × N) of the generalized equivalent's pool: ``pool`` fresh
    draws x ~ N(0, Σ) for a Gaussian law, the rows themselves for samples (docs/theory.md §20.2)."""
    if isinstance(train, _SampleLaw):
        return train.X.T, st["F"].T
    if not hasattr(train, "_half"):
        lam, V = np.linalg.eigh(train.S)
        train._half = (V * np.sqrt(np.maximum(lam, 0.0))) @ V.T
    X = train._half @ rng.standard_normal((train.n0, pool))
    with np.errstate(all="ignore"):
        F = np.asarray(train.act.fn(W @ X / math.sqrt(train.n0)), dtype=float)
    if not np.all(np.isfinite(F)):
        raise ValueError(f"activation {train.act.name!r} returns NaN/inf on the pool inputs")
    return X, F


def _generalized_draw(train, tests, W, m, n1, gamma, noise_var, target, pool, rng, nl_train=0.0,
                      nl_tests=None, teacher=None, betas=()):
    """One W draw with the generalized equivalent (docs/theory.md §20.2; ``rfshift._generalized``):
    the same arguments and returns as :func:`_draw`, plus the pool and, for a teacher, its activation
    and the draw's sampled β (the labels f*(βᵀx/√n0) on the pool; docs/theory.md §20.2, "Targets")."""
    from . import _generalized

    st = train.prepare(W)
    Phi, bound = train.second(st, st, same=True)
    X, F = _pool_of(train, W, st, pool, rng)
    blocks = target(train, st)  # [(P, G, t, bound)]: one exact-β block (linear) or one per sampled β
    bound = max(bound, *(b for *_, b in blocks))
    q = len(blocks)
    if teacher is None:
        Y, weight, Psi = None, blocks[0][1], blocks[0][0]
    else:
        fn = teacher.fn
        with np.errstate(all="ignore"):
            Y = np.asarray([fn(b @ X / math.sqrt(train.n0)) for b in betas], dtype=float)  # q × N
        if not np.all(np.isfinite(Y)):
            raise ValueError(f"teacher {teacher.name!r} returns NaN/inf on the pool inputs")
        weight, Psi = np.eye(q) / q, np.hstack([P for P, *_ in blocks])
    laws = []
    for law, nl_t in zip(tests, nl_tests or (0.0,) * len(tests), strict=True):
        stL, PhiL, blocksL, bound = _test_law(law, train, W, st, Phi, blocks, target, bound)
        laws.append((stL, PhiL, blocksL, nl_t))
    g = _generalized.generalized_draw(
        Phi, Psi, F, X,
        [(PhiL, np.hstack([P for P, *_ in bl]), float(np.mean([t for *_, t, _ in bl])) + nl_t)
         for _, PhiL, bl, nl_t in laws],
        m=m, n1=n1, gamma=gamma, noise_var=noise_var, B=weight, Y=Y, nonlinear_var=nl_train)
    A = [g.A] if teacher is None else [g.A[:, [j]] for j in range(q)]  # ā = A β per block
    AG = [a if G is None else a @ G for a, (_, G, _, _) in zip(A, blocks, strict=True)]
    out, states = [], []
    for k, (stL, PhiL, blocksL, nl_t) in enumerate(laws):
        cross = [float(np.sum(P * ag)) for (P, *_), ag in zip(blocksL, AG, strict=True)]
        tt = [t + nl_t for _, _, t, _ in blocksL]
        means = [t - 2.0 * c + float(np.sum((PhiL @ a) * ag))
                 for t, c, a, ag in zip(tt, cross, A, AG, strict=True)]
        out.append((g.mean[k], g.variance_noise[k], g.variance_sampling[k]))
        states.append({"st": stL, "A": A, "AG": AG, "cross": cross, "t": tt, "mean": means})
    return out, g.kappa, bound, states


EQUIVALENTS = ("gaussian", "generalized")


def _namespace(backend: object):
    """The array namespace of ``backend``: NumPy, or jax.numpy with float64 on JAX's default device
    (a GPU when present). JAX is configured by importing :mod:`rfshift.montecarlo` (x64 on,
    ``XLA_PYTHON_CLIENT_PREALLOCATE=false`` unless set), the one place rfshift sets JAX options."""
    if not (isinstance(backend, str) and backend in BACKENDS):
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
    if backend == "numpy":
        return np
    try:
        from . import montecarlo  # noqa: F401  (sets jax_enable_x64 and the GPU memory flag)
    except ImportError as exc:
        if not (exc.name or "").startswith("jax"):
            raise
        raise ImportError("backend='jax' needs JAX, which is not installed: pip install 'rfshift[mc]' "
                          "(CPU), or JAX with CUDA for a GPU (pip install 'jax[cuda12]')") from exc
    return importlib.import_module("jax.numpy")


def _run(train, test, *, n0, m, n1, gamma, noise_var, act, draws, seed, target_cov, source,
         nonlinear_var=0.0, nonlinear_var_test=None, teacher=None, equivalent="gaussian", pool=None):
    if equivalent not in EQUIVALENTS:
        raise ValueError(f"equivalent must be one of {EQUIVALENTS}, got {equivalent!r}")
    if pool is not None and equivalent != "generalized":
        raise ValueError(f"pool is used only by equivalent='generalized' (got equivalent={equivalent!r}); "
                         "it would be ignored")
    if pool is not None and source != "gaussian":
        raise ValueError("pool: from samples the generalized equivalent's pool is the training rows "
                         "themselves; pool would be ignored")
    if equivalent == "generalized" and source == "gaussian":
        pool = DEFAULT_POOL if pool is None else _check_int(pool, "pool", 1000)
    if equivalent == "generalized" and train.xp is not np:
        raise ValueError("equivalent='generalized' runs on NumPy only; use backend='numpy'")
    m = _check_int(m, "m", 1)
    n1 = _check_int(n1, "n1", 1)
    draws = _check_int(draws, "draws", 3)
    if draws > MAX_DRAWS:
        raise ValueError(f"draws must be <= {MAX_DRAWS} (MAX_DRAWS), got {draws}")
    seed = _check_int(seed, "seed", 0)
    gamma = _check_real(gamma, "gamma")
    noise_var = _check_real(noise_var, "noise_var")
    nl = _check_real(nonlinear_var, "nonlinear_var")
    nl_test = nl if nonlinear_var_test is None else _check_real(nonlinear_var_test, "nonlinear_var_test")
    B_host = B = _target_cov(target_cov, n0)
    xp = train.xp
    if B is not None and xp is not np:
        B = xp.asarray(B)
    f_star = _teacher(teacher, train, test, B)
    # about ten n1 × n1 and n1 × n0 float64 arrays are alive at once (two draws' states, kernels)
    need = 8 * (10 * n1 * n1 + 8 * n1 * n0 + train.rows * n1 + test.rows * n1) / 2**30
    need_pool = 0.0
    if equivalent == "generalized":  # the pool's inputs, features and three n1 × N work arrays
        rows = train.X.shape[0] if isinstance(train, _SampleLaw) else pool
        need_pool = 8 * rows * (n0 * 2 + n1 * 4) / 2**30
    if need + need_pool > MAX_MEMORY_GIB:
        what = (f"pool = {pool} with n1 = {n1}, n0 = {n0}" if need_pool > need and source == "gaussian"
                else f"n1 = {n1} with n0 = {n0}" + (f" and {rows} input rows" if need_pool else ""))
        fix = "use a smaller pool" if need_pool > need and source == "gaussian" else "use fewer features"
        raise ValueError(f"{what} would need about {need + need_pool:.1f} GiB of memory "
                         f"(limit MAX_MEMORY_GIB = {MAX_MEMORY_GIB:g}); {fix}")
    laws = (test, train)  # OOD, ID
    if f_star is None:  # β ~ N(0, B) averaged exactly: one block, weight B
        linear = _linear_target(B, laws)

        def blocks(law, st, d):
            return linear(law, st)
    else:  # β sampled: draw d uses β_{d−1} and β_d, so the ring pair (d, d + 1) shares β_d
        z = np.random.default_rng([seed, 1]).standard_normal((draws, n0))
        betas = z if B_host is None else z @ _sqrt_psd(B_host)
        if xp is not np:
            betas = xp.asarray(betas)

        def blocks(law, st, d):
            return [(P, None, t, b) for P, t, b in (law.teacher(st, f_star, betas[k]) for k in (d - 1, d))]
    rng = np.random.default_rng(seed)
    pool_rng = np.random.default_rng([seed, 2])  # the generalized equivalent's pools: fresh per draw
    per = np.empty((draws, 2, 3))  # draw, (OOD, ID), (mean-predictor error, noise var., sampling var.)
    kappas = np.empty(draws)
    bound = 0.0
    pairs: list[tuple[int, int, list]] = []
    first = prev = None
    for d in range(draws):
        W = rng.standard_normal((n1, n0))  # NumPy's generator for both backends: the same W
        if equivalent == "generalized" and not (gamma == 0 and n1 == m):  # NumPy only (checked above)
            out, kappas[d], b, states = _generalized_draw(
                train, laws, W, m, n1, gamma, noise_var, lambda law, st, d=d: blocks(law, st, d), pool,
                pool_rng, nl, (nl_test, nl), f_star, () if f_star is None else (betas[d - 1], betas[d]))
        else:
            if xp is not np:
                W = xp.asarray(W)
            out, kappas[d], b, states = _draw(train, laws, W, m, n1, gamma, noise_var,
                                              lambda law, st, d=d: blocks(law, st, d), nl, (nl_test, nl))
        per[d] = out
        bound = max(bound, b)
        if prev is not None:
            vals = [_pair(law, p, q) for law, p, q in zip(laws, prev, states, strict=True)]
            bound = max(bound, *(v[2] for v in vals))
            pairs.append((d - 1, d, vals))
        if d == 0:
            first = states
        prev = states
    vals = [_pair(law, p, q) for law, p, q in zip(laws, prev, first, strict=True)]
    bound = max(bound, *(v[2] for v in vals))
    pairs.append((draws - 1, 0, vals))  # close the ring (draws >= 3)

    members = np.array([[i, j] for i, j, _ in pairs])
    pb = np.array([[v[0] for v in vals] for *_, vals in pairs])  # (pairs, 2): OOD, ID pair bias
    # pair V_W = ½E(Δ)² of an exactly computed joint second moment: negative only by rounding (or a
    # Mehler truncation below kernel_bound), so clipped at 0
    pw = np.maximum(np.array([[v[1] for v in vals] for *_, vals in pairs]), 0.0)
    keep = [(members != d).all(axis=1) for d in range(draws)]  # delete-one: pairs without draw d
    bias, v_w = pb.mean(axis=0), pw.mean(axis=0)
    loo_b = np.array([pb[k].mean(axis=0) for k in keep])
    loo_w = np.array([pw[k].mean(axis=0) for k in keep])
    errs = per.sum(axis=2)  # (draws, 2): the error given W
    data = per[:, :, 1:]  # (draws, 2, 2): noise and sampling variance given W
    finite = bool(np.all(np.isfinite(errs)))
    with np.errstate(invalid="ignore"):
        loo = (per.sum(axis=0) - per) / (draws - 1)  # (draws, 2, 3)
    err = errs.mean(axis=0)
    v_data = data.mean(axis=0)  # (2, 2)
    def se(values: np.ndarray) -> list[float]:
        return [_jackknife(values[:, k]) if np.all(np.isfinite(values[:, k])) else math.inf
                for k in range(2)]

    se_b, se_w = se(loo_b), se(loo_w)
    se_e = se(loo.sum(axis=2))
    se_v = se(loo[:, :, 1] + loo[:, :, 2] + loo[:, :, 0] - loo_b)
    se_n, se_s = se(loo[:, :, 1]), se(loo[:, :, 2])
    if not finite:  # interpolation threshold (m = rank Φ, ridgeless): the variance diverges, not the bias
        err = np.full(2, math.inf)
    # only the ridgeless threshold may be infinite; anything else non-finite is float64 overflow
    ok = (finite or gamma == 0) and not np.isnan(err).any() and (not finite or np.isfinite(se_e + se_b).all())
    # at the threshold the data parts are inf (0·∞ := 0 without noise), never NaN
    data_ok = np.isfinite(v_data).all() if finite else not np.isnan(v_data).any()
    if not (ok and np.isfinite(bias).all() and data_ok and np.isfinite(v_w).all()):
        raise ValueError("the inputs' scale overflows float64 (tr Σ/n0 = "
                         f"{float(train.target2(None)):.3g}, noise_var = {noise_var:.3g}): rescale the "
                         "covariances/samples and noise_var (errors scale with them)")
    low = bias < 0  # an unbiased estimate from pairs of draws; the bias itself is >= 0
    if low.any():
        import warnings

        raw = ", ".join(f"{name} {b:.4g} ± {e:.2g}" for name, b, e, lo in
                        zip(("OOD", "ID"), bias, se_b, low, strict=True) if lo)
        warnings.warn(f"the bias estimated from pairs of W draws came out negative ({raw}); it is "
                      "reported as 0 (the variance as the whole error). Use more draws for a "
                      "resolved bias.", RuntimeWarning, stacklevel=3)
        v_w = np.where(low, per[:, :, 0].mean(axis=0), v_w)  # error of the mean predictor − 0
        bias = np.maximum(bias, 0.0)
    variance = err - bias
    return FiniteSize(
        error=float(err[0]), bias=float(bias[0]), variance=float(variance[0]),
        error_id=float(err[1]), bias_id=float(bias[1]), variance_id=float(variance[1]),
        error_se=se_e[0], bias_se=se_b[0], variance_se=se_v[0],
        error_id_se=se_e[1], bias_id_se=se_b[1], variance_id_se=se_v[1],
        variance_w=float(v_w[0]), variance_noise=float(v_data[0, 0]),
        variance_sampling=float(v_data[0, 1]), variance_w_id=float(v_w[1]),
        variance_noise_id=float(v_data[1, 0]), variance_sampling_id=float(v_data[1, 1]),
        variance_w_se=se_w[0], variance_noise_se=se_n[0], variance_sampling_se=se_s[0],
        variance_w_id_se=se_w[1], variance_noise_id_se=se_n[1], variance_sampling_id_se=se_s[1],
        n0=n0, m=m, n1=n1, gamma=gamma, noise_var=noise_var, activation=act.name, draws=draws, seed=seed,
        source=source, error_draws=errs[:, 0].copy(), error_id_draws=errs[:, 1].copy(), kappa=kappas,
        kernel_bound=float(bound), interpolation_peak=not finite,
        nonlinear_var=nl, nonlinear_var_test=nl_test, teacher=None if f_star is None else f_star.name,
        backend="numpy" if xp is np else "jax",
        equivalent=equivalent,
    )


def finite_size(
    Sigma: object,
    Sigma_star: object,
    *,
    m: int,
    n1: int,
    gamma: float,
    noise_var: float = 0.0,
    activation: str | Activation = "relu",
    draws: int = 8,
    seed: int = 0,
    target_cov: object | None = None,
    nonlinear_var: float = 0.0,
    nonlinear_var_test: float | None = None,
    teacher: str | Activation | None = None,
    backend: str = "numpy",
    equivalent: str = "gaussian",
    pool: int | None = None,
) -> FiniteSize:
    """Test error of random-feature ridge regression at finite sizes (deterministic equivalent given W).

    Parameters
    ----------
    Sigma, Sigma_star:
        Training and test input covariances, symmetric PSD ``n0 × n0`` (need not commute); n0 is
        their size. Inputs are x ~ N(0, Σ) (training) and N(0, Σ*) (test).
    m, n1:
        Number of training samples and of random features (integers >= 1).
    gamma:
        Ridge γ >= 0 on the kernel FᵀF/n1 + γI (THEORY.md §1); 0 is the ridgeless limit.
    noise_var:
        Training label-noise variance σ² >= 0 (errors use clean test labels).
    activation:
        Name or :class:`rfshift.Activation`. ReLU, leaky ReLU, erf, linear and quadratic use closed-form
        kernels; other activations a Mehler series whose truncation bound is reported as
        ``kernel_bound``. Activations with μ1 = 0 (quadratic, abs) are accepted (the kernel given W
        needs no linear part), though :func:`rfshift.asymptotics` has no limit for them.
    draws:
        Number of independent W draws (3 <= draws <= ``MAX_DRAWS`` = 10 000: the bias is estimated
        from pairs of draws and every quantity gets a jackknife standard error).
    seed:
        Seed of the W draws (``numpy.random.default_rng``).
    target_cov:
        Covariance B of β (the target y = βᵀx/√n0 with β ~ N(0, B)); ``None`` is B = I as in
        THEORY.md §1. A 1-D array is read as a diagonal. B = 0 is refused (ValueError).
    nonlinear_var, nonlinear_var_test:
        Variance σ_g² >= 0 of a nonlinear part g(x) of the target under the training law, and σ_g*²
        under the test law (``None``: equal to ``nonlinear_var``), as in :func:`rfshift.asymptotics`.
        At finite size a number cannot say how g correlates with the features, so g is taken
        uncorrelated with every feature and with x under both laws (the proportional limit's
        property, docs/theory.md §19.3 and §20.1): it acts as training label noise that lives on X
        (it lands in ``variance_sampling``, not ``variance_noise``), and the test error and the bias
        gain σ_g*² (ID: σ_g²). For a nonlinear target whose correlation with the features matters,
        give a ``teacher``.
    teacher:
        A single-index teacher y = f*(βᵀx/√n0) + ε (name or :class:`rfshift.Activation`), β ~ N(0, B).
        Given W and β, E[f y] and E y² are computed exactly (the two-activation kernel), so the
        finite-size correlation of the teacher's nonlinear part with the features is kept; β is
        sampled, two per draw (docs/theory.md §20.1), so the s.e. includes its spread. Refused like
        :func:`rfshift.asymptotics` (ValueError) if f* has a non-zero Gaussian mean at the train or
        test signal variance tr(ΣB)/n0, tr(Σ*B)/n0. Adds to ``nonlinear_var``.
    backend:
        ``"numpy"`` (default) or ``"jax"`` (``BACKENDS``). ``"jax"`` runs the per-draw linear algebra
        (W Σ products, the feature kernels and Mehler series, the eigendecomposition of Φ, the products
        and traces of the error and of the pair terms) in jax.numpy with float64 on JAX's default
        device (the GPU when present). W (and a teacher's β) are still drawn with NumPy's generator
        and moved to the device, so both backends see the same W and agree to rounding (~1e-12
        relative, docs/validation.md §9.5); κ is solved on the host from the n1 eigenvalues. JAX is
        imported only then, through :mod:`rfshift.montecarlo`, which turns on ``jax_enable_x64`` for
        the process (as the Monte Carlo does).
    equivalent:
        ``"gaussian"`` (default): the Gaussian-covariate-model equivalent given W (docs/theory.md §20
        step 2). ``"generalized"``: keeps the dependence on x of the leave-one-out quadratic forms
        f(x)ᵀQ₋f(x)/m (docs/theory.md §20.2), which removes most of the Gaussian equivalent's residual
        on concentrated spectra (docs/validation.md §9.9). Every target of the default is supported:
        ``target_cov``, ``teacher`` (the labels f*(βᵀx/√n0) computed on the pool, the same sampled β
        and exact test-law moments as the default) and ``nonlinear_var``/``nonlinear_var_test`` (the
        same convention; docs/theory.md §20.2, "Targets"; docs/validation.md §9.10). Its
        x-expectations are averages over a pool
        of fresh inputs per W draw, whose sampling error is part of every ``*_se``. Cost per draw
        O(iterations · n1² · pool), 20–80× the default (docs/validation.md §9.9). At
        the ridgeless interpolation threshold (γ = 0, n1 = m) both equivalents give ``inf`` (the
        default's draw is used); with γ = 0 and a singular Φ (e.g. linear features with n1 > n0) it
        raises ValueError.
    pool:
        Pool size N >= 1000 of the generalized equivalent (default ``None``: ``DEFAULT_POOL`` = 8000).
        Given with ``equivalent="gaussian"``, which has no pool, it is refused (ValueError) rather
        than ignored.

    Returns
    -------
    FiniteSize
        ``error``, ``bias``, ``variance`` (OOD), ``*_id`` (test law Σ) and a standard error ``*_se``
        for each, plus the sizes, and the split ``variance = variance_w + variance_noise +
        variance_sampling`` (with ``_id`` and ``_se`` twins; see :class:`FiniteSize`).

    Cost: per draw O(n1²·n0 + n1·n0² + n1³) (BLAS matrix products and one n1 × n1 eigendecomposition);
    memory O(n1² + n1·n0) (on the device with ``backend="jax"``). The bias needs a second kernel per
    law and draw (pairs of draws). Measured: docs/validation.md §9.5.

    Raises
    ------
    ValueError, TypeError
        Bad input (the message names the argument); ``backend`` not in ``BACKENDS`` (ValueError).
    ImportError
        ``backend="jax"`` without JAX installed (names the extra: ``pip install 'rfshift[mc]'``).
    rfshift.ConvergenceError
        The κ equation could not be solved.

    Source: docs/theory.md, "Finite-size deterministic equivalents".

    Examples
    --------
    >>> import numpy as np, rfshift as rf
    >>> lam = 1 / np.arange(1, 101); lam /= lam.mean()
    >>> res = rf.finite_size(np.diag(lam), np.diag(lam), m=200, n1=100, gamma=0.01, noise_var=0.25)
    >>> res.error > 0 and res.error_se < 0.01
    True
    """
    xp = _namespace(backend)
    act = get_activation(activation)
    for name, value in (("Sigma", Sigma), ("Sigma_star", Sigma_star)):
        if isinstance(value, Spectrum):
            raise TypeError(f"{name} must be an n0 × n0 covariance matrix, got a Spectrum (the finite-size "
                            "mode needs the covariances themselves, e.g. np.diag(spec.lam) for a diagonal "
                            "one at n0 = its number of atoms; rf.asymptotics takes the Spectrum)")
    S = _covariance(Sigma, "Sigma")
    S_star = _covariance(Sigma_star, "Sigma_star")
    if S.shape != S_star.shape:
        raise ValueError(f"Sigma and Sigma_star must have the same shape, got {S.shape} and {S_star.shape}")
    if not np.trace(S) > 0:
        raise ValueError("Sigma is zero (tr Σ = 0)")
    if not np.trace(S_star) > 0:
        raise ValueError("Sigma_star is zero (tr Σ* = 0)")
    train = _GaussianLaw(S, act, xp)
    test = _GaussianLaw(S_star, act, xp)
    return _run(train, test, n0=S.shape[0], m=m, n1=n1, gamma=gamma, noise_var=noise_var, act=act,
                draws=draws, seed=seed, target_cov=target_cov, source="gaussian",
                nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test, teacher=teacher,
                equivalent=equivalent, pool=pool)


def finite_size_from_samples(
    X_train: object,
    X_test: object,
    *,
    m: int | None = None,
    n1: int,
    gamma: float,
    noise_var: float = 0.0,
    activation: str | Activation = "relu",
    draws: int = 8,
    seed: int = 0,
    target_cov: object | None = None,
    nonlinear_var: float = 0.0,
    nonlinear_var_test: float | None = None,
    teacher: str | Activation | None = None,
    backend: str = "numpy",
    equivalent: str = "gaussian",
    pool: int | None = None,
) -> FiniteSize:
    """Like :func:`finite_size`, with the feature moments taken from the inputs themselves.

    ``X_train`` (N × n0) and ``X_test`` (N* × n0) are samples (rows). Given W, Φ = FᵀF/N, Ψ = FᵀX/(N√n0)
    and E y² = βᵀ(XᵀX/N)β/n0 are the *empirical, uncentred* moments of the rows (no Gaussian
    assumption on x: the inputs' non-Gaussian second-order structure, e.g. varying norms, is kept).
    The model is trained on ``m`` samples drawn from the training rows (default and largest
    ``m = N``; ValueError beyond) and tested on the law of the test rows (OOD) and of the training
    rows (``*_id``). The moments carry a sampling error from the finite N (relative O(1/√N));
    docs/validation.md §9.4 measures it by splitting the rows in halves (≤ 1% relative with 20 000
    image patches). ``teacher``: the labels f*(x·β/√n0) are computed on the rows themselves (no
    Gaussian assumption); ``nonlinear_var``: as in :func:`finite_size`. ``backend`` as in
    :func:`finite_size`; with ``"jax"`` the rows live on the device and σ (and a teacher's f*) is the
    built-in's JAX version (a custom :class:`Activation`'s NumPy ``fn`` is applied on the host, one
    N × n1 round trip per draw). Memory O(N·n1) more per law than the Gaussian route.
    ``equivalent="generalized"`` (docs/theory.md §20.2) uses the training rows themselves as its pool,
    so ``pool`` must be left at ``None`` (ValueError otherwise).
    Also available as ``rfshift.finite_size.from_samples``.
    """
    xp = _namespace(backend)
    act = get_activation(activation)
    Xa = _samples(X_train, "X_train")
    Xb = _samples(X_test, "X_test")
    if Xa.shape[1] != Xb.shape[1]:
        raise ValueError(
            f"X_train and X_test must have the same number of columns, got {Xa.shape[1]} and {Xb.shape[1]}"
        )
    if m is None:
        m = Xa.shape[0]
    elif isinstance(m, numbers.Integral) and not isinstance(m, bool) and m > Xa.shape[0]:
        raise ValueError(f"m = {m} is larger than the {Xa.shape[0]} rows of X_train; the model is "
                         "trained on m of those rows, so m <= rows")
    if not np.any(Xa):
        raise ValueError("X_train is all zeros")
    return _run(_SampleLaw(Xa, act, xp), _SampleLaw(Xb, act, xp), n0=Xa.shape[1], m=m, n1=n1, gamma=gamma,
                noise_var=noise_var, act=act, draws=draws, seed=seed, target_cov=target_cov,
                source="samples", nonlinear_var=nonlinear_var, nonlinear_var_test=nonlinear_var_test,
                teacher=teacher, equivalent=equivalent, pool=pool)


finite_size.from_samples = finite_size_from_samples  # type: ignore[attr-defined]
finite_size.MAX_DRAWS = MAX_DRAWS  # type: ignore[attr-defined]
finite_size.DEFAULT_POOL = DEFAULT_POOL  # type: ignore[attr-defined]
finite_size.MAX_MEMORY_GIB = MAX_MEMORY_GIB  # type: ignore[attr-defined]
finite_size.BACKENDS = BACKENDS  # type: ignore[attr-defined]
