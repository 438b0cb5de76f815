"""``simulate``: Monte Carlo estimates of error, bias and variance of the finite model, with s.e.

Also (issues 9 and 11): structured targets β ~ N(0, B), single-index teachers, the three
disagreements, K-ensemble errors and the training error with its GCV ratio.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .._validation import check_parameter
from ..engine import Asymptotics, VarianceTerms, asymptotics
from ..spectra import Spectrum
from .estimators import summarise, summarise_columns, trial_estimates
from .kernels import MEHLER_ORDER, exact_kernel, resolve_builtin
from .sampling import Design, disagreement_design, factorial_design, realise, replicate_design
from .simulator import Config, run_batch

__all__ = ["DisagreementEstimate", "Estimate", "simulate", "text_progress"]

#: Working-memory target per batch of trials (bytes); a batch holds at least one trial.
MEMORY_BUDGET = 2 << 30
#: Entries of one B × B tile of the n1 × n1 test kernel (B <= 4096; at least 4 tiles per side).
KERNEL_BLOCK_ENTRIES = 1 << 24
#: Entries of one chunk of sampled test pre-activations (nW × n1 × chunk).
TEST_CHUNK_ENTRIES = 1 << 24
#: Default number of test points of the sampling path (activations without a closed-form kernel).
DEFAULT_TEST_POINTS = 4096

_TERMS = ("w", "x", "eps", "wx", "w_eps", "x_eps", "wx_eps")
_DIS = ("shared_data", "shared_features", "independent")
#: Largest allowed truncation bound max|ρ|^{K+1}/(1 − max|ρ|) of the teacher's Mehler series.
MEHLER_TOL = 1e-10


@dataclass(frozen=True)
class DisagreementEstimate:
    """E_x(ŷ₁ − ŷ₂)² for two models sharing β and (X, ε) / W / nothing (Monte Carlo, or its s.e.)."""

    shared_data: float
    shared_features: float
    independent: float


@dataclass(frozen=True)
class Estimate:
    """Monte Carlo estimates (means over trials) and their standard errors (``*_se``).

    OOD fields test on Σ*, ``*_id`` fields test the same trained models on Σ. ``variance_terms*`` are
    the THEORY.md §7 ANOVA terms (``fine=True`` only, else None). ``spectrum``, ``phi`` and ``psi``
    are the values actually simulated (atom weights rounded to n0, φ = n0/m, ψ = n0/n1).
    """

    error: float
    error_se: float
    bias: float
    bias_se: float
    variance: float
    variance_se: float
    error_id: float
    error_id_se: float
    bias_id: float
    bias_id_se: float
    variance_id: float
    variance_id_se: float
    variance_terms: VarianceTerms | None
    variance_terms_se: VarianceTerms | None
    variance_terms_id: VarianceTerms | None
    variance_terms_id_se: VarianceTerms | None
    n0: int
    n1: int
    m: int
    phi: float
    psi: float
    gamma: float
    noise_var: float
    activation: str
    trials: int
    trainings_per_trial: int
    exact: bool
    test_points: int | None
    seed: int
    spectrum: Spectrum
    seconds: float
    teacher: str | None = None
    exact_beta: bool = False
    target: bool = False
    disagreement: DisagreementEstimate | None = None
    disagreement_se: DisagreementEstimate | None = None
    disagreement_id: DisagreementEstimate | None = None
    disagreement_id_se: DisagreementEstimate | None = None
    ensemble_k: tuple[float, ...] | None = None
    ensemble_error: np.ndarray | None = None
    ensemble_error_se: np.ndarray | None = None
    ensemble_error_id: np.ndarray | None = None
    ensemble_error_id_se: np.ndarray | None = None
    training_error: float | None = None
    training_error_se: float | None = None
    gcv: float | None = None
    gcv_se: float | None = None
    df_ratio: float | None = None
    df_ratio_se: float | None = None

    def theory(self) -> Asymptotics:
        """The engine's limit at the simulated spectrum (with its target), ratios and teacher."""
        return asymptotics(self.spectrum, phi=self.phi, psi=self.psi, gamma=self.gamma,
                           noise_var=self.noise_var, activation=self.activation, teacher=self.teacher)

    def zscores(self, theory: Asymptotics | None = None) -> dict[str, float]:
        """(MC − theory)/s.e. for error, bias, variance (OOD and ID), the fine terms, and the
        disagreements, ensemble errors and training error where both sides have them."""
        th = self.theory() if theory is None else theory
        out = {}
        for name in ("error", "bias", "variance", "error_id", "bias_id", "variance_id"):
            s = float(getattr(self, f"{name}_se"))
            diff = float(getattr(self, name)) - float(getattr(th, name))
            # s.e. 0 (e.g. a term that no trial varies): 0 if MC equals theory, else |z| = inf, never NaN
            out[name] = diff / s if s > 0 else (0.0 if diff == 0 else math.inf)
        out.update(_new_zscores(self, th))
        for suffix, tterms in (("", th.variance_terms), ("_id", th.variance_terms_id)):
            mc = getattr(self, f"variance_terms{suffix}")
            se = getattr(self, f"variance_terms{suffix}_se")
            if mc is None:
                continue
            for t in _TERMS:
                s = float(getattr(se, t))
                diff = float(getattr(mc, t)) - float(getattr(tterms, t))
                out[f"V_{t}{suffix}"] = diff / s if s > 0 else (0.0 if diff == 0 else math.inf)
        return out


