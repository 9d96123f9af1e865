"""The guided scenarios: every answer against an independent computation from the stored cells.

Cells are read straight from the ``grid`` SQL view with sqlite3; the expected
values are computed by brute force here (loops over the 16 or 32 training sets,
permutations for a Shapley value), never by the library code the scenarios call.
"""

from __future__ import annotations

import html
import itertools
import math
import re
import sqlite3

import pytest

from cfgraph.errors import NotFound
from cfgraph.scenarios import BUDGET, BY_KEY, SCENARIOS, get_scenario
from cfgraph.store import open_store
from cfgraph.web import create_app

TOL = 0.15


@pytest.fixture(scope="module")
def store(demo_db):
    s = open_store(demo_db, create=False)
    yield s
    s.close()


@pytest.fixture(scope="module")
def f(demo_db):
    """f(world, train, slice, seed=0): one stored cell, read with SQL (None when absent)."""
    con = sqlite3.connect(f"file:{demo_db}?mode=ro", uri=True)

    def read(world, train, slice_, seed=0):
        row = con.execute("SELECT value FROM grid WHERE world = ? AND train_set = ? AND eval_slice = ? AND seed = ?",
                          (world, train, slice_, seed)).fetchone()
        return None if row is None else row[0]

    read.con = con
    yield read
    con.close()


def labels(letters: str) -> list[str]:
    """Every training set of the units, as the grid labels them (∅ for the empty set)."""
    return ["".join(c) or "∅" for k in range(len(letters) + 1) for c in itertools.combinations(letters, k)]


def answer(store, key):
    return get_scenario(key).answer(store)


def test_there_are_the_issue_scenarios_with_their_frame():
    assert {"removal", "strike", "eval-shift", "scaling", "poisoning", "unlearning", "budget",
            "toy-missing"} <= set(BY_KEY)
    for s in SCENARIOS:
        assert s.fixed and s.changes and s.limit and s.question and s.world in s.worlds


def test_removal_is_the_full_set_minus_the_set_without_B(store, f):
    a = answer(store, "removal")
    assert a.value == pytest.approx(f("digits", "ABCD", "all") - f("digits", "ACD", "all"))
    for row in a.rows:
        for seed, value in zip((0, 1), row[1:]):
            assert value == pytest.approx(f("digits", "ABCD", row[0], seed) - f("digits", "ACD", row[0], seed))
    assert {(c.train, c.slice, c.seed) for c in a.cells} >= {("ABCD", "all", 0), ("ACD", "all", 0)}


def test_strike_steps_and_total_and_the_strongest_pair(store, f):
    a = answer(store, "strike")
    full, acd, ac = (f("digits", t, "all") for t in ("ABCD", "ACD", "AC"))
    assert a.value == pytest.approx(full - ac)
    assert [r[4] for r in a.rows[1:]] == pytest.approx([full - acd, acd - ac])
    assert [r[1] for r in a.rows[1:]] == ["B", "D"]
    drops = {"".join(c): full - f("digits", "".join(sorted(set("ABCD") - set(c))), "all")
             for c in itertools.combinations("ABCD", 2)}
    strongest = max(drops, key=drops.get)
    assert f"{strongest} would hurt most" in a.summary
    assert a.changes.startswith("B leaves ABCD, then D leaves ACD: ABCD → ACD → AC")
    assert a.rows[0][1] == a.rows[0][4] == "—"  # no drop before the first step: not applicable, not missing
    assert not a.missing and a.status == "answered"


def _chain_steps(text):
    """Consecutive training sets of every "S → T → ..." chain in a scenario's text."""
    steps = []
    for chain in re.findall(r"[A-Z∅]+(?: → [A-Z∅]+)+", text):
        sets = chain.split(" → ")
        steps += list(zip(sets, sets[1:]))
    return steps


def test_what_changes_names_the_sets_the_answer_walks(demo_db, store):
    """Every "U leaves S" of a page's "What changes" is a step S → S minus U of its chain, and every step of a
    chain moves one unit along a lattice edge (the probe found "then D leaves ABD" on the path ABCD → ACD → AC)."""
    client = create_app({"DATABASE_URL": str(demo_db)}).test_client()
    for s in SCENARIOS:
        page = client.get(f"/scenarios/{s.key}").text
        text = html.unescape(page.split('id="changes">')[1].split("</dd>")[0])
        steps = _chain_steps(text)
        for before, after in steps:
            assert len(set(before) ^ set(after.replace("∅", ""))) == 1 and (
                set(after) <= set(before) or set(before) <= set(after)), (s.key, text)
        for unit, left in re.findall(r"\b([A-Z]) leaves ([A-Z]+)", text):
            assert (left, "".join(c for c in left if c != unit)) in steps, (s.key, text)
    strike = client.get("/scenarios/strike").text
    assert "then D leaves ACD" in strike and "leaves ABD" not in strike


