"""Numbers as people read them: the one place that turns a score into text for display.

A regression world's empty training set scores a tiny negative R^2 (the
baseline's mean differs a little from the test mean), which plain formatting
prints as ``-0.000``; :func:`fixed` never prints a negative zero. Axis ticks
use :func:`compact` (three significant digits, ``-1e+05``) so a wide range
does not push tick labels into the axis title.
"""

from __future__ import annotations

import math

__all__ = ["fixed", "compact", "brief_list"]


def _finite_or_none(x) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def fixed(x, digits: int = 4, signed: bool = False, missing: str = "") -> str:
    """A number with ``digits`` decimals, never a negative zero; ``missing`` for None or NaN.

    Parameters
    ----------
    x : float, int or None
    digits : int
        Decimals shown.
    signed : bool
        Always print the sign (``+0.0120``), as for a score change.
    missing : str
        Text for None or NaN.

    Returns
    -------
    str

    Examples
    --------
    >>> fixed(-0.0001, 3), fixed(-0.0), fixed(0.91236, 3), fixed(float("nan"))
    ('0.000', '0.0000', '0.912', '')
    >>> fixed(-0.00004, signed=True), fixed(-0.012, signed=True), fixed(None, missing="?")
    ('+0.0000', '-0.0120', '?')
    """
    v = _finite_or_none(x)
    if v is None:
        return missing
    if math.isinf(v):
        return f"{v}"
    # round first: a value that rounds to zero loses its sign (-0.0 + 0.0 is 0.0)
    v = round(v, digits) + 0.0
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def compact(x, significant: int = 3) -> str:
    """A short label for an axis tick: ``significant`` digits, exponent form when long.

    Examples
    --------
    >>> [compact(t) for t in (-100000.0, -0.0, 0.25, 0.9, 1234.0, 2.5e-05)]
    ['-1e+05', '0', '0.25', '0.9', '1.23e+03', '2.5e-05']
    """
    v = _finite_or_none(x)
    if v is None:
        return ""
    text = f"{v:.{significant}g}"
    return "0" if float(text) == 0 else text


def brief_list(items, limit: int = 10) -> str:
    """Items joined by commas, the first ``limit`` only, so a message stays one short line.

    Examples
    --------
    >>> brief_list(range(3)), brief_list(range(1000), 4)
    ('0, 1, 2', '0, 1, 2, 3 and 996 more')
    """
    items = [str(x) for x in items]
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")

