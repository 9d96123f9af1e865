"""The web explorer: a Flask app over the lattice store (a thin face on the library).

``create_app(config=None)`` follows Flask's flaskr tutorial: defaults, then
``CFGRAPH_*`` environment variables (``CFGRAPH_DATABASE_URL``,
``CFGRAPH_SQL_TIMEOUT_MS``, ...), then the ``config`` mapping (tests). Each
page type lives in its own module with its own blueprint; the JSON API is
:mod:`cfgraph.web.api`. Errors a user can cause come back as a one-line
message with status 400 or 404 (JSON under ``/api/``, HTML elsewhere), never
as a traceback.
"""

from __future__ import annotations

import importlib
import logging
from urllib.parse import quote, urlencode

from flask import Flask, g, has_request_context, render_template, request
from werkzeug.exceptions import HTTPException

from cfgraph.display import compact, fixed
from cfgraph.errors import CfgraphError
from cfgraph.resources import resource_dir
from cfgraph.sql import DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT_MS
from cfgraph.world_sampled import possible_text

#: Blueprint modules registered by the factory, in order; each exposes ``bp``.
#: Another page type is one more line here (e.g. "cfgraph.web.related" for /related).
BLUEPRINTS = [
    "cfgraph.web.home",
    "cfgraph.web.grid",
    "cfgraph.web.graph",
    "cfgraph.web.training_set",
    "cfgraph.web.valuation",
    "cfgraph.web.sql_page",
    "cfgraph.web.glossary",
    "cfgraph.web.api",
    "cfgraph.web.related",
    "cfgraph.web.variants",
    "cfgraph.web.estimates",
    "cfgraph.web.training_sets",
    "cfgraph.web.lab",
    "cfgraph.web.plan",
    "cfgraph.web.compute",
    "cfgraph.web.scenarios",
]

DEFAULTS = {
    "DATABASE_URL": None,  # None: $CFGRAPH_DATABASE_URL, else ./cfgraph.db (see cfgraph.store.resolve_url)
    "SQL_TIMEOUT_MS": DEFAULT_TIMEOUT_MS,
    "SQL_MAX_ROWS": DEFAULT_MAX_ROWS,
    "GRID_PAGE_ROWS": 256,  # rows of the grid per page (a world of n <= 8 fits on one)
    "WHOLE_LATTICE_MAX_UNITS": 6,  # the graph draws the whole Hasse diagram up to this n
    # Host names the app answers to besides LOCAL_HOSTS (a list, or comma-separated text as in
    # CFGRAPH_ALLOWED_HOSTS=lab.example,10.0.0.5); `cfgraph serve --host H` adds H.
    "ALLOWED_HOSTS": [],
    "SERVE_HOST": None,  # the interface `cfgraph serve --host` binds, answered to as well
    # `cfgraph serve --allow-compute`: the page may queue fits of missing cells (POST with a CSRF
    # token, from a known host). Off, no route writes.
    "ALLOW_COMPUTE": False,
}
#: Names of this machine the app always answers to. Any other Host header gets 400, so a page
#: on another site that rebinds its name to 127.0.0.1 (DNS rebinding) cannot read the app.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")

#: Every resource comes from this host; no inline script, and no inline style or handler.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

log = logging.getLogger(__name__)


def create_app(config: dict | None = None) -> Flask:
    """Create the explorer app.

    Parameters
    ----------
    config : dict, optional
        Overrides applied last, e.g. ``{"DATABASE_URL": path, "TESTING": True}``.

    Returns
    -------
    flask.Flask

    Raises
    ------
    CfgraphError
        If the database does not exist or has no cfgraph schema.
    """
    templates = resource_dir("templates")
    app = Flask(__name__, template_folder=str(templates), static_folder=str(templates / "static"),
                static_url_path="/static")
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("CFGRAPH")
    if config:
        app.config.from_mapping(config)
    hosts = set(trusted_hosts(app.config["ALLOWED_HOSTS"])) | set(trusted_hosts([app.config["SERVE_HOST"] or ""]))
    app.json.sort_keys = False  # keep keys in the order the API builds them
    app.jinja_env.autoescape = True
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["num"] = format_number
    app.jinja_env.filters["signed"] = lambda x, digits=4: format_number(x, digits, signed=True)
    app.jinja_env.filters["pct"] = lambda x: "" if x is None else f"{100 * x:.1f}%"
    app.jinja_env.filters["possible"] = possible_text
    app.jinja_env.filters["compact"] = compact
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    app.jinja_env.globals["query_url"] = query_url
    app.jinja_env.globals["zip"] = zip

    from cfgraph.web import db

    db.init_app(app)
    for module in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(module).bp)
    _register_errors(app)

    @app.before_request
    def known_host():
        # Flask's TRUSTED_HOSTS would do this, but Werkzeug 3.1 cuts each trusted name at its
        # first ":" (host_is_trusted), so "[::1]" can never match; compare names here instead.
        if host_name(request.host) not in hosts:
            return error_response(400, f"unknown host {request.host[:80]!r}: this app answers only to "
                                       f"{', '.join(sorted(hosts))} (add a name with CFGRAPH_ALLOWED_HOSTS)")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    return app


