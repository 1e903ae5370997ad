"""The load test's HTML report: summary table and SVG plots, no plotting library.

Plots: end-to-end latency histogram (with its percentiles marked), throughput over
time (sent vs delivered), deliveries expected vs done, consumer lag over time, and
CPU and RSS of the recorder processes, each on its own axis; then CPU per process
(recorder, generators, checker, broker, moto) and the machine's busy share. Extra
tables (CPU per process, capacity steps) follow the summary. Pure: results in, one
self-contained HTML string out, so a browser opens it from disk with no network.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence
from typing import Any

W, H, PAD = 760, 260, 60
COLORS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def _axes(xmax: float, ymax: float, xlabel: str, ylabel: str) -> list[str]:
    out = [
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 10}" y2="{H - PAD}" stroke="#333"/>',
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{H - PAD}" stroke="#333"/>',
        f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" font-size="12">{html.escape(xlabel)}</text>',
        f'<text x="12" y="{(H - PAD) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 12 {(H - PAD) / 2})">{html.escape(ylabel)}</text>',
    ]
    for i in range(5):
        y = H - PAD - i * (H - PAD - 10) / 4
        out.append(
            f'<text x="{PAD - 4}" y="{y + 4:.0f}" text-anchor="end" font-size="10">{ymax * i / 4:,.0f}</text>'
        )
        x = PAD + i * (W - 10 - PAD) / 4
        out.append(
            f'<text x="{x:.0f}" y="{H - PAD + 14}" text-anchor="middle" font-size="10">{xmax * i / 4:,.1f}</text>'
        )
    return out


def line_chart(
    title: str, series: dict[str, Sequence[tuple[float, float]]], xlabel: str, ylabel: str
) -> str:
    points = [p for s in series.values() for p in s]
    xmax = max((p[0] for p in points), default=1.0) or 1.0
    ymax = max((p[1] for p in points), default=1.0) or 1.0
    parts = _axes(xmax, ymax, xlabel, ylabel)
    for i, pts in enumerate(series.values()):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(
            f"{PAD + x / xmax * (W - 10 - PAD):.1f},{H - PAD - y / ymax * (H - PAD - 10):.1f}"
            for x, y in pts
        )
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
    return _svg(title, parts, legend=list(series))


def histogram(
    title: str,
    values: Sequence[float],
    xlabel: str,
    bins: int = 40,
    marks: dict[str, float] | None = None,
) -> str:
    if not values:
        return _svg(title, ['<text x="20" y="40">no data</text>'])
    lo, hi = 0.0, max(values) or 1.0
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    ymax = max(counts)
    parts = _axes(hi, ymax, xlabel, "records")
    bar_w = (W - 10 - PAD) / bins
    for i, c in enumerate(counts):
        h = c / ymax * (H - PAD - 10)
        parts.append(
            f'<rect x="{PAD + i * bar_w:.1f}" y="{H - PAD - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" fill="{COLORS[0]}"/>'
        )
    for j, (name, v) in enumerate((marks or {}).items()):
        x = PAD + (v - lo) / (hi - lo) * (W - 10 - PAD)
        color = COLORS[1 + j % (len(COLORS) - 1)]
        parts.append(
            f'<line class="mark" x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{H - PAD}" '
            f'stroke="{color}" stroke-dasharray="4 3" stroke-width="1.5"/>'
        )
        parts.append(
            f'<text x="{x + 3:.1f}" y="{22 + 14 * j}" font-size="11" fill="{color}" '
            'stroke="white" stroke-width="3" paint-order="stroke">'
            f"{html.escape(name)} {v:,.2f}</text>"
        )
    return _svg(title, parts)


def _svg(title: str, parts: list[str], legend: Sequence[str] = ()) -> str:
    keys = "".join(
        f'<span class="key" style="color:{COLORS[i % len(COLORS)]}">&#9632; {html.escape(n)}</span>'
        for i, n in enumerate(legend)
    )
    return (
        f"<figure><figcaption>{html.escape(title)}{keys}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">'
        + "".join(parts)
        + "</svg></figure>"
    )


def sample_gaps(ts: Sequence[float], interval: float, tolerance: float = 1.5) -> list[float]:
    """Start times of the holes in a time series: where the next sample came later
    than ``tolerance`` intervals after the last one (a starved sampler)."""
    return [a for a, b in itertools.pairwise(ts) if b - a > tolerance * interval]


def table(title: str, rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r.values()) + "</tr>"
        for r in rows
    )
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{body}</table>"


def render(
    summary: dict[str, Any],
    samples: list[dict[str, float]],
    latencies: Sequence[float],
    tables: dict[str, Sequence[dict[str, Any]]] | None = None,
) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
        for k, v in summary.items()
    )
    extra = "".join(table(title, r) for title, r in (tables or {}).items())
    t = [s["t"] for s in samples]

    def series(key: str) -> list[tuple[float, float]]:
        return list(zip(t, [s.get(key, 0.0) for s in samples], strict=True))

    offered = any("offered_rate" in s for s in samples)
    marks = {f"p{q}": percentile(latencies, q) for q in (50, 99)} if latencies else {}
    figures = [
        histogram(
            "End-to-end latency: event time to object in S3",
            latencies,
            "seconds",
            marks=marks,
        ),
        line_chart(
            "Throughput over time",
            {
                "sent (events/s)": list(zip(t, [s["sent_rate"] for s in samples], strict=True)),
                "delivered (records/s)": list(
                    zip(t, [s["delivered_rate"] for s in samples], strict=True)
                ),
            }
            | ({"offered (events/s)": series("offered_rate")} if offered else {}),
            "seconds since start",
            "per second",
        ),
        line_chart(
            "Deliveries: expected so far vs in S3",
            {
                "expected": series("expected_total"),
                "delivered": series("delivered_total"),
            },
            "seconds since start",
            "records",
        ),
        line_chart(
            "Consumer lag over time",
            {
                "router lag": list(zip(t, [s["router_lag"] for s in samples], strict=True)),
                "writer lag": list(zip(t, [s["writer_lag"] for s in samples], strict=True)),
            },
            "seconds since start",
            "records",
        ),
        line_chart(
            "Recorder CPU (router + writer)",
            {"CPU": series("cpu")},
            "seconds since start",
            "% of one core",
        ),
        line_chart(
            "Recorder memory (router + writer)",
            {"RSS": series("rss_mib")},
            "seconds since start",
            "MiB",
        ),
    ]
    per_process = sorted({k for s in samples for k in s if k.startswith("cpu.")})
    if per_process:
        figures.append(
            line_chart(
                "CPU per process",
                {k[4:]: series(k) for k in per_process},
                "seconds since start",
                "% of one core",
            )
        )
    if any("machine_busy" in s for s in samples):
        figures.append(
            line_chart(
                "Share of the machine (all cores)",
                {
                    "machine busy (every process on the host)": series("machine_busy"),
                    "recorder": series("recorder_share"),
                    "load harness": series("harness_share"),
                },
                "seconds since start",
                "% of the machine",
            )
        )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>recorder load test</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:820px}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:4px 10px;text-align:left}}
figure{{margin:1.5em 0}}figcaption{{font-weight:600;margin-bottom:.4em}}
.key{{font-weight:400;font-size:.9em;margin-left:1.2em}}</style></head>
<body><h1>recorder load test</h1><table>{rows}</table>{extra}{"".join(figures)}</body></html>
"""


def percentile(values: Sequence[float], p: float) -> float:
    """The value below which ``p`` % of the values fall (nan when there are none)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
