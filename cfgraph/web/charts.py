"""Colour scales and SVG chart geometry, computed server-side (the templates only draw).

Colours are ten classes ``c0`` .. ``c9`` styled by the palette's CSS, so the
page needs no inline style (the Content-Security-Policy forbids it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from cfgraph.display import compact, fixed

BUCKETS = 10


@dataclass
class Scale:
    """A linear colour scale over [lo, hi] in :data:`BUCKETS` classes."""

    lo: float
    hi: float

    @classmethod
    def of(cls, values) -> Scale:
        """The scale spanning the present (non-NaN) values; [0, 1] when there are none."""
        v = np.asarray(values, dtype=float)
        v = v[~np.isnan(v)]
        if v.size == 0:
            return cls(0.0, 1.0)
        lo, hi = float(v.min()), float(v.max())
        return cls(lo, hi if hi > lo else lo + 1e-9)

    def buckets(self, values) -> np.ndarray:
        """Bucket 0..9 of each value; -1 where NaN (vectorised)."""
        v = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            b = np.floor((v - self.lo) / (self.hi - self.lo) * BUCKETS)
        b = np.clip(np.nan_to_num(b, nan=-1), -1, BUCKETS - 1).astype(np.int64)
        b[~np.isnan(v) & (b < 0)] = 0
        return b

    def css(self, value) -> str:
        """Class name of one value ("m" when missing)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "m"
        return f"c{int(self.buckets([value])[0])}"

    def legend(self) -> list[tuple[str, float, float]]:
        """(class, from, to) for each bucket."""
        step = (self.hi - self.lo) / BUCKETS
        return [(f"c{b}", self.lo + b * step, self.lo + (b + 1) * step) for b in range(BUCKETS)]


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + t * step, 10) for t in range(int((hi - first) / step + 1e-9) + 1)]


#: Width of one tick-label character (11 px text), and room left of the tick labels for
#: the rotated axis title: together they keep a long tick ("-1e+05") off the title.
TICK_CHAR_PX = 7
TITLE_ROOM_PX = 26


def tick_labels(ticks: list[float]) -> list[str]:
    """Tick values as short labels, one style per axis: whole numbers below 10^5 as they are,
    otherwise three significant digits (never "-0").

    Examples
    --------
    >>> tick_labels([-100000.0, -50000.0, 0.0]), tick_labels([-4500.0, -4000.0]), tick_labels([0.0, 0.25])
    (['-1e+05', '-5e+04', '0'], ['-4500', '-4000'], ['0', '0.25'])
    """
    if all(float(t).is_integer() and abs(t) < 1e5 for t in ticks):
        return [compact(t, significant=5) for t in ticks]
    return [compact(t) for t in ticks]


def _room_for(frame: Frame, labels: list[str]) -> Frame:
    """The frame with a left margin wide enough for the longest tick label and the axis title."""
    need = TITLE_ROOM_PX + TICK_CHAR_PX * max((len(t) for t in labels), default=0) + 6
    return frame if frame.left >= need else replace(frame, left=need)


@dataclass
class Frame:
    """A plot area inside an SVG of ``width`` x ``height`` with margins for axes."""

    width: int = 560
    height: int = 260
    left: int = 56
    right: int = 16
    top: int = 16
    bottom: int = 44

    @property
    def x0(self):
        return self.left

    @property
    def x1(self):
        return self.width - self.right

    @property
    def y0(self):
        return self.height - self.bottom

    @property
    def y1(self):
        return self.top


