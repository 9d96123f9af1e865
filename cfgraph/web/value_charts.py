"""Geometry of the values page's charts: the unit x slice heatmap, the per-unit interval chart and
the scaling curve against training rows with its fitted power law (SVG drawn server-side).

Colours are presentation attributes (not classes), so the same markup is embedded in the page
and downloaded as a standalone file (the page's CSS cannot reach a downloaded SVG).
"""

from __future__ import annotations

import math

import numpy as np

from cfgraph.display import compact, fixed
from cfgraph.web.charts import Frame, Scale, _ticks, _value_axis

#: Viridis in ten buckets (as cfgraph.css's palette) and the text colour that contrasts with each.
VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b",
           "#fde725"]
VIRIDIS_TEXT = ["#fff"] * 4 + ["#000"] * 6
#: Series colours (as cfgraph.css's .s0 .. .s3).
SERIES = ["#1f6feb", "#e8590c", "#2f9e44", "#9c36b5"]
MISSING_FILL = "#ffffff"
#: Room above and below the scaling points on the value axis, as a share of their range.
SCALING_MARGIN = 0.08


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _px(x: float) -> str:
    """A coordinate with at most one decimal and no trailing ".0" (the heatmap has thousands).

    Examples
    --------
    >>> _px(42.0), _px(7.25), _px(0.04)
    ('42', '7.2', '0')
    """
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def cell_text(v: float) -> str:
    """A heatmap cell's value: three fixed decimals, so neighbouring ranks read apart from the
    digits (0.204 vs 0.201); a nonzero value under 0.001 in short exponent form (it would read 0.000 or
    0.001 and hide its size); past 1000 four significant digits.

    Examples
    --------
    >>> [cell_text(v) for v in (0.2038, 0.2013, -0.0149, 0.00059, -0.00002, 0.0, 12.5, 123456.0)]
    ['0.204', '0.201', '-0.015', '5.9e-4', '-2e-5', '0.000', '12.500', '1.235e5']
    """
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e3):
        mantissa, exponent = f"{v:.{1 if abs(v) < 1e-3 else 3}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return fixed(v, 3)


