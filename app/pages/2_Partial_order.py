"""Page 2 — partial order over shifts: which of two shifts of the same training law is worse?"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from ui import export, state
from ui import widgets as wd
from ui.fmt import fmt, fmt_gamma
from ui.guard import fail, guarded, require_api
from ui.pickers import (
    UPLOAD,
    SpectrumChoice,
    apply_target,
    make_spectrum,
    spectrum_picker,
    target_families,
    target_picker,
)

RELATION_LABELS = {
    "a_better": "A better (certified)",
    "b_better": "B better (certified)",
    "equivalent": "equivalent (certified)",
    "not_certified": "not certified",
}
SHORT_LABELS = {
    "a_better": "A better",
    "b_better": "B better",
    "equivalent": "equal",
    "not_certified": "none",
}
#: Readable words for the internal names of rf.compare_shifts (dominance, monotonicity, verdicts).
WORDS = {
    "a_dominates": "A puts more test mass on larger λ",
    "b_dominates": "B puts more test mass on larger λ",
    "crossing": "the cumulative curves cross",
    "non_increasing": "non-increasing in λ",
    "non_decreasing": "non-decreasing in λ",
    "constant": "constant",
    "neither": "not monotone",
    "undefined": "undefined (interpolation peak or κ = ∞)",
    "a_better": "A better",
    "b_better": "B better",
    "incomparable": "no order",
}


def readable(text: object) -> str:
    """``text`` with rf.compare_shifts' internal names (``b_dominates``, ``non_increasing``, …) in words."""
    import re

    return re.sub(r"\b(" + "|".join(WORDS) + r")\b", lambda m: WORDS[m.group(1)], str(text))


RELATION_COLORS = ["#1f77b4", "#d62728", "#7f7f7f", "#e8e8e8"]

st.title("Partial order over shifts")
st.caption(
    "At a fixed training law the OOD error is E* = F(s*) + ∫ w(u(λ)) ν(dλ) with the test-mass measure "
    "ν(dλ) = λ* μ(dλ) (THEORY.md §6). If shift A puts its test mass on larger training eigenvalues than B "
    "(its cumulative curve lies below B's) and w is non-increasing on the support, A's error is certified "
    'to be no larger. The certificate is sufficient, not necessary: "not certified" does not mean '
    '"no order".'
)
compare_shifts = require_api("compare_shifts")

sb = st.sidebar
sb.markdown("**Shift A**")
choice_a = spectrum_picker("a_", label="Shift A", default="rotation")
# B starts as A's family (its test-side parameter moved) and keeps following A's family while the user
# has not picked another one for B.
a_family = choice_a.family or UPLOAD
_prev = st.session_state.get("_rf_order_a_family")
if (
    not st.session_state.get(state.ENTERING, True)
    and _prev not in (None, a_family)
    and st.session_state.get("b_shift") == _prev
):
    st.session_state["b_shift"] = a_family
st.session_state["_rf_order_a_family"] = a_family
sb.markdown("**Shift B**")
b_is_id = wd.toggle("B = no shift (test on A's training law Σ)", "b_id", False)
if b_is_id:
    choice_b = SpectrumChoice(choice_a.spec.in_distribution(), f"no shift ({choice_a.label} tested on Σ)")
else:
    choice_b = spectrum_picker(
        "b_",
        label="Shift B",
        default=a_family,
        overrides={"tau": -1.0, "alpha": 1.5, "angle": 0.0, "c": 1.0},
        shared=False,
    )
if target_families() is not None:
    sb.markdown("**Target (the same for A and B)**")
choice_a = target_picker(choice_a)
if choice_a.b is not None or choice_b.b is not None:
    choice_b = SpectrumChoice(
        guarded(apply_target, choice_b.spec, choice_a, what="Target for shift B"),
        choice_b.label,
        choice_b.family,
        choice_b.params,
        target=choice_a.target,
    )