def _z(mc: float, theory: float, se: float) -> float:
    diff = mc - theory
    return diff / se if se > 0 else (0.0 if diff == 0 else math.inf)


def theory_values(est: Estimate, th: Asymptotics) -> dict[str, tuple[float, float, float]]:
    """(theory, MC, s.e.) for each new quantity (issue 11) that both the estimate and the engine
    result ``th`` have: ``dis_<field>[_id]``, ``ensemble_<K>[_id]``, ``training_error`` and ``gcv``.
    (df/m is not compared by z: it self-averages, its s.e. is ~100× below its O(1/n0) finite-size
    gap, so z grows with the trial count; compare ``est.df_ratio`` with ``th.degrees_of_freedom`` as
    a relative gap instead.)"""
    out: dict[str, tuple[float, float, float]] = {}
    if est.disagreement is not None and hasattr(th, "disagreement"):
        for sfx in ("", "_id"):
            tdis = getattr(th, f"disagreement{sfx}")
            mc, se = getattr(est, f"disagreement{sfx}"), getattr(est, f"disagreement{sfx}_se")
            for f in _DIS:
                out[f"dis_{f}{sfx}"] = (float(getattr(tdis, f)), getattr(mc, f), getattr(se, f))
    if est.ensemble_k is not None and hasattr(th, "ensemble"):
        for i, k in enumerate(est.ensemble_k):
            ens = th.ensemble(k)
            label = "inf" if math.isinf(k) else f"{k:g}"
            for sfx in ("", "_id"):
                out[f"ensemble_{label}{sfx}"] = (float(getattr(ens, f"error{sfx}")),
                                                 float(getattr(est, f"ensemble_error{sfx}")[i]),
                                                 float(getattr(est, f"ensemble_error{sfx}_se")[i]))
    if est.training_error is not None and hasattr(th, "training_error"):
        out["training_error"] = (float(th.training_error), est.training_error, est.training_error_se)
        if est.gcv is not None and hasattr(th, "gcv"):
            out["gcv"] = (float(th.gcv), est.gcv, est.gcv_se)
    return out


def _new_zscores(est: Estimate, th: Asymptotics) -> dict[str, float]:
    return {k: _z(mc, t, se) for k, (t, mc, se) in theory_values(est, th).items()}


