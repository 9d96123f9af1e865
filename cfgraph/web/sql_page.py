"""The SQL page: read-only queries over the store, with CSV and JSON downloads.

Every query goes through :func:`cfgraph.sql.run_query`: one SELECT / WITH /
EXPLAIN statement, on a separate read-only connection, behind an authorizer
that denies writes, ATTACH and PRAGMA, with a deadline (``SQL_TIMEOUT_MS``)
and a row cap (``SQL_MAX_ROWS``). A refused or interrupted query is a 400
with the reason.
"""

from __future__ import annotations

import math

from flask import Blueprint, Response, current_app, render_template, request

from cfgraph.errors import CfgraphError
from cfgraph.render import csv_text
from cfgraph.sql import cell_text, run_query
from cfgraph.web.db import is_postgres, sql_target

bp = Blueprint("sql_page", __name__)

EXAMPLES = [
    ("Worlds and their models",
     "SELECT name, kind, dataset, model_spec, metric, n_units, eval_slices FROM world"),
    ("The toy grid, as the seed prints it",
     "SELECT train_set, eval_slice, value FROM grid WHERE world = 'toy' ORDER BY train_size, train_set, eval_slice"),
    ("Leave-one-out of B on slice B (toy)",
     "SELECT a.value - b.value AS loo_B FROM grid a JOIN grid b ON b.world = a.world AND b.eval_slice = a.eval_slice\n"
     "WHERE a.world = 'toy' AND a.eval_slice = 'B' AND a.train_set = 'ABCD' AND b.train_set = 'ACD'"),
    ("Scaling law: mean score by training-set size",
     "SELECT world, eval_slice, train_size AS k, AVG(value) AS mean, COUNT(*) AS cells\n"
     "FROM grid GROUP BY world, eval_slice, train_size ORDER BY world, eval_slice, k"),
    ("Every marginal contribution of unit A (edges that add A)",
     "SELECT w.name AS world, s.label AS from_set, d.label AS to_set, es.name AS eval_slice,\n"
     "       cd.value - cs.value AS marginal_contribution\n"
     "FROM edge e JOIN unit u ON u.id = e.unit_id AND u.label = 'A'\n"
     "JOIN node s ON s.id = e.src_node_id JOIN node d ON d.id = e.dst_node_id\n"
     "JOIN world w ON w.id = e.world_id\n"
     "JOIN cell cs ON cs.node_id = s.id JOIN cell cd ON cd.node_id = d.id AND cd.slice_id = cs.slice_id\n"
     "  AND cd.metric = cs.metric AND cd.seed = cs.seed\n"
     "JOIN eval_slice es ON es.id = cs.slice_id\n"
     "ORDER BY world, eval_slice, marginal_contribution DESC"),
    # A window, not SQLite's bare column beside MAX(): PostgreSQL refuses a column outside GROUP BY.
    ("Best training set of each size (budgeted subset scan)",
     "SELECT world, eval_slice, k, train_set, best FROM (\n"
     "  SELECT world, eval_slice, train_size AS k, train_set, value AS best, ROW_NUMBER() OVER (\n"
     "    PARTITION BY world, eval_slice, train_size ORDER BY value DESC, train_set) AS r\n"
     "  FROM grid WHERE value IS NOT NULL) ranked\n"
     "WHERE r = 1 ORDER BY world, eval_slice, k"),
    ("Failed or degenerate fits",
     "SELECT world, train_set, eval_slice, status FROM grid WHERE status != 'ok'"),
    ("Sampled estimates with their 95% intervals (the latest valuation of each method)",
     "SELECT w.name AS world, v.method, u.label AS unit, s.name AS eval_slice, e.metric, e.seed,\n"
     "       e.value, e.stderr, e.ci_low, e.ci_high, e.n_samples\n"
     "FROM estimate e JOIN valuation v ON v.id = e.valuation_id JOIN world w ON w.id = e.world_id\n"
     "JOIN unit u ON u.id = e.unit_id JOIN eval_slice s ON s.id = e.slice_id\n"
     "WHERE v.id IN (SELECT max(id) FROM valuation GROUP BY world_id, method)\n"
     "ORDER BY world, v.method, eval_slice, e.value DESC"),
    ("Stored training sets holding a unit (get_bit on node.members, the first unit here)",
     "SELECT w.name AS world, n.label AS train_set, n.size, u.label AS unit\n"
     "FROM node n JOIN world w ON w.id = n.world_id JOIN unit u ON u.world_id = n.world_id AND u.idx = 0\n"
     "WHERE get_bit(n.members, u.idx) = 1\n"
     "ORDER BY world, n.size, n.label LIMIT 200"),
]

