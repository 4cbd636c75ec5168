"""The monthly job as one stage sequence; an executor decides where each stage's work runs.

`STAGES` declares the sequence and what each stage passes on; `run_month` runs it. A stage has a
partition step, run on every partition where the partition lives, and/or a client step over what the
partitions sent back. A partition is a few pieces (`risk.stages.load.Piece`): the counties of a
province, each read where its partition runs, or the tables a caller loaded. The local engine
(`risk.score.score_month`) runs in process — the tables as one partition, or each county of a province
as its own; the Dask engine (`risk.engine_dask.score_month_dask`) runs county groups on the workers.
The province-wide steps — the capacity cut over all probabilities, the ranks, the list, the profile's
edges, the province's files — run once, on the client, over a few values per household and the
listed households' main reasons. The heavy outputs are written by the partitions into the run's
temporary output folder, created once the list is known (``scores.parquet`` is written first, for
the counties to read their rows): each piece's explanation rows (merged by the client into
``explanations.parquet``, a row group at a time) and each county's workbook and report. Both engines
run the same steps and give the same files.
"""

from __future__ import annotations

import ctypes
import gc
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa

from features.contract.province import CountyFolder, county_folders
from features.contract.tables import Tables
from risk import report
from risk.atomic import atomic_output_dir
from risk.config import FanpinConfig
from risk.explain import ReasonSpec, default_catalogue
from risk.manifest import make_run_id
from risk.run_context import (
    OUTPUT_FILES,
    VOLUME_MONTHS,
    FeedWarning,
    LoadedModelLike,
    RunContext,
    ScoreResult,
)
from risk.stages.counties import county_files_of_part
from risk.stages.explain import PartExplained, explain_part, gather_explanations
from risk.stages.explanation_files import PARTS_FOLDER
from risk.stages.features import features_of_part
from risk.stages.feeds import FeedTally, combine_tallies, feed_warnings
from risk.stages.lifecycle import (
    PartLifecycle,
    assemble_lifecycle,
    choose_relapse,
    explain_relapse_part,
    lifecycle_of_part,
)
from risk.stages.load import (
    Part,
    Piece,
    PieceFeeds,
    check_month,
    load_part,
    over_pieces,
    part_feeds,
    tables_part,
)
from risk.stages.outputs import (
    find_previous_run,
    input_digests,
    rewrite_manifest,
    run_settings,
    write_outputs,
    write_scores,
)
from risk.stages.predict import predict_part
from risk.stages.profile import (
    add_counts,
    bin_counts,
    profile_sample,
    sample_edges,
    sample_rate,
    shares,
)
from risk.stages.select import (
    PartScores,
    draw_audit,
    gather_scores,
    operating_pick,
    run_counts,
    scores_of_part,
    select_list,
)

#: The report draws this many households' waterfalls (`risk.report.N_WATERFALLS`): every
#: explanation row of the first ones on the list reaches the client, only main reasons of the others.
WATERFALL_HOUSEHOLDS = report.N_WATERFALLS


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
          "department rules; sends predictions, regions, fired rules (PartScores); then its "
          "sampled candidates' numeric features, and its candidates per bin of this run's and "
          "the previous run's edges (BinCounts)",
          "run id, ranks, tiers, the operating point's cut, the list, the audit sample; the "
          "profile's decile edges from the sample, the manifest's profile and drift from the "
          "added counts"),
    Stage("explain", "原因解释 explanations",
          "reasons of its listed households, every row written as its part of "
          "explanations.parquet; sends main reasons, who they are, rows per household "
          "(PartExplained)",
          "puts the main reasons in the list's order"),
    Stage("lifecycle", "监测户跟踪 lifecycle",
          "exit conditions of its monitored households, probabilities of those out of "
          "monitoring within the window (PartLifecycle); then reasons of its relapse list",
          "the province-wide relapse list; lifecycle.parquet's frame"),
    Stage("write", "写出结果 writing",
          "each county's workbook and report rendered and written into OUT/<county>/ (a "
          "province)",
          "explanations merged from the parts by rank, lifecycle, workbook, report, manifest; "
          "the folder swapped into place"),
)  # fmt: skip