sb.caption(
    "Both shifts must share the training spectrum (same λ and weights). Within a family change only "
    "the test-side parameter: tilt τ, power_law alpha, rotation angle, scaling c."
)
sb.divider()
activation = wd.activation_select()
noise_var = wd.noise_slider(default=3.0)
n_over_d = wd.ratio_slider("n/d = 1/φ (samples per input dimension)", "nd", 2.0)
N_over_n = wd.ratio_slider("N/n = φ/ψ (features per sample)", "Nn", 2.0)
gamma = wd.gamma_slider(default=0.01)
sb.divider()
phi_lo, phi_hi = wd.ratio_range("Heatmap φ = d/n range", "phi_range", (0.1, 10.0))
psi_lo, psi_hi = wd.ratio_range("Heatmap ψ = d/N range", "psi_range", (0.1, 10.0))
n_grid = int(wd.slider("Heatmap cells per axis", "cells", 10, 60, 30, 5))
state.report_ignored()
if not (phi_hi > phi_lo and psi_hi > psi_lo):
    fail("Each heatmap range needs two different ends.")

phi0, psi0 = 1.0 / n_over_d, 1.0 / n_over_d / N_over_n


@st.cache_data(show_spinner=False, max_entries=128)
def _compare(
    a: tuple[np.ndarray, ...],
    b: tuple[np.ndarray, ...],
    phi: object,
    psi: object,
    gamma: float,
    noise_var: float,
    activation: str,
) -> dict[str, object]:
    cmp = compare_shifts(
        make_spectrum(*a),
        make_spectrum(*b),
        phi=phi,
        psi=psi,
        gamma=gamma,
        noise_var=noise_var,
        activation=activation,
    )
    keys = (
        "verdict",
        "reason",
        "relation",
        "certified",
        "error_a",
        "error_b",
        "support",
        "cdf_a",
        "cdf_b",
        "crossings",
        "dominance",
        "comparable",
        "monotone",
        "dw_du_min",
        "dw_du_max",
    )
    return {k: getattr(cmp, k) for k in keys}


base = guarded(
    _compare, choice_a.key, choice_b.key, phi0, psi0, gamma, noise_var, activation, what="Comparison"
)

st.markdown(
    f"**A:** `{choice_a.label}` (s* = {choice_a.spec.s_star:.4g}) · **B:** `{choice_b.label}` "
    f"(s* = {choice_b.spec.s_star:.4g}) · {choice_a.spec.n_atoms} atoms · activation **{activation}**, "
    f"σ² = {noise_var:g}"
)
st.subheader(
    f"At n/d = {n_over_d:g}, N/n = {N_over_n:g} (φ = {phi0:.4g}, ψ = {psi0:.4g}), γ = {fmt_gamma(gamma)}"
)
e_a, e_b = float(base["error_a"]), float(base["error_b"])
m = st.columns(4)
m[0].metric("OOD error, A", fmt(e_a))
m[1].metric("OOD error, B", fmt(e_b))
m[2].metric("E_A − E_B", fmt(e_a - e_b if np.isfinite(e_a) and np.isfinite(e_b) else np.nan))
rel = str(base["relation"])
m[3].metric("Certified order", SHORT_LABELS[rel])
verdict_text = {
    "a_better": "A is certified to be no worse than B here.",
    "b_better": "B is certified to be no worse than A here.",
    "equivalent": "A and B are certified to have equal error here.",
    "incomparable": "No order is certified here.",
}[str(base["verdict"])]
(st.success if base["verdict"] != "incomparable" else st.info)(
    f"**{verdict_text}** {readable(base['reason'])}."
)
st.caption(
    f"Test-mass dominance: **{readable(base['dominance'])}**; w∘u on the support: "
    f"**{readable(base['monotone'])}** "
    f"(dw/du = {float(base['dw_du_max']):.4g} at the smallest λ, {float(base['dw_du_min']):.4g} at the "
    "largest; both ≥ 0 ⇔ w non-increasing in λ)."
)
if base["certified"] and np.isfinite(e_a - e_b):
    sign_ok = {
        "a_better": e_a <= e_b * (1 + 1e-12),
        "b_better": e_b <= e_a * (1 + 1e-12),
        "equivalent": abs(e_a - e_b) <= 1e-9 * max(abs(e_a), 1.0),
    }[rel]
    if not sign_ok:
        st.error("The certified order disagrees with the computed errors at this point; please report it.")

