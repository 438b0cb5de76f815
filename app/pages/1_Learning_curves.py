"""Page 1 — learning curves: error, bias and variance (ID and OOD) against N/n, n/d or γ."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from ui import cache, charts, export, state
from ui import widgets as wd
from ui.fmt import fmt, fmt_gamma
from ui.guard import fail, find_api, guarded
from ui.pickers import make_spectrum, spectrum_picker, target_explainer, target_picker

import rfshift as rf

AXES = {  # radio label (also the URL value) -> internal name, description
    "N/n": ("Nn", "features per sample (= φ/ψ)"),
    "n/d": ("nd", "samples per dimension (= 1/φ), N/d fixed"),
    "γ": ("gamma", "ridge"),
}
X_DEFAULT_RANGE = {"Nn": (0.1, 10.0), "nd": (0.1, 10.0), "gamma": (1e-4, 10.0)}

st.title("Learning curves")
st.caption(
    "Exact limiting test error of random-feature ridge regression as one ratio varies; solid lines "
    "test on the shifted law Σ* (OOD), dashed lines on the training law Σ (ID)."
)

sb = st.sidebar
choice = target_picker(spectrum_picker())
activation = wd.activation_select()
noise_var = wd.noise_slider()
teacher = wd.teacher_select(
    help="A single-index teacher. The limit adds its nonlinear part μ⊥² as label noise on X; at these "
    "sizes its correlation with the features is computed exactly (docs/theory.md §19, §20.1).",
)
nonlinear_var = float(
    wd.slider(
        "Nonlinear target part σ_g²",
        "nlvar",
        0.0,
        5.0,
        0.0,
        0.05,
        help="Variance of a part of the target that no linear function of x explains, under both laws: "
        "training noise that lives on X, and irreducible test error (rf.asymptotics nonlinear_var).",
    )
)
sb.divider()
axis_label = wd.radio("Horizontal axis", "axis", list(AXES), "N/n", captions=[d for _, d in AXES.values()])
axis = AXES[axis_label][0]
n_over_d = wd.ratio_slider("n/d = 1/φ (samples per input dimension)", "nd", 2.0)
N_over_n = wd.ratio_slider(
    "N/n = φ/ψ (features per sample)", "Nn", 2.0, help="N > n (N/n > 1) is the overparameterised regime."
)
gamma = wd.gamma_slider(default=0.0)
if axis == "gamma":
    lo, hi = wd.ratio_range("γ range", "xr_gamma", X_DEFAULT_RANGE["gamma"], grid=wd.GAMMA_GRID[1:])
else:
    lo, hi = wd.ratio_range(f"{axis_label} range", f"xr_{axis}", X_DEFAULT_RANGE[axis])
if not hi > lo:
    fail(f"The {axis_label} range is empty ({lo:g} to {hi:g}); choose two different ends.")
n_points = int(wd.slider("Points on the curve", "points", 20, 400, 200, 10))
quantities = wd.multiselect("Quantities", "show", list(charts.QUANTITIES), list(charts.QUANTITIES))
tests = wd.multiselect("Test law", "tests", ["OOD", "ID"], ["OOD", "ID"])
log_y = wd.toggle("Log y-axis", "logy", True)
show_terms = wd.toggle("Fine-grained variance terms (OOD)", "terms", False)
finite_size = find_api("finite_size", modules=("rfshift.finite_size",))
MODES = ["limit", "at these sizes"]
#: the finite-size mode's equivalents (rf.finite_size's ``equivalent=``) and the generalized one's pools
FS_EQUIVALENTS = {
    "Gaussian (fast)": "gaussian",
    "generalized (accurate on concentrated spectra, slower)": "generalized",
}
FS_EQUIVALENTS_DEFAULT = "Gaussian (fast)"
FS_POOLS = (1000, 2000, 4000, 8000)
FS_POOL_DEFAULT = 2000
mode = "limit"
if finite_size is not None:
    sb.divider()
    mode = wd.radio(
        "Mode",
        "mode",
        MODES,
        "limit",
        captions=[
            "the proportional limit d, n, N → ∞ (exact for well-spread spectra)",
            "finite d, n, N: rf.finite_size, averaged over draws of the features W",
        ],
    )
finite = mode == MODES[1]
if finite:
    if choice.covariances is not None:
        fs_d = None
        sb.caption(f"The uploaded Σ, Σ* are used at their own size, d = {choice.covariances[0].shape[0]}.")
    else:
        fs_d = int(
            wd.select_slider("Input dimension d", "fs_d", [16, 32, 64, 128, 256, 512], 64, format_func=str)
        )
    fs_points = int(wd.slider("Sizes to evaluate", "fs_points", 2, 12, 5, 1))
    fs_draws = int(wd.slider("Feature draws W per size", "fs_draws", 3, 16, 4, 1))
    fs_equivalent = wd.radio(
        "Equivalent",
        "fs_equivalent",
        list(FS_EQUIVALENTS),
        FS_EQUIVALENTS_DEFAULT,
        captions=[
            "Gaussian covariate model given W (docs/theory.md §20): fast",
            "keeps the x-dependence of the quadratic forms (§20.2): accurate on concentrated spectra, "
            "about 20–80× slower per draw",
        ],
    )
    fs_pool = FS_POOL_DEFAULT
    if FS_EQUIVALENTS[fs_equivalent] == "generalized":
        fs_pool = int(wd.select_slider("Pool of inputs per draw", "fs_pool", list(FS_POOLS), FS_POOL_DEFAULT,
                                       format_func=str))
        sb.caption(
            f"The generalized equivalent averages over a pool of {fs_pool} inputs per feature draw (cost "
            "grows like pool × N²); its pool error enters the ± band. With N in the thousands expect "
            "minutes per size."
        )
    fs_seed = wd.number_input("Seed", "fs_seed", 0, 2**31 - 1, 0)
state.report_ignored()

phi0 = 1.0 / n_over_d
psi0 = phi0 / N_over_n
x = np.geomspace(lo, hi, n_points)
if axis == "Nn":
    peak_x = 1.0  # ψ = φ
    x_label = "N/n (features per sample)"
elif axis == "nd":
    peak_x = 1.0 / psi0  # φ = ψ  ⇔  n/d = N/d
    x_label = f"n/d (samples per dimension; N/d = {1 / psi0:g} fixed)"
else:
    peak_x = None
    x_label = "γ (ridge)"
if gamma == 0 and peak_x is not None and lo <= peak_x <= hi:
    x = np.union1d(x, [peak_x])  # evaluate exactly at the threshold so the peak is marked, not skipped

if axis == "Nn":
    sweep = dict(phi=phi0, psi=phi0 / x, gamma=gamma)
    base_x = N_over_n
elif axis == "nd":
    # φ = 1/x, and exactly ψ at the threshold (1/(1/ψ) need not round-trip in floating point)
    sweep = dict(phi=np.where(x == peak_x, psi0, 1.0 / x), psi=psi0, gamma=gamma)
    base_x = n_over_d
else:
    sweep = dict(phi=phi0, psi=psi0, gamma=x)
    base_x = gamma if gamma > 0 else None

lam, lam_star, w, b = choice.key
curve = guarded(
    cache.cached_curve,
    lam,
    lam_star,
    w,
    **sweep,
    noise_var=noise_var,
    activation=activation,
    terms=show_terms,
    target_power=b,
    teacher=teacher,
    nonlinear_var=nonlinear_var,
    what="Engine",
)
base = guarded(
    cache.cached_curve,
    lam,
    lam_star,
    w,
    phi=phi0,
    psi=psi0,
    gamma=gamma,
    noise_var=noise_var,
    activation=activation,
    target_power=b,
    teacher=teacher,
    nonlinear_var=nonlinear_var,
    what="Engine",
)

st.markdown(
    f"**Shift:** `{choice.label}` · {choice.spec.n_atoms} atoms · s = tr Σ/d = {choice.spec.s:.4g}, "
    f"s* = tr Σ*/d = {choice.spec.s_star:.4g} · activation **{activation}** · σ² = {noise_var:g}"
    + ("" if teacher is None else f" · teacher **{teacher}**")
    + ("" if not nonlinear_var else f" · σ_g² = {nonlinear_var:g}")
)
target_explainer(choice, teacher=teacher, nonlinear_var=nonlinear_var)
concentration = find_api("concentration")
if concentration is not None and choice.covariances is not None:
    conc = guarded(
        concentration, choice.spec, choice.covariances[0].shape[0], what="Concentration diagnostic"
    )
    if conc is not None and conc.concentrated:
        st.warning(
            f"{conc.message()} The curves below are the proportional limit; switch **Mode** to "
            "**at these sizes** (Equivalent: generalized) to evaluate this covariance at its own size."
        )
st.markdown(
    f"**At the base point** n/d = {n_over_d:g}, N/n = {N_over_n:g} (φ = {phi0:.4g}, ψ = {psi0:.4g}), "
    f"γ = {fmt_gamma(gamma)}:"
)
m = st.columns(6)
e_ood, e_id = float(base["error"]), float(base["error_id"])
m[0].metric("OOD error", fmt(e_ood))
m[1].metric("ID error", fmt(e_id))
m[2].metric(
    "OOD − ID gap",
    fmt(e_ood - e_id if np.isfinite(e_ood) and np.isfinite(e_id) else np.inf, 4),
    help="Absolute robustness: how many units of error the shift costs. Along the ridgeless "
    "overparameterised family it shrinks as N/n grows (when the ID/OOD slope exceeds 1).",
)
m[3].metric(
    "OOD / ID",
    fmt(e_ood / e_id if np.isfinite(e_ood) and e_id > 0 else np.inf, 4),
    help="Relative robustness: the factor by which the shift multiplies the error. On the ridgeless "
    "line E_OOD = slope·E_ID + intercept it equals slope + intercept/E_ID, so it moves away from 1 "
    "as more features lower E_ID. See the ID vs OOD page for both against N/n.",
)
m[4].metric("OOD bias", fmt(float(base["bias"])))
m[5].metric("OOD variance", fmt(float(base["variance"])))
if bool(base["peak"]):
    st.warning(
        "The base point sits on the interpolation threshold (γ = 0, N = n): the variance, hence the "
        "error, is infinite there. Move N/n or n/d off 1, or add a ridge."
    )

rules: list[tuple[float, str]] = []
if axis == "gamma":

    @st.cache_data(show_spinner=False, max_entries=64)
    def _optimal_ridge(lam, lam_star, w, b, phi, psi, noise_var, activation) -> dict[str, float]:
        opt = rf.optimal_ridge(
            make_spectrum(lam, lam_star, w, b),
            phi=phi,
            psi=psi,
            noise_var=noise_var,
            activation=activation,
            target="ood",
        )
        return {
            k: float(getattr(opt, k))
            for k in (
                "gamma_ood",
                "gamma_id",
                "error_ood_at_gamma_ood",
                "error_ood_at_gamma_id",
                "regret",
                "relative_regret",
            )
        }

    opt = guarded(
        _optimal_ridge, lam, lam_star, w, b, phi0, psi0, noise_var, activation, what="Optimal ridge"
    )
    o = st.columns(3)
    o[0].metric(
        "Optimal γ for OOD error",
        fmt(opt["gamma_ood"], 4),
        help="Minimiser of the OOD error over γ ∈ {0} ∪ [1e-8, 1e3] (rf.optimal_ridge).",
    )
    o[1].metric("Optimal γ for ID error", fmt(opt["gamma_id"], 4))
    o[2].metric(
        "OOD cost of tuning γ on ID data",
        fmt(opt["regret"], 4),
        help="E_OOD(γ*_ID) − E_OOD(γ*_OOD) ≥ 0, the regret of choosing the ridge by in-distribution "
        f"validation (relative: {opt['relative_regret']:.3g}).",
    )
    for g, lbl in ((opt["gamma_ood"], "γ* (OOD)"), (opt["gamma_id"], "γ* (ID)")):
        if lo <= g <= hi:
            rules.append((g, lbl))

x_name = {"Nn": "N_over_n", "nd": "n_over_d", "gamma": "gamma"}[axis]
MAX_SIZE = 4096  # largest n or N the finite-size mode evaluates (an n1 × n1 eigendecomposition per draw)
fs_points_drawn: list[dict] = []
fs_table = None
if finite:
    S, S_star, B, realised = guarded(cache.realise, choice, fs_d, what="Finite size")
    d = int(S.shape[0])
    xf = np.geomspace(lo, hi, fs_points)
    if axis == "Nn":
        phis, psis, gammas = np.full_like(xf, phi0), phi0 / xf, np.full_like(xf, gamma)
    elif axis == "nd":
        phis, psis, gammas = 1.0 / xf, np.full_like(xf, psi0), np.full_like(xf, gamma)
    else:
        phis, psis, gammas = np.full_like(xf, phi0), np.full_like(xf, psi0), xf
    ms = np.maximum(1, np.rint(d / phis)).astype(int)
    n1s = np.maximum(1, np.rint(d / psis)).astype(int)
    if ms.max() > MAX_SIZE or n1s.max() > MAX_SIZE:
        fail(
            f"At d = {d} the range needs n up to {ms.max()} and N up to {n1s.max()}; the finite-size mode "
            f"evaluates n, N ≤ {MAX_SIZE} here. Narrow the range or lower d."
        )
    settings_key = (
        choice.label,
        d,
        tuple(ms),
        tuple(n1s),
        tuple(gammas),
        noise_var,
        activation,
        fs_draws,
        fs_seed,
        teacher,
        nonlinear_var,
        FS_EQUIVALENTS[fs_equivalent],
        fs_pool,
        tuple(map(float, realised.lam)),
        tuple(map(float, realised.lam_star)),
    )
    runs = st.session_state.setdefault("fs_runs", {})
    sizes_text = (
        f"**At these sizes:** d = {d}; n = {', '.join(map(str, ms))}; N = {', '.join(map(str, n1s))}; "
        f"{fs_draws} feature draws each"
        + (
            f", generalized equivalent on a pool of {fs_pool} inputs per draw (about 20–80× the Gaussian "
            "equivalent's cost). "
            if FS_EQUIVALENTS[fs_equivalent] == "generalized"
            else ", Gaussian equivalent. "
        )
    )
    info_box = st.empty()
    if st.button("Compute at these sizes", type="primary", key="fs_run"):
        bar = st.progress(0.0, text="Computing the finite-size deterministic equivalents…")
        rows = []
        for i in range(xf.size):
            r = guarded(
                cache.finite_point,
                S,
                S_star,
                B,
                m=int(ms[i]),
                n1=int(n1s[i]),
                gamma=float(gammas[i]),
                noise_var=noise_var,
                activation=activation,
                draws=fs_draws,
                seed=fs_seed,
                teacher=teacher,
                nonlinear_var=nonlinear_var,
                equivalent=FS_EQUIVALENTS[fs_equivalent],
                pool=fs_pool,
                what=f"rf.finite_size at n = {ms[i]}, N = {n1s[i]}",
            )
            rows.append(r)
            bar.progress((i + 1) / xf.size, text=f"{i + 1}/{xf.size} sizes done")
        runs[settings_key] = rows
        while len(runs) > 8:
            runs.pop(next(iter(runs)))
    rows = runs.get(settings_key)
    if rows is None:
        info_box.info(
            sizes_text + "Press the button to compute (each size costs one N × N eigendecomposition per "
            "draw: seconds to minutes)."
        )
    else:
        info_box.info(sizes_text + "Computed: the points are on the chart and in the table below.")
        # the limit at the spectrum actually realised at d (atom weights rounded to whole directions)
        rl, rls, rw, rb = (
            realised.lam,
            realised.lam_star,
            realised.weights,
            getattr(realised, "target_power", None),
        )
        lim = guarded(
            cache.cached_curve,
            rl,
            rls,
            rw,
            phi=phis,
            psi=psis,
            gamma=gammas,
            noise_var=noise_var,
            activation=activation,
            terms=True,
            target_power=rb,
            teacher=teacher,
            nonlinear_var=nonlinear_var,
            what="Engine (realised spectrum)",
        )
        # the engine's ANOVA terms that are the same quantities as the finite-size split (OOD)
        lim = dict(lim) | {
            "variance_w": lim["term_w"],
            "variance_noise": lim["term_x_eps"] + lim["term_wx_eps"],
            "variance_sampling": lim["term_x"] + lim["term_wx"],
        }
        table = {x_name: xf, "n": ms, "N": n1s}
        for q in ("error", "bias", "variance", "error_id", "bias_id", "variance_id", *cache.FINITE_SPLIT):
            table[f"{q}_finite"] = [r[q] for r in rows]
            table[f"{q}_finite_se"] = [r[f"{q}_se"] for r in rows]
            if q in lim:
                table[f"{q}_limit"] = lim[q]
        fs_table = pd.DataFrame(table)
        for q in quantities:
            for t in tests:
                col = q if t == "OOD" else f"{q}_id"
                for i in range(xf.size):
                    v, se = rows[i][col], rows[i][f"{col}_se"]
                    if np.isfinite(v) and (v > 0 or not log_y):
                        fs_points_drawn.append(
                            {
                                x_name: float(xf[i]),
                                "value": v,
                                "lo": max(v - 2 * se, v * 1e-3) if log_y else v - 2 * se,
                                "hi": v + 2 * se,
                                "se": se,
                                "quantity": q,
                                "label": f"d = {d}, {t} (±2 s.e.)",
                            }
                        )
df = charts.curve_frame(x_name, x, curve)
peaks = charts.peak_positions(df, x_name)
if not quantities or not tests:
    st.info("Pick at least one quantity and one test law in the sidebar.")
else:
    long = charts.long_frame(df, x_name, quantities, tests, log_y=log_y)
    chart = charts.curve_chart(
        long,
        x_name,
        x_title=x_label,
        log_y=log_y,
        peaks=peaks,
        marker=base_x,
        rules=rules,
        points=fs_points_drawn,
        points_title="points: at these sizes",
    )
    st.vega_lite_chart(long, chart, width="stretch")
    if len(peaks):
        st.caption(
            f"Red dashed line: the interpolation peak at {axis_label} = "
            f"{', '.join(f'{p:g}' for p in peaks)} (γ = 0, N = n). The variance and error are +∞ "
            "there (∞ in the CSV); the curves are exact right up to it and are not clipped. "
            "Grey line: the base point."
        )
    else:
        st.caption(
            "Grey line: the base point. With γ = 0 the curve has an infinite interpolation peak at "
            "N = n when that lies in the range."
        )
    cols = [q if t == "OOD" else f"{q}_id" for q in quantities for t in tests]
    n_zero = int((df[cols].to_numpy() <= 0).sum())
    if log_y and n_zero:
        st.caption(f"{n_zero} values of exactly 0 are not drawn on the log axis; they are in the CSV.")
    title = (
        f"{choice.label}, {activation}, σ²={noise_var:g}, "
        + (f"n/d={n_over_d:g}, " if axis != "nd" else f"N/d={1 / psi0:g}, ")
        + (f"N/n={N_over_n:g}, " if axis == "gamma" else "")
        + (f"γ={gamma:g}" if axis != "gamma" else "")
    )
    export.downloads(
        df,
        lambda: export.curve_png(
            long, x_name, x_title=x_label, log_y=log_y, peaks=peaks, title=title, points=fs_points_drawn
        ),
        f"learning_curve_{axis}",
        key="curve",
    )

if fs_table is not None:
    st.subheader(f"At these sizes (d = {d})")
    # Interpolation-peak sizes (γ = 0, N = n): the error and its s.e. are +∞ there, so the largest
    # difference and s.e. are taken over the other sizes only (and say so).
    at_peak = (np.asarray(gammas) == 0) & (fs_table["N"].to_numpy() == fs_table["n"].to_numpy())
    off = fs_table[~at_peak]
    diff = (off["error_finite"] - off["error_limit"]).abs().to_numpy()
    se = off["error_finite_se"].to_numpy()
    peak_note = (
        f" Leaving out {int(at_peak.sum())} size(s) at the interpolation peak (γ = 0, N = n), where the "
        "error and its s.e. are +∞."
        if at_peak.any()
        else ""
    )
    m = st.columns(3)
    m[0].metric("Input dimension d", f"{d}")
    m[1].metric(
        "Largest |finite − limit|, OOD error",
        fmt(float(np.max(diff)), 3) if diff.size else "n/a",
        help="Over the evaluated sizes off the interpolation peak (γ = 0, N = n: both are +∞ there)."
        + peak_note,
    )
    m[2].metric(
        "Largest s.e., OOD error",
        fmt(float(np.max(se)), 2) if se.size else "n/a",
        help="Over the evaluated sizes off the interpolation peak (γ = 0, N = n: the error is +∞ there)."
        + peak_note,
    )
    st.caption(
        ("**" + peak_note.strip() + "** " if peak_note else "") +
        "Points on the chart: `rf.finite_size` — the deterministic equivalent of ridge regression on the "
        "random features at these finite sizes, given the features W, averaged over the draws of W (±2 "
        "s.e. over draws). `*_limit`: the proportional limit at the spectrum actually realised at d (atom "
        "weights rounded to whole directions). Where they differ by more than the s.e., the limit is off at "
        "this size (concentrated or heavy-tailed spectra, small d). Variance split: `variance_w` is the "
        "variance over W of the predictor averaged over the data (the limit's V_W), `variance_noise` the "
        "label-noise part (V_Xε + V_WXε), `variance_sampling` the rest of the data variance (V_X + V_WX); "
        "they add up to `variance` (docs/theory.md §20.1)."
    )
    st.dataframe(fs_table, hide_index=True)
    st.download_button(
        "Download CSV (at these sizes)",
        fs_table.to_csv(index=False).encode(),
        file_name=f"finite_size_{axis}.csv",
        mime="text/csv",
        key="fs_csv",
        on_click="ignore",
        icon=":material/table:",
    )

if show_terms:
    st.subheader("Fine-grained variance (OOD)")
    st.caption(
        "ANOVA split of the OOD variance over the random features W, the training data X and the "
        "label noise ε (THEORY.md §7). V_ε and V_Wε vanish identically and are not drawn."
    )
    st.altair_chart(charts.terms_chart(df, x_name, x_title=x_label), width="stretch")
    term_cols = [c for c in df.columns if c.startswith("variance_term_")]
    export.downloads(
        df[[x_name, *term_cols]],
        lambda: export.terms_png(df, x_name, x_title=x_label),
        f"variance_terms_{axis}",
        key="terms",
    )

state.share_box()