def heatmap_chart(units: list[str], slices: list[str], values, chosen: int, tips: list[list[str]],
                  max_width: int = 640, names: list[str] | None = None) -> dict:
    """A unit x slice heatmap: one row per unit (in the order given, e.g. ranked), one column per slice.

    Compact by design (a 398 x 3 or 8 x 255 map is thousands of cells): every cell has the same
    width and height, so they are given once; a cell is its x, y, fill and tooltip only.

    Parameters
    ----------
    units : list of str, length n
        Row labels (already ranked, e.g. "1. A").
    slices : list of str, length m
    values : array_like of float, shape (n, m)
        NaN where missing (drawn as a hatched empty cell).
    chosen : int
        The column the ranking follows (outlined).
    tips : list of list of str, shape (n, m)
        Each cell's tooltip (value, interval, or "missing").
    names : list of str, length n, optional
        Each row's unit name (the row label's tooltip).

    Returns
    -------
    dict
        ``width``, ``height``, ``cw`` and ``chh`` (every cell's width and height), ``cells``
        (x, y, fill, tip, missing, and text, text_cls, tx, ty when cells are big enough to hold
        their value), ``rows`` (y, label, name), ``columns`` (x, label, y) for the labelled
        columns, ``chosen`` (x, y, w, h of the outline), ``legend`` (x, w, fill per bucket, and
        ``lo`` / ``hi`` labels).

    Examples
    --------
    >>> ch = heatmap_chart(["1. A", "2. B"], ["all"], [[0.5], [float("nan")]], 0, [["A"], ["B"]])
    >>> [c["missing"] for c in ch["cells"]], ch["cells"][0]["fill"] == VIRIDIS[0]
    ([False, True], True)
    """
    v = np.asarray(values, dtype=float).reshape(len(units), len(slices))
    n, m = v.shape
    scale = Scale.of(v)
    bucket = scale.buckets(v)
    label_w = min(150, 14 + 7 * max((len(u) for u in units), default=1))
    cell_w = max(4.0, min(64.0, (max_width - label_w - 12) / max(m, 1)))
    cell_h = max(8.0, min(22.0, 700.0 / max(n, 1)))
    longest = max((len(s) for s in slices), default=1)
    every = max(1, math.ceil(m / 30))  # label at most ~30 columns; the rest show on hover
    head = 14 + min(120, 6 * min(longest, 18))
    width = int(label_w + m * cell_w + 12)
    legend_y = head + n * cell_h + 12
    texts = [["–" if np.isnan(x) else cell_text(float(x)) for x in row] for row in v]
    # About 6.5 px a character at the charts' 11 px: write the values only where the longest fits.
    show_text = cell_w >= 8 + 6.5 * max((len(t) for row in texts for t in row), default=1) and cell_h >= 14
    xs = [_px(label_w + j * cell_w) for j in range(m)]
    cells = []
    for i in range(n):
        y = head + i * cell_h
        ys = _px(y)
        for j in range(m):
            missing = bool(np.isnan(v[i, j]))
            b = int(bucket[i, j])
            cell = {"x": xs[j], "y": ys, "fill": "" if missing else VIRIDIS[b], "missing": missing,
                    "tip": tips[i][j]}
            if show_text:
                cell.update(text=texts[i][j],
                            text_cls="muted" if missing else ("on-dark" if VIRIDIS_TEXT[b] == "#fff" else "on-light"),
                            text_fill="#5b6775" if missing else VIRIDIS_TEXT[b],
                            tx=_px(label_w + (j + 0.5) * cell_w), ty=_px(y + cell_h / 2))
            cells.append(cell)
    columns = [{"x": _px(label_w + (j + 0.5) * cell_w), "y": head - 4, "label": s[:18]}
               for j, s in enumerate(slices) if j % every == 0 or j == chosen]
    legend_w = min(200.0, width - label_w - 12)
    step = legend_w / len(VIRIDIS)
    names = names or [None] * n
    return {
        "width": width, "height": int(legend_y + 30), "cells": cells, "show_text": show_text,
        "cw": _px(cell_w), "chh": _px(cell_h),
        "rows": [{"y": _px(head + (i + 0.5) * cell_h), "label": u, "name": names[i]} for i, u in enumerate(units)],
        "columns": columns, "label_w": label_w,
        "chosen": {"x": _px(label_w + chosen * cell_w), "y": head, "w": _px(cell_w), "h": _px(n * cell_h)},
        "legend": {"y": round(legend_y, 1), "lo": compact(scale.lo), "hi": compact(scale.hi),
                   "x0": label_w, "x1": round(label_w + legend_w, 1), "missing_x": round(label_w + legend_w + 60, 1),
                   "swatches": [{"x": round(label_w + b * step, 1), "w": round(step, 1), "fill": f}
                                for b, f in enumerate(VIRIDIS)]},
    }


