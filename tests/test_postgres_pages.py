"""Every web page, every JSON API route and every read-only CLI command on a real PostgreSQL server
(tests/pg.py), over a store that holds every kind of world: the toy grid, an exhaustive iris world
valued by samplers and methods, a sampled world of iris points valued by TMC and the four methods, a
variant world and the Semble snapshot (issue 12: "every CLI command and every web page work on
PostgreSQL 15 as on SQLite").

The routes come from ``app.url_map``: a GET route that is not listed here fails
:func:`test_every_get_route_is_requested`, so a new page cannot skip PostgreSQL.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from cfgraph.cli import main
from cfgraph.methods import value as run_method
from cfgraph.resources import seed_file
from cfgraph.semble import service as related_service
from cfgraph.store import open_store
from cfgraph.valuation import estimate
from cfgraph.variants import build_variant
from cfgraph.web import create_app
from cfgraph.worlds import build_world, make_spec

#: Every training row of iris a unit (45 at test_size 0.7), naive Bayes, sampled lattice.
POINTS = dict(dataset="iris", group_by="point", units=None, model="gnb", test_size=0.7, lattice="sampled")
#: The variant world of the exhaustive iris world (its name is the recipe's).
VARIANT = "iris~corrupt-B-labels0.3"


@pytest.fixture(scope="module")
def pg_world_url(pg_server, pg_iris_template):
    """A PostgreSQL database (a copy of the toy + iris template) with the sampled ``points`` world,
    sampled and method valuations of both worlds, a variant of iris and the Semble snapshot."""
    name = pg_server.create_database(template=pg_iris_template)
    url = pg_server.url(name)
    store = open_store(url)
    try:
        build_world(store, "points", make_spec(**POINTS), progress=False)
        estimate(store, "points", "tmc", budget=150)
        for method, params in (("knn-shapley", {}), ("data-oob", {"bags": 4}), ("least-core", {}),
                               ("datamodel", {})):
            run_method(store, "points", method, progress=False, **params)
        estimate(store, "iris", "tmc", budget=14)
        estimate(store, "iris", "msr", budget=14)
        run_method(store, "iris", "least-core", progress=False)
        run_method(store, "iris", "datamodel", progress=False)
        assert build_variant(store, "iris", {"kind": "corrupt", "units": ["B"], "labels": 0.3}).name == VARIANT
        related_service.import_snapshot(store, seed_file("semble_snapshot.json"))
    finally:
        store.close()
    yield url
    pg_server.drop_database(name)


@pytest.fixture(scope="module")
def client(pg_world_url):
    app = create_app({"DATABASE_URL": pg_world_url, "TESTING": True})
    yield app.test_client()
    app.extensions["cfgraph.store"].close()


@pytest.fixture(scope="module")
def names(client):
    """Path arguments that exist only once the worlds are built: a stored training set of the
    points world, a unit of it, and a Semble shelf."""
    sets = client.get("/api/worlds/points/training-sets").get_json()["rows"]
    units = client.get("/api/worlds/points/estimates?method=shapley").get_json()["units"]
    shelves = client.get("/api/related").get_json()["shelves"]
    return {"point_set": sets[-1]["label"], "point_unit": units[0]["label"], "shelf": quote(shelves[0]["name"])}


#: (URL, expected status). Braced names are filled from :func:`names`.
PAGES = [
    ("/", 200), ("/favicon.ico", 302), ("/static/cfgraph.css", 200), ("/glossary", 200),
    ("/lens/sweep", 302), ("/question/shapley", 302), ("/open/values", 302), ("/open/grid", 302),
    ("/open/graph", 302), ("/question/nope", 404),
    ("/related", 200), ("/related?q=shapley", 200), ("/related?topic=shapley", 200),
    ("/related?collection={shelf}", 200),
    ("/sql", 200), ("/sql?q=SELECT+world,+count(*)+FROM+grid+GROUP+BY+world", 200),
    ("/sql.csv?q=SELECT+*+FROM+world", 200), ("/sql.json?q=SELECT+*+FROM+estimate", 200),
    ("/sql.csv", 400), ("/sql.json", 400),
    ("/api/glossary", 200), ("/api/lenses", 200), ("/api/related", 200), ("/api/related?q=shapley", 200),
    ("/api/related?topic=shapley", 200), ("/api/sql?q=SELECT+*+FROM+variant_delta", 200),
    ("/api/worlds", 200),
]


def whole(world: str) -> int:
    """The status of a view that needs the whole lattice: 400 on the sampled world (one line)."""
    return 400 if world == "points" else 200


for _world in ("toy", "iris", "points", VARIANT):
    PAGES += [
        (f"/world/{_world}/grid", 200), (f"/world/{_world}/grid/panel", whole(_world)),
        (f"/world/{_world}/graph", 200), (f"/world/{_world}/values", 200),
        (f"/world/{_world}/estimates", 200), (f"/world/{_world}/training-sets", 200),
        (f"/world/{_world}/variants", 200),
        (f"/api/worlds/{_world}", 200), (f"/api/worlds/{_world}/grid", whole(_world)),
        (f"/api/worlds/{_world}/graph", 200), (f"/api/worlds/{_world}/values", 200),
        (f"/api/worlds/{_world}/estimates", 200), (f"/api/worlds/{_world}/training-sets", 200),
        (f"/api/worlds/{_world}/variants", whole(_world)), (f"/api/worlds/{_world}/questions", whole(_world)),
        (f"/api/worlds/{_world}/scaling", whole(_world)), (f"/api/worlds/{_world}/path", whole(_world)),
    ]
for _world in ("toy", "iris", VARIANT):
    PAGES += [(f"/world/{_world}/node/AB", 200), (f"/api/worlds/{_world}/nodes/AB", 200),
              (f"/api/worlds/{_world}/nodes/AB/neighbours", 200)]
PAGES += [
    ("/world/toy/grid?cell=ABCD:B&unit=B&alpha=2&palette=heat", 200), ("/world/toy/grid?layer=2&col=B", 200),
    ("/world/toy/grid/panel?cell=ABCD:B&cell=ACD:B", 200),
    ("/api/worlds/toy/questions?cell=ABCD:B&unit=B&pair=CD&q=loo&q=interaction", 200),
    ("/api/worlds/toy/grid?per_page=5&page=2", 200),
    ("/world/iris/values?method=loo", 200), ("/world/iris/values?slice=A", 200),
    ("/world/iris/values?alpha=4&beta=2", 200), ("/api/worlds/iris/values?method=loo", 200),
    ("/world/iris/estimates?method=banzhaf&unit=A", 200), ("/api/worlds/iris/estimates?method=least-core", 200),
    ("/api/worlds/iris/estimates?method=datamodel", 200),
    ("/world/iris/graph?slice=all&node=AB&lens=strike&coalition=AB", 200),
    ("/world/iris/graph?slice=all&lens=permutation&order=DCBA", 200),
    ("/api/worlds/iris/graph?slice=all&lens=layer&k=2", 200),
    ("/api/worlds/iris/graph?slice=all&lens=sweep&unit=B", 200),
    ("/api/worlds/iris/graph?slice=all&node=AB&lens=square&unit=A&pair=B", 200),
    ("/api/worlds/iris/graph?slice=all&node=ABC&lens=ablation&unit=B", 200),
    ("/api/worlds/iris/path?kind=strike&coalition=AB", 200), ("/api/worlds/iris/path?slice=A&order=CADB", 200),
    ("/world/iris/variants?node=AB", 200), ("/api/worlds/iris/variants?node=AB", 200),
    (f"/api/worlds/{VARIANT}/variants", 200), (f"/world/{VARIANT}/values?method=loo", 200),
    ("/world/points/node/{point_set}", 200), ("/api/worlds/points/nodes/{point_set}", 200),
    ("/api/worlds/points/nodes/{point_set}/neighbours", 200),
    ("/world/points/training-sets?min_size=2&max_size=10", 200),
    ("/api/worlds/points/training-sets?contains={point_unit}&min_size=2&max_size=10", 200),
    ("/api/worlds/points/training-sets?page=2", 200),
    ("/api/worlds/points/values?method=shapley&view=all&page=1", 200),
    ("/api/worlds/points/values?method=shapley&sort=value&order=desc", 200),
    ("/world/points/values?method=shapley&unit={point_unit}", 200),
    ("/world/points/values/convergence.svg?method=shapley&unit={point_unit}", 200),
    ("/api/worlds/points/convergence?method=shapley&unit={point_unit}", 200),
    ("/world/iris/values/convergence.svg?method=shapley&unit=A", 200),
    ("/api/worlds/iris/convergence?method=shapley&unit=A", 200),
]
# The lab, the planner, scenarios and the grid window (issue 13). Scenarios need the demo's worlds,
# which this store lacks but for the toy grid: those answer a one-line 404.
_LAB = "a=iris|ABCD|all&b=iris|BCD|all"
PAGES += [
    ("/lab", 200), (f"/lab?{_LAB}", 200), (f"/api/lab?{_LAB}", 200), (f"/lab/state.json?{_LAB}", 200),
    ("/lab?a=iris|*|A&b=iris|*|B&p.pairing=matched&p.match=train", 200), ("/lab?a=points|x|all", 400),
    ("/world/iris/plan", 200), ("/world/toy/plan", 200), ("/world/points/plan", 200),
    ("/api/worlds/iris/plan?unit=B", 200), ("/api/worlds/points/plan", 200), ("/api/jobs/nope", 404),
    ("/scenarios", 200), ("/scenarios/toy-missing", 200), ("/scenarios/removal", 404),
    ("/api/scenarios/toy-missing", 200), ("/api/scenarios/removal", 404),
    ("/api/worlds/iris/grid/window?r0=0&r1=8&c0=0&c1=3", 200),
    ("/api/worlds/iris/grid/window?r0=0&r1=8&c0=0&c1=3&sort=value&vslice=A&dir=desc&has=A", 200),
]
for _chart in ("heatmap", "intervals", "scaling", "value-bars"):
    PAGES += [(f"/world/iris/values/{_chart}.svg", 200), (f"/world/iris/values/{_chart}.csv", 200),
              (f"/api/worlds/iris/values/{_chart}", 200)]
for _method in ("shapley", "knn-shapley", "data-oob", "least-core", "datamodel"):
    PAGES += [(f"/world/points/estimates?method={_method}", 200),
              (f"/api/worlds/points/estimates?method={_method}", 200),
              (f"/world/points/values?method={_method}", 200),
              (f"/api/worlds/points/values?method={_method}", 200)]


def test_every_get_route_is_requested(client):
    """Each GET route of the app (bar Flask's static files, requested once above) is in PAGES."""
    requested = {url.split("?")[0] for url, _ in PAGES}
    adapter = client.application.url_map.bind("localhost")
    routes = {rule.rule for rule in client.application.url_map.iter_rules() if "GET" in rule.methods}
    matched = {adapter.match(path.replace("{point_set}", "x").replace("{point_unit}", "x"))[0]
               for path in requested}
    endpoints = {rule.endpoint: rule.rule for rule in client.application.url_map.iter_rules()}
    assert {endpoints[e] for e in matched} >= routes, sorted(routes - {endpoints[e] for e in matched})


@pytest.mark.parametrize("url,status", PAGES, ids=[u for u, _ in PAGES])
def test_page_on_postgresql(client, names, url, status):
    url = url.format(**names)
    with client.get(url) as response:  # closed, so a static file's handle is too
        assert response.status_code == status, response.get_data(as_text=True)[-2000:]
        if url.startswith("/api/"):
            assert response.is_json


#: Read-only commands (and the ones that build nothing). Each must exit 0.
COMMANDS = [
    ["worlds"], ["worlds", "--format", "json"], ["worlds", "--format", "csv"],
    ["grid", "toy"], ["grid", "iris", "--format", "json"], ["grid", "iris", "--format", "csv"],
    ["grid", VARIANT],
    ["values", "toy"], ["values", "iris", "--format", "json"], ["values", "iris", "--method", "loo+shapley"],
    ["values", "iris", "--method", "beta:4,1", "--format", "csv"], ["values", "iris", "--method", "all"],
    ["values", "iris", "--method", "least-core"], ["values", "iris", "--method", "datamodel"],
    ["values", "iris", "--sampler", "permutation", "--budget", "16"],
    ["values", "points"], ["values", "points", "--format", "json"],
    ["values", "points", "--method", "knn-shapley"], ["values", "points", "--method", "least-core"],
    ["values", "points", "--method", "data-oob", "--bags", "3"],
    ["values", "points", "--method", "datamodel"],
    ["values", "points", "--sampler", "tmc", "--budget", "160"],
    ["values", VARIANT, "--method", "loo"],
    ["variant", "list"], ["variant", "list", "iris"], ["variant", "delta", VARIANT],
    ["strike", "iris", "--coalition", "BC", "--order", "CB"], ["strike", "iris", "--format", "json"],
    ["budget", "iris", "--prices", "A=3,B=1,C=2,D=1", "--budget", "3"],
    ["envelope", "iris", "--epsilon", "1", "--release-seed", "7"],
    ["related", "list"], ["related", "list", "--format", "json"],
    ["sql", "SELECT world, count(*) AS n FROM grid GROUP BY world ORDER BY world"],
    ["sql", "SELECT * FROM variant_delta", "--format", "csv"],
    ["sql", "SELECT * FROM estimate", "--format", "json"],
    ["init"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_cli_on_postgresql(pg_world_url, args):
    result = CliRunner().invoke(main, ["--db", pg_world_url, *args])
    assert result.exit_code == 0, result.output[-2000:]
    if "json" in args:
        json.loads(result.stdout)  # a truncation note goes to stderr


def test_the_grid_of_a_sampled_world_is_refused_in_one_line(pg_world_url):
    result = CliRunner().invoke(main, ["--db", pg_world_url, "grid", "points"])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "is sampled" in result.output


def test_json_and_timestamp_columns_come_back_as_their_text(client):
    """As on SQLite: a JSON column is JSON text (not a Python repr), a timestamp its ISO text."""
    data = client.get("/api/sql?q=SELECT+recipe,+created_at+FROM+world+WHERE+parent_world_id+IS+NOT+NULL").get_json()
    recipe, created = data["rows"][0]
    assert json.loads(recipe)["kind"] == "corrupt" and created[:2] == "20" and created[10] == " "
    with client.get("/sql.csv?q=SELECT+recipe+FROM+world+WHERE+parent_world_id+IS+NOT+NULL") as csv:
        assert '""kind"": ""corrupt""' in csv.get_data(as_text=True)


def test_the_sql_page_lists_each_tables_columns(client):
    page = client.get("/sql").get_data(as_text=True)
    assert "params json" in page and ">None<" not in page
