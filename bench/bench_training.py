"""Training benchmark: `risk train` end to end by stage (`make bench`, via bench/run.py).

`run(results, data_dir)` adds under ``results["training"]``:
- wall and CPU time and peak memory of `train_from_tables`, and the wall time of each of its stages
  (features, labels, model, baselines, …);
- the comparison table on the validation rows (model, rules, logistic, income ratio, plain reference,
  oracle when the directory has `_truth/truth.parquet`).

The trained model and the prepared rows (the out-of-time split `train_from_tables` built) are left in
`session` for the later stages: the monthly run scores with this model, and the model-shape
comparison (bench_scale: our model vs a default-shape LightGBM, explanation speed and out-of-time
AUC) fits the default model on the same fit/tune rows and compares on the same validation rows.
That comparison used to be made here as well; it is made once, there.

Run alone: ``python bench/bench_training.py DATA_DIR``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import session


def run(results: dict[str, Any], data_dir: Path) -> None:
    """Train on `data_dir` and add the figures to `results["training"]`."""
    from features.contract.lines import MonitoringLines
    from features.rules import RuleParams
    from training.evaluate import comparison_table
    from training.train import TrainOptions, train_from_tables

    tables, load = session.tables(data_dir)
    truth_path = Path(data_dir) / "_truth" / "truth.parquet"
    truth = pd.read_parquet(truth_path) if truth_path.is_file() else None
    options = TrainOptions(compare_monotone=True)
    measure: dict[str, Any] = {}
    with _keeping_prepared() as prepared, session.measured(measure):
        result = train_from_tables(
            tables, lines=MonitoringLines(), rule_params=RuleParams(), options=options, truth=truth
        )
    session.put("training", {"model": result.model, "prepared": prepared[0], "options": options})
    table = comparison_table(result.evaluation)
    figures: dict[str, Any] = {
        "households": int(len(tables.households)),
        "load": load,
        "load_seconds": load["seconds"],
        "train_seconds": measure["seconds"],
        "train_cpu_seconds": measure["cpu_seconds"],
        "train_peak_memory_gib": measure["peak_rss_above_start_gib"],
        "stages_seconds": result.evaluation["timings_seconds"],
        "n_train": result.evaluation["n_train"],
        "n_valid": result.evaluation["n_valid"],
        "positive_rate": result.evaluation["positive_rate"],
        "ece": result.evaluation["ece"],
        "comparison": table.round(4).to_dict(orient="records"),
        "monotone": result.evaluation.get("monotone"),
        "model_shape": result.evaluation["model_shape"],
    }
    results["training"] = figures
    print(table.round(4).to_string(index=False))
    print(
        f"[bench] risk train: {figures['train_seconds']} s "
        f"(CPU {figures['train_cpu_seconds']} s); stages {figures['stages_seconds']}"
    )


@contextmanager
def _keeping_prepared() -> Iterator[list[Any]]:
    """Keep what `train_from_tables` prepared (the panel is built once, not again for the comparison)."""
    import training.train as train  # noqa: PLC0415

    original: Callable[..., Any] = train.prepare_training_data
    kept: list[Any] = []

    def keeping(*args: Any, **kwargs: Any) -> Any:
        prepared = original(*args, **kwargs)
        kept.append(prepared)
        return prepared

    train.prepare_training_data = keeping
    try:
        yield kept
    finally:
        train.prepare_training_data = original


if __name__ == "__main__":
    figures: dict[str, Any] = {}
    run(figures, Path(sys.argv[1]))
    print(json.dumps(figures, indent=2, ensure_ascii=False, default=str))
