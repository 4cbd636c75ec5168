"""The candidates `risk train` chooses among, the rule that chooses, and the configuration that is stored.

A county is not the simulator: what ranks best on one world (small monotone trees on every feature)
need not on another (a few thousand households, other feeds). So `risk train` tries a small declared set
of shapes on the county's own data and keeps the best by one declared rule.

| name | estimator | shape | features |
|---|---|---|---|
| ``risk_model`` | `RiskModel` | today's: 7 leaves, depth 4, learning rate 0.05, ≤ 600 trees, monotone | all |
| ``plain_core`` | `RiskModel` | LightGBM's defaults: 31 leaves, no depth limit, rate 0.1, ≤ 100 trees | the core aggregates |
| ``shallow`` | `RiskModel` | 4 leaves, depth 2, rate 0.1, ≤ 800 trees, monotone | all |
| ``deep`` | `RiskModel` | 15 leaves, depth 6, rate 0.05, ≤ 600 trees, monotone | all |
| ``logistic`` | `LogisticRiskModel` | L2 logistic regression, C = 1 | all |

The core aggregates are `training.baselines.PLAIN_REFERENCE_FEATURES` (a dozen simple point-in-time
aggregates); where a table has none of them (``risk train --table``) ``plain_core`` uses every column.
"monotone" means the catalogue's constraints (`FeatureSpec.monotone`). Every tree candidate stops early
on held-out rows, as it would when registered. While candidates are judged they are calibrated by Platt
scaling on held-out rows: a strictly increasing map, so recall and AUC are those of the raw scores (the
registered model still chooses between isotonic and Platt, whose ties would only reorder equal scores).

**Criterion** (`choose`): the highest recall at the operating share (`TrainOptions.operating_share`);
candidates within `RECALL_TOLERANCE` of the best recall count as tied (a difference of a few positives
among hundreds is noise), and among them the highest AUC wins; a remaining tie goes to the earlier row
of the table.

Where they are judged: on an out-of-time split inside the training months when the history allows
one, else by household folds within the training months (`training.train.select_configuration`);
there a candidate far behind the best after the first fold (`dominated`) is not fitted on the others.

A `Configuration` (estimator name + every parameter) is stored with each registered model, so a later
run can refit the champion's configuration on the same months as its challenger (`training.train`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.catalogue import CATALOGUE
from training.baselines import PLAIN_REFERENCE_FEATURES
from training.evaluate import share_key
from training.linear import LogisticRiskModel
from training.model import RiskModel

#: Recall differences up to this much count as a tie; AUC then decides.
RECALL_TOLERANCE = 0.005
#: After the first household fold, candidates this far behind the best recall stop (`dominated`).
DOMINATED_MARGIN = 0.02
CRITERION = (
    "recall at the operating share (differences within "
    f"{RECALL_TOLERANCE} count as tied), then AUC, then the order of the candidate table"
)
#: Estimator name (as stored with a model) → class. Only these can be rebuilt from a stored config.
ESTIMATORS: dict[str, type] = {"RiskModel": RiskModel, "LogisticRiskModel": LogisticRiskModel}


@dataclass(frozen=True)
class Candidate:
    """One row of the candidate table.

    Attributes
    ----------
    name
        Short name shown in evaluation.json and evaluation.html.
    estimator
        Key of `ESTIMATORS`.
    params
        Parameters overriding the estimator's defaults.
    monotone
        Use the catalogue's monotone constraints (tree estimators).
    core_features
        Let the trees split only on the core aggregates.
    description
        One line for the report.
    """

    name: str
    estimator: str
    params: Mapping[str, Any] = field(default_factory=dict)
    monotone: bool = False
    core_features: bool = False
    description: str = ""


CANDIDATES: tuple[Candidate, ...] = (
    Candidate(
        "risk_model",
        "RiskModel",
        {},
        monotone=True,
        description="7 leaves, depth 4, learning rate 0.05, ≤600 trees, monotone, all features",
    ),
    Candidate(
        "plain_core",
        "RiskModel",
        {
            "n_estimators": 100,
            "learning_rate": 0.1,
            "num_leaves": 31,
            "max_depth": -1,
            "min_child_samples": 20,
            "reg_lambda": 0.0,
            "colsample_bytree": 1.0,
            "subsample": 1.0,
        },
        core_features=True,
        description="LightGBM default shape (31 leaves, rate 0.1, ≤100 trees) on the core aggregates",
    ),
    Candidate(
        "shallow",
        "RiskModel",
        {"num_leaves": 4, "max_depth": 2, "learning_rate": 0.1, "n_estimators": 800},
        monotone=True,
        description="4 leaves, depth 2, learning rate 0.1, ≤800 trees, monotone, all features",
    ),
    Candidate(
        "deep",
        "RiskModel",
        {"num_leaves": 15, "max_depth": 6, "min_child_samples": 50},
        monotone=True,
        description="15 leaves, depth 6, learning rate 0.05, ≤600 trees, monotone, all features",
    ),
    Candidate(
        "logistic",
        "LogisticRiskModel",
        {"C": 1.0},
        description="L2 logistic regression (clipped, standardised features, missing indicators)",
    ),
)
DEFAULT_CANDIDATE = CANDIDATES[0].name


@dataclass(frozen=True)
class Configuration:
    """Everything needed to fit a candidate again: its name, estimator and every parameter."""

    name: str
    estimator: str
    params: Mapping[str, Any]

    def build(self, *, n_jobs: int | None = None) -> Any:
        """An unfitted estimator of this configuration (`n_jobs` replaced when given)."""
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"configuration {self.name!r}: unknown estimator {self.estimator!r}; "
                f"expected one of {sorted(ESTIMATORS)}"
            )
        params = dict(self.params)
        if n_jobs is not None:
            params["n_jobs"] = n_jobs
        return ESTIMATORS[self.estimator](**params)

    def key(self) -> str:
        """A canonical text of what changes the fit (thread count left out): equal keys, equal fits."""
        params = {k: v for k, v in self.params.items() if k != "n_jobs"}
        return json.dumps(
            {"estimator": self.estimator, "params": _plain(params)}, sort_keys=True, default=str
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the registered model)."""
        return {"name": self.name, "estimator": self.estimator, "params": _plain(self.params)}

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> Configuration:
        """The configuration stored by `to_dict` (lists back to tuples where a parameter wants them)."""
        params = dict(stored["params"])
        if params.get("features") is not None:
            params["features"] = tuple(params["features"])
        return cls(name=str(stored["name"]), estimator=str(stored["estimator"]), params=params)


