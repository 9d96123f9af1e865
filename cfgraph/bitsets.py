"""Training sets of any size: packed bitsets, Python-int masks and 63-bit digests.

An exhaustive world names a training set by its bitmask (an int below 2^n,
n <= 16). A sampled world has up to thousands of units, so its training sets
are boolean membership rows, shape (n,), stored as *packed bitsets*: bit i of
byte i // 8 (least significant bit first) is unit i, the bit order of
PostgreSQL's ``get_bit`` and of numpy's ``packbits(bitorder="little")``. The
same bytes read as a little-endian integer are the training set's mask, so an
exhaustive world's masks and a sampled world's bitsets agree.

A *digest* is a 63-bit Zobrist hash (Zobrist 1970): the XOR of one fixed
random key per member unit. Adding or removing unit i XORs its key, so the
digests of every add-one and remove-one neighbour of a training set are one
vectorised XOR away, which is how a sampled world finds the stored neighbours
of a new node without enumerating the lattice.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["MAX_SAMPLED_UNITS", "pack", "unpack", "to_mask", "from_mask", "unit_keys", "digest",
           "neighbour_digests"]

#: The most units a sampled world may have.
MAX_SAMPLED_UNITS = 10_000


def pack(members: np.ndarray) -> list[bytes]:
    """Packed bitsets of training sets given as boolean membership rows.

    Parameters
    ----------
    members : ndarray of bool, shape (b, n)

    Returns
    -------
    list of bytes
        ``b`` bitsets of ``ceil(n / 8)`` bytes each.

    Examples
    --------
    >>> pack(np.array([[True, False, True], [False, False, False]]))
    [b'\\x05', b'\\x00']
    """
    members = np.atleast_2d(np.asarray(members, dtype=bool))
    packed = np.packbits(members, axis=1, bitorder="little")
    return [row.tobytes() for row in packed]


def unpack(bitsets, n: int) -> np.ndarray:
    """Boolean membership rows of packed bitsets: the inverse of :func:`pack`.

    Parameters
    ----------
    bitsets : sequence of bytes
        Each ``ceil(n / 8)`` bytes long.
    n : int
        Units.

    Returns
    -------
    ndarray of bool, shape (len(bitsets), n)

    Raises
    ------
    ValueError
        If a bitset has the wrong length.

    Examples
    --------
    >>> unpack([b'\\x05'], 3).tolist()
    [[True, False, True]]
    """
    width = (n + 7) // 8
    if any(len(b) != width for b in bitsets):
        raise ValueError(f"a bitset of {n} units has {width} bytes")
    raw = np.frombuffer(b"".join(bitsets), dtype=np.uint8).reshape(len(bitsets), width)
    return np.unpackbits(raw, axis=1, count=n, bitorder="little").astype(bool)


def to_mask(members: np.ndarray) -> int:
    """The bitmask (a Python int of any size) of one membership row.

    Examples
    --------
    >>> to_mask(np.array([True, False, True]))
    5
    >>> to_mask(np.eye(70, dtype=bool)[69]) == 1 << 69
    True
    """
    return int.from_bytes(pack(np.asarray(members, dtype=bool)[None, :])[0], "little")


def from_mask(mask: int, n: int) -> np.ndarray:
    """The membership row of a bitmask: shape (n,), bool.

    Examples
    --------
    >>> from_mask(5, 4).tolist()
    [True, False, True, False]
    """
    return unpack([int(mask).to_bytes((n + 7) // 8, "little")], n)[0]


@functools.lru_cache(maxsize=4)
def _keys(n: int) -> np.ndarray:
    # splitmix64 of the unit index: fixed for ever, so digests stored today match tomorrow's.
    with np.errstate(over="ignore"):
        z = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    keys = (z >> np.uint64(1)).astype(np.int64)  # 63 bits: a non-negative BIGINT in SQL
    keys.flags.writeable = False
    return keys


def unit_keys(n: int) -> np.ndarray:
    """The Zobrist key of each unit: shape (n,), int64, non-negative, fixed for ever.

    Examples
    --------
    >>> keys = unit_keys(3)
    >>> bool((keys >= 0).all()), len(set(keys.tolist()))
    (True, 3)
    """
    return _keys(int(n))


def digest(members: np.ndarray) -> np.ndarray:
    """63-bit digests of training sets: the XOR of their members' keys (Zobrist 1970).

    Parameters
    ----------
    members : ndarray of bool, shape (b, n)

    Returns
    -------
    ndarray of int64, shape (b,)
        Non-negative; 0 for the empty set.

    References
    ----------
    A. L. Zobrist, "A new hashing method with application for game playing", 1970.

    Examples
    --------
    >>> m = np.array([[True, True, False], [True, False, False], [False, True, False]])
    >>> d = digest(m)
    >>> int(d[0]) == int(d[1] ^ d[2]), int(digest(np.zeros((1, 3), bool))[0])
    (True, 0)
    """
    members = np.atleast_2d(np.asarray(members, dtype=bool))
    keys = unit_keys(members.shape[1])
    return np.bitwise_xor.reduce(np.where(members, keys, np.int64(0)), axis=1)


def neighbour_digests(digests: np.ndarray, n: int) -> np.ndarray:
    """Digests of the n neighbours (add or remove unit i) of each training set.

    Parameters
    ----------
    digests : ndarray of int64, shape (b,)
    n : int

    Returns
    -------
    ndarray of int64, shape (b, n)
        Entry [j, i] is the digest of training set j with unit i toggled.

    Examples
    --------
    >>> m = np.array([[True, False]])
    >>> neighbour_digests(digest(m), 2)[0].tolist() == [0, int(digest(np.array([[True, True]]))[0])]
    True
    """
    return np.asarray(digests, dtype=np.int64)[:, None] ^ unit_keys(n)[None, :]
