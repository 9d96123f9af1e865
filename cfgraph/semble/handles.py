"""Handle -> DID resolution, by DNS, by HTTPS well-known, or by ``resolveHandle``, each swappable.

The atproto handle spec names two authoritative methods: a DNS TXT record
``_atproto.<handle>`` holding ``did=<DID>``, and ``https://<handle>/.well-known/atproto-did``
whose body is the DID. A third, ``com.atproto.identity.resolveHandle`` on any
server that answers it (an AppView or the PDS), asks someone else to do either.
:class:`HandleResolver` tries them in that order and returns the first DID found.

Both network reads are functions the resolver is given (``dns_txt`` and
``fetch``), so tests point them at loopback servers; by default DNS goes through
dnspython (a dependency of the atproto SDK) and HTTPS through a
:class:`~cfgraph.semble.transport.BoundedTransport`. When dnspython cannot be
imported the DNS method is skipped, and says so in any failure message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from cfgraph.errors import CfgraphError
from cfgraph.semble import xrpc
from cfgraph.semble.transport import BoundedTransport, ResponseRefused, exchange
from cfgraph.semble.untrusted import one_line

#: The methods, in the order the resolver tries them.
METHODS = ("dns", "well-known", "xrpc")
#: A well-known answer longer than this is not a DID (a DID is at most 2 KB).
WELL_KNOWN_MAX = 2048


class NotResolved(Exception):
    """One method found no DID (the message says why); the resolver goes on to the next."""


def dnspython_txt(nameservers: list[str] | None = None, port: int = 53) -> Callable[[str, float], list[str]] | None:
    """A TXT lookup through dnspython, or None when dnspython is not installed.

    Parameters
    ----------
    nameservers : list of str, optional
        Servers to ask (default: the system's); tests give ``["127.0.0.1"]``.
    port : int
        Their port.

    Returns
    -------
    callable or None
        ``lookup(name, timeout) -> list of str``: the TXT strings of ``name``
        (empty when it has none); raises :class:`NotResolved` on a failed lookup.

    Examples
    --------
    >>> lookup = dnspython_txt(["127.0.0.1"], port=5353)
    >>> lookup is None or callable(lookup)
    True
    """
    try:
        import dns.exception
        import dns.resolver
    except ImportError:
        return None

    def lookup(name: str, timeout: float) -> list[str]:
        resolver = dns.resolver.Resolver(configure=nameservers is None)
        if nameservers is not None:
            resolver.nameservers = list(nameservers)
            resolver.port = port
        try:
            answer = resolver.resolve(name, "TXT", lifetime=timeout, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout:
            raise NotResolved(f"no answer within {timeout:g} s") from None
        except dns.exception.DNSException as exc:
            raise NotResolved(one_line(exc)) from None
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]

    return lookup


def fetch_url(url: str, timeout: float) -> tuple[int, bytes]:
    """GET ``url`` within ``timeout`` seconds (body capped in size); (status, body). Redirects are not followed.

    Raises
    ------
    NotResolved
        On a timeout, a refused or oversized answer, or any transport error.
    """
    try:
        with httpx.Client(timeout=timeout, transport=BoundedTransport(timeout)) as http, exchange(timeout):
            response = http.get(url)
            return response.status_code, response.content
    except httpx.TimeoutException:
        raise NotResolved(f"{url} timed out after {timeout:g} s") from None
    except ResponseRefused as exc:
        raise NotResolved(f"{url} {one_line(exc)}") from None
    except httpx.HTTPError as exc:
        raise NotResolved(f"cannot fetch {url}: {one_line(exc)}") from None


def _default_dns():
    return dnspython_txt()


@dataclass
class HandleResolver:
    """Resolve a handle to a DID: DNS TXT, then HTTPS well-known, then ``resolveHandle``.

    Parameters
    ----------
    timeout : float
        Seconds per lookup.
    methods : tuple of str
        Which of :data:`METHODS` to try, in order.
    dns_txt : callable or None
        ``lookup(name, timeout) -> list of TXT strings``; None skips DNS
        (default: :func:`dnspython_txt`, None without dnspython).
    fetch : callable
        ``fetch(url, timeout) -> (status, body bytes)`` for the well-known URL.

    Examples
    --------
    >>> r = HandleResolver(methods=("dns",), dns_txt=lambda name, t: ["did=did:plc:abc"])
    >>> r.resolve("alice.example.com")
    'did:plc:abc'
    """

    timeout: float = xrpc.DEFAULT_TIMEOUT
    methods: tuple[str, ...] = METHODS
    dns_txt: Callable[[str, float], list[str]] | None = field(default_factory=_default_dns)
    fetch: Callable[[str, float], tuple[int, bytes]] = fetch_url
    #: Which method answered the last resolve (for the report and the tests).
    used: str | None = None

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise CfgraphError(f"unknown handle resolution method {unknown[0] if unknown else '(none)'!r} "
                               f"(known: {', '.join(METHODS)})")

    def by_dns(self, handle: str, service: str) -> str:
        if self.dns_txt is None:
            raise NotResolved("skipped (dnspython is not installed)")
        name = f"_atproto.{handle}"
        found = {text[4:].strip() for text in self.dns_txt(name, self.timeout) if text.startswith("did=")}
        if not found:
            raise NotResolved(f"no did= TXT record at {name}")
        if len(found) > 1:
            raise NotResolved(f"{name} holds {len(found)} different did= records")
        return found.pop()

    def by_well_known(self, handle: str, service: str) -> str:
        url = f"https://{handle}/.well-known/atproto-did"
        status, body = self.fetch(url, self.timeout)
        if status != 200:
            raise NotResolved(f"{url} answered HTTP {status}")
        text = body[:WELL_KNOWN_MAX + 1].decode("utf-8", "replace").strip()
        if len(text) > WELL_KNOWN_MAX or not text.startswith("did:"):
            raise NotResolved(f"{url} did not answer a DID")
        return text.splitlines()[0].strip()

    def by_xrpc(self, handle: str, service: str) -> str:
        try:
            return xrpc.resolve_handle(handle, service=service, timeout=self.timeout)
        except CfgraphError as exc:
            raise NotResolved(str(exc)) from None

    def resolve(self, handle: str, service: str = xrpc.DEFAULT_SERVICE) -> str:
        """The DID of ``handle``: the first of :attr:`methods` that finds one.

        Parameters
        ----------
        handle : str
            A handle such as ``alice.bsky.social`` (a leading ``@`` is dropped).
        service : str
            Server for ``com.atproto.identity.resolveHandle`` (the ``xrpc`` method).

        Returns
        -------
        str
            A checked did:plc or did:web.

        Raises
        ------
        CfgraphError
            If the handle is malformed, or no method found a valid DID (one line
            naming each method's reason).
        """
        handle = xrpc.check_handle(handle)
        reasons = []
        for method in self.methods:
            lookup = {"dns": self.by_dns, "well-known": self.by_well_known, "xrpc": self.by_xrpc}[method]
            try:
                did = xrpc.check_did(lookup(handle, service))
            except (NotResolved, CfgraphError) as exc:
                reasons.append(f"{method}: {one_line(exc, 160)}")
                continue
            self.used = method
            return did
        raise CfgraphError(f"cannot resolve handle {handle}: {'; '.join(reasons)}")