@dataclass(frozen=True)
class Province:
    """A province to score: its county folders, read where their partitions run.

    Attributes
    ----------
    path
        The province folder (``DIR/<county>/...``).
    counties
        Its counties (`features.contract.province.county_folders`).
    pseudonym_key
        The key every county's ID-like ids are pseudonymised with (the same for all).
    """

    path: Path
    counties: tuple[CountyFolder, ...]
    pseudonym_key: bytes = field(repr=False)


def province_of(path: str | Path, *, pseudonym_key: bytes) -> Province | None:
    """The province at `path`, or None when `path` is one county's directory.

    Raises
    ------
    DataContractError
        `path` is not a directory, or holds neither table files nor county folders.
    """
    counties = county_folders(path)
    if counties is None:
        return None
    return Province(Path(path), tuple(counties), pseudonym_key)


class Executor(Protocol):
    """Where the partition steps run; handles stand for results that stay there until gathered."""

    def partitions(self, tables: Tables) -> list[Any]:
        """Handles of the partitions of tables already loaded (each a `Part`, or `Tables`)."""
        ...

    def load(self, province: Province, *, month: pd.Period, config: FanpinConfig) -> list[Any]:
        """Handles of partitions that read the province's counties where they run (`load_part`)."""
        ...

    def each(self, function: Callable[..., Any], items: Sequence[Any], **common: Any) -> list[Any]:
        """``function(item, **common)`` for every item, anywhere; the results on the client."""
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
    """Everything in this process: the tables as one partition, a province's counties one each."""

    def partitions(self, tables: Tables) -> list[Any]:
        """The tables as the only partition."""
        return [tables_part(tables)]

    def load(self, province: Province, *, month: pd.Period, config: FanpinConfig) -> list[Any]:
        """Every county read in turn, as its own partition."""
        return [
            load_part([county], pseudonym_key=province.pseudonym_key, month=month, config=config)
            for county in province.counties
        ]

    def each(self, function: Callable[..., Any], items: Sequence[Any], **common: Any) -> list[Any]:
        """Call `function` on every item in turn."""
        return [function(item, **common) for item in items]

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
    """Times every stage, in `STAGES` order; shows one progress bar per stage when asked.

    `on_stage`, when given, is called with a stage's name once it is done (tests use it to break a
    cluster between two stages).
    """

    def __init__(self, *, show: bool, on_stage: Callable[[str], None] | None = None) -> None:
        self.timings: dict[str, float] = {}
        self._on_stage = on_stage
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
        release_memory()
        self.timings[name] = round(time.perf_counter() - start, 4)
        if task is not None:
            self._progress.update(task, completed=1)
        if self._on_stage is not None:
            self._on_stage(name)


def release_memory() -> None:
    """Hand the memory a stage freed back to the system before the next stage allocates its own.

    Collects reference cycles (the stages' gathered results), empties arrow's pool of unused
    buffers and asks glibc to return free pages inside its heap (`malloc_trim`): at 10⁶ households
    the client's resident memory otherwise keeps every stage's high-water mark.
    """
    gc.collect()
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None
    return libc


_LIBC = _libc()


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


@dataclass(frozen=True)
class ModelRef:
    """A model's name, version and address without the model (what a county's outputs show)."""

    name: str
    version: str
    uri: str
    model: Any = None


@dataclass(frozen=True)
class Fed:
    """The feeds stage's result: the tally of all pieces, its warnings, input digests, notes."""

    tally: FeedTally
    warnings: list[FeedWarning]
    inputs: dict[str, str]
    notes: tuple[str, ...]
    pieces: dict[str, PieceFeeds]


