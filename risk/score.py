"""Monthly scoring: features → predict → rules and selection → explanations → outputs.

`score_month` is the job users run every month (``risk score``). It is split into stage functions that
take and return plain frames, so a partitioned engine (issue 7, Dask) can run the per-household stages
on partitions and gather them before selection and writing:

1. `check_feeds` — department feeds missing for the month or sharply down (warned loudly, never silent);
2. `build_month_features` — one row per household (``features.build.build_features``);
3. `check_model_features` — refuse a model whose features do not match, naming them;
4. `predict_households` — calibrated probability and raw log-odds of every household not monitored;
5. `rank_and_tier`, `policy_rule_triggers`, `select_warned` — ranking, 高/中/低, department rules
   (always listed), capacity / top percent / threshold;
6. `explain_warned` — exact TreeSHAP reasons for the listed households;
7. `write_outputs` — scores.parquet, explanations.parquet, warnings.xlsx, report.html, manifest.json,
   written together into a temporary folder and swapped into place only after success.

The run id depends on the inputs only (data hashes, month, model, settings), and the parquet files and
the workbook hold no wall-clock value, so re-running gives identical files.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract.errors import DataContractError
from features.contract.lines import MonitoringLines
from features.contract.tables import TABLE_NAMES, Tables
from features.sources.monitoring import monitored_at
from risk.atomic import atomic_output_dir
from risk.config import FanpinConfig, WarningConfig
from risk.explain import (
    EXPLANATION_COLUMNS,
    ReasonSpec,
    default_catalogue,
    explain_households,
    main_reasons,
    model_contributions,
    previous_main_reasons,
)
from risk.manifest import (
    MANIFEST_NAME,
    frame_hashes,
    input_hashes,
    library_versions,
    make_run_id,
    write_manifest,
)
from training.model import ModelMismatchError

SCORES_FILE = "scores.parquet"
EXPLANATIONS_FILE = "explanations.parquet"
WARNINGS_FILE = "warnings.xlsx"
REPORT_FILE = "report.html"
OUTPUT_FILES = (SCORES_FILE, EXPLANATIONS_FILE, WARNINGS_FILE, REPORT_FILE, MANIFEST_NAME)

#: Columns of ``scores.parquet`` (INTERFACE.md).
SCORE_COLUMNS: tuple[str, ...] = (
    "household_id",
    "county",
    "township",
    "village",
    "month",
    "probability",
    "rank",
    "tier",
    "warned",
    "rule_triggers",
    "model_version",
    "run_id",
)
TIERS: tuple[str, str, str] = ("高", "中", "低")
AUDIT_MARK = "随机抽查（模型未预警，用于核查名单准确率）"

#: Department feeds checked every month, and the date column that places a record in a month.
FEED_DATES: Mapping[str, tuple[str, ...]] = {
    "income": ("month",),
    "medical": ("settle_date",),
    "employment": ("start_month", "end_month"),
    "assistance": ("month",),
    "disability": ("certified_date",),
    "events": ("date",),
}
TABLE_LABELS_ZH: Mapping[str, str] = {
    "households": "户信息",
    "members": "家庭成员",
    "income": "收入",
    "medical": "医保结算",
    "disability": "残疾人证",
    "employment": "务工",
    "assistance": "帮扶救助",
    "events": "突发事件",
    "outcomes": "监测对象",
}
#: Feeds whose records arrive every month for a sizeable share of households; for them a month
#: without records is a missing feed. Sparse feeds (certificates, events) only warn when they stop.
_REGULAR_FEEDS = ("income", "medical", "employment", "assistance")
_LOOKBACK_MONTHS = 6
_DROP_RATIO = 0.5
_MIN_BASELINE = 5.0
_PROFILE_BINS = 10


class LoadedModelLike(Protocol):
    """What scoring needs from ``training.registry.load_model(...)``."""

    @property
    def model(self) -> Any: ...
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def uri(self) -> str: ...


@dataclass(frozen=True)
class FeedWarning:
    """A department feed that is absent, silent for the month, or sharply down.

    Attributes
    ----------
    table
        Contract table name (``medical``, ...).
    kind
        ``missing_table``, ``no_records`` (none for the scoring month), ``volume_drop``, or
        ``stale`` (the feed's last record is months before the scoring month).
    count, baseline
        Records in the scoring month, and the median over the preceding months.
    """

    table: str
    kind: str
    month: str
    count: int
    baseline: float
    message: str


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run produced (and where)."""

    run_id: str
    month: str
    out_dir: Path
    scores: pd.DataFrame
    explanations: pd.DataFrame
    feed_warnings: tuple[FeedWarning, ...]
    counts: dict[str, int]
    timings: dict[str, float]
    manifest: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)


# --- 1. feeds ------------------------------------------------------------------------------------