def test_not_applicable_is_not_missing_and_counts_are_integers(demo_db, store, f):
    client = create_app({"DATABASE_URL": str(demo_db)}).test_client()
    sizes = dict(f.con.execute("SELECT u.label, u.size FROM unit u JOIN world w ON w.id = u.world_id "
                               "WHERE w.name = 'digits'").fetchall())
    budget = answer(store, "budget")
    assert budget.rows[3][2] == sum(sizes[u] for u in budget.rows[3][1])  # the scan's set has a cost: CD's rows
    assert all(isinstance(r[2], int) for r in budget.rows if r[0] != budget.rows[2][0])
    page = client.get("/scenarios/budget").text
    assert f'<td class="num">{budget.rows[3][2]}</td>' in page and ".0000</td>" not in page.split("rows (cost)")[1]
    for s in SCENARIOS:
        page = client.get(f"/scenarios/{s.key}").text
        a = s.answer(store)
        detail = page.split('id="detail"')[1].split("</table>")[0] if 'id="detail"' in page else ""
        # a hatched "missing" cell only where the answer has a value it could not compute
        assert ('class="num missing"' in detail) == any(v is None for r in a.rows for v in r), s.key
        assert detail.count('title="not applicable"') == sum(v == "—" for r in a.rows for v in r), s.key
    strike = client.get("/scenarios/strike").text.split('id="detail"')[1].split("</table>")[0]
    assert 'title="not applicable"' in strike and "missing" not in strike


def test_evaluation_shift_is_the_same_row_on_two_slices(store, f):
    a = answer(store, "eval-shift")
    assert a.value == pytest.approx(f("digits", "ABC", "D") - f("digits", "ABC", "C"))
    assert [c.train for c in a.cells] == ["ABC", "ABC"]


def test_scaling_layer_means_and_rows(store, f):
    a = answer(store, "scaling")
    sizes = dict(f.con.execute("SELECT u.label, u.size FROM unit u JOIN world w ON w.id = u.world_id "
                               "WHERE w.name = 'digits'").fetchall())
    for k, rows, mean, count in a.rows:
        layer = [t for t in labels("ABCD") if len(t.replace("∅", "")) == k]
        assert count == len(layer) == math.comb(4, k)
        assert mean == pytest.approx(sum(f("digits", t, "all") for t in layer) / len(layer))
        assert rows == pytest.approx(sum(sizes.get(u, 0) for t in layer for u in t) / len(layer))
    assert a.value == pytest.approx(a.rows[2][2])


def test_poisoning_delta_is_the_variant_pair_difference(store, f):
    a = answer(store, "poisoning")
    for s, base, poisoned, delta, mean, shapley in a.rows:
        assert delta == pytest.approx(f("digits-poison", "ABCDE", s) - f("digits", "ABCD", s))
        assert base == pytest.approx(f("digits", "ABCD", s))
        honest = labels("ABCD")
        with_e = [t.replace("∅", "") + "E" for t in honest]
        assert mean == pytest.approx(sum(f("digits-poison", p, s) - f("digits-poison", t, s)
                                         for p, t in zip(with_e, honest)) / 16)
        # Shapley value of E by brute force over all 120 orders of the five units
        total = 0.0
        for order in itertools.permutations("ABCDE"):
            before = "".join(sorted(order[:order.index("E")])) or "∅"
            total += f("digits-poison", before.replace("∅", "") + "E", s) - f("digits-poison", before, s)
        assert shapley == pytest.approx(total / 120)
    assert a.value == pytest.approx(f("digits-poison", "ABCDE", "A") - f("digits", "ABCD", "A"))
    # the poisoned world's sets without E are the parent's cells
    assert f("digits-poison", "BC", "all") == f("digits", "BC", "all")


def test_unlearning_audit_against_exact_retraining(store, f):
    a = answer(store, "unlearning")
    without_a = [t for t in labels("ABCD") if "A" not in t]
    assert len(without_a) == 8
    for s, max_gap, mean_gap, within in a.rows:
        gaps = [abs(f("digits-unlearn", t, s) - f("digits", t, s)) for t in without_a]
        assert max_gap == pytest.approx(max(gaps))
        assert mean_gap == pytest.approx(sum(gaps) / len(gaps))
        assert within == ("yes" if max(gaps) <= TOL else "no")
    probe = abs(f("digits", "ABCD", "all") - f("digits", "BCD", "all"))
    assert f"{probe:.4f}" in a.summary
    assert ("kept A would pass" in a.summary) == (probe <= TOL)
    assert len(a.cells) == 2 * 8 * 5


