"""Imported grids: unit letters in any order, names joined by '+', the empty set's spellings,
malformed files refused whole with their line number, and the seed's toy grid unchanged."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from click.testing import CliRunner

from cfgraph import lattice
from cfgraph.cli import main
from cfgraph.errors import CfgraphError
from cfgraph.grids import check_units, import_grid, infer_units, unit_labels
from cfgraph.resources import seed_file
from cfgraph.store.catalog import find_world, get_world
from cfgraph.store.cells import lattice_table


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def invoke(db, *args):
    return CliRunner().invoke(main, ["--db", str(db), *args])


def units_of(store, world):
    """(label, name) of each unit of a world, in bit order."""
    with store.session() as session:
        return [(u.label, u.name) for u in get_world(session, world).units]


def table_of(store, world, **kw):
    with store.session() as session:
        return lattice_table(session, world, **kw)


def dump(path):
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


CMW = """train_set,eval_slice,value
∅,all,0.10
C,all,0.40
MW,all,0.55
WMC,all,0.90
C+W,all,0.60
"""


def test_letters_in_any_order_make_one_unit_each(store, tmp_path):
    result = import_grid(store, write(tmp_path / "cmw.csv", CMW), "cmw")
    assert result == {"world": "cmw", "units": 3, "slices": 1, "cells": 5}
    assert units_of(store, "cmw") == [("C", "C"), ("M", "M"), ("W", "W")]
    table = table_of(store, "cmw")
    assert table.letters == ["C", "M", "W"]
    assert table.labels == ["∅", "C", "M", "CM", "W", "CW", "MW", "CMW"]
    column = table.column("all")
    # "WMC" is the full set, "C+W" joins letters with '+': both read as in the file.
    assert column[[0, 1, 6, 7, 5]].tolist() == [0.10, 0.40, 0.55, 0.90, 0.60]
    assert np.isnan(column[[2, 3, 4]]).all()  # M, CM, W: not in the file, missing


def test_sql_grid_reads_training_sets_in_the_files_letters(tmp_path):
    db = tmp_path / "g.db"
    result = invoke(db, "import-grid", str(write(tmp_path / "cmw.csv", CMW)), "--world", "cmw")
    assert result.exit_code == 0 and "over 3 units" in result.output, result.output
    rows = json.loads(invoke(db, "sql", "SELECT train_set, value FROM grid WHERE world='cmw' AND train_size=2 "
                                        "ORDER BY value", "--format", "json").output)
    assert rows == [{"train_set": "MW", "value": 0.55}, {"train_set": "CW", "value": 0.60}]


def test_units_option_sets_the_bit_order_and_keeps_units_without_cells(store, tmp_path):
    import_grid(store, write(tmp_path / "cmw.csv", CMW), "wcmx", units=["W", "C", "M", "X"])
    assert units_of(store, "wcmx") == [("W", "W"), ("C", "C"), ("M", "M"), ("X", "X")]
    table = table_of(store, "wcmx")
    full = table.mask_of("CMW")
    assert full == 0b0111 and table.labels[full] == "WCM"
    assert table.column("all")[full] == 0.90
    assert np.isnan(table.values[8:]).all()  # every training set with X is missing


def test_a_file_that_skips_a_letter_has_no_unit_for_it(store, tmp_path):
    path = write(tmp_path / "abd.csv", "train_set,eval_slice,value\nABD,A,0.9\nAB,A,0.5\nD,A,0.2\n")
    import_grid(store, path, "abd")
    assert [label for label, _ in units_of(store, "abd")] == ["A", "B", "D"]
    import_grid(store, path, "abcd", units=list("ABCD"))
    assert [label for label, _ in units_of(store, "abcd")] == ["A", "B", "C", "D"]


def test_names_joined_by_plus_are_units_labelled_in_sorted_order(store, tmp_path):
    body = ("train_set,eval_slice,value\n"
            "∅,qa,0.20\nweb,qa,0.41\ncode,qa,0.30\n\"math,code\",qa,0.44\nweb + math+code,qa,0.62\n")
    result = import_grid(store, write(tmp_path / "mix.csv", body), "mix")
    assert result["units"] == 3
    assert units_of(store, "mix") == [("A", "code"), ("B", "math"), ("C", "web")]
    table = table_of(store, "mix")
    column = table.column("qa")
    assert column[[0, 4, 1, 3, 7]].tolist() == [0.20, 0.41, 0.30, 0.44, 0.62]
    assert np.isnan(column[[2, 5, 6]]).all()


def test_single_lowercase_words_are_names(store, tmp_path):
    body = "train_set,eval_slice,value\ncode,qa,0.3\nmath,qa,0.4\n"
    import_grid(store, write(tmp_path / "words.csv", body), "words")
    assert units_of(store, "words") == [("A", "code"), ("B", "math")]


def test_json_cells_with_names_and_seeds(store, tmp_path):
    cells = [{"train_set": "fiction+science", "eval_slice": "science", "value": 0.6, "seed": 1},
             {"train_set": "science", "eval_slice": "science", "value": 0.5, "seed": "2"},
             {"train_set": "", "eval_slice": "science", "value": 0.1}]
    import_grid(store, write(tmp_path / "runs.json", json.dumps({"cells": cells})), "runs")
    with store.session() as session:
        world = get_world(session, "runs")
        assert [s.mask for s in world.slices] == [0b10]  # a slice named like a unit holds its test rows
        assert world.spec["seeds"] == [0, 1, 2]
    assert table_of(store, "runs", seed=1).column("science")[0b11] == 0.6
    assert table_of(store, "runs", seed=2).column("science")[0b10] == 0.5


def test_every_spelling_of_the_empty_set(store, tmp_path):
    spellings = sorted(lattice.EMPTY_SPELLINGS)
    lines = [f"{s},e{k},{k}" for k, s in enumerate(spellings)] + ["AB,e0,9"]
    import_grid(store, write(tmp_path / "empty.csv", "train_set,eval_slice,value\n" + "\n".join(lines) + "\n"), "e")
    table = table_of(store, "e")
    assert table.letters == ["A", "B"]
    assert table.values[0].tolist() == list(range(len(spellings)))
    assert np.isnan(table.values[1:3]).all() and table.values[3, 0] == 9


def test_a_file_of_only_empty_sets_needs_its_units(store, tmp_path):
    path = write(tmp_path / "e.csv", "train_set,eval_slice,value\n∅,all,0.5\n")
    with pytest.raises(CfgraphError, match="no units in any train_set"):
        import_grid(store, path, "e")
    import_grid(store, path, "e", units=["code", "math"])
    assert table_of(store, "e").column("all")[0] == 0.5


@pytest.mark.parametrize("body,needle", [
    ("CM,x,1\nC+∅,x,2\n", "line 3: '∅' spells the empty set"),
    ("CM,x,1\n7,x,2\n", "line 3: unit '7' in training set '7' is one character but not a letter"),
    ("CM,x,1\ncode++math,x,2\n", "line 3: training set 'code++math' has an empty unit name"),
    ("C+M,x,1\ncode,x,2\nCM,x,3\n", "line 4: 'CM' could be one unit or the units C, M"),
    ("C+M,x,1\nW,x,2\nCM,x,3\n", "line 4: duplicate cell (CM, x, score, seed 0); first at line 2"),
    ("CM,x,1\nMC,x,2\n", "line 3: duplicate cell (MC, x, score, seed 0); first at line 2"),
    ("CMM,x,1\n", "line 2: unit 'M' appears twice in training set 'CMM'"),
    ("ABCDEFGH,x,1\nIJKLMNOP,x,2\nQ,x,3\n", "line 4: unit 'Q' is unit number 17; an exhaustive lattice allows"),
    ("CM,x,1\nW,x,high\n", "line 3: value 'high' is not a number"),
    ("CM,x,1\nW,x,inf\n", "line 3: value 'inf' is not a finite number"),
    ("CM,x,1\nW,,2\n", "line 3: missing field 'eval_slice'"),
    ("CM,x,1,one\n", "line 2: seed 'one' is not an integer"),
])
def test_malformed_files_are_refused_whole_with_the_line(tmp_path, body, needle):
    db = tmp_path / "g.db"
    assert invoke(db, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy").exit_code == 0
    before = dump(db)
    header = "train_set,eval_slice,value,seed\n" if "one" in body else "train_set,eval_slice,value\n"
    result = invoke(db, "import-grid", str(write(tmp_path / "bad.csv", header + body)), "--world", "bad")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output
    assert dump(db) == before


def test_json_errors_name_the_record(store, tmp_path):
    cells = [{"train_set": "C", "eval_slice": "x", "value": 1}, {"train_set": "C+1", "eval_slice": "x", "value": 2}]
    with pytest.raises(CfgraphError, match="record 2: unit '1'"):
        import_grid(store, write(tmp_path / "bad.json", json.dumps(cells)), "bad")


@pytest.mark.parametrize("units,needle", [
    (["code+math"], r"may not contain '\+'"),
    (["C", "C"], "named twice"),
    (["∅"], "spells the empty set"),
    (list("ABCDEFGHIJKLMNOPQ"), "17 units"),
    ([], "at least one unit"),
])
def test_bad_unit_lists_are_refused(units, needle):
    with pytest.raises(CfgraphError, match=needle):
        check_units(units)


def test_labels_given_units_do_not_know_are_refused(store, tmp_path):
    path = write(tmp_path / "g.csv", "train_set,eval_slice,value\nC,x,1\nCMW,x,2\n")
    with pytest.raises(CfgraphError, match="line 3: unknown unit 'W'"):
        import_grid(store, path, "g", units=["C", "M"])
    with pytest.raises(CfgraphError, match="line 2: unknown unit 'C'"):
        import_grid(store, path, "g", units=["code", "math"])
    with store.session() as session:
        assert find_world(session, "g") is None


def test_infer_units_and_labels():
    assert infer_units([(2, "MWC"), (3, "∅")]) == ["C", "M", "W"]
    assert infer_units([(2, "C+M"), (3, "CMW")]) == ["C", "M", "W"]  # every label is letters
    assert infer_units([(2, "code+math"), (3, "CM")]) == ["CM", "code", "math"]  # no unit C or M: a name
    assert unit_labels(["W", "C"]) == ["W", "C"]
    assert unit_labels(["C", "code"]) == ["A", "B"]


def test_the_toy_grid_imports_to_the_same_world(store, tmp_path):
    result = import_grid(store, seed_file("toy_grid.csv"), "toy")
    assert result == {"world": "toy", "units": 4, "slices": 4, "cells": 16}
    assert units_of(store, "toy") == [(x, x) for x in "ABCD"]
    table = table_of(store, "toy")
    assert table.slices == ["A", "B", "C", "D"] and table.slice_masks == [1, 2, 4, 8]
    assert table.column("B")[table.mask_of("ACD")] == 0.55
    assert sorted(np.flatnonzero(~np.isnan(table.values).all(axis=1))) == [0b0011, 0b0111, 0b1101, 0b1111]
    db = tmp_path / "toy.db"
    invoke(db, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy")
    out = invoke(db, "sql", "SELECT value FROM grid WHERE world='toy' AND train_set='ACD' AND eval_slice='B'",
                 "--format", "json")
    assert json.loads(out.output) == [{"value": 0.55}]


def test_replace_swaps_an_imported_world(store, tmp_path):
    import_grid(store, write(tmp_path / "cmw.csv", CMW), "w")
    with pytest.raises(CfgraphError, match="already exists"):
        import_grid(store, seed_file("toy_grid.csv"), "w")
    import_grid(store, seed_file("toy_grid.csv"), "w", replace=True)
    assert [label for label, _ in units_of(store, "w")] == ["A", "B", "C", "D"]


@pytest.mark.parametrize("record,needle", [
    ({"train_set": ["A", "B"], "eval_slice": "x", "value": 1}, 'record 2: train_set must be text (a string), not list'),
    ({"train_set": 3, "eval_slice": "x", "value": 1}, "record 2: train_set must be text (a string), not int"),
    ({"train_set": "A", "eval_slice": ["x"], "value": 1}, "record 2: eval_slice must be text (a string), not list"),
    ({"train_set": "A", "eval_slice": 7, "value": 1}, "record 2: eval_slice must be text (a string), not int"),
    ({"train_set": "A", "eval_slice": "x", "value": 1, "metric": {"a": 1}}, "record 2: metric must be text"),
    ({"train_set": "A", "eval_slice": "x", "value": 1, "metric": 5}, "record 2: metric must be text"),
    ({"train_set": "A", "eval_slice": "x", "value": True}, "record 2: value true is not a number"),
    ({"train_set": "A", "eval_slice": "x", "value": [1]}, "record 2: value [1] is not a number"),
    ({"train_set": "A", "eval_slice": "x", "value": "abc"}, "record 2: value 'abc' is not a number"),
    ({"train_set": "A", "eval_slice": "x", "value": 10 ** 400}, "record 2: value"),
    ({"train_set": "A", "eval_slice": "x", "value": 1, "seed": 99999999999999999999}, "record 2: seed 99999999999999999999 is outside 0..4294967295"),
    ({"train_set": "A", "eval_slice": "x", "value": 1, "seed": -1}, "record 2: seed -1 is outside"),
    ({"train_set": "A", "eval_slice": "x", "value": 1, "seed": 2 ** 32}, "record 2: seed 4294967296 is outside"),
    ({"train_set": "A", "eval_slice": "x", "value": 1, "seed": 1.5}, "record 2: seed 1.5 is not an integer"),
    ({"train_set": "A", "eval_slice": "x", "value": 1, "seed": True}, "record 2: seed true is not an integer"),
    ({"train_set": "A", "eval_slice": "x", "value": 1, "seed": "1e3"}, "record 2: seed '1e3' is not an integer"),
])
def test_json_records_of_the_wrong_type_are_refused_whole(tmp_path, record, needle):
    db = tmp_path / "g.db"
    assert invoke(db, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy").exit_code == 0
    before = dump(db)
    cells = [{"train_set": "B", "eval_slice": "x", "value": 0.5}, record]
    result = invoke(db, "import-grid", str(write(tmp_path / "bad.json", json.dumps(cells))), "--world", "bad")
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output
    assert dump(db) == before


@pytest.mark.parametrize("seed,needle", [
    ("-1", "line 3: seed -1 is outside 0..4294967295"), ("99999999999999999999", "line 3: seed 99999999999999999999"),
    ("4294967296", "line 3: seed 4294967296 is outside"), ("2.5", "line 3: seed '2.5' is not an integer"),
])
def test_csv_seeds_outside_random_states_range_are_refused(tmp_path, seed, needle):
    db = tmp_path / "g.db"
    assert invoke(db, "import-grid", str(seed_file("toy_grid.csv")), "--world", "toy").exit_code == 0
    before = dump(db)
    body = f"train_set,eval_slice,value,seed\nA,x,0.5,0\nB,x,0.5,{seed}\n"
    result = invoke(db, "import-grid", str(write(tmp_path / "bad.csv", body)), "--world", "bad")
    assert result.exit_code == 2 and needle in result.output and len(result.output.strip().splitlines()) == 1, \
        result.output
    assert dump(db) == before


def test_the_largest_seed_imports(store, tmp_path):
    body = "train_set,eval_slice,value,seed\nA,x,0.5,4294967295\nA,x,0.7,0\n"
    import_grid(store, write(tmp_path / "g.csv", body), "g")
    assert table_of(store, "g", seed=4294967295).column("x")[1] == 0.5


@pytest.mark.parametrize("labels", [["CM", "C", "M"], ["MC", "M", "C"], ["CMW", "CM", "C", "M", "W"]])
def test_in_a_letters_file_cm_beside_c_and_m_is_the_units_c_and_m(store, tmp_path, labels):
    body = "train_set,eval_slice,value\n" + "".join(f"{t},x,{k / 10}\n" for k, t in enumerate(labels))
    import_grid(store, write(tmp_path / "g.csv", body), "g")
    table = table_of(store, "g")
    assert table.letters == sorted(set("".join(labels)))
    full = table.mask_of(labels[0])
    assert full.bit_count() == len(labels[0]) and table.column("x")[full] == 0.0


@pytest.mark.parametrize("labels,line", [(["code", "C", "M", "CM"], 5), (["C+M", "web", "CM"], 4),
                                         (["MW", "M", "W", "math"], 2)])
def test_in_a_names_file_cm_beside_c_and_m_is_ambiguous(store, tmp_path, labels, line):
    body = "train_set,eval_slice,value\n" + "".join(f"{t},x{k},0.5\n" for k, t in enumerate(labels))
    with pytest.raises(CfgraphError, match=f"line {line}: '(CM|MW)' could be one unit or the units"):
        import_grid(store, write(tmp_path / "g.csv", body), "g")
    with store.session() as session:
        assert find_world(session, "g") is None
