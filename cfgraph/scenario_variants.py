"""The guided scenarios that compare a variant world with its parent (:mod:`cfgraph.scenarios`).

Poisoning reads digits-poison against digits through :func:`cfgraph.variants.variant_pair`
and :func:`~cfgraph.variants.attack_report`; the unlearning audit reads digits-unlearn
against digits (exact retraining) through :func:`~cfgraph.variants.audit` and the grid's
``unlearning`` question. No formula is written here again; every number is at model seed 0.
"""

from __future__ import annotations

import numpy as np

from cfgraph.demo import DEMO_WORLD, POISON_RECIPE, POISON_WORLD, UNLEARN_RECIPE, UNLEARN_WORLD
from cfgraph.scenario_answers import SEED, SLICE, _ask, _f, _n
from cfgraph.scenarios import ScenarioAnswer, UsedCell
from cfgraph.world import World


def poisoning(session) -> ScenarioAnswer:
    """f(ABCDE) in digits-poison against f(ABCD) in digits, per slice (:func:`attack_report`).

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
    Biggio, Nelson & Laskov (2012), "Poisoning attacks against support vector machines".

    Examples
    --------
    The demo's worlds must be stored (``cfgraph demo``):

    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as session:
    ...     poisoning(session)
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits-poison' (stored: none)
    """
    from cfgraph.variants import attack_report, variant_pair

    pair = variant_pair(session, POISON_WORLD, seed=SEED, kind="poison")
    v = pair.variant
    report = attack_report(v.values)
    full, honest = (1 << len(v.letters)) - 1, (1 << len(pair.parent.letters)) - 1
    p = len(v.letters) - 1
    out = ScenarioAnswer(None, "", columns=["slice", "digits f(ABCD)", "digits-poison f(ABCDE)", "attack Δ",
                                            "mean Δ over all S", "Shapley of E"])
    for j, s in enumerate(v.slices):
        out.rows.append([s, float(pair.base[honest, j]), float(v.values[full, j]), float(report["attack_full"][j]),
                         float(report["attack_mean"][j]), float(report["shapley"][p, j])])
        out.cells += [UsedCell(DEMO_WORLD, pair.parent.labels[honest], s, SEED, float(pair.base[honest, j])),
                      UsedCell(POISON_WORLD, v.labels[full], s, SEED, float(v.values[full, j]))]
    a = v.slices.index("A")
    poison = v.letters[p]
    out.changes = (f"unit {poison} (label-flipped copies of {POISON_RECIPE['unit']}'s training rows) joins the "
                   "training set: "
                   f"{v.labels[honest]} → {v.labels[full]}")
    out.value = float(report["attack_full"][a])
    out.worked = (f"Δ = f_poison(ABCDE, A) − f(ABCD, A) = {_f(v.values[full, a])} − {_f(pair.base[honest, a])} "
                  f"= {_f(out.value)}")
    worst = int(np.argmin(report["attack_full"]))
    out.summary = (f"Adding E to the full training set changes accuracy on A's test rows by {_f(out.value)} "
                   f"(the largest drop is on slice {v.slices[worst]}); over every honest set S the mean "
                   f"change on A is {_f(report['attack_mean'][a])}.")
    return out

def unlearning(session) -> ScenarioAnswer:
    """SISA removal of A against exact retraining (:func:`cfgraph.variants.audit`), and the question ``unlearning``.

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
    Bourtoule et al. (2021), "Machine unlearning".

    Examples
    --------
    The demo's worlds must be stored (``cfgraph demo``):

    >>> from cfgraph.store import open_store
    >>> with open_store("sqlite://").session() as session:
    ...     unlearning(session)
    Traceback (most recent call last):
    ...
    cfgraph.errors.NotFound: no world named 'digits-unlearn' (stored: none)
    """
    from cfgraph.variants import audit, variant_pair
    from cfgraph.variants.unlearning import DEFAULT_TOLERANCE

    pair = variant_pair(session, UNLEARN_WORLD, seed=SEED, kind="unlearn")
    letters = pair.parent.letters
    unit = letters.index(UNLEARN_RECIPE["unit"])
    r = audit(pair.base, pair.values, unit, DEFAULT_TOLERANCE)
    slices = pair.parent.slices
    out = ScenarioAnswer(None, "", columns=["slice", "largest |SISA − exact|", "mean |gap|",
                                            f"within τ = {DEFAULT_TOLERANCE:g}"])
    out.rows = [[s, float(r["max_gap"][j]), float(r["mean_gap"][j]), "yes" if r["passed"][j] else "no"]
                for j, s in enumerate(slices)]
    for T in r["coalitions"]:
        label = pair.parent.labels[int(T)]
        for j, s in enumerate(slices):
            out.cells += [UsedCell(DEMO_WORLD, label, s, SEED, _n(pair.base[T, j])),
                          UsedCell(UNLEARN_WORLD, label, s, SEED, _n(pair.values[T, j]))]
    j = slices.index(SLICE)
    out.value = float(r["max_gap"][j])
    worst = int(r["coalitions"][np.nanargmax(np.abs(r["gap"][:, j]))])
    out.worked = (f"max over T ∌ A of |f_SISA(T, all) − f_exact(T, all)| = {_f(out.value)} (at T = "
                  f"{pair.parent.labels[worst]}) {'≤' if r['passed'][j] else '>'} τ = {DEFAULT_TOLERANCE:g}")
    w = World.open(session, DEMO_WORLD)
    probe = _ask(w, w.table(seed=SEED), "unlearning", ["ABCD:all", "BCD:all"], unit="A",
                 tolerance=str(DEFAULT_TOLERANCE))
    out.summary = (f"On all test rows SISA's removal of A is up to {_f(out.value)} away from exact retraining, "
                   f"so it {'passes' if r['passed'][j] else 'fails'} the audit at τ = {DEFAULT_TOLERANCE:g}; "
                   f"it passes on {int(r['passed'].sum())} of {len(slices)} slices. Yet |f(ABCD) − f(BCD)| = "
                   f"{_f(probe.value)} there: " + ("even a model that kept A would pass at this τ."
                                                     if probe.value <= DEFAULT_TOLERANCE
                                                     else "a model that kept A would fail."))
    return out
