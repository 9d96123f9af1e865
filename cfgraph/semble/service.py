"""Refreshing the related-work tables from Semble, or from a file, in one transaction.

A refresh first reads everything (network or file) and joins it in memory; only
then does it open one transaction that brings the repository's rows up to date:
new records are inserted, edited ones (same at-uri, new CID or content) updated,
records gone upstream deleted, and a ``related_refresh`` row with its
``related_skip`` rows logged. Any failure before or during the write leaves the
stored related work exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from cfgraph.errors import CfgraphError
from cfgraph.semble import xrpc
from cfgraph.semble.handles import HandleResolver
from cfgraph.semble.join import (
    DEFAULT_PREFIX,
    RelatedSet,
    Skip,
    join_records,
    open_collaborators,
    selection_label,
    utcnow,
)
from cfgraph.semble.lexicon import CONTRIBUTED_NSIDS, InvalidRecord, parse_at_uri
from cfgraph.semble.untrusted import UnreadableListing, one_line, parse_listing
from cfgraph.store.related_models import (
    RelatedCard,
    RelatedCollection,
    RelatedConnection,
    RelatedLink,
    RelatedNote,
    RelatedRefresh,
    RelatedSkip,
)

#: (RelatedSet attribute, model), parents first: the order rows are written.
_TABLES = (("collections", RelatedCollection), ("cards", RelatedCard), ("notes", RelatedNote),
           ("links", RelatedLink), ("connections", RelatedConnection))


@dataclass
class RefreshReport:
    """What one refresh or import did."""

    source: str
    did: str
    selection: str
    shelves: int = 0
    cards: int = 0
    notes: int = 0
    links: int = 0
    connections: int = 0
    collaborators: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    skips: list[Skip] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.skips)

    def _collaborators(self) -> str:
        n = self.collaborators
        return f" and {n} collaborator{'' if n == 1 else 's'}" if n else ""

    def __str__(self) -> str:
        return (f"{self.shelves} shelves, {self.cards} cards, {self.notes} notes, {self.connections} connections "
                f"from {self.source}{self._collaborators()} "
                f"({self.added} added, {self.updated} updated, {self.removed} removed, {self.skipped} skipped)")


def apply_related(session: Session, related: RelatedSet, source: str, selection: str,
                  started_at=None) -> RefreshReport:
    """Make the stored rows of ``related.dids`` (the repository and the collaborators read) equal ``related``.

    Logs the refresh under ``related.did``.

    Runs inside the caller's transaction and does not commit.

    Parameters
    ----------
    session : Session
        An open session in a transaction.
    related : RelatedSet
        The joined rows of one repository (see :func:`~cfgraph.semble.join.join_records`).
    source : str
        Where the records came from, for the log.
    selection : str
        Which collections were selected, for the log.
    started_at : datetime, optional
        When the refresh began (naive UTC); default now.

    Returns
    -------
    RefreshReport
        Counts of added, updated, removed and skipped records.
    """
    report = RefreshReport(source=source, did=related.did, selection=selection, skips=list(related.skips))
    started_at = started_at or utcnow()
    stale: list[tuple[type, list[str]]] = []
    owned: set[str] = set(related.collections)  # the repository's shelves, kept or stale
    for attr, model in _TABLES:
        rows = related.rows(attr)
        table = model.__table__
        columns = [c.name for c in table.columns]
        stored = {row["uri"]: dict(row) for row in
                  session.execute(select(table).where(table.c.did.in_(sorted(related.dids or {related.did}))))
                  .mappings()}
        new = [row for uri, row in rows.items() if uri not in stored]
        changed = [row for uri, row in rows.items() if uri in stored and _differs(stored[uri], row, columns)]
        changed_uris = {row["uri"] for row in changed}
        seen = [row for uri, row in rows.items() if uri in stored and uri not in changed_uris]
        if new:
            session.execute(insert(model), new)
        if changed:
            session.execute(update(model), changed)  # bulk UPDATE by primary key (uri)
        if seen:
            session.execute(update(model), [{"uri": r["uri"], "fetched_at": r["fetched_at"]} for r in seen])
        if attr == "collections":
            owned |= {uri for uri, row in stored.items() if row["did"] == related.did}
        # A collaborator's rows are replaced only where they touch this repository's shelves:
        # their links to its shelves here, their cards and notes below once no link holds them.
        stale.append((model, [uri for uri, row in stored.items() if uri not in rows and (
            row["did"] == related.did or (attr == "links" and row["collection_uri"] in owned))]))
        report.added += len(new)
        report.updated += len(changed)
    # Children before parents, after every kept row points at a kept parent.
    for model, uris in reversed(stale):
        if uris:
            session.execute(delete(model).where(model.uri.in_(uris)))
        report.removed += len(uris)
    report.removed += _drop_unheld_cards(session, (related.dids or set()) - {related.did}, set(related.cards))
    report.shelves, report.cards = len(related.collections), len(related.cards)
    report.notes, report.links = len(related.notes), len(related.links)
    report.connections, report.collaborators = len(related.connections), len((related.dids or set()) - {related.did})

    log = RelatedRefresh(source=one_line(source, 1000), did=related.did, selection=selection, started_at=started_at,
                         finished_at=utcnow(), added=report.added, updated=report.updated,
                         removed=report.removed, skipped=report.skipped)
    session.add(log)
    session.flush()
    if report.skips:
        session.execute(insert(RelatedSkip), [dict(refresh_id=log.id, nsid=s.nsid, uri=s.uri, reason=s.reason)
                                              for s in report.skips])
    return report


def forget(session: Session, did: str) -> dict[str, int]:
    """Delete every stored row of repository ``did``: its shelves, cards, notes, links and connections.

    A refresh replaces only the refreshed repository's rows (and its collaborators'
    links to its shelves); this is how a repository no longer wanted leaves the store.
    Links other repositories keep on its shelves go with the shelves, connections
    touching its cards with the cards, and collaborators' cards that nothing holds
    any more with their notes. The refresh log (``related_refresh``) is kept.

    Runs inside the caller's transaction and does not commit.

    Parameters
    ----------
    session : Session
    did : str
        The repository's DID.

    Returns
    -------
    dict
        Rows removed per kind: ``shelves``, ``cards``, ``notes``, ``links``, ``connections``.

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> store = open_store("sqlite://")
    >>> with store.transaction() as session:
    ...     forget(session, "did:plc:nobody")
    {'shelves': 0, 'cards': 0, 'notes': 0, 'links': 0, 'connections': 0}
    """
    shelves = select(RelatedCollection.uri).where(RelatedCollection.did == did)
    cards = select(RelatedCard.uri).where(RelatedCard.did == did)
    helpers = set(session.scalars(select(RelatedLink.did).where(RelatedLink.collection_uri.in_(shelves),
                                                                RelatedLink.did != did)))
    removed = {"shelves": 0, "cards": 0, "notes": 0, "links": 0, "connections": 0}
    removed["connections"] = session.execute(delete(RelatedConnection).where(
        (RelatedConnection.did == did) | RelatedConnection.source_card_uri.in_(cards)
        | RelatedConnection.target_card_uri.in_(cards))).rowcount
    removed["links"] = session.execute(delete(RelatedLink).where(
        (RelatedLink.did == did) | RelatedLink.collection_uri.in_(shelves) | RelatedLink.card_uri.in_(cards))).rowcount
    removed["notes"] = session.execute(delete(RelatedNote).where(
        (RelatedNote.did == did) | RelatedNote.card_uri.in_(cards))).rowcount
    removed["cards"] = session.execute(delete(RelatedCard).where(RelatedCard.did == did)).rowcount
    removed["shelves"] = session.execute(delete(RelatedCollection).where(RelatedCollection.did == did)).rowcount
    before = session.scalar(select(func.count()).select_from(RelatedNote))
    dropped = _drop_unheld_cards(session, helpers, set())
    notes = before - session.scalar(select(func.count()).select_from(RelatedNote))
    removed["cards"] += dropped - notes
    removed["notes"] += notes
    return removed


def _drop_unheld_cards(session: Session, collaborators: set[str], kept: set[str]) -> int:
    """Delete the collaborators' cards (and their notes) that no link or connection holds any more."""
    if not collaborators:
        return 0
    held = (select(RelatedLink.card_uri).union(select(RelatedConnection.source_card_uri),
                                                select(RelatedConnection.target_card_uri)))
    cards = [uri for uri in session.scalars(select(RelatedCard.uri).where(
        RelatedCard.did.in_(sorted(collaborators)), RelatedCard.uri.not_in(held))) if uri not in kept]
    if not cards:
        return 0
    notes = session.execute(delete(RelatedNote).where(RelatedNote.card_uri.in_(cards))).rowcount
    session.execute(delete(RelatedCard).where(RelatedCard.uri.in_(cards)))
    return len(cards) + notes


