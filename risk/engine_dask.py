"""The Dask engine: ``risk score --engine dask`` and ``risk train --engine dask``.

Scoring runs the SAME stage functions as the local engine (`risk.score`), only on partitions:

1. the client checks the feeds on the whole directory (volumes are county-wide facts);
2. households are partitioned **by county** (whole counties packed into balanced partitions), each
   with its members and every record of its households and people; per partition a worker builds the
   month's features, drops the monitored households, predicts, and runs the department rules;
3. the client gathers the predictions and rule triggers, ranks, tiers and selects the warned
   households globally (the list is one list: top 5 % is of everyone), draws the audit sample;
4. each worker explains the listed households of its partition (reasons cite the partition's own
   source records);
5. the client writes the same five outputs, atomically, with `risk.score.write_outputs`.

Why counties and not townships: the feed-coverage features (``medical_feed_months_12m``,
``assistance_feed_months_12m``, the employment coverage) count the months in which the household's
*county* has records, so a county must not be split for the features to equal the local engine's.
A county (≈ 10⁴–10⁵ households) is far below one worker's memory; a province has ~100 counties and
the nation ~2,800, which is plenty of parallelism.

Results are identical to ``--engine local`` (tests/risk/test_engine_dask.py compares the files).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract.errors import ConfigError
from features.contract.tables import Tables
from features.sources.monitoring import monitored_at
from risk.config import FanpinConfig
from risk.explain import ReasonSpec, default_catalogue, previous_main_reasons
from risk.score import (
    OUTPUT_FILES,
    LoadedModelLike,
    RunContext,
    ScoreResult,
    _check_month,
    _input_hashes,
    _isin,
    _Stages,
    assemble_scores,
    build_month_features,
    check_feeds,
    check_model_features,
    draw_audit,
    explain_listed,
    find_previous_run,
    make_run_id,
    policy_rule_triggers,
    predict_households,
    rank_and_tier,
    rewrite_manifest,
    run_settings,
    select_warned,
    write_outputs,
)

#: Partitions per worker: a few, so a slow county does not leave the other workers idle.
PARTITIONS_PER_WORKER = 2
#: Tables whose records carry ``household_id``; the others are reached through ``person_id``.
_BY_HOUSEHOLD = ("households", "members", "income", "assistance", "events", "outcomes")
_BY_PERSON = ("medical", "disability", "employment")


# ------------------------------------------------------------------------------------ partitioning
def county_partitions(households: pd.DataFrame, *, n_partitions: int) -> list[list[str]]:
    """Whole counties packed into at most `n_partitions` groups of similar household counts.

    Largest county first into the currently smallest group (greedy; deterministic: ties by name).

    Examples
    --------
    >>> frame = pd.DataFrame({"county": ["A"] * 5 + ["B"] * 3 + ["C"] * 2})
    >>> county_partitions(frame, n_partitions=2)
    [['A'], ['B', 'C']]
    """
    sizes = households["county"].astype(str).value_counts()
    ordered = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))
    groups: list[list[str]] = [[] for _ in range(max(1, min(n_partitions, len(ordered))))]
    loads = [0] * len(groups)
    for county, size in ordered:
        smallest = loads.index(min(loads))
        groups[smallest].append(county)
        loads[smallest] += int(size)
    return [sorted(group) for group in groups if group]


def partition_tables(tables: Tables, counties: Sequence[str]) -> Tables:
    """The tables restricted to the households of `counties` (their members and all their records).

    Records of people not listed in ``members`` are dropped: no feature can attach them to a
    household either.
    """
    chosen = _isin(tables.households["county"].astype(str), set(counties))
    ids = set(tables.households.loc[chosen, "household_id"].astype(str))
    people = tables.members.loc[_isin(tables.members["household_id"].astype(str), ids), "person_id"]
    person_ids = set(people.astype(str))
    changes: dict[str, object] = {}
    for name, frame in tables.present():
        key, keep = ("household_id", ids) if name in _BY_HOUSEHOLD else ("person_id", person_ids)
        if name not in _BY_HOUSEHOLD and name not in _BY_PERSON:
            continue
        changes[name] = frame.loc[_isin(frame[key].astype(str), keep)].reset_index(drop=True)
    return tables.replace(**changes)


def partition_all(tables: Tables, groups: Sequence[Sequence[str]]) -> list[Tables]:
    """`partition_tables` for every group, reading each table once instead of once per group.

    Every record gets the number of its household's group (through ``person_id`` for the person
    tables), then each group takes its rows in table order — the same tables as `partition_tables`.
    When a household id or a person id is listed twice (a person in two households can belong to
    two groups), it falls back to `partition_tables` group by group.
    """
    households, members = tables.households, tables.members
    group_of_county = {county: g for g, counties in enumerate(groups) for county in counties}
    household_ids = _objects(households["household_id"])
    person_ids = _objects(members["person_id"])
    if not (household_ids.is_unique and person_ids.is_unique):
        return [partition_tables(tables, group) for group in groups]
    household_group = np.array(
        [group_of_county.get(c, -1) for c in households["county"].astype(str).tolist()],
        dtype=np.int64,
    )
    member_group = _lookup(household_ids, household_group, members["household_id"])
    codes: dict[str, np.ndarray] = {}
    for name, frame in tables.present():
        if name in _BY_HOUSEHOLD:
            codes[name] = _lookup(household_ids, household_group, frame["household_id"])
        elif name in _BY_PERSON:
            codes[name] = _lookup(person_ids, member_group, frame["person_id"])
    return [
        tables.replace(
            **{
                name: getattr(tables, name).loc[code == g].reset_index(drop=True)
                for name, code in codes.items()
            }
        )
        for g in range(len(groups))
    ]


def _objects(column: pd.Series) -> pd.Index:
    return pd.Index(np.asarray(column.astype(str), dtype=object), dtype=object)


def _lookup(keys: pd.Index, groups: np.ndarray, column: pd.Series) -> np.ndarray:
    """The group of each value of `column` (-1 when the key is not in `keys`)."""
    if len(keys) == 0:
        return np.full(len(column), -1, dtype=np.int64)
    positions = keys.get_indexer(np.asarray(column.astype(str), dtype=object))
    return np.where(positions >= 0, groups[positions], -1)


# --------------------------------------------------------------------------- per-partition stages
@dataclass(frozen=True)
class PartitionScores:
    """What one partition sends back after features, prediction and rules."""

    features: pd.DataFrame  # every household of the partition, indexed by household_id
    predictions: pd.DataFrame  # households not monitored: probability, raw_score
    triggers: pd.Series  # household → rules fired this month
    n_monitored: int


def score_partition(
    tables: Tables, *, month: pd.Period, model: Any, config: FanpinConfig
) -> PartitionScores:
    """Features → model check → prediction → department rules, for one partition (runs on a worker)."""
    features = build_month_features(tables, month=month, lines=config.lines)
    check_model_features([str(n) for n in model.feature_names_in_], list(features.columns))
    monitored = monitored_at(tables.outcomes, month=month)
    is_monitored = _isin(features.index, monitored)
    candidates = features.loc[~is_monitored]
    return PartitionScores(
        features=features,
        predictions=predict_households(model, candidates),
        triggers=policy_rule_triggers(tables, month=month, config=config),
        n_monitored=int(is_monitored.sum()),
    )


def explain_partition(
    tables: Tables,
    part: PartitionScores,
    *,
    model: Any,
    scores: pd.DataFrame,
    listed: Sequence[str],
    catalogue: Mapping[str, ReasonSpec],
    month: pd.Period,
    previous_reasons: pd.DataFrame | None,
) -> pd.DataFrame:
    """`risk.score.explain_listed` for the listed households of one partition (runs on a worker)."""
    mine = [h for h in listed if h in part.features.index]
    return explain_listed(
        model,
        part.features,
        scores,
        mine,
        catalogue=catalogue,
        tables=tables,
        month=month,
        previous_reasons=previous_reasons,
    )


# ---------------------------------------------------------------------------------------- gathering
def gather_features(parts: Sequence[pd.DataFrame], *, order: pd.Index) -> pd.DataFrame:
    """Concatenate partition features in the local engine's row order, categories made whole.

    A partition's ``county`` categories are its own counties only; the local engine's are every
    county, sorted. Categories that agree across partitions (``household_type``) are kept as they are.
    """
    frame = pd.concat(parts).reindex(order)
    for name in frame.columns:
        dtypes = [p[name].dtype for p in parts]
        if not all(isinstance(d, pd.CategoricalDtype) for d in dtypes):
            continue
        if all(d == dtypes[0] for d in dtypes):
            frame[name] = frame[name].astype(dtypes[0])
        else:
            union = sorted({str(c) for d in dtypes for c in d.categories})
            frame[name] = pd.Categorical(frame[name].astype(object), categories=union)
    return frame


def gather_explanations(parts: Sequence[pd.DataFrame], listed: Sequence[str]) -> pd.DataFrame:
    """Concatenate partition explanations in the local order: by rank (stable within a household)."""
    frame = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    return frame.sort_values("rank", kind="mergesort").reset_index(drop=True)


# ------------------------------------------------------------------------------------------ cluster
def machine_workers() -> int:
    """Worker processes for a LocalCluster on this machine: one per usable core."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextmanager
