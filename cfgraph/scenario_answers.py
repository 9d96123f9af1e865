"""The answers of the guided scenarios (:mod:`cfgraph.scenarios`), computed through the core.

Each function takes an open session, reads the demo's worlds through
:class:`cfgraph.world.World`, and asks the grid's questions
(:meth:`~cfgraph.world.World.questions`) or the variant functions
(:func:`cfgraph.variants.strike_path`, :func:`~cfgraph.variants.budget_report`):
no formula is written here again. The scenarios that compare a variant with its parent
are in :mod:`cfgraph.scenario_variants`.
Every number is read at model seed 0 unless the scenario compares seeds.
"""

from __future__ import annotations

import numpy as np

from cfgraph.demo import DEMO_WORLD, TOY_WORLD
from cfgraph.display import fixed
from cfgraph.scenarios import BUDGET, ScenarioAnswer, UsedCell
from cfgraph.world import World

SEED = 0
SLICE = "all"
#: A table cell that does not apply (the drop before the first step, a set that is no one set):
#: rendered "—" with the title "not applicable", never as a missing cell (None).
NOT_APPLICABLE = "—"


def _n(x) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def _f(x) -> str:
    return fixed(x, 4, missing="?")


def _ask(world: World, table, key: str, cells, **focus):
    """One core question's answer for a selection of cells."""
    return world.questions(table, cells=list(cells), keys=[key], **focus).answers[0]


def _used(world: str, seed, refs) -> list[UsedCell]:
    return [UsedCell(world, c.train, c.slice, seed, c.value) for c in refs]


def _count(x):
    """A count (rows, training sets) as an int when it is whole, so it prints as one."""
    x = float(x)
    return int(x) if x.is_integer() else x


def _path(labels: list[str], leaving: list[str]) -> str:
    """What changes along a path of training sets, from the sets themselves.

    >>> _path(["ABCD", "ACD", "AC"], ["B", "D"])
    'B leaves ABCD, then D leaves ACD: ABCD → ACD → AC'
    """
    steps = [f"{u} leaves {t}" for u, t in zip(leaving, labels)]
    return ", then ".join(steps) + ": " + " → ".join(labels)


def _changes(answer: ScenarioAnswer, text: str) -> None:
    """Set what changes, computed from the data (the page shows it instead of the scenario's own text)."""
    answer.changes = text


def _status(answer: ScenarioAnswer) -> ScenarioAnswer:
    if answer.missing:
        answer.status = "partial" if answer.value is not None else "missing"
    return answer


def removal(session) -> ScenarioAnswer:
    """LOO of unit B from ABCD on every slice and both seeds (the question ``loo``).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session of a store holding the demo's worlds.

    Returns
    -------
    ScenarioAnswer

    Raises
    ------
    NotFound
        If a world it reads is not stored.

    References
    ----------
    Cook (1977), "Detection of influential observation in linear regression".

    Examples
    --------
    The demo's worlds must be stored (``cfgraph demo``):

    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as session:
    ...     removal(session)
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits' (stored: none)
    """
    w = World.open(session, DEMO_WORLD)
    out = ScenarioAnswer(None, "", columns=["slice"] + [f"LOO of B, seed {s}" for s in w.seeds])
    by_slice: dict[str, list] = {}
    for seed in w.seeds:
        table = w.table(seed=seed)
        for s in table.slices:
            a = _ask(w, table, "loo", [f"ABCD:{s}", f"ACD:{s}"], unit="B")
            by_slice.setdefault(s, []).append(a.value)
            out.cells += _used(w.name, seed, a.cells)
            out.missing += _used(w.name, seed, a.missing)
            if seed == SEED and s == SLICE:
                out.value, out.worked = a.value, a.worked
    out.rows = [[s] + values for s, values in by_slice.items()]
    full = (1 << w.n) - 1
    _changes(out, f"unit B (one KMeans cluster of training rows) is removed from {w.label_of(full)}: "
                  f"{w.label_of(full)} → {w.label_of(full & ~(1 << w.letters.index('B')))}")
    worst = max(by_slice, key=lambda s: by_slice[s][0] if by_slice[s][0] is not None else -np.inf)
    out.summary = (f"Without B the model scores {_f(out.value)} less on all test rows "
                   f"(LOO = f(ABCD) − f(ACD)); the loss is largest on slice {worst} "
                   f"({_f(by_slice[worst][0])}), B's own test rows. "
                   + ("Every seed gives the same values." if all(len(set(v)) == 1 for v in by_slice.values())
                      else "The seeds disagree: read the table."))
    return _status(out)


