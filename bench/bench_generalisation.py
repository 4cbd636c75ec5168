"""Generalisation benchmark: every simulated scenario, scored month by month exactly as a county would.

For each scenario (``simulation`` scenarios: baseline, illness, disaster, migrant, sparse) and seed:

1. Simulate ``households`` × 36 months ending 2026-10, with the directory as exported at the end of
   2025-12, 2026-01, 2026-02 and 2026-03 and the hidden truth (``p_true`` and ``cause``).
2. Train on the 2025-12 export (`training.train.train_from_tables`, default options): the model
   that would be registered.
3. Score each of 2026-01..03 from that month's own export (`risk.score.score_month`, default
   configuration: top 5 % warned, reasons written) — the outputs a reviewer would get.
4. Judge on the same rows (households scored in those months; label = identified within 6 months,
   from the full data): the model, the oracle (``p_true``), the department rules, logistic regression
   and the plain reference — the last two trained on the 2025-12 export on every as-of month whose
   label window had closed, as a county's own analyst would.
5. Reasons: among warned households identified within 6 months, the share whose first reason (and
   any of the top three) names the true cause of the scored month, macro-averaged over causes,
   against naming the commonest cause (the three commonest) for everyone. Households whose true
   cause that month is ``other`` (nothing visible pushed them yet: the shock came later) are counted
   apart and left out, since no reason given that month can name what had not happened.

Run: ``python bench/bench_generalisation.py [--households 20000] [--seeds 0 1] [--scenarios ...]``;
`make bench` runs it with its defaults (``run(results, data_dir)``) and writes ``results["generalisation"]``.
The table printed at the end goes into docs/model.md.

The trained models (the registered model, the two references and the evaluation) are cached per county
under ``bench/cache/scenarios/models/``, keyed by the county's folder (scenario, size, seed, simulator
key) and a hash of the ``training/`` and ``features/`` sources: a change to the reasons alone never
retrains. ``--reasons-only`` re-scores every month with the cached model and measures the reasons only
(the ranking figures are left out); a county without a cached model for today's sources uses its
newest cached model, and says so (``model_cache`` in its figures).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache" / "scenarios"
RUNS = CACHE / "runs"
MODELS = CACHE / "models"
#: Source folders whose code decides what a trained model is (the model cache's key hashes them).
MODEL_SOURCES = ("training", "features")
KEY = b"bench-pseudonym-key"
END = "2026-10"
TRAIN_EXPORT = "2025-12"
SCORED = ("2026-01", "2026-02", "2026-03")
HORIZON = 6
SHARES = (0.05, 0.10)
SCENARIOS = ("baseline", "illness", "disaster", "migrant", "sparse")
#: The truth's cause for a month in which nothing visible pushed the household towards the line: the
#: shock that led to its identification came later, so no reason given that month can name it. Such
#: households are counted (``no_visible_cause``) but left out of the reason accuracy.
HIDDEN_CAUSE = "other"
#: Causes with fewer warned-and-identified households than this make a macro average swing on one
#: household; the macro over the causes with at least this many is reported beside the full one.
MIN_CAUSE_COUNT = 20


@dataclasses.dataclass(frozen=True)
class _Loaded:
    """What `score_month` needs of a registered model."""

    model: Any
    name: str = "bench"
    version: str = "1"
    uri: str = "bench:model"


def run(results: dict[str, Any], data_dir: Path | None = None) -> None:
    """`make bench` entry: every scenario at 20,000 households, seeds 0 and 1."""
    results["generalisation"] = measure(SCENARIOS, seeds=(0, 1), households=20000)


def measure(
    scenarios: tuple[str, ...],
    *,
    seeds: tuple[int, ...],
    households: int,
    runs: Path = RUNS,
    reasons_only: bool = False,
) -> dict[str, Any]:
    """One row of figures per scenario and seed, plus the table as Markdown."""
    rows = []
    for scenario in scenarios:
        for seed in seeds:
            started = time.perf_counter()
            if reasons_only:
                row = county_reasons(scenario, seed=seed, households=households, runs=runs)
            else:
                row = one_county(scenario, seed=seed, households=households, runs=runs)
            row["seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
    return {
        "households": households,
        "rows": rows,
        "table": markdown(rows),
        "confusion": confusion_markdown(rows),
    }


def county_dir(scenario: str, *, seed: int, households: int) -> Path:
    """The simulated county, written once per simulator version (cached under bench/cache/)."""
    from simulation import simulate, write_simulation  # noqa: PLC0415

    folder = CACHE / f"{scenario}-{households}-s{seed}-{_simulator_digest()}"
    if (folder / "_truth" / "truth.parquet").is_file():
        return folder
    sim = simulate(
        households=households,
        months=36,
        end=END,
        seed=seed,
        scenario=scenario,
        export_at=(TRAIN_EXPORT, *SCORED),
    )
    write_simulation(sim, folder)
    return folder


def one_county(scenario: str, *, seed: int, households: int, runs: Path = RUNS) -> dict[str, Any]:
    """Train on the 2025-12 export, score 2026-01..03 from their exports, judge against the truth."""
    from features.contract.io import load_directory  # noqa: PLC0415

    folder = county_dir(scenario, seed=seed, households=households)
    truth = _truth(folder)  # a simulator without causes: reason accuracy is reported unavailable
    full = load_directory(folder, pseudonym_key=KEY).tables
    cached = _cached_models(folder, exact=True)
    if cached is None:
        train_tables = load_directory(folder / f"export_{TRAIN_EXPORT}", pseudonym_key=KEY).tables
        cached = _save_models(folder, _train(train_tables))
    (model, references, evaluation), cache_name = cached
    scored = [_score(folder, month, model, references, runs=runs) for month in SCORED]
    rows = pd.concat([s for s, _ in scored], ignore_index=True)
    explanations = pd.concat([e for _, e in scored], ignore_index=True)
    rows = _label(rows, full)
    rows = rows.merge(truth[["household_id", "month", "p_true", "cause"]], how="left",
                      on=["household_id", "month"])  # fmt: skip
    figures: dict[str, Any] = {
        "scenario": scenario,
        "seed": seed,
        "rows": int(len(rows)),
        "positive_rate": round(float(rows["label"].mean()), 4),
        "chosen": evaluation.get("candidates", {}).get("chosen"),
        "model_cache": cache_name,
    }
    for scorer in ("model", "oracle", "plain_reference", "rules", "logistic"):
        column = "p_true" if scorer == "oracle" else scorer
        figures[scorer] = _metrics(rows, column)
    figures["reasons"] = reason_accuracy(rows, explanations)
    return figures


def county_reasons(
    scenario: str, *, seed: int, households: int, runs: Path = RUNS
) -> dict[str, Any]:
    """``--reasons-only``: re-score 2026-01..03 with the county's cached model, measure the reasons.

    The model is the one cached for today's ``training/`` and ``features/`` sources, else the
    county's newest cached model (``model_cache`` names it). No model cached at all: an error that
    says to run the full benchmark first.
    """
    from features.contract.io import load_directory  # noqa: PLC0415

    folder = county_dir(scenario, seed=seed, households=households)
    cached = _cached_models(folder, exact=False)
    if cached is None:
        raise SystemExit(
            f"no cached model for {folder.name} under {MODELS}: run without --reasons-only first / "
            f"{folder.name} 没有缓存的模型，请先完整运行一次"
        )
    (model, _, evaluation), cache_name = cached
    truth = _truth(folder)
    full = load_directory(folder, pseudonym_key=KEY).tables
    scored = [_score(folder, month, model, None, runs=runs) for month in SCORED]
    rows = pd.concat([s for s, _ in scored], ignore_index=True)
    explanations = pd.concat([e for _, e in scored], ignore_index=True)
    rows = _label(rows, full).merge(
        truth[["household_id", "month", "cause"]], how="left", on=["household_id", "month"]
    )
    return {
        "scenario": scenario,
        "seed": seed,
        "rows": int(len(rows)),
        "chosen": evaluation.get("candidates", {}).get("chosen"),
        "model_cache": cache_name,
        "reasons": reason_accuracy(rows, explanations),
    }


def _truth(folder: Path) -> pd.DataFrame:
    """The county's hidden truth, ids as text and months as periods (``cause`` NA when absent)."""
    truth = pd.read_parquet(folder / "_truth" / "truth.parquet")
    truth["household_id"] = truth["household_id"].astype(str)
    truth["month"] = pd.PeriodIndex(truth["month"].astype(str), freq="M")
    if "cause" not in truth:
        truth["cause"] = pd.NA
    return truth


