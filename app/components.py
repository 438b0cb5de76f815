"""Shared pieces of the rfshift app: sidebar widgets, cached engine calls, charts and downloads.

The app is a thin shell over the public ``rfshift`` API. Everything Streamlit-specific lives in
``app/``; the chart builders (:func:`curve_frame`, :func:`curve_chart`, :func:`curve_png`) are plain
functions of NumPy/pandas data so that ``benchmarks/app_latency.py`` can time exactly what a slider
move costs. Settings widgets are bound to the URL query string (``bind="query-params"``), so the
address bar always holds a link to the current view.

Ratios: d = n0 (input dimension), n = m (training samples), N = n1 (random features);
φ = d/n, ψ = d/N, so n/d = 1/φ and N/n = φ/ψ (ψ < φ is overparameterised, N > n).
"""

from __future__ import annotations

import importlib
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import rfshift as rf
from rfshift import io as rfio
from rfshift.shifts import FAMILIES, make_shift

#: Exceptions the library raises for bad input or numerical failure; shown as ``st.error``.
LIB_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, rf.ConvergenceError)

UPLOAD = "upload"
#: Upload size limit, in MiB (the library's own limit, so files it would refuse never get in).
MAX_UPLOAD_MB = max(1, rfio.MAX_BYTES // 2**20)

#: Log-spaced values offered by ratio sliders (n/d, N/n, ...).
LOG_GRID: tuple[float, ...] = tuple(
    sorted({round(m * 10.0**k, 10) for k in range(-2, 3) for m in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8)})
)
#: Ridge values offered by γ sliders; 0 is the exact ridgeless limit.
GAMMA_GRID: tuple[float, ...] = (0.0, *(round(m * 10.0**k, 10) for k in range(-5, 2) for m in (1, 2, 5)))

QUANTITIES = ("error", "bias", "variance")
COLORS = {"error": "#1f77b4", "bias": "#ff7f0e", "variance": "#2ca02c"}
TERM_LABELS = {
    "w": "V_W (features)",
    "x": "V_X (data)",
    "wx": "V_WX",
    "x_eps": "V_Xε",
    "wx_eps": "V_WXε",
}


# --- library access ------------------------------------------------------------------------------


def fail(message: str) -> NoReturn:
    """Show ``message`` as an error and stop this run of the page (no traceback)."""
    st.error(message)
    st.stop()
    raise AssertionError("unreachable")  # pragma: no cover - st.stop() raises


