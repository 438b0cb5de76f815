"""Tables and on-page charts of the app: wide/long data frames of a sweep, Vega-Lite specs and Altair
charts. Every chart names what each colour, dash and marker means (a legend or a labelled mark)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from .cache import CURVE_FIELDS

QUANTITIES = ("error", "bias", "variance")
COLORS = {"error": "#1f77b4", "bias": "#ff7f0e", "variance": "#2ca02c"}
#: Colours for series that are not quantities (shifts, K, ...), in order.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
#: Regimes of a model size, as the ID-vs-OOD charts name them.
REGIMES = ("over (N > n)", "under (N ≤ n)")
TERM_LABELS = {
    "w": "V_W (features)",
    "x": "V_X (data)",
    "wx": "V_WX",
    "x_eps": "V_Xε",
    "wx_eps": "V_WXε",
}


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
    points: Sequence[dict[str, Any]] = (),
    points_title: str = "points",
) -> dict[str, Any]:
    """Vega-Lite spec (for ``st.vega_lite_chart(long, spec)``) of the sweep: colour = quantity,
    dash = ID/OOD; dashed red rules at interpolation peaks (value ∞, labelled), a grey rule at the
    current base point; ``points`` (dicts with x_name, ``value``, ``lo``, ``hi``, ``quantity`` and
    ``label``) are drawn as markers with error bars, coloured by quantity, shaped (and named in a
    legend titled ``points_title``) by ``label``. Written as a plain spec rather than through Altair:
    building and validating Altair objects costs more than the engine call (benchmarks/app_latency.py)."""
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
                    "title": "colour: quantity",
                },
                "strokeDash": {
                    "field": "test",
                    "type": "nominal",
                    "scale": {"domain": ["OOD", "ID"], "range": [[1, 0], [6, 3]]},
                    "title": "line: test law",
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
        layers.append(
            {
                "data": {"values": [{x_name: float(marker), "label": "base point"}]},
                "mark": {"type": "text", "color": "gray", "align": "left", "dx": 4, "baseline": "top"},
                "encoding": {
                    "x": {"field": x_name, "type": "quantitative"},
                    "y": {"value": 4 + 15 * (len(rules) + 1)},
                    "text": {"field": "label", "type": "nominal"},
                },
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
    if len(points):
        labels = list(dict.fromkeys(p["label"] for p in points))
        color = {
            "field": "quantity",
            "type": "nominal",
            "scale": {"domain": qs, "range": [COLORS[q] for q in qs]},
        }
        layers.append(
            {
                "data": {"values": list(points)},
                "mark": {"type": "rule", "size": 1.5},
                "encoding": {
                    "x": {"field": x_name, "type": "quantitative"},
                    "y": {"field": "lo", "type": "quantitative"},
                    "y2": {"field": "hi"},
                    "color": color,
                },
            }
        )
        layers.append(
            {
                "data": {"values": list(points)},
                "mark": {"type": "point", "filled": True, "size": 70},
                "encoding": {
                    "x": {"field": x_name, "type": "quantitative"},
                    "y": {"field": "value", "type": "quantitative"},
                    "color": color,
                    "shape": {
                        "field": "label",
                        "type": "nominal",
                        "scale": {
                            "domain": labels,
                            "range": ["circle", "square", "diamond", "triangle-up"][: len(labels)],
                        },
                        "title": points_title,
                    },
                    "tooltip": [
                        {"field": x_name, "type": "quantitative", "format": ".4g"},
                        {"field": "label", "type": "nominal"},
                        {"field": "quantity", "type": "nominal"},
                        {"field": "value", "type": "quantitative", "format": ".5g"},
                        {"field": "se", "type": "quantitative", "format": ".2g"},
                    ],
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


def id_ood_scatter(
    points: pd.DataFrame,
    *,
    x_title: str,
    y_title: str,
    series_title: str = "colour",
    line: pd.DataFrame | None = None,
    line_label: str = "predicted line",
    log: bool = True,
    height: int = 360,
    series_order: list[str] | None = None,
    extra_tooltip: list | None = None,
) -> alt.LayerChart:
    """ID (x) against OOD (y) points of one or more series: ``points`` has columns ``id``, ``ood``,
    ``series``, ``regime`` ("over (N > n)" filled circles / "under (N ≤ n)" hollow triangles) and
    ``N_over_n``; ``line`` (columns ``id``, ``ood``, ``series``) is drawn dashed in the series'
    colour. Legends name the colours (series), the markers (regime) and the dash (``line_label``).
    ``series_order`` fixes the colour of each series (default: order of appearance), so a series keeps
    its colour when another has nothing to draw; ``extra_tooltip`` adds tooltip fields."""
    series = list(
        dict.fromkeys(
            (series_order or [])
            + points["series"].tolist()
            + ([] if line is None else line["series"].tolist())
        )
    )
    scale = alt.Scale(type="log" if log else "linear")
    x = alt.X("id:Q", title=x_title, scale=scale)
    y = alt.Y("ood:Q", title=y_title, scale=scale)
    color = alt.Color(
        "series:N",
        scale=alt.Scale(domain=series, range=[PALETTE[i % len(PALETTE)] for i in range(len(series))]),
        legend=alt.Legend(title=series_title, labelLimit=300),
    )
    shape = alt.Shape(
        "regime:N",
        scale=alt.Scale(domain=list(REGIMES), range=["circle", "triangle-up"]),
        legend=alt.Legend(title="marker: regime"),
    )
    tooltip = [
        "series:N",
        alt.Tooltip("N_over_n:Q", format=".3g"),
        "regime:N",
        alt.Tooltip("id:Q", format=".5g"),
        alt.Tooltip("ood:Q", format=".5g"),
        *(extra_tooltip or []),
    ]
    layers: list[alt.Chart] = []
    if line is not None and len(line):
        line = line.assign(line=line_label)
        layers.append(
            alt.Chart(line)
            .mark_line(opacity=0.8)
            .encode(
                x=x,
                y=y,
                color=color,
                strokeDash=alt.StrokeDash(
                    "line:N",
                    scale=alt.Scale(domain=[line_label], range=[[5, 3]]),
                    legend=alt.Legend(title="dashed", labelLimit=400),
                ),
            )
        )
    for regime, filled in zip(REGIMES, (True, False), strict=True):
        sub = points[points["regime"] == regime]
        layers.append(
            alt.Chart(sub)
            .mark_point(size=45, strokeWidth=1.5, filled=filled)
            .encode(x=x, y=y, color=color, shape=shape, tooltip=tooltip)
        )
    return alt.layer(*layers).properties(height=height)


def series_lines(
    df: pd.DataFrame,
    x_name: str,
    *,
    x_title: str,
    y_title: str,
    series_title: str,
    log_x: bool = True,
    log_y: bool = False,
    dashed: Sequence[str] = (),
    dash_names: tuple[str, str] = ("solid", "dashed"),
    height: int = 320,
) -> alt.Chart:
    """Lines of ``value`` against ``x_name``, one per ``series`` (colour legend titled
    ``series_title``); series named in ``dashed`` are drawn dashed, and a second legend names the two
    line styles ``dash_names`` (solid, dashed)."""
    series = list(dict.fromkeys(df["series"].tolist()))
    df = df.assign(style=np.where(df["series"].isin(list(dashed)), dash_names[1], dash_names[0]))
    return (
        alt.Chart(df)
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X(f"{x_name}:Q", title=x_title, scale=alt.Scale(type="log" if log_x else "linear")),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(type="log" if log_y else "linear", zero=False)),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(domain=series, range=[PALETTE[i % len(PALETTE)] for i in range(len(series))]),
                legend=alt.Legend(title=series_title, orient="bottom", columns=1, labelLimit=500),
            ),
            strokeDash=alt.StrokeDash(
                "style:N",
                scale=alt.Scale(domain=list(dash_names), range=[[1, 0], [5, 3]]),
                legend=alt.Legend(
                    title="line", orient="bottom", symbolType="stroke", symbolStrokeColor="black"
                ),
            ),
            tooltip=[
                "series:N",
                alt.Tooltip(f"{x_name}:Q", format=".4g"),
                alt.Tooltip("value:Q", format=".5g"),
            ],
        )
        .properties(height=height)
    )