def text_progress(label: str = "", stream=None, width: int = 30) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that draws a one-line text bar on ``stream`` (stderr)."""
    out = sys.stderr if stream is None else stream
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        frac = done / max(total, 1)
        bar = "#" * round(width * frac) + "." * (width - round(width * frac))
        el = time.perf_counter() - start
        out.write(f"\r{label} [{bar}] {done}/{total} trials {el:6.1f}s")
        if done >= total:
            out.write("\n")
        out.flush()

    return progress


def _int_arg(value: object, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    return int(value)


def _float_arg(value: object, name: str, allow_zero: bool) -> float:
    arr = check_parameter(value, name, allow_zero=allow_zero)
    if arr.size != 1:
        raise ValueError(f"{name} must be a scalar for simulate, got shape {arr.shape}")
    return float(arr.reshape(()))


def tile_size(n1: int) -> int:
    """Side B of the test-kernel tiles: >= 4 tiles per side (8 from n1 = 1024), B² <= KERNEL_BLOCK_ENTRIES."""
    n_tiles = max(8 if n1 >= 1024 else 4, -(-n1 // math.isqrt(KERNEL_BLOCK_ENTRIES)))
    return max(1, -(-n1 // n_tiles))


def _trial_bytes(cfg: Config, n_pred: int) -> int:
    n_w, n_x, _ = cfg.counts
    n0, n1, m = cfg.n0, cfg.n1, cfg.m
    entries = (3 * n_w * n1 * n0 + 2 * n_x * n0 * m + 3 * n1 * m + 2 * min(n1, m) ** 2
               + 4 * cfg.block_rows * n1 + 2 * n_w * n1 * cfg.test_chunk * (not cfg.exact) + n_pred * n1)
    if not cfg.diagonal:
        entries += 2 * n0 * n0
    if cfg.training:
        entries += 2 * min(n1, m) ** 2
    if cfg.teacher is not None:
        entries += 4 * (MEHLER_ORDER + 1) * n_w * n1
    if cfg.exact_beta:  # label columns, coefficient columns and the w Σ B^{1/2} rows
        cols = m + (1 if cfg.teacher else n0)
        entries += (3 * n_x * m * cols + (n_pred + 2) * n1 * cols + 2 * n_w * n1 * n0
                    + 2 * cfg.block_rows * cols)
    return 8 * entries


def _sharding():
    devices = jax.devices()
    if len(devices) <= 1:
        return None, 1
    mesh = Mesh(np.asarray(devices), ("trials",))
    return mesh, len(devices)


def simulate(
    spec: Spectrum | tuple[object, object],
    n0: int | None = None,
    phi: float = 0.5,
    psi: float = 0.25,
    gamma: float = 1e-2,
    noise_var: float = 0.1,
    activation: str = "relu",
    trials: int = 8,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    *,
    fine: bool = False,
    reps: int = 2,
    exact: bool | None = None,
    test_points: int = DEFAULT_TEST_POINTS,
    batch: int | None = None,
    target_power: object | None = None,
    teacher: str | object | None = None,
    disagreement: bool = False,
    ensemble: object | None = None,
    training_error: bool = False,
    exact_beta: bool = False,
) -> Estimate:
    """Monte Carlo test error, bias and variance of random-feature ridge regression at finite n0.

    ``spec``: a :class:`~rfshift.Spectrum` (realised with round(p_k n0) directions per atom,
    n0 default 512) or a pair ``(Sigma, Sigma_star)`` of n0 × n0 covariances (need not commute).
    m = round(n0/φ) samples, n1 = round(n0/ψ) features. Each of ``trials`` independent trials draws
    β and ``reps`` independent trainings sharing it (``fine=True``: the 2×2×2 design over W, X, ε,
    8 trainings, giving the §7 terms). Test expectations are exact for relu, leaky_relu, erf, linear
    (``exact=None``/True) and otherwise sampled with ``test_points`` points per trial (rounded up to
    whole chunks). ``progress(done, total)`` is called after every batch of trials.

    Targets (issue 9): β ~ N(0, B) with b per atom from ``spec.target_power`` or ``target_power``
    (for a tuple spec: a third matrix B or ``target_power`` = B or its diagonal); β is drawn per trial
    as B^{1/2} g (b ≡ 1: the same draws as without a target). ``teacher`` (a built-in activation name):
    labels y = f*(βᵀx/√n0) + ε, error against the clean f*(βᵀx/√n0); exact test expectation by
    Mehler's series (a ValueError if its truncation bound exceeds 1e-10: use exact=False or larger n0).

    Issue 11: ``disagreement=True`` estimates E_x(ŷ₁ − ŷ₂)² for two models sharing the data (X, ε),
    the features W, or nothing (OOD and ID); ``ensemble=(K, ...)`` the error of the average of K models
    with independent W on the same data (K >= 1, ``math.inf`` allowed). Both use the 2×2 design over W
    and the data (4 trainings per trial; ``fine=True`` keeps the 2×2×2 design, which also has them).
    ``training_error=True``: (1/m)‖y − ŷ(X)‖² on the noisy training labels, the GCV ratio
    training_error/(1 − df/m)² (None at γ = 0 with n1 >= m, where it is 0/0) and df/m, df = tr K(K+γ)^{-1}.

    ``exact_beta=True`` (exact-kernel activations only): every statistic is averaged exactly over β
    and ε (for a teacher over ε only; β stays sampled) by solving for the n0 + m label columns
    [Xᵀ B^{1/2}/√n0 | σ I] instead of one label vector — a much smaller s.e. (no β, ε spread) at
    ~(n0 + m)/n0·P times the test-kernel contraction cost. Default False: one β and ε per trial.
    """
    t_start = time.perf_counter()
    n0 = None if n0 is None else _int_arg(n0, "n0", 2)
    phi = _float_arg(phi, "phi", allow_zero=False)
    psi = _float_arg(psi, "psi", allow_zero=False)
    gamma = _float_arg(gamma, "gamma", allow_zero=True)
    noise_var = _float_arg(noise_var, "noise_var", allow_zero=True)
    trials = _int_arg(trials, "trials", 2)
    reps = _int_arg(reps, "reps", 2)
    seed = _int_arg(seed, "seed", 0)
    test_points = _int_arg(test_points, "test_points", 1)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable(done, total) or None, got {type(progress).__name__}")
    name = resolve_builtin(activation)
    teacher_name = None if teacher is None else resolve_builtin(teacher)
    ks = _ensemble_arg(ensemble)
    disagreement = _bool_arg(disagreement, "disagreement")
    training_error = _bool_arg(training_error, "training_error")
    exact_beta = _bool_arg(exact_beta, "exact_beta")
    has_exact = exact_kernel(name) is not None
    if exact is None:
        exact = has_exact
    elif exact and not has_exact:
        raise ValueError(f"no closed-form test kernel for activation {name!r}; use exact=False (sampling)")

    if exact_beta and not exact:
        raise ValueError(f"exact_beta=True needs the exact test path (activations with a closed-form "
                         f"kernel: relu, leaky_relu, erf, linear), got activation {name!r}")
    geom = realise(spec, n0, target_power)
    n0 = geom.n0
    m = max(1, round(n0 / phi))
    n1 = max(1, round(n0 / psi))
    if gamma == 0 and name == "linear" and n0 < min(n1, m):
        raise ValueError(
            f"gamma=0 with the linear activation: the Gram matrix has rank n0={n0} < min(n1={n1}, m={m}) "
            "and is singular; use gamma > 0"
        )
    if fine:
        design: Design = factorial_design()
    elif disagreement or ks is not None:
        design = disagreement_design()
    else:
        design = replicate_design(reps)
    n_w = design.counts[0]
    block = tile_size(n1)
    chunk = max(1, min(test_points, TEST_CHUNK_ENTRIES // (n_w * n1)))
    n_chunks = -(-test_points // chunk)
    cfg = Config(n0, n1, m, design.idx, name, bool(exact), geom.diagonal, block, chunk, n_chunks,
                 teacher_name, training_error, exact_beta)

    mesh, n_dev = _sharding()
    if batch is None:
        per_dev = max(1, MEMORY_BUDGET // _trial_bytes(cfg, design.n_pred))
        batch = min(per_dev * n_dev, trials)
    batch = _int_arg(batch, "batch", 1)
    n_batches = -(-trials // batch)
    batch = -(-trials // n_batches)  # equal batches, at most n_batches - 1 wasted trials
    batch = -(-batch // n_dev) * n_dev
    root = jax.random.PRNGKey(seed)
    all_keys = jax.vmap(lambda i: jax.random.fold_in(root, i))(jnp.arange(n_batches * batch))

    train_f = jnp.asarray(geom.train_factor)
    test_f = jnp.asarray(geom.test_factor)
    target_f = None if geom.target_factor is None else jnp.asarray(geom.target_factor)
    noise_sd = jnp.asarray(math.sqrt(noise_var))
    gamma_j = jnp.asarray(gamma)
    if mesh is not None:
        rep = NamedSharding(mesh, PartitionSpec())
        train_f, test_f = jax.device_put(train_f, rep), jax.device_put(test_f, rep)
        if target_f is not None:
            target_f = jax.device_put(target_f, rep)
        key_sharding = NamedSharding(mesh, PartitionSpec("trials"))
    parts = []
    for i in range(n_batches):
        keys = all_keys[i * batch:(i + 1) * batch].reshape(n_dev, batch // n_dev, -1)
        if mesh is not None:
            keys = jax.device_put(keys, key_sharding)
        out = run_batch(keys, train_f, test_f, noise_sd, gamma_j, cfg, target_f)
        parts.append({k: np.asarray(v).reshape(batch, *v.shape[2:]) for k, v in out.items()})
        if progress is not None:
            progress(min((i + 1) * batch, trials), trials)
    stats = {k: np.concatenate([p[k] for p in parts])[:trials] for k in parts[0]}
    for k, v in stats.items():
        if not np.all(np.isfinite(v)):
            if gamma == 0:
                raise ValueError(
                    f"gamma=0: the Gram matrix is numerically singular (n0={n0}, n1={n1}, m={m}, "
                    f"activation={name}); the minimum-norm solution is ill-defined here, use gamma > 0"
                )
            raise ValueError(f"non-finite Monte Carlo statistic {k!r} (overflow?) at n0={n0}, n1={n1}, m={m}")
    if "rho" in stats:
        check_mehler(stats["rho"], teacher_name, n0)

    res: dict[str, object] = {}
    terms: dict[str, VarianceTerms | None] = {}
    extra: dict[str, object] = {}
    for j, suffix in ((0, ""), (1, "_id")):
        per = trial_estimates(stats["yy"][:, j], stats["yf"][:, j], stats["G"][:, j], design, fine=fine,
                              disagreement=disagreement, ensemble=ks)
        for q in ("error", "bias", "variance"):
            res[f"{q}{suffix}"], res[f"{q}{suffix}_se"] = summarise(per[q])
        if disagreement:
            pairs = {f: summarise(per[f"dis_{f}"]) for f in _DIS}
            extra[f"disagreement{suffix}"] = DisagreementEstimate(**{f: v[0] for f, v in pairs.items()})
            extra[f"disagreement{suffix}_se"] = DisagreementEstimate(**{f: v[1] for f, v in pairs.items()})
        if ks is not None:
            extra[f"ensemble_error{suffix}"], extra[f"ensemble_error{suffix}_se"] = summarise_columns(
                per["ensemble"])
        if fine:
            pairs = {t: summarise(per[f"var_{t}"]) for t in _TERMS}
            terms[f"variance_terms{suffix}"] = VarianceTerms(**{t: v[0] for t, v in pairs.items()})
            terms[f"variance_terms{suffix}_se"] = VarianceTerms(**{t: v[1] for t, v in pairs.items()})
        else:
            terms[f"variance_terms{suffix}"] = terms[f"variance_terms{suffix}_se"] = None
    if ks is not None:
        extra["ensemble_k"] = ks
    if training_error:
        extra["training_error"], extra["training_error_se"] = summarise(stats["train"].mean(axis=1))
        extra["df_ratio"], extra["df_ratio_se"] = summarise(stats["df"].mean(axis=1) / m)
        if not (gamma == 0 and n1 >= m):  # at γ = 0 with n1 >= m the fit interpolates: GCV is 0/0
            ratio = stats["train"] / (1.0 - stats["df"] / m) ** 2
            extra["gcv"], extra["gcv_se"] = summarise(ratio.mean(axis=1))
    return Estimate(
        **res, **terms, n0=n0, n1=n1, m=m, phi=n0 / m, psi=n0 / n1, gamma=gamma, noise_var=noise_var,
        activation=name, trials=trials, trainings_per_trial=design.n_pred, exact=bool(exact),
        test_points=None if exact else chunk * n_chunks, seed=seed, spectrum=geom.spectrum,
        seconds=time.perf_counter() - t_start, teacher=teacher_name, exact_beta=exact_beta,
        target=geom.target_factor is not None, **extra,
    )


def check_mehler(rho: np.ndarray, teacher: str, n0: int) -> None:
    """Refuse a teacher run whose Mehler series (kernels.teacher_cross) may be truncated too early:
    the remainder is at most max|ρ|^{K+1}/(1 − max|ρ|) times √(E f*² E σ²) (|h_k| sequences have
    norm √(E f²) each; Cauchy–Schwarz), K = MEHLER_ORDER."""
    r = float(np.max(rho))
    bound = r ** (MEHLER_ORDER + 1) / (1.0 - r) if r < 1 else math.inf
    if bound > MEHLER_TOL:
        raise ValueError(
            f"teacher={teacher!r}: the exact test expectation's Mehler series is not accurate enough "
            f"(max |correlation| {r:.3f}, truncation bound {bound:.1e} > {MEHLER_TOL:g}) at n0={n0}; "
            "use a larger n0 or exact=False (sampled test points)")


def _bool_arg(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _ensemble_arg(value: object) -> tuple[float, ...] | None:
    """Ensemble sizes: None, or a K / sequence of K with K >= 1 an integer or math.inf."""
    if value is None:
        return None
    vals = np.atleast_1d(np.asarray(value, dtype=float)) if not isinstance(value, str) else None
    if vals is None or vals.ndim != 1 or vals.size == 0:
        raise ValueError(f"ensemble must be K or a sequence of K (integers >= 1 or math.inf), got {value!r}")
    for k in vals:
        if not (math.isinf(k) and k > 0) and not (k >= 1 and k == math.floor(k)):
            raise ValueError(f"ensemble sizes must be integers >= 1 or math.inf, got {value!r}")
    return tuple(float(k) for k in vals)


assert {f.name for f in fields(VarianceTerms)} == set(_TERMS)
