"""How past lists did: `risk backtest` (INTERFACE.md version 2).

For each past scoring run (its `scores.parquet`) and each township, once the outcomes of the run's
month are in:

- **hits**: warned households identified (an `outcomes` row) within `horizon` months after the
  month; **misses**: households identified in that window that were not warned;
- **precision** (hits / list size) and **recall** (hits / identified) at the run's list size;
- the same for the **department rules** on the same month and at the same list size: the run's
  scored households ranked by `features.rules.department_rules`' ``rule_score`` (ties by household
  id) and cut at the number the run warned. (The run's own ``rule_triggers`` are not used: they are
  the policy rules that *add* households to the list, not a ranking of everyone.)

Labels come from `training.labels.build_labels` with the data's export month as ``known_until``, so
a household counts exactly as training counts it; a scored household that the data now show as
already monitored in the run's month is left out (``unlabelled``).

For every run — and the only figures there are while its outcome window is still open (month +
horizon after the last month of the data) — the **predicted** performance its calibrated
probabilities imply: expected hits = Σ p over the warned, expected identified = Σ p over all scored,
expected precision = expected hits / list size, expected recall = expected hits / expected
identified. Hits among the warned and among the others are independent Poisson-binomial counts;
the interval is their normal approximation (recall by the delta method), `level` two-sided. Once the
outcomes arrive, the gap realised − predicted is reported, and whether the realised value falls
inside the interval.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from statistics import NormalDist
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from features.contract.errors import DataContractError
from features.contract.lines import MonitoringLines
from features.contract.tables import Tables
from features.rules import RuleParams, department_rules
from risk.atomic import atomic_output_dir
from training.labels import build_labels

JSON_FILE = "backtest.json"
HTML_FILE = "backtest.html"
RULE_BASELINE = (
    "features.rules.department_rules rule_score on the run's month, over the run's scored "
    "households, top list-size (ties by household id)"
)
_SCORE_COLUMNS = ("household_id", "township", "probability", "warned")


@dataclass(frozen=True)
class PastRun:
    """The parts of a scoring run the backtest reads."""

    path: Path
    run_id: str
    month: pd.Period
    scores: pd.DataFrame


def load_past_run(path: str | Path) -> PastRun:
    """Read a run folder's `scores.parquet` (and `manifest.json` for the id and month).

    Raises
    ------
    DataContractError
        The folder has no `scores.parquet`, or it lacks a column the backtest needs.
    """
    from risk.review.run import load_run  # noqa: PLC0415

    run = load_run(path)
    missing = set(_SCORE_COLUMNS) - set(run.scores.columns)
    if missing:
        raise DataContractError(
            f"{run.path / 'scores.parquet'}: missing column(s) {sorted(missing)}; "
            "--runs must be folders written by `risk score --out DIR`"
        )
    scores = run.scores.loc[:, list(_SCORE_COLUMNS)].copy()
    scores["warned"] = scores["warned"].astype(bool)
    scores["township"] = scores["township"].astype(str)
    scores["probability"] = scores["probability"].astype(float)
    return PastRun(run.path, run.run_id, pd.Period(run.month, freq="M"), scores)


def backtest(
    tables: Tables,
    runs: Sequence[PastRun],
    *,
    horizon: int,
    rules: RuleParams,
    lines: MonitoringLines,
    level: float = 0.95,
) -> dict[str, Any]:
    """Judge past runs against the outcomes in `tables` (see the module docstring).

    Parameters
    ----------
    tables
        The data as known now; ``tables.export_month`` is the last month whose outcomes are known.
    runs
        Past runs, any order (reported by month, then run id).
    horizon
        Months after a run's month within which an identification counts (config: model.horizon).
    rules, lines
        Department rule thresholds and monitoring lines for the rule comparison.
    level
        Two-sided level of the predicted intervals.

    Returns
    -------
    dict
        ``known_until``, ``horizon``, ``level``, ``rule_baseline`` and ``runs``: one entry per run
        with ``status`` (``closed``/``open``), ``list_size``, ``scored``, ``predicted``,
        ``realised``, ``rules``, ``gap`` (the last three None while open) and ``townships`` (the
        same figures per township).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    known_until = tables.export_month
    z = NormalDist().inv_cdf(0.5 + level / 2)
    ordered = sorted(runs, key=lambda run: (run.month, run.run_id))
    return {
        "known_until": str(known_until),
        "horizon": horizon,
        "level": level,
        "rule_baseline": RULE_BASELINE,
        "runs": [
            _judge_run(run, tables, horizon=horizon, rules=rules, lines=lines, z=z)
            for run in ordered
        ],
    }


