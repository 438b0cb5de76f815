"""Page 4 — Monte Carlo check: simulate finite random-feature models (JAX) against the theory."""

from __future__ import annotations

import inspect

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from ui import cache, export, state
from ui import widgets as wd
from ui.fmt import fmt_gamma, fmt_ratio
from ui.guard import fail, guarded
from ui.pickers import spectrum_picker, target_picker

st.title("Monte Carlo check")
st.caption(
    "Train actual random-feature ridge regressors at finite size d = n0 with the JAX simulator "
    "(`rfshift.montecarlo`), estimate their ID and OOD error, bias and variance over independent trials, "
    "and compare with the exact limit. Differences are Monte Carlo noise (the error bars, ±2 s.e.) plus "
    "finite-size effects that shrink like 1/d."
)


def _load_mc() -> tuple[object | None, str]:
    try:
        import rfshift.montecarlo as mc
    except ImportError as exc:  # JAX missing (or broken)
        return None, str(exc)
    return mc, ""


mc, why = _load_mc()

sb = st.sidebar
choice = target_picker(spectrum_picker(default="swap"))
activation = wd.activation_select()
teacher = wd.teacher_select(
    "mc_teacher",
    help="A single-index teacher: the limit adds its nonlinear part μ⊥² as label noise on X "
    "(docs/theory.md, targets). Its test expectation is exact (Mehler series) and a run whose series "
    "would be truncated too early is refused with a message.",
)
noise_var = wd.noise_slider()
n_over_d = wd.ratio_slider("n/d = 1/φ (samples per input dimension)", "nd", 2.0)
gamma = wd.gamma_slider(default=0.01)
sizes = sorted(
    float(v)
    for v in wd.multiselect(
        "Model sizes N/n to simulate", "mc_sizes", list(wd.LOG_GRID), [0.5, 2.0, 5.0], format_func=fmt_ratio
    )
)
lo, hi = wd.ratio_range("Theory curve N/n range", "xr_Nn", (0.1, 10.0))
sb.divider()
n0 = int(
    wd.select_slider(
        "Input dimension d = n0",
        "n0",
        [16, 32, 64, 128, 256, 512, 1024],
        128,
        format_func=str,
        disabled=mc is None,
    )
)
trials = int(wd.slider("Trials per point", "trials", 2, 64, 12, 1, disabled=mc is None))
seed = wd.number_input("Seed", "seed", 0, 2**31 - 1, 0, disabled=mc is None)
state.report_ignored()

if mc is None:
    st.warning(
        "**Monte Carlo is disabled: JAX is not importable here.** Install the simulator with "
        "`pip install 'rfshift[mc]'` (or `pip install jax`) and restart the app. "
        f"The theory pages work without it. (Import error: {why})"
    )
    st.button("Run Monte Carlo", disabled=True, key="mc_run_disabled")
    st.stop()
if not sizes:
    st.info("Pick at least one model size N/n in the sidebar.")
    st.stop()

phi = 1.0 / n_over_d
m_samples = max(1, round(n0 / phi))
n1s = [max(1, round(n0 / (phi / s))) for s in sizes]
st.markdown(
    f"**Shift:** `{choice.label}` · activation **{activation}** · "
    f"{'' if teacher is None else f'teacher **{teacher}** · '}σ² = {noise_var:g} · γ = {fmt_gamma(gamma)}"
)
c = st.columns(4)
c[0].metric("Input dimension d", f"{n0}")
c[1].metric("Training samples n", f"{m_samples}")
c[2].metric("Features N", ", ".join(str(v) for v in n1s))
c[3].metric("Trainings", f"{len(sizes) * trials * 2}")
if choice.spec.n_atoms > n0:
    st.caption(
        f"The spectrum has {choice.spec.n_atoms} atoms but d = {n0} directions: atoms are rounded to "
        "whole directions, and the theory is compared at the spectrum actually simulated."
    )

