"""The load-test report: every plot present, well-formed SVG, values where they belong."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from loadtest.report import PAD, H, W, histogram, line_chart, percentile, render, sample_gaps

SVG = "{http://www.w3.org/2000/svg}"


def samples(n: int) -> list[dict[str, float]]:
    return [
        {
            "t": float(i),
            "sent_rate": 2000.0,
            "delivered_rate": 8000.0 if i % 5 == 4 else 0.0,
            "expected_total": 1600.0 * (i + 1),
            "delivered_total": 1600.0 * (i - i % 5),
            "router_lag": 10.0 * i,
            "writer_lag": 3.0,
            "cpu": 80.0,
            "rss_mib": 150.0 + i,
        }
        for i in range(n)
    ]


def test_percentile_is_nearest_rank_from_below() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == 51.0
    assert percentile(values, 99) == 100.0
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) != percentile([], 50)  # nan


def test_report_has_each_plot_as_well_formed_svg() -> None:
    page = render({"events sent": 120_000, "latency p50 (s)": 2.82}, samples(60), [1.0, 2.0, 3.0])
    captions = re.findall(r"<figcaption>([^<]+)", page)
    assert captions == [
        "End-to-end latency: event time to object in S3",
        "Throughput over time",
        "Deliveries: expected so far vs in S3",
        "Consumer lag over time",
        "Recorder CPU (router + writer)",
        "Recorder memory (router + writer)",
    ]
    svgs = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    assert len(svgs) == 6
    for svg in svgs:
        ET.fromstring(svg)  # raises on malformed markup
    assert "<td>120,000</td>" in page and "<td>2.82</td>" in page


def test_line_chart_scales_the_largest_value_to_the_top() -> None:
    svg = line_chart("lag", {"router lag": [(0.0, 0.0), (10.0, 590.0)]}, "s", "records")
    root = ET.fromstring(re.search(r"<svg .*?</svg>", svg, flags=re.S).group(0))  # type: ignore[union-attr]
    (line,) = root.iter(f"{SVG}polyline")
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in line.get("points", "").split())
    assert (x0, x1) == (PAD, W - 10)
    assert (y0, y1) == (H - PAD, 10.0)  # bottom and top of the plot area
    assert ">590<" in svg  # y axis labelled up to the maximum
    assert "router lag" in svg  # legend


def test_histogram_marks_percentiles_at_their_value() -> None:
    values = [float(v) for v in range(1, 101)]
    svg = histogram("latency", values, "seconds", bins=10, marks={"p50": 50.0})
    root = ET.fromstring(re.search(r"<svg .*?</svg>", svg, flags=re.S).group(0))  # type: ignore[union-attr]
    bars = list(root.iter(f"{SVG}rect"))
    assert len(bars) == 10
    heights = [float(b.get("height", 0)) for b in bars]
    # bins of width 10 from 0: 1..9, 10..19, ..., 90..100 -> 9, 10 x 8, 11 values
    tallest = max(heights)
    assert [round(h / tallest * 11) for h in heights] == [9] + [10] * 8 + [11]
    (mark,) = [ln for ln in root.iter(f"{SVG}line") if ln.get("class") == "mark"]
    assert float(mark.get("x1", 0)) == round(PAD + 0.5 * (W - 10 - PAD), 1)
    assert "p50 50.00" in svg


def test_sample_gaps_finds_where_the_sampler_starved() -> None:
    steady = [i * 1.0 + 0.01 * (i % 3) for i in range(60)]
    assert sample_gaps(steady, 1.0) == []
    starved = [float(t) for t in range(28)] + [108.0, 109.0]
    assert sample_gaps(starved, 1.0) == [27.0]


def test_report_shows_cpu_per_process_and_the_machine_share_and_tables() -> None:
    rows = samples(10)
    for s in rows:
        s |= {
            "cpu.router-0": 40.0,
            "cpu.writer-0": 30.0,
            "cpu.generator-0": 20.0,
            "machine_busy": 60.0,
            "recorder_share": 35.0,
            "harness_share": 12.0,
        }
    steps = [{"rate": 500, "p99": 6.5, "held": True}, {"rate": 750, "p99": 21.0, "held": False}]
    page = render({"events sent": 10}, rows, [1.0], {"Capacity steps": steps})
    captions = re.findall(r"<figcaption>([^<]+)", page)
    assert captions[-2:] == ["CPU per process", "Share of the machine (all cores)"]
    per_process = re.search(r"CPU per process.*?</figure>", page, flags=re.S).group(0)  # type: ignore[union-attr]
    for name in ("router-0", "writer-0", "generator-0"):
        assert name in per_process
    for svg in re.findall(r"<svg .*?</svg>", page, flags=re.S):
        ET.fromstring(svg)
    assert "<h2>Capacity steps</h2>" in page
    assert "<th>rate</th><th>p99</th><th>held</th>" in page
    assert "<td>750</td><td>21.00</td><td>no</td>" in page
