"""The monthly job as one stage sequence; an executor decides where each stage's work runs.

`STAGES` declares the sequence and what each stage passes on; `run_month` runs it. A stage has a
partition step, run on every partition where the partition lives, and/or a client step over what the
partitions sent back. The local engine (`risk.score.score_month`) runs one partition, the whole
directory, in process (`LocalExecutor`); the Dask engine (`risk.engine_dask.score_month_dask`) runs
county groups on the workers. The province-wide steps — the capacity cut over all probabilities, the
ranks, the list, writing — run once, on the client. Both engines give the same files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from features.contract.errors import DataContractError
from features.contract.tables import Tables
from risk.config import FanpinConfig
from risk.explain import ReasonSpec, default_catalogue, previous_main_reasons
from risk.ids import isin_ids
from risk.manifest import make_run_id
from risk.run_context import (
    OUTPUT_FILES,
    VOLUME_MONTHS,
    FeedWarning,
    LoadedModelLike,
    RunContext,
    ScoreResult,
)
from risk.stages.explain import PartExplained, explain_part, gather_explanations
from risk.stages.features import features_of_part
from risk.stages.feeds import FeedTally, combine_tallies, feed_tally, feed_warnings
from risk.stages.lifecycle import (
    PartLifecycle,
    assemble_lifecycle,
    choose_relapse,
    explain_relapse_part,
    lifecycle_of_part,
)
from risk.stages.outputs import (
    find_previous_run,
    input_digests,
    rewrite_manifest,
    run_settings,
    write_outputs,
)
from risk.stages.predict import predict_part
from risk.stages.select import (
    PartScores,
    draw_audit,
    gather_scores,
    run_counts,
    scores_of_part,
    select_list,
)


@dataclass(frozen=True)
class Stage:
    """One stage of the monthly job.

    Attributes
    ----------
    name
        Its key in the run's timings (``manifest.json``).
    label
        Its progress bar.
    on_partitions
        What each partition does, where it lives (empty: nothing).
    on_client
        What the client does with what the partitions sent (empty: nothing).
    """

    name: str
    label: str
    on_partitions: str
    on_client: str


STAGES: tuple[Stage, ...] = (
    Stage("feeds", "检查部门数据 feeds",
          "records per feed and month, latest record (FeedTally)",
          "adds the tallies, warns of missing, dropped and stopped feeds; input hashes"),
    Stage("features", "构建特征 features",
          "builds every household's features, checks them against the model, marks the "
          "monitored (PartFeatures, kept)", ""),
    Stage("predict", "模型评分 prediction",
          "probability and raw score of the households not monitored (PartPredictions, kept)", ""),
    Stage("select", "规则与名单 rules + list",
          "department rules; sends predictions, regions, fired rules, candidates' features "
          "(PartScores)",
          "run id, ranks, tiers, the operating point's cut, the list, the audit sample"),
    Stage("explain", "原因解释 explanations",
          "reasons of its listed households, who they are (PartExplained)",
          "puts the reasons in the list's order"),
    Stage("lifecycle", "监测户跟踪 lifecycle",
          "exit conditions of its monitored households, probabilities of those out of "
          "monitoring within the window (PartLifecycle); then reasons of its relapse list",
          "the province-wide relapse list; lifecycle.parquet's frame"),
    Stage("write", "写出结果 writing", "",
          "scores, explanations, lifecycle, workbook, report, manifest, atomically"),
)  # fmt: skip


class Executor(Protocol):
    """Where the partition steps run; handles stand for results that stay there until gathered."""

    def partitions(self, tables: Tables) -> list[Any]:
        """Handles of the partitions' tables."""
        ...

    def share(self, value: Any) -> Any:
        """A handle of `value` that every partition step can take as an argument (the model)."""
        ...

    def map(
        self,
        step: Callable[..., Any],
        parts: Sequence[Any],
        *,
        each: Sequence[Mapping[str, Any]] | None = None,
        **common: Any,
    ) -> list[Any]:
        """``step(part, **common, **each[i])`` for every partition, where it lives."""
        ...

    def settle(self, handles: Sequence[Any]) -> list[Any]:
        """Wait until the handles' steps are done, raising the first error."""
        ...

    def gather(self, handles: Sequence[Any]) -> list[Any]:
        """The handles' values, on the client."""
        ...


class LocalExecutor:
    """Everything in this process, the whole directory as one partition."""

    def partitions(self, tables: Tables) -> list[Any]:
        """The tables as the only partition."""
        return [tables]

    def share(self, value: Any) -> Any:
        """`value` itself."""
        return value

    def map(
        self,
        step: Callable[..., Any],
        parts: Sequence[Any],
        *,
        each: Sequence[Mapping[str, Any]] | None = None,
        **common: Any,
    ) -> list[Any]:
        """Call `step` on every partition in turn."""
        extra = each if each is not None else [{}] * len(parts)
        return [step(part, **common, **own) for part, own in zip(parts, extra, strict=True)]

    def settle(self, handles: Sequence[Any]) -> list[Any]:
        """The values themselves (already computed)."""
        return list(handles)

    def gather(self, handles: Sequence[Any]) -> list[Any]:
        """The values themselves."""
        return list(handles)


