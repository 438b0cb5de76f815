"""Page 3 — ID vs OOD: the exact linear relation between in- and out-of-distribution error."""

from __future__ import annotations

import altair as alt
import components as cp
import numpy as np
import pandas as pd
import streamlit as st

from rfshift.shifts import FAMILIES, make_shift

st.title("ID vs OOD error")
st.caption(
    "Ridgeless (γ = 0) and overparameterised (N > n), with only the number of features N varying, the OOD "
    "and ID errors lie exactly on a line E_OOD = slope · E_ID + intercept (THEORY.md §8). Each point is one "
    "model size N/n; filled points are overparameterised, hollow ones underparameterised. With a ridge, or "
    "below the interpolation threshold, the points leave the line."
)
linear_relation = cp.require_api("linear_relation")

sb = st.sidebar
families = [f for f in FAMILIES if f != "none"]
shifts = sb.multiselect(
    "Shifts (each at its default parameters)",
    families,
    default=["power_law", "tilt", "swap", "rotation"],
    key="shifts",
    bind="query-params",
)
activation = cp.activation_select()
noise_var = cp.noise_slider()
n_over_d = cp.ratio_slider("n/d = 1/φ (samples per input dimension)", "nd", 2.0)
gamma = cp.gamma_slider(default=0.0)
lo, hi = cp.ratio_range("Model sizes N/n", "xr_Nn", (0.2, 10.0))
n_points = int(sb.slider("Model sizes per shift", 5, 80, 30, 5, key="points", bind="query-params"))
log_axes = bool(sb.toggle("Log axes", value=True, key="logxy", bind="query-params"))
if not shifts:
    st.info("Pick at least one shift in the sidebar.")
    st.stop()
if not hi > lo:
    cp.fail("The N/n range needs two different ends.")
phi = 1.0 / n_over_d


@st.cache_data(show_spinner=False, max_entries=64)
def _relation(family: str, phi: float, noise_var: float, activation: str) -> dict[str, float]:
    rel = linear_relation(make_shift(family), phi=phi, noise_var=noise_var, activation=activation)
    return {"slope": float(rel.slope), "intercept": float(rel.intercept)}


x = np.geomspace(lo, hi, n_points)
rows, lines, summary = [], [], []
for fam in shifts:
    spec = make_shift(fam)
    rel = cp.guarded(_relation, fam, phi, noise_var, activation, what=f"Linear relation for {fam!r}")
    curve = cp.guarded(
        cp.cached_curve,
        spec.lam,
        spec.lam_star,
        spec.weights,
        phi=phi,
        psi=phi / x,
        gamma=gamma,
        noise_var=noise_var,
        activation=activation,
        what=f"Engine ({fam})",
    )
    e_id, e_ood, peak = curve["error_id"], curve["error"], curve["peak"]
    over = x > 1.0
    ok = np.isfinite(e_id) & np.isfinite(e_ood)
    pred = rel["slope"] * e_id + rel["intercept"]
    dev = np.where(ok, e_ood - pred, np.nan)
    for i in range(x.size):
        rows.append(
            {
                "shift": fam,
                "N_over_n": x[i],
                "regime": "over (N > n)" if over[i] else "under (N ≤ n)",
                "error_id": e_id[i],
                "error_ood": e_ood[i],
                "predicted_ood": pred[i],
                "deviation": dev[i],
                "interpolation_peak": bool(peak[i]),
            }
        )
    fin = e_id[ok]
    if fin.size:
        xs = (
            np.geomspace(fin.min(), fin.max(), 50)
            if log_axes and fin.min() > 0
            else np.linspace(fin.min(), fin.max(), 50)
        )
        lines.append(
            pd.DataFrame({"shift": fam, "error_id": xs, "error_ood": rel["slope"] * xs + rel["intercept"]})
        )

    def _max_abs(mask: np.ndarray, dev: np.ndarray = dev) -> float:
        d = np.abs(dev[mask & np.isfinite(dev)])
        return float(d.max()) if d.size else np.nan

    summary.append(
        {
            "shift": fam,
            "slope": rel["slope"],
            "intercept": rel["intercept"],
            "max |deviation|, N > n": _max_abs(over),
            "max |deviation|, N ≤ n": _max_abs(~over),
        }
    )

pts = pd.DataFrame(rows)
n_peak = int(pts["interpolation_peak"].sum())
plot_pts = pts[np.isfinite(pts["error_id"]) & np.isfinite(pts["error_ood"])]
if log_axes:
    plot_pts = plot_pts[(plot_pts["error_id"] > 0) & (plot_pts["error_ood"] > 0)]
