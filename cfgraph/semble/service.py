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

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from cfgraph.errors import CfgraphError
from cfgraph.semble import xrpc
from cfgraph.semble.join import (
    DEFAULT_PREFIX,
    RelatedSet,
    Skip,
    join_records,
    selection_label,
    utcnow,
)
from cfgraph.semble.lexicon import InvalidRecord, parse_at_uri
from cfgraph.semble.untrusted import UnreadableListing, one_line, parse_listing
from cfgraph.store.related_models import (
    RelatedCard,
    RelatedCollection,
    RelatedLink,
    RelatedNote,
    RelatedRefresh,
    RelatedSkip,
)

#: (RelatedSet attribute, model), parents first: the order rows are written.
_TABLES = (("collections", RelatedCollection), ("cards", RelatedCard), ("notes", RelatedNote),
           ("links", RelatedLink))


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
    added: int = 0
    updated: int = 0
    removed: int = 0
    skips: list[Skip] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return len(self.skips)

    def __str__(self) -> str:
        return (f"{self.shelves} shelves, {self.cards} cards, {self.notes} notes from {self.source} "
                f"({self.added} added, {self.updated} updated, {self.removed} removed, {self.skipped} skipped)")


def apply_related(session: Session, related: RelatedSet, source: str, selection: str,
                  started_at=None) -> RefreshReport:
    """Make the stored rows of ``related.did`` equal ``related``, and log the refresh.

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
    for attr, model in _TABLES:
        rows = related.rows(attr)
        table = model.__table__
        columns = [c.name for c in table.columns]
        stored = {row["uri"]: dict(row) for row in
                  session.execute(select(table).where(table.c.did == related.did)).mappings()}
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
        stale.append((model, [uri for uri in stored if uri not in rows]))
        report.added += len(new)
        report.updated += len(changed)
    # Children before parents, after every kept row points at a kept parent.
    for model, uris in reversed(stale):
        if uris:
            session.execute(delete(model).where(model.uri.in_(uris)))
        report.removed += len(uris)
    report.shelves, report.cards = len(related.collections), len(related.cards)
    report.notes, report.links = len(related.notes), len(related.links)

    log = RelatedRefresh(source=one_line(source, 1000), did=related.did, selection=selection, started_at=started_at,
                         finished_at=utcnow(), added=report.added, updated=report.updated,
                         removed=report.removed, skipped=report.skipped)
    session.add(log)
    session.flush()
    if report.skips:
        session.execute(insert(RelatedSkip), [dict(refresh_id=log.id, nsid=s.nsid, uri=s.uri, reason=s.reason)
                                              for s in report.skips])
    return report


def _differs(stored: dict, row: dict, columns: list[str]) -> bool:
    return any(stored.get(c) != row.get(c) for c in columns if c != "fetched_at")


def refresh(store, *, handle: str | None = None, did: str | None = None, pds: str | None = None,
            prefix: str | None = DEFAULT_PREFIX, service: str = xrpc.DEFAULT_SERVICE,
            plc: str = xrpc.DEFAULT_PLC, timeout: float = xrpc.DEFAULT_TIMEOUT, **options) -> RefreshReport:
    """Refresh a repository's related work from its PDS.

    Parameters
    ----------
    store : cfgraph.store.Store
        The database.
    handle, did : str
        The repository, by handle or by DID (exactly one).
    pds : str, optional
        The PDS base URL; skips DID-document resolution (a handle is then
        resolved on the PDS itself).
    prefix : str or None
        Import collections whose name starts with ``prefix`` ("dc:"); None imports all.
    service : str
        Server for ``com.atproto.identity.resolveHandle``.
    plc : str
        PLC directory for did:plc documents.
    timeout : float
        Seconds per request.
    **options
        Passed to :func:`cfgraph.semble.xrpc.list_records` (max_retries, max_retry_wait, sleep).

    Returns
    -------
    RefreshReport

    Raises
    ------
    CfgraphError
        If resolution or any listing fails; the stored related work is then unchanged.
    """
    started_at = utcnow()
    if (handle is None) == (did is None):
        raise CfgraphError("give exactly one of a handle or a DID")
    if did is None:
        did = xrpc.resolve_handle(handle, service=pds or service, timeout=timeout)
    did = xrpc.check_did(did)
    if pds is None:
        pds = xrpc.resolve_pds(did, plc=plc, timeout=timeout)
    listed = xrpc.fetch_repo(pds, did, timeout=timeout, **options)
    related = join_records(listed, did, prefix)
    with store.transaction() as session:
        return apply_related(session, related, f"at://{did} via {pds}", selection_label(prefix), started_at)


def read_records_file(path) -> tuple[str, list[tuple[None, dict]]]:
    """Read an exported repository: ``{"did": ..., "records": [{"uri", "cid", "value"}, ...]}``.

    ``did`` may be left out when every record's at-uri names the same repository.

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
    related = join_records(listed, did, prefix)
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
