"""Reading a repository's Semble records over XRPC with the ``atproto`` SDK (no login).

Resolution follows the atproto identity spec: handle -> DID with
``com.atproto.identity.resolveHandle`` on a configurable service, DID -> DID
document (did:plc from a PLC directory, did:web from ``/.well-known/did.json``),
and the PDS is the document's ``#atproto_pds`` service. Records are listed with
``com.atproto.repo.listRecords``, 100 per page, following the cursor.

Every request goes through a :class:`~cfgraph.semble.transport.BoundedTransport`:
``timeout`` bounds the whole exchange (connect, headers and body), and an answer
larger than :data:`~cfgraph.semble.transport.MAX_RESPONSE_BYTES`, raw or
decompressed, is refused. Pages are parsed record by record, so one record that
cannot be parsed is skipped with its reason rather than failing its page.

Every failure (timeout, refused connection, 4xx/5xx, 429 past the retry budget,
invalid JSON, an oversized answer or cursor) is raised as a
:class:`~cfgraph.errors.CfgraphError` whose message is one line naming the server
and the call; what the server said is quoted through
:func:`~cfgraph.semble.untrusted.one_line`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import httpx

from cfgraph.errors import CfgraphError
from cfgraph.semble.lexicon import NSIDS, InvalidRecord, http_url
from cfgraph.semble.transport import BoundedTransport, ResponseRefused, exchange
from cfgraph.semble.untrusted import UnreadableListing, UnreadableRecord, is_valid_text, one_line, parse_listing

if TYPE_CHECKING:
    from atproto_client import Client

# The SDK is imported inside the functions that call it: loading its models takes
# about a second, which every `cfgraph` command would otherwise pay.

#: Any server answering com.atproto.identity.resolveHandle; Bluesky's public AppView does.
DEFAULT_SERVICE = "https://public.api.bsky.app"
DEFAULT_PLC = "https://plc.directory"
DEFAULT_TIMEOUT = 10.0
PAGE_LIMIT = 100
#: A server whose cursor never ends stops here (100,000 records of one type).
MAX_PAGES = 1000
#: A 429 is retried this many times, each after the Retry-After it names ...
MAX_RETRIES = 2
#: ... unless it asks for longer than this (seconds): then the refresh gives up.
MAX_RETRY_WAIT = 30.0
#: Waits this long on a 429 without Retry-After (doubling per retry).
DEFAULT_RETRY_WAIT = 1.0
#: A cursor longer than this (characters) is refused: atproto cursors are short
#: tokens (a record key is at most 512 characters), and each is sent back in a URL.
MAX_CURSOR_LENGTH = 1024

_HANDLE = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)
_DID = re.compile(r"^did:(?P<method>[a-z]+):(?P<id>[a-zA-Z0-9._:%-]{1,2000})$")


def check_handle(handle: str) -> str:
    """The handle without a leading ``@``, if it is a valid atproto handle.

    Raises
    ------
    CfgraphError
        If it is not a domain name.

    Examples
    --------
    >>> check_handle("@alice.example.com")
    'alice.example.com'
    """
    handle = handle.strip().removeprefix("@")
    if not _HANDLE.match(handle):
        raise CfgraphError(f"not a handle: {one_line(repr(handle), 120)} "
                           f"(expected a domain name like alice.bsky.social)")
    return handle.lower()


def check_did(did: str) -> str:
    """``did`` if it is a did:plc or did:web.

    Raises
    ------
    CfgraphError
        If it is malformed or uses another DID method.
    """
    match = _DID.match(did.strip())
    if match is None:
        raise CfgraphError(f"not a DID: {one_line(repr(did), 120)} (expected did:plc:... or did:web:...)")
    if match["method"] not in ("plc", "web"):
        raise CfgraphError(f"unsupported DID method did:{one_line(match['method'], 40)} "
                           f"(atproto uses did:plc and did:web)")
    return did.strip()


def _client(base_url: str, timeout: float, raw: bool = False) -> Client:
    """An SDK client whose requests go through a :class:`~cfgraph.semble.transport.BoundedTransport`.

    With ``raw``, queries answer the body's bytes unparsed (see :func:`_list_page`).
    """
    from atproto_client import Client
    from atproto_client.request import Request

    request_class = _raw_request_class() if raw else Request
    return Client(base_url=base_url, request=request_class(timeout=timeout, transport=BoundedTransport(timeout)))


def _raw_request_class():
    from atproto_client.request import Request, Response

    class RawRequest(Request):
        """The SDK's Request (its error handling included), answering a body as bytes.

        The SDK parses a JSON body as a whole, so one record nested too deeply or
        holding invalid UTF-8 would fail its page; the listing is parsed here
        instead, record by record (:func:`~cfgraph.semble.untrusted.parse_listing`).
        """

        def get(self, *args, **kwargs) -> Response:
            response = self._send_request("GET", *args, **kwargs)
            return Response(success=True, status_code=response.status_code, content=response.content,
                            headers={k.lower(): v for k, v in response.headers.items()})

    return RawRequest


def _transport_errors() -> tuple[type[Exception], ...]:
    """Everything a call through the SDK may raise on a bad server or network."""
    from atproto_core.exceptions import AtProtocolError

    return (AtProtocolError, ValueError, httpx.HTTPError)


def xrpc_error(exc: Exception, call: str, server: str, timeout: float) -> CfgraphError:
    """Translate an SDK or transport exception into a one-line CfgraphError.

    Whatever the server said (an error body, a reason) is quoted through
    :func:`~cfgraph.semble.untrusted.one_line`: one line of bounded length.
    """
    from atproto_client.exceptions import (
        InvokeTimeoutError,
        ModelError,
        NetworkError,
        RequestErrorBase,
    )

    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, ResponseRefused) or isinstance(cause, ResponseRefused):
        return CfgraphError(f"{call} on {server} {one_line(exc if isinstance(exc, ResponseRefused) else cause)}")
    if isinstance(exc, InvokeTimeoutError):
        return CfgraphError(f"{call} on {server} timed out after {timeout:g} s")
    if isinstance(exc, RequestErrorBase) and exc.response is not None:
        return CfgraphError(f"{call} on {server} failed: HTTP {_status_text(exc.response)}")
    if isinstance(exc, NetworkError):
        return CfgraphError(f"cannot reach {server} for {call}: {one_line(cause or type(exc).__name__)}")
    if isinstance(exc, ModelError):
        return CfgraphError(f"{call} on {server} returned an unexpected answer: {one_line(exc)}")
    if isinstance(exc, ValueError):  # the SDK parses JSON bodies outside its own error handling
        return CfgraphError(f"{call} on {server} returned invalid JSON")
    return CfgraphError(f"{call} on {server} failed: {type(exc).__name__}: {one_line(exc)}")


def _status_text(response) -> str:
    """``500 InternalServerError: message`` from an SDK error response, cut to one line."""
    content = response.content
    detail = ""
    if hasattr(content, "error"):
        detail = ": ".join(str(part) for part in (content.error, content.message) if part)
    elif isinstance(content, bytes):
        detail = content[:4096].decode("utf-8", "replace")
    return one_line(f"{response.status_code} {detail}")


def resolve_handle(handle: str, service: str = DEFAULT_SERVICE, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Resolve a handle to its DID with ``com.atproto.identity.resolveHandle`` on ``service``.

    Parameters
    ----------
    handle : str
        A handle such as ``alice.bsky.social``.
    service : str
        Base URL of any server answering resolveHandle (an AppView or the PDS).
    timeout : float
        Seconds per request.

    Returns
    -------
    str
        The DID.

    Raises
    ------
    CfgraphError
        If the handle is malformed, unknown, or the service fails.
    """
    handle = check_handle(handle)
    client = _client(service, timeout)
    try:
        with exchange(timeout):
            answer = client.com.atproto.identity.resolve_handle({"handle": handle})
    except _transport_errors() as exc:
        raise xrpc_error(exc, f"resolveHandle({handle})", service, timeout) from None
    finally:
        client.request.close()
    return check_did(answer.did)