def test_budget_best_set_is_the_brute_force_argmax(store, f):
    a = answer(store, "budget")
    sizes = dict(f.con.execute("SELECT u.label, u.size FROM unit u JOIN world w ON w.id = u.world_id "
                               "WHERE w.name = 'digits'").fetchall())
    affordable = [t for t in labels("ABCD") if sum(sizes.get(u, 0) for u in t) <= BUDGET]
    best = max(affordable, key=lambda t: f("digits", t, "all"))
    assert a.rows[0][1] == best and a.value == pytest.approx(f("digits", best, "all"))
    assert a.rows[0][2] == sum(sizes[u] for u in best)
    pairs = [t for t in labels("ABCD") if len(t) == 2]
    best2 = max(pairs, key=lambda t: f("digits", t, "all"))
    assert a.rows[3][1] == best2 and a.rows[3][3] == pytest.approx(f("digits", best2, "all"))
    assert sorted(c.train for c in a.cells) == sorted(affordable)


def test_toy_keeps_its_missing_cells_missing(store, f):
    a = answer(store, "toy-missing")
    assert a.value == pytest.approx(0.88 - 0.55)  # the seed's grid: f(ABCD, B) - f(ACD, B)
    known = {"AB", "ABC", "ABCD", "ACD"}
    assert {c.train for c in a.missing} == set(labels("ABCD")) - known
    assert all(c.value is None and f("toy", c.train, "B") is None for c in a.missing)
    assert all(c.value is not None for c in a.cells) and {c.train for c in a.cells} == known
    shapley = next(r for r in a.rows if r[0] == "Shapley value")
    assert shapley[1] == "missing" and shapley[2] is None and shapley[4] == 12
    assert a.status == "partial"


def test_seeds_differ_exactly_where_sql_says(store, f):
    a = answer(store, "seeds")
    differ = f.con.execute(
        "SELECT g0.train_set, g0.eval_slice FROM grid g0 JOIN grid g1 ON g1.world = g0.world AND "
        "g1.train_set = g0.train_set AND g1.eval_slice = g0.eval_slice AND g1.seed = 1 "
        "WHERE g0.world = 'digits' AND g0.seed = 0 AND g0.value != g1.value").fetchall()
    assert sorted((r[0], r[1]) for r in a.rows) == sorted(differ)
    assert a.value == pytest.approx(max(abs(r[4]) for r in a.rows))


def test_a_missing_world_names_the_command(iris_db):
    s = open_store(iris_db, create=False)
    try:
        with pytest.raises(NotFound, match="digits.*cfgraph demo"):
            get_scenario("removal").answer(s)
        assert get_scenario("toy-missing").answer(s).value == pytest.approx(0.33)
    finally:
        s.close()
    client = create_app({"DATABASE_URL": str(iris_db)}).test_client()
    page = client.get("/scenarios/poisoning")
    assert page.status_code == 404 and "cfgraph demo" in page.text and "Traceback" not in page.text
    listing = client.get("/scenarios")
    assert listing.status_code == 200 and "build it with" in listing.text
    assert client.get("/scenarios/nothing").status_code == 404
    api = client.get("/api/scenarios/removal")
    assert api.status_code == 404 and "cfgraph demo" in api.json["error"]


def test_pages_link_to_grid_lattice_and_lab(demo_db, store):
    client = create_app({"DATABASE_URL": str(demo_db)}).test_client()
    listing = client.get("/scenarios")
    assert listing.status_code == 200
    for s in SCENARIOS:
        assert f'href="/scenarios/{s.key}"' in listing.text
        page = client.get(f"/scenarios/{s.key}")
        assert page.status_code == 200, s.key
        for part in ("Held fixed", "What changes", "The limit of what it shows", s.limit.split(".")[0][:40]):
            assert part.replace("'", "&#39;") in page.text, (s.key, part)
        value = s.answer(store).value
        assert f"{value:.4f}" in page.text or f"{value:.4f}".replace("-", "−") in page.text
        grid = page.text.split('id="open-grid" href="')[1].split('"')[0].replace("&amp;", "&")
        grid_page = client.get(grid)
        assert grid_page.status_code == 200, grid
        chosen = [v.replace("%3A", ":") for k, v in s.grid if k == "cell"]
        for cell in chosen:
            train, slice_ = cell.split(":")
            assert f'<span class="chip">{train} : {slice_}</span>' in grid_page.text, (s.key, cell)
        lattice = page.text.split('id="open-lattice" href="')[1].split('"')[0].replace("&amp;", "&")
        assert client.get(lattice).status_code == 200, lattice
        doc = client.get(f"/api/scenarios/{s.key}").json
        assert doc["answer"]["value"] == pytest.approx(value) and doc["limit"] == s.limit
        if 'id="open-lab"' in page.text:
            lab = page.text.split('id="open-lab" href="')[1].split('"')[0].replace("&amp;", "&")
            assert lab.startswith("/lab?a=") and client.get(lab).status_code == 200