def strike(session) -> ScenarioAnswer:
    """Coalition BD leaves ABCD, B first: the strike path and the group LOO (question ``group_loo``).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session of a store holding the demo's worlds.

    Returns
    -------
    ScenarioAnswer

    Raises
    ------
    NotFound
        If a world it reads is not stored.

    References
    ----------
    Vincent, Li, Tilly, Chancellor & Hecht (2021), "Data leverage".

    Examples
    --------
    The demo's worlds must be stored (``cfgraph demo``):

    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as session:
    ...     strike(session)
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits' (stored: none)
    """
    from cfgraph.variants import strike_extremes, strike_path

    w = World.open(session, DEMO_WORLD)
    table = w.table(seed=SEED)
    column = table.column(SLICE)
    letters = w.letters
    path = strike_path(column, [letters.index("B"), letters.index("D")])
    group = _ask(w, table, "group_loo", ["ABCD:all", "AC:all"], coalition="BD")
    labels = [w.label_of(m) for m in path["masks"]]
    out = ScenarioAnswer(group.value, "", worked=group.worked,
                         columns=["step", "leaves", "training set", "score", "drop"])
    leaving = [letters[(path["masks"][t] & ~path["masks"][t + 1]).bit_length() - 1]
               for t in range(len(path["drops"]))]
    out.rows = [[0, NOT_APPLICABLE, labels[0], float(path["values"][0]), NOT_APPLICABLE]]
    out.rows += [[t + 1, leaving[t], labels[t + 1], float(path["values"][t + 1]), float(path["drops"][t])]
                 for t in range(len(path["drops"]))]
    _changes(out, f"{_path(labels, leaving)} (one edge of the lattice per step)")
    out.cells = [UsedCell(w.name, lab, SLICE, SEED, float(v)) for lab, v in zip(labels, path["values"])]
    ext = strike_extremes(column)
    k2 = list(ext["sizes"]).index(2)
    strongest = int(ext["strongest"][k2])
    left = w.label_of(path["masks"][0] & ~strongest)
    out.summary = (f"Together B and D cost the model {_f(group.value)} on all test rows: "
                   f"{_f(path['drops'][0])} when B leaves {labels[0]}, then {_f(path['drops'][1])} when D leaves "
                   f"{labels[1]}. Of all pairs, a strike by {w.label_of(strongest)} would hurt most "
                   f"({_f(ext['strongest_drop'][k2])}, leaving {left}).")
    return out


def eval_shift(session) -> ScenarioAnswer:
    """ABC scored on slice C, then on slice D (question ``eval_move``), with ABC's score on every slice.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session of a store holding the demo's worlds.

    Returns
    -------
    ScenarioAnswer

    Raises
    ------
    NotFound
        If a world it reads is not stored.

    References
    ----------
    Koh et al. (2021), "WILDS: a benchmark of in-the-wild distribution shifts".

    Examples
    --------
    The demo's worlds must be stored (``cfgraph demo``):

    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as session:
    ...     eval_shift(session)
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits' (stored: none)
    """
    w = World.open(session, DEMO_WORLD)
    table = w.table(seed=SEED)
    a = _ask(w, table, "eval_move", ["ABC:C", "ABC:D"])
    scores = w.cells_at([w.mask_of("ABC")], seed=SEED)[0]
    out = ScenarioAnswer(a.value, "", worked=a.worked, columns=["slice", "f(ABC, slice)"],
                         rows=[[s, _n(v)] for s, v in zip(table.slices, scores)],
                         cells=_used(w.name, SEED, a.cells), missing=_used(w.name, SEED, a.missing))
    out.summary = (f"The same model trained on ABC scores {_f(a.cells[0].value)} on C's test rows and "
                   f"{_f(a.cells[1].value)} on D's: a shift of {_f(a.value)}, with nothing retrained.")
    return _status(out)