class StageClock:
    """Times every stage, in `STAGES` order; shows one progress bar per stage when asked."""

    def __init__(self, *, show: bool) -> None:
        self.timings: dict[str, float] = {}
        self._labels = {stage.name: stage.label for stage in STAGES}
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

    def __enter__(self) -> StageClock:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the stage `name`, which must be the next one of `STAGES`."""
        expected = STAGES[len(self.timings)].name if len(self.timings) < len(STAGES) else None
        if name != expected:
            raise RuntimeError(f"stage {name!r} run out of order; the next stage is {expected!r}")
        task = None
        if self._progress is not None:
            task = self._progress.add_task(self._labels[name], total=1)
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 4)
        if task is not None:
            self._progress.update(task, completed=1)


@dataclass(frozen=True)
class MonthInputs:
    """What a run is asked to do (the arguments of `score_month`, resolved)."""

    month: pd.Period
    model: LoadedModelLike
    config: FanpinConfig
    out_dir: Path
    data_dir: Path | None
    previous_dir: Path | None
    load_warnings: tuple[str, ...]
    catalogue: Mapping[str, ReasonSpec]


def check_month(tables: Tables, month: pd.Period) -> None:
    """Refuse a month after the data's export month."""
    if month > tables.export_month:
        raise DataContractError(
            f"--month {month} is after the data's latest month {tables.export_month} "
            f"(评分月份晚于数据最新月份); score a month up to {tables.export_month} or add newer data"
        )


def run_month(
    tables: Tables,
    *,
    month: str | pd.Period,
    model: LoadedModelLike,
    config: FanpinConfig,
    out_dir: str | Path,
    executor: Executor,
    data_dir: str | Path | None = None,
    previous_dir: str | Path | None = None,
    progress: bool = True,
    load_warnings: Sequence[str] = (),
    catalogue: Mapping[str, ReasonSpec] | None = None,
) -> ScoreResult:
    """Run `STAGES` on `executor`'s partitions of `tables` and write the outputs into `out_dir`.

    The arguments are `risk.score.score_month`'s, plus the `executor` that decides where each
    partition step runs.
    """
    period = pd.Period(month, freq="M")
    check_month(tables, period)
    out = Path(out_dir)
    run = MonthInputs(
        month=period,
        model=model,
        config=config,
        out_dir=out,
        data_dir=Path(data_dir) if data_dir else None,
        previous_dir=Path(previous_dir) if previous_dir else find_previous_run(out, month=period),
        load_warnings=tuple(load_warnings),
        catalogue=dict(catalogue) if catalogue is not None else default_catalogue(),
    )
    with StageClock(show=progress) as clock:
        with clock.stage("feeds"):
            parts = executor.partitions(tables)
            tally, warnings = _feeds(executor, parts, month=period)
            inputs = input_digests(tables, data_dir)
        with clock.stage("features"):
            shared_model = executor.share(model.model)
            names = [str(n) for n in model.model.feature_names_in_]
            built = executor.settle(executor.map(
                features_of_part, parts, month=period, lines=config.lines, expected=names
            ))  # fmt: skip
        with clock.stage("predict"):
            predicted = executor.settle(executor.map(predict_part, built, model=shared_model))
        with clock.stage("select"):
            gathered = executor.gather(
                executor.map(scores_of_part, predicted, month=period, config=config)
            )
            whole = gather_scores(gathered)
            run_id, scores, audit = _select(run, whole, inputs=inputs)
        with clock.stage("explain"):
            explained = _explain(executor, predicted, gathered, run, scores, audit, shared_model)
        with clock.stage("lifecycle"):
            lifecycle = _lifecycle(executor, predicted, run, shared_model)
        context = _context(run, run_id=run_id, inputs=inputs, tally=tally, warnings=warnings,
                           whole=whole, scores=scores, audit=audit, explained=explained,
                           lifecycle=lifecycle)  # fmt: skip
        with clock.stage("write"):
            manifest = write_outputs(context, out, timings=clock.timings)
    manifest["timings"] = dict(clock.timings)
    rewrite_manifest(out, manifest)
    return ScoreResult(
        run_id=run_id,
        month=str(period),
        out_dir=out,
        scores=scores,
        explanations=context.explanations,
        feed_warnings=context.feed_warnings,
        counts=dict(context.counts),
        timings=dict(clock.timings),
        manifest=manifest,
        paths={name: out / name for name in OUTPUT_FILES},
    )


