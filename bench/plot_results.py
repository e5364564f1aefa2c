#!/usr/bin/env python3
"""Charts for docs/performance.md from the benchmarks' JSON results (plain SVG, no dependencies).

    .venv/bin/python bench/plot_results.py [--results bench/results] [--out docs/img]

Reads htpasswd_auth.json, proxy_throughput.json, backend_tls.json and token_auth.json (whichever
exist) and writes docs/img/htpasswd-auth.svg, docs/img/proxy-throughput.svg, docs/img/proxy-cpu.svg,
docs/img/backend-tls.svg and docs/img/token-auth.svg: one bar per variant at the median over the
rounds, with a whisker from the
smallest to the largest round.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def hbar_svg(title: str, subtitle: str, items: list, *, axis_label: str, log: bool = False,
             xmax: float | None = None, xmin: float | None = None, refline: tuple | None = None,
             label_width: int = 330) -> str:
    """items: [(label, median, lo, hi, annotation, colour)]."""
    width, bar_h, gap, top, right = 1000, 22, 10, 70, 230
    plot_w = width - label_width - right
    height = top + len(items) * (bar_h + gap) + 60
    values = [v for _l, m, lo, hi, _a, _c in items for v in (m, lo, hi) if v is not None]
    if log:
        lo_v = xmin or 10 ** math.floor(math.log10(min(values)))
        hi_v = xmax or 10 ** math.ceil(math.log10(max(values)))

        def x(v):
            v = max(v, lo_v)
            return label_width + plot_w * (math.log10(v) - math.log10(lo_v)) / (math.log10(hi_v) - math.log10(lo_v))
        ticks = [10 ** e for e in range(int(math.log10(lo_v)), int(math.log10(hi_v)) + 1)]
    else:
        lo_v = 0.0
        hi_v = xmax or max(values) * 1.1

        def x(v):
            return label_width + plot_w * (v - lo_v) / (hi_v - lo_v)
        step = 0.1 if hi_v <= 1.5 else (0.25 if hi_v <= 3 else 10 ** math.floor(math.log10(hi_v)))
        ticks = [round(i * step, 6) for i in range(int(hi_v / step) + 1)]
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' {FONT} font-size='13'>",
           f"<rect width='{width}' height='{height}' fill='white'/>",
           f"<text x='20' y='26' font-size='17' font-weight='bold'>{escape(title)}</text>",
           f"<text x='20' y='48' fill='#555'>{escape(subtitle)}</text>"]
    axis_y = top + len(items) * (bar_h + gap)
    for t in ticks:
        tx = x(t)
        out.append(f"<line x1='{tx:.1f}' y1='{top - 6}' x2='{tx:.1f}' y2='{axis_y}' stroke='#ddd'/>")
        label = f"{t:g}" if not log else (f"{t:,.0f}" if t >= 1 else f"{t:g}")
        out.append(f"<text x='{tx:.1f}' y='{axis_y + 16}' text-anchor='middle' fill='#444'>{label}</text>")
    out.append(f"<text x='{label_width + plot_w / 2:.0f}' y='{axis_y + 38}' text-anchor='middle' "
               f"fill='#222'>{escape(axis_label)}</text>")
    if refline:
        rx = x(refline[0])
        out.append(f"<line x1='{rx:.1f}' y1='{top - 10}' x2='{rx:.1f}' y2='{axis_y}' stroke='#c00' "
                   f"stroke-dasharray='5,4'/>")
        out.append(f"<text x='{rx + 4:.1f}' y='{top - 12}' fill='#c00'>{escape(refline[1])}</text>")
    for i, (label, med, lo, hi, note, colour) in enumerate(items):
        y = top + i * (bar_h + gap)
        out.append(f"<text x='{label_width - 10}' y='{y + bar_h * 0.72:.1f}' text-anchor='end'>{escape(label)}</text>")
        x0 = x(lo_v) if not log else label_width
        out.append(f"<rect x='{x0:.1f}' y='{y}' width='{max(x(med) - x0, 1):.1f}' height='{bar_h}' "
                   f"fill='{colour}'/>")
        if lo is not None and hi is not None:
            cy = y + bar_h / 2
            out.append(f"<line x1='{x(lo):.1f}' y1='{cy}' x2='{x(hi):.1f}' y2='{cy}' stroke='#222' stroke-width='1.5'/>")
            for v in (lo, hi):
                out.append(f"<line x1='{x(v):.1f}' y1='{cy - 6}' x2='{x(v):.1f}' y2='{cy + 6}' stroke='#222' "
                           f"stroke-width='1.5'/>")
        out.append(f"<text x='{max(x(med), x(hi) if hi else 0) + 6:.1f}' y='{y + bar_h * 0.72:.1f}' "
                   f"fill='#222'>{escape(note)}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def htpasswd_chart(data: dict) -> str:
    items = []
    for v in data["variants"]:
        rps = v["rps"]
        colour = "#888" if v["scheme"] == "none" else ("#2b7bb9" if "bcrypt" in v["variant"] else
                                                       ("#d98c1f" if "apr" in v["variant"] else "#3a9b5c"))
        note = "no auth" if v["scheme"] == "none" else f"{v['ratio_median']:.3g}x, {v['pulls_per_s_per_core']:.3g} pulls/s"
        items.append((v["variant"], statistics.median(rps), min(rps), max(rps), note, colour))
    m = data["machine"]
    sub = (f"{data['nginx']}, 1 worker, wrk -c{data['connections']} -t{data['threads']} -d{data['duration_s']}s, "
           f"{data['rounds']} rounds; {m['cpus']} vCPU, {m['date'][:10]}; bar = median, whisker = min..max")
    return hbar_svg("Basic auth: requests/s of one nginx worker per htpasswd scheme", sub, items,
                    axis_label="authenticated requests per second (log scale)", log=True, label_width=200)


def proxy_chart(data: dict) -> str:
    s = data["summary"]
    items = []
    labels = {"tuned/get_static": ("GET: static file over TLS (ceiling)", "#888"),
              "tuned/get_proxy": ("GET: proxy (role defaults)", "#2b7bb9"),
              "tuned/get_direct": ("GET: direct from a backend (mTLS)", "#3a9b5c"),
              "proxy_buffer_4k/get_proxy": ("GET: proxy, proxy_buffer_size 4k", "#9cc3e0"),
              "proxy_buffer_256k/get_proxy": ("GET: proxy, proxy_buffer_size 256k", "#9cc3e0"),
              "proxy_buffering_on/get_proxy": ("GET: proxy, proxy_buffering on", "#9cc3e0"),
              "ssl_buffer_4k/get_proxy": ("GET: proxy, ssl_buffer_size 4k", "#9cc3e0"),
              "ssl_buffer_4k/get_static": ("GET: static, ssl_buffer_size 4k", "#bbb")}
    for key, (label, colour) in labels.items():
        if key not in s["get"]:
            continue
        r = s["get"][key]["ratio_to_ceiling"]
        items.append((label, statistics.median(r), min(r), max(r), f"{statistics.median(r):.2f}x", colour))
    push_labels = {"tuned/push_direct": ("push: direct to a backend (mTLS)", "#3a9b5c"),
                   "tuned/push_proxy": ("push: proxy (request buffering off)", "#2b7bb9"),
                   "request_buffering_on/push_proxy": ("push: proxy, request buffering on", "#9cc3e0")}
    for key, (label, colour) in push_labels.items():
        r = s["push"][key]["ratio_to_direct"]
        items.append((label, statistics.median(r), min(r), max(r), f"{statistics.median(r):.2f}x of direct", colour))
    for mode, label in [("no_cache", "burst of 32: no cache"), ("cache_cold", "burst of 32: cache, cold"),
                        ("cache_warm", "burst of 32: cache, warm")]:
        if mode in s["burst"]:
            r = s["burst"][mode]["ratio_to_no_cache"]
            gets = s["burst"][mode]["backend_gets"]
            gets_note = (f"{gets[0]} backend GET(s) per burst" if len(set(gets)) == 1
                         else "backend GETs " + ",".join(map(str, gets)))
            items.append((label, statistics.median(r), min(r), max(r),
                          f"{statistics.median(r):.2f}x; {gets_note}", "#d98c1f"))
    m = data["machine"]
    sub = (f"{data['nginx']}, {data['blob_bytes'] >> 20} MiB blob, {data['rounds']} rounds; GET: x ceiling, "
           f"push: x direct, burst: x no cache; {m['cpus']} vCPU, {m['date'][:10]}; whisker = min..max")
    hi = max(max(i[3] for i in items) * 1.1, 1.1)
    return hbar_svg("Blob throughput through the proxy, as ratios measured side by side", sub, items,
                    axis_label="ratio (same round)", xmax=hi, refline=(0.9, "goal 0.9x"))


def cpu_chart(data: dict) -> str | None:
    """Stacked bars: CPU seconds per GiB moved, by component, for the tuned paths."""
    cpu = data["summary"].get("cpu_s_per_gib")
    if not cpu:
        return None
    comps = [("proxy (nginx)", "#2b7bb9"), ("backends (registry)", "#3a9b5c"), ("s3 (Ceph RGW)", "#d98c1f"),
             ("client (curl)", "#999")]
    labels = {"tuned/get_static": "GET: static over TLS (ceiling)", "tuned/get_proxy": "GET: proxy",
              "tuned/get_direct": "GET: direct (mTLS)", "tuned/push_proxy": "push: proxy",
              "tuned/push_direct": "push: direct"}
    rows = [(labels[k], cpu[k]) for k in labels if k in cpu]
    width, label_w, right, bar_h, gap, top = 980, 250, 60, 22, 10, 90
    plot_w = width - label_w - right
    vmax = max(sum(v.get(c, 0) or 0 for c, _ in comps) for _l, v in rows) * 1.15
    height = top + len(rows) * (bar_h + gap) + 50
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
           f"viewBox='0 0 {width} {height}' {FONT} font-size='13'>",
           f"<rect width='{width}' height='{height}' fill='white'/>",
           "<text x='20' y='26' font-size='17' font-weight='bold'>Where the CPU goes: CPU seconds per GiB moved</text>",
           f"<text x='20' y='48' fill='#555'>{escape(data['nginx'])}, median of {data['rounds']} rounds, "
           "processes of each lab container (nested registry containers included) + curl</text>"]
    lx = label_w
    for name, colour in comps:
        out.append(f"<rect x='{lx}' y='60' width='12' height='12' fill='{colour}'/>")
        out.append(f"<text x='{lx + 16}' y='71'>{escape(name)}</text>")
        lx += 170
    for i, (label, v) in enumerate(rows):
        y = top + i * (bar_h + gap)
        out.append(f"<text x='{label_w - 10}' y='{y + bar_h * 0.72:.1f}' text-anchor='end'>{escape(label)}</text>")
        x = label_w
        for name, colour in comps:
            w = plot_w * (v.get(name) or 0) / vmax
            out.append(f"<rect x='{x:.1f}' y='{y}' width='{max(w, 0):.1f}' height='{bar_h}' fill='{colour}'/>")
            x += w
        out.append(f"<text x='{x + 6:.1f}' y='{y + bar_h * 0.72:.1f}'>{v['total']:.2f} s</text>")
    axis_y = top + len(rows) * (bar_h + gap)
    step = 0.5 if vmax <= 5 else (1 if vmax <= 10 else 5)
    t = 0.0
    while t <= vmax:
        tx = label_w + plot_w * t / vmax
        out.append(f"<text x='{tx:.1f}' y='{axis_y + 16}' text-anchor='middle' fill='#444'>{t:g}</text>")
        t += step
    out.append(f"<text x='{label_w + plot_w / 2:.0f}' y='{axis_y + 36}' text-anchor='middle'>CPU seconds per GiB</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def backend_tls_chart(data: dict) -> str:
    """Ratios of bench/backend_tls.py: mutual TLS vs plain HTTP to the backends, and keepalive."""
    items = []
    colours = {"pull": "#2b7bb9", "v2": "#3a9b5c", "manifest": "#3a9b5c", "noka": "#d98c1f",
               "ka_mtls": "#9cc3e0", "ka_plain": "#bbb", "noreuse": "#c0504d"}
    for key, r in data["summary"]["ratios"].items():
        items.append((r["label"], r["median"], r["min"], r["max"], f"{r['median']:.3f}x", colours.get(key, "#888")))
    m = data["machine"]
    w = data["wrk"]
    sub = (f"{data['nginx']}, {data['blob_bytes'] >> 20} MiB blob, wrk -c{w['connections']} -d{w['duration_s']}s, "
           f"apr1 auth, {data['rounds']} rounds; {m['cpus']} vCPU, {m['date'][:10]}; whisker = min..max")
    hi = max(max(i[3] for i in items) * 1.1, 1.1)
    return hbar_svg("Mutual TLS to the backends: ratios measured side by side", sub, items,
                    axis_label="ratio (same round)", xmax=hi, refline=(1.0, "equal"), label_width=420)

def token_chart(data: dict) -> str:
    """Requests/s ratio to no auth per request kind: token vs basic (default hash)."""
    items = []
    labels = {"manifest_head": "manifest HEAD", "v2_get": "GET /v2/"}
    colours = {"none": "#888", "basic": "#d98c1f", "token": "#2b7bb9"}
    for request in ("manifest_head", "v2_get"):
        base = data["samples"][f"none/{request}"]
        for variant in ("none", "basic", "token"):
            v = data["samples"][f"{variant}/{request}"]
            r = [a / b for a, b in zip(v, base)]
            note = f"{statistics.median(v):,.0f} req/s" + ("" if variant == "none" else f", {statistics.median(r):.3g}x")
            items.append((f"{labels[request]}, {variant}", statistics.median(r), min(r), max(r), note, colours[variant]))
    m = data["machine"]
    sub = (f"{data['nginx']}, same nginx for all three, ab -k -c{data['connections']} -t{data['duration']}, "
           f"{data['rounds']} rounds; {m['cpus']} vCPU, {m['date'][:10]}; bar = median, whisker = min..max")
    return hbar_svg("Token vs basic authentication: requests/s as a ratio to no authentication", sub, items,
                    axis_label="requests/s relative to no authentication (same round)", xmax=1.3, label_width=260)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, fn, svg in [("htpasswd_auth", htpasswd_chart, "htpasswd-auth.svg"),
                          ("proxy_throughput", proxy_chart, "proxy-throughput.svg"),
                          ("proxy_throughput", cpu_chart, "proxy-cpu.svg"),
                          ("backend_tls", backend_tls_chart, "backend-tls.svg"),
                          ("token_auth", token_chart, "token-auth.svg")]:
        src = args.results / f"{name}.json"
        if src.exists():
            text = fn(json.loads(src.read_text()))
            if text:
                (args.out / svg).write_text(text)
                print(f"wrote {args.out / svg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
