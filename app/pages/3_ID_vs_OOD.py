"""Page 3 — ID vs OOD: the exact linear relation between in- and out-of-distribution error."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from ui import cache, charts, export, state
from ui import widgets as wd
from ui.fmt import fmt, fmt_gamma, snap_zero
from ui.guard import fail, guarded, require_api
from ui.pickers import target_setting, with_target

import rfshift as rf
from rfshift.shifts import FAMILIES, make_shift

st.title("ID vs OOD error")
st.caption(
    "Ridgeless (γ = 0) and overparameterised (N > n), with only the number of features N varying, the OOD "
    "and ID errors lie exactly on a line E_OOD = slope · E_ID + intercept (THEORY.md §8). Each point is one "
    "model size N/n; filled points are overparameterised, hollow ones underparameterised. With a ridge, or "
    "below the interpolation threshold, the points leave the line."
)
linear_relation = require_api("linear_relation")

sb = st.sidebar
families = [f for f in FAMILIES if f != "none"]
shifts = wd.multiselect(
    "Shifts (each at its default parameters)", "shifts", families, ["power_law", "tilt", "swap", "rotation"]
)
activation = wd.activation_select()
noise_var = wd.noise_slider()
n_over_d = wd.ratio_slider("n/d = 1/φ (samples per input dimension)", "nd", 2.0)
gamma = wd.gamma_slider(default=0.0)
lo, hi = wd.ratio_range("Model sizes N/n", "xr_Nn", (0.2, 10.0))
n_points = int(wd.slider("Model sizes per shift", "points", 5, 80, 30, 5))
log_axes = wd.toggle("Log axes", "logxy", True)
target = target_setting(allow_upload=False)  # applied to every shift (per-atom uploads do not fit them all)
if target is not None and target[0] == "isotropic":
    target = None
state.report_ignored()
if not shifts:
    st.info("Pick at least one shift in the sidebar.")
    st.stop()
if not hi > lo:
    fail("The N/n range needs two different ends.")
phi = 1.0 / n_over_d


def _spec(family: str) -> rf.Spectrum:
    """The shift at its default parameters, with the chosen target."""
    spec = make_shift(family)
    return spec if target is None else with_target(spec, *target)


@st.cache_data(show_spinner=False, max_entries=64)
def _relation(
    family: str, target: tuple[str, dict[str, float]] | None, phi: float, noise_var: float, activation: str
) -> dict[str, float]:
    spec = make_shift(family) if target is None else with_target(make_shift(family), *target)
    rel = linear_relation(spec, phi=phi, noise_var=noise_var, activation=activation)
    return {"slope": float(rel.slope), "intercept": float(rel.intercept)}


x = np.geomspace(lo, hi, n_points)
rows, lines, summary = [], [], []
for fam in shifts:
    spec = guarded(_spec, fam, what=f"Target for {fam!r}")
    rel = guarded(_relation, fam, target, phi, noise_var, activation, what=f"Linear relation for {fam!r}")
    curve = guarded(
        cache.cached_curve,
        spec.lam,
        spec.lam_star,
        spec.weights,
        phi=phi,
        psi=phi / x,
        gamma=gamma,
        noise_var=noise_var,
        activation=activation,
        target_power=getattr(spec, "target_power", None),
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

    both = np.concatenate([e_id[ok], e_ood[ok]])
    err_scale = float(np.abs(both).max()) if both.size else 1.0  # the intercept is a difference of errors
    summary.append(
        {
            "shift": fam,
            "slope": rel["slope"],
            "intercept": snap_zero(rel["intercept"], err_scale),
            "max |deviation|, N > n": _max_abs(over),
            "max |deviation|, N ≤ n": _max_abs(~over),
        }
    )

pts = pd.DataFrame(rows)
n_peak = int(pts["interpolation_peak"].sum())
plot_pts = pts[np.isfinite(pts["error_id"]) & np.isfinite(pts["error_ood"])]
if log_axes:
    plot_pts = plot_pts[(plot_pts["error_id"] > 0) & (plot_pts["error_ood"] > 0)]
REGIMES = list(charts.REGIMES)
LINE_LABEL = "predicted line"
colors = {f: charts.PALETTE[i % len(charts.PALETTE)] for i, f in enumerate(shifts)}
color_enc = alt.Color(  # the other charts of this page colour by shift the same way
    "shift:N",
    scale=alt.Scale(domain=list(shifts), range=[colors[f] for f in shifts]),
    legend=alt.Legend(title="colour: shift"),
)
line_df = pd.concat(lines, ignore_index=True) if lines else None
if line_df is not None and log_axes:
    line_df = line_df[line_df["error_ood"] > 0]
_cols = {"error_id": "id", "error_ood": "ood", "shift": "series"}
st.altair_chart(
    charts.id_ood_scatter(
        plot_pts.rename(columns=_cols),
        x_title="ID error E_ID (test on Σ)",
        y_title="OOD error E_OOD (test on Σ*)",
        series_title="colour: shift",
        line=None if line_df is None else line_df.rename(columns=_cols),
        line_label=LINE_LABEL,
        log=log_axes,
        height=460,
        series_order=list(shifts),
        extra_tooltip=[alt.Tooltip("deviation:Q", format=".3g")],
    ),
    width="stretch",
)
st.caption(
    f"Colour: the shift. Filled circles: overparameterised sizes (N > n); hollow triangles: "
    f"underparameterised (N ≤ n). Dashed lines: each shift's predicted relation at n/d = {n_over_d:g}, "
    f"σ² = {noise_var:g} (exact for γ = 0 and N > n). Current ridge γ = {fmt_gamma(gamma)}."
    + (f" {n_peak} point(s) at the interpolation peak N = n (both errors ∞) are not drawn." if n_peak else "")
)


def _scatter_series() -> list[export.Series]:
    out = []
    for f in shifts:
        g = plot_pts[plot_pts["shift"] == f]
        for regime, filled, marker in ((REGIMES[0], True, "o"), (REGIMES[1], False, "^")):
            r = g[g["regime"] == regime]
            if len(r):
                out.append(
                    export.Series(
                        f"{f}, {regime}",
                        r["error_id"].to_numpy(),
                        r["error_ood"].to_numpy(),
                        colors[f],
                        marker,
                        filled,
                    )
                )
    for f, g in pd.concat(lines).groupby("shift") if lines else []:
        out.append(
            export.Series(
                f"{f}: predicted line",
                g["error_id"].to_numpy(),
                g["error_ood"].to_numpy(),
                colors[str(f)],
                "",
                True,
                "--",
            )
        )
    return out


DEV_COLS = ("max |deviation|, N > n", "max |deviation|, N ≤ n")
summ = pd.DataFrame(summary)
n_na = {c: int(summ[c].isna().sum()) for c in DEV_COLS}
for c in DEV_COLS:  # "n/a" (no such sizes in the range), never a bare NaN
    summ[c] = [fmt(v, 4) for v in summ[c]]
st.subheader("Slopes, intercepts and departures")
st.dataframe(
    summ,
    hide_index=True,
    column_config={
        c: st.column_config.NumberColumn(format="%.4g") for c in summ.columns if c not in ("shift", *DEV_COLS)
    },
)
if any(n_na.values()):
    st.caption(
        "n/a: the N/n range has no "
        + " and no ".join(
            w
            for c, w in zip(
                DEV_COLS, ("overparameterised sizes (N > n)", "underparameterised sizes (N ≤ n)"), strict=True
            )
            if n_na[c]
        )
        + " off the interpolation peak, so there is no departure to measure there."
    )
m = st.columns(3)
first = summary[0]
m[0].metric(f"Slope ({first['shift']})", fmt(first["slope"]))
m[1].metric(
    f"Intercept ({first['shift']})",
    fmt(first["intercept"]),
    help="Shown as 0 when it is below rounding (1e-12 × the errors it is a difference of).",
)
m[2].metric(f"Max |deviation|, N > n ({first['shift']})", fmt(summary[0]["max |deviation|, N > n"], 3))

export.downloads(
    pts,
    lambda: export.scatter_png(
        _scatter_series(),
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
        spec = _spec(fam)
        rel = _relation(fam, target, phi, noise_var, activation)
        G, X = np.meshgrid(gammas, x_over, indexing="ij")
        curve = guarded(
            cache.cached_curve,
            spec.lam,
            spec.lam_star,
            spec.weights,
            phi=phi,
            psi=phi / X,
            gamma=G,
            noise_var=noise_var,
            activation=activation,
            target_power=getattr(spec, "target_power", None),
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
            color=color_enc,
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
        fig, ax = export.figure()
        for f, g in dev_plot.groupby("shift"):
            ax.loglog(g["gamma"], g["max_abs_deviation"], "o-", ms=3, color=colors[str(f)], label=str(f))
        ax.set_xlabel("ridge γ")
        ax.set_ylabel("max |deviation| (N > n)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        return export.png(fig)

    export.downloads(dev_df, _dev_png, "id_ood_deviation_vs_gamma", key="dev")
else:
    st.info("The N/n range has no overparameterised sizes (N > n); extend it above 1.")

# --- robustness: the absolute gap and the ratio ------------------------------------------------------
st.subheader("Robustness: the gap shrinks while the ratio moves away from 1")
#: The robustness section starts this far from the interpolation peak (N/n = 1), where both errors
#: diverge and the gap and ratio say nothing about the shift.
ROB_FROM = 1.5
x_rob = x[x >= ROB_FROM * (1 - 1e-12)]
if not x_rob.size:
    st.info(
        f"The N/n range has no sizes with N/n ≥ {ROB_FROM:g}; extend it to see robustness (the section "
        f"starts at N/n = {ROB_FROM:g}, away from the interpolation peak at N/n = 1 where both errors "
        "diverge)."
    )
else:
    rob_rows, rob_summary = [], []
    for fam in shifts:
        spec = _spec(fam)
        rob = guarded(
            cache.robustness,
            spec.lam,
            spec.lam_star,
            spec.weights,
            phi=phi,
            features_per_sample=x_rob,
            noise_var=noise_var,
            activation=activation,
            target_power=getattr(spec, "target_power", None),
            what=f"Robustness curve for {fam!r}",
        )
        for i in range(x_rob.size):
            rob_rows.append(
                {
                    "shift": fam,
                    "N_over_n": rob["N_over_n"][i],
                    "error_id": rob["error_id"][i],
                    "error_ood": rob["error_ood"][i],
                    "gap": rob["gap"][i],
                    "ratio": rob["ratio"][i],
                }
            )
        rob_summary.append(
            {
                "shift": fam,
                "N/n from": x_rob[0],
                "N/n to": x_rob[-1],
                "gap from": rob["gap"][0],
                "gap to": rob["gap"][-1],
                "ratio from": rob["ratio"][0],
                "ratio to": rob["ratio"][-1],
                "slope": rob["slope"],
                "intercept": rob["intercept"],
            }
        )
    rob_df = pd.DataFrame(rob_rows)
    for r in rob_summary:  # the intercept is a difference of errors: rounding shown as 0
        errs = rob_df.loc[rob_df["shift"] == r["shift"], ["error_id", "error_ood"]].to_numpy()
        errs = np.abs(errs[np.isfinite(errs)])
        r["intercept"] = snap_zero(r["intercept"], float(errs.max()) if errs.size else 1.0)
    r0 = rob_summary[0]
    st.markdown(
        "Two notions of robustness, computed ridgeless (γ = 0, whatever the slider says) over the "
        f"overparameterised sizes of the range from N/n = {ROB_FROM:g} on (next to the interpolation peak "
        "at N/n = 1 both errors diverge, so the gap and ratio there are dominated by the peak, not the "
        f"shift), at n/d = {n_over_d:g}, σ² = {noise_var:g}:\n\n"
        "* **Absolute gap E_OOD − E_ID**: how many units of error the shift adds. On the line it equals "
        "(slope − 1)·E_ID + intercept, so as more features lower E_ID it tends to the intercept and "
        "**shrinks** in size when (slope − 1) and the intercept have the same sign (a harmful shift with "
        "slope > 1 and a positive intercept, such as swap). It is the notion that matters when the "
        "deployed error itself must stay under a budget.\n"
        "* **Ratio E_OOD / E_ID** = slope + intercept / E_ID: the factor by which the shift multiplies "
        "the error that in-distribution validation reports. As E_ID falls it moves in the direction of "
        "the intercept's sign, so for a harmful shift (intercept > 0) it **moves away from 1**: the "
        "bigger model is better everywhere, but relatively more degraded by the shift.\n\n"
        f"For **{r0['shift']}**, N/n from {r0['N/n from']:g} to {r0['N/n to']:g}: the gap goes "
        f"{fmt(r0['gap from'], 3)} → {fmt(r0['gap to'], 3)} while the ratio goes "
        f"{fmt(r0['ratio from'], 3)} → {fmt(r0['ratio to'], 3)} (slope {fmt(r0['slope'], 4)}, intercept "
        f"{fmt(r0['intercept'], 4)})."
    )
    m = st.columns(2)
    m[0].metric(
        f"OOD − ID gap ({r0['shift']})",
        f"{fmt(r0['gap from'], 3)} → {fmt(r0['gap to'], 3)}",
        help=f"At N/n = {r0['N/n from']:g} and N/n = {r0['N/n to']:g} (γ = 0).",
    )
    m[1].metric(
        f"OOD / ID ratio ({r0['shift']})",
        f"{fmt(r0['ratio from'], 3)} → {fmt(r0['ratio to'], 3)}",
        help=f"At N/n = {r0['N/n from']:g} and N/n = {r0['N/n to']:g} (γ = 0); = slope + intercept/E_ID.",
    )
    left, right = st.columns(2)
    for col, field, title in (
        (left, "gap", "absolute gap E_OOD − E_ID"),
        (right, "ratio", "ratio E_OOD / E_ID"),
    ):
        with col:
            st.altair_chart(
                alt.Chart(rob_df)
                .mark_line(point=True)
                .encode(
                    x=alt.X(
                        "N_over_n:Q", title="N/n (features per sample), γ = 0", scale=alt.Scale(type="log")
                    ),
                    y=alt.Y(f"{field}:Q", title=title, scale=alt.Scale(zero=False)),
                    color=color_enc,
                    tooltip=[
                        "shift:N",
                        alt.Tooltip("N_over_n:Q", format=".3g"),
                        alt.Tooltip(f"{field}:Q", format=".4g"),
                    ],
                )
                .properties(height=280),
                width="stretch",
            )
    st.dataframe(
        pd.DataFrame(rob_summary),
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="%.4g") for c in rob_summary[0] if c != "shift"
        },
    )

    def _rob_png() -> bytes:
        fig, axes = export.figure(1, 2, width=10.0, height=4.0)
        for ax, field, title in ((axes[0], "gap", "E_OOD − E_ID"), (axes[1], "ratio", "E_OOD / E_ID")):
            for f, g in rob_df.groupby("shift", sort=False):
                ax.plot(g["N_over_n"], g[field], "o-", ms=3, color=colors[str(f)], label=str(f))
            ax.set_xscale("log")
            ax.set_xlabel("N/n (features per sample), γ = 0")
            ax.set_ylabel(title)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8, title="shift")
        fig.suptitle(
            f"{activation}, n/d={n_over_d:g}, σ²={noise_var:g}: gap shrinks, ratio moves from 1", fontsize=9
        )
        return export.png(fig)

    export.downloads(rob_df, _rob_png, "robustness_gap_and_ratio", key="rob")

state.share_box()