left, right = st.columns(2)
with left:
    st.markdown("**Cumulative test mass ν([0, λ])**")
    support = np.asarray(base["support"], dtype=float)
    cdf = pd.DataFrame(
        {
            "lambda": np.concatenate([support, support]),
            "cumulative_test_mass": np.concatenate([base["cdf_a"], base["cdf_b"]]),
            "shift": ["A"] * support.size + ["B"] * support.size,
        }
    )
    log_lam = bool(np.all(support > 0))
    chart = (
        alt.Chart(cdf)
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X(
                "lambda:Q",
                title="training eigenvalue λ",
                scale=alt.Scale(type="log" if log_lam else "linear"),
            ),
            y=alt.Y("cumulative_test_mass:Q", title="ν([0, λ])"),
            color=alt.Color("shift:N", scale=alt.Scale(domain=["A", "B"], range=["#1f77b4", "#d62728"])),
            tooltip=[
                "shift:N",
                alt.Tooltip("lambda:Q", format=".4g"),
                alt.Tooltip("cumulative_test_mass:Q", format=".4g"),
            ],
        )
        .properties(height=320)
    )
    st.altair_chart(chart, width="stretch")
    st.caption(
        "A curve lying below the other puts more test mass on large, well-learned directions. "
        + (
            f"The curves cross at λ = {', '.join(f'{c:.3g}' for c in base['crossings'])}."
            if len(base["crossings"])
            else ""
        )
    )

    def _cdf_png() -> bytes:
        fig, ax = export.figure()
        for s, c in (("A", "#1f77b4"), ("B", "#d62728")):
            g = cdf[cdf["shift"] == s]
            ax.step(g["lambda"], g["cumulative_test_mass"], where="post", color=c, marker="o", ms=3, label=s)
        ax.set_xscale("log" if log_lam else "linear")
        ax.set_xlabel("training eigenvalue λ")
        ax.set_ylabel("ν([0, λ])")
        ax.legend()
        ax.grid(True, alpha=0.3)
        return export.png(fig)

    export.downloads(cdf, _cdf_png, "test_mass_cdf", key="cdf")

# --- heatmap over (φ, ψ) ---------------------------------------------------------------------------
phis = np.geomspace(phi_lo, phi_hi, n_grid)
psis = np.geomspace(psi_lo, psi_hi, n_grid)
P, S = np.meshgrid(phis, psis, indexing="ij")
grid = guarded(
    _compare,
    choice_a.key,
    choice_b.key,
    P,
    S,
    gamma,
    noise_var,
    activation,
    what="Comparison on the (φ, ψ) grid",
)
with np.errstate(invalid="ignore"):
    diff = np.asarray(grid["error_a"], dtype=float) - np.asarray(grid["error_b"], dtype=float)
relation = np.asarray(grid["relation"], dtype=object)


