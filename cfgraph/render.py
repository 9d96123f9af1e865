"""Plain-text, CSV and JSON renderings of tables for the CLI."""

from __future__ import annotations

import csv
import io
import json
import math

from cfgraph.display import fixed

FORMATS = ("table", "csv", "json")


def fmt_value(value, digits: int = 4) -> str:
    """A table cell as text: floats with ``digits`` decimals (never ``-0.0000``), None as blank.

    Examples
    --------
    >>> fmt_value(-0.00001), fmt_value(0.91236), fmt_value(None), fmt_value(float("nan")), fmt_value("AB")
    ('0.0000', '0.9124', '', 'nan', 'AB')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else fixed(value, digits)
    return str(value)


#: What a spreadsheet would read as a formula: such text cells get a leading apostrophe (OWASP's
#: advice for CSV injection); numbers, and text that is a number ("-0.5"), are written as they are.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(x):
    """A cell safe to open in a spreadsheet: formula-like text gets a leading apostrophe.

    Examples
    --------
    >>> csv_cell("=HYPERLINK(1)"), csv_cell("-A"), csv_cell(-0.5), csv_cell("-0.5"), csv_cell(None), csv_cell("ab")
    ("'=HYPERLINK(1)", "'-A", -0.5, '-0.5', '', 'ab')
    """
    if x is None:
        return ""
    if isinstance(x, str) and x.startswith(FORMULA_START):
        try:
            float(x)
        except ValueError:
            return "'" + x
    return x


def csv_text(columns: list[str], rows) -> str:
    """Rows as CSV text (header first, one line each), every cell through :func:`csv_cell`.

    Examples
    --------
    >>> csv_text(["unit", "value"], [["=1+1", -0.25]]).splitlines()
    ['unit,value', "'=1+1,-0.25"]
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_cell(c) for c in columns])
    writer.writerows([[csv_cell(x) for x in row] for row in rows])
    return out.getvalue()


def render(columns: list[str], rows: list, fmt: str = "table") -> str:
    """Render rows (sequences aligned with ``columns``) as an aligned table, CSV or JSON."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, _jsonable(r))) for r in rows], indent=2, ensure_ascii=False,
                          allow_nan=False, default=lambda b: b.hex() if isinstance(b, bytes) else str(b))
    if fmt == "csv":
        return csv_text(columns, rows).rstrip("\n")
    cells = [[fmt_value(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for r in cells:
        lines.append("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)).rstrip())
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _jsonable(row):
    """JSON has no NaN or Infinity: NaN becomes null, an infinity its name."""
    return [v if not isinstance(v, float) or math.isfinite(v)
            else (None if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")) for v in row]