def did_document_url(did: str, plc: str = DEFAULT_PLC) -> str:
    """Where a DID's document lives: ``{plc}/{did}`` or ``https://host/.well-known/did.json``.

    For did:web, ``localhost`` is fetched over plain http, as the reference
    implementation (@atproto/identity) does for local development.

    Raises
    ------
    CfgraphError
        For a did:web with a path (atproto allows only a bare host).

    Examples
    --------
    >>> did_document_url("did:web:example.com")
    'https://example.com/.well-known/did.json'
    """
    did = check_did(did)
    method, ident = did.split(":", 2)[1:]
    if method == "plc":
        return f"{plc.rstrip('/')}/{did}"
    if ":" in ident:
        raise CfgraphError(f"did:web with a path is not an atproto DID: {did}")
    host = unquote(ident)
    scheme = "http" if urlsplit(f"//{host}").hostname == "localhost" else "https"
    return f"{scheme}://{host}/.well-known/did.json"


def resolve_pds(did: str, plc: str = DEFAULT_PLC, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The PDS endpoint of ``did``: the ``#atproto_pds`` service of its DID document.

    Parameters
    ----------
    did : str
        A did:plc or did:web.
    plc : str
        Base URL of the PLC directory.
    timeout : float
        Seconds per request.

    Returns
    -------
    str
        The PDS base URL.

    Raises
    ------
    CfgraphError
        If the document cannot be fetched or parsed, names another DID, or has no PDS.
    """
    from atproto_core.did_doc import DidDocument

    url = did_document_url(did, plc)
    # A fresh httpx client that is closed here: the SDK's DID resolvers keep an
    # unclosed client per resolver, which leaks a socket per lookup.
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, transport=BoundedTransport(timeout)) as http, \
                exchange(timeout):
            response = http.get(url)
    except httpx.TimeoutException:
        raise CfgraphError(f"DID document {url} timed out after {timeout:g} s") from None
    except ResponseRefused as exc:
        raise CfgraphError(f"DID document {url} {one_line(exc)}") from None
    except httpx.HTTPError as exc:
        raise CfgraphError(f"cannot fetch DID document {url}: {one_line(exc)}") from None
    if response.status_code == 404:
        raise CfgraphError(f"DID not found: {did} ({url} answered 404)")
    if response.status_code != 200:
        raise CfgraphError(f"DID document {url} answered HTTP {response.status_code}")
    try:
        raw = parse_listing(response.content)
        document = DidDocument.from_dict(raw)
    except (ValueError, TypeError):  # not JSON, too deep, a pydantic ValidationError, or not an object
        raise CfgraphError(f"DID document {url} is not a valid DID document") from None
    if document.id != did:
        raise CfgraphError(f"DID document {url} is for {one_line(repr(document.id), 120)}, not {did}")
    pds = document.get_pds_endpoint()
    if not pds:
        # The SDK drops an endpoint it cannot parse as a URL (javascript:...): say so, not "no service".
        if _names_pds_service(raw):
            raise CfgraphError(f"DID document of {did}: its #atproto_pds endpoint is not an http(s) URL")
        raise CfgraphError(f"DID document of {did} names no #atproto_pds service")
    try:
        return http_url(pds, "its #atproto_pds endpoint")
    except InvalidRecord as exc:
        raise CfgraphError(f"DID document of {did}: {one_line(exc)}") from None


def _names_pds_service(document) -> bool:
    """Whether a DID document (parsed JSON) has a ``#atproto_pds`` service entry, whatever its endpoint.

    Examples
    --------
    >>> _names_pds_service({"service": [{"id": "#atproto_pds", "serviceEndpoint": "javascript:x"}]})
    True
    >>> _names_pds_service({"service": []})
    False
    """
    services = document.get("service") if isinstance(document, dict) else None
    return any(isinstance(s, dict) and isinstance(s.get("id"), str) and s["id"].endswith("#atproto_pds")
               for s in services or [] if isinstance(services, list))


def _list_page(client: Client, params: dict, nsid: str, pds: str,
               timeout: float) -> tuple[list[dict | UnreadableRecord], str | None]:
    """One listRecords page as plain record dicts and the next cursor.

    The page is read as bytes through the SDK's ``invoke_query`` rather than its
    typed ``list_records``, and parsed here record by record
    (:func:`~cfgraph.semble.untrusted.parse_listing`): the typed answer, or the
    SDK's JSON parser, rejects the whole page when one record is malformed,
    nested too deeply or not valid UTF-8, while the importer must skip that
    record with a reason and keep the rest. Such a record comes back as an
    :class:`~cfgraph.semble.untrusted.UnreadableRecord`.

    Raises
    ------
    CfgraphError
        If the answer is not JSON, not an object with a ``records`` list of at
        most PAGE_LIMIT records, or its cursor is not a string, is longer than
        MAX_CURSOR_LENGTH or is unprintable.
    """
    from atproto_client import models

    with exchange(timeout):  # the page and any redirect it follows, within one timeout
        response = client.invoke_query("com.atproto.repo.listRecords",
                                       params=models.ComAtprotoRepoListRecords.Params(**params),
                                       output_encoding="application/json")
    kind = response.headers.get("content-type", "")
    if "json" not in kind.lower():
        raise CfgraphError(f"listRecords({nsid}) on {pds} returned an unexpected answer "
                           f"(Content-Type {one_line(kind or 'missing', 60)}, not JSON)")
    try:
        body = parse_listing(response.content)
    except UnreadableListing as exc:
        raise CfgraphError(f"listRecords({nsid}) on {pds} returned invalid JSON ({one_line(exc)})") from None
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise CfgraphError(f"listRecords({nsid}) on {pds} returned an unexpected answer (no records list)")
    if len(body["records"]) > PAGE_LIMIT:  # each would be stored, or logged as a skip
        raise CfgraphError(f"listRecords({nsid}) on {pds} returned {len(body['records']):,} records, "
                           f"more than the {PAGE_LIMIT} asked for")
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise CfgraphError(f"listRecords({nsid}) on {pds} returned a cursor that is not a string")
    if cursor and (len(cursor) > MAX_CURSOR_LENGTH or not cursor.isprintable() or not is_valid_text(cursor)):
        what = (f"of {len(cursor):,} characters (more than {MAX_CURSOR_LENGTH:,})"
                if len(cursor) > MAX_CURSOR_LENGTH else "holding unprintable characters")
        raise CfgraphError(f"listRecords({nsid}) on {pds} returned a cursor {what}; paging stopped "
                           f"and nothing was stored")
    records = [r if isinstance(r, (dict, UnreadableRecord)) else {"uri": None, "cid": None, "value": r}
               for r in body["records"]]
    return records, cursor or None


def list_records(pds: str, repo: str, nsid: str, *, timeout: float = DEFAULT_TIMEOUT,
                 max_retries: int = MAX_RETRIES, max_retry_wait: float = MAX_RETRY_WAIT,
                 sleep: Callable[[float], None] = time.sleep, client: Client | None = None) -> list[dict]:
    """Every record of type ``nsid`` in ``repo``, following listRecords cursors.

    Pages hold at most 100 records. Listing stops on a page without a cursor or
    on an empty page. A server that hands back a cursor it gave before ends the
    listing when that page held nothing new (it served its last page again), and
    fails it otherwise (the pages loop). A record listed twice is kept once.

    Parameters
    ----------
    pds : str
        Base URL of the repository's PDS.
    repo : str
        DID (or handle) of the repository.
    nsid : str
        Record type, e.g. ``network.cosmik.card``.
    timeout : float
        Seconds per request.
    max_retries : int
        Retries of a request answered 429.
    max_retry_wait : float
        Longest Retry-After (seconds) honoured; a longer one fails at once.
    sleep : callable
        Waits between retries (tests pass a recorder).
    client : atproto.Client, optional
        A client to reuse; by default one is opened and closed here.

    Returns
    -------
    list of dict
        ``{"uri", "cid", "value"}`` per record, in listing order.

    Raises
    ------
    CfgraphError
        On any failed request, 429 past the retry budget, a looping cursor, or more
        than MAX_PAGES pages.
    """
    own = client is None
    client = client or _client(pds, timeout, raw=True)
    records: list[dict] = []
    seen: set[str] = set()
    requested: set[str] = set()
    cursor = None
    try:
        for _ in range(MAX_PAGES):
            params = {"repo": repo, "collection": nsid, "limit": PAGE_LIMIT}
            if cursor is not None:
                params["cursor"] = cursor
            page, cursor = _with_retries(lambda: _list_page(client, params, nsid, pds, timeout),
                                         f"listRecords({nsid})", pds, timeout, max_retries, max_retry_wait, sleep)
            fresh = []
            for record in page:
                key = repr(record.uri if isinstance(record, UnreadableRecord) else record.get("uri"))
                if key not in seen:
                    seen.add(key)
                    fresh.append(record)
            records.extend(fresh)
            if not page or not cursor:
                return records
            if cursor in requested:
                if not fresh and len(page) < PAGE_LIMIT:
                    return records  # the last, partial page served again under its cursor: the end
                # New records, or a full page, under a cursor already used: the server is
                # not paging, and stopping here would drop every later record from the store.
                raise CfgraphError(f"listRecords({nsid}) on {pds} repeated the cursor {one_line(repr(cursor), 80)} "
                                   f"with a full or new page; the listing cannot be trusted")
            requested.add(cursor)
    finally:
        if own:
            client.request.close()
    raise CfgraphError(f"listRecords({nsid}) on {pds} did not end after {MAX_PAGES} pages")


def _with_retries(call, what, server, timeout, max_retries, max_retry_wait, sleep):
    from atproto_client.exceptions import RateLimitExceededError

    for attempt in range(max_retries + 1):
        try:
            return call()
        except RateLimitExceededError as exc:
            wait = exc.retry_after
            wait = DEFAULT_RETRY_WAIT * 2 ** attempt if wait is None else wait
            if attempt == max_retries:
                raise CfgraphError(f"{what} on {server} is rate limited (HTTP 429) after "
                                   f"{max_retries + 1} tries; try again later") from None
            if wait > max_retry_wait:
                raise CfgraphError(f"{what} on {server} is rate limited (HTTP 429): retry after "
                                   f"{wait:g} s, more than the {max_retry_wait:g} s this refresh waits") from None
            sleep(wait)
        except _transport_errors() as exc:
            raise xrpc_error(exc, what, server, timeout) from None
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_repo(pds: str, did: str, nsids=NSIDS, **options) -> list[tuple[str, dict]]:
    """All Semble records of a repository.

    Parameters
    ----------
    pds : str
        Base URL of the PDS.
    did : str
        The repository.
    nsids : sequence of str
        Record types to list.
    **options
        Passed to :func:`list_records` (timeout, max_retries, max_retry_wait, sleep).

    Returns
    -------
    list of (str, dict)
        ``(nsid, record)`` pairs, as :func:`~cfgraph.semble.join.join_records` takes them.

    Raises
    ------
    CfgraphError
        If any listing fails; nothing is returned partially.
    """
    timeout = options.get("timeout", DEFAULT_TIMEOUT)
    client = _client(pds, timeout, raw=True)
    try:
        return [(nsid, record) for nsid in nsids
                for record in list_records(pds, did, nsid, client=client, **options)]
    finally:
        client.request.close()