def _differs(stored: dict, row: dict, columns: list[str]) -> bool:
    return any(stored.get(c) != row.get(c) for c in columns if c != "fetched_at")


def refresh(store, *, handle: str | None = None, did: str | None = None, pds: str | None = None,
            prefix: str | None = DEFAULT_PREFIX, service: str = xrpc.DEFAULT_SERVICE,
            plc: str = xrpc.DEFAULT_PLC, timeout: float = xrpc.DEFAULT_TIMEOUT,
            resolver: HandleResolver | None = None, collaborators: bool = True, **options) -> RefreshReport:
    """Refresh a repository's related work from its PDS, with its collaborators' cards.

    Parameters
    ----------
    store : cfgraph.store.Store
        The database.
    handle, did : str
        The repository, by handle or by DID (exactly one).
    pds : str, optional
        The PDS base URL; skips DID-document resolution of the repository (a
        handle is then resolved on the PDS itself). Collaborators are always
        resolved through their DID documents.
    prefix : str or None
        Import collections whose name starts with ``prefix`` ("dc:"); None imports all.
    service : str
        Server for ``com.atproto.identity.resolveHandle``.
    plc : str
        PLC directory for did:plc documents.
    timeout : float
        Seconds per request.
    resolver : HandleResolver, optional
        How a handle becomes a DID (DNS TXT, ``/.well-known/atproto-did``, then
        resolveHandle on ``service``); default :class:`~cfgraph.semble.handles.HandleResolver`.
    collaborators : bool
        Read the cards and links that the collaborators of OPEN collections added.
    **options
        Passed to :func:`cfgraph.semble.xrpc.list_records` (max_retries, max_retry_wait, sleep).

    Returns
    -------
    RefreshReport

    Raises
    ------
    CfgraphError
        If resolution or any listing of the repository fails; the stored related
        work is then unchanged. A collaborator that cannot be read is skipped with
        its reason, and its stored rows are kept.
    """
    started_at = utcnow()
    if (handle is None) == (did is None):
        raise CfgraphError("give exactly one of a handle or a DID")
    if did is None:
        resolver = resolver or HandleResolver(timeout=timeout)
        did = resolver.resolve(handle, service=pds or service)
    did = xrpc.check_did(did)
    if pds is None:
        pds = xrpc.resolve_pds(did, plc=plc, timeout=timeout)
    listed = xrpc.fetch_repo(pds, did, timeout=timeout, **options)
    contributed, unread = {}, []
    for other in open_collaborators(listed, did, prefix) if collaborators else ():
        try:
            other = xrpc.check_did(other)
            where = xrpc.resolve_pds(other, plc=plc, timeout=timeout)
            contributed[other] = xrpc.fetch_repo(where, other, nsids=CONTRIBUTED_NSIDS, timeout=timeout, **options)
        except CfgraphError as exc:
            unread.append(Skip.of(None, other, f"collaborator not read: {exc}"))
    related = join_records(listed, did, prefix, contributed=contributed)
    related.skips.extend(unread)
    with store.transaction() as session:
        return apply_related(session, related, f"at://{did} via {pds}", selection_label(prefix), started_at)