def _edges(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lv = np.log(v)
    mid = np.exp((lv[1:] + lv[:-1]) / 2)
    lo = np.concatenate([[v[0] ** 2 / mid[0]], mid])
    hi = np.concatenate([mid, [v[-1] ** 2 / mid[-1]]])
    return lo, hi


(p0, p1), (s0, s1) = _edges(phis), _edges(psis)
I, J = np.meshgrid(np.arange(n_grid), np.arange(n_grid), indexing="ij")
heat = pd.DataFrame(
    {
        "phi": P.ravel(),
        "psi": S.ravel(),
        "phi0": p0[I.ravel()],
        "phi1": p1[I.ravel()],
        "psi0": s0[J.ravel()],
        "psi1": s1[J.ravel()],
        "error_a": np.asarray(grid["error_a"], dtype=float).ravel(),
        "error_b": np.asarray(grid["error_b"], dtype=float).ravel(),
        "E_a_minus_E_b": np.where(np.isfinite(diff), diff, np.nan).ravel(),
        "relation": [RELATION_LABELS[str(r)] for r in relation.ravel()],
    }
)
with right:
    st.markdown("**Certified relation over (φ, ψ)**")
    base_enc = dict(
        x=alt.X("phi0:Q", title="φ = d/n", scale=alt.Scale(type="log", nice=False)),
        x2="phi1:Q",
        y=alt.Y("psi0:Q", title="ψ = d/N", scale=alt.Scale(type="log", nice=False)),
        y2="psi1:Q",
    )
    tooltip = [
        alt.Tooltip("phi:Q", format=".3g"),
        alt.Tooltip("psi:Q", format=".3g"),
        alt.Tooltip("E_a_minus_E_b:Q", format=".4g"),
        "relation:N",
    ]
    HERE = "n/d, N/n of the sidebar"
    here = (
        alt.Chart(pd.DataFrame({"phi": [phi0], "psi": [psi0], "mark": [HERE]}))
        .mark_point(size=160, color="black", strokeWidth=2)
        .encode(
            x="phi:Q",
            y="psi:Q",
            shape=alt.Shape(
                "mark:N",
                scale=alt.Scale(domain=[HERE], range=["cross"]),
                legend=alt.Legend(title="marker", orient="bottom", symbolStrokeColor="black", labelLimit=300),
            ),
        )
    )
    rel_chart = (
        alt.Chart(heat)
        .mark_rect()
        .encode(
            color=alt.Color(
                "relation:N",
                scale=alt.Scale(domain=list(RELATION_LABELS.values()), range=RELATION_COLORS),
                title=None,
                legend=alt.Legend(orient="bottom", columns=2),
            ),
            tooltip=tooltip,
            **base_enc,
        )
        .properties(height=320)
    )
    st.altair_chart(alt.layer(rel_chart, here), width="stretch")

st.subheader("E_A − E_B over (φ, ψ)")
finite = heat["E_a_minus_E_b"].dropna()
vmax = float(finite.abs().max()) if len(finite) else 1.0
diff_chart = (
    alt.Chart(heat)
    .mark_rect()
    .encode(
        color=alt.Color(
            "E_a_minus_E_b:Q",
            title="E_A − E_B",
            scale=alt.Scale(scheme="redblue", reverse=True, domainMid=0, domain=[-vmax, vmax]),
        ),
        tooltip=tooltip,
        **base_enc,
    )
    .properties(height=420)
)
st.altair_chart(alt.layer(diff_chart, here), width="stretch")
counts = {k: int((relation == k).sum()) for k in RELATION_LABELS}
n_nan = int((~np.isfinite(diff)).sum())
st.caption(
    "Blue: A has the smaller OOD error, red: B. Black cross: the point above (the sidebar's n/d, N/n). "
    f"Of {relation.size} cells, "
    f"A better is certified at {counts['a_better']}, B better at {counts['b_better']}, equivalence at "
    f"{counts['equivalent']}; {counts['not_certified']} are not certified. "
    f"Whole grid: **{readable(grid['verdict'])}** "
    f"— {readable(grid['reason'])}."
    + (
        f" {n_nan} blank cells lie on the interpolation peak (γ = 0, ψ = φ), where both errors are ∞."
        if n_nan
        else ""
    )
)
bad_a = (relation == "a_better") & (diff > 1e-9 * np.maximum(1.0, np.abs(np.asarray(grid["error_b"]))))
bad_b = (relation == "b_better") & (-diff > 1e-9 * np.maximum(1.0, np.abs(np.asarray(grid["error_a"]))))
if (bad_a | bad_b).any():
    st.error(
        f"At {int((bad_a | bad_b).sum())} cells the certificate contradicts the computed errors; "
        "please report these settings."
    )

export.downloads(
    heat[["phi", "psi", "error_a", "error_b", "E_a_minus_E_b", "relation"]],
    lambda: export.heatmap_png(
        phis,
        psis,
        diff.T,
        x_title="φ = d/n",
        y_title="ψ = d/N",
        z_title="E_A − E_B",
        title=f"A: {choice_a.label}  B: {choice_b.label}  γ={gamma:g} σ²={noise_var:g}",
        hatch_mask=(relation == "not_certified").T,
        hatch_label="order not certified",
    ),
    "shift_order_heatmap",
    key="heat",
)

state.share_box()
