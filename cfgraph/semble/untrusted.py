"""Text and JSON from servers and files, made safe to show, store and skip record by record.

- :func:`one_line` is the one way a message quotes server data: its first line,
  cut to :data:`MESSAGE_MAX` characters, with control characters and unpaired
  surrogates escaped.
- :func:`is_valid_text` says whether a string can be stored (SQLite stores
  UTF-8, and a lone surrogate has no UTF-8 encoding).
- :func:`parse_listing` parses a listRecords page or an exported file record by
  record: a record that cannot be parsed (nested deeper than Python's JSON
  parser goes) becomes an :class:`UnreadableRecord` to skip, not a failed page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

#: Longest quotation of server data in a message, in characters.
MESSAGE_MAX = 200
#: Integers longer than this (digits) are read as floats: Python refuses to convert
#: strings of more than 4,300 digits to int, and no Semble field is such a number.
INT_DIGITS_MAX = 40

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The structure of a JSON text: strings (skipped whole), brackets and commas.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]', re.DOTALL)
_URI_FIELD = re.compile(r'"uri"\s*:\s*"(at://[!#-\[\]-~]{1,600})"')


def one_line(text, limit: int = MESSAGE_MAX) -> str:
    """The first non-blank line of ``text``, whitespace collapsed, cut to ``limit`` characters.

    Control characters and unpaired surrogates are escaped, so the result can be
    printed and stored. An ellipsis marks anything left out (further lines or
    characters past the limit). Only the first few ``limit`` characters of a long
    text are looked at.

    Parameters
    ----------
    text : object
        A message, an error body, an exception; ``str()`` is taken.
    limit : int
        Longest result, in characters (the ellipsis included).

    Returns
    -------
    str

    Examples
    --------
    >>> one_line("  Bad request\\nTraceback ...")
    'Bad request …'
    >>> one_line("x" * 500, limit=10)
    'xxxxxxxxx…'
    """
    text = str(text)
    head = text[: 8 * limit + 1024]
    lines = [line for line in head.splitlines() if line.strip()]
    first = " ".join(lines[0].split()) if lines else ""
    first = first.encode("utf-8", "backslashreplace").decode("utf-8")
    first = _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", first)
    cut = len(lines) > 1 or len(text) > len(head)
    if len(first) > limit or (cut and len(first) > limit - 2):
        return first[: limit - 1] + "…"
    return f"{first} …".lstrip() if cut else first


def is_valid_text(text: str) -> bool:
    """True when ``text`` has a UTF-8 encoding (no unpaired surrogate).

    Examples
    --------
    >>> is_valid_text("Data Shapley"), is_valid_text("bad \\ud800")
    (True, False)
    """
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class UnreadableRecord:
    """A record of a listing that could not be parsed; ``uri`` if one could be read off it."""

    reason: str
    uri: str | None = None


class UnreadableListing(ValueError):
    """The listing as a whole is not a JSON object that can be parsed (the message says why)."""


def _int(digits: str):
    return int(digits) if len(digits) <= INT_DIGITS_MAX else float(digits)


def _loads(text: str):
    return json.loads(text, parse_int=_int)


def parse_listing(data: bytes | str) -> dict:
    """Parse ``{"records": [...], ...}``, giving each record that cannot be parsed its own reason.

    Bytes are decoded as UTF-8, with invalid bytes kept as lone surrogates so
    that only the record holding them fails its checks later. When the whole
    text is too deeply nested for Python's JSON parser, the ``records`` array is
    split into its elements and each is parsed alone: the deep ones become
    :class:`UnreadableRecord`.

    Parameters
    ----------
    data : bytes or str
        A listRecords answer or an exported repository file.

    Returns
    -------
    dict
        The parsed object; ``records`` (if present) may hold UnreadableRecord items.

    Raises
    ------
    UnreadableListing
        If the text is not JSON, or is nested too deeply outside the records.

    Examples
    --------
    >>> deep = "[" * 100_000 + "]" * 100_000
    >>> page = parse_listing('{"records": [{"uri": "at://did:plc:a/x.y.z/1"}, ' + deep + '], "cursor": "1"}')
    >>> page["cursor"], page["records"][0]["uri"], type(page["records"][1]).__name__
    ('1', 'at://did:plc:a/x.y.z/1', 'UnreadableRecord')
    """
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    try:
        return _loads(text)
    except RecursionError:
        pass
    except json.JSONDecodeError as exc:
        raise UnreadableListing(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:
        raise UnreadableListing(f"not JSON: {one_line(exc, 80)}") from None
    return _parse_records_apart(text)


def _parse_records_apart(text: str) -> dict:
    """Parse the top-level object with its records array emptied, then each record alone."""
    depth, key, start, elements, array, close = 0, None, None, [], None, None
    for token in _TOKEN.finditer(text):
        mark = token[0]
        if mark in "[{":
            depth += 1
            if depth == 2 and mark == "[" and key == '"records"' and array is None:
                array, start = token.start(), token.end()
            continue
        if mark in "]}":
            if depth == 2 and array is not None and start is not None:
                elements.append((start, token.start()))
                close = token.end()
                start = None
            depth -= 1
            continue
        if depth == 2 and mark == "," and start is not None:
            elements.append((start, token.start()))
            start = token.end()
        elif depth == 1 and mark.startswith('"'):
            key = mark
    if array is None or close is None:
        raise UnreadableListing("nested too deeply to parse, and no complete \"records\" list found")
    try:
        listing = _loads(text[:array] + "[]" + text[close:])
    except (RecursionError, ValueError):
        raise UnreadableListing("nested too deeply to parse outside its records") from None
    if not isinstance(listing, dict):
        raise UnreadableListing("not a JSON object")
    records = []
    for begin, end in elements:
        element = text[begin:end]
        if not element.strip():
            continue
        try:
            records.append(_loads(element))
        except RecursionError:
            uri = _URI_FIELD.search(element[:4096])
            records.append(UnreadableRecord("record is nested too deeply to parse", uri[1] if uri else None))
        except ValueError as exc:
            raise UnreadableListing(f"not JSON: {one_line(exc, 80)}") from None
    listing["records"] = records
    return listing