def trusted_hosts(extra) -> list[str]:
    """The Host names the app answers to: :data:`LOCAL_HOSTS` plus ``extra``.

    Parameters
    ----------
    extra : list of str, or str
        More names, or one comma-separated string (as an environment variable holds them).

    Examples
    --------
    >>> trusted_hosts("lab.example, 10.0.0.5")[-2:]
    ['lab.example', '10.0.0.5']
    """
    if isinstance(extra, str):
        extra = extra.split(",")
    names = [str(h).strip().lower() for h in extra or [] if str(h).strip()]
    return list(dict.fromkeys(list(LOCAL_HOSTS) + names))


def host_name(host: str) -> str:
    """A Host header's name without its port, lower-cased: ``[::1]:5000`` -> ``[::1]``.

    Examples
    --------
    >>> host_name("LocalHost:5000"), host_name("[::1]:80"), host_name("[::1]"), host_name("127.0.0.1")
    ('localhost', '[::1]', '[::1]', '127.0.0.1')
    """
    host = (host or "").strip().lower()
    if host.startswith("["):
        return host[:host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0]


def format_number(x, digits: int = 4, signed: bool = False) -> str:
    """A score for display (the ``num`` filter): fixed decimals by :func:`cfgraph.display.fixed`,
    never ``-0.000``; blank for a missing one; an integer or text as it is."""
    if x is None or (isinstance(x, int) and not isinstance(x, bool)):
        return "" if x is None else str(x)
    try:
        float(x)
    except (TypeError, ValueError):
        return str(x)
    return fixed(x, digits, signed=signed)


def query_url(**changes) -> str:
    """The current URL with some query parameters changed (None removes one; lists repeat)."""
    return url_with(request.args.to_dict(flat=False), **changes)


def url_with(args: dict[str, list[str]], **changes) -> str:
    """This request's path with the query ``args`` (key -> values), some of them changed as in
    :func:`query_url`."""
    args = dict(args)
    for key, value in changes.items():
        if value is None or value == [] or value == "":
            args.pop(key, None)
        else:
            args[key] = value if isinstance(value, list) else [str(value)]
    query = urlencode([(k, v) for k, vs in args.items() for v in vs])
    return quote(request.path, safe="/") + ("?" + query if query else "")


def wants_json() -> bool:
    return has_request_context() and request.path.startswith("/api/")


def error_response(status: int, message: str):
    """A one-line error as JSON (under /api/) or as a small HTML page."""
    message = message.splitlines()[0] if message else "error"
    if wants_json():
        return {"error": message, "status": status}, status
    return render_template("error.html", status=status, message=message), status


def _register_errors(app: Flask) -> None:
    @app.errorhandler(CfgraphError)
    def user_error(exc):
        return error_response(getattr(exc, "status", 400), str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        return error_response(exc.code or 500, exc.description or exc.name)

    from sqlalchemy.exc import DBAPIError

    @app.errorhandler(DBAPIError)
    def database_error(exc):
        # A connection that failed or was lost: the store is down, not the request wrong (503, one line).
        g.pop("db_session", None)
        lost = type(exc.orig).__module__.startswith("psycopg") and type(exc.orig).__name__ in (
            "OperationalError", "InterfaceError")
        if exc.connection_invalidated or lost:
            return error_response(503, "the store's database does not answer; try again once it is back")
        log.exception("database error on %s", request.path)
        return error_response(500, f"internal error ({type(exc.orig).__name__}); see the server log")

    @app.errorhandler(Exception)
    def internal_error(exc):  # never a traceback in a response
        log.exception("internal error on %s", request.path)
        g.pop("db_session", None)
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")