def _source_digest() -> str:
    """A short hash of the ``training/`` and ``features/`` sources (paths and contents)."""
    import hashlib  # noqa: PLC0415

    root = HERE.parent
    digest = hashlib.sha256()
    for folder in MODEL_SOURCES:
        for path in sorted((root / folder).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def model_cache_path(folder: Path) -> Path:
    """Where a county's trained models are cached for today's sources."""
    return MODELS / f"{folder.name}--{_source_digest()}.pkl"


def _cached_models(folder: Path, *, exact: bool) -> tuple[Any, str] | None:
    """The cached (model, references, evaluation) of a county and the cache file's name, or None.

    `exact`: only the cache of today's sources; otherwise the newest cache of the county when
    today's is missing.
    """
    import pickle  # noqa: PLC0415

    path = model_cache_path(folder)
    if not path.is_file() and not exact:
        older = sorted(MODELS.glob(f"{folder.name}--*.pkl"), key=lambda p: p.stat().st_mtime)
        if older:
            path = older[-1]
            print(f"{folder.name}: no model for today's sources; using {path.name}", flush=True)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        return pickle.load(handle), path.name  # noqa: S301 - the bench's own cache


def _save_models(folder: Path, trained: tuple[Any, ...]) -> tuple[Any, str]:
    """Cache a county's trained models (written to a temporary file, then renamed)."""
    import os  # noqa: PLC0415
    import pickle  # noqa: PLC0415

    path = model_cache_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with partial.open("wb") as handle:
        pickle.dump(trained, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)
    return trained, path.name


def _train(tables: Any) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The registered model of a default `risk train`, and the two references a county would fit."""
    from features.build import build_panel  # noqa: PLC0415
    from features.contract.lines import MonitoringLines  # noqa: PLC0415
    from features.rules import RuleParams  # noqa: PLC0415
    from training import baselines  # noqa: PLC0415
    from training.labels import build_labels, labellable_months  # noqa: PLC0415
    from training.train import TrainOptions, first_record_month, train_from_tables  # noqa: PLC0415

    options = TrainOptions()
    result = train_from_tables(
        tables, lines=MonitoringLines(), rule_params=RuleParams(), options=options
    )
    first = first_record_month(tables) + options.history - 1
    candidates = pd.period_range(first, tables.export_month, freq="M")
    months = labellable_months(list(candidates), known_until=tables.export_month, horizon=HORIZON)
    panel = build_panel(tables, months=months, lines=MonitoringLines())
    labels = build_labels(
        tables.outcomes,
        tables.households["household_id"],
        months=months,
        horizon=HORIZON,
        known_until=tables.export_month,
    )
    data = labels.merge(panel, on=["household_id", "month"], how="inner")
    columns = [c for c in panel.columns if c not in ("household_id", "month")]
    y = data["label"].to_numpy()
    references = {
        "plain_reference": baselines.fit_plain_reference(data[columns], y),
        "logistic": baselines.fit_logistic(data[columns], y),
    }
    return result.model, references, result.evaluation


def _score(
    folder: Path, month: str, model: Any, references: dict[str, Any] | None, *, runs: Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score one month from its own export as `risk score` does; add the references and the rules.

    Without `references` (``--reasons-only``) only the model's scores and reasons are returned.
    """
    from features.build import build_features  # noqa: PLC0415
    from features.contract.io import load_directory  # noqa: PLC0415
    from features.contract.lines import MonitoringLines  # noqa: PLC0415
    from features.rules import RuleParams, department_rules  # noqa: PLC0415
    from risk.config import FanpinConfig  # noqa: PLC0415
    from risk.score import score_month  # noqa: PLC0415
    from training import baselines  # noqa: PLC0415

    period = pd.Period(month, freq="M")
    tables = load_directory(folder / f"export_{month}", pseudonym_key=KEY).tables
    out = runs / f"{folder.name}-{month}"
    result = score_month(
        tables,
        month=period,
        model=_Loaded(model),
        config=FanpinConfig(),
        out_dir=out,
        progress=False,
    )
    scores = result.scores[["household_id", "probability", "warned"]].copy()
    scores["household_id"] = scores["household_id"].astype(str)
    scores["month"] = period
    scores = scores.rename(columns={"probability": "model"})
    explanations = result.explanations.copy()
    explanations["household_id"] = explanations["household_id"].astype(str)
    explanations["month"] = period
    if references is None:
        return scores, explanations
    features = build_features(tables, as_of=period, lines=MonitoringLines()).set_index(
        "household_id"
    )
    features.index = features.index.astype(str)
    features = features.loc[scores["household_id"]]
    scores["plain_reference"] = baselines.predict_plain_reference(
        references["plain_reference"], features
    )
    scores["logistic"] = baselines.predict_logistic(
        references["logistic"], features.drop(columns=["month"])
    )
    rules = department_rules(tables, as_of=period, params=RuleParams(), lines=MonitoringLines())
    rules.index = rules.index.astype(str)
    scores["rules"] = rules["rule_score"].reindex(scores["household_id"]).fillna(0.0).to_numpy()
    return scores, explanations


def _label(rows: pd.DataFrame, full: Any) -> pd.DataFrame:
    """Label = identified within `HORIZON` months after the scored month (the full data's outcomes)."""
    from training.labels import build_labels  # noqa: PLC0415

    labels = build_labels(
        full.outcomes,
        rows["household_id"].unique(),
        months=[pd.Period(m, freq="M") for m in SCORED],
        horizon=HORIZON,
        known_until=full.export_month,
    )
    return rows.merge(labels, on=["household_id", "month"], how="inner")


def _metrics(rows: pd.DataFrame, column: str) -> dict[str, float | None]:
    """AUC and recall at each share (each month's top share, pooled), on rows with a score."""
    from training.evaluate import score_metrics  # noqa: PLC0415

    known = rows[column].notna()
    part = rows.loc[known]
    out: dict[str, float | None] = {"auc": None, "coverage": round(float(known.mean()), 4)}
    if part.empty or part["label"].nunique() < 2:
        return out
    metrics = score_metrics(part["label"].to_numpy(), part[column].to_numpy(), calibrated=False)
    out["auc"] = round(float(metrics["auc"]), 4)
    for share in SHARES:
        hit = np.zeros(len(part), dtype=bool)
        for _, index in part.groupby("month").indices.items():
            values = part[column].to_numpy()[index]
            order = np.lexsort((np.arange(len(values)), -values))
            hit[index[order[: int(round(share * len(values)))]]] = True
        positives = part["label"].to_numpy() == 1
        out[f"recall@{share:.2f}"] = round(float(hit[positives].mean()), 4)
    return out


def reason_accuracy(rows: pd.DataFrame, explanations: pd.DataFrame) -> dict[str, Any]:
    """First-reason and top-3 accuracy against the true cause, macro over causes, and the baselines.

    Among warned households later identified (label 1): the true cause is the truth's `cause` in the
    scored month; the reasons are the explanation rows with `reason_order` 1, 2, 3 (their `cause`).
    The baselines name, for everyone, the commonest true cause (first) and the three commonest (top 3).
    """
    hits = rows[(rows["warned"]) & (rows["label"] == 1) & rows["cause"].notna()]
    hidden = int((hits["cause"].astype(str) == HIDDEN_CAUSE).sum())
    hits = hits[~hits["cause"].astype(str).isin(["", HIDDEN_CAUSE])]
    if hits.empty or "reason_order" not in explanations or "cause" not in explanations:
        return {"households": int(len(hits)), "available": False, "no_visible_cause": hidden}
    shown = explanations[explanations["reason_order"].notna()].copy()
    shown["reason_order"] = shown["reason_order"].astype(int)
    shown = shown[shown["reason_order"] <= 3]
    keys = ["household_id", "month"]
    first = shown[shown["reason_order"] == 1].drop_duplicates(keys).set_index(keys)["cause"]
    top3 = shown.groupby(keys)["cause"].agg(lambda c: set(c.astype(str)))
    index = pd.MultiIndex.from_frame(hits[keys])
    true = hits["cause"].astype(str).to_numpy()
    said_first = first.reindex(index).astype(object).to_numpy()
    said_top3 = top3.reindex(index).to_numpy()
    first_ok = np.array([s == t for s, t in zip(said_first, true, strict=True)])
    top3_ok = np.array(
        [isinstance(s, set) and t in s for s, t in zip(said_top3, true, strict=True)]
    )
    commonest = pd.Series(true).value_counts()
    base_first = true == commonest.index[0]
    base_top3 = np.isin(true, list(commonest.index[:3]))
    return {
        "households": int(len(hits)),
        "available": True,
        "no_visible_cause": hidden,
        "causes": {str(k): int(v) for k, v in commonest.items()},
        "first": _macro(first_ok, true),
        "top3": _macro(top3_ok, true),
        "baseline_first": _macro(base_first, true),
        "baseline_top3": _macro(base_top3, true),
        "first_by_cause": _by_cause(first_ok, true),
        "top3_by_cause": _by_cause(top3_ok, true),
        "first_confusion": _confusion(true, said_first),
        "first_micro": round(float(first_ok.mean()), 4),
        "top3_micro": round(float(top3_ok.mean()), 4),
        f"first_macro_n{MIN_CAUSE_COUNT}": _macro(first_ok, true, least=MIN_CAUSE_COUNT),
        f"top3_macro_n{MIN_CAUSE_COUNT}": _macro(top3_ok, true, least=MIN_CAUSE_COUNT),
    }


def _confusion(true: np.ndarray, said: np.ndarray) -> dict[str, dict[str, int]]:
    """True cause → the first reason's cause → households (``"none"``: no reason given)."""
    named = pd.Series(said, dtype=object).fillna("none").astype(str).to_numpy()
    table = pd.crosstab(pd.Series(true, name="true"), pd.Series(named, name="said"))
    return {
        str(cause): {str(k): int(v) for k, v in row.items() if v} for cause, row in table.iterrows()
    }


def confusion_markdown(rows: list[dict[str, Any]]) -> str:
    """Per scenario and seed: true cause × the first reason's cause (households), as Markdown."""
    lines = []
    for r in rows:
        confusion = r["reasons"].get("first_confusion")
        if not confusion:
            continue
        said = sorted({c for row in confusion.values() for c in row})
        lines += [
            f"{r['scenario']} seed {r['seed']}",
            "",
            "| true \\ first | " + " | ".join(said) + " |",
        ]
        lines.append("|---" * (len(said) + 1) + "|")
        for cause, row in confusion.items():
            lines.append(f"| {cause} | " + " | ".join(str(row.get(c, 0)) for c in said) + " |")
        lines.append("")
    return "\n".join(lines)


def _by_cause(ok: np.ndarray, true: np.ndarray) -> dict[str, float]:
    return {str(c): round(float(ok[true == c].mean()), 3) for c in sorted(set(true))}


def _macro(ok: np.ndarray, true: np.ndarray, *, least: int = 1) -> float | None:
    """Mean over causes of the share right; `least`: only causes with that many households."""
    counts = pd.Series(true).value_counts()
    shares = [v for c, v in _by_cause(ok, true).items() if counts[c] >= least]
    return round(float(np.mean(shares)), 4) if shares else None


def markdown(rows: list[dict[str, Any]]) -> str:
    """The docs/model.md tables: ranking, then reasons; one line per scenario and seed."""
    scorers = ("model", "oracle", "plain_reference", "rules", "logistic")
    ranking = [
        "| scenario | seed | AUC: model | oracle | plain ref. | rules | logistic "
        "| R@10%: model | oracle | plain ref. | rules | logistic | model ÷ rules (oracle ÷ rules) "
        "| R@5%: model | oracle |",
        "|---" * 15 + "|",
    ]
    n = MIN_CAUSE_COUNT
    reasons = [
        f"| scenario | seed | households | 1st reason: macro | macro (causes ≥ {n}) | micro "
        f"| top 3: macro | macro (causes ≥ {n}) | micro | commonest cause(s): 1st / top 3 |",
        "|---" * 10 + "|",
    ]
    for r in rows:
        if "model" in r:  # not with --reasons-only
            ranking.append(_ranking_line(r, scorers))
        why = r["reasons"]
        if why.get("available"):
            cells = [
                r["scenario"],
                str(r["seed"]),
                str(why["households"]),
                *(_fmt(why.get(k)) for k in ("first", f"first_macro_n{n}", "first_micro")),
                *(_fmt(why.get(k)) for k in ("top3", f"top3_macro_n{n}", "top3_micro")),
                f"{_fmt(why['baseline_first'])} / {_fmt(why['baseline_top3'])}",
            ]
            reasons.append("| " + " | ".join(cells) + " |")
    head = "\n".join(ranking) + "\n\n" if len(ranking) > 2 else ""
    return head + "\n".join(reasons)


def _ranking_line(r: dict[str, Any], scorers: tuple[str, ...]) -> str:
    ratio = _ratio(r["model"].get("recall@0.10"), r["rules"].get("recall@0.10"))
    oracle = _ratio(r["oracle"].get("recall@0.10"), r["rules"].get("recall@0.10"))
    cells = [
        r["scenario"],
        str(r["seed"]),
        *(_fmt(r[s]["auc"]) for s in scorers),
        *(_fmt(r[s].get("recall@0.10")) for s in scorers),
        f"{ratio} ({oracle})",
        _fmt(r["model"].get("recall@0.05")),
        _fmt(r["oracle"].get("recall@0.05")),
    ]
    return "| " + " | ".join(cells) + " |"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return "—" if not numerator or not denominator else f"{numerator / denominator:.2f}×"


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}"


def _simulator_digest() -> str:
    """A short hash of the simulator's source: a changed simulator re-simulates the cache.

    ``FANPIN_BENCH_SIMULATOR_KEY`` replaces the hash: while working on the model, a cache simulated
    once stays in use across simulator edits known not to change a county's files.
    """
    import hashlib  # noqa: PLC0415
    import os  # noqa: PLC0415

    if key := os.environ.get("FANPIN_BENCH_SIMULATOR_KEY"):
        return key

    import simulation  # noqa: PLC0415

    digest = hashlib.sha256()
    for path in sorted(Path(simulation.__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=20000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--out", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--reasons-only",
        action="store_true",
        help="re-score with the cached models and measure the reasons only (no training)",
    )
    parser.add_argument(
        "--runs", type=Path, default=RUNS, help="where the scoring runs are written"
    )
    args = parser.parse_args(argv)
    figures = measure(
        tuple(args.scenarios),
        seeds=tuple(args.seeds),
        households=args.households,
        runs=args.runs,
        reasons_only=args.reasons_only,
    )
    print(figures["table"])
    print("\nFirst reason by true cause (households):\n")
    print(figures["confusion"])
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    raise SystemExit(main())
