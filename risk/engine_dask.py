"""The Dask engine: ``risk score --engine dask`` and ``risk train --engine dask``.

Scoring runs the SAME stage sequence as the local engine (`risk.pipeline.run_month`); this module only
says where its steps run (`DaskExecutor`).

**A province** (a folder of county folders): the client reads no record. It lists the county folders,
estimates each county's size from its files' sizes, and packs whole counties into balanced groups
(`pack_counties`); each group is a task that reads, validates and pseudonymises its counties on a
worker (`risk.stages.load.load_part`), and every partition step (feed tallies and input digests,
features, prediction, department rules, explanations, the lifecycle, the profile's samples and bin
counts) runs on the worker that holds the group. The client gets only what the province-wide steps
need: per household the probability, raw score, region and rules fired (the capacity cut, ranks, the
list), the listed households' main reasons, the feed tallies, counts and digests. The workers write
the heavy outputs themselves into the run's temporary output folder: each county's explanation rows
(a part file the client merges into ``explanations.parquet`` by rank, a row group at a time) and each
county's workbook and report (``OUT/<county>/``); the client writes the province's scores, workbook
and report, and swaps the folder into place in one step. The output folder, like the data folder,
must therefore be at the same path on every worker (a shared file system). Tasks receive per-county
ids and small values only, never a frame of the province's size. Because every partition is a task
that reads its own files and writes its files under names of its own (replaced in one rename), a
worker lost mid-run costs only a recomputation: the scheduler reruns the lost groups' tasks on the
other workers. A data error in any county stops the run with the county, file, row and column named
and nothing written.

**Tables already loaded** (a county directory, a notebook): households are partitioned by county
(whole counties packed into balanced partitions, each with its members and every record of its
households and people) and scattered to the workers — scattered data cannot be recomputed, so a lost
worker there fails the run with a clear message (nothing written).

Why counties and not townships: the feed-coverage features (``medical_feed_months_12m``,
``assistance_feed_months_12m``, the employment coverage) count the months in which the household's
*county* has records, so a county must not be split for the features to equal the local engine's.
A county (≈ 10⁴–10⁵ households) is far below one worker's memory; a province has ~100 counties and
the nation ~2,800, which is plenty of parallelism.

Results are identical to ``--engine local`` (tests/risk/test_engine_dask.py and
tests/risk/test_province.py compare the files).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract.errors import ConfigError, FanpinError
from features.contract.province import county_bytes
from features.contract.tables import Tables
from risk.config import FanpinConfig
from risk.explain import ReasonSpec
from risk.ids import isin_ids
from risk.pipeline import Province, run_month
from risk.run_context import LoadedModelLike, ScoreResult
from risk.stages.load import load_part

#: Partitions per worker: a few, so a slow county does not leave the other workers idle.
PARTITIONS_PER_WORKER = 2
#: Seconds to wait for a scheduler given with ``--scheduler`` before giving up with a clear error.
CONNECT_TIMEOUT_S = 5
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
    return pack_counties({str(k): int(v) for k, v in sizes.items()}, n_partitions=n_partitions)


def pack_counties(sizes: Mapping[str, int], *, n_partitions: int) -> list[list[str]]:
    """Counties packed into at most `n_partitions` groups of similar total size.

    Largest county first into the currently smallest group (greedy; deterministic: ties by name).

    Examples
    --------
    >>> pack_counties({"A": 5, "B": 3, "C": 2}, n_partitions=2)
    [['A'], ['B', 'C']]
    """
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
    chosen = isin_ids(tables.households["county"].astype(str), set(counties))
    ids = set(tables.households.loc[chosen, "household_id"].astype(str))
    people = tables.members.loc[
        isin_ids(tables.members["household_id"].astype(str), ids), "person_id"
    ]
    person_ids = set(people.astype(str))
    changes: dict[str, object] = {}
    for name, frame in tables.present():
        key, keep = ("household_id", ids) if name in _BY_HOUSEHOLD else ("person_id", person_ids)
        if name not in _BY_HOUSEHOLD and name not in _BY_PERSON:
            continue
        changes[name] = frame.loc[isin_ids(frame[key].astype(str), keep)].reset_index(drop=True)
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
        with connect(scheduler) as connected:
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
            # a task's error reaches the user once, as the run's message, not also as worker logs
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster) as local,
    ):
        yield local


@contextmanager
def connect(scheduler: str, *, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A client of the scheduler at `scheduler`; a `ConfigError` naming it when it cannot be reached.

    Raises
    ------
    ConfigError
        Nothing answers at the address within `timeout` seconds (or it is not a valid address).
    """
    from distributed import Client  # noqa: PLC0415

    try:
        client = Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ConfigError(
            f"--scheduler {scheduler}: 无法连接 Dask 调度器 no Dask scheduler answered within "
            f"{timeout:g} s ({type(error).__name__}: {error}); start one (dask scheduler) or check "
            "the address, e.g. tcp://10.0.0.5:8786 — or run with --engine local"
        ) from error
    with client:
        yield client


class ClusterError(FanpinError):
    """The cluster lost the run's data or workers; nothing was written."""


def n_workers_of(client: Any) -> int:
    """Workers connected to the client's scheduler (at least 1)."""
    return max(1, len(client.scheduler_info().get("workers", {})))