def feed_volumes(
    tables: Tables,
    *,
    months: Sequence[pd.Period],
    ordinals: Mapping[tuple[str, str], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Records per department feed (rows) and month (columns); NaN for a feed not sent.

    A record counts in the month of its date; a work spell counts in its start and its end month
    (the feed's activity), so a feed that stops updating shows as a drop. `ordinals` are the
    month ordinals of each (table, date column), when already computed (`_feed_ordinals`).
    """
    dated = _feed_ordinals(tables) if ordinals is None else ordinals
    labels = [str(m) for m in months]
    volumes = pd.DataFrame(np.nan, index=list(FEED_DATES), columns=labels)
    wanted = np.array([m.ordinal for m in months], dtype=np.int64)
    for table, columns in FEED_DATES.items():
        frame = getattr(tables, table)
        if frame is None:
            continue
        counts = np.zeros(len(months), dtype=np.int64)
        low, high = int(wanted.min()), int(wanted.max())
        for column in columns:
            record_months = dated[(table, column)]
            inside = record_months[(record_months >= low) & (record_months <= high)]
            by_month = np.bincount(inside - low, minlength=high - low + 1)
            counts += by_month[wanted - low]
        volumes.loc[table] = counts
    return volumes


def check_feeds(
    tables: Tables,
    *,
    month: pd.Period,
    lookback: int = _LOOKBACK_MONTHS,
    drop_ratio: float = _DROP_RATIO,
) -> list[FeedWarning]:
    """Find department feeds that would silently make households look healthy.

    Parameters
    ----------
    tables
        The loaded tables.
    month
        The scoring month.
    lookback
        Months before `month` whose median volume is the baseline.
    drop_ratio
        Warn when the month's volume is below this share of the baseline.

    Returns
    -------
    One `FeedWarning` per affected feed (a missing table, no records this month, a sharp drop, or a
    feed that stopped before the month).
    """
    months = [month - k for k in range(lookback, -1, -1)]
    ordinals = _feed_ordinals(tables)
    volumes = feed_volumes(tables, months=months, ordinals=ordinals)
    found = []
    for table in FEED_DATES:
        label = f"{table}（{TABLE_LABELS_ZH[table]}）"
        if getattr(tables, table) is None:
            found.append(_missing_table(table, label, month))
            continue
        counts = volumes.loc[table].to_numpy(dtype=float)
        current, baseline = int(counts[-1]), float(np.median(counts[:-1]))
        warning = _volume_warning(
            table, label, month=month, current=current, baseline=baseline, ratio=drop_ratio
        )
        if warning is None:
            warning = _stale_warning(ordinals, table, label, month=month)
        if warning is not None:
            found.append(warning)
    return found


def _missing_table(table: str, label: str, month: pd.Period) -> FeedWarning:
    return FeedWarning(
        table,
        "missing_table",
        str(month),
        0,
        math.nan,
        f"部门数据缺失：{label} 未提供，相关指标按缺失处理，结果可能低估风险 — "
        f"the {table} feed was not sent; its features are missing, risk may be understated",
    )


def _volume_warning(
    table: str, label: str, *, month: pd.Period, current: int, baseline: float, ratio: float
) -> FeedWarning | None:
    regular = table in _REGULAR_FEEDS
    if current == 0 and regular and baseline >= _MIN_BASELINE:
        return FeedWarning(
            table,
            "no_records",
            str(month),
            current,
            baseline,
            f"部门数据异常：{label} 在 {month} 没有任何记录（此前每月约 {baseline:,.0f} 条），"
            f"请核实是否漏报 — the {table} feed has no records for {month} "
            f"(about {baseline:,.0f} a month before); check whether it was sent",
        )
    if baseline >= _MIN_BASELINE and current < ratio * baseline:
        return FeedWarning(
            table,
            "volume_drop",
            str(month),
            current,
            baseline,
            f"部门数据量骤降：{label} 在 {month} 只有 {current:,} 条记录，"
            f"仅为此前月均 {baseline:,.0f} 条的 {current / baseline:.0%} — "
            f"the {table} feed dropped to {current:,} records in {month} from about "
            f"{baseline:,.0f} a month",
        )
    return None


def _stale_warning(
    ordinals: Mapping[tuple[str, str], np.ndarray], table: str, label: str, *, month: pd.Period
) -> FeedWarning | None:
    known = [
        ords[ords <= month.ordinal]
        for c in FEED_DATES[table]
        if (ords := ordinals[(table, c)]).size
    ]
    latest = max((int(o.max()) for o in known if o.size), default=None)
    if latest is not None and month.ordinal - latest <= _LOOKBACK_MONTHS:
        return None
    last_seen = "从无记录" if latest is None else str(pd.Period(ordinal=latest, freq="M"))
    return FeedWarning(
        table,
        "stale",
        str(month),
        0,
        0.0,
        f"部门数据停更：{label} 最近记录为 {last_seen}，{month} 前半年无任何记录 — "
        f"the {table} feed has no records in the six months up to {month} (last: {last_seen})",
    )


def _feed_ordinals(tables: Tables) -> dict[tuple[str, str], np.ndarray]:
    """Month ordinals of every date column of the department feeds that were sent."""
    return {
        (table, column): _ordinals(frame[column])
        for table, columns in FEED_DATES.items()
        if (frame := getattr(tables, table)) is not None
        for column in columns
    }


def _ordinals(series: pd.Series) -> np.ndarray:
    """Month ordinals (months since 1970-01, as ``pd.Period``) of a month/date column, missing dropped."""
    if isinstance(series.dtype, pd.PeriodDtype):
        values = series.array.asi8
        return np.asarray(values[values != np.iinfo(np.int64).min], dtype=np.int64)
    if not pd.api.types.is_datetime64_any_dtype(series):
        series = pd.to_datetime(series)
    dates = series.to_numpy(dtype="datetime64[ns]")
    dates = dates[~np.isnat(dates)]
    return dates.astype("datetime64[M]").astype(np.int64)


# --- 2–4. features, model check, prediction -------------------------------------------------------


def build_month_features(
    tables: Tables, *, month: pd.Period, lines: MonitoringLines
) -> pd.DataFrame:
    """Point-in-time features of every household for `month`, indexed by ``household_id``."""
    from features.build import build_features  # noqa: PLC0415

    frame = build_features(tables, as_of=month, lines=lines)
    return frame.drop(columns=["month"]).set_index("household_id")


def check_model_features(expected: Sequence[str], available: Sequence[str]) -> None:
    """Refuse a model whose features differ from those built, naming the missing and unexpected.

    Raises
    ------
    ModelMismatchError
        "missing" are features the model needs but the data do not give; "unexpected" are features
        built from the data that the model does not know.
    """
    expected_set, available_set = set(expected), set(available)
    missing = [n for n in expected if n not in available_set]
    unexpected = [n for n in available if n not in expected_set]
    if missing or unexpected:
        raise ModelMismatchError(
            "模型与特征不匹配 the model does not match the features built from the data: "
            f"missing (model needs, data lack) {missing or 'none'}; "
            f"unexpected (built, model does not know) {unexpected or 'none'}. "
            "Score with a model trained by this fanpin version (risk train), or name one with "
            "--model."
        )


def predict_households(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    """Calibrated probability and raw log-odds per household (index kept).

    Uses the model's own ``predict_raw`` (trees or a linear model alike), then its calibrator, so the
    features are prepared a single time for both values.
    """
    names = [str(n) for n in model.feature_names_in_]
    ordered = features.loc[:, names]
    if len(ordered) == 0:
        return pd.DataFrame({"probability": [], "raw_score": []}, index=features.index)
    raw = np.asarray(model.predict_raw(ordered), dtype=float)
    probability = np.clip(np.asarray(model.calibrator_.predict(raw), dtype=float), 0.0, 1.0)
    return pd.DataFrame({"probability": probability, "raw_score": raw}, index=features.index)


# --- 5. ranking, rules, selection ------------------------------------------------------------------


def rank_and_tier(
    predictions: pd.DataFrame, *, tier_high: float, tier_medium: float
) -> pd.DataFrame:
    """Add ``rank`` (1 = highest; ties by raw score, then household id) and ``tier`` 高/中/低."""
    order = pd.DataFrame(
        {
            "probability": predictions["probability"].to_numpy(),
            "raw_score": predictions["raw_score"].to_numpy(),
            "household_id": predictions.index.astype(str),
        }
    ).sort_values(
        ["probability", "raw_score", "household_id"],
        ascending=[False, False, True],
        kind="mergesort",
    )
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order.index.to_numpy()] = np.arange(1, len(order) + 1)
    probability = predictions["probability"].to_numpy()
    tier = np.where(
        probability >= tier_high, TIERS[0], np.where(probability >= tier_medium, TIERS[1], TIERS[2])
    )
    return predictions.assign(rank=ranks, tier=tier)


def policy_rule_triggers(tables: Tables, *, month: pd.Period, config: FanpinConfig) -> pd.Series:
    """Department rules that fired on a record of `month` itself, per household (list of names)."""
    from features.rules import RULE_NAMES, department_rules, triggered_rules  # noqa: PLC0415

    rules = department_rules(tables, as_of=month, params=config.rules, lines=config.lines)
    # Name the rules only where one fired (a few percent of households); the others get [].
    fired = rules[[f"{name}_new" for name in RULE_NAMES]].to_numpy(bool).any(axis=1)
    values: list[list[str]] = [[] for _ in range(len(rules))]
    for position, names in zip(
        np.flatnonzero(fired), triggered_rules(rules.loc[fired], new_only=True), strict=True
    ):
        values[position] = names
    return pd.Series(values, index=rules.index.astype(str), name="rule_triggers", dtype=object)


def select_warned(
    ranked: pd.DataFrame, rule_triggers: pd.Series, *, warning: WarningConfig
) -> pd.Series:
    """Warned households: the operating point's pick plus every household a listing rule fired for.

    Parameters
    ----------
    ranked
        From `rank_and_tier` (``probability``, ``rank``), one row per scored household.
    rule_triggers
        Household → list of rules fired this month (any household; others are ignored).
    warning
        ``capacity`` N (the top N), ``top_percent`` P (the top ⌈P % · n⌉) or ``threshold`` p
        (probability ≥ p); the first one set wins in that order. A household one of whose
        triggered rules is in ``always_list`` is listed whatever its rank.

    Examples
    --------
    >>> ranked = pd.DataFrame({"probability": [.9, .5, .1, .05], "rank": [1, 2, 3, 4]},
    ...                       index=list("ABCD"))
    >>> triggers = pd.Series([[], [], ["dibao_edge"], ["large_inpatient_stay"]], index=list("ABCD"))
    >>> select_warned(ranked, triggers, warning=WarningConfig(capacity=1, top_percent=None)).tolist()
    [True, False, False, True]
    """
    n = len(ranked)
    if warning.capacity is not None:
        picked = ranked["rank"].to_numpy() <= min(warning.capacity, n)
    elif warning.top_percent is not None:
        picked = ranked["rank"].to_numpy() <= math.ceil(n * warning.top_percent / 100.0)
    elif warning.threshold is not None:
        picked = ranked["probability"].to_numpy() >= warning.threshold
    else:
        picked = np.zeros(n, dtype=bool)
    listing = frozenset(warning.always_list)
    fired = (
        np.fromiter(
            (
                isinstance(v, list) and not listing.isdisjoint(v)
                for v in rule_triggers.reindex(ranked.index)
            ),
            dtype=bool,
            count=n,
        )
        if len(rule_triggers) and listing
        else np.zeros(n, dtype=bool)
    )
    return pd.Series(picked | fired, index=ranked.index)


def operating_point(warning: WarningConfig) -> dict[str, Any]:
    """The chosen operating point as a small mapping (manifest, report, workbook)."""
    if warning.capacity is not None:
        return {"mode": "capacity", "value": warning.capacity}
    if warning.top_percent is not None:
        return {"mode": "top_percent", "value": warning.top_percent}
    return {"mode": "threshold", "value": warning.threshold}


def assemble_scores(
    ranked: pd.DataFrame,
    households: pd.DataFrame,
    rule_triggers: pd.Series,
    warned: pd.Series,
    *,
    month: pd.Period,
    model_version: str,
    run_id: str,
) -> pd.DataFrame:
    """The ``scores.parquet`` frame: `SCORE_COLUMNS`, one row per scored household, by rank."""
    ids = ranked.index.astype(str)
    region = (
        households[["county", "township", "village"]]
        .set_axis(households["household_id"].astype(str), axis=0)
        .reindex(ids)
    )
    triggers = rule_triggers.reindex(ids).tolist()
    frame = pd.DataFrame(
        {
            "household_id": ids,
            "county": region["county"].astype(str).to_numpy(),
            "township": region["township"].astype(str).to_numpy(),
            "village": region["village"].astype(str).to_numpy(),
            "month": str(month),
            "probability": ranked["probability"].to_numpy(dtype=float),
            "rank": ranked["rank"].to_numpy(dtype=np.int64),
            "tier": ranked["tier"].astype(str).to_numpy(),
            "warned": warned.reindex(ranked.index).to_numpy(dtype=bool),
            "rule_triggers": [list(v) if isinstance(v, list) else [] for v in triggers],
            "model_version": str(model_version),
            "run_id": run_id,
        }
    )
    return frame.sort_values("rank", kind="mergesort").reset_index(drop=True)


# --- 6. explanations ------------------------------------------------------------------------------


def explain_listed(
    model: Any,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    listed: Sequence[str],
    *,
    catalogue: Mapping[str, ReasonSpec],
    tables: Tables | None,
    month: pd.Period,
    previous_reasons: pd.DataFrame | None,
) -> pd.DataFrame:
    """Contributions and reasons for the listed households (warned and audit sample).

    TreeSHAP for a LightGBM model, the model's own contributions otherwise
    (`risk.explain.model_contributions`); every catalogue column reaches the reasons, so composite
    features split by their parts.
    """
    ids = [str(h) for h in listed]
    rows = features.loc[ids]
    contributions = model_contributions(model, rows)
    ranks = scores.set_index("household_id")["rank"].reindex(ids)
    return explain_households(
        contributions,
        rows,
        ranks,
        catalogue=catalogue,
        tables=tables,
        as_of=month,
        previous_reasons=previous_reasons,
    )


# --- 7. writing -----------------------------------------------------------------------------------


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as parquet with a fixed schema and no index: equal frames → equal bytes."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd", write_statistics=True)


def scores_schema_frame(scores: pd.DataFrame) -> pd.DataFrame:
    """`scores` with arrow-stable dtypes (str ids, list<str> triggers)."""
    return scores.astype({"household_id": "str", "month": "str", "tier": "str"})


# --- the whole job -------------------------------------------------------------------------------


class _Stages:
    """Times every stage; shows one progress bar per stage when asked."""

    LABELS: Mapping[str, str] = {
        "feeds": "检查部门数据 feeds",
        "features": "构建特征 features",
        "predict": "模型评分 prediction",
        "select": "规则与名单 rules + list",
        "explain": "原因解释 explanations",
        "write": "写出结果 writing",
    }

    def __init__(self, *, show: bool) -> None:
        self.timings: dict[str, float] = {}
        self._progress: Any = None
        if show:
            from rich.console import Console  # noqa: PLC0415
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description:<28}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> _Stages:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        task = None
        if self._progress is not None:
            task = self._progress.add_task(self.LABELS.get(name, name), total=1)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 4)
        if task is not None:
            self._progress.update(task, completed=1)


def score_month(
    tables: Tables,
    *,
    month: str | pd.Period,
    model: LoadedModelLike,
    config: FanpinConfig,
    out_dir: str | Path,
    data_dir: str | Path | None = None,
    previous_dir: str | Path | None = None,
    progress: bool = True,
    load_warnings: Sequence[str] = (),
    catalogue: Mapping[str, ReasonSpec] | None = None,
) -> ScoreResult:
    """Score one month and write the five outputs atomically into `out_dir`.

    Parameters
    ----------
    tables
        Loaded, validated contract tables (``features.contract.io.load_directory(...).tables``).
    month
        The scoring month (``YYYY-MM``); at most the directory's export month.
    model
        ``training.registry.load_model(...)``: ``.model`` (a fitted ``RiskModel``), ``.name``,
        ``.version``, ``.uri``.
    config
        Operating point (``warning``), tiers, rules, monitoring lines, audit sample size.
    out_dir
        The run folder. Its previous outputs are replaced only after the new ones are complete.
    data_dir
        The folder the tables were read from: its files' SHA-256 go into the manifest and run id
        (without it, the tables' content hashes are used).
    previous_dir
        An earlier run folder: drift against it, and reasons marked new since it. When None, the
        latest earlier-month run among `out_dir` and its sibling folders is used, if any.
    progress
        Show a progress bar per stage.
    load_warnings
        Warnings from loading (shown in the manifest and report).
    catalogue
        Feature name → catalogue entry (default: ``features.catalogue.CATALOGUE``).

    Returns
    -------
    ScoreResult

    Raises
    ------
    DataContractError
        The month is after the data's export month.
    ModelMismatchError
        The model's features differ from the features built (names the missing and unexpected).
    OutputError
        The outputs could not be written (previous outputs are left as they were).
    """
    period = pd.Period(month, freq="M")
    _check_month(tables, period)
    out = Path(out_dir)
    catalogue = dict(catalogue) if catalogue is not None else default_catalogue()
    previous = Path(previous_dir) if previous_dir else find_previous_run(out, month=period)
    with _Stages(show=progress) as stages:
        with stages.stage("feeds"):
            feed_warnings = check_feeds(tables, month=period)
            inputs = _input_hashes(tables, data_dir)
        with stages.stage("features"):
            features = build_month_features(tables, month=period, lines=config.lines)
            check_model_features(
                [str(n) for n in model.model.feature_names_in_], list(features.columns)
            )
        with stages.stage("predict"):
            monitored = monitored_at(tables.outcomes, month=period)
            is_monitored = _isin(features.index, monitored)
            candidates = features.loc[~is_monitored]
            predictions = predict_households(model.model, candidates)
        with stages.stage("select"):
            run_id = make_run_id(
                inputs=inputs,
                month=str(period),
                model_uri=str(model.uri),
                model_version=str(model.version),
                settings=run_settings(config),
            )
            ranked = rank_and_tier(
                predictions,
                tier_high=config.warning.tier_high,
                tier_medium=config.warning.tier_medium,
            )
            triggers = policy_rule_triggers(tables, month=period, config=config)
            warned = select_warned(ranked, triggers, warning=config.warning)
            scores = assemble_scores(
                ranked,
                tables.households,
                triggers,
                warned,
                month=period,
                model_version=str(model.version),
                run_id=run_id,
            )
            audit = draw_audit(scores, size=config.review.audit_sample, run_id=run_id)
        with stages.stage("explain"):
            listed = scores.loc[scores["warned"], "household_id"].tolist() + audit["household_ids"]
            explanations = explain_listed(
                model.model,
                features,
                scores,
                listed,
                catalogue=catalogue,
                tables=tables,
                month=period,
                previous_reasons=previous_main_reasons(previous) if previous else None,
            )
        context = RunContext(
            run_id=run_id,
            month=period,
            model=model,
            config=config,
            tables=tables,
            features=candidates,
            scores=scores,
            explanations=explanations,
            feed_warnings=tuple(feed_warnings),
            load_warnings=tuple(load_warnings),
            inputs=inputs,
            data_dir=Path(data_dir) if data_dir else None,
            previous_dir=previous,
            audit=audit,
            catalogue=catalogue,
            n_households=len(features),
            n_monitored=int(is_monitored.sum()),
        )
        with stages.stage("write"):
            manifest = write_outputs(context, out, timings=stages.timings)
    manifest["timings"] = dict(stages.timings)
    rewrite_manifest(out, manifest)
    return ScoreResult(
        run_id=run_id,
        month=str(period),
        out_dir=out,
        scores=scores,
        explanations=explanations,
        feed_warnings=tuple(feed_warnings),
        counts=dict(manifest["counts"]),
        timings=dict(stages.timings),
        manifest=manifest,
        paths={name: out / name for name in OUTPUT_FILES},
    )


def _isin(values: Any, allowed: Any) -> np.ndarray:
    """``values.isin(allowed)`` as a bool array, by hashing object arrays.

    pandas' arrow-string ``isin`` converts every one of `allowed` to a pyarrow scalar in Python
    (~0.3 s for 30,000 ids; seconds for a county's people); the object hash table takes milliseconds.
    """
    objects = pd.Index(np.asarray(values, dtype=object), dtype=object)
    return np.asarray(objects.isin(np.asarray(list(allowed), dtype=object)), dtype=bool)


def _check_month(tables: Tables, month: pd.Period) -> None:
    if month > tables.export_month:
        raise DataContractError(
            f"--month {month} is after the data's latest month {tables.export_month} "
            f"(评分月份晚于数据最新月份); score a month up to {tables.export_month} or add newer data"
        )


def _input_hashes(tables: Tables, data_dir: str | Path | None) -> dict[str, str]:
    if data_dir is not None and tables.files:
        return input_hashes(data_dir, tables.files)
    return frame_hashes({name: getattr(tables, name) for name in TABLE_NAMES})


def run_settings(config: FanpinConfig) -> dict[str, Any]:
    """Everything in the config that can change the outputs (part of the run id)."""
    from risk import __version__ as fanpin_version  # noqa: PLC0415

    rules = {
        key: dict(value) if isinstance(value, Mapping) else value
        for key, value in asdict(config.rules).items()
    }
    return {
        "warning": asdict(config.warning),
        "rules": rules,
        "lines": {
            "default": {str(k): v for k, v in config.lines.default.items()},
            "by_county": {
                county: {str(k): v for k, v in years.items()}
                for county, years in config.lines.by_county.items()
            },
        },
        "audit_sample": config.review.audit_sample,
        "fanpin": fanpin_version,
    }


def draw_audit(scores: pd.DataFrame, *, size: int, run_id: str) -> dict[str, Any]:
    """The review audit sample of households not warned; its seed derives from the run id."""
    from risk.review.audit import draw_audit_sample  # noqa: PLC0415

    seed = int(run_id.rsplit("-", 1)[-1][:8], 16) % (2**31)
    drawn = draw_audit_sample(scores, size=size, seed=seed) if size > 0 else scores.iloc[:0]
    return {"seed": seed, "size": int(size), "household_ids": drawn["household_id"].tolist()}


def find_previous_run(out_dir: Path, *, month: pd.Period) -> Path | None:
    """The latest run before `month` among `out_dir` itself and its sibling folders."""
    import json  # noqa: PLC0415

    candidates = [out_dir] + (
        sorted(p for p in out_dir.parent.iterdir() if p.is_dir() and p != out_dir)
        if out_dir.parent.is_dir()
        else []
    )
    best: tuple[pd.Period, Path] | None = None
    for folder in candidates:
        manifest = folder / MANIFEST_NAME
        if not manifest.is_file() or not (folder / SCORES_FILE).is_file():
            continue
        try:
            earlier = pd.Period(json.loads(manifest.read_text(encoding="utf-8"))["month"], "M")
        except (ValueError, KeyError, TypeError):
            continue
        if earlier < month and (best is None or earlier > best[0]):
            best = (earlier, folder)
    return best[1] if best else None


@dataclass(frozen=True)
class RunContext:
    """Everything the writers need, gathered once."""

    run_id: str
    month: pd.Period
    model: LoadedModelLike
    config: FanpinConfig
    tables: Tables
    features: pd.DataFrame
    scores: pd.DataFrame
    explanations: pd.DataFrame
    feed_warnings: tuple[FeedWarning, ...]
    load_warnings: tuple[str, ...]
    inputs: dict[str, str]
    data_dir: Path | None
    previous_dir: Path | None
    audit: dict[str, Any]
    catalogue: Mapping[str, ReasonSpec]
    n_households: int
    n_monitored: int
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def counts(self) -> dict[str, int]:
        """Households in the data, monitored (not scored), scored, warned, rule-triggered, ..."""
        if "counts" not in self._memo:
            self._memo["counts"] = self._counts()
        return dict(self._memo["counts"])

    def _counts(self) -> dict[str, int]:
        scores = self.scores
        fired = scores["rule_triggers"].map(len).to_numpy() > 0
        picked = select_warned(
            scores.set_index("household_id")[["probability", "rank"]],
            pd.Series(dtype=object),
            warning=self.config.warning,
        ).to_numpy()
        warned = scores["warned"].to_numpy(dtype=bool)
        return {
            "households": self.n_households,
            "already_monitored": self.n_monitored,
            "scored": len(scores),
            "warned": int(warned.sum()),
            "warned_by_model": int(picked.sum()),
            "warned_by_rules_only": int((warned & ~picked).sum()),
            "rule_triggered": int(fired.sum()),
            "tier_high": int((scores["tier"] == TIERS[0]).sum()),
            "tier_medium": int((scores["tier"] == TIERS[1]).sum()),
            "tier_low": int((scores["tier"] == TIERS[2]).sum()),
            "explained": int(self.explanations["household_id"].nunique()),
            "audit_sample": len(self.audit["household_ids"]),
            "feed_warnings": len(self.feed_warnings),
        }


def write_outputs(context: RunContext, out_dir: Path, *, timings: Mapping[str, float]) -> dict:
    """Write the five outputs into a temporary folder, then swap it into `out_dir`."""
    from risk.excel import write_warnings_workbook  # noqa: PLC0415
    from risk.report import write_report  # noqa: PLC0415

    manifest = build_manifest(context, timings=timings)
    with atomic_output_dir(out_dir) as tmp:
        write_parquet(scores_schema_frame(context.scores), tmp / SCORES_FILE)
        write_parquet(
            context.explanations.loc[:, list(EXPLANATION_COLUMNS)], tmp / EXPLANATIONS_FILE
        )
        workbook = workbook_parts(context)
        write_warnings_workbook(tmp / WARNINGS_FILE, **workbook)
        write_report(tmp / REPORT_FILE, context=context, manifest=manifest)
        manifest["timings"] = dict(timings)
        write_manifest(tmp, manifest)
    return manifest


def rewrite_manifest(out_dir: Path, manifest: Mapping[str, Any]) -> None:
    """Replace the run's manifest in one rename (to add the writing time once it is known)."""
    import os  # noqa: PLC0415

    staging = out_dir / f".{MANIFEST_NAME}.tmp"
    staging.mkdir(exist_ok=True)
    try:
        written = write_manifest(staging, manifest)
        with written.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(written, out_dir / MANIFEST_NAME)
    finally:
        import shutil  # noqa: PLC0415

        shutil.rmtree(staging, ignore_errors=True)


def build_manifest(context: RunContext, *, timings: Mapping[str, float]) -> dict[str, Any]:
    """``manifest.json`` content (INTERFACE.md keys first)."""
    from risk.report import drift_against, feature_profile  # noqa: PLC0415

    config = context.config
    return {
        "run_id": context.run_id,
        "month": str(context.month),
        "model": {
            "name": str(context.model.name),
            "version": str(context.model.version),
            "uri": str(context.model.uri),
        },
        "inputs": context.inputs,
        "counts": context.counts(),
        "thresholds": {
            "tier_high": config.warning.tier_high,
            "tier_medium": config.warning.tier_medium,
            "threshold": config.warning.threshold,
        },
        "capacity": {
            **operating_point(config.warning),
            "capacity": config.warning.capacity,
            "top_percent": config.warning.top_percent,
        },
        "versions": library_versions(),
        "timings": dict(timings),
        "warnings": [asdict(w) for w in context.feed_warnings],
        "load_warnings": list(context.load_warnings),
        "data_dir": str(context.data_dir) if context.data_dir else None,
        "previous_run": str(context.previous_dir) if context.previous_dir else None,
        "audit": context.audit,
        "drift": drift_against(context.previous_dir, context.features, context.scores),
        "profile": feature_profile(context.features, context.scores),
        "rules": {
            "rural_income_by_year": {
                str(k): v for k, v in config.rules.rural_income_by_year.items()
            },
            "oop_share_formerly_poor": config.rules.oop_share_formerly_poor,
            "oop_share_other": config.rules.oop_share_other,
            "stay_oop_formerly_poor": config.rules.stay_oop_formerly_poor,
            "stay_oop_other": config.rules.stay_oop_other,
        },
    }


def workbook_parts(context: RunContext) -> dict[str, Any]:
    """Arguments of `risk.excel.write_warnings_workbook` for this run."""
    from features.rules import RULE_LABELS_ZH  # noqa: PLC0415
    from risk.excel import warning_rows  # noqa: PLC0415

    scores = context.scores
    audit_ids = set(context.audit["household_ids"])
    listed = scores.loc[scores["warned"] | scores["household_id"].isin(audit_ids)].copy()
    info = household_info(context.tables, listed["household_id"])
    listed["head"] = listed["household_id"].map(info["head"]).fillna("")
    listed["household_type"] = listed["household_id"].map(info["household_type"]).fillna("")
    labels = dict(RULE_LABELS_ZH)
    labels["__audit__"] = AUDIT_MARK
    listed["rule_triggers"] = [
        ["__audit__"] if h in audit_ids and not w else list(t)
        for h, w, t in zip(
            listed["household_id"], listed["warned"], listed["rule_triggers"], strict=True
        )
    ]
    rows = warning_rows(listed, main_reasons(context.explanations), rule_labels=labels)
    return {
        "rows": rows,
        "legend": legend_frame(context.catalogue),
        "notes": reading_notes(context),
        "run_info": run_info_rows(context),
        "fixed_date": dt.datetime(context.month.year, context.month.month, 1),
    }


def household_info(tables: Tables, household_ids: pd.Series) -> pd.DataFrame:
    """Masked head of household and household type for some households (index household_id)."""
    from features.contract.pseudonym import mask_id  # noqa: PLC0415

    members = tables.members
    ids = pd.Index(household_ids.astype(str))
    heads = members.loc[members["relation"] == "户主"]
    # mask only the listed households' heads (masking all 200k took most of this function)
    heads = heads.loc[_isin(pd.Index(heads["household_id"].astype(str)), ids)]
    heads = heads.drop_duplicates("household_id")
    name_column = next((c for c in ("name", "姓名") if c in members.columns), None)
    shown = heads[name_column] if name_column else heads["person_id"]
    head = pd.Series(
        [mask_id(str(v)) for v in shown], index=heads["household_id"].astype(str).to_numpy()
    )
    households = tables.households.set_index(tables.households["household_id"].astype(str))
    return pd.DataFrame(
        {
            "head": head.reindex(ids).fillna("").to_numpy(),
            "household_type": households["household_type"].reindex(ids).astype(str).to_numpy(),
        },
        index=ids,
    )


def legend_frame(catalogue: Mapping[str, ReasonSpec]) -> pd.DataFrame:
    """The 说明 sheet's feature table: every catalogue feature in Chinese."""
    from risk.explain import CAUSE_LABELS, DEFAULT_MEASURE, MEASURES  # noqa: PLC0415

    rows = []
    for name, spec in catalogue.items():
        cause = str(getattr(spec, "cause", "") or "")
        rows.append(
            {
                "指标": name,
                "中文名称": str(getattr(spec, "label_zh", "")),
                "单位": str(getattr(spec, "unit", "")),
                "数据来源": _source_zh(str(getattr(spec, "source", ""))),
                "原因类别": CAUSE_LABELS.get(cause, cause) if cause else "（不作为原因）",
                "建议帮扶措施": MEASURES.get(cause, DEFAULT_MEASURE) if cause else "",
                "原因句式": str(getattr(spec, "reason_zh", "")),
                "说明": str(getattr(spec, "description", "")),
            }
        )
    return pd.DataFrame(rows)


def _source_zh(source: str) -> str:
    parts = [p.strip() for p in source.replace(",", "+").split("+") if p.strip()]
    return "、".join(f"{TABLE_LABELS_ZH.get(p, p)}({p})" for p in parts)


def reading_notes(context: RunContext) -> list[tuple[str, str]]:
    """How to read the list (the top block of the 说明 sheet)."""
    from features.rules import RULE_LABELS_ZH  # noqa: PLC0415

    warning = context.config.warning
    point = operating_point(warning)
    mode = {
        "capacity": f"按核查能力取前 {point['value']} 户",
        "top_percent": f"取风险最高的前 {point['value']}% 户",
        "threshold": f"取风险概率不低于 {point['value']} 的户",
    }[point["mode"]]
    rules = "；".join(f"{name}：{label}" for name, label in RULE_LABELS_ZH.items())
    return [
        ("排名", "按风险概率从高到低排序，1 为风险最高；已纳入监测的户不参与评分。"),
        ("风险概率", "模型估计该户在未来6个月内被识别为监测对象的概率（已校准）。"),
        (
            "风险等级",
            f"高：概率 ≥ {warning.tier_high:.0%}；中：≥ {warning.tier_medium:.0%}；低：其余。",
        ),
        ("入选名单", f"{mode}；规则当月触发的户一律列入（即使超出名额）。"),
        ("主要原因", "推高风险最多的三项因素，每类原因只列一次，附该户自己的数值和建议帮扶措施。"),
        ("【新】", "上一期名单中该户没有的原因。"),
        ("规则触发", f"部门筛查规则当月触发的规则：{rules}。"),
        ("随机抽查", AUDIT_MARK + "。"),
        ("户主", "已脱敏显示；名单不含身份证号、电话、银行账号和健康状况明细。"),
        ("审核结论", "请在下拉列表中选择：纳入监测 / 排除 / 待核实；排除时填写排除原因。"),
    ]


def run_info_rows(context: RunContext) -> list[tuple[str, Any]]:
    """The 运行信息 sheet: run metadata without wall-clock values."""
    counts = context.counts()
    point = operating_point(context.config.warning)
    rows: list[tuple[str, Any]] = [
        ("运行编号 run_id", context.run_id),
        ("评分月份 month", str(context.month)),
        ("模型 model", f"{context.model.name} v{context.model.version}"),
        ("模型地址 model uri", str(context.model.uri)),
        ("参与评分户数 scored", counts["scored"]),
        ("已纳入监测（未评分）already monitored", counts["already_monitored"]),
        ("预警户数 warned", counts["warned"]),
        ("规则触发户数 rule-triggered", counts["rule_triggered"]),
        ("高风险户数 tier 高", counts["tier_high"]),
        ("中风险户数 tier 中", counts["tier_medium"]),
        ("随机抽查户数 audit sample", counts["audit_sample"]),
        ("预警方式 operating point", f"{point['mode']} = {point['value']}"),
        (
            "风险等级阈值 tiers",
            f"高 ≥ {context.config.warning.tier_high}，中 ≥ {context.config.warning.tier_medium}",
        ),
    ]
    for name, digest in sorted(context.inputs.items()):
        rows.append((f"输入文件 {name}", f"sha256 {digest}"))
    for warning in context.feed_warnings:
        rows.append(("数据警告 warning", warning.message))
    if not context.feed_warnings:
        rows.append(("数据警告 warning", "无 none"))
    return rows


# --- summary -------------------------------------------------------------------------------------


def print_summary(result: ScoreResult, *, console: Any = None) -> None:
    """A rich summary table of the run: counts, data warnings, timings and the output paths."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    console = console or Console()
    counts = result.counts
    table = Table(title=f"防贫监测预警 {result.month} · run {result.run_id}", show_header=True)
    table.add_column("项目 item")
    table.add_column("数值 value", justify="right")
    for label, key in (
        ("户数 households in the data", "households"),
        ("已监测（未评分）already monitored", "already_monitored"),
        ("参与评分 scored", "scored"),
        ("预警 warned", "warned"),
        ("其中仅因规则列入 listed by rules beyond the cut-off", "warned_by_rules_only"),
        ("规则触发 rule-triggered", "rule_triggered"),
        ("高风险 tier 高", "tier_high"),
        ("中风险 tier 中", "tier_medium"),
        ("随机抽查 audit sample", "audit_sample"),
        ("已解释 explained", "explained"),
    ):
        table.add_row(label, f"{counts.get(key, 0):,}")
    total = sum(result.timings.values())
    table.add_row("用时 time", f"{total:.1f} s")
    console.print(table)
    for warning in result.feed_warnings:
        console.print(f"[bold red]⚠ {warning.message}[/bold red]")
    if not result.feed_warnings:
        console.print("[green]各部门数据本月均有记录 all department feeds have records.[/green]")
    for name in OUTPUT_FILES:
        console.print(f"  {name:<22} {result.paths[name]}")