def interval_chart(rows: list[dict], frame: Frame | None = None) -> dict:
    """One unit per line (in the order given): its value as a dot and its interval as a whisker.

    Parameters
    ----------
    rows : list of dict
        ``label``, ``value``, ``low``, ``high`` (None where unknown; a missing value is written "missing");
        a row with ``gap`` (a count) instead stands for that many units left out (drawn as a line of text).

    Returns
    -------
    dict
        ``frame``, ``rows`` (y, label, x, x_low, x_high or None, tip; ``cx``, ``cy`` and ``d``, the
        whisker's path, as short text for drawing), ``xticks`` (x, label), ``zero``.

    Examples
    --------
    >>> ch = interval_chart([{"label": "A", "value": 0.0, "low": -1.0, "high": 1.0},
    ...                      {"label": "B", "value": None, "low": None, "high": None}])
    >>> ch["rows"][0]["x_low"] < ch["rows"][0]["x"] < ch["rows"][0]["x_high"], ch["rows"][1]["x"]
    (True, None)
    """
    n = len(rows)
    row_h = max(10.0, min(22.0, 640.0 / max(n, 1)))
    label_w = min(150, 14 + 7 * max((len(r["label"]) for r in rows if not r.get("gap")), default=1))
    frame = frame or Frame(width=560, height=int(36 + n * row_h + 34), left=label_w, top=20, bottom=34)
    pool = [r[k] for r in rows for k in ("value", "low", "high") if _finite(r.get(k))]
    lo, hi = (min(pool + [0.0]), max(pool + [0.0])) if pool else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    ticks = _ticks(lo, hi, 4)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])

    def px(v):
        return round(frame.x0 + (v - lo) / (hi - lo) * (frame.x1 - frame.x0), 1)

    out = []
    for i, r in enumerate(rows):
        y = round(frame.y1 + (i + 0.5) * row_h, 1)
        value = r.get("value")
        if r.get("gap"):
            out.append({"y": y, "cy": _px(y), "gap": r["gap"], "x": None})
            continue
        if not _finite(value):
            out.append({"y": y, "cy": _px(y), "label": r["label"], "x": None, "x_low": None, "x_high": None,
                        "d": "", "tip": f"{r['label']}: missing"})
            continue
        has = _finite(r.get("low")) and _finite(r.get("high"))
        tip = f"{r['label']}: {fixed(value, 3)}" + (f" [{fixed(r['low'], 3)}, {fixed(r['high'], 3)}]" if has else "")
        a, b = (px(r["low"]), px(r["high"])) if has else (None, None)
        # The whisker and its two caps as one path (hundreds of rows: one element, not three).
        d = f"M{_px(a)} {_px(y)}H{_px(b)}M{_px(a)} {_px(y - 4)}v8M{_px(b)} {_px(y - 4)}v8" if has else ""
        out.append({"y": y, "cy": _px(y), "label": r["label"], "x": px(value), "cx": _px(px(value)),
                    "x_low": a, "x_high": b, "d": d, "tip": tip})
    return {"frame": frame, "rows": out, "zero": px(0.0) if lo <= 0 <= hi else None,
            "xticks": [(px(t), compact(t)) for t in ticks], "bottom": round(frame.y1 + n * row_h, 1)}


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks on a log axis covering [lo, hi]; every digit 1..9 when that gives fewer than four.

    Examples
    --------
    >>> _log_ticks(1, 100), _log_ticks(200, 1300)
    ([1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0], [200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0])
    """
    for steps in ((1, 2, 5), range(1, 10)):
        out = [s * 10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
               for s in steps if lo * 0.999 <= s * 10.0 ** e <= hi * 1.001]
        if len(out) >= 4:
            return out
    return out or [lo, hi]


def _cover_ticks(nice: list[float], lo: float, hi: float, px) -> list[tuple[float, str]]:
    """The x ticks that cover the data [lo, hi]: the nice tick nearest outside each end (or the end
    itself, labelled, when the axis holds none), then decades, then 2s and 5s, then the rest, each
    kept only where its label has room beside those already kept (log ticks crowd at a decade's top).

    Examples
    --------
    >>> px = lambda x: 600 * math.log10(x / 200)  # 600 px a decade
    >>> [t for _, t in _cover_ticks(_log_ticks(205, 1400), 220, 1257, px)]  # 900 is too close to 1000
    ['220', '300', '400', '500', '600', '700', '800', '1000', '1257']
    >>> [t for _, t in _cover_ticks(_log_ticks(0.9, 110), 1, 100, lambda x: 50 * math.log10(x))]
    ['1', '2', '10', '100']
    """
    below = [t for t in nice if t <= lo * 1.001]
    above = [t for t in nice if t >= hi * 0.999]
    ends = [below[-1] if below else lo, above[0] if above else hi]

    def rank(t):
        digit = round(t / 10 ** math.floor(math.log10(t) + 1e-9))
        return 0 if digit == 1 else 1 if digit in (2, 5) else 2

    kept: list[tuple[float, str]] = []
    for t in ends + sorted((t for t in nice if t not in ends), key=rank):
        label = compact(t, significant=4)
        if all(abs(px(t) - x) >= 8 + 7 * max(len(label), len(other)) for x, other in kept):
            kept.append((px(t), label))
    return sorted(kept)


def scaling_chart(rows, score, count, law, frame: Frame | None = None) -> dict:
    """Mean score against training rows (log x) with the fitted power law as a curve.

    The value axis spans the points (with a small margin), not the law: where the law leaves
    that range (a poor fit at the smallest sets) the curve is clipped at the frame rather than
    stretching the axis until the points are a flat line. The curve runs over the plotted rows only.

    Parameters
    ----------
    rows, score : array_like of float, shape (p,)
        The points (:class:`cfgraph.values.scaling.ScalingPoints`).
    count : array_like of int, shape (p,)
        Training sets behind each point (in its tooltip).
    law : cfgraph.values.scaling.PowerLaw or None
        The fit (no curve when None).

    Returns
    -------
    dict
        ``frame``, ``dots`` (x, y, tip), ``curve`` ("x,y ..." or ""), ``clip`` (x, y, w, h of the
        plot area the curve is clipped to), ``clipped`` (the law leaves the plotted range),
        ``xticks``, ``yticks``.

    Examples
    --------
    >>> ch = scaling_chart([10, 100], [0.5, 0.8], [1, 2], None)
    >>> len(ch["dots"]), ch["curve"]
    (2, '')
    """
    frame = frame or Frame(width=560, height=270, top=16, bottom=44)
    r = np.asarray(rows, dtype=float)
    s = np.asarray(score, dtype=float)
    pool = s.tolist()
    if s.size:
        margin = SCALING_MARGIN * max(float(np.ptp(s)), 1e-6)
        pool += [float(s.min()) - margin, float(s.max()) + margin]
    lo, hi, ticks, labels, frame = _value_axis(pool, frame)
    if r.size:
        xlo, xhi = float(r.min()), float(r.max())
    else:
        xlo, xhi = 1.0, 10.0
    if xhi <= xlo * 1.0001:
        xlo, xhi = xlo / 2, xhi * 2
    lx0, lx1 = math.log10(xlo), math.log10(xhi)
    pad = 0.04 * (lx1 - lx0)
    lx0, lx1 = lx0 - pad, lx1 + pad

    def px(x):
        return round(frame.x0 + (math.log10(x) - lx0) / (lx1 - lx0) * (frame.x1 - frame.x0), 1)

    def py(v):
        return round(frame.y0 - (v - lo) / (hi - lo) * (frame.y0 - frame.y1), 1)

    dots = [(px(x), py(v), f"{x:.4g} rows: mean score {fixed(v)} ({int(c)} training set{'s' if c != 1 else ''})")
            for x, v, c in zip(r.tolist(), s.tolist(), np.asarray(count).tolist())]
    curve, clipped = "", False
    if law is not None and r.size:
        grid = np.geomspace(r.min(), r.max(), 80)
        # Past a frame's height beyond the axis a point adds nothing but digits: the clip hides it.
        span = hi - lo
        fitted = np.clip(law(grid), lo - span, hi + span)
        clipped = bool(((fitted < lo) | (fitted > hi)).any())
        curve = " ".join(f"{px(x)},{py(v)}" for x, v in zip(grid.tolist(), fitted.tolist()))
    xticks = _cover_ticks(_log_ticks(10 ** lx0, 10 ** lx1), float(r.min()) if r.size else xlo,
                          float(r.max()) if r.size else xhi, px)
    return {"frame": frame, "dots": dots, "curve": curve, "clipped": clipped, "xticks": xticks,
            "clip": {"x": frame.x0, "y": frame.y1, "w": frame.x1 - frame.x0, "h": frame.y0 - frame.y1},
            "yticks": [(py(t), text) for t, text in zip(ticks, labels)]}