def guarded(fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
    """Call a library function; on ``ValueError``/``TypeError``/``ConvergenceError`` show a clear
    ``st.error`` naming ``what`` failed and stop the page instead of showing a traceback."""
    try:
        return fn(*args, **kwargs)
    except LIB_ERRORS as exc:
        fail(f"{what}: {exc}")


def optional_module(name: str) -> Any | None:
    """Import ``name`` (e.g. ``"rfshift.montecarlo"``) or return None if it is not available."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def require_api(name: str, *, modules: Sequence[str] = ("rfshift.analysis",)) -> Callable[..., Any]:
    """Return ``rf.<name>`` (else the first of ``modules`` that has it); if this installation of
    rfshift lacks it, say so on the page and stop."""
    fn = getattr(rf, name, None)
    for module in modules:
        if fn is not None:
            break
        mod = optional_module(module)
        fn = getattr(mod, name, None) if mod is not None else None
    if fn is None:
        st.warning(
            f"This page needs `rfshift.{name}` (from `{modules[0]}`), which this installation of rfshift "
            "does not provide. Update rfshift to use it."
        )
        st.stop()
    return fn


# --- sidebar widgets -----------------------------------------------------------------------------


def _fmt_ratio(v: float) -> str:
    return f"{v:g}"


def _fmt_gamma(v: float) -> str:
    return "0 (ridgeless)" if v == 0 else f"{v:g}"


def _nice_step(lo: float, hi: float) -> float:
    span = hi - lo
    return 10.0 ** math.floor(math.log10(span / 100.0)) if span > 0 else 0.01


def ratio_slider(
    label: str,
    key: str,
    default: float,
    *,
    help: str | None = None,
    container: Any = None,
    grid: Sequence[float] = LOG_GRID,
) -> float:
    """A log-spaced select slider bound to the query string."""
    c = container or st.sidebar
    return float(
        c.select_slider(
            label,
            options=list(grid),
            value=default,
            key=key,
            format_func=_fmt_ratio,
            help=help,
            bind="query-params",
        )
    )


def ratio_range(
    label: str,
    key: str,
    default: tuple[float, float],
    *,
    container: Any = None,
    grid: Sequence[float] = LOG_GRID,
    fmt: Callable[[float], str] = _fmt_ratio,
) -> tuple[float, float]:
    c = container or st.sidebar
    lo, hi = c.select_slider(
        label, options=list(grid), value=default, key=key, format_func=fmt, bind="query-params"
    )
    return float(lo), float(hi)


def gamma_slider(
    key: str = "gamma", default: float = 0.0, *, label: str = "Ridge γ", container: Any = None
) -> float:
    c = container or st.sidebar
    return float(
        c.select_slider(
            label,
            options=list(GAMMA_GRID),
            value=default,
            key=key,
            format_func=_fmt_ratio,
            help="Ridge on the kernel FᵀF/N + γI; 0 is the exact ridgeless (min-norm) limit.",
            bind="query-params",
        )
    )


def activation_select(key: str = "act", default: str = "relu", *, container: Any = None) -> str:
    c = container or st.sidebar
    names = list(rf.available_activations())
    return str(
        c.selectbox(
            "Activation",
            names,
            index=names.index(default),
            key=key,
            bind="query-params",
            help="Activations with μ1 = 0 (quadratic, abs) carry no linear signal; the theory rejects them.",
        )
    )


def noise_slider(key: str = "noise", default: float = 0.1, *, container: Any = None) -> float:
    c = container or st.sidebar
    return float(
        c.slider(
            "Label noise σ²",
            0.0,
            10.0,
            default,
            0.05,
            key=key,
            bind="query-params",
            help="Training label-noise variance; errors are against clean test labels.",
        )
    )


@dataclass(frozen=True)
class SpectrumChoice:
    """A chosen joint spectrum (Σ, Σ*) and how it was chosen (for labels and the URL)."""

    spec: rf.Spectrum
    label: str
    family: str | None = None
    params: dict[str, float] = field(default_factory=dict)

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.spec.lam, self.spec.lam_star, self.spec.weights


def _family_label(name: str) -> str:
    if name == UPLOAD:
        return "your own spectrum: CSV (lam, lam_star, weight) or covariance files"
    return f"{name} — {FAMILIES[name].description}"


def family_param_sliders(
    name: str, prefix: str, container: Any, overrides: dict[str, float] | None = None
) -> dict[str, float]:
    params: dict[str, float] = {}
    for p, (default, lo, hi) in FAMILIES[name].params.items():
        default = (overrides or {}).get(p, default)
        step = _nice_step(lo, hi)
        params[p] = float(
            container.slider(
                f"{name}: {p}",
                float(lo),
                float(hi),
                float(default),
                step,
                key=f"{prefix}{name}_{p}",
                bind="query-params",
            )
        )
    return params


@st.cache_data(show_spinner=False, max_entries=32)
def _load_upload(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spec = rfio.load_spectrum(data, name=name)
    return spec.lam, spec.lam_star, spec.weights


@st.cache_data(show_spinner=False, max_entries=32)
def _load_pair(a: bytes, b: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spec = rfio.load_covariance_pair(a, b)
    return spec.lam, spec.lam_star, spec.weights


def _read_upload(f: Any, what: str) -> bytes:
    size = getattr(f, "size", None)
    if size is not None and size > rfio.MAX_BYTES:
        fail(f"{what}: {f.name} is larger than {MAX_UPLOAD_MB} MiB")
    return bytes(f.getvalue())


def upload_picker(prefix: str = "", *, container: Any = None) -> SpectrumChoice:
    """File upload of a joint spectrum: CSV (lam, lam_star[, weight]), .npz (Sigma, Sigma_star),
    a stacked (2, d, d) .npy, or two .npy covariances. Never unpickled; size-limited."""
    c = container or st.sidebar
    mode = c.radio(
        "File format",
        ["one file (.csv, .npz, stacked .npy)", "two .npy files (Σ, then Σ*)"],
        key=f"{prefix}upload_mode",
    )
    if mode.startswith("one"):
        f = c.file_uploader(
            "Spectrum file",
            type=["csv", "npz", "npy"],
            key=f"{prefix}upload_file",
            max_upload_size=MAX_UPLOAD_MB,
            help="CSV with header lam,lam_star[,weight]; .npz with arrays Sigma and Sigma_star; "
            ".npy of shape (2, d, d). Pickled data is never loaded.",
        )
        if f is None:
            st.info(
                "Upload a spectrum file in the sidebar to continue (CSV columns lam, lam_star, weight; "
                "or covariances as .npz / .npy)."
            )
            st.stop()
        data = _read_upload(f, "upload")
        lam, lam_star, w = guarded(_load_upload, data, f.name, what=f"Could not read {f.name!r}")
        label = f"upload: {f.name}"
    else:
        fa = c.file_uploader(
            "Σ (training covariance, .npy)",
            type=["npy"],
            key=f"{prefix}upload_sigma",
            max_upload_size=MAX_UPLOAD_MB,
        )
        fb = c.file_uploader(
            "Σ* (test covariance, .npy)",
            type=["npy"],
            key=f"{prefix}upload_sigma_star",
            max_upload_size=MAX_UPLOAD_MB,
        )
        if fa is None or fb is None:
            st.info(
                "Upload both covariance matrices (Σ and Σ*, .npy, same shape) in the sidebar to continue."
            )
            st.stop()
        lam, lam_star, w = guarded(
            _load_pair,
            _read_upload(fa, "Σ"),
            _read_upload(fb, "Σ*"),
            what=f"Could not read the covariance pair {fa.name!r}, {fb.name!r}",
        )
        label = f"upload: {fa.name} / {fb.name}"
    spec = guarded(rf.Spectrum, lam, lam_star, w, what="Invalid spectrum")
    return SpectrumChoice(spec, label)


def spectrum_picker(
    prefix: str = "",
    *,
    label: str = "Training spectrum and shift",
    default: str = "power_law",
    container: Any = None,
    allow_upload: bool = True,
    overrides: dict[str, float] | None = None,
) -> SpectrumChoice:
    """Sidebar selector of a shift family (with sliders for its parameters) or an uploaded spectrum;
    ``overrides`` replaces the families' default parameter values (e.g. ``{"tau": -1.0}``)."""
    c = container or st.sidebar
    options = [*FAMILIES, *([UPLOAD] if allow_upload else [])]
    name = str(
        c.selectbox(
            label,
            options,
            index=options.index(default),
            key=f"{prefix}shift",
            bind="query-params",
            help="Named shift families (rfshift.shifts) or a file of your own.",
        )
    )
    c.caption(_family_label(name))
    if name == UPLOAD:
        return upload_picker(prefix, container=c)
    params = family_param_sliders(name, prefix, c, overrides)
    spec = guarded(make_shift, name, **params, what=f"Shift {name!r}")
    args = ", ".join(f"{k}={v:g}" for k, v in params.items())
    return SpectrumChoice(spec, f"{name}({args})", name, params)


# --- cached engine calls -------------------------------------------------------------------------

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
) -> dict[str, np.ndarray]:
    """Engine call for a sweep: the error/bias/variance arrays (ID and OOD), the peak mask and,
    with ``terms``, the fine-grained OOD variance terms ``term_<name>``."""
    spec = rf.Spectrum(lam, lam_star, weights)
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


