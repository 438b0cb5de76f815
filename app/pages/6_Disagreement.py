"""Page 6 — disagreement & ensembles: what a practitioner can measure without OOD labels.

ID vs OOD disagreement of two trained models beside the ID vs OOD error line, the label-free OOD
error estimate against the truth, and the error of an ensemble of K models against K
(``res.disagreement``, ``res.disagreement_id``, ``res.ensemble(k)``, ``res.training_error``,
``rf.disagreement_relation``, ``rf.ood_error_estimate``; docs/theory.md, the disagreement section).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from ui import charts, export, state
from ui import widgets as wd
from ui.fmt import fmt, fmt_diff, fmt_gamma
from ui.guard import LIB_ERRORS, fail, guarded, require_api
from ui.pickers import make_spectrum, spectrum_picker, target_picker

import rfshift as rf

KINDS = {  # selectbox value (also the URL value) -> label
    "shared_data": "same training data, new random features",
    "shared_features": "same random features, new training data",
    "independent": "nothing shared",
}
METHODS = {
    "ratio": "ŝ · E_ID",
    "variance": "ŝ · (E_ID − D^ind_ID/2) + D^ind_OOD/2",
}

st.title("Disagreement & ensembles")
st.caption(
    "Two equally good random-feature models disagree more on shifted inputs than on training-like ones. "
    "The disagreement E_x[(f₁(x) − f₂(x))²] needs no labels, so it can be measured on unlabelled OOD "
    "data; averaging K models removes part of the variance. All numbers are exact limits "
    "(`res.disagreement`, `res.ensemble(k)`, `rf.disagreement_relation`, `rf.ood_error_estimate`)."
)
disagreement_relation = require_api("disagreement_relation")
ood_error_estimate = require_api("ood_error_estimate")
if not hasattr(rf.Asymptotics, "ensemble"):
    st.warning("This page needs `Asymptotics.ensemble` and `.disagreement`; update rfshift to use it.")
    st.stop()

sb = st.sidebar
choice = target_picker(spectrum_picker())
activation = wd.activation_select()
noise_var = wd.noise_slider()
n_over_d = wd.ratio_slider("n/d = 1/φ (samples per input dimension)", "nd", 2.0)
N_over_n = wd.ratio_slider(
    "N/n = φ/ψ (features per sample)", "Nn", 2.0, help="The model size for the estimate and the ensembles."
)
gamma = wd.gamma_slider(default=0.0)
sb.divider()
kind = str(
    wd.selectbox(
        "Disagreement between two models sharing…",
        "kind",
        list(KINDS),
        "shared_data",
        format_func=lambda k: f"{k}: {KINDS[k]}",
    )
)
lo, hi = wd.ratio_range("Model sizes N/n", "xr_Nn", (0.2, 10.0))
n_points = int(wd.slider("Model sizes", "points", 5, 80, 30, 5))
k_max = int(
    wd.select_slider("Largest ensemble size K", "kmax", [2, 4, 8, 16, 32, 64, 128], 32, format_func=str)
)
log_axes = wd.toggle("Log axes", "logxy", True)
state.report_ignored()
if not hi > lo:
    fail("The N/n range needs two different ends.")

phi = 1.0 / n_over_d
psi0 = phi / N_over_n
x = np.geomspace(lo, hi, n_points)
lam, lam_star, w, b = choice.key


@st.cache_data(show_spinner=False, max_entries=64)
def _sweep(lam, lam_star, w, b, phi, x, gamma, noise_var, activation, kind) -> dict[str, np.ndarray]:
    res = rf.asymptotics(
        make_spectrum(lam, lam_star, w, b),
        phi=phi,
        psi=phi / x,
        gamma=gamma,
        noise_var=noise_var,
        activation=activation,
    )
    return {
        "error": np.asarray(res.error, dtype=float),
        "error_id": np.asarray(res.error_id, dtype=float),
        "d_ood": np.asarray(getattr(res.disagreement, kind), dtype=float),
        "d_id": np.asarray(getattr(res.disagreement_id, kind), dtype=float),
        "variance": np.asarray(res.variance, dtype=float),
        "variance_id": np.asarray(res.variance_id, dtype=float),
        "peak": np.asarray(res.interpolation_peak, dtype=bool),
    }


@st.cache_data(show_spinner=False, max_entries=64)
def _relation(lam, lam_star, w, b, phi, noise_var, activation, kind) -> dict[str, float]:
    rel = disagreement_relation(
        make_spectrum(lam, lam_star, w, b), phi=phi, noise_var=noise_var, activation=activation, kind=kind
    )
    return {
        "slope": float(rel.slope),
        "intercept": float(rel.intercept),
        "error_slope": float(rel.error_slope),
        "error_intercept": float(rel.error_intercept),
        "is_line": bool(rel.is_line),
        "estimator_bias": float(rel.estimator_bias),
    }


@st.cache_data(show_spinner=False, max_entries=64)
def _estimates(lam, lam_star, w, b, phi, x, gamma, noise_var, activation) -> dict[str, np.ndarray]:
    spec = make_spectrum(lam, lam_star, w, b)
    out: dict[str, np.ndarray] = {}
    for method in METHODS:
        est = ood_error_estimate(
            spec, phi=phi, psi=phi / x, gamma=gamma, noise_var=noise_var, activation=activation, method=method
        )
        out[method] = np.asarray(est.estimate, dtype=float)
        out[f"{method}_bias"] = np.asarray(est.bias, dtype=float)
        out["error"] = np.asarray(est.error, dtype=float)
        out["slope"] = np.asarray(est.slope, dtype=float)
    return out


@st.cache_data(show_spinner=False, max_entries=64)
def _point(lam, lam_star, w, b, phi, psi, gamma, noise_var, activation, k_max) -> dict[str, object]:
    res = rf.asymptotics(
        make_spectrum(lam, lam_star, w, b),
        phi=phi,
        psi=psi,
        gamma=gamma,
        noise_var=noise_var,
        activation=activation,
    )
    ks = np.arange(1, k_max + 1, dtype=float)
    ens, inf = res.ensemble(ks), res.ensemble(np.inf)
    fields = ("error", "bias", "variance", "error_id", "bias_id", "variance_id")
    return {
        "k": ks,
        **{f: np.asarray(getattr(ens, f), dtype=float) for f in fields},
        **{f"{f}_inf": float(getattr(inf, f)) for f in fields},
        "training_error": float(res.training_error),
        "gcv": float(res.gcv) if hasattr(res, "gcv") else float("nan"),
        "peak": bool(res.interpolation_peak),
        "d_ood": {k: float(getattr(res.disagreement, k)) for k in KINDS},
        "d_id": {k: float(getattr(res.disagreement_id, k)) for k in KINDS},
        "error_base": float(res.error),
        "error_id_base": float(res.error_id),
    }


sweep = guarded(_sweep, lam, lam_star, w, b, phi, x, gamma, noise_var, activation, kind, what="Engine")
try:
    rel: dict[str, float] | None = _relation(lam, lam_star, w, b, phi, noise_var, activation, kind)
    rel_why = ""
except LIB_ERRORS as exc:  # e.g. κ = ∞ (ridgeless linear model): no line to draw; the points still are
    rel, rel_why = None, str(exc)
base = guarded(_point, lam, lam_star, w, b, phi, psi0, gamma, noise_var, activation, k_max, what="Engine")

st.markdown(
    f"**Shift:** `{choice.label}` · activation **{activation}** · σ² = {noise_var:g} · n/d = {n_over_d:g} "
    f"(φ = {phi:.4g}) · γ = {fmt_gamma(gamma)}"
)
st.markdown(f"**At N/n = {N_over_n:g}** (ψ = {psi0:.4g}):")
m = st.columns(5)
m[0].metric("OOD error", fmt(base["error_base"]))
m[1].metric("ID error", fmt(base["error_id_base"]))
m[2].metric(
    f"D_OOD ({kind})", fmt(base["d_ood"][kind]), help=f"OOD disagreement of two models: {KINDS[kind]}."
)
m[3].metric(f"D_ID ({kind})", fmt(base["d_id"][kind]), help=f"ID disagreement of two models: {KINDS[kind]}.")
m[4].metric(
    "Training error",
    fmt(base["training_error"]),
    help="Limit of (1/m)‖y − ŷ(X)‖² on the noisy training labels; 0 for a ridgeless interpolator (N ≥ n).",
)
if np.isfinite(base["gcv"]):
    st.caption(
        "Generalised cross-validation, training error / (1 − df/m)², tends to E_ID + σ² = "
        f"{fmt(base['gcv'])} (`res.gcv`): a consistent estimate of the ID error against noisy labels, "
        "silent about the shift."
    )
if base["peak"]:
    st.warning(
        "This N/n sits on the interpolation peak (γ = 0, N = n): single models have infinite variance and "
        "disagreement; only the K = ∞ ensemble is finite."
    )

# --- 1. disagreement on the line, beside the error line --------------------------------------------
st.subheader("ID vs OOD: disagreement beside error")
st.caption(
    "Each point is one model size N/n. Ridgeless and overparameterised, OOD against ID error is exactly a "
    "line (left, THEORY.md §8); so is OOD against ID disagreement for models sharing the data or nothing, "
    "**with the same slope** (right; sharing the features adds a curved correction). With a ridge, or "
    "below the interpolation threshold, points leave the lines."
)
regime = np.where(x > 1.0, charts.REGIMES[0], charts.REGIMES[1])
ok_e = np.isfinite(sweep["error"]) & np.isfinite(sweep["error_id"])
ok_d = np.isfinite(sweep["d_ood"]) & np.isfinite(sweep["d_id"])
if log_axes:
    ok_e &= (sweep["error"] > 0) & (sweep["error_id"] > 0)
    ok_d &= (sweep["d_ood"] > 0) & (sweep["d_id"] > 0)


def _line(xs: np.ndarray, slope: float, intercept: float, series: str) -> pd.DataFrame:
    if not xs.size:
        return pd.DataFrame({"id": [], "ood": [], "series": []})
    lo_, hi_ = float(xs.min()), float(xs.max())
    t = np.geomspace(lo_, hi_, 50) if log_axes and lo_ > 0 else np.linspace(lo_, hi_, 50)
    df = pd.DataFrame({"id": t, "ood": slope * t + intercept, "series": series})
    return df[df["ood"] > 0] if log_axes else df


err_label, dis_label = "error", f"disagreement ({kind})"
err_pts = pd.DataFrame(
    {"id": sweep["error_id"], "ood": sweep["error"], "series": err_label, "regime": regime, "N_over_n": x}
)[ok_e]
dis_pts = pd.DataFrame(
    {"id": sweep["d_id"], "ood": sweep["d_ood"], "series": dis_label, "regime": regime, "N_over_n": x}
)[ok_d]
err_line = (
    _line(err_pts["id"].to_numpy(), rel["error_slope"], rel["error_intercept"], err_label) if rel else None
)
dis_line = _line(dis_pts["id"].to_numpy(), rel["slope"], rel["intercept"], dis_label) if rel else None
left, right = st.columns(2)
with left:
    st.altair_chart(
        charts.id_ood_scatter(
            err_pts,
            x_title="ID error E_ID",
            y_title="OOD error E_OOD",
            series_title="colour: quantity",
            line=err_line,
            line_label="error line",
            log=log_axes,
        ),
        width="stretch",
    )
with right:
    st.altair_chart(
        charts.id_ood_scatter(
            dis_pts.assign(series=dis_label),
            x_title=f"ID disagreement D_ID ({kind})",
            y_title=f"OOD disagreement D_OOD ({kind})",
            series_title="colour: quantity",
            line=dis_line,
            line_label="disagreement line",
            log=log_axes,
        ),
        width="stretch",
    )
if rel is None:
    st.info(f"No ID/OOD lines at these settings: {rel_why}")
else:
    # Intercepts (and their difference) are differences of errors/disagreements: below 1e-12 of their
    # size they are rounding and shown as 0 (ui.fmt.fmt_diff).
    _vals = np.concatenate([sweep[k][np.isfinite(sweep[k])] for k in ("error", "error_id", "d_ood", "d_id")])
    scale = float(np.abs(_vals).max()) if _vals.size else 1.0
    zero_help = "Shown as 0 when below rounding (1e-12 × the errors and disagreements it is a difference of)."
    m = st.columns(4)
    m[0].metric("Error line: slope", fmt(rel["error_slope"]))
    m[1].metric("Error line: intercept", fmt_diff(rel["error_intercept"], scale), help=zero_help)
    m[2].metric("Disagreement line: slope", fmt(rel["slope"]))
    m[3].metric("Disagreement line: intercept", fmt_diff(rel["intercept"], scale), help=zero_help)
    st.caption(
        (
            "The disagreement is exactly on its line here. "
            if rel["is_line"]
            else "For models sharing the features the disagreement is **not** a line: the dashed line is its "
            "asymptote (the line of independent models). "
        )
        + f"Estimating the OOD error by the disagreement line (slope · E_ID + intercept of the disagreement) "
        f"has the exact bias {fmt_diff(rel['estimator_bias'], scale, 4)} "
        "(= disagreement intercept − error intercept) on "
        "the ridgeless overparameterised family."
    )
table1 = pd.DataFrame(
    {
        "N_over_n": x,
        "regime": regime,
        "error_id": sweep["error_id"],
        "error_ood": sweep["error"],
        f"disagreement_id_{kind}": sweep["d_id"],
        f"disagreement_ood_{kind}": sweep["d_ood"],
        "interpolation_peak": sweep["peak"],
    }
)


def _png1() -> bytes:
    fig, axes = export.figure(1, 2, width=10.0, height=4.2)
    for ax, pts, line, lbl in (
        (axes[0], err_pts, err_line, "error"),
        (axes[1], dis_pts, dis_line, dis_label),
    ):
        for reg, mk, filled in ((charts.REGIMES[0], "o", True), (charts.REGIMES[1], "^", False)):
            r = pts[pts["regime"] == reg]
            ax.plot(
                r["id"], r["ood"], mk, ms=4, color="#1f77b4", mfc="#1f77b4" if filled else "none", label=reg
            )
        if line is not None:
            ax.plot(line["id"], line["ood"], "--", color="#1f77b4", lw=1, label="predicted line")
        if log_axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(f"ID {lbl}")
        ax.set_ylabel(f"OOD {lbl}")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7)
    fig.suptitle(f"{choice.label}, {activation}, n/d={n_over_d:g}, σ²={noise_var:g}, γ={gamma:g}", fontsize=9)
    return export.png(fig)


export.downloads(table1, _png1, "disagreement_vs_error", key="dis")

# --- 2. the label-free OOD estimate against the truth ----------------------------------------------
st.subheader("Label-free estimate of the OOD error against the truth")
st.caption(
    "Train two models on the same data with new random features and measure how much they disagree on "
    "unlabelled ID and OOD inputs: ŝ = D_OOD/D_ID (shared data). Then estimate the OOD error from the "
    f'ID error alone: {METHODS["ratio"]} ("ratio"), or {METHODS["variance"]} ("variance": half the '
    "independent disagreement is the variance, so only the bias is transferred). Both are exact limits; "
    "their bias (estimate − truth) is shown, not hidden."
)
x_est = x[~sweep["peak"]]
try:
    est = _estimates(lam, lam_star, w, b, phi, x_est, gamma, noise_var, activation)
except LIB_ERRORS as exc:
    est = None
    st.info(f"The label-free estimate is not defined at these settings: {exc}")
if est is not None:
    est_df = pd.DataFrame(
        {
            "N_over_n": x_est,
            "true_ood_error": est["error"],
            "estimate_ratio": est["ratio"],
            "estimate_variance": est["variance"],
            "bias_ratio": est["ratio_bias"],
            "bias_variance": est["variance_bias"],
            "slope_hat": est["slope"],
        }
    )
    labels = {
        "true_ood_error": "true OOD error",
        "estimate_ratio": f'estimate "ratio": {METHODS["ratio"]}',
        "estimate_variance": f'estimate "variance": {METHODS["variance"]}',
    }
    long = pd.concat(
        [pd.DataFrame({"N_over_n": x_est, "value": est_df[c], "series": lbl}) for c, lbl in labels.items()],
        ignore_index=True,
    )
    long = long[np.isfinite(long["value"])]
    st.altair_chart(
        charts.series_lines(
            long,
            "N_over_n",
            x_title="N/n (features per sample)",
            y_title="OOD error",
            series_title="colour: what is plotted",
            log_x=True,
            log_y=log_axes,
            dashed=[labels["estimate_ratio"], labels["estimate_variance"]],
            dash_names=("exact (the truth)", "label-free estimate"),
        ),
        width="stretch",
    )
    at = (
        _estimates(lam, lam_star, w, b, phi, np.array([N_over_n]), gamma, noise_var, activation)
        if not base["peak"]
        else None
    )
    if at is not None:
        m = st.columns(5)
        m[0].metric("True OOD error", fmt(at["error"][0]))
        m[1].metric("Estimate (ratio)", fmt(at["ratio"][0]))
        m[2].metric("Bias (ratio)", fmt(at["ratio_bias"][0], 3), help="estimate − truth")
        m[3].metric("Estimate (variance)", fmt(at["variance"][0]))
        m[4].metric("Bias (variance)", fmt(at["variance_bias"][0], 3), help="estimate − truth")

    def _png2() -> bytes:
        series = [
            export.Series(
                lbl, x_est, est_df[c].to_numpy(), charts.PALETTE[i], "", True, "-" if i == 0 else "--"
            )
            for i, (c, lbl) in enumerate(labels.items())
        ]
        return export.scatter_png(
            series,
            x_title="N/n (features per sample)",
            y_title="OOD error",
            log=log_axes,
            log_x=True,
            title=f"{choice.label}, {activation}, n/d={n_over_d:g}, σ²={noise_var:g}, γ={gamma:g}",
        )

    export.downloads(est_df, _png2, "label_free_ood_estimate", key="est")


# --- 3. ensembles ---------------------------------------------------------------------------------
st.subheader(f"Ensemble of K models (independent features, same data) at N/n = {N_over_n:g}")
st.caption(
    "Averaging K models trained on the same data with independent random features leaves the bias alone "
    "and divides the feature-driven part of the variance by K; K = ∞ is the average over the features. "
    "K = 1 is the single model above."
)
ens_df = pd.DataFrame(
    {
        "K": base["k"],
        **{f: base[f] for f in ("error", "bias", "variance", "error_id", "bias_id", "variance_id")},
    }
)
ens_df["interpolation_peak"] = False
ens_long = charts.long_frame(ens_df, "K", charts.QUANTITIES, ("OOD", "ID"), log_y=log_axes)
st.vega_lite_chart(
    ens_long,
    charts.curve_chart(
        ens_long, "K", x_title="ensemble size K", y_title="test error", log_x=True, log_y=log_axes
    ),
    width="stretch",
)
m = st.columns(3)
m[0].metric("OOD error, K = 1", fmt(base["error"][0]))
m[1].metric(f"OOD error, K = {k_max}", fmt(base["error"][-1]))
m[2].metric("OOD error, K = ∞", fmt(base["error_inf"]))
st.caption(
    f"K = ∞: OOD error {fmt(base['error_inf'])}, ID error {fmt(base['error_id_inf'])} (bias "
    f"{fmt(base['bias_inf'])}, variance {fmt(base['variance_inf'])} OOD)."
)
ens_csv = pd.concat(
    [
        ens_df.drop(columns="interpolation_peak"),
        pd.DataFrame(
            {
                "K": [np.inf],
                **{
                    f: [base[f"{f}_inf"]]
                    for f in ("error", "bias", "variance", "error_id", "bias_id", "variance_id")
                },
            }
        ),
    ],
    ignore_index=True,
)
export.downloads(
    ens_csv,
    lambda: export.curve_png(
        ens_long,
        "K",
        x_title="ensemble size K",
        log_y=log_axes,
        title=f"{choice.label}, {activation}, n/d={n_over_d:g}, N/n={N_over_n:g}, "
        f"σ²={noise_var:g}, γ={gamma:g}",
    ),
    "ensemble_error_vs_k",
    key="ens",
)

state.share_box()