def _feeds(
    executor: Executor, parts: Sequence[Any], *, month: pd.Period
) -> tuple[FeedTally, list[FeedWarning]]:
    tallies = executor.gather(executor.map(feed_tally, parts, month=month, span=VOLUME_MONTHS))
    tally = combine_tallies(tallies)
    return tally, feed_warnings(tally, month=month)


def _select(
    run: MonthInputs, whole: PartScores, *, inputs: Mapping[str, str]
) -> tuple[str, pd.DataFrame, dict[str, Any]]:
    run_id = make_run_id(
        inputs=inputs,
        month=str(run.month),
        model_uri=str(run.model.uri),
        model_version=str(run.model.version),
        settings=run_settings(run.config),
    )
    scores = select_list(
        whole,
        month=run.month,
        config=run.config,
        model_version=str(run.model.version),
        run_id=run_id,
    )
    audit = draw_audit(scores, size=run.config.review.audit_sample, run_id=run_id)
    return run_id, scores, audit


def _explain(
    executor: Executor,
    predicted: Sequence[Any],
    gathered: Sequence[PartScores],
    run: MonthInputs,
    scores: pd.DataFrame,
    audit: Mapping[str, Any],
    shared_model: Any,
) -> PartExplained:
    """Each partition explains its own listed households (the list's order kept within it)."""
    listed = scores.loc[scores["warned"], "household_id"].tolist() + list(audit["household_ids"])
    previous = previous_main_reasons(run.previous_dir) if run.previous_dir else None
    each = [_listed_of_part(part, listed, scores=scores, previous=previous) for part in gathered]
    explained = executor.gather(executor.map(
        explain_part, predicted, each=each, model=shared_model, catalogue=run.catalogue,
        month=run.month,
    ))  # fmt: skip
    return gather_explanations(explained)


def _lifecycle(
    executor: Executor, predicted: Sequence[Any], run: MonthInputs, shared_model: Any
) -> pd.DataFrame:
    """Statuses per partition; the relapse list over all; its reasons where each household lives."""
    parts: list[PartLifecycle] = executor.gather(
        executor.map(lifecycle_of_part, predicted, month=run.month, config=run.config)
    )
    relapse = choose_relapse(parts, params=run.config.lifecycle)
    chosen = set(relapse.index[relapse.to_numpy() == "relapse_risk"])
    each = [
        {"listed": sorted(h for h in part.exited["household_id"].astype(str) if h in chosen)}
        for part in parts
    ]
    reasons = executor.gather(executor.map(
        explain_relapse_part, predicted, each=each, model=shared_model, catalogue=run.catalogue,
        month=run.month,
    ))  # fmt: skip
    return assemble_lifecycle(
        parts, relapse, pd.concat(reasons, ignore_index=True), month=run.month
    )


def _listed_of_part(
    part: PartScores,
    listed: Sequence[str],
    *,
    scores: pd.DataFrame,
    previous: pd.DataFrame | None,
) -> dict[str, Any]:
    """What a partition needs to explain its listed households: their ids, scores, past reasons."""
    own = set(part.predictions.index.astype(str))
    mine = [h for h in listed if h in own]
    return {
        "listed": mine,
        "scores": scores.loc[isin_ids(scores["household_id"], mine)],
        "previous_reasons": None
        if previous is None
        else previous.loc[isin_ids(previous["household_id"].astype(str), mine)],
    }


def _context(
    run: MonthInputs,
    *,
    run_id: str,
    inputs: dict[str, str],
    tally: FeedTally,
    warnings: Sequence[FeedWarning],
    whole: PartScores,
    scores: pd.DataFrame,
    audit: dict[str, Any],
    explained: PartExplained,
    lifecycle: pd.DataFrame,
) -> RunContext:
    """Everything the writers need, from the stages' results."""
    counts = run_counts(
        scores,
        warning=run.config.warning,
        n_households=whole.n_households,
        n_monitored=whole.n_monitored,
        n_explained=int(explained.explanations["household_id"].nunique()),
        n_audit=len(audit["household_ids"]),
        n_feed_warnings=len(warnings),
    )
    return RunContext(
        run_id=run_id,
        month=run.month,
        model=run.model,
        config=run.config,
        features=whole.features,
        scores=scores,
        explanations=explained.explanations,
        listed_info=explained.listed_info,
        volumes=tally.volumes,
        feed_warnings=tuple(warnings),
        load_warnings=run.load_warnings,
        inputs=inputs,
        data_dir=run.data_dir,
        previous_dir=run.previous_dir,
        audit=audit,
        catalogue=run.catalogue,
        counts=counts,
        lifecycle=lifecycle,
    )
