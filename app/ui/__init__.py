"""Helpers of the rfshift app, one job per module (pages import the modules they need):

* :mod:`ui.guard`   — library calls that turn errors into ``st.error`` (never a traceback), optional APIs;
* :mod:`ui.fmt`     — numbers for display (∞ at the interpolation peak, γ = 0 as "ridgeless");
* :mod:`ui.widgets` — sidebar sliders and selectors bound to the URL query string;
* :mod:`ui.pickers` — the spectrum/shift picker, file uploads and the target picker;
* :mod:`ui.state`   — settings shared between pages (carry-over) and the share link;
* :mod:`ui.cache`   — engine calls, cached at the page boundary (``st.cache_data``);
* :mod:`ui.charts`  — data frames and Vega-Lite/Altair chart specs (every colour and marker named);
* :mod:`ui.export`  — matplotlib PNG export and the CSV/PNG download buttons.

Ratios: d = n0 (input dimension), n = m (training samples), N = n1 (random features);
φ = d/n, ψ = d/N, so n/d = 1/φ and N/n = φ/ψ (ψ < φ is overparameterised, N > n).
"""
