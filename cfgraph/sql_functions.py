"""SQLite string functions whose cost one call can bound, for the read-only SQL page, and
PostgreSQL's ``get_bit`` for the packed bitsets of training sets.

A progress handler interrupts a query between virtual-machine steps, never
inside one function call, and some of SQLite's built-in string functions are
quadratic or worse in their arguments even under the length limit
(``SQLITE_LIMIT_LENGTH``): ``printf('%.*c', 2147483647, 'x')`` repeats a
character two billion times into a buffer that refuses every byte after the
first megabyte (about 3 s), ``instr`` and ``replace`` compare the needle at
every position (seconds for a 1 MB haystack), and ``trim(X, Y)`` scans ``Y``
for every character of ``X`` (95 s for 800 kB by 80 kB). :func:`install`
overrides them on one connection with equivalents that run in linear time
(Python's string search; a regular-expression character class for trim
sets) or, for ``printf`` / ``format``, that refuse a width or precision past
the length limit before SQLite's own implementation (on a private in-memory
connection) formats the arguments.
"""

from __future__ import annotations

import re
import sqlite3

__all__ = ["install", "install_get_bit", "get_bit", "FunctionRefused"]

#: printf conversions: flags, width (digits or *), precision (. digits or .*), type.
_CONVERSION = re.compile(r"%([-+ 0#!,]*)(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])")


class FunctionRefused(Exception):
    """A call whose arguments would take longer than a deadline can interrupt."""


def get_bit(bits, index):
    """Bit ``index`` of a blob, 0 or 1, as PostgreSQL's ``get_bit(bytea, int)`` reads it.

    Bit i is bit ``i % 8`` (least significant first) of byte ``i // 8``: the order of
    :mod:`cfgraph.bitsets`, so ``get_bit(node.members, unit.idx) = 1`` means the unit is
    in the training set, on SQLite and PostgreSQL alike.

    Parameters
    ----------
    bits : bytes or None
    index : int or None

    Returns
    -------
    int or None
        None when either argument is NULL (PostgreSQL's function is strict).

    Raises
    ------
    ValueError
        On an index outside ``0 .. 8 * len(bits) - 1`` or arguments of the wrong type
        (PostgreSQL raises too).

    Examples
    --------
    >>> get_bit(b"\\x05", 0), get_bit(b"\\x05", 1), get_bit(b"\\x05", 2), get_bit(None, 0)
    (1, 0, 1, None)
    """
    if bits is None or index is None:
        return None
    if not isinstance(bits, (bytes, bytearray, memoryview)):
        raise ValueError(f"get_bit() reads a blob, not {type(bits).__name__}")
    if isinstance(index, float) and index.is_integer():
        index = int(index)
    if not isinstance(index, int) or isinstance(index, bool):
        raise ValueError("get_bit() needs an integer bit index")
    size = 8 * len(bits)
    if not 0 <= index < size:
        raise ValueError(f"get_bit(): index {index} out of valid range, 0..{size - 1}")
    return (bits[index >> 3] >> (index & 7)) & 1


def install_get_bit(conn: sqlite3.Connection, state: dict | None = None) -> None:
    """Register :func:`get_bit` on a SQLite connection (deterministic, so indexes may use it).

    Parameters
    ----------
    conn : sqlite3.Connection
    state : dict, optional
        SQLite reports only that a user function raised; the reason is kept in
        ``state["error"]`` so the caller can show it.

    Examples
    --------
    >>> conn = sqlite3.connect(":memory:")
    >>> install_get_bit(conn)
    >>> conn.execute("SELECT get_bit(x'0300', 1), get_bit(x'0300', 2)").fetchone()
    (1, 0)
    """
    def call(bits, index):
        try:
            return get_bit(bits, index)
        except ValueError as exc:
            if state is not None:
                state["error"] = str(exc)
            raise

    conn.create_function("get_bit", 2, call, deterministic=True)