def _judge_run(
    run: PastRun,
    tables: Tables,
    *,
    horizon: int,
    rules: RuleParams,
    lines: MonitoringLines,
    z: float,
) -> dict[str, Any]:
    scores = run.scores.sort_values("household_id", kind="stable").reset_index(drop=True)
    window_end = run.month + horizon
    closed = window_end <= tables.export_month
    frame = scores.assign(label=np.nan, rule_listed=False)
    if closed:
        frame = _with_outcomes(frame, tables, run=run, horizon=horizon, rules=rules, lines=lines)
    entry: dict[str, Any] = {
        "run_id": run.run_id,
        "month": str(run.month),
        "path": str(run.path),
        "status": "closed" if closed else "open",
        "window_end": str(window_end),
        **_figures(frame, closed=closed, z=z),
    }
    entry["townships"] = [
        {"township": township, **_figures(part, closed=closed, z=z)}
        for township, part in frame.groupby("township", sort=True)
    ]
    return entry


def _with_outcomes(
    frame: pd.DataFrame,
    tables: Tables,
    *,
    run: PastRun,
    horizon: int,
    rules: RuleParams,
    lines: MonitoringLines,
) -> pd.DataFrame:
    """Add each scored household's label (NaN: unlabelled) and whether the rules' list holds it."""
    labels = build_labels(
        tables.outcomes,
        frame["household_id"],
        months=[run.month],
        horizon=horizon,
        known_until=tables.export_month,
    )
    label = labels.set_index("household_id")["label"]
    frame["label"] = frame["household_id"].map(label).astype(float)
    frame["rule_listed"] = rule_list(
        tables, frame["household_id"], as_of=run.month, size=int(frame["warned"].sum()),
        rules=rules, lines=lines,
    )  # fmt: skip
    return frame


def rule_list(
    tables: Tables,
    households: pd.Series,
    *,
    as_of: pd.Period,
    size: int,
    rules: RuleParams,
    lines: MonitoringLines,
) -> np.ndarray:
    """Which of `households` the department rules would list at `size`: top ``rule_score``.

    Ties (most households score 0) go by household id, so the list is the same on every run.
    """
    scored = department_rules(tables, as_of=as_of, params=rules, lines=lines)["rule_score"]
    scored.index = scored.index.astype(str)
    values = scored.reindex(households.astype(str)).fillna(0.0).to_numpy(dtype=float)
    order = np.lexsort((households.astype(str).to_numpy(), -values))
    listed = np.zeros(len(households), dtype=bool)
    listed[order[:size]] = True
    return listed


def _figures(frame: pd.DataFrame, *, closed: bool, z: float) -> dict[str, Any]:
    warned = frame["warned"].to_numpy(dtype=bool)
    figures: dict[str, Any] = {
        "scored": len(frame),
        "list_size": int(warned.sum()),
        "predicted": predicted_performance(frame["probability"].to_numpy(float), warned, z=z),
        "realised": None,
        "rules": None,
        "gap": None,
    }
    if closed:
        known = frame["label"].notna().to_numpy()
        label = frame["label"].to_numpy()[known].astype(int)
        figures["unlabelled"] = int((~known).sum())
        figures["realised"] = list_performance(label, warned[known])
        figures["rules"] = list_performance(label, frame["rule_listed"].to_numpy(bool)[known])
        figures["gap"] = prediction_gap(figures["predicted"], figures["realised"])
    return figures


def list_performance(label: np.ndarray, listed: np.ndarray) -> dict[str, Any]:
    """Hits, misses, precision and recall of a list against labels (None where undefined).

    Examples
    --------
    >>> list_performance(np.array([1, 0, 1, 1]), np.array([True, True, False, False]))
    {'hits': 1, 'misses': 2, 'identified': 3, 'list_size': 2, 'precision': 0.5, 'recall': 0.3333333333333333}
    """
    label = np.asarray(label, dtype=int)
    listed = np.asarray(listed, dtype=bool)
    hits = int((label[listed] == 1).sum())
    identified = int(label.sum())
    size = int(listed.sum())
    return {
        "hits": hits,
        "misses": identified - hits,
        "identified": identified,
        "list_size": size,
        "precision": hits / size if size else None,
        "recall": hits / identified if identified else None,
    }