def monotone_constraints() -> dict[str, int]:
    """Feature → sign from the catalogue (`FeatureSpec.monotone`), zeros left out."""
    return {spec.name: int(spec.monotone) for spec in CATALOGUE if int(spec.monotone) != 0}


def configure(
    candidate: Candidate,
    *,
    columns: Sequence[str],
    random_state: int,
    n_jobs: int,
    tree_params: Mapping[str, Any] | None = None,
    monotone: bool = True,
) -> Configuration:
    """The full configuration of `candidate` for these feature columns.

    Parameters
    ----------
    candidate
        A row of `CANDIDATES`.
    columns
        The feature columns it will be fitted on (the core aggregates are looked up among them).
    random_state, n_jobs
        Seed and threads.
    tree_params
        Parameters applied over every tree candidate's own (`TrainOptions.model_params`).
    monotone
        False drops the catalogue's constraints even where the candidate uses them.
    """
    params: dict[str, Any] = {**candidate.params, "random_state": random_state, "n_jobs": n_jobs}
    if candidate.estimator == "RiskModel":
        params.update(tree_params or {})
        present = set(columns)
        constraints = {k: v for k, v in monotone_constraints().items() if k in present}
        params["monotone"] = constraints if (candidate.monotone and monotone) else None
        core = [c for c in PLAIN_REFERENCE_FEATURES if c in present]
        params["features"] = tuple(core) if candidate.core_features and core else None
    return Configuration(candidate.name, candidate.estimator, params)


def candidates_named(names: Sequence[str] | None) -> tuple[Candidate, ...]:
    """The rows of `CANDIDATES` with these names, in table order (None: all)."""
    if names is None:
        return CANDIDATES
    known = {c.name for c in CANDIDATES}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"candidates: unknown name(s) {unknown or '(none given)'}; expected some of "
            f"{sorted(known)}"
        )
    return tuple(c for c in CANDIDATES if c.name in set(names))