x = np.geomspace(lo, hi, 150)
lam, lam_star, w, b = choice.key
curve = guarded(
    cache.cached_curve,
    lam,
    lam_star,
    w,
    phi=phi,
    psi=phi / x,
    gamma=gamma,
    noise_var=noise_var,
    activation=activation,
    target_power=b,
    teacher=teacher,
    what="Engine",
)
theory = pd.concat(
    [
        pd.DataFrame(
            {"N_over_n": x, "value": np.where(np.isfinite(curve[col]), curve[col], np.nan), "test": test}
        )
        for col, test in (("error", "OOD"), ("error_id", "ID"))
    ],
    ignore_index=True,
)

if b is not None and "target_power" not in inspect.signature(mc.simulate).parameters:
    fail(
        "This installation's Monte Carlo simulator does not draw structured targets; choose the isotropic "
        "target to compare with it (the theory pages handle every target)."
    )
if teacher is not None and "teacher" not in inspect.signature(mc.simulate).parameters:
    fail("This installation's Monte Carlo simulator has no single-index teacher; choose no teacher.")
settings = (
    choice.label,
    teacher,
    None if b is None else tuple(map(float, b)),
    tuple(map(float, lam)),
    tuple(map(float, lam_star)),
    tuple(map(float, w)),
    activation,
    noise_var,
    phi,
    gamma,
    tuple(sizes),
    n0,
    trials,
    seed,
)
runs = st.session_state.setdefault("mc_runs", {})

if st.button("Run Monte Carlo", type="primary", key="mc_run"):
    bar = st.progress(0.0, text="Compiling and running… (the first run of each size compiles, a few seconds)")
    rows = []
    for i, s in enumerate(sizes):

        def progress(done: int, total: int, i: int = i, s: float = s) -> None:
            bar.progress(
                min(1.0, (i + done / max(total, 1)) / len(sizes)), text=f"N/n = {s:g}: {done}/{total} trials"
            )

        est = guarded(
            mc.simulate,
            choice.spec,
            n0=n0,
            phi=phi,
            psi=phi / s,
            gamma=gamma,
            noise_var=noise_var,
            activation=activation,
            trials=trials,
            seed=seed,
            progress=progress,
            **({} if teacher is None else {"teacher": teacher}),
            what=f"Monte Carlo at N/n = {s:g}",
        )
        th = est.theory()
        z = est.zscores(th)
        for q in ("error", "bias", "variance", "error_id", "bias_id", "variance_id"):
            rows.append(
                {
                    "N_over_n": s,
                    "quantity": q,
                    "n0": est.n0,
                    "n1": est.n1,
                    "m": est.m,
                    "mc": getattr(est, q),
                    "se": getattr(est, f"{q}_se"),
                    "theory": float(getattr(th, q)),
                    "z": z[q],
                    "seconds": est.seconds,
                }
            )
    bar.progress(1.0, text="Done")
    runs[settings] = pd.DataFrame(rows)
    while len(runs) > 8:  # keep the session's memory bounded: the 8 latest runs
        runs.pop(next(iter(runs)))

