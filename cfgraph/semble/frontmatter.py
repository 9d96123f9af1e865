"""Citation fields from the YAML front matter of a Semble note.

The original site's convention: a note's text may begin with a YAML block between
two ``---`` lines carrying citation fields; the rest of the text is the note::

    ---
    citation_key: ghorbani2019datashapley
    title: "Data Shapley: Equitable Valuation of Data for Machine Learning"
    authors: [Amirata Ghorbani, James Zou]
    year: 2019
    tags: [data valuation, shapley]
    ---
    The paper that brought the Shapley value to training data.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

import yaml

from cfgraph.semble.untrusted import is_valid_text, one_line

#: Numbers in ``extra`` must be exact in JSON (and in a browser): |n| <= 2**53, finite.
EXTRA_INT_MAX = 2**53
#: Fields read from the front matter; any other scalar key goes to ``extra``.
STRING_FIELDS = ("citation_key", "entry_type", "title", "venue", "doi", "abstract")
FIELD_LIMITS = {"citation_key": 200, "entry_type": 50, "doi": 300}

_OPENING = re.compile(r"\A\ufeff?---[ \t]*\r?\n")
_CLOSING = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)


class FrontMatterError(ValueError):
    """The note starts a front matter block that cannot be read (the message says why)."""


@dataclass
class Citation:
    """What a note says about the card it hangs off."""

    text: str
    citation_key: str | None = None
    entry_type: str | None = None
    title: str | None = None
    authors: list[str] | None = None
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    tags: list[str] | None = None
    abstract: str | None = None
    extra: dict | None = field(default=None)


def parse_note(text: str) -> Citation:
    """Split a note into citation fields (from YAML front matter) and the note itself.

    Parameters
    ----------
    text : str
        The note's text. Front matter is recognised only when the text starts
        with a ``---`` line.

    Returns
    -------
    Citation
        The fields found (None when absent) and ``text``, the note without its front matter.

    Raises
    ------
    FrontMatterError
        If the block is not closed, is not valid YAML, is not a mapping, or a
        field has the wrong type (e.g. ``year: soon``).

    Examples
    --------
    >>> c = parse_note("---\\nyear: 2019\\nauthors: A and B\\n---\\nA note.")
    >>> (c.year, c.authors, c.text)
    (2019, ['A', 'B'], 'A note.')
    """
    opening = _OPENING.match(text)
    if opening is None:
        return Citation(text=text.strip())
    closing = _CLOSING.search(text, opening.end())
    if closing is None:
        raise FrontMatterError("front matter is not closed by a '---' line")
    block = text[opening.end():closing.start()]
    body = text[closing.end():].strip()
    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        where = f" at line {mark.line + 2}" if mark is not None else ""
        raise FrontMatterError(f"broken YAML front matter: {one_line(problem, 100)}{where}") from None
    except RecursionError:
        raise FrontMatterError("broken YAML front matter: nested too deeply") from None
    except (ValueError, TypeError, OverflowError) as exc:  # values YAML reads but Python cannot hold
        # e.g. "date: 2019-02-30" (no such day) or an integer of more than 4,300 digits
        raise FrontMatterError(f"broken YAML front matter: {one_line(exc, 100)}") from None
    if data is None:
        return Citation(text=body)
    if not isinstance(data, dict):
        raise FrontMatterError("front matter is not a mapping of fields")
    citation = Citation(text=body)
    for name in STRING_FIELDS:
        setattr(citation, name, _scalar_string(data, name))
    citation.authors = _string_list(data, "authors" if "authors" in data else "author", split=" and ")
    citation.tags = _string_list(data, "tags", split=",")
    citation.year = _year(data)
    known = set(STRING_FIELDS) | {"authors", "author", "tags", "year"}
    extra = {_text(str(k), "key"): _extra_value(k, v)
             for k, v in data.items() if k not in known and _is_scalar(v)}
    citation.extra = extra or None
    return citation


def _text(text: str, name: str) -> str:
    """``text``, if it can be stored (no unpaired surrogate, e.g. from a YAML ``"\\ud800"``)."""
    if not is_valid_text(text):
        raise FrontMatterError(f"front matter {name} is not valid Unicode (an unpaired surrogate)")
    return text


def _extra_value(key, value):
    """A scalar of ``extra`` as stored in JSON; refuse numbers JSON cannot carry exactly."""
    value = _plain(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) > EXTRA_INT_MAX:
        raise FrontMatterError(f"front matter field {one_line(repr(key), 60)} is an integer too large to store")
    if isinstance(value, float) and not math.isfinite(value):
        raise FrontMatterError(f"front matter field {one_line(repr(key), 60)} is not a finite number")
    return _text(value, f"field {one_line(repr(key), 60)}") if isinstance(value, str) else value


def _is_scalar(value) -> bool:
    return isinstance(value, (str, int, float, bool, dt.date)) or value is None


def _plain(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def _scalar_string(data: dict, name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not _is_scalar(value):
        raise FrontMatterError(f"front matter field {name!r} is not a string")
    text = _text(str(_plain(value)).strip(), f"field {name!r}")
    limit = FIELD_LIMITS.get(name)
    if limit is not None and len(text) > limit:
        raise FrontMatterError(f"front matter field {name!r} is longer than {limit} characters")
    return text or None


def _string_list(data: dict, name: str, split: str) -> list[str] | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(split)
    elif isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                         for v in value):
        items = [str(v) for v in value]
    else:
        raise FrontMatterError(f"front matter field {name!r} is not a list of strings")
    items = [_text(item.strip(), f"field {name!r}") for item in items if item.strip()]
    return items or None


def _year(data: dict) -> int | None:
    value = data.get("year")
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1000 <= value <= 2999:
        raise FrontMatterError("front matter field 'year' is not a year")
    return value