# --- data frames and charts ----------------------------------------------------------------------


def curve_frame(x_name: str, x: np.ndarray, curve: dict[str, np.ndarray]) -> pd.DataFrame:
    """Wide table of a sweep: x, the six curves (inf kept at the interpolation peak) and the peak flag."""
    data: dict[str, Any] = {x_name: np.asarray(x, dtype=float)}
    for f in CURVE_FIELDS:
        data[f] = curve[f]
    df = pd.DataFrame(data)
    df["interpolation_peak"] = curve["peak"]
    for k in TERM_LABELS:
        if f"term_{k}" in curve:
            df[f"variance_term_{k}"] = curve[f"term_{k}"]
    return df


def long_frame(
    df: pd.DataFrame, x_name: str, quantities: Iterable[str], tests: Iterable[str], *, log_y: bool
) -> pd.DataFrame:
    """Long table for plotting; inf (the peak) and, on a log axis, non-positive values become NaN
    (a gap in the line) — the peak itself is marked by :func:`curve_chart`."""
    pairs = [(q, t) for q in quantities for t in tests]
    n = len(df)
    xs = df[x_name].to_numpy(dtype=float)
    ys = (
        np.concatenate([df[q if t == "OOD" else f"{q}_id"].to_numpy(dtype=float) for q, t in pairs])
        if pairs
        else np.empty(0)
    )
    bad = ~np.isfinite(ys) | ((ys <= 0) if log_y else False)
    ys = np.where(bad, np.nan, ys)
    return pd.DataFrame(
        {
            x_name: np.tile(xs, len(pairs)),
            "value": ys,
            "quantity": np.repeat([q for q, _ in pairs], n),
            "test": np.repeat([t for _, t in pairs], n),
            "series": np.repeat([f"{q} ({t})" for q, t in pairs], n),
        }
    )


