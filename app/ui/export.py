"""Downloads: matplotlib PNGs (Agg, no pyplot global state; built only when the button is clicked)
and the CSV/PNG download buttons. Every PNG has a legend naming each colour and marker."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from .charts import COLORS, TERM_LABELS


def figure(nrows: int = 1, ncols: int = 1, *, width: float = 7.5, height: float = 4.5) -> Any:
    """A fresh Agg ``Figure`` and its axes (one, or an array for a grid)."""
    from matplotlib.figure import Figure  # Agg canvas; no pyplot global state (thread-safe use)

    fig = Figure(figsize=(width, height), dpi=120, layout="constrained")
    return fig, fig.subplots(nrows, ncols)


def png(fig: Any) -> bytes:
    """The figure as PNG bytes."""
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
    points: Sequence[dict[str, Any]] = (),
) -> bytes:
    """PNG (matplotlib, Agg) of the same curves (and error-bar ``points``) as :func:`charts.curve_chart`."""
    fig, ax = figure()
    for (q, t), g in long.groupby(["quantity", "test"], sort=False):
        ax.plot(
            g[x_name],
            g["value"],
            color=COLORS.get(str(q), None),
            ls="-" if t == "OOD" else "--",
            label=f"{q} ({t})",
        )
    markers = {}
    for pt in points:
        mk = markers.setdefault(pt["label"], "os^D"[len(markers) % 4])
        lbl = f"{pt['label']}: {pt['quantity']}"
        ax.errorbar(
            [pt[x_name]],
            [pt["value"]],
            yerr=[[pt["value"] - pt["lo"]], [pt["hi"] - pt["value"]]],
            fmt=mk,
            color=COLORS.get(str(pt["quantity"])),
            ms=5,
            capsize=2,
            label=lbl if lbl not in ax.get_legend_handles_labels()[1] else None,
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
    return png(fig)


def terms_png(df: pd.DataFrame, x_name: str, *, x_title: str, log_x: bool = True) -> bytes:
    """PNG of the fine-grained OOD variance terms (stacked when all are non-negative)."""
    fig, ax = figure()
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
    return png(fig)


@dataclass(frozen=True)
class Series:
    """One series of a PNG scatter/line plot: ``label`` goes into the legend."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: str | None = None
    marker: str = "o"  # matplotlib marker; "" for a plain line
    filled: bool = True
    line: str = ""  # matplotlib line style; "" for markers only


def scatter_png(
    series: Sequence[Series],
    *,
    x_title: str,
    y_title: str,
    title: str = "",
    log: bool = False,
    log_x: bool | None = None,
) -> bytes:
    """PNG of markers and lines, each named in the legend (colour, marker and fill as given)."""
    fig, ax = figure()
    for s in series:
        ax.plot(
            s.x,
            s.y,
            marker=s.marker or None,
            ls=s.line or "none",
            ms=4,
            lw=1.2,
            color=s.color,
            mfc=s.color if s.filled else "none",
            label=s.label,
        )
    if log or log_x:
        ax.set_xscale("log")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=7, loc="best")
    return png(fig)


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

    fig, ax = figure()
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
    return png(fig)


def downloads(df: pd.DataFrame, make_png: Callable[[], bytes], stem: str, *, key: str) -> None:
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
        make_png,
        file_name=f"{stem}.png",
        mime="image/png",
        key=f"{key}_png",
        on_click="ignore",
        icon=":material/image:",
    )
