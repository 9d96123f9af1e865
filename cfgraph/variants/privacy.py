"""Differentially private training: the lattice trained with IBM's diffprivlib models.

One variant world per epsilon. The parent's model picks the private one:
``gnb`` -> ``diffprivlib.models.GaussianNB``, ``logreg`` ->
``diffprivlib.models.LogisticRegression`` (through :class:`DPLogisticRegression`,
which works around its incompatibility with scikit-learn 1.8); for regression,
``linear`` and ``ridge`` -> ``diffprivlib.models.LinearRegression`` (a private
least-squares fit, with no ridge penalty). diffprivlib needs the data's
domain to be known in advance (feature bounds for naive Bayes, a bound on
the rows' L2 norm for logistic regression); when they are not given it
estimates them from the data, which leaks privacy and raises its
``PrivacyLeakWarning``. So the DP world rescales every feature to [0, 1] with
the training split's per-feature range (treated as public domain knowledge,
as the pixel range 0..16 of digits is) and passes ``bounds=(0.0, 1.0)`` or
``data_norm=sqrt(d)``, which hold for every possible row. Test rows are
clipped to the same box. A regression target keeps its units (the metrics
read them) and its bounds are the training split's range, public knowledge
in the same sense. The box is a bound on raw numbers, so a table with text
columns or missing values refuses the recipe.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from diffprivlib.accountant import BudgetAccountant
from diffprivlib.models import LogisticRegression as _DiffprivlibLR
from sklearn.linear_model import LogisticRegression as _SklearnLR

from cfgraph.errors import CfgraphError
from cfgraph.variants.derived import Derived, need_numeric


class DPLogisticRegression(_DiffprivlibLR):
    """diffprivlib's ``LogisticRegression``, constructible with scikit-learn 1.8.

    diffprivlib 0.6.6 passes ``multi_class="ovr"`` to scikit-learn's
    ``LogisticRegression.__init__``, a parameter scikit-learn removed in 1.8
    (scikit-learn PR #31241, #31795), so the class cannot even be built there.
    This subclass builds the scikit-learn part without it; diffprivlib's
    ``fit`` (one-vs-rest objective perturbation) is unchanged. Because the
    classes are fitted one-vs-rest, probabilities are normalised one-vs-rest
    too (scikit-learn 1.8 would apply a softmax). Drop it when diffprivlib
    supports scikit-learn 1.8.

    References
    ----------
    Chaudhuri, Monteleoni & Sarwate (2011), "Differentially private empirical risk minimization".
    """

    def __init__(self, *, epsilon=1.0, data_norm=None, tol=1e-4, C=1.0, fit_intercept=True, max_iter=100,
                 verbose=0, warm_start=False, random_state=None, accountant=None):
        _SklearnLR.__init__(self, C=C, tol=tol, fit_intercept=fit_intercept, random_state=random_state,
                            max_iter=max_iter, verbose=verbose, warm_start=warm_start)
        self.epsilon = epsilon
        self.data_norm = data_norm
        self.accountant = BudgetAccountant.load_default(accountant)

    def predict_proba(self, X):
        return self._predict_proba_lr(X)


#: Parent model (short name) -> private model class, per task.
DP_MODELS = {
    "classification": {
        "gnb": "diffprivlib.models.GaussianNB",
        "logreg": "cfgraph.variants.privacy.DPLogisticRegression",
    },
    "regression": {
        "linear": "diffprivlib.models.LinearRegression",
        "ridge": "diffprivlib.models.LinearRegression",
    },
}


def dp_model_spec(parent_model: str, epsilon: float, n_features: int, task: str = "classification",
                  target_bounds: tuple[float, float] | None = None) -> str:
    """The diffprivlib model spec for a parent model and a privacy budget.

    Parameters
    ----------
    parent_model : str
        The parent world's model spec; its name (before any arguments) must be
        one of the task's :data:`DP_MODELS`.
    epsilon : float
        The privacy budget, > 0.
    n_features : int
        d, for the L2 bound ``sqrt(d)`` of a row in the unit box.
    task : {"classification", "regression"}
    target_bounds : (float, float), optional
        The regression target's range (required for regression).

    Returns
    -------
    str
        A spec for :func:`cfgraph.estimators.make_estimator`.

    Raises
    ------
    CfgraphError
        If the parent's model has no private counterpart here.

    References
    ----------
    Holohan, Braghin, Mac Aonghusa & Levacher (2019), "Diffprivlib: the IBM differential
    privacy library"; Vaidya, Shafiq, Basu & Hong (2013), "Differentially private naive
    Bayes classification"; Chaudhuri, Monteleoni & Sarwate (2011), "Differentially private
    empirical risk minimization"; Zhang, Zhang, Xiao, Yang & Winslett (2012), "Functional
    mechanism: regression analysis under differential privacy" (diffprivlib's linear regression).

    Examples
    --------
    >>> dp_model_spec("gnb", 1.0, 4)
    'diffprivlib.models.GaussianNB(epsilon=1.0, bounds=(0.0, 1.0))'
    >>> dp_model_spec("ridge", 2.0, 3, "regression", (25.0, 346.0))
    'diffprivlib.models.LinearRegression(epsilon=2.0, bounds_X=(0.0, 1.0), bounds_y=(25.0, 346.0))'
    """
    name = parent_model.split("(")[0].strip()
    models = DP_MODELS[task]
    if name not in models:
        raise CfgraphError(
            f"no differentially private counterpart of model {parent_model!r} "
            f"(DP variants of a {task} world support parents trained with {', '.join(models)})"
        )
    if task == "regression":
        low, high = (float(b) for b in target_bounds)
        return f"{models[name]}(epsilon={float(epsilon)!r}, bounds_X=(0.0, 1.0), bounds_y=({low!r}, {high!r}))"
    if name == "gnb":
        return f"{models[name]}(epsilon={float(epsilon)!r}, bounds=(0.0, 1.0))"
    return f"{models[name]}(epsilon={float(epsilon)!r}, data_norm={math.sqrt(n_features)!r})"


def unit_box(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rescale features to [0, 1] with the training split's per-feature range; clip the test rows.

    A constant feature maps to 0.

    Examples
    --------
    >>> tr, te = unit_box(np.array([[0.0, 5.0], [4.0, 5.0]]), np.array([[8.0, 1.0]]))
    >>> tr.tolist(), te.tolist()
    ([[0.0, 0.0], [1.0, 0.0]], [[1.0, 0.0]])
    """
    low, high = X_train.min(axis=0), X_train.max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    return (X_train - low) / width, np.clip((X_test - low) / width, 0.0, 1.0)


def derive(prepared, recipe: dict, letters: list[str]) -> Derived:
    """The parent's problem, rescaled to the unit box, with the parent's model made private.

    Every training set changes model, so nothing is copied from the parent.

    Raises
    ------
    CfgraphError
        If the parent's model has no private counterpart, or its table has
        text columns or missing values.
    """
    problem = prepared.problem
    task = prepared.spec.get("task", "classification")
    bounds = (problem.y_train.min(), problem.y_train.max()) if task == "regression" else None
    spec = dp_model_spec(problem.model, recipe["epsilon"], problem.X_train.shape[1], task, bounds)
    need_numeric(prepared, "a DP world (features rescaled to the unit box)")
    X_train, X_test = unit_box(problem.X_train, problem.X_test)
    return Derived(problem=dataclasses.replace(problem, X_train=X_train, X_test=X_test, model=spec),
                   units=list(prepared.units), model_spec=spec)