def scaling(session) -> ScenarioAnswer:
    """Layer means on slice ``all`` (question ``scaling``), with each layer's mean training rows.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session of a store holding the demo's worlds.

    Returns
    -------
    ScenarioAnswer

    Raises
    ------
    NotFound
        If a world it reads is not stored.

    References
    ----------
    Hestness et al. (2017); Kaplan et al. (2020), "Scaling laws for neural language models".

    Examples
    --------
    The demo's worlds must be stored (``cfgraph demo``):

    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as session:
    ...     scaling(session)
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits' (stored: none)
    """
    from cfgraph.variants.market import coalition_costs

    w = World.open(session, DEMO_WORLD)
    table = w.table(seed=SEED)
    a = _ask(w, table, "scaling", ["ABCD:all"], k="2")
    rows = coalition_costs([u.size for u in w.units])
    sizes = np.array([m.bit_count() for m in range(1 << w.n)])
    out = ScenarioAnswer(a.value, "", worked=a.worked,
                         columns=["k (units)", "mean training rows", "mean score", "training sets"],
                         cells=_used(w.name, SEED, a.cells), missing=_used(w.name, SEED, a.missing))
    out.rows = [[k, float(rows[sizes == k].mean()), mean, every] for k, mean, _, every in a.table]
    means = [r[2] for r in out.rows]
    out.summary = (f"Mean accuracy on all test rows rises from {_f(means[0])} (no data) to {_f(means[1])} with one "
                   f"unit, {_f(means[2])} with two, {_f(means[3])} with three and {_f(means[4])} with all four"
                   + (": each added unit helps less than the one before." if np.all(np.diff(means, 2) < 0) else "."))
    return _status(out)




def budget(session) -> ScenarioAnswer:
    """The best set within 700 rows (:func:`budget_report`) and the best of size 2 (question ``subset_scan``).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session of a store holding the demo's worlds.

    Returns
    -------
    ScenarioAnswer

    Raises
    ------
    NotFound
        If a world it reads is not stored.

    References
    ----------
    Agarwal, Dahleh & Sarkar (2019), "A marketplace for data: an algorithmic solution".

    Examples
    --------
    The demo's worlds must be stored (``cfgraph demo``):

    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as session:
    ...     budget(session)
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits' (stored: none)
    """
    from cfgraph.variants import budget_report
    from cfgraph.variants.market import coalition_costs

    w = World.open(session, DEMO_WORLD)
    table = w.table(seed=SEED)
    column = table.column(SLICE)
    prices = [u.size for u in w.units]
    report = budget_report(column, prices, BUDGET)
    best, greedy, rand = report["best"], report["greedy"], report["random"]
    scan = _ask(w, table, "subset_scan", ["ABCD:all"], k="2")
    out = ScenarioAnswer(best["value"], "", worked=scan.worked,
                         columns=["choice", "training set", "rows (cost)", "score"])
    costs = coalition_costs(prices)
    scan_set = scan.table[0][1]
    out.rows = [["best within the budget (exact)", w.label_of(best["mask"]), _count(best["cost"]), best["value"]],
                ["greedy by Shapley value per row", w.label_of(greedy["mask"]), _count(greedy["cost"]),
                 greedy["value"]],
                [f"random affordable sets (mean of {rand['trials']})", NOT_APPLICABLE, _count(rand["cost"]),
                 rand["value"]],
                ["best of size 2 (subset scan)", scan_set, _count(costs[w.mask_of(scan_set)]), scan.value]]
    affordable = np.flatnonzero(costs <= BUDGET)
    out.cells = [UsedCell(w.name, w.label_of(m), SLICE, SEED, _n(column[m])) for m in affordable.tolist()]
    out.summary = (f"Within {BUDGET} training rows the best set is {w.label_of(best['mask'])} "
                   f"({int(best['cost'])} rows, accuracy {_f(best['value'])}), found among {best['affordable']} "
                   f"affordable sets; greedy by value per row buys {w.label_of(greedy['mask'])} "
                   f"({_f(greedy['value'])}), random affordable sets average {_f(rand['value'])}.")
    return out