def bar_chart(groups: list[str], series: list[tuple[str, list[float | None]]], frame: Frame | None = None) -> dict:
    """Grouped bars: one group per unit, one bar per series (method), with a zero line.

    Returns
    -------
    dict
        ``frame``, ``bars`` (x, y, w, h, cls, title), ``yticks`` (y, label),
        ``groups`` (x, label), ``legend`` (cls, name), ``zero`` (y).
    """
    frame = frame or Frame()
    vals = [v for _, vs in series for v in vs if v is not None and not math.isnan(v)]
    lo, hi = min(vals + [0.0]), max(vals + [0.0])
    if hi - lo < 1e-12:
        hi = lo + 1.0
    ticks = _ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    labels = tick_labels(ticks)
    frame = _room_for(frame, labels)

    def y(v):
        return frame.y0 - (v - lo) / (hi - lo) * (frame.y0 - frame.y1)

    slot = (frame.x1 - frame.x0) / max(len(groups), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    bars = []
    for g, group in enumerate(groups):
        for s, (name, vs) in enumerate(series):
            v = vs[g]
            if v is None or math.isnan(v):
                continue
            x = frame.x0 + g * slot + slot * 0.1 + s * bar_w
            top, bottom = sorted((y(v), y(0.0)))
            bars.append({"x": round(x, 1), "y": round(top, 1), "w": round(bar_w * 0.92, 1),
                         "h": round(max(bottom - top, 0.5), 1), "cls": f"s{s}", "title": f"{group} {name}: {fixed(v)}"})
    return {
        "frame": frame, "bars": bars, "zero": round(y(0.0), 1),
        "yticks": [(round(y(t), 1), text) for t, text in zip(ticks, labels)],
        "groups": [(round(frame.x0 + (g + 0.5) * slot, 1), group) for g, group in enumerate(groups)],
        "legend": [(f"s{s}", name) for s, (name, _) in enumerate(series)],
    }


def line_chart(xs: list[int], series: list[tuple[str, list[float | None]]], frame: Frame | None = None) -> dict:
    """Lines over integer x (e.g. layer k), skipping missing points.

    Returns
    -------
    dict
        ``frame``, ``lines`` (cls, name, points "x,y ..." , dots (x, y, title)),
        ``xticks`` and ``yticks`` (position, label).
    """
    frame = frame or Frame()
    vals = [v for _, vs in series for v in vs if v is not None and not math.isnan(v)]
    lo, hi, ticks, labels, frame = _value_axis(vals, frame)
    xlo, xhi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def px(x):
        return frame.x0 + (x - xlo) / (xhi - xlo) * (frame.x1 - frame.x0)

    def py(v):
        return frame.y0 - (v - lo) / (hi - lo) * (frame.y0 - frame.y1)

    lines = []
    for s, (name, vs) in enumerate(series):
        pts = [(round(px(x), 1), round(py(v), 1), f"k={x}: {fixed(v)}")
               for x, v in zip(xs, vs) if v is not None and not math.isnan(v)]
        lines.append({"cls": f"s{s}", "name": name, "points": " ".join(f"{a},{b}" for a, b, _ in pts),
                      "dots": pts})
    return {"frame": frame, "lines": lines,
            "xticks": [(round(px(x), 1), str(x)) for x in xs],
            "yticks": [(round(py(t), 1), text) for t, text in zip(ticks, labels)]}


#: Room above and below a convergence band, as a share of its range.
BAND_MARGIN = 0.06


def band_chart(xs: list[int], values: list[float], lows: list[float | None], highs: list[float | None],
               frame: Frame | None = None) -> dict:
    """An estimate against the training sets used, with its 95% band (a convergence chart).

    Parameters
    ----------
    xs : list of int, length m
        Training sets used at each checkpoint (increasing).
    values : list of float, length m
        The estimate at each checkpoint.
    lows, highs : list of float or None, length m
        The band's edges (None where the standard error is not known yet: no band there).

    Returns
    -------
    dict
        ``frame``, ``line`` ("x,y ..."), ``dots`` (x, y, title), ``band`` (polygon
        "x,y ..." or "" ), ``xticks`` and ``yticks`` (position, label), ``final`` (the
        last estimate's y, for a dashed guide).

    Examples
    --------
    >>> ch = band_chart([10, 20, 40], [0.1, 0.05, 0.07], [None, 0.0, 0.05], [None, 0.1, 0.09])
    >>> len(ch["dots"]), ch["band"].count(",")
    (3, 4)
    >>> top = min(float(p.split(",")[1]) for p in ch["band"].split())
    >>> top > ch["frame"].y1  # the band's top edge stays inside the frame
    True
    """
    frame = frame or Frame()
    pool = [v for v in list(values) + list(lows) + list(highs) if v is not None and math.isfinite(v)]
    if pool and max(pool) > min(pool):
        # A margin of BAND_MARGIN of the range on each side: the band's widest edge would
        # otherwise run along the frame and read as clipped.
        margin = BAND_MARGIN * (max(pool) - min(pool))
        pool += [min(pool) - margin, max(pool) + margin]
    lo, hi, ticks, labels, frame = _value_axis(pool, frame)
    xlo, xhi = (min(xs), max(xs)) if xs else (0, 1)
    if xhi <= xlo:
        xhi = xlo + 1
    xt = [t for t in _ticks(xlo, xhi) if xlo - 1e-9 <= t <= xhi + 1e-9]

    def px(x):
        return round(frame.x0 + (x - xlo) / (xhi - xlo) * (frame.x1 - frame.x0), 1)

    def py(v):
        return round(frame.y0 - (v - lo) / (hi - lo) * (frame.y0 - frame.y1), 1)

    dots = [(px(x), py(v), f"{x} training sets: {fixed(v)}") for x, v in zip(xs, values)]
    banded = [(x, a, b) for x, a, b in zip(xs, lows, highs) if a is not None and b is not None]
    band = ""
    if len(banded) >= 2:
        upper = [f"{px(x)},{py(b)}" for x, _, b in banded]
        lower = [f"{px(x)},{py(a)}" for x, a, _ in reversed(banded)]
        band = " ".join(upper + lower)
    return {"frame": frame, "line": " ".join(f"{a},{b}" for a, b, _ in dots), "dots": dots, "band": band,
            "final": dots[-1][1] if dots else None,
            "xticks": [(px(t), compact(t, significant=6)) for t in xt],
            "yticks": [(py(t), text) for t, text in zip(ticks, labels)]}


def interval_bars(rows: list[dict], width: int = 150, pad: int = 6) -> dict:
    """Geometry of a small interval bar per row on one shared scale (the values page's column).

    Each row is a dict with ``value``, ``ci_low`` and ``ci_high`` (None where unknown).

    Returns
    -------
    dict
        ``width``, ``lo``, ``hi``, ``zero`` (x of 0, or None when 0 is off the scale) and
        ``bars``: per row (x_low, x_high, x_value) or None when the value is missing.

    Examples
    --------
    >>> g = interval_bars([{"value": 0.0, "ci_low": -1.0, "ci_high": 1.0}], width=100, pad=0)
    >>> g["bars"], g["zero"]
    ([(0.0, 100.0, 50.0)], 50.0)
    """
    pool = [r[k] for r in rows for k in ("value", "ci_low", "ci_high")
            if r.get(k) is not None and math.isfinite(r[k])]
    lo, hi = (min(pool + [0.0]), max(pool + [0.0])) if pool else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5

    def x(v):
        return round(pad + (v - lo) / (hi - lo) * (width - 2 * pad), 1)

    bars = []
    for r in rows:
        v = r.get("value")
        if v is None:
            bars.append(None)
            continue
        a = r["ci_low"] if r.get("ci_low") is not None else v
        b = r["ci_high"] if r.get("ci_high") is not None else v
        bars.append((x(a), x(b), x(v)))
    return {"width": width, "lo": lo, "hi": hi, "zero": x(0.0) if lo <= 0 <= hi else None, "bars": bars}


def _value_axis(pool: list[float], frame: Frame):
    """The value axis of a chart: its range (widened to round ticks), ticks, their labels, and the
    frame with room for them. A flat or empty pool gets a small range around it (or 0..1)."""
    lo, hi = (min(pool), max(pool)) if pool else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.05, hi + 0.05
    ticks = _ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    labels = tick_labels(ticks)
    return lo, hi, ticks, labels, _room_for(frame, labels)