def peak_positions(df: pd.DataFrame, x_name: str) -> np.ndarray:
    return df.loc[df["interpolation_peak"].to_numpy(dtype=bool), x_name].to_numpy(dtype=float)


def curve_chart(
    long: pd.DataFrame,
    x_name: str,
    *,
    x_title: str,
    y_title: str = "test error",
    log_x: bool = True,
    log_y: bool = True,
    peaks: Sequence[float] = (),
    marker: float | None = None,
    rules: Sequence[tuple[float, str]] = (),
) -> dict[str, Any]:
    """Vega-Lite spec (for ``st.vega_lite_chart(long, spec)``) of the sweep: colour = quantity,
    dash = ID/OOD; dashed red rules at interpolation peaks (value ∞, labelled), a grey rule at the
    current base point. Written as a plain spec rather than through Altair: building and validating
    Altair objects costs more than the engine call (see benchmarks/app_latency.py)."""
    qs = [q for q in QUANTITIES if q in set(long["quantity"])]
    x_enc = {
        "field": x_name,
        "type": "quantitative",
        "title": x_title,
        "scale": {"type": "log" if log_x else "linear"},
    }
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "line", "clip": True},
            "encoding": {
                "x": x_enc,
                "y": {
                    "field": "value",
                    "type": "quantitative",
                    "title": y_title,
                    "scale": {"type": "log" if log_y else "linear"},
                },
                "color": {
                    "field": "quantity",
                    "type": "nominal",
                    "scale": {"domain": qs, "range": [COLORS[q] for q in qs]},
                },
                "strokeDash": {
                    "field": "test",
                    "type": "nominal",
                    "scale": {"domain": ["OOD", "ID"], "range": [[1, 0], [6, 3]]},
                },
                "tooltip": [
                    {"field": x_name, "type": "quantitative", "format": ".4g"},
                    {"field": "series", "type": "nominal"},
                    {"field": "value", "type": "quantitative", "format": ".5g"},
                ],
            },
        }
    ]
    if marker is not None:
        layers.append(
            {
                "data": {"values": [{x_name: float(marker)}]},
                "mark": {"type": "rule", "color": "gray", "opacity": 0.6},
                "encoding": {"x": {"field": x_name, "type": "quantitative"}},
            }
        )
    if len(rules):  # labelled vertical lines, e.g. the optimal ridge
        values = [{x_name: float(v), "label": lbl} for v, lbl in rules]
        layers.append(
            {
                "data": {"values": values},
                "mark": {"type": "rule", "color": "#9467bd", "strokeDash": [2, 2], "size": 1.5},
                "encoding": {
                    "x": {"field": x_name, "type": "quantitative"},
                    "tooltip": [{"field": "label", "type": "nominal"}],
                },
            }
        )
        for i, value in enumerate(values):  # one text layer per label, stacked from the top
            layers.append(
                {
                    "data": {"values": [value]},
                    "mark": {"type": "text", "color": "#9467bd", "align": "left", "dx": 4, "baseline": "top"},
                    "encoding": {
                        "x": {"field": x_name, "type": "quantitative"},
                        "y": {"value": 4 + 15 * i},
                        "text": {"field": "label", "type": "nominal"},
                    },
                }
            )
    if len(peaks):
        values = [{x_name: float(p), "label": "interpolation peak: error = ∞"} for p in peaks]
        layers.append(
            {
                "data": {"values": values},
                "mark": {"type": "rule", "color": "#d62728", "strokeDash": [4, 3], "size": 2},
                "encoding": {
                    "x": {"field": x_name, "type": "quantitative"},
                    "tooltip": [{"field": "label", "type": "nominal"}],
                },
            }
        )
        layers.append(
            {
                "data": {"values": values},
                "mark": {
                    "type": "text",
                    "color": "#d62728",
                    "align": "left",
                    "dx": 4,
                    "dy": -6,
                    "baseline": "top",
                    "fontWeight": "bold",
                },
                "encoding": {
                    "x": {"field": x_name, "type": "quantitative"},
                    "y": {"value": 4},
                    "text": {"field": "label", "type": "nominal"},
                },
            }
        )
    return {"height": 380, "layer": layers}