def read_records_file(path) -> tuple[str, list[tuple[None, dict]]]:
    """Read an exported repository: ``{"did": ..., "records": [{"uri", "cid", "value"}, ...]}``.

    ``did`` may be left out when every record's at-uri names the same repository.
    Records of other repositories stay in the list: :func:`split_contributed`
    sets apart those of the collaborators.

    Returns
    -------
    did : str
    listed : list of (None, dict)
        Records ready for :func:`~cfgraph.semble.join.join_records` (NSID taken from each at-uri).

    Records are parsed one by one: a record that cannot be parsed (nested too
    deeply) is kept as an :class:`~cfgraph.semble.untrusted.UnreadableRecord`,
    which the join skips with its reason. Invalid UTF-8 is kept as unpaired
    surrogates, which fail the checks of the record holding them.

    Raises
    ------
    CfgraphError
        If the file is missing, is not JSON, or lacks the records list or a DID.
    """
    path = Path(path)
    try:
        data = parse_listing(path.read_bytes())
    except FileNotFoundError:
        raise CfgraphError(f"no such file: {path}") from None
    except OSError as exc:
        raise CfgraphError(f"cannot read {path}: {one_line(exc)}") from None
    except UnreadableListing as exc:
        raise CfgraphError(f"{path} is {one_line(exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise CfgraphError(f"{path} has no \"records\" list (expected {{\"did\": ..., \"records\": [...]}})")
    did = data.get("did")
    if did is None:
        dids = set()
        for record in data["records"]:
            try:
                dids.add(parse_at_uri(record.get("uri") if isinstance(record, dict) else None).did)
            except InvalidRecord:
                continue
        if len(dids) != 1:
            raise CfgraphError(f"{path} names no \"did\" and its records come from {len(dids)} repositories")
        did = dids.pop()
    if not isinstance(did, str):
        raise CfgraphError(f"{path}: \"did\" is not a string")
    return xrpc.check_did(did), [(None, record) for record in data["records"]]