res = runs.get(settings)
layers = [
    alt.Chart(theory)
    .mark_line()
    .encode(
        x=alt.X("N_over_n:Q", title="N/n (features per sample)", scale=alt.Scale(type="log")),
        y=alt.Y("value:Q", title="test error", scale=alt.Scale(type="log")),
        strokeDash=alt.StrokeDash(
            "test:N",
            scale=alt.Scale(domain=["OOD", "ID"], range=[[1, 0], [6, 3]]),
            legend=alt.Legend(title="test law (lines: the limit)"),
        ),
        color=alt.Color(
            "test:N",
            scale=alt.Scale(domain=["OOD", "ID"], range=["#1f77b4", "#ff7f0e"]),
            legend=alt.Legend(title="test law (lines: the limit)"),
        ),
    )
]
MC_LABEL = "Monte Carlo mean ± 2 s.e."
if res is not None:
    pts = res[res["quantity"].isin(["error", "error_id"])].copy()
    pts["test"] = np.where(pts["quantity"] == "error", "OOD", "ID")
    pts["lo"] = pts["mc"] - 2 * pts["se"]
    pts["hi"] = pts["mc"] + 2 * pts["se"]
    pts["lo"] = pts["lo"].where(pts["lo"] > 0, pts["mc"] * 1e-3)
    pts["mark"] = MC_LABEL
    layers.append(
        alt.Chart(pts).mark_rule().encode(x="N_over_n:Q", y="lo:Q", y2="hi:Q", color=alt.Color("test:N"))
    )
    layers.append(
        alt.Chart(pts)
        .mark_point(filled=True, size=60)
        .encode(
            x="N_over_n:Q",
            y="mc:Q",
            color=alt.Color("test:N"),
            shape=alt.Shape(
                "mark:N",
                scale=alt.Scale(domain=[MC_LABEL], range=["circle"]),
                legend=alt.Legend(title="points"),
            ),
            tooltip=[
                "test:N",
                alt.Tooltip("N_over_n:Q", format=".3g"),
                alt.Tooltip("mc:Q", format=".4g"),
                alt.Tooltip("se:Q", format=".2g"),
                alt.Tooltip("theory:Q", format=".4g"),
                alt.Tooltip("z:Q", format=".2f"),
            ],
        )
    )
st.altair_chart(alt.layer(*layers).properties(height=400), width="stretch")
if res is None:
    st.info(
        "Press **Run Monte Carlo** to simulate the model sizes chosen in the sidebar; the points with "
        "±2 s.e. error bars will appear on the theory curves (lines)."
    )
else:
    st.caption(
        "Points: Monte Carlo means with ±2 s.e. bars. Lines: the limit at the requested spectrum. The "
        "z-scores below compare with the limit at the spectrum actually simulated (atom weights "
        f"rounded to d = {n0} directions). Total simulation time {res['seconds'].sum() / 6:.1f} s."
    )
    table = res.pivot_table(index=["N_over_n", "n1"], columns="quantity", values="z").reset_index()
    zmax = float(np.nanmax(np.abs(res["z"].to_numpy())))
    m = st.columns(3)
    m[0].metric("max |z|", f"{zmax:.2f}")
    m[1].metric("Points", f"{len(sizes)}")
    m[2].metric("Trials per point", f"{trials}")
    st.markdown("**z-scores (MC − theory)/s.e.**")
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            c: st.column_config.NumberColumn(format="%.2f")
            for c in table.columns
            if c not in ("N_over_n", "n1")
        },
    )
    if zmax > 4:
        st.warning(
            f"max |z| = {zmax:.1f} over {res['z'].size} z-scores. Two ordinary causes first: with few "
            f"trials the standard error is itself uncertain ({trials} trials: z is t-distributed with "
            f"{trials - 1} degrees of freedom, heavy-tailed), and at small d the finite-size bias is "
            "O(1/d). Increase the trials and d: "
            "a real disagreement with the theory persists as both grow."
        )
    with st.expander("All estimates"):
        st.dataframe(res, hide_index=True)

    def _png() -> bytes:
        fig, ax = export.figure()
        for test, color in (("OOD", "#1f77b4"), ("ID", "#ff7f0e")):
            th = theory[theory["test"] == test]
            ax.plot(
                th["N_over_n"],
                th["value"],
                color=color,
                ls="-" if test == "OOD" else "--",
                label=f"theory ({test})",
            )
            p = pts[pts["test"] == test]
            ax.errorbar(
                p["N_over_n"],
                p["mc"],
                yerr=2 * p["se"],
                fmt="o",
                color=color,
                ms=4,
                label=f"Monte Carlo ({test}), ±2 s.e.",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N/n (features per sample)")
        ax.set_ylabel("test error")
        who = activation if teacher is None else f"{activation}, teacher {teacher}"
        ax.set_title(f"{choice.label}, {who}, d={n0}, trials={trials}", fontsize=9)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8)
        return export.png(fig)

    export.downloads(res, _png, "monte_carlo_check", key="mc")

state.share_box()