def terms_chart(df: pd.DataFrame, x_name: str, *, x_title: str, log_x: bool = True) -> alt.Chart:
    """Stacked area of the fine-grained OOD variance terms (THEORY.md §7); lines if any term < 0."""
    parts = []
    for k, lbl in TERM_LABELS.items():
        y = df[f"variance_term_{k}"].to_numpy(dtype=float).copy()
        y[~np.isfinite(y)] = np.nan
        parts.append(pd.DataFrame({x_name: df[x_name].to_numpy(), "value": y, "term": lbl}))
    long = pd.concat(parts, ignore_index=True)
    enc = dict(
        x=alt.X(f"{x_name}:Q", title=x_title, scale=alt.Scale(type="log" if log_x else "linear")),
        color=alt.Color("term:N", sort=list(TERM_LABELS.values())),
        tooltip=["term:N", alt.Tooltip("value:Q", format=".4g")],
    )
    if np.nanmin(long["value"].to_numpy()) < 0:
        return alt.Chart(long).mark_line().encode(y=alt.Y("value:Q", title="variance term"), **enc)
    return (
        alt.Chart(long)
        .mark_area(opacity=0.85)
        .encode(y=alt.Y("value:Q", title="OOD variance (stacked terms)", stack="zero"), order="term:N", **enc)
        .properties(height=260)
    )


# --- matplotlib PNG export (built only when the user clicks the download button) ----------------


def _figure() -> Any:
    from matplotlib.figure import Figure  # Agg canvas; no pyplot global state (thread-safe use)

    fig = Figure(figsize=(7.5, 4.5), dpi=120, layout="constrained")
    return fig, fig.subplots()


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def curve_png(
    long: pd.DataFrame,
    x_name: str,
    *,
    x_title: str,
    y_title: str = "test error",
    log_x: bool = True,
    log_y: bool = True,
    peaks: Sequence[float] = (),
    title: str = "",
) -> bytes:
    """PNG (matplotlib, Agg) of the same curves as :func:`curve_chart`."""
    fig, ax = _figure()
    for (q, t), g in long.groupby(["quantity", "test"], sort=False):
        ax.plot(
            g[x_name],
            g["value"],
            color=COLORS.get(str(q), None),
            ls="-" if t == "OOD" else "--",
            label=f"{q} ({t})",
        )
    for i, p in enumerate(peaks):
        ax.axvline(p, color="#d62728", ls=":", lw=1.5, label="interpolation peak (∞)" if i == 0 else None)
    ax.set_xscale("log" if log_x else "linear")
    ax.set_yscale("log" if log_y else "linear")
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def terms_png(df: pd.DataFrame, x_name: str, *, x_title: str, log_x: bool = True) -> bytes:
    """PNG of the fine-grained OOD variance terms (stacked when all are non-negative)."""
    fig, ax = _figure()
    x = df[x_name].to_numpy(dtype=float)
    ys = [
        np.where(np.isfinite(v := df[f"variance_term_{k}"].to_numpy(dtype=float)), v, np.nan)
        for k in TERM_LABELS
    ]
    if np.nanmin(np.stack(ys)) >= 0:
        ax.stackplot(x, *[np.nan_to_num(y) for y in ys], labels=list(TERM_LABELS.values()), alpha=0.85)
    else:
        for y, lbl in zip(ys, TERM_LABELS.values(), strict=True):
            ax.plot(x, y, label=lbl)
    ax.set_xscale("log" if log_x else "linear")
    ax.set_xlabel(x_title)
    ax.set_ylabel("OOD variance terms")
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


