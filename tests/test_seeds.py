"""Seeds with error bars: a seed stack's cell summary and unit values, by hand on an imported
3-seed grid, linear in the cells, and equal to the SQL view grid_summary on a trained world."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from cfgraph import summaries
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.grids import import_grid
from cfgraph.seeds import SeedStack, load_seed_stack
from cfgraph.worlds import build_world, make_spec

#: Student's t quantile t(0.975, 2), from a printed table (Student 1908; Fisher & Yates).
T_975_2 = 4.302653

# Units A, B; slices "all" (every seed holds every cell) and "A" (seed 2 lacks AB);
# metric "other" only for seed 0. On "all":
#   seed 0: ∅ .5  A .6  B .7  AB .9   Shapley A .15, B .25   LOO A .2
#   seed 1: ∅ .5  A .8  B .5  AB .9   Shapley A .35, B .05   LOO A .4
#   seed 2: ∅ .5  A .7  B .6  AB .6   Shapley A .10, B .00   LOO A .0
GRID = """train_set,eval_slice,value,seed,metric
∅,all,0.5,0,score
A,all,0.6,0,score
B,all,0.7,0,score
AB,all,0.9,0,score
∅,all,0.5,1,score
A,all,0.8,1,score
B,all,0.5,1,score
AB,all,0.9,1,score
∅,all,0.5,2,score
A,all,0.7,2,score
B,all,0.6,2,score
AB,all,0.6,2,score
∅,A,0.4,0,score
A,A,0.9,0,score
B,A,0.3,0,score
AB,A,0.8,0,score
∅,A,0.4,1,score
A,A,0.7,1,score
B,A,0.5,1,score
AB,A,1.0,1,score
∅,A,0.4,2,score
A,A,0.8,2,score
B,A,0.4,2,score
AB,all,0.7,0,other
"""


@pytest.fixture
def stack(store, tmp_path):
    path = tmp_path / "seeds.csv"
    path.write_text(GRID, encoding="utf-8")
    import_grid(store, path, "seeds")
    with store.session() as session:
        return load_seed_stack(session, "seeds", metric="score")


def test_stack_shape_and_layout(stack):
    assert stack.seeds == [0, 1, 2] and stack.letters == ["A", "B"] and stack.slices == ["all", "A"]
    assert stack.values.shape == (3, 4, 2)
    assert stack.values[:, 0b11, 0].tolist() == [0.9, 0.9, 0.6]
    assert np.isnan(stack.values[2, 0b11, 1]) and not np.isnan(stack.values[:2, 0b11, 1]).any()


def test_cell_summary_by_hand(stack):
    summary = stack.cell_summary()
    assert summary["mean"][:, 0] == pytest.approx([0.5, 0.7, 0.6, 0.8], abs=1e-12)
    assert summary["std"][:, 0] == pytest.approx([0.0, 0.1, 0.1, np.sqrt(0.03)], abs=1e-12)
    assert summary["half_width"][1, 0] == pytest.approx(T_975_2 * 0.1 / np.sqrt(3), rel=1e-6)
    assert summary["n"][:, 0].tolist() == [3, 3, 3, 3]
    # Slice A: seed 2 lacks AB, so that cell is summarised over the other two seeds.
    assert summary["n"][:, 1].tolist() == [3, 3, 3, 2]
    assert summary["mean"][0b11, 1] == pytest.approx(0.9, abs=1e-12)
    assert summary["std"][0b11, 1] == pytest.approx(np.sqrt(0.02), abs=1e-12)


def test_mean_table_needs_every_seed(stack):
    table = stack.mean_table()
    assert table.seed is None and table.metric == "score" and table.letters == ["A", "B"]
    assert table.column("all") == pytest.approx([0.5, 0.7, 0.6, 0.8], abs=1e-12)
    assert np.isnan(table.column("A")[0b11]) and table.status[0b11, 1] == ""
    assert table.column("A")[:3] == pytest.approx([0.4, 0.8, 0.4], abs=1e-12)
    assert table.status[0, 0] == "ok"


def test_unit_values_by_hand(stack):
    out = stack.unit_values("loo+shapley+banzhaf", ["all"])
    shapley = out["shapley"]
    assert shapley["per_seed"][:, :, 0] == pytest.approx(np.array([[0.15, 0.25], [0.35, 0.05], [0.10, 0.0]]), abs=1e-12)
    assert shapley["mean"][:, 0] == pytest.approx([0.2, 0.1], abs=1e-12)
    assert shapley["std"][0, 0] == pytest.approx(np.sqrt(0.0175), abs=1e-12)
    assert shapley["half_width"][0, 0] == pytest.approx(T_975_2 * np.sqrt(0.0175) / np.sqrt(3), rel=1e-6)
    assert shapley["n"][:, 0].tolist() == [3, 3]
    assert out["banzhaf"]["mean"] == pytest.approx(shapley["mean"], abs=1e-12)  # n = 2: the same weights
    loo = out["loo"]
    assert loo["per_seed"][:, 0, 0] == pytest.approx([0.2, 0.4, 0.0], abs=1e-12)
    assert loo["mean"][0, 0] == pytest.approx(0.2, abs=1e-12) and loo["std"][0, 0] == pytest.approx(0.2, abs=1e-12)


def test_unit_values_skip_a_seed_that_lacks_a_cell(stack):
    out = stack.unit_values("shapley+loo", ["A"])
    assert out["shapley"]["n"][:, 0].tolist() == [2, 2]
    assert np.isnan(out["shapley"]["per_seed"][2]).all()
    # LOO of A needs AB and B; LOO of B needs AB and A: both lack seed 2's AB.
    assert out["loo"]["n"][:, 0].tolist() == [2, 2]
    assert out["loo"]["mean"][:, 0] == pytest.approx([(0.5 + 0.5) / 2, (-0.1 + 0.3) / 2], abs=1e-12)


def test_metric_and_seed_choice(store, stack):
    with store.session() as session:
        other = load_seed_stack(session, "seeds", metric="other")
        assert other.seeds == [0] and other.values[0, 0b11, 0] == 0.7
        assert load_seed_stack(session, "seeds", seeds=[2, 0]).values[:, 1, 0].tolist() == [0.7, 0.6]
        with pytest.raises(NotFound, match="no cells for seed 7"):
            load_seed_stack(session, "seeds", seeds=[7])
        with pytest.raises(CfgraphError, match="named twice"):
            load_seed_stack(session, "seeds", seeds=[1, 1])
        with pytest.raises(NotFound, match="metric 'nope'"):
            load_seed_stack(session, "seeds", metric="nope")
    assert stack.table(1).column("all").tolist() == [0.5, 0.8, 0.5, 0.9]
    with pytest.raises(NotFound, match="slice 'zz'"):
        stack.unit_values("shapley", ["zz"])


@pytest.mark.parametrize("rng_seed", [0, 1, 2])
def test_mean_of_seed_values_is_the_value_of_the_mean_grid(rng_seed):
    rng = np.random.default_rng(rng_seed)
    s, n, m = 5, 4, 3
    stack = SeedStack(world="w", letters=list("ABCD"), labels=[str(k) for k in range(1 << n)],
                      slices=["x", "y", "z"], slice_masks=[None] * m, metric="score", seeds=list(range(s)),
                      values=rng.uniform(size=(s, 1 << n, m)))
    methods = summaries.parse_methods("all+beta:2,2")
    across = stack.unit_values(methods)
    of_mean, problems = summaries.value_arrays(stack.mean_table(), methods)
    assert not problems and set(across) == set(of_mean) == {"loo", "shapley", "banzhaf", "beta(16,1)", "beta(2,2)"}
    for name, value in of_mean.items():
        np.testing.assert_allclose(across[name]["mean"], value, rtol=0, atol=1e-12)
        assert (across[name]["n"] == s).all() and (across[name]["std"] > 0).all()


def test_mean_table_status_keeps_agreement_and_failures():
    values = np.array([[[0.5], [np.nan]], [[0.5], [0.9]]])
    status = np.array([[[1], [3]], [[1], [0]]], dtype=np.int8)  # baseline twice; failed, then ok
    stack = SeedStack(world="w", letters=["A"], labels=["∅", "A"], slices=["all"], slice_masks=[None],
                      metric="score", seeds=[0, 1], values=values, status=status)
    table = stack.mean_table()
    assert table.status[:, 0].tolist() == ["baseline", "failed"]
    assert table.values[0, 0] == 0.5 and np.isnan(table.values[1, 0])
    with pytest.raises(CfgraphError, match="shape"):
        SeedStack(world="w", letters=["A"], labels=["∅", "A"], slices=["all"], slice_masks=[None],
                  metric="score", seeds=[0], values=values)


@pytest.fixture(scope="module")
def wine_db(tmp_path_factory):
    """A trained world whose seeds matter: wine, 3 KMeans units, a decision tree, seeds 0, 1, 2."""
    from cfgraph.store import open_store

    path = tmp_path_factory.mktemp("wine") / "cfgraph.db"
    store = open_store(path)
    spec = make_spec(dataset="wine", group_by="kmeans", units=3, model="tree", metrics=["accuracy"],
                     seeds=[0, 1, 2], seed=0, test_size=0.3)
    build_world(store, "wine", spec, progress=False)
    store.close()
    return path


def test_trained_world_in_one_query_agrees_with_grid_summary(wine_db):
    from cfgraph.store import open_store

    store = open_store(wine_db)
    statements = []
    with store.session() as session:
        session.connection().connection.driver_connection.set_trace_callback(statements.append)
        stack = load_seed_stack(session, "wine")
        session.connection().connection.driver_connection.set_trace_callback(None)
    store.close()
    assert len([q for q in statements if " cell" in q]) == 1, statements
    assert stack.seeds == [0, 1, 2] and stack.values.shape == (3, 8, 4)
    summary = stack.cell_summary()
    assert (summary["n"][1:] == 3).all()
    assert np.nanmax(summary["std"]) > 0  # the seeds disagree somewhere
    with sqlite3.connect(wine_db) as conn:
        rows = conn.execute("SELECT train_set, eval_slice, mean, std, n FROM grid_summary "
                            "WHERE world = 'wine' AND metric = 'accuracy'").fetchall()
    present = summary["n"] > 0
    assert len(rows) == int(present.sum())
    for train_set, eval_slice, mean, std, count in rows:
        mask, j = stack.labels.index(train_set), stack.slices.index(eval_slice)
        assert count == summary["n"][mask, j]
        assert mean == pytest.approx(summary["mean"][mask, j], abs=1e-9)
        if count > 1:
            assert std == pytest.approx(summary["std"][mask, j], abs=1e-7)
        else:
            assert std is None
    values = stack.unit_values("shapley", ["all"])["shapley"]
    full = stack.mean_table().column("all")
    # Efficiency of the mean Shapley values: they sum to the mean of v(ABC) - v(∅).
    assert values["mean"][:, 0].sum() == pytest.approx(full[7] - full[0], abs=1e-12)
