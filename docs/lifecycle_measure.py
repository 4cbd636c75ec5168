"""The figures of docs/lifecycle.md: the lifecycle statuses of a run checked against what came after.

Given a simulated county (``risk simulate ... --export-at M``), the run of month M on its export
(``risk score --data DIR/export_M --month M``), and the full county (records up to M + 6 and more):

- ``ready_to_exit``: the share that stays out of distress for the next 6 months (no new
  identification in M+1..M+6), the share the county itself eliminated in those months, and the share of
  truly recovered households it finds (recovered = eliminated in M+1..M+6 and not identified again
  by M+6; the simulator eliminates only after six months without qualifying);
- ``relapse_risk``: recall at its list size of the households out of monitoring at M that are
  identified again in M+1..M+6, against the rule baseline (per-capita income of the last 12 months
  below 1.1 × the line: the flagged set, and the same size ranked by income ratio), the oracle
  (p_true) and a model trained only on post-exit rows of months whose 6-month label is complete at M.

``python docs/lifecycle_measure.py --county DIR --run RUN --month M`` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features.build import build_panel
from features.contract.io import load_directory
from features.contract.lines import MonitoringLines
from risk.lifecycle import lifecycle_households, relapse_baseline

HORIZON = 6


def identified_between(outcomes: pd.DataFrame, start: pd.Period, end: pd.Period) -> set[str]:
    """Households with an identification month in [start, end]."""
    months = outcomes["identified_month"]
    keep = (months >= start) & (months <= end)
    return set(outcomes.loc[keep, "household_id"].astype(str))


def eliminated_between(outcomes: pd.DataFrame, start: pd.Period, end: pd.Period) -> set[str]:
    """Households with an elimination month in [start, end]."""
    months = outcomes["eliminated_month"]
    keep = months.notna() & (months >= start) & (months <= end)
    return set(outcomes.loc[keep, "household_id"].astype(str))


def exit_figures(lifecycle: pd.DataFrame, outcomes: pd.DataFrame, month: pd.Period) -> dict:
    """How the monitored households' statuses at `month` fared in the next `HORIZON` months."""
    end = month + HORIZON
    again = identified_between(outcomes, month + 1, end)
    eliminated = eliminated_between(outcomes, month + 1, end)
    recovered = eliminated - again
    monitored = lifecycle.loc[lifecycle["stage"] == "monitored"]
    out: dict = {"truly_recovered": len(recovered & set(monitored["household_id"]))}
    for status, group in monitored.groupby("status"):
        ids = set(group["household_id"])
        out[status] = {
            "households": len(ids),
            "no_new_identification": round(len(ids - again) / len(ids), 3),
            "eliminated_within_6m": round(len(ids & eliminated) / len(ids), 3),
            "recovered": round(len(ids & recovered) / len(ids), 3),
        }
    ready = set(monitored.loc[monitored["status"] == "ready_to_exit", "household_id"])
    out["ready_share_of_recovered"] = round(len(ready & recovered) / max(len(recovered), 1), 3)
    return out


def relapse_figures(
    lifecycle: pd.DataFrame, county, export, truth: pd.DataFrame, month: pd.Period
) -> dict:
    """Recall of the relapse list and of its competitors at the same size."""
    exited = lifecycle.loc[lifecycle["stage"] == "exited"].set_index("household_id")
    relapsed = identified_between(county.outcomes, month + 1, month + HORIZON)
    positive = exited.index.isin(list(relapsed))
    size = int((exited["status"] == "relapse_risk").sum())
    lines = MonitoringLines()

    def recall_of(chosen: set[str]) -> float:
        return round(len(chosen & relapsed & set(exited.index)) / max(positive.sum(), 1), 3)

    flagged = relapse_baseline(export, list(exited.index), month=month, lines=lines)
    ratio = _income_ratio(export, list(exited.index), month=month, lines=lines)
    by_ratio = set(ratio.sort_values(kind="mergesort").index[:size])
    p_true = truth.loc[truth["month"] == month].set_index("household_id")["p_true"]
    oracle = set(p_true.reindex(exited.index).sort_values(ascending=False).index[:size])
    post_exit = _post_exit_model(export, month=month, lines=lines)
    post = post_exit.reindex(exited.index)
    return {
        "exited_households": len(exited),
        "relapsed_within_6m": int(positive.sum()),
        "list_size": size,
        "recall_main_model": recall_of(set(exited.index[exited["status"] == "relapse_risk"])),
        "auc_main_model": round(roc_auc_score(positive, exited["probability"].fillna(0)), 3),
        "recall_post_exit_model": recall_of(set(post.sort_values(ascending=False).index[:size])),
        "auc_post_exit_model": round(roc_auc_score(positive, post.fillna(0)), 3),
        "rule_flagged": int(flagged.sum()),
        "recall_rule_flagged": recall_of(set(flagged.index[flagged.to_numpy()])),
        "recall_rule_ranked_at_list_size": recall_of(by_ratio),
        "recall_oracle_at_list_size": recall_of(oracle),
    }


def _income_ratio(tables, ids, *, month, lines) -> pd.Series:
    frame = build_panel(tables, months=[month], lines=lines).set_index("household_id")
    return frame["income_to_line_ratio_12m"].reindex(ids).fillna(np.inf)


def _post_exit_model(tables, *, month: pd.Period, lines: MonitoringLines) -> pd.Series:
    """Fit on post-exit rows of months with a complete label, predict `month`'s exited households."""
    months = [month - k for k in range(HORIZON, HORIZON + 18)] + [month]
    panel = build_panel(tables, months=months, lines=lines)
    rows, labels = [], []
    for one in months:
        stages = lifecycle_households(tables.outcomes, month=one, window=24)
        exited = set(stages.loc[stages["stage"] == "exited", "household_id"])
        again = identified_between(tables.outcomes, one + 1, one + HORIZON)
        own = panel.loc[(panel["month"] == one) & panel["household_id"].isin(list(exited))]
        rows.append(own)
        labels.append(own["household_id"].isin(list(again)).to_numpy())
    features = [c for c in panel.columns if c not in ("household_id", "month")]
    train = pd.concat(rows[:-1])
    model = lgb.LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15,
                               min_child_samples=40, subsample=0.8, subsample_freq=1,
                               colsample_bytree=0.8, random_state=0, verbose=-1)  # fmt: skip
    model.fit(train[features], np.concatenate(labels[:-1]))
    latest = rows[-1]
    return pd.Series(model.predict_proba(latest[features])[:, 1], index=latest["household_id"])


def main() -> None:
    """Print the figures for one county, run and month."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--county", type=Path, required=True)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--month", required=True)
    args = parser.parse_args()
    month = pd.Period(args.month, "M")
    key = b"lifecycle-measure"
    county = load_directory(args.county, pseudonym_key=key).tables
    export = load_directory(args.county / f"export_{month}", pseudonym_key=key).tables
    truth = pd.read_parquet(args.county / "_truth" / "truth.parquet")
    truth["month"] = pd.PeriodIndex(truth["month"].astype(str), freq="M")
    truth["household_id"] = truth["household_id"].astype(str)
    lifecycle = pd.read_parquet(args.run / "lifecycle.parquet")
    figures = {
        "month": str(month),
        "ready_to_exit": exit_figures(lifecycle, county.outcomes, month),
        "relapse_risk": relapse_figures(lifecycle, county, export, truth, month),
    }
    print(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