def run_month(
    source: Tables | Province,
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
    on_stage: Callable[[str], None] | None = None,
) -> ScoreResult:
    """Run `STAGES` on `executor`'s partitions and write the outputs into `out_dir`.

    The arguments are `risk.score.score_month`'s, plus the `executor` that decides where each
    partition step runs. `source` is either tables already loaded (a county directory) or a
    `Province`, whose counties are read inside the partitions; a province's run also writes each
    county's own list and report into ``OUT/<county>/``. `on_stage` is called after each stage.
    """
    period = pd.Period(month, freq="M")
    if isinstance(source, Tables):
        check_month(source, period)
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
    with StageClock(show=progress, on_stage=on_stage) as clock, ExitStack() as outputs:
        with clock.stage("feeds"):
            parts = _partitions(executor, source, month=period, config=config)
            fed = _feeds(executor, parts, source=source, data_dir=run.data_dir, month=period)
        with clock.stage("features"):
            shared_model = executor.share(model.model)
            names = [str(n) for n in model.model.feature_names_in_]
            built = executor.settle(executor.map(
                over_pieces, parts, do=features_of_part, month=period, lines=config.lines,
                expected=names,
            ))  # fmt: skip
        with clock.stage("predict"):
            predicted = executor.settle(
                executor.map(over_pieces, built, do=predict_part, model=shared_model)
            )
        with clock.stage("select"):
            gathered: list[Part] = executor.gather(executor.map(
                over_pieces, predicted, do=scores_of_part, month=period, config=config
            ))  # fmt: skip
            whole = gather_scores([piece.value for piece in _flat(gathered)])
            gathered = [_ids_only(part) for part in gathered]  # `whole` has the rows
            run_id, scores, audit = _select(run, whole, inputs=fed.inputs)
            whole = _counts_only(whole)  # `scores` has its rows now
            bins, drift = _profile(executor, predicted, run, n_scored=len(scores))
            # the outputs' temporary folder: the partitions write into it from here on
            folder = outputs.enter_context(atomic_output_dir(out))
            (folder / PARTS_FOLDER).mkdir()
            write_scores(scores, folder)
        with clock.stage("explain"):
            explained = _explain(
                executor, predicted, gathered, run, scores, audit, shared_model, folder=folder
            )
            gathered = _names_only(gathered)  # the counties' files need only their names
        with clock.stage("lifecycle"):
            lifecycle, relapse = _lifecycle(executor, predicted, run, shared_model)
        context = _context(run, run_id=run_id, fed=fed, whole=whole, scores=scores, audit=audit,
                           explained=explained, lifecycle=lifecycle.frame, bins=bins,
                           drift=drift)  # fmt: skip
        with clock.stage("write"):
            counties = _county_files(
                executor, predicted, context, gathered, fed, lifecycle, folder=folder
            )
            manifest = write_outputs(
                context,
                folder,
                out_dir=out,
                timings=clock.timings,
                explanation_parts=sorted((folder / PARTS_FOLDER).glob("explanations-*.parquet")),
                rows_by_rank=explained.rows_by_rank,
            )
            executor.settle(counties)
            shutil.rmtree(folder / PARTS_FOLDER)
            outputs.close()  # every file is written: swap the folder into place
    manifest["timings"] = dict(clock.timings)
    rewrite_manifest(out, manifest)
    return ScoreResult(
        run_id=run_id,
        month=str(period),
        out_dir=out,
        scores=scores,
        feed_warnings=context.feed_warnings,
        counts=dict(context.counts),
        timings=dict(clock.timings),
        manifest=manifest,
        paths={name: out / name for name in OUTPUT_FILES},
    )


def as_part(value: Part | Tables) -> Part:
    """A partition as pieces (an executor may hand out plain tables)."""
    return tables_part(value) if isinstance(value, Tables) else value


def _partitions(
    executor: Executor, source: Tables | Province, *, month: pd.Period, config: FanpinConfig
) -> list[Any]:
    if isinstance(source, Province):
        return executor.load(source, month=month, config=config)
    return executor.map(as_part, executor.partitions(source))


def _flat(parts: Sequence[Sequence[Any]]) -> list[Any]:
    """The pieces of all partitions, by county name when they have one (any packing, one order)."""
    pieces = [piece for part in parts for piece in part]
    if all(getattr(piece, "name", None) is not None for piece in pieces):
        pieces.sort(key=lambda piece: str(piece.name))
    return pieces


def _counts_only(scores: PartScores) -> PartScores:
    """`scores` without its rows: the households and monitored counts only."""
    return replace(
        scores,
        predictions=scores.predictions.iloc[:0],
        regions=scores.regions.iloc[:0],
        triggers=scores.triggers.iloc[:0],
    )


def _ids_only(part: Part) -> Part:
    """A partition's `PartScores` reduced to their households' ids (what the explain stage needs)."""
    return tuple(
        replace(
            piece, value=replace(_counts_only(piece.value), predictions=piece.value.predictions[[]])
        )
        for piece in part
    )


def _names_only(parts: Sequence[Part]) -> list[Part]:
    """The partitions' pieces without their values (names and layout only)."""
    return [tuple(replace(piece, value=None) for piece in part) for part in parts]


