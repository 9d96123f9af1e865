"""``cfgraph related``: refresh, list and import the related-work shelves from Semble."""

from __future__ import annotations

import json

import click

from cfgraph.clitools import store_of
from cfgraph.render import render
from cfgraph.semble import xrpc  # the option defaults; the store-side modules load when a command runs
from cfgraph.semble.join import DEFAULT_PREFIX

#: Handle resolution methods (as cfgraph.semble.handles.METHODS; that module loads httpx).
METHODS = ("dns", "well-known", "xrpc")

#: Skipped records printed after a refresh; the rest are in the related_skip table.
SHOWN_SKIPS = 20


def _echo_report(report) -> None:
    click.echo(f"related work: {report}")
    for skip in report.skips[:SHOWN_SKIPS]:
        click.echo(f"  skipped {skip}")
    if report.skipped > SHOWN_SKIPS:
        click.echo(f"  ... and {report.skipped - SHOWN_SKIPS} more (SELECT * FROM related_skip)")


def _prefix(prefix: str, all_collections: bool) -> str | None:
    return None if all_collections else prefix


def _finite(value: float) -> float:
    if value != value:  # NaN slips through FloatRange's comparisons
        raise click.BadParameter("must be a number of seconds, not nan")
    return value


@click.group()
def related():
    """Related work: Semble collections imported over the AT Protocol."""


@related.command()
@click.option("--handle", help="The Semble user's handle, e.g. alice.bsky.social.")
@click.option("--did", help="The user's DID (did:plc:... or did:web:...), instead of --handle.")
@click.option("--pds", metavar="URL", help="The user's PDS; skips DID-document resolution.")
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True,
              help="Import the collections whose name starts with this (shown without it).")
@click.option("--all-collections", is_flag=True, help="Import every collection, whatever its name.")
@click.option("--service", default=xrpc.DEFAULT_SERVICE, show_default=True, metavar="URL",
              help="Server that answers com.atproto.identity.resolveHandle.")
@click.option("--plc", default=xrpc.DEFAULT_PLC, show_default=True, metavar="URL", help="PLC directory.")
@click.option("--timeout", default=xrpc.DEFAULT_TIMEOUT, show_default=True,
              type=click.FloatRange(min=0, min_open=True, max=600), callback=lambda _c, _p, v: _finite(v),
              help="Seconds each request may take in all: connect, headers and body (at most 600).")
@click.option("--resolve-with", default=",".join(METHODS), show_default=True, metavar="METHODS",
              help="How a handle becomes a DID, tried in order: dns (TXT _atproto.HANDLE), "
                   "well-known (https://HANDLE/.well-known/atproto-did), xrpc (resolveHandle on --service).")
@click.option("--no-collaborators", is_flag=True,
              help="Do not read the cards that collaborators added to OPEN collections.")
@click.pass_context
def refresh(ctx, handle, did, pds, prefix, all_collections, service, plc, timeout, resolve_with, no_collaborators):
    """Fetch the shelves from the user's repository and replace the stored copy (one transaction).

    Each answer is capped at 4 MiB (MAX_RESPONSE_BYTES in cfgraph.semble.transport),
    counted as received and once decompressed; a larger one fails the refresh,
    which then changes nothing. A record that cannot be read is skipped with its reason.
    """
    from cfgraph.semble import service as related_service

    from cfgraph.semble.handles import HandleResolver

    methods = tuple(m.strip() for m in resolve_with.split(",") if m.strip())
    if not methods or any(m not in METHODS for m in methods):
        raise click.BadParameter(f"expected a comma-separated list of {', '.join(METHODS)}",
                                 param_hint="--resolve-with")
    store = store_of(ctx)
    report = related_service.refresh(
        store, handle=handle, did=did, pds=pds, prefix=_prefix(prefix, all_collections),
        service=service, plc=plc, timeout=timeout, resolver=HandleResolver(timeout=timeout, methods=methods),
        collaborators=not no_collaborators)
    _echo_report(report)


@related.command(name="list")
@click.option("--collection", metavar="NAME", help="Only this shelf (its name with or without the prefix).")
@click.option("--filter", "text", metavar="TEXT", help="Only cards whose title, authors, note or tags hold TEXT.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def list_(ctx, collection, text, fmt):
    """List the stored shelves and their cards."""
    from cfgraph.semble import queries

    store = store_of(ctx, create=False)
    with store.session() as session:
        if fmt == "json":
            view = queries.related_view(session, collection, text)
            click.echo(json.dumps(view, indent=2, ensure_ascii=False))
            return
        view = queries.related_view(session, collection, text)
        shelf_list, refreshed = view["shelves"], view["refresh"]
    if not shelf_list:
        click.echo("no related work stored (run `cfgraph related refresh --handle ...` or `cfgraph demo`)"
                   if not text and not collection else "no shelf matches")
        return
    rows = [[shelf["title"], card["priority"], card["year"], _authors(card["authors"]), _clip(card["title"], 70),
             _clip(card["venue"] or card["site"] or "", 40), _identifier(card), card["added_by"] or "",
             card["url"] or ""]
            for shelf in shelf_list for card in shelf["cards"]]
    click.echo(render(["shelf", "priority", "year", "authors", "title", "venue", "doi/isbn", "added by", "url"],
                      rows))
    if view["connections"]:
        click.echo(f"\n{len(view['connections'])} connections:")
        for edge in view["connections"]:
            click.echo(f"  {_clip(edge['source']['title'], 50)} {edge['verb']} {_clip(edge['target']['title'], 50)}")
    if refreshed:
        click.echo(f"\nlast refresh: {refreshed['finished_at']} from {refreshed['source']}")


def _identifier(card: dict) -> str:
    """A card's DOI or ISBN for the table: ``doi:10.1/x``, ``isbn:978-...``, or both."""
    return " ".join(f"{kind}:{card[kind]}" for kind in ("doi", "isbn") if card.get(kind))


@related.command()
@click.option("--did", required=True, help="The repository whose stored rows to delete.")
@click.pass_context
def forget(ctx, did):
    """Delete a repository's stored shelves, cards, notes, links and connections (one transaction).

    A refresh replaces only the refreshed repository's rows; this drops one you no
    longer want. Nothing is fetched.
    """
    from cfgraph.semble import service as related_service

    store = store_of(ctx, create=False)
    did = xrpc.check_did(did.strip())
    with store.transaction() as session:
        removed = related_service.forget(session, did)
    click.echo(f"forgot {did}: " + ", ".join(f"{n} {kind}" for kind, n in removed.items()) + " removed")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _authors(authors: list[str]) -> str:
    """Short author list for a table: "Ghorbani & Zou", "Jia et al."."""
    surnames = [a.split()[-1] for a in authors if a.split()]
    if len(surnames) > 2:
        return f"{surnames[0]} et al."
    return " & ".join(surnames)


@related.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--prefix", default=DEFAULT_PREFIX, show_default=True,
              help="Import the collections whose name starts with this.")
@click.option("--all-collections", is_flag=True, help="Import every collection.")
@click.pass_context
def import_(ctx, file, prefix, all_collections):
    """Import a repository's records from FILE.json (offline), as a refresh would.

    FILE holds {"did": "did:plc:...", "records": [{"uri", "cid", "value"}, ...]}.
    """
    from cfgraph.semble import service as related_service

    store = store_of(ctx)
    _echo_report(related_service.import_file(store, file, prefix=_prefix(prefix, all_collections)))