SCHEMA_QUERY = ("SELECT type, name, sql FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' AND name != 'alembic_version' ORDER BY type, name")
#: The same listing on PostgreSQL, each table's or view's columns and types in place of its
#: CREATE statement (information_schema keeps none for tables).
PG_SCHEMA_QUERY = ("SELECT CASE t.table_type WHEN 'VIEW' THEN 'view' ELSE 'table' END AS type, t.table_name AS name, "
                   "string_agg(c.column_name || ' ' || c.data_type, E',\n' ORDER BY c.ordinal_position) AS sql "
                   "FROM information_schema.tables t JOIN information_schema.columns c "
                   "ON c.table_schema = t.table_schema AND c.table_name = t.table_name "
                   "WHERE t.table_schema = current_schema() AND t.table_name <> 'alembic_version' "
                   "GROUP BY 1, 2 ORDER BY 1, 2")


def execute(query: str):
    """Run a query with the app's deadline and row cap (raises CfgraphError, 400)."""
    return run_query(sql_target(), query, max_rows=int(current_app.config["SQL_MAX_ROWS"]),
                     timeout_ms=int(current_app.config["SQL_TIMEOUT_MS"]))


def schema() -> list[tuple[str, str, str]]:
    try:
        return list(execute(PG_SCHEMA_QUERY if is_postgres() else SCHEMA_QUERY).rows)
    except CfgraphError:
        return []


@bp.route("/sql")
def page():
    """The query box, the examples, the schema, and the results of ``q`` if given."""
    query = request.args.get("q", "")
    result, error, status = None, None, 200
    if query.strip():
        try:
            result = execute(query)
        except CfgraphError as exc:
            error, status = str(exc).splitlines()[0], exc.status
    shown = None if result is None else [[cell_text(x) for x in row] for row in result.rows]
    return render_template("sql.html", query=query, result=result, shown=shown, error=error, examples=EXAMPLES,
                           schema=schema(), max_rows=current_app.config["SQL_MAX_ROWS"],
                           timeout_ms=current_app.config["SQL_TIMEOUT_MS"], postgres=is_postgres()), status


@bp.route("/sql.csv")
def download_csv():
    """The results of ``q`` as a CSV file."""
    result = execute(request.args.get("q", ""))
    body = csv_text(result.columns, [[cell_text(x) for x in row] for row in result.rows])
    headers = {"Content-Disposition": "attachment; filename=cfgraph-query.csv"}
    if result.truncated:
        headers["X-Cfgraph-Truncated"] = str(current_app.config["SQL_MAX_ROWS"])
    return Response(body, mimetype="text/csv", headers=headers)


def _json_cell(x):
    """A BLOB becomes its hex string (as on the page and in the CSV); an infinite float its name
    (JSON has no Infinity)."""
    x = cell_text(x)
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x


def result_json(result) -> dict:
    """A query result as JSON-ready data (a BLOB becomes its hex string)."""
    rows = [[_json_cell(x) for x in row] for row in result.rows]
    return {"columns": result.columns, "rows": rows, "truncated": result.truncated,
            "elapsed_ms": round(result.elapsed_ms, 3)}


@bp.route("/sql.json")
def download_json():
    """The results of ``q`` as a JSON file."""
    return result_json(execute(request.args.get("q", ""))), 200, {
        "Content-Disposition": "attachment; filename=cfgraph-query.json"}