def _per_piece(
    parts: Sequence[Part], build: Callable[[Piece], Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """`each` arguments of a map over `over_pieces`: one mapping per piece, partition by partition."""
    return [{"per_piece": [build(piece) for piece in part]} for part in parts]


def _feeds(
    executor: Executor,
    parts: Sequence[Any],
    *,
    source: Tables | Province,
    data_dir: Path | None,
    month: pd.Period,
) -> Fed:
    found: list[PieceFeeds] = _flat(
        executor.gather(executor.map(part_feeds, parts, month=month, span=VOLUME_MONTHS))
    )
    tally = combine_tallies([piece.tally for piece in found])
    if isinstance(source, Tables):
        inputs = input_digests(source, data_dir)
    else:
        inputs = dict(sorted((k, v) for piece in found for k, v in piece.inputs.items()))
    notes = tuple(note for piece in found for note in piece.notes)
    named = {str(piece.name): piece for piece in found if piece.name is not None}
    return Fed(tally, feed_warnings(tally, month=month), inputs, notes, named)


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
    gathered: Sequence[Part],
    run: MonthInputs,
    scores: pd.DataFrame,
    audit: Mapping[str, Any],
    shared_model: Any,
    *,
    folder: Path,
) -> PartExplained:
    """Each piece explains its own listed households and writes their rows into `folder`.

    A piece is sent its listed households' ids and ranks only (a few per cent of its households);
    it reads the previous run's reasons of those households itself.
    """
    listed = scores.loc[scores["warned"], "household_id"].tolist() + list(audit["household_ids"])
    ranks = scores.loc[scores["warned"], ["household_id", "rank"]]
    audit_ranks = scores.loc[scores["household_id"].isin(audit["household_ids"])]
    ranks = pd.concat([ranks, audit_ranks[["household_id", "rank"]]]).set_index("household_id")
    full = scores.loc[scores["warned"], "household_id"].head(WATERFALL_HOUSEHOLDS).tolist()
    pieces = iter(range(sum(len(part) for part in gathered)))

    def own(piece: Piece) -> dict[str, Any]:
        ids = set(piece.value.predictions.index.astype(str))
        mine = [h for h in listed if h in ids]
        return {
            "listed": mine,
            "ranks": ranks.loc[mine].reset_index(),
            "key": str(piece.name) if piece.name is not None else f"part{next(pieces)}",
            "full": [h for h in full if h in ids],
        }

    each = _per_piece(gathered, own)
    explained = executor.gather(executor.map(
        over_pieces, predicted, each=each, do=explain_part, model=shared_model,
        catalogue=run.catalogue, month=run.month, previous_dir=run.previous_dir,
        parts_dir=folder / PARTS_FOLDER,
    ))  # fmt: skip
    return gather_explanations([piece.value for piece in _flat(explained)])


@dataclass(frozen=True)
class Followed:
    """The lifecycle stage's result: the province's frame, and what stays with the partitions.

    Attributes
    ----------
    frame
        ``lifecycle.parquet``'s frame with the display columns (`assemble_lifecycle`).
    statuses, reasons
        Handles of each partition's `PartLifecycle` s and of its relapse list's reasons.
    relapse
        Each partition's pieces' relapse lists (``per_piece`` arguments).
    """

    frame: pd.DataFrame
    statuses: list[Any]
    reasons: list[Any]
    relapse: list[dict[str, Any]]


def _lifecycle(
    executor: Executor, predicted: Sequence[Any], run: MonthInputs, shared_model: Any
) -> tuple[Followed, pd.Series]:
    """Statuses per county; the relapse list over all; its reasons where each household lives."""
    handles = executor.map(
        over_pieces, predicted, do=lifecycle_of_part, month=run.month, config=run.config
    )
    gathered: list[Part] = executor.gather(handles)
    parts: list[PartLifecycle] = [piece.value for piece in _flat(gathered)]
    relapse = choose_relapse(parts, params=run.config.lifecycle)
    chosen = set(relapse.index[relapse.to_numpy() == "relapse_risk"])
    each = _per_piece(
        gathered,
        lambda piece: {
            "listed": sorted(
                h for h in piece.value.exited["household_id"].astype(str) if h in chosen
            )
        },
    )
    reasons = executor.map(
        over_pieces, predicted, each=each, do=explain_relapse_part, model=shared_model,
        catalogue=run.catalogue, month=run.month,
    )  # fmt: skip
    frame = assemble_lifecycle(
        parts,
        relapse,
        pd.concat([piece.value for piece in _flat(executor.gather(reasons))], ignore_index=True),
        month=run.month,
    )
    return Followed(frame, list(handles), list(reasons), each), relapse


def _profile(
    executor: Executor, predicted: Sequence[Any], run: MonthInputs, *, n_scored: int
) -> tuple[dict[str, dict[str, Any]], dict[str, list[float]]]:
    """The manifest's feature profile (this run's edges, exact shares) and shares for the drift."""
    samples = executor.gather(
        executor.map(over_pieces, predicted, do=profile_sample, rate=sample_rate(n_scored))
    )
    edges = sample_edges([piece.value for piece in _flat(samples)])
    before = report.previous_edges(run.previous_dir)
    now_handles = executor.map(over_pieces, predicted, do=bin_counts, edges=edges)
    then_handles = executor.map(over_pieces, predicted, do=bin_counts, edges=before)
    now = add_counts([piece.value for piece in _flat(executor.gather(now_handles))])
    then = add_counts([piece.value for piece in _flat(executor.gather(then_handles))])
    bins = {
        name: {"edges": cuts, "shares": shares(now.counts[name], now.n)}
        for name, cuts in edges.items()
        if name in now.counts
    }
    drift = {name: shares(counts, then.n) for name, counts in then.counts.items()}
    return bins, drift


def _context(
    run: MonthInputs,
    *,
    run_id: str,
    fed: Fed,
    whole: PartScores,
    scores: pd.DataFrame,
    audit: dict[str, Any],
    explained: PartExplained,
    lifecycle: pd.DataFrame,
    bins: Mapping[str, Mapping[str, Any]],
    drift: Mapping[str, list[float]],
) -> RunContext:
    """Everything the writers need, from the stages' results."""
    counts = run_counts(
        scores,
        warning=run.config.warning,
        n_households=whole.n_households,
        n_monitored=whole.n_monitored,
        n_explained=int(explained.explanations["household_id"].nunique()),
        n_audit=len(audit["household_ids"]),
        n_feed_warnings=len(fed.warnings),
    )
    return RunContext(
        run_id=run_id,
        month=run.month,
        model=run.model,
        config=run.config,
        feature_bins=bins,
        drift_shares=drift,
        scores=scores,
        explanations=explained.explanations,
        listed_info=explained.listed_info,
        volumes=fed.tally.volumes,
        feed_warnings=tuple(fed.warnings),
        load_warnings=run.load_warnings + fed.notes,
        inputs=fed.inputs,
        data_dir=run.data_dir,
        previous_dir=run.previous_dir,
        audit=audit,
        catalogue=run.catalogue,
        counts=counts,
        lifecycle=lifecycle,
    )


def _county_files(
    executor: Executor,
    predicted: Sequence[Any],
    context: RunContext,
    gathered: Sequence[Part],
    fed: Fed,
    followed: Followed,
    *,
    folder: Path,
) -> list[Any]:
    """Each county of a province writes its workbook and report into ``folder/<county>/``.

    Started on the partitions and not waited for (the client writes the province's files
    meanwhile): the handles to settle.
    """
    named = [piece.name for part in gathered for piece in part if piece.name is not None]
    if not named:
        return []
    for name in named:
        (folder / str(name)).mkdir()
    picked = int(operating_pick(context.scores, warning=context.config.warning).sum())
    base = replace(
        context,
        model=ModelRef(str(context.model.name), str(context.model.version), str(context.model.uri)),
        feature_bins={},
        drift_shares={},
        scores=context.scores.iloc[:0],
        explanations=context.explanations.iloc[:0],
        listed_info=context.listed_info.iloc[:0],
        previous_dir=None,
        lifecycle=None,
    )
    each = [
        {
            "lifecycles": statuses,
            "relapse_reasons": reasons,
            "per_piece": [
                None
                if piece.name is None
                else {
                    "name": str(piece.name),
                    "fed": fed.pieces[str(piece.name)],
                    "relapse": own["listed"],
                }
                for piece, own in zip(part, relapse["per_piece"], strict=True)
            ],
        }
        for part, statuses, reasons, relapse in zip(
            gathered, followed.statuses, followed.reasons, followed.relapse, strict=True
        )
    ]
    return executor.map(
        county_files_of_part, predicted, each=each, base=base, n_picked=picked, out=folder
    )