def split_contributed(listed, did: str, prefix: str | None = DEFAULT_PREFIX) -> tuple[list, dict]:
    """Set apart the records of ``did``'s collaborators (an exported file may hold them too).

    Returns
    -------
    own : list of (None, dict)
        Every record not from a collaborator (records of other repositories stay, to be skipped).
    contributed : dict
        Collaborator DID -> its records, as :func:`~cfgraph.semble.join.join_records` takes them.
    """
    collaborators = set(open_collaborators(listed, did, prefix))
    own, contributed = [], {}
    for pair in listed:
        record = pair[1]
        try:
            owner = parse_at_uri(record.get("uri") if isinstance(record, dict) else None).did
        except InvalidRecord:
            owner = None
        if owner in collaborators:
            contributed.setdefault(owner, []).append(pair)
        else:
            own.append(pair)
    return own, contributed


def import_file(store, path, prefix: str | None = DEFAULT_PREFIX) -> RefreshReport:
    """Import a repository's Semble records from a JSON file, as a refresh would.

    Parameters
    ----------
    store : cfgraph.store.Store
    path : path-like
        See :func:`read_records_file` for the format.
    prefix : str or None
        Collection-name prefix to select ("dc:"); None imports all collections.

    Returns
    -------
    RefreshReport

    Raises
    ------
    CfgraphError
        If the file cannot be read; the stored related work is then unchanged.
    """
    started_at = utcnow()
    did, listed = read_records_file(path)
    own, contributed = split_contributed(listed, did, prefix)
    related = join_records(own, did, prefix, contributed=contributed)
    with store.transaction() as session:
        return apply_related(session, related, f"file {Path(path).name}", selection_label(prefix), started_at)


def import_snapshot(store, path) -> str:
    """Import the snapshot shipped in ``seed_data/`` (for ``cfgraph demo``); a one-line summary.

    Raises
    ------
    CfgraphError
        If the snapshot cannot be read.
    """
    return str(import_file(store, path))