def install(conn: sqlite3.Connection, max_length: int) -> dict:
    """Override ``instr``, ``replace``, ``trim``, ``ltrim``, ``rtrim``, ``printf`` and ``format`` on ``conn``.

    Parameters
    ----------
    conn : sqlite3.Connection
        The connection a user's query runs on.
    max_length : int
        The connection's length limit; a printf width or precision above it is refused.

    Returns
    -------
    dict
        ``{"refused": None, "error": None, "native": connection}``; after a refused call,
        ``"refused"`` holds the reason (SQLite reports only that a user function raised),
        and after a ``get_bit`` on a bit out of range, ``"error"``. Close ``"native"``
        (the private connection printf delegates to) with ``conn``.

    Examples
    --------
    >>> conn = sqlite3.connect(":memory:")
    >>> state = install(conn, 1000)
    >>> conn.execute("SELECT instr('banana', 'nan'), replace('abc', '', 'x'), trim('xxhixx', 'x')").fetchone()
    (3, 'abc', 'hi')
    >>> conn.execute("SELECT printf('%5.2f|%s', 3.14159, 'ok')").fetchone()
    (' 3.14|ok',)
    """
    native = sqlite3.connect(":memory:", check_same_thread=False)
    native.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max_length)
    state = {"refused": None, "error": None, "native": native}

    def text(value):
        """A value as SQLite's text of it (numbers and blobs as SQLite casts them)."""
        if value is None or isinstance(value, str):
            return value
        return native.execute("SELECT CAST(? AS TEXT)", (value,)).fetchone()[0]

    def instr(haystack, needle):
        if haystack is None or needle is None:
            return None
        if isinstance(haystack, bytes) and isinstance(needle, bytes):
            return haystack.find(needle) + 1
        return text(haystack).find(text(needle)) + 1

    def replace(value, old, new):
        if value is None or old is None or new is None:
            return None
        value, old = text(value), text(old)
        return value if old == "" else value.replace(old, text(new))

    def strip(side):
        def trim(value, chars=" "):
            if value is None or chars is None:
                return None
            value, chars = text(value), text(chars)
            if not chars:
                return value
            run = f"[{''.join(re.escape(c) for c in set(chars))}]*"
            start = re.match(run, value).end() if side in ("both", "left") else 0
            end = len(value) - (re.match(run, value[::-1]).end() if side in ("both", "right") else 0)
            return value[start:max(start, end)]
        return trim

    def formatted(name):
        def call(fmt, *args):
            if fmt is None:
                return None
            position, total = 0, 0
            for _flags, width, precision, kind in _CONVERSION.findall(text(fmt)):
                if kind == "%":
                    continue
                for part in (width, precision):
                    if part == "*":
                        size = args[position] if position < len(args) else 0
                        position += 1
                    else:
                        size = part
                    try:
                        size = abs(int(size or 0))
                    except (TypeError, ValueError):
                        size = 0
                    total += size  # SQLite repeats a %c precision one character at a time
                    if size > max_length or total > max_length:
                        state["refused"] = (f"{name}() widths and precisions of {max(size, total):,} "
                                            f"characters are over the {max_length:,}-character limit")
                        raise FunctionRefused(state["refused"])
                position += 1
            placeholders = ", ".join("?" * (1 + len(args)))
            return native.execute(f"SELECT {name}({placeholders})", (fmt, *args)).fetchone()[0]
        return call

    flags = {"deterministic": True}
    conn.create_function("instr", 2, instr, **flags)
    conn.create_function("replace", 3, replace, **flags)
    for name, side in (("trim", "both"), ("ltrim", "left"), ("rtrim", "right")):
        conn.create_function(name, 1, strip(side), **flags)
        conn.create_function(name, 2, strip(side), **flags)
    for name in ("printf", "format"):
        conn.create_function(name, -1, formatted(name), **flags)
    install_get_bit(conn, state)
    return state
