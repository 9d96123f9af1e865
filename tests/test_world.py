"""The application layer (cfgraph.world.World) against small stores, and the faces over it:
the unit legend on every world page and under `cfgraph grid` / `values`, and seeds with error bars."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from cfgraph.cli import main
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.store import catalog, cells
from cfgraph.tables import SliceSpec, UnitSpec
from cfgraph.values import shapley
from cfgraph.world import World, default_world_name, list_worlds

EVIL = "<b>x</b>"

#: A two-unit world with three seeds: v(∅), v(A), v(B), v(AB) on slice "all" per seed.
SEEDED = {0: [0.5, 0.7, 0.6, 0.9], 1: [0.5, 0.8, 0.6, 0.8], 2: [0.5, 0.9, 0.5, 1.0]}
#: Student-t 97.5% quantile with 2 degrees of freedom (three seeds).
T_2 = 4.302652729911275


def make_world(store, name, units, grids, metric="accuracy"):
    """A trained-kind world whose cells are given: ``grids[seed]`` lists v(mask) on slice "all"."""
    with store.transaction() as session:
        world = catalog.create_world(session, name, kind="trained", units=units, slices=[SliceSpec("all")],
                                     metric=metric, eval_slices="units",
                                     spec={"metrics": [metric], "seeds": sorted(grids)})
        ids, sids = cells.node_ids(session, world), cells.slice_ids(session, world)
        cells.write_cells(session, [
            {"node_id": int(ids[m]), "slice_id": sids["all"], "metric": metric, "seed": seed, "value": v,
             "fit_seconds": 0.0, "status": "ok"}
            for seed, grid in grids.items() for m, v in enumerate(grid)])


@pytest.fixture
def seeded_store(toy_store):
    """The toy world, plus "g3": units named <b>x</b> and "second", three seeds of a full 2-unit grid."""
    make_world(toy_store, "g3", [UnitSpec(EVIL, size=7, definition="rows <i>near</i> x"),
                                 UnitSpec("second", size=3, definition="the rest")], SEEDED)
    return toy_store


# ------------------------------------------------------------------ World itself


def test_open_reads_units_slices_and_cells(toy_store):
    with World.open(toy_store, "toy") as toy:
        assert [u.label for u in toy.units] == ["A", "B", "C", "D"]
        assert [s.name for s in toy.slices] == ["A", "B", "C", "D"]
        assert toy.kind == "imported" and toy.n == 4 and toy.seeds == [0]
        table = toy.table()
        assert table.column("B")[toy.mask_of("ACD")] == 0.55
        assert np.isnan(table.column("B")[toy.mask_of("BCD")])  # one of the twelve missing rows
        assert toy.describe()["units"][0] == {"label": "A", "name": "A", "definition": "imported", "size": None}


def test_open_refuses_unknown_names_in_one_line(toy_store):
    with pytest.raises(NotFound, match=r"no world named 'nowhere' \(stored: toy\)"):
        World.open(toy_store, "nowhere")
    with World.open(toy_store, "toy") as toy:
        with pytest.raises(NotFound, match="no evaluation slice 'Z'"):
            toy.find_slice("Z")
        with pytest.raises(NotFound, match="world 'toy'"):
            toy.mask_of("AQ")
        with pytest.raises(NotFound, match="no cells for seed 4"):
            toy.table(seed=4)


def test_a_world_opened_on_a_store_closes_its_own_session(toy_store):
    world = World.open(toy_store, "toy")
    world.close()
    assert world.session.get_transaction() is None  # closed: no transaction left open
    with toy_store.session() as session:  # on a session, the caller keeps it
        borrowed = World.open(session, "toy")
        borrowed.close()
        assert borrowed.table().column("B")[0b1101] == 0.55


def test_training_set_reads_the_node_and_its_neighbours(toy_store):
    with World.open(toy_store, "toy") as toy:
        node = toy.training_set("ACD")
    assert node["scores"] == [0.78, 0.55, 0.82, 0.8] and node["seed"] == 0 and node["interval"] is None
    up = {nb["label"]: nb for nb in node["neighbours"] if nb["direction"] == "add"}
    assert list(up) == ["ABCD"] and up["ABCD"]["deltas"][1] == pytest.approx(0.88 - 0.55)
    down = [nb for nb in node["neighbours"] if nb["direction"] == "remove"]
    assert [nb["label"] for nb in down] == ["CD", "AD", "AC"] and down[0]["scores"] == [None] * 4


def test_values_and_questions_of_the_toy_grid(toy_store):
    with World.open(toy_store, "toy") as toy:
        loo = toy.values("loo", ["B"])
        asked = toy.questions(toy.table(), cells=["ABCD:B", "ACD:B"])
        with pytest.raises(CfgraphError, match="unknown question"):
            toy.questions(toy.table(), keys=["nope"])
    assert loo.seeds == [0] and not loo.across_seeds
    assert {r["unit"]: r["value"] for r in loo.rows()} == {"B": pytest.approx(0.33), "D": pytest.approx(0.08)}
    assert {p["unit"] for p in loo.problems} == {"A", "C"}  # their LOO needs BCD / ABD
    first = asked.answers[0]
    assert first.value == pytest.approx(0.33) and asked.focus.unit == 1


def test_list_worlds_and_the_default_world(seeded_store, tmp_path):
    from cfgraph.store import open_store

    assert [w["name"] for w in list_worlds(seeded_store)] == ["toy", "g3"]
    with seeded_store.session() as session:
        assert default_world_name(session) == "g3"  # the first complete world
    empty = open_store(tmp_path / "empty.db")
    with empty.session() as session, pytest.raises(NotFound, match="no world yet"):
        default_world_name(session)
    empty.close()


# ------------------------------------------------------------------ seeds with error bars


def test_values_across_seeds_are_the_mean_of_per_seed_values(seeded_store):
    with World.open(seeded_store, "g3") as world:
        assert world.seeds == [0, 1, 2] and world.across_seeds(None) and not world.across_seeds(1)
        across = world.values("shapley+loo")
        per_seed = [world.values("shapley+loo", seed=s) for s in world.seeds]
    assert across.across_seeds and across.seeds == [0, 1, 2]
    by_hand = np.array([shapley(np.array(SEEDED[s])) for s in (0, 1, 2)])  # (seeds, units)
    assert by_hand[:, 0].tolist() == pytest.approx([0.25, 0.25, 0.45])
    for name in ("shapley", "loo"):
        stacked = np.stack([v.mean[name][:, 0] for v in per_seed])
        assert across.mean[name][:, 0] == pytest.approx(stacked.mean(axis=0))
        assert across.std[name][:, 0] == pytest.approx(stacked.std(axis=0, ddof=1))
    assert across.half_width["shapley"][0, 0] == pytest.approx(T_2 * by_hand[:, 0].std(ddof=1) / np.sqrt(3))
    assert across.half_width["shapley"][0, 0] > 0 and across.count["shapley"][0, 0] == 3
    row = next(r for r in across.rows() if r["method"] == "shapley" and r["unit"] == "A")
    assert row["value"] == pytest.approx(0.95 / 3) and row["n"] == 3 and row["half_width"] > 0


def test_grid_and_training_set_across_seeds(seeded_store):
    with World.open(seeded_store, "g3") as world:
        shown = world.grid()
        one = world.grid(seed=2)
        node = world.training_set("A")
    a = shown.interval(0b01, 0)
    assert a["mean"] == pytest.approx(0.8) and a["std"] == pytest.approx(0.1) and a["n"] == 3
    assert a["half_width"] == pytest.approx(T_2 * 0.1 / np.sqrt(3))
    assert shown.seed is None and one.seed == 2 and one.interval(1, 0) is None
    assert one.table.column("all").tolist() == SEEDED[2]
    assert node["seed"] is None and node["scores"] == [pytest.approx(0.8)]
    assert node["interval"][0]["half_width"] == pytest.approx(a["half_width"])
    assert node["neighbours"][0]["deltas"] == [pytest.approx(0.9 - 0.8)]  # AB: mean 0.9


#: Thirty seeds of the same 2-unit grid shape: more seeds than the pages may spend queries.
MANY = {s: [0.5, 0.7 + 0.01 * (s % 5), 0.6 - 0.02 * (s % 3), 0.9] for s in range(30)}


def test_cells_across_seeds_match_the_interval_by_hand(seeded_store):
    from cfgraph.values import seed_interval

    make_world(seeded_store, "g30", [UnitSpec("a"), UnitSpec("b")], MANY)
    stack = np.array([MANY[s] for s in range(30)])  # (seeds, masks)
    mean, std, half, count = seed_interval(stack)
    with World.open(seeded_store, "g30") as world:
        some = world.cells_across_seeds([3, 1, 3])  # unsorted, repeated
        column = world.cells_across_seeds(None, "all")
        node = world.training_set("A")
    assert some["seeds"] == list(range(30)) and some["n"].tolist() == [30, 30, 30]
    assert some["mean"] == pytest.approx(mean[[3, 1, 3]]) and some["half_width"] == pytest.approx(half[[3, 1, 3]])
    assert column["mean"] == pytest.approx(mean) and column["std"] == pytest.approx(std)
    assert node["interval"][0] == {"mean": pytest.approx(mean[1]), "half_width": pytest.approx(half[1]),
                                   "std": pytest.approx(std[1]), "n": 30}
    assert [nb["deltas"] for nb in node["neighbours"]] == [[pytest.approx(mean[3] - mean[1])],
                                                           [pytest.approx(mean[0] - mean[1])]]


@pytest.mark.parametrize("page", ["/world/{}/graph", "/api/worlds/{}/graph", "/world/{}/node/A",
                                  "/world/{}/graph?lens=strike&coalition=AB"])
def test_pages_across_seeds_spend_as_many_queries_for_30_seeds_as_for_3(seeded_store, page):
    """Every SQL statement SQLite runs (its trace callback also sees the cell reads that bypass
    SQLAlchemy's cursor events) is counted: the count does not grow with the seeds."""
    from sqlalchemy import event

    from cfgraph.web import create_app

    make_world(seeded_store, "g30", [UnitSpec("a"), UnitSpec("b")], MANY)
    app = create_app({"DATABASE_URL": seeded_store.sqlite_path, "TESTING": True})
    engine = app.extensions["cfgraph.store"].engine
    statements = []
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    engine.dispose()  # connections made from here on are traced
    client = app.test_client()

    def count(world):
        url = page.format(world)
        assert client.get(url).status_code == 200  # warm: the first request may load caches
        statements.clear()
        assert client.get(url).status_code == 200
        return len(statements)

    few, many = count("g3"), count("g30")
    assert 0 < few == many < 30, (few, many)
    app.extensions["cfgraph.store"].close()


# ------------------------------------------------------------------ the CLI face


def invoke(store, *args):
    return CliRunner().invoke(main, ["--db", store.sqlite_path, *args])


def test_cli_grid_and_values_print_the_unit_legend(seeded_store):
    table = invoke(seeded_store, "grid", "toy")
    assert table.exit_code == 0
    legend = table.output.split("units (")[1]
    assert re.search(r"^A +A +imported", legend, re.MULTILINE)
    values = invoke(seeded_store, "values", "g3", "--seed", "0")
    assert EVIL in values.output and "rows <i>near</i> x" in values.output and "second" in values.output
    as_json = json.loads(invoke(seeded_store, "grid", "g3", "--format", "json").output)
    assert as_json["units"][0] == {"label": "A", "name": EVIL, "definition": "rows <i>near</i> x", "size": 7}
    csv_run = invoke(seeded_store, "grid", "toy", "--format", "csv")
    assert csv_run.stdout.splitlines()[0] == "train_set,A,B,C,D" and "unit," not in csv_run.stdout
    assert csv_run.stderr.splitlines()[0] == "unit,name,definition,training_rows"


def test_cli_prints_mean_and_half_width_across_seeds(seeded_store):
    out = json.loads(invoke(seeded_store, "values", "g3", "--method", "shapley", "--format", "json").output)
    assert out["seeds"] == [0, 1, 2] and out["seed"] is None
    a = next(v for v in out["values"] if v["unit"] == "A")
    assert a["value"] == pytest.approx(0.95 / 3) and a["n"] == 3 and a["half_width"] > 0 and a["std"] > 0
    one = json.loads(invoke(seeded_store, "values", "g3", "--method", "shapley", "--seed", "2", "--format",
                            "json").output)
    assert one["seed"] == 2 and {v["unit"]: v["value"] for v in one["values"]}["A"] == pytest.approx(0.45)
    assert "half_width" not in one["values"][0]
    text = invoke(seeded_store, "grid", "g3").output
    half = T_2 * 0.1 / np.sqrt(3)
    assert re.search(rf"^A +0\.8000 ± {half:.4f}$", text, re.MULTILINE)
    assert "over n = 3 seeds" in text
    grid = json.loads(invoke(seeded_store, "grid", "g3", "--format", "json").output)
    cell = {r["train_set"]: r["all"] for r in grid["rows"]}["A"]
    assert cell["mean"] == pytest.approx(0.8) and cell["n"] == 3 and cell["half_width"] == pytest.approx(half)
    wide = invoke(seeded_store, "values", "g3", "--method", "loo+shapley").output
    assert re.search(r"^slice +unit +loo +shapley +n$", wide, re.MULTILINE)


# ------------------------------------------------------------------ the web face


@pytest.fixture
def client(seeded_store):
    from cfgraph.web import create_app

    return create_app({"DATABASE_URL": seeded_store.sqlite_path, "TESTING": True}).test_client()


@pytest.mark.parametrize("page", ["grid", "graph", "values", "node/A"])
def test_every_world_page_carries_the_escaped_unit_legend(client, page):
    body = client.get(f"/world/g3/{page}").get_data(as_text=True)
    legend = body.split('id="unit-legend"')[1].split("</table>")[0]
    assert "&lt;b&gt;x&lt;/b&gt;" in legend and EVIL not in body
    assert "rows &lt;i&gt;near&lt;/i&gt; x" in legend and re.search(r'<td class="num">7</td>', legend)
    assert "<th scope=\"row\">B</th><td>second</td><td>the rest</td>" in legend


def test_pages_and_api_show_the_interval_across_seeds(client):
    half = T_2 * 0.1 / np.sqrt(3)
    grid = client.get("/world/g3/grid").get_data(as_text=True)
    assert f'title="0.800 ± {half:.3f} (n=3)"' in grid and "mean over n = 3 seeds" in grid
    assert 'title="' not in client.get("/world/g3/grid?seed=1").get_data(as_text=True).split('id="grid"')[1] \
        .split("</table>")[0]
    values = client.get("/world/g3/values").get_data(as_text=True)
    assert re.search(r"0\.3167 ± 0\.\d{3} \(n=3\)", values)
    node = client.get("/world/g3/node/A").get_data(as_text=True)
    assert f"0.800 ± {half:.3f} (n=3)" in node
    api_grid = client.get("/api/worlds/g3/grid").json
    row = {r["train_set"]: r for r in api_grid["rows"]}["A"]
    assert api_grid["seed"] is None and api_grid["seeds"] == [0, 1, 2]
    assert row["values"] == [pytest.approx(0.8)] and row["half_width"] == [pytest.approx(half)] and row["n"] == [3]
    api_values = client.get("/api/worlds/g3/values").json
    a = next(v for v in api_values["values"] if v["unit"] == "A")
    assert a["shapley"] == pytest.approx(0.95 / 3) and a["intervals"]["shapley"]["n"] == 3
    assert a["intervals"]["shapley"]["half_width"] > 0
    api_node = client.get("/api/worlds/g3/nodes/A").json
    assert api_node["intervals"]["all"]["half_width"] == pytest.approx(half)
    assert client.get("/api/worlds/g3/nodes/A?seed=0").json["scores"] == {"all": 0.7}
