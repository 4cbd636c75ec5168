"""Training benchmark: `risk train` end to end by stage, and the model-shape comparison of issue 7.

`run(results, data_dir)` adds under ``results["training"]``:
- wall time of each stage of `train_from_tables` (features, labels, model, baselines, …) and in total;
- the comparison table on the validation rows (model, rules, logistic, income ratio, plain reference,
  oracle when the directory has `_truth/truth.parquet`);
- the shape comparison: our explanation-friendly model vs a default-shape LightGBM (31 leaves, no
  depth limit, learning rate 0.1, as many trees as early stopping keeps) fitted on the same rows —
  out-of-time AUC of both, and exact TreeSHAP explanations per second (`pred_contrib=True`) for ours
  vs plain `shap.TreeExplainer(model).shap_values` on the default model, on the same rows.

Run alone: ``python bench/bench_training.py DATA_DIR``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

#: LightGBM's own defaults, with early stopping deciding the number of trees.
DEFAULT_SHAPE = {
    "num_leaves": 31,
    "max_depth": -1,
    "learning_rate": 0.1,
    "min_child_samples": 20,
    "colsample_bytree": 1.0,
    "subsample": 1.0,
    "reg_lambda": 0.0,
    "n_estimators": 2000,
}


def run(results: dict[str, Any], data_dir: Path, *, explain_rows: int = 20_000) -> None:
    """Train on `data_dir` and add the figures to `results["training"]`."""
    from features.io import load_directory
    from features.lines import MonitoringLines
    from features.rules import RuleParams
    from training.evaluate import comparison_table
    from training.train import TrainOptions, prepare_training_data, train_from_tables

    start = time.perf_counter()
    tables = load_directory(data_dir, pseudonym_key=b"bench-training").tables
    load_seconds = time.perf_counter() - start
    truth_path = Path(data_dir) / "_truth" / "truth.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.is_file() else None
    options = TrainOptions(compare_monotone=True)
    start = time.perf_counter()
    result = train_from_tables(
        tables, lines=MonitoringLines(), rule_params=RuleParams(), options=options, truth=truth
    )
    train_seconds = time.perf_counter() - start
    table = comparison_table(result.evaluation)
    figures: dict[str, Any] = {
        "households": int(len(tables.households)),
        "load_seconds": round(load_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "stages_seconds": result.evaluation["timings_seconds"],
        "n_train": result.evaluation["n_train"],
        "n_valid": result.evaluation["n_valid"],
        "positive_rate": result.evaluation["positive_rate"],
        "ece": result.evaluation["ece"],
        "comparison": table.round(4).to_dict(orient="records"),
        "monotone": result.evaluation.get("monotone"),
        "model_shape": result.evaluation["model_shape"],
    }
    prepared = prepare_training_data(tables, lines=MonitoringLines(), options=options)
    figures["shape_comparison"] = shape_comparison(
        prepared, ours=result.model, options=options, explain_rows=explain_rows
    )
    results["training"] = figures
    print(table.round(4).to_string(index=False))
    print(json.dumps(figures["shape_comparison"], indent=2))


def shape_comparison(
    prepared: Any, *, ours: Any, options: Any, explain_rows: int = 20_000
) -> dict[str, Any]:
    """Out-of-time AUC and explanation speed: our model vs a default-shape LightGBM."""
    import shap

    from training.train import fit_model

    default_options = dataclasses.replace(options, model_params=DEFAULT_SHAPE)
    start = time.perf_counter()
    default = fit_model(
        prepared.train,
        prepared.fit_rows,
        prepared.tune_rows,
        prepared.feature_columns,
        default_options,
        monotone=False,
    )
    default_fit = time.perf_counter() - start
    valid = prepared.valid
    y = valid["label"].to_numpy()
    X = valid[prepared.feature_columns]
    rows = X.sample(min(explain_rows, len(X)), random_state=0)
    out: dict[str, Any] = {
        "explained_rows": len(rows),
        "default_fit_seconds": round(default_fit, 1),
    }
    for name, model in (("ours", ours), ("default", default)):
        out[name] = {
            "auc": float(roc_auc_score(y, model.predict_proba(X)[:, 1])),
            "trees": int(model.booster_.num_trees()),
            "num_leaves": model.num_leaves,
            "max_depth": model.max_depth,
        }
        matrix = model.transform_features(rows)
        start = time.perf_counter()
        contributions = model.booster_.predict(matrix, pred_contrib=True)
        seconds = time.perf_counter() - start
        out[name]["pred_contrib_rows_per_second"] = round(len(rows) / seconds)
        assert np.allclose(contributions.sum(axis=1), model.predict_raw(rows), atol=1e-6)
    start = time.perf_counter()
    shap.TreeExplainer(default.booster_).shap_values(default.transform_features(rows))
    plain_seconds = time.perf_counter() - start
    out["default"]["shap_treeexplainer_rows_per_second"] = round(len(rows) / plain_seconds)
    out["auc_difference_ours_minus_default"] = out["ours"]["auc"] - out["default"]["auc"]
    out["speedup_vs_treeexplainer_on_default"] = round(
        out["ours"]["pred_contrib_rows_per_second"]
        / out["default"]["shap_treeexplainer_rows_per_second"],
        2,
    )
    out["speedup_vs_pred_contrib_on_default"] = round(
        out["ours"]["pred_contrib_rows_per_second"]
        / out["default"]["pred_contrib_rows_per_second"],
        2,
    )
    return out


if __name__ == "__main__":
    figures: dict[str, Any] = {}
    run(figures, Path(sys.argv[1]))
    print(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
