"""Datamodels of stored training sets: recovery of additive games, the LDS, the split, bad input."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

from cfgraph.errors import CfgraphError
from cfgraph.values.surrogates import Datamodel, datamodel, fit_datamodel


def additive_game(n=8, m=200, seed=0, noise=0.0):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-0.5, 0.5, n)
    members = rng.random((m, n)) < 0.5
    return members, 0.3 + members @ theta + noise * rng.standard_normal(m), theta


def interaction_game(n=8, m=300, seed=0):
    """Pairwise couplings of +-1 spins: orthogonal to every linear term when units join at 1/2."""
    rng = np.random.default_rng(seed)
    coupling = np.triu(rng.standard_normal((n, n)), 1)
    members = rng.random((m, n)) < 0.5
    s = 2.0 * members - 1
    return members, np.einsum("ki,ij,kj->k", s, coupling, s)


@pytest.mark.parametrize("model, alpha, atol", [("linear", None, 1e-10), ("ridge", 1e-9, 1e-7)])
def test_additive_game_is_recovered_with_a_perfect_score(model, alpha, atol):
    members, v, theta = additive_game()
    dm = fit_datamodel(members, v, model=model, alpha=alpha)
    np.testing.assert_allclose(dm.theta, theta, atol=atol)
    assert dm.intercept == pytest.approx(0.3, abs=atol)
    assert dm.lds == pytest.approx(1.0, abs=1e-12)
    assert (dm.n_train + dm.n_heldout, dm.model, dm.alpha, dm.lds_note) == (200, model, alpha, "")


def test_noisy_additive_game_scores_high_and_interactions_score_lower():
    for seed in range(5):
        members, v, theta = additive_game(seed=seed, noise=0.02)
        noisy = fit_datamodel(members, v, seed=seed)
        assert noisy.lds > 0.9
        np.testing.assert_allclose(noisy.theta, theta, atol=0.05)
        members, v = interaction_game(seed=seed)
        coupled = fit_datamodel(members, v, seed=seed)
        assert coupled.lds < 0.5 and coupled.lds < noisy.lds - 0.4


def test_lasso_zeroes_null_units():
    members, v, theta = additive_game(n=10, m=300, seed=2, noise=0.01)
    null = [1, 4, 7]
    v = v - members[:, null] @ theta[null]  # units 1, 4 and 7 now change nothing
    dm = fit_datamodel(members, v, model="lasso", alpha=5e-3)
    assert (dm.theta[null] == 0).all()
    assert (dm.theta[np.setdiff1d(np.arange(10), null)] != 0).all()
    assert dm.alpha == 5e-3 and dm.lds > 0.9
    ridge = fit_datamodel(members, v, model="ridge")
    assert (ridge.theta[null] != 0).all()  # ridge shrinks, it does not select


def test_split_is_sklearns_over_distinct_training_sets_and_fixed_by_seed():
    members, v, _ = additive_game(n=6, m=120, seed=4, noise=0.05)
    sets, inverse = np.unique(members, axis=0, return_inverse=True)
    _, held_sets = train_test_split(np.arange(len(sets)), test_size=0.3, random_state=11)
    held = np.isin(inverse.ravel(), held_sets)
    expected = Ridge(alpha=0.5).fit(members[~held].astype(float), v[~held])
    dm = fit_datamodel(members, v, alpha=0.5, holdout=0.3, seed=11)
    np.testing.assert_allclose(dm.theta, expected.coef_, atol=1e-12)  # fitted on the training part only
    assert (dm.n_train, dm.n_heldout) == ((~held).sum(), held.sum())
    again = fit_datamodel(members, v, alpha=0.5, holdout=0.3, seed=11)
    assert np.array_equal(again.theta, dm.theta) and again.lds == dm.lds
    other = fit_datamodel(members, v, alpha=0.5, holdout=0.3, seed=12)
    assert not np.array_equal(other.theta, dm.theta)


def test_cells_of_one_training_set_stay_on_one_side():
    members, v, _ = additive_game(n=8, m=50, seed=5)
    twice = np.concatenate([members, members])
    dm = fit_datamodel(twice, np.concatenate([v, v + 0.01]), model="linear")
    assert dm.n_train % 2 == 0 and dm.n_heldout % 2 == 0
    assert dm.n_train + dm.n_heldout == 100


def test_score_is_nan_with_a_reason():
    members, v, _ = additive_game(n=3, m=40)
    few = fit_datamodel(members[:5], v[:5], holdout=0.2)
    assert np.isnan(few.lds) and few.lds_note == "fewer than 3 held-out training sets"
    flat = fit_datamodel(members, np.full(40, 0.7))
    assert np.isnan(flat.lds) and flat.lds_note == "constant cells on the held-out training sets"
    shrunk = fit_datamodel(members, v, model="lasso", alpha=10.0)  # every coefficient is zero
    assert (shrunk.theta == 0).all()
    assert np.isnan(shrunk.lds) and shrunk.lds_note == "constant predictions on the held-out training sets"


def test_defaults_and_the_result():
    members, v, _ = additive_game(n=4, m=40)
    assert fit_datamodel(members, v).alpha == 1.0
    assert fit_datamodel(members, v, model="lasso").alpha == 1e-3
    dm = fit_datamodel(members.astype(int), v, model="linear")  # 0/1 integers are members too
    assert isinstance(dm, Datamodel) and dm.alpha is None and dm.theta.shape == (4,)
    with pytest.raises(AttributeError):
        dm.lds = 0.0


def test_table_datamodel_is_unchanged():
    theta, intercept = datamodel(np.array([0.5, 0.7, 0.6, 0.8]))
    np.testing.assert_allclose(theta, [0.2, 0.1], atol=1e-12)
    assert intercept == pytest.approx(0.5)


@pytest.mark.parametrize("args, kwargs, match", [
    ((np.ones((1, 2), bool), np.ones(1)), {}, "at least 2 distinct"),
    ((np.ones((3, 2), bool), np.ones(3)), {}, "at least 2 distinct"),
    ((np.ones((3, 2), bool), np.ones(2)), {}, "disagree"),
    ((np.ones(3, bool), np.ones(3)), {}, "disagree"),
    ((np.full((3, 2), 2), np.ones(3)), {}, "0/1"),
    ((np.eye(3, dtype=bool), np.array([0.1, np.nan, 0.2])), {}, "1 are NaN"),
    ((np.eye(3, dtype=bool), np.ones(3)), {"model": "mlp"}, "unknown datamodel"),
    ((np.eye(3, dtype=bool), np.ones(3)), {"alpha": 0.0}, "alpha must be > 0"),
    ((np.eye(3, dtype=bool), np.ones(3)), {"model": "lasso", "alpha": -1}, "alpha must be > 0"),
    ((np.eye(3, dtype=bool), np.ones(3)), {"model": "linear", "alpha": 1.0}, "no alpha"),
    ((np.eye(3, dtype=bool), np.ones(3)), {"holdout": 0.0}, "holdout"),
    ((np.eye(3, dtype=bool), np.ones(3)), {"holdout": 1.0}, "holdout"),
    ((np.eye(2, dtype=bool), np.ones(2)), {"holdout": 0.9}, "cannot hold out"),
])
def test_bad_input_is_refused(args, kwargs, match):
    with pytest.raises(CfgraphError, match=match):
        fit_datamodel(*args, **kwargs)