def dask_client(
    *, scheduler: str | None = None, n_workers: int | None = None, client: Any = None
) -> Iterator[Any]:
    """A ``distributed.Client``: the one given, one connected to `scheduler`, or a new LocalCluster.

    The LocalCluster has one single-threaded worker process per core (LightGBM, numba and numpy
    each use one thread inside a worker, so the cores are not oversubscribed) and is closed on exit.
    """
    if client is not None:
        yield client
        return
    try:
        from distributed import Client, LocalCluster  # noqa: PLC0415
    except ModuleNotFoundError as error:  # pragma: no cover - dask is a dependency
        raise ConfigError(
            "--engine dask needs the 'distributed' package: pip install 'dask[distributed]'"
        ) from error
    if scheduler:
        with Client(scheduler) as connected:
            yield connected
        return
    workers = n_workers or machine_workers()
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"},
        ) as cluster,
        Client(cluster) as local,
    ):
        yield local


def _n_workers(client: Any) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


# -------------------------------------------------------------------------------------- the job
def score_month_dask(
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
    scheduler: str | None = None,
    n_workers: int | None = None,
    n_partitions: int | None = None,
    client: Any = None,
) -> ScoreResult:
    """`risk.score.score_month` on a Dask cluster: same arguments, same outputs, same files.

    Parameters
    ----------
    tables, month, model, config, out_dir, data_dir, previous_dir, progress, load_warnings, catalogue
        As for `risk.score.score_month`.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); None starts a LocalCluster.
    n_workers
        Workers of the LocalCluster (default: one per core); ignored with `scheduler` or `client`.
    n_partitions
        County groups (default: ``PARTITIONS_PER_WORKER`` × workers).
    client
        An already connected ``distributed.Client`` (notebooks, tests).

    Returns
    -------
    ScoreResult
        As the local engine's; ``timings`` has the same stage names.
    """
    period = pd.Period(month, freq="M")
    _check_month(tables, period)
    out = Path(out_dir)
    catalogue = dict(catalogue) if catalogue is not None else default_catalogue()
    previous = Path(previous_dir) if previous_dir else find_previous_run(out, month=period)
    with (
        dask_client(scheduler=scheduler, n_workers=n_workers, client=client) as dask,
        _Stages(show=progress) as stages,
    ):
        with stages.stage("feeds"):
            feed_warnings = check_feeds(tables, month=period)
            inputs = _input_hashes(tables, data_dir)
            groups = county_partitions(
                tables.households,
                n_partitions=n_partitions or PARTITIONS_PER_WORKER * _n_workers(dask),
            )
            part_tables = dask.scatter(partition_all(tables, groups))
            remote_model = dask.scatter(model.model, broadcast=True)
        with stages.stage("features"):  # features, prediction and rules run together per partition
            part_scores = dask.map(
                _score_task, part_tables, month=period, model=remote_model, config=config
            )
            parts: list[PartitionScores] = dask.gather(part_scores)
        with stages.stage("predict"):
            features = gather_features(
                [p.features for p in parts],
                order=pd.Index(tables.households["household_id"].astype(str)),
            )
            predicted = pd.concat([p.predictions for p in parts])
            # the local engine's order: households in the table's order, monitored ones left out
            predictions = predicted.reindex(features.index[_isin(features.index, predicted.index)])
            candidates = features.loc[predictions.index]
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
            triggers = pd.concat([p.triggers for p in parts])
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
            explanations = _explain_on_workers(
                dask,
                part_tables,
                part_scores,
                parts,
                model=remote_model,
                scores=scores,
                listed=listed,
                catalogue=catalogue,
                month=period,
                previous=previous_main_reasons(previous) if previous else None,
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
            n_monitored=sum(p.n_monitored for p in parts),
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


def _score_task(tables: Tables, **options: Any) -> PartitionScores:
    return score_partition(tables, **options)


def _explain_on_workers(
    dask: Any,
    part_tables: Sequence[Any],
    part_scores: Sequence[Any],
    parts: Sequence[PartitionScores],
    *,
    model: Any,
    scores: pd.DataFrame,
    listed: Sequence[str],
    catalogue: Mapping[str, ReasonSpec],
    month: pd.Period,
    previous: pd.DataFrame | None,
) -> pd.DataFrame:
    """One explanation task per partition, on the worker that holds the partition."""
    futures = []
    for remote_tables, remote_part, part in zip(part_tables, part_scores, parts, strict=True):
        mine = [h for h in listed if h in part.features.index]
        mine_set = set(mine)
        futures.append(
            dask.submit(
                explain_partition,
                remote_tables,
                remote_part,
                model=model,
                scores=scores.loc[scores["household_id"].isin(mine_set)],
                listed=mine,
                catalogue=catalogue,
                month=month,
                previous_reasons=_previous_for(previous, mine_set),
                pure=False,
            )
        )
    return gather_explanations(dask.gather(futures), listed)


def _previous_for(previous: pd.DataFrame | None, ids: set[str]) -> pd.DataFrame | None:
    if previous is None:
        return None
    return previous.loc[previous["household_id"].astype(str).isin(ids)]


# ------------------------------------------------------------------------------------------ train
def train_dask(
    features: Any,
    labels: Any,
    *,
    params: Mapping[str, Any] | None = None,
    n_estimators: int = 400,
    scheduler: str | None = None,
    n_workers: int | None = None,
    client: Any = None,
    fit: Callable[..., Any] | None = None,
) -> Any:
    """Fit LightGBM across a Dask cluster (``lightgbm.DaskLGBMClassifier``) and return the booster.

    For training panels too large for one machine: `features` and `labels` are Dask collections
    (``dask.dataframe`` / ``dask.array``, partitioned by rows; a pandas frame is split into one
    partition per worker). LightGBM's Dask interface has no early stopping, so `n_estimators` is the
    number of trees to grow: take it from a local fit with early stopping on a sample (the
    ``best_iteration`` of ``RiskModel``), then calibrate the returned booster's raw scores on the
    out-of-time months as ``risk train`` does.

    Parameters
    ----------
    features, labels
        Training rows (same row partitioning for both).
    params
        LightGBM parameters (``RiskModel.lightgbm_params()``); ``n_estimators`` given separately.
    scheduler, n_workers, client
        As for `score_month_dask`.
    fit
        Replaces ``DaskLGBMClassifier.fit`` (tests).

    Returns
    -------
    lightgbm.Booster
        The trained trees, usable locally (``.predict``, ``pred_contrib``).
    """
    import lightgbm as lgb  # noqa: PLC0415

    options = {k: v for k, v in dict(params or {}).items() if k not in {"n_estimators"}}
    options.setdefault("verbose", -1)
    with dask_client(scheduler=scheduler, n_workers=n_workers, client=client) as dask:
        features, labels = _as_dask(features, labels, partitions=_n_workers(dask))
        model = lgb.DaskLGBMClassifier(client=dask, n_estimators=n_estimators, **options)
        (fit or model.fit)(features, labels)
        return model.to_local().booster_


def dask_tree_trainer(
    *, scheduler: str | None = None, n_workers: int | None = None, client: Any = None
) -> Callable[..., Any]:
    """A `RiskModel.fit(tree_trainer=...)` that grows the trees with `train_dask` on a cluster.

    ``risk train --engine dask [--scheduler ADDRESS]`` passes it: the rows are split across the
    workers, LightGBM's Dask interface grows `n_estimators` trees, and `RiskModel` then keeps the
    trees up to the lowest held-out log-loss and calibrates locally, as with the local engine.
    """

    def grow(
        matrix: Any, y: np.ndarray, weight: np.ndarray | None, *, params: Mapping[str, Any],
        n_estimators: int,
    ) -> Any:  # fmt: skip
        if weight is not None:
            raise ConfigError("--engine dask: row weights are not supported; train locally")
        options = {k: v for k, v in params.items() if k not in {"num_threads", "verbosity"}}
        frame = matrix if isinstance(matrix, pd.DataFrame) else pd.DataFrame(matrix)
        return train_dask(
            frame.reset_index(drop=True),
            y,
            params=options,
            n_estimators=n_estimators,
            scheduler=scheduler,
            n_workers=n_workers,
            client=client,
        )

    return grow


def _as_dask(features: Any, labels: Any, *, partitions: int) -> tuple[Any, Any]:
    if not isinstance(features, pd.DataFrame):
        return features, labels
    import dask.dataframe as dd  # noqa: PLC0415

    frame = features.reset_index(drop=True)
    target = pd.Series(np.asarray(labels), name="label")
    return (
        dd.from_pandas(frame, npartitions=partitions, sort=False),
        dd.from_pandas(target, npartitions=partitions, sort=False),
    )