def scatter_png(
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    x_title: str,
    y_title: str,
    lines: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    title: str = "",
    log: bool = False,
) -> bytes:
    fig, ax = _figure()
    for name, (x, y) in series.items():
        ax.plot(x, y, "o", ms=3.5, label=name)
    for name, (x, y) in (lines or {}).items():
        ax.plot(x, y, "-", lw=1, color="k", alpha=0.6, label=name)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.25)
    ax.legend(fontsize=7, loc="best")
    return _png(fig)


def heatmap_png(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
    *,
    x_title: str,
    y_title: str,
    z_title: str,
    title: str = "",
    hatch_mask: np.ndarray | None = None,
    hatch_label: str = "",
) -> bytes:
    """Diverging heatmap of ``z`` (rows = y, columns = x) on log axes; cells where ``hatch_mask`` is
    True are hatched (e.g. "not certified")."""
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Patch

    fig, ax = _figure()
    finite = z[np.isfinite(z)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    vmax = vmax or 1.0
    mesh = ax.pcolormesh(x, y, z, cmap="RdBu_r", norm=TwoSlopeNorm(0.0, -vmax, vmax), shading="nearest")
    fig.colorbar(mesh, ax=ax, label=z_title)
    if hatch_mask is not None and np.any(hatch_mask):
        from matplotlib.patches import Rectangle

        def edges(v: np.ndarray) -> np.ndarray:
            lv = np.log(v)
            mid = (lv[1:] + lv[:-1]) / 2
            return np.exp(np.concatenate([[2 * lv[0] - mid[0]], mid, [2 * lv[-1] - mid[-1]]]))

        xe, ye = edges(np.asarray(x, float)), edges(np.asarray(y, float))
        for j, i in zip(*np.nonzero(hatch_mask), strict=True):  # rows = y, columns = x
            ax.add_patch(
                Rectangle(
                    (xe[i], ye[j]),
                    xe[i + 1] - xe[i],
                    ye[j + 1] - ye[j],
                    fill=False,
                    hatch="///",
                    lw=0,
                    edgecolor="0.2",
                )
            )
        ax.legend(
            handles=[Patch(facecolor="none", edgecolor="k", hatch="///", label=hatch_label)],
            loc="upper right",
            fontsize=8,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.set_title(title, fontsize=9)
    return _png(fig)


def downloads(df: pd.DataFrame, png: Callable[[], bytes], stem: str, *, key: str) -> None:
    """CSV and PNG download buttons for one figure; the PNG is rendered only when clicked."""
    row = st.container(horizontal=True)
    row.download_button(
        "Download CSV",
        df.to_csv(index=False).encode(),
        file_name=f"{stem}.csv",
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/table:",
    )
    row.download_button(
        "Download PNG",
        png,
        file_name=f"{stem}.png",
        mime="image/png",
        key=f"{key}_png",
        on_click="ignore",
        icon=":material/image:",
    )


def _url_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return [_url_value(x) for x in v]
    return v


def share_link(settings: dict[str, Any]) -> str:
    """``?key=value&…`` for the bound widgets (values formatted as the widgets show them)."""
    from urllib.parse import urlencode

    return "?" + urlencode({k: _url_value(v) for k, v in settings.items()}, doseq=True)


def share_box(settings: dict[str, Any]) -> None:
    """Show a relative link holding ``settings`` (the address bar holds the same bound settings)."""
    with st.expander("Share these settings"):
        st.caption(
            "The address bar already holds every setting that differs from its default. "
            "This link spells them all out (uploaded files cannot be shared by link)."
        )
        st.code(share_link(settings), language=None)


def fmt(v: float, digits: int = 5) -> str:
    """Number for display; ∞ at the interpolation peak, never a silently huge number."""
    v = float(v)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if math.isnan(v):
        return "n/a"
    return f"{v:.{digits}g}"