# ------------------------------------------------------------------------------------- executor
class DaskExecutor:
    """`risk.pipeline.Executor` on a Dask cluster: county partitions, each step where its data is.

    Parameters
    ----------
    client
        A connected ``distributed.Client``.
    n_partitions
        County groups (default: ``PARTITIONS_PER_WORKER`` × workers).
    """

    def __init__(self, client: Any, *, n_partitions: int | None = None) -> None:
        self.client = client
        self.n_partitions = n_partitions or PARTITIONS_PER_WORKER * n_workers_of(client)

    def partitions(self, tables: Tables) -> list[Any]:
        """Whole counties packed into partitions, scattered to the workers."""
        groups = county_partitions(tables.households, n_partitions=self.n_partitions)
        return list(self.client.scatter(partition_all(tables, groups)))

    def load(self, province: Province, *, month: pd.Period, config: FanpinConfig) -> list[Any]:
        """Whole counties packed by their files' sizes; each group read by a task on a worker.

        The tasks hold only paths, so the scheduler can rerun a group elsewhere if its worker dies.
        """
        sizes = {county.name: county_bytes(county) for county in province.counties}
        by_name = {county.name: county for county in province.counties}
        groups = pack_counties(sizes, n_partitions=self.n_partitions)
        return [
            self.client.submit(
                load_part,
                [by_name[name] for name in group],
                pseudonym_key=province.pseudonym_key,
                month=month,
                config=config,
                pure=False,
            )
            for group in groups
        ]

    def share(self, value: Any) -> Any:
        """`value` as a task's result, so a worker lost with it can get it again (not scattered)."""
        return self.client.submit(_same, value, pure=False)

    def each(self, function: Callable[..., Any], items: Sequence[Any], **common: Any) -> list[Any]:
        """One task per item on any worker; the results gathered on the client."""
        futures = [self.client.submit(function, item, **common, pure=False) for item in items]
        return self.gather(futures)

    def map(
        self,
        step: Callable[..., Any],
        parts: Sequence[Any],
        *,
        each: Sequence[Mapping[str, Any]] | None = None,
        **common: Any,
    ) -> list[Any]:
        """One task per partition, on the worker that holds it; the results stay there."""
        extra = each if each is not None else [{}] * len(parts)
        return [
            self.client.submit(step, part, **common, **own, pure=False)
            for part, own in zip(parts, extra, strict=True)
        ]

    def settle(self, handles: Sequence[Any]) -> list[Any]:
        """Wait for the tasks; a task's error is raised here, as it was raised on the worker."""
        from distributed import wait  # noqa: PLC0415

        # `wait` finds its client as the default one; a client of --scheduler is not made default
        with cluster_errors(), self.client.as_current():
            wait(list(handles))
            for future in handles:
                if future.status in {"error", "lost", "cancelled"}:
                    future.result()
        return list(handles)

    def gather(self, handles: Sequence[Any]) -> list[Any]:
        """The tasks' results, on the client."""
        with cluster_errors():
            return list(self.client.gather(list(handles)))


def _same(value: Any) -> Any:
    return value


@contextmanager
def cluster_errors() -> Iterator[None]:
    """Errors of the cluster itself (not of the data) as a `ClusterError` saying what to do."""
    from distributed.client import FutureCancelledError  # noqa: PLC0415
    from distributed.scheduler import KilledWorker  # noqa: PLC0415

    try:
        yield
    except FanpinError:
        raise
    except KilledWorker as error:
        raise ClusterError(
            "分布式计算失败 a Dask worker died while running this run's task "
            f"({error}) and the scheduler gave up retrying it; no outputs were written. "
            "Check the workers' memory and logs, then run again (or with --engine local)"
        ) from error
    except (FutureCancelledError, OSError, TimeoutError) as error:
        raise ClusterError(
            "分布式计算失败 the Dask cluster lost this run's data or its connection "
            f"({type(error).__name__}: {error}); no outputs were written. Run again; data "
            "loaded by the client and scattered (a county directory) cannot be recomputed "
            "after a worker is lost, a province's counties can"
        ) from error


# -------------------------------------------------------------------------------------- the job
def score_month_dask(
    tables: Tables | Province,
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
    on_stage: Callable[[str], None] | None = None,
) -> ScoreResult:
    """`risk.score.score_month` on a Dask cluster: same arguments, same outputs, same files.

    Parameters
    ----------
    tables, month, model, config, out_dir, data_dir, previous_dir, progress, load_warnings, catalogue
        As for `risk.score.score_month`; a `risk.pipeline.Province` is read on the workers.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); None starts a LocalCluster.
    n_workers
        Workers of the LocalCluster (default: one per core); ignored with `scheduler` or `client`.
    n_partitions
        County groups (default: ``PARTITIONS_PER_WORKER`` × workers).
    client
        An already connected ``distributed.Client`` (notebooks, tests).
    on_stage
        Called with each stage's name once it is done.

    Returns
    -------
    ScoreResult
        As the local engine's; ``timings`` has the same stage names.

    Raises
    ------
    ConfigError
        `scheduler` cannot be reached.
    ClusterError
        The cluster lost data that cannot be recomputed, or a task kept killing its workers.
    """
    with dask_client(scheduler=scheduler, n_workers=n_workers, client=client) as dask:
        return run_month(
            tables,
            month=month,
            model=model,
            config=config,
            out_dir=out_dir,
            executor=DaskExecutor(dask, n_partitions=n_partitions),
            data_dir=data_dir,
            previous_dir=previous_dir,
            progress=progress,
            load_warnings=load_warnings,
            catalogue=catalogue,
            on_stage=on_stage,
        )


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
        features, labels = _as_dask(features, labels, partitions=n_workers_of(dask))
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