def predicted_performance(probability: np.ndarray, warned: np.ndarray, *, z: float) -> dict:
    """What calibrated probabilities predict for a list, with normal-approximation intervals.

    Hits among the warned (H) and identifications among the others (N) are independent
    Poisson-binomial counts with mean Σp and variance Σp(1 − p). Precision is H / list size;
    recall H / (H + N), its variance by the delta method.

    Examples
    --------
    >>> p = predicted_performance(np.array([0.5, 0.5, 0.1, 0.1]), np.array([1, 1, 0, 0], bool), z=1.96)
    >>> p["expected_hits"], p["expected_identified"], round(p["recall"], 3)
    (1.0, 1.2, 0.833)
    """
    probability = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    warned = np.asarray(warned, dtype=bool)
    hits, others = probability[warned].sum(), probability[~warned].sum()
    var_hits = (probability[warned] * (1 - probability[warned])).sum()
    var_others = (probability[~warned] * (1 - probability[~warned])).sum()
    size = int(warned.sum())
    total = hits + others
    result: dict[str, Any] = {
        "expected_hits": float(hits),
        "hits_low": float(max(hits - z * math.sqrt(var_hits), 0.0)),
        "hits_high": float(hits + z * math.sqrt(var_hits)),
        "expected_identified": float(total),
        "precision": None,
        "precision_low": None,
        "precision_high": None,
        "recall": None,
        "recall_low": None,
        "recall_high": None,
    }
    if size:
        result["precision"] = float(hits / size)
        result["precision_low"] = float(max(result["hits_low"] / size, 0.0))
        result["precision_high"] = float(min(result["hits_high"] / size, 1.0))
    if total > 0:
        recall = hits / total
        spread = math.sqrt(others**2 * var_hits + hits**2 * var_others) / total**2
        result["recall"] = float(recall)
        result["recall_low"] = float(max(recall - z * spread, 0.0))
        result["recall_high"] = float(min(recall + z * spread, 1.0))
    return result


def prediction_gap(predicted: Mapping[str, Any], realised: Mapping[str, Any]) -> dict[str, Any]:
    """Realised − predicted hits, precision and recall, and whether each fell inside the interval."""
    gap: dict[str, Any] = {}
    pairs = (("hits", "expected_hits", "hits"), ("precision", "precision", "precision"),
             ("recall", "recall", "recall"))  # fmt: skip
    for name, predicted_key, realised_key in pairs:
        value, expected = realised.get(realised_key), predicted.get(predicted_key)
        low, high = predicted.get(f"{name}_low"), predicted.get(f"{name}_high")
        if value is None or expected is None:
            gap[name] = None
            gap[f"{name}_inside"] = None
            continue
        gap[name] = float(value - expected)
        gap[f"{name}_inside"] = bool(low is not None and high is not None and low <= value <= high)
    return gap


# -- outputs ------------------------------------------------------------------------------------
@cache
def _template() -> jinja2.Template:
    text = (resources.files("risk") / "templates" / "backtest.html.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["pct"] = lambda v, digits=1: "–" if v is None else f"{v:.{digits}%}"
    environment.filters["num"] = lambda v, digits=1: "–" if v is None else f"{v:,.{digits}f}"
    environment.filters["signed_pct"] = lambda v: "–" if v is None else f"{v:+.1%}"
    return environment.from_string(text)


def render_backtest(result: Mapping[str, Any]) -> str:
    """`backtest.html` from `backtest`'s result: one self-contained page."""
    return _template().render(result=result)


def write_backtest(result: Mapping[str, Any], out: str | Path) -> dict[str, Path]:
    """Write `backtest.json` and `backtest.html` into `out`, atomically (`atomic_output_dir`)."""
    with atomic_output_dir(out) as folder:
        (folder / JSON_FILE).write_text(
            json.dumps(result, ensure_ascii=False, indent=2, sort_keys=False) + "\n",
            encoding="utf-8",
        )
        (folder / HTML_FILE).write_text(render_backtest(result), encoding="utf-8")
    target = Path(out)
    return {"json": target / JSON_FILE, "html": target / HTML_FILE}


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """One line per run in Chinese and English (what the CLI prints)."""
    lines = [
        f"数据截至 known until {result['known_until']}, 观察期 horizon {result['horizon']} 个月"
    ]
    for run in result["runs"]:
        predicted = run["predicted"]
        text = (
            f"  {run['month']} ({run['status']}): 名单 list {run['list_size']}, 预测召回 predicted "
            f"recall {_pct(predicted['recall'])} [{_pct(predicted['recall_low'])}, "
            f"{_pct(predicted['recall_high'])}]"
        )
        if run["realised"] is not None:
            realised, rules = run["realised"], run["rules"]
            text += (
                f"; 命中 hits {realised['hits']}, 漏报 misses {realised['misses']}, 精确率 "
                f"precision {_pct(realised['precision'])}, 召回 recall {_pct(realised['recall'])}"
                f" (规则 rules {_pct(rules['recall'])})"
            )
        lines.append(text)
    return lines


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"