scale = alt.Scale(type="log" if log_axes else "linear")
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
REGIMES = ["over (N > n)", "under (N ≤ n)"]
enc = dict(
    x=alt.X("error_id:Q", title="ID error E_ID (test on Σ)", scale=scale),
    y=alt.Y("error_ood:Q", title="OOD error E_OOD (test on Σ*)", scale=scale),
    color=alt.Color("shift:N", scale=alt.Scale(domain=list(shifts), range=PALETTE[: len(shifts)])),
)
points = (
    alt.Chart(plot_pts)
    .mark_point(size=50, strokeWidth=1.5)
    .encode(
        shape=alt.Shape("regime:N", scale=alt.Scale(domain=REGIMES, range=["circle", "triangle-up"])),
        fillOpacity=alt.FillOpacity(
            "regime:N", scale=alt.Scale(domain=REGIMES, range=[1.0, 0.0]), legend=None
        ),
        fill=alt.Color(
            "shift:N", scale=alt.Scale(domain=list(shifts), range=PALETTE[: len(shifts)]), legend=None
        ),
        tooltip=[
            "shift:N",
            alt.Tooltip("N_over_n:Q", format=".3g"),
            "regime:N",
            alt.Tooltip("error_id:Q", format=".5g"),
            alt.Tooltip("error_ood:Q", format=".5g"),
            alt.Tooltip("deviation:Q", format=".3g"),
        ],
        **enc,
    )
)
layers = [points]
if lines:
    line_df = pd.concat(lines, ignore_index=True)
    if log_axes:
        line_df = line_df[line_df["error_ood"] > 0]
    layers.insert(0, alt.Chart(line_df).mark_line(strokeDash=[5, 3], opacity=0.8).encode(**enc))
st.altair_chart(alt.layer(*layers).properties(height=460), width="stretch")
st.caption(
    f"Dashed lines: the predicted relation at n/d = {n_over_d:g}, σ² = {noise_var:g} (exact for γ = 0 "
    f"and N > n). Current ridge γ = {cp._fmt_gamma(gamma)}."
    + (f" {n_peak} point(s) at the interpolation peak N = n (both errors ∞) are not drawn." if n_peak else "")
)

summ = pd.DataFrame(summary)
st.subheader("Slopes, intercepts and departures")
st.dataframe(
    summ,
    hide_index=True,
    column_config={c: st.column_config.NumberColumn(format="%.4g") for c in summ.columns if c != "shift"},
)
m = st.columns(3)
first = summary[0]
m[0].metric(f"Slope ({first['shift']})", cp.fmt(first["slope"]))
m[1].metric(f"Intercept ({first['shift']})", cp.fmt(first["intercept"]))
m[2].metric(f"Max |deviation|, N > n ({first['shift']})", cp.fmt(first["max |deviation|, N > n"], 3))

cp.downloads(
    pts,
    lambda: cp.scatter_png(
        {f: (g["error_id"].to_numpy(), g["error_ood"].to_numpy()) for f, g in plot_pts.groupby("shift")},
        lines={
            f"line: {f}": (g["error_id"].to_numpy(), g["error_ood"].to_numpy())
            for f, g in (pd.concat(lines).groupby("shift") if lines else [])
        },
        x_title="ID error",
        y_title="OOD error",
        log=log_axes,
        title=f"{activation}, n/d={n_over_d:g}, σ²={noise_var:g}, γ={gamma:g}",
    ),
    "id_vs_ood",
    key="scatter",
)

st.subheader("How the points leave the line as γ grows")
st.caption(
    "Largest |E_OOD − (slope · E_ID + intercept)| over the overparameterised model sizes in the range, "
    "as a function of the ridge (the relation is exact at γ = 0)."
)
gammas = np.geomspace(1e-5, 10.0, 25)
x_over = x[x > 1.0]
dev_rows = []
if x_over.size:
    for fam in shifts:
        spec = make_shift(fam)
        rel = _relation(fam, phi, noise_var, activation)
        G, X = np.meshgrid(gammas, x_over, indexing="ij")
        curve = cp.guarded(
            cp.cached_curve,
            spec.lam,
            spec.lam_star,
            spec.weights,
            phi=phi,
            psi=phi / X,
            gamma=G,
            noise_var=noise_var,
            activation=activation,
            what=f"Engine ({fam})",
        )
        d = np.abs(curve["error"] - (rel["slope"] * curve["error_id"] + rel["intercept"]))
        for g, v in zip(gammas, d.max(axis=1), strict=True):
            dev_rows.append({"shift": fam, "gamma": g, "max_abs_deviation": v})
    dev_df = pd.DataFrame(dev_rows)
    dev_plot = dev_df[dev_df["max_abs_deviation"] > 0]
    st.altair_chart(
        alt.Chart(dev_plot)
        .mark_line(point=True)
        .encode(
            x=alt.X("gamma:Q", title="ridge γ", scale=alt.Scale(type="log")),
            y=alt.Y("max_abs_deviation:Q", title="max |deviation| (N > n)", scale=alt.Scale(type="log")),
            color=alt.Color("shift:N", scale=alt.Scale(domain=list(shifts), range=PALETTE[: len(shifts)])),
            tooltip=[
                "shift:N",
                alt.Tooltip("gamma:Q", format=".3g"),
                alt.Tooltip("max_abs_deviation:Q", format=".3g"),
            ],
        )
        .properties(height=300),
        width="stretch",
    )

    def _dev_png() -> bytes:
        fig, ax = cp._figure()
        for f, g in dev_plot.groupby("shift"):
            ax.loglog(g["gamma"], g["max_abs_deviation"], "o-", ms=3, label=str(f))
        ax.set_xlabel("ridge γ")
        ax.set_ylabel("max |deviation| (N > n)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        return cp._png(fig)

    cp.downloads(dev_df, _dev_png, "id_ood_deviation_vs_gamma", key="dev")
else:
    st.info("The N/n range has no overparameterised sizes (N > n); extend it above 1.")

cp.share_box(
    {
        "shifts": list(shifts),
        "act": activation,
        "noise": noise_var,
        "nd": n_over_d,
        "gamma": gamma,
        "points": n_points,
    }
)
