"""Page 5 — formulas: the equations (LaTeX from rfshift.symbolic) and the solved scalars."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from ui import cache, state
from ui import widgets as wd
from ui.fmt import fmt, fmt_gamma
from ui.guard import guarded, optional_module
from ui.pickers import spectrum_picker, target_explainer, target_picker

st.title("Formulas")
st.caption(
    "The equations the engine solves (THEORY.md §3–§8), rendered from `rfshift.symbolic`, and the "
    "scalars solved at the settings in the sidebar."
)

sb = st.sidebar
choice = target_picker(spectrum_picker())
activation = wd.activation_select()
noise_var = wd.noise_slider()
n_over_d = wd.ratio_slider("n/d = 1/φ (samples per input dimension)", "nd", 2.0)
N_over_n = wd.ratio_slider("N/n = φ/ψ (features per sample)", "Nn", 2.0)
gamma = wd.gamma_slider(default=0.01)
state.report_ignored()
phi, psi = 1.0 / n_over_d, 1.0 / n_over_d / N_over_n

res = cache.point(choice, phi=phi, psi=psi, gamma=gamma, noise_var=noise_var, activation=activation)
spec = choice.spec
tr, te = res.train_constants, res.test_constants

st.subheader("Solved at the current settings")
st.markdown(
    f"`{choice.label}` · {spec.n_atoms} atoms · activation **{activation}** · φ = {phi:.4g}, "
    f"ψ = {psi:.4g}, γ = {fmt_gamma(gamma)}, σ² = {noise_var:g}"
)
m = st.columns(5)
m[0].metric("κ", fmt(res.kappa, 8))
m[1].metric("k_x = φ/κ", fmt(res.k_x, 8))
m[2].metric("t = γτ", fmt(res.t, 8))
m[3].metric("t̄ = γτ̄", fmt(res.t_bar, 8))
m[4].metric("OOD error", fmt(res.error, 8))


def _row(name: str, symbol: str, value: float, meaning: str) -> dict[str, Any]:
    return {"quantity": name, "symbol": symbol, "value": fmt(value, 12), "meaning": meaning}


rows = [
    _row("kappa", "κ", res.kappa, "fixed point κ(ω + I₁,₁) = 1 − t (THEORY §4)"),
    _row("k_x", "k_x", res.k_x, "input-space effective ridge φ/κ"),
    _row("t", "t = γτ", res.t, "1 − φP"),
    _row("t_bar", "t̄ = γτ̄", res.t_bar, "1 − ψP"),
    _row("delta", "1 − df₂/m", res.delta, "0 at the interpolation peak"),
    _row("s", "s = tr Σ/d", spec.s, "training pre-activation variance"),
    _row("s_star", "s* = tr Σ*/d", spec.s_star, "test pre-activation variance"),
    *(
        [
            _row("signal", "⟨bλ⟩", spec.signal, "training signal energy of the target (= s when b ≡ 1)"),
            _row("signal_star", "⟨bλ*⟩", spec.signal_star, "test signal energy of the target"),
        ]
        if hasattr(spec, "signal")
        else []
    ),
    _row("mu0", "μ0(s)", tr.mu0, "E σ(g), g ~ N(0, s) (does not enter the limit)"),
    _row("mu1", "μ1(s)", tr.mu1, "E σ'(g)"),
    _row("mu_perp2", "μ⊥²(s)", tr.mu_perp2, "E σ(g)² − μ0² − s μ1²"),
    _row("mu1_star", "μ1(s*)", te.mu1, "at the test variance"),
    _row("mu_perp2_star", "μ⊥²(s*)", te.mu_perp2, "at the test variance"),
    _row("rho", "ρ = μ1(s)²", res.rho, ""),
    _row("omega", "ω = μ⊥²/ρ", res.omega, ""),
    _row("rho_star", "ρ* = μ1(s*)²", res.rho_star, ""),
    _row("omega_star", "ω* = μ⊥²(s*)/ρ*", res.omega_star, ""),
    _row("r", "r = μ1(s*)/μ1(s)", res.r, ""),
    _row("error", "E* (OOD)", res.error, "B* + V*"),
    _row("bias", "B* (OOD)", res.bias, ""),
    _row("variance", "V* (OOD)", res.variance, ""),
    _row("error_id", "E (ID)", res.error_id, ""),
    _row("bias_id", "B (ID)", res.bias_id, ""),
    _row("variance_id", "V (ID)", res.variance_id, ""),
]
for k, v in res.variance_terms.as_dict().items():
    rows.append(_row(f"variance_term_{k}", f"V_{k} (OOD)", v, "fine-grained variance (THEORY §7)"))
table = pd.DataFrame(rows)
st.dataframe(table, hide_index=True, width="stretch")
st.download_button(
    "Download CSV",
    table.to_csv(index=False).encode(),
    file_name="solved_scalars.csv",
    mime="text/csv",
    key="scalars_csv",
    on_click="ignore",
    icon=":material/table:",
)
if bool(res.interpolation_peak):
    st.warning("Interpolation peak (γ = 0, N = n): the variance and error are +∞ here.")

target_explainer(choice)

st.subheader("Equations")
TITLES = {
    "I_ab": "Moments (THEORY §4)",
    "u": "Per-direction shrinkage u(λ)",
    "t": "t = γτ",
    "t_bar": "t̄ = γτ̄",
    "fixed_point": "Fixed point for κ",
    "master_kx": "The same fixed point in k_x = φ/κ",
    "D": "Denominator D (THEORY §5)",
    "bias": "OOD bias",
    "variance": "OOD variance",
    "error": "OOD error",
    "variance_ridgeless_over": "Ridgeless variance, overparameterised (ψ < φ)",
    "variance_ridgeless_under": "Ridgeless variance, underparameterised (ψ > φ)",
    "variance_kernel": "Kernel limit ψ = 0",
    "weight": "Per-direction weight w(u) (THEORY §6)",
    "F": "Shift-independent part F(s*)",
    "error_split": "Error split behind the partial order",
    "linear_slope": "ID/OOD line: slope (THEORY §8)",
    "linear_intercept": "ID/OOD line: intercept",
}


@st.cache_data(show_spinner="Rendering the equations…")
def _latex() -> list[tuple[str, str]]:
    symbolic = optional_module("rfshift.symbolic")
    fn = getattr(symbolic, "latex_equations", None) if symbolic is not None else None
    if fn is None:
        return []
    eqs = fn()
    if isinstance(eqs, dict):
        return [(str(k), str(v)) for k, v in eqs.items()]
    return [(str(e[0]), str(e[1])) if isinstance(e, tuple) else ("", str(e)) for e in eqs]


equations = guarded(_latex, what="Rendering the equations")
if not equations:
    st.warning(
        "`rfshift.symbolic.latex_equations` is not available in this installation of rfshift, so the "
        "equations cannot be rendered here; see THEORY.md."
    )
for key, tex in equations:
    if key:
        st.markdown(f"**{TITLES.get(key, key)}**")
    st.latex(tex)

state.share_box()
