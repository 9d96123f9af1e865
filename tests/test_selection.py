"""Selections of grid cells and the focus they give the questions, without Flask."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cfgraph import lattice
from cfgraph.errors import CfgraphError, NotFound
from cfgraph.selection import (DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_TOLERANCE, Selection, parse_float, parse_int,
                               parse_selection, resolve, selection_params)


@pytest.fixture
def grid():
    letters = "ABCD"
    return SimpleNamespace(values=np.full((16, 3), np.nan), labels=lattice.all_labels(letters), letters=letters,
                           slices=["A", "B", "x:y"], slice_masks=[1, 2, None])


def test_parse_selection_reads_cells_rows_columns_and_layer(grid):
    sel = parse_selection(grid, cells=["ACD:B", "DCA:B", "∅:x:y"], rows=["AB", "BA"], columns=["x:y"], layer="2")
    assert sel.cells == ((13, 1), (0, 2))  # "DCA" is ACD again; the slice name may hold ":"
    assert sel.rows == (3,) and sel.columns == (2,) and sel.layer == 2
    assert not sel.empty and Selection().empty and not Selection(layer=0).empty


@pytest.mark.parametrize("kwargs,error,needle", [
    (dict(cells=["ACD"]), CfgraphError, "malformed cell"),
    (dict(cells=["ACD:"]), CfgraphError, "malformed cell"),
    (dict(cells=["ACE:B"]), NotFound, "unknown training set"),
    (dict(cells=["AC:Z"]), NotFound, "no evaluation slice 'Z'"),
    (dict(columns=["Z"]), NotFound, "no evaluation slice"),
    (dict(layer="5"), CfgraphError, "out of range 0..4"),
    (dict(layer="two"), CfgraphError, "must be an integer"),
])
def test_parse_selection_refuses_bad_input_with_one_line(grid, kwargs, error, needle):
    with pytest.raises(error, match=needle) as err:
        parse_selection(grid, **kwargs)
    assert "\n" not in str(err.value)
    assert type(err.value) is error


def test_selection_params_invert_parse_selection(grid):
    sel = parse_selection(grid, cells=["ACD:B", "∅:x:y"], rows=["AB"], columns=["A"], layer=0)
    params = selection_params(grid, sel)
    assert params == {"cell": ["ACD:B", "∅:x:y"], "row": ["AB"], "col": ["A"], "layer": ["0"]}
    assert parse_selection(grid, params["cell"], params["row"], params["col"], params["layer"][0]) == sel
    assert selection_params(grid, Selection()) == {}


def test_parse_int_and_parse_float():
    assert parse_int(None, "k") is None and parse_int(" ", "k") is None and parse_int(" 3 ", "k", 0, 4) == 3
    with pytest.raises(CfgraphError, match="k=5 is out of range 0..4"):
        parse_int("5", "k", 0, 4)
    assert parse_float("", "alpha", 16.0) == 16.0 and parse_float("2.5", "alpha", 16.0) == 2.5
    for bad in ("0", "-1", "nan", "inf", "x"):
        with pytest.raises(CfgraphError, match="alpha must be"):
            parse_float(bad, "alpha", 16.0)


def test_default_focus_is_the_full_set_on_the_first_slice(grid):
    focus = resolve(grid, Selection())
    assert (focus.train, focus.column, focus.other_column) == (15, 0, None)
    assert focus.unit == 0 and focus.pair == (0, 1) and focus.coalition == 0b0011 and focus.k == 4
    assert (focus.alpha, focus.beta, focus.tolerance) == (DEFAULT_ALPHA, DEFAULT_BETA, DEFAULT_TOLERANCE)


def test_two_cells_one_unit_apart_give_the_loo_unit_and_the_larger_set(grid):
    focus = resolve(grid, parse_selection(grid, cells=["ACD:B", "ABCD:B"]))
    assert (focus.train, focus.column, focus.unit) == (15, 1, 1)
    assert focus.pair == (1, 0)  # the focus unit and the first other unit of S


def test_two_cells_several_units_apart_give_the_strike_coalition(grid):
    focus = resolve(grid, parse_selection(grid, cells=["AB:A", "ABCD:A"]))
    assert focus.train == 15 and focus.coalition == 0b1100 and focus.unit == 0


def test_two_cells_in_one_row_give_the_evaluation_move(grid):
    focus = resolve(grid, parse_selection(grid, cells=["AB:B", "AB:x:y"]))
    assert (focus.train, focus.column, focus.other_column) == (3, 1, 2)
    focus = resolve(grid, parse_selection(grid, rows=["AB"], columns=["B", "A"]))
    assert (focus.train, focus.column, focus.other_column) == (3, 1, 0)


def test_explicit_parameters_win(grid):
    sel = parse_selection(grid, cells=["ACD:B", "ABCD:B"], layer="1")
    focus = resolve(grid, sel, unit="D", pair="C+A", coalition="BD", k="3", alpha="2", beta="5", tolerance="0.05")
    assert focus.unit == 3 and focus.pair == (2, 0) and focus.coalition == 0b1010 and focus.k == 3
    assert (focus.alpha, focus.beta, focus.tolerance) == (2.0, 5.0, 0.05)
    assert resolve(grid, sel).k == 1  # the selected layer, when k is not given


@pytest.mark.parametrize("kwargs,error,needle", [
    (dict(unit="E"), NotFound, "unknown unit 'E'"),
    (dict(pair="AA"), CfgraphError, "two different unit letters"),
    (dict(pair="ABC"), CfgraphError, "two different unit letters"),
    (dict(coalition="∅"), CfgraphError, "must not be empty"),
    (dict(k="9"), CfgraphError, "out of range"),
    (dict(alpha="0"), CfgraphError, "alpha must be"),
])
def test_resolve_refuses_bad_parameters(grid, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        resolve(grid, Selection(), **kwargs)


def test_resolve_needs_a_slice(grid):
    grid.slices, grid.slice_masks = [], []
    with pytest.raises(CfgraphError, match="no evaluation slices"):
        resolve(grid, Selection())


def test_the_empty_training_set_focuses_on_unit_a(grid):
    focus = resolve(grid, parse_selection(grid, cells=["∅:A"]))
    assert focus.train == 0 and focus.unit == 0 and focus.coalition == 0b0001 and focus.k == 0