def toy_missing(session) -> ScenarioAnswer:
    """On the toy grid: LOO of B (answered), Shapley and scaling on B (their missing cells listed).

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session of a store holding the demo's worlds.

    Returns
    -------
    ScenarioAnswer

    Raises
    ------
    NotFound
        If a world it reads is not stored.

    References
    ----------
    Ghorbani & Zou (2019), "Data Shapley" (the value that needs every cell).

    Examples
    --------
    >>> from cfgraph.store import open_store
    >>> from cfgraph.grids import import_grid
    >>> from cfgraph.resources import seed_file
    >>> store = open_store("sqlite://")
    >>> _ = import_grid(store, seed_file("toy_grid.csv"), "toy")
    >>> with store.session() as session:
    ...     answer = toy_missing(session)
    >>> round(answer.value, 2), len(answer.missing)
    (0.33, 12)
    """
    w = World.open(session, TOY_WORLD)
    table = w.table()
    seed = table.seed
    cells = ["ABCD:B", "ACD:B"]
    loo = _ask(w, table, "loo", cells, unit="B")
    answers = [loo, _ask(w, table, "shapley", cells, unit="B"), _ask(w, table, "scaling", cells, unit="B", k="2")]
    out = ScenarioAnswer(loo.value, "", worked=loo.worked,
                         columns=["question", "status", "value", "cells present", "cells missing"])
    seen, lacking = set(), set()
    for a in answers:
        out.rows.append([a.title, a.status, a.value, a.n_used, a.n_missing])
        for c in a.cells:
            if (c.train, c.slice) not in seen:
                seen.add((c.train, c.slice))
                out.cells.append(UsedCell(w.name, c.train, c.slice, seed, c.value))
        for c in a.missing:
            if (c.train, c.slice) not in lacking:
                lacking.add((c.train, c.slice))
                out.missing.append(UsedCell(w.name, c.train, c.slice, seed, None))
    out.status = "partial"
    out.summary = (f"Leave-one-out of B from ABCD on slice B is {_f(loo.value)} (both cells are known). "
                   f"B's Shapley value is not given: it needs {answers[1].n_missing} cells of column B that were "
                   "never measured, and a missing cell is not a zero.")
    return out


def seeds(session) -> ScenarioAnswer:
    """Seed 0 against seed 1 of digits, cell by cell: where do they differ?

    Parameters
    ----------
    session : sqlalchemy.orm.Session
        An open session of a store holding the demo's worlds.

    Returns
    -------
    ScenarioAnswer

    Raises
    ------
    NotFound
        If a world it reads is not stored.

    References
    ----------
    Bouthillier et al. (2021), "Accounting for variance in machine learning benchmarks".

    Examples
    --------
    The demo's worlds must be stored (``cfgraph demo``):

    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as session:
    ...     seeds(session)
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits' (stored: none)
    """
    w = World.open(session, DEMO_WORLD)
    s0, s1 = w.seeds[:2]
    a, b = w.table(seed=s0), w.table(seed=s1)
    diff = b.values - a.values
    out = ScenarioAnswer(float(np.nanmax(np.abs(diff))), "", columns=["training set", "slice", f"seed {s0}",
                                                                     f"seed {s1}", "difference"])
    masks, cols = np.nonzero(np.abs(np.nan_to_num(diff)) > 0)
    out.rows = [[a.labels[m], a.slices[j], float(a.values[m, j]), float(b.values[m, j]), float(diff[m, j])]
                for m, j in zip(masks.tolist(), cols.tolist())]
    for seed, t in ((s0, a), (s1, b)):  # the cells that differ (every other cell is equal on both seeds)
        out.cells += [UsedCell(w.name, t.labels[m], t.slices[j], seed, _n(t.values[m, j]))
                      for m, j in zip(masks.tolist(), cols.tolist())]
    out.worked = f"max over cells of |f_seed{s1}(S, E) − f_seed{s0}(S, E)| = {_f(out.value)}"
    where = sorted({r[0] for r in out.rows})
    out.summary = (f"Of {a.values.size} cells, {len(out.rows)} differ between seeds {s0} and {s1}, all in "
                   f"training set{'s' if len(where) != 1 else ''} {', '.join(where) or '(none)'}; the largest "
                   f"difference is {_f(out.value)}.")
    return out