def choose(metrics: Mapping[str, Mapping[str, Any]], *, share: float) -> str:
    """The candidate the criterion picks (see the module docstring).

    Parameters
    ----------
    metrics
        Candidate name → its metrics (`recall_at[share_key(share)]`, `auc`), in table order.
    share
        The operating share.

    Examples
    --------
    >>> choose({"a": {"recall_at": {"0.05": 0.500}, "auc": 0.90},
    ...         "b": {"recall_at": {"0.05": 0.503}, "auc": 0.91},
    ...         "c": {"recall_at": {"0.05": 0.490}, "auc": 0.95}}, share=0.05)
    'b'
    """
    if not metrics:
        raise ValueError("choose: no candidate metrics to choose from")
    key = share_key(share)
    recall = {name: float(m["recall_at"][key]) for name, m in metrics.items()}
    best = max(recall.values())
    tied = [name for name in metrics if recall[name] >= best - RECALL_TOLERANCE - 1e-12]
    auc = {name: float(metrics[name].get("auc") or 0.0) for name in tied}
    top = max(auc.values())
    return next(name for name in tied if auc[name] >= top)


def dominated(recall: Mapping[str, float], *, positives: int) -> dict[str, float]:
    """Candidates so far behind the best recall that more rows will not bring them level.

    Used after the first household fold (`training.train`): a candidate whose recall at the
    operating share is below the best by more than `DOMINATED_MARGIN`, or by two standard errors
    of the best recall on these `positives` if that is more, is not fitted on the other folds. Two
    shapes of trees differ by a few thousandths; logistic regression and the plain core trail by
    0.03–0.12 on the simulated counties — those are the fits this saves.

    Returns
    -------
    dict
        Name → the margin it was judged by, for each dominated candidate.

    Examples
    --------
    >>> dominated({"trees": 0.47, "deep": 0.468, "linear": 0.43}, positives=4000)
    {'linear': 0.02}
    """
    if not recall:
        return {}
    best = max(recall.values())
    error = float(np.sqrt(best * (1 - best) / positives)) if positives > 0 else 1.0
    margin = round(max(DOMINATED_MARGIN, 2 * error), 3)
    return {name: margin for name, value in recall.items() if value < best - margin}


def describe_model(model: Any) -> dict[str, Any]:
    """Shape and calibration of a fitted candidate, for evaluation.json."""
    shape: dict[str, Any] = {"estimator": type(model).__name__}
    if isinstance(model, RiskModel):
        shape |= {
            "trees": model.best_iteration_,
            "num_leaves": model.num_leaves,
            "max_depth": model.max_depth,
            "features_used": len(model.features_used_),
        }
    else:
        shape |= {"trees": None, "coefficients": len(model.coef_)}
    shape["calibration"] = {
        "method": model.calibrator_.method,
        "cv_log_loss": model.calibration_losses_,
    }
    return shape


def _plain(value: Any) -> Any:
    """JSON-ready copy: mappings sorted by key, tuples as lists, numpy scalars as Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def fit_configuration(
    configuration: Configuration,
    frame: Any,
    y: Any,
    fit_rows: Any,
    tune_rows: Any,
    *,
    n_jobs: int | None = None,
    tree_trainer: Any = None,
    sample_weight: Any = None,
) -> Any:
    """Fit `configuration` on `fit_rows` of `frame`; early stopping and calibration on `tune_rows`.

    `tree_trainer` (``--engine dask``) is passed to tree estimators only. `sample_weight` (one per
    row of `frame`, e.g. `training.train.recency_weights`) weights the fitted rows; the tune rows
    are never weighted, so early stopping and calibration see the months as they are.
    """
    model = configuration.build(n_jobs=n_jobs)
    extra: dict[str, Any] = {"tree_trainer": tree_trainer} if isinstance(model, RiskModel) else {}
    if sample_weight is not None:
        extra["sample_weight"] = sample_weight[fit_rows]
    return model.fit(
        frame.iloc[fit_rows], y[fit_rows], eval_set=(frame.iloc[tune_rows], y[tune_rows]), **extra
    )
