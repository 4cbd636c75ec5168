"""CLI command: `risk train` (INTERFACE.md) in its two modes.

- `risk train --data DIR [--until YYYY-MM] [--horizon 6] [--out DIR] [--tracking-uri URI]
  [--model-name NAME] [--config risk.toml] [--oracle FILE]`: contract tables → a candidate chosen on the
  training months, evaluated out of time beside the baselines, refitted on every labelled month and
  registered in MLflow through the champion gate; writes `OUT/evaluation.json` and
  `OUT/evaluation.html`.
- `risk train --table FILE --id-column COL --label-column COL [--time-column COL] [--out DIR]`: any
  household-level table; writes `OUT/evaluation.json` and `OUT/predictions.parquet`.

Outputs are written to a temporary folder and swapped into place at the end (risk.atomic).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from features.contract.errors import ConfigError, DataContractError
from risk.cli.engine import EngineOption, SchedulerOption, wants_dask

TrainData = Annotated[Path | None, typer.Option("--data", help="数据目录 contract data directory")]
Until = Annotated[
    str | None, typer.Option("--until", help="数据截止月份 YYYY-MM: ignore later records")
]
Horizon = Annotated[
    int | None, typer.Option("--horizon", help="预测期（月）label horizon in months")
]
Out = Annotated[Path, typer.Option("--out", help="输出目录 where evaluation files go")]
Tracking = Annotated[str | None, typer.Option("--tracking-uri", help="MLflow tracking URI")]
ModelName = Annotated[str | None, typer.Option("--model-name", help="registered model name")]
Config = Annotated[Path | None, typer.Option("--config", help="risk.toml (default: ./risk.toml)")]
Table = Annotated[Path | None, typer.Option("--table", help="户级特征表 CSV/Parquet/XLSX")]
IdColumn = Annotated[str | None, typer.Option("--id-column", help="id column of --table")]
LabelColumn = Annotated[str | None, typer.Option("--label-column", help="0/1 label column")]
TimeColumn = Annotated[
    str | None, typer.Option("--time-column", help="time column: validate out of time")
]
ReviewStorePath = Annotated[
    Path | None,
    typer.Option(
        "--review-store",
        help="审核库 review store (SQLite): reviewers' 纳入监测 decisions count as identifications",
    ),
]
OracleFile = Annotated[
    Path | None,
    typer.Option(
        "--oracle",
        help="真值 a table household_id, month, p_true (e.g. a simulation's _truth/truth.parquet): "
        "adds the oracle row to the evaluation",
    ),
]
MonotoneCheck = Annotated[
    bool,
    typer.Option(
        "--compare-monotone",
        help="also fit without monotone constraints and report both (doubles model time)",
    ),
]


def train(
    data: TrainData = None,
    until: Until = None,
    horizon: Horizon = None,
    out: Out = Path("models/latest"),
    tracking_uri: Tracking = None,
    model_name: ModelName = None,
    config: Config = None,
    table: Table = None,
    id_column: IdColumn = None,
    label_column: LabelColumn = None,
    time_column: TimeColumn = None,
    compare_monotone: MonotoneCheck = False,
    review_store: ReviewStorePath = None,
    oracle: OracleFile = None,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
) -> None:
    """训练模型 Train, evaluate against baselines, log to MLflow and gate the champion."""
    if (data is None) == (table is None):
        raise ConfigError("train: give exactly one of --data DIR or --table FILE")
    tree_trainer = _tree_trainer(engine, scheduler)
    if table is not None:
        if tree_trainer is not None:
            raise ConfigError("train --table trains locally; --engine dask is for --data DIR")
        if not id_column or not label_column:
            raise ConfigError("train --table needs --id-column and --label-column")
        _train_table(
            table,
            id_column=id_column,
            label_column=label_column,
            time_column=time_column,
            out=out,
            config=config,
        )
        return
    assert data is not None
    from features.contract.province import county_folders  # noqa: PLC0415

    counties = county_folders(data)
    if counties is not None:
        if compare_monotone:
            raise ConfigError("train: --compare-monotone is for one county, not a province")
        _train_province(
            data,
            counties,
            until=until,
            horizon=horizon,
            out=out,
            tracking_uri=tracking_uri,
            model_name=model_name,
            config=config,
            review_store=review_store,
            oracle=oracle,
            engine=engine,
            scheduler=scheduler,
        )
        return
    _train_directory(
        data,
        until=until,
        horizon=horizon,
        out=out,
        tracking_uri=tracking_uri,
        model_name=model_name,
        config=config,
        compare_monotone=compare_monotone,
        review_store=review_store,
        oracle=oracle,
        tree_trainer=tree_trainer,
    )


def _tree_trainer(engine: str, scheduler: str | None) -> Any:
    """None (grow the trees here) or the Dask tree trainer for `--engine dask`."""
    if not wants_dask(engine, scheduler):
        return None
    from risk.engine_dask import dask_tree_trainer  # noqa: PLC0415

    return dask_tree_trainer(scheduler=scheduler)


def _train_directory(
    data: Path,
    *,
    until: str | None,
    horizon: int | None,
    out: Path,
    tracking_uri: str | None,
    model_name: str | None,
    config: Path | None,
    compare_monotone: bool,
    review_store: Path | None = None,
    oracle: Path | None = None,
    tree_trainer: Any = None,
) -> None:
    from features.contract.io import load_directory  # noqa: PLC0415
    from risk.config import load_config  # noqa: PLC0415
    from training.registry import Registry  # noqa: PLC0415
    from training.train import train_from_tables  # noqa: PLC0415

    settings = load_config(config)
    options = _train_options(
        settings,
        horizon=horizon,
        until=until,
        compare_monotone=compare_monotone,
        tree_trainer=tree_trainer,
    )
    uri = tracking_uri or settings.model.resolved_tracking_uri()
    name = model_name or settings.model.name
    with _stage("读取数据 loading data"):
        loaded = load_directory(data, pseudonym_key=settings.privacy.pseudonym_key())
    tables = loaded.tables
    if options.until is not None and options.until > tables.export_month:
        raise ConfigError(
            f"train: --until {options.until} is after the data's last month {tables.export_month}"
        )
    _require_policy(settings, tables, options=options)
    truth = _read_oracle(oracle)
    result = train_from_tables(
        tables,
        lines=settings.lines,
        rule_params=settings.rules,
        options=options,
        truth=truth,
        extra_labels=_review_confirmations(review_store, horizon=options.horizon),
        progress=_stage,
    )
    files = {table: data / file for table, file in tables.files.items()}
    evaluation = _register(
        result,
        registry=Registry(uri, name),
        options=options,
        out=out,
        fingerprints=_fingerprints(files, oracle=oracle),
    )
    _summary(evaluation, out=out, tracking_uri=uri)


def _train_province(
    data: Path,
    counties: Sequence[Any],
    *,
    until: str | None,
    horizon: int | None,
    out: Path,
    tracking_uri: str | None,
    model_name: str | None,
    config: Path | None,
    review_store: Path | None,
    oracle: Path | None,
    engine: str,
    scheduler: str | None,
) -> None:
    """`risk train --data PROVINCE`: each county's labelled rows from its own tables (risk.train_province).

    Local engine: the county panels concatenated, then the county path (`train_from_tables`). Dask
    engine: the panels are built and kept on the workers, the trees grown with DaskLGBMClassifier.
    """
    from risk.config import load_config  # noqa: PLC0415
    from training.registry import Registry  # noqa: PLC0415

    dask = wants_dask(engine, scheduler)
    province_toml = data / "risk.toml"
    settings = load_config(config or (province_toml if province_toml.is_file() else None))
    options = _train_options(settings, horizon=horizon, until=until)
    uri = tracking_uri or settings.model.resolved_tracking_uri()
    registry = Registry(uri, model_name or settings.model.name)
    extra = _review_confirmations(review_store, horizon=options.horizon)
    if dask:
        if oracle is not None:
            raise ConfigError("train: --oracle is read by the local engine only (--engine local)")
        _train_province_dask(
            counties,
            settings=settings,
            options=options,
            registry=registry,
            extra_labels=extra,
            out=out,
            scheduler=scheduler,
        )
        _summary_after(out, uri)
        return
    from risk.train_province import prepare_province, province_summary  # noqa: PLC0415
    from training.train import train_from_tables  # noqa: PLC0415

    province = prepare_province(
        counties,
        load=partial(_load_county, settings=settings, options=options),
        lines=settings.lines,
        options=options,
        extra_labels=extra,
        stage=_stage,
    )
    prepared = province.prepared
    result = train_from_tables(
        prepared.tables,
        lines=settings.lines,
        rule_params=settings.rules,
        options=options,
        truth=_read_oracle(oracle),
        extra_labels=extra,
        progress=_stage,
        prepared=prepared,
    )
    result.evaluation["province"] = province_summary(
        province.counties, engine="local", split=prepared.split
    )
    evaluation = _register(
        result,
        registry=registry,
        options=options,
        out=out,
        fingerprints=_fingerprints(dict(province.files), oracle=oracle),
    )
    _summary(evaluation, out=out, tracking_uri=uri)


def _train_province_dask(
    counties: Sequence[Any],
    *,
    settings: Any,
    options: Any,
    registry: Any,
    extra_labels: pd.DataFrame | None,
    out: Path,
    scheduler: str | None,
) -> None:
    from risk.engine_dask import dask_client  # noqa: PLC0415
    from risk.train_province import PanelInputs, train_province_dask  # noqa: PLC0415

    logging.getLogger("distributed").setLevel(logging.WARNING)  # the in-process scheduler's chatter
    with dask_client(scheduler=scheduler) as client:
        inputs = PanelInputs(
            pseudonym_key=settings.privacy.pseudonym_key(),
            lines=settings.lines,
            rule_params=settings.rules,
            options=options,
            extra_labels=extra_labels,
            check_policy=partial(_check_county_policy, settings=settings, options=options),
        )
        result, champion, fingerprints = train_province_dask(
            client, counties, inputs, progress=_stage
        )
        _register(
            result,
            registry=registry,
            options=options,
            out=out,
            fingerprints=fingerprints,
            champion_scorer=champion,
        )


def _train_options(settings: Any, *, horizon: int | None, until: str | None, **extra: Any) -> Any:
    """`TrainOptions` from the settings and the command line (`extra`: engine, comparisons)."""
    from training.train import TrainOptions  # noqa: PLC0415

    if horizon is not None and not 1 <= horizon <= 24:
        raise ConfigError(f"train: --horizon must be 1–24 months, got {horizon}")
    return TrainOptions(
        horizon=horizon or settings.model.horizon,
        valid_months=settings.model.valid_months,
        until=_month(until) if until else None,
        operating_share=_operating_share(settings),
        **extra,
    )


def _fingerprints(files: dict[str, Path], *, oracle: Path | None) -> dict[str, str]:
    """sha256 of the data files the model learned from (and of the --oracle table, if given)."""
    from training.registry import file_fingerprints  # noqa: PLC0415

    if oracle is not None:
        files = {**files, "_oracle": oracle}
    return file_fingerprints(files)


def _register(
    result: Any,
    *,
    registry: Any,
    options: Any,
    out: Path,
    fingerprints: dict[str, str],
    champion_scorer: Any = None,
) -> dict[str, Any]:
    """The champion gate, MLflow registration and evaluation files in `out` (written atomically)."""
    from risk.atomic import atomic_output_dir  # noqa: PLC0415
    from training.train import train_and_register  # noqa: PLC0415

    result.evaluation["data_fingerprints"] = fingerprints
    with _stage("登记模型 MLflow + champion gate"), atomic_output_dir(out) as folder:
        return train_and_register(
            result,
            registry=registry,
            options=options,
            out_dir=folder,
            fingerprints=fingerprints,
            write_files=_writer(result),
            champion_scorer=champion_scorer,
        )


def _summary_after(out: Path, tracking_uri: str) -> None:
    import json  # noqa: PLC0415

    evaluation = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    _summary(evaluation, out=out, tracking_uri=tracking_uri)


def _load_county(path: Path, *, settings: Any, options: Any) -> Any:
    """One county of a province, loaded, its --until and policy figures checked."""
    from features.contract.io import load_directory  # noqa: PLC0415

    tables = load_directory(path, pseudonym_key=settings.privacy.pseudonym_key()).tables
    _check_county_policy(tables, settings=settings, options=options)
    return tables


def _check_county_policy(tables: Any, *, settings: Any, options: Any) -> None:
    """--until within the county's data and every policy figure its months need (runs where it loads)."""
    if options.until is not None and options.until > tables.export_month:
        raise ConfigError(
            f"train: --until {options.until} is after the data's last month {tables.export_month}"
        )
    _require_policy(settings, tables, options=options)


def _require_policy(settings: Any, tables: Any, *, options: Any) -> None:
    """Every policy figure the as-of months of training need, checked before any model is fitted."""
    from risk.config import require_policy  # noqa: PLC0415
    from training.train import first_record_month  # noqa: PLC0415

    until = options.until or tables.export_month
    months = list(pd.period_range(first_record_month(tables), until, freq="M"))
    require_policy(settings, tables, months=months, doing="train")


def _read_oracle(path: Path | None) -> pd.DataFrame | None:
    """The `--oracle` table (``household_id, month, p_true``), or None when not given."""
    if path is None:
        return None
    if not path.is_file():
        raise ConfigError(f"train: --oracle {path} does not exist")
    try:
        truth = pd.read_parquet(path, columns=["household_id", "month", "p_true"])
    except (OSError, ValueError, KeyError) as error:
        raise DataContractError(
            f"train: --oracle {path}: expected a Parquet table with columns household_id, month, "
            f"p_true ({error})"
        ) from error
    return truth


def _review_confirmations(store_path: Path | None, *, horizon: int) -> pd.DataFrame | None:
    """Reviewers' 纳入监测 decisions as extra identifications for the label builder.

    Each confirmation counts like an official outcome identified in the month it was decided
    (``training.review_labels``); exclusions are not used as labels here (see that module for why
    they are weaker evidence). None when no store is given.
    """
    if store_path is None:
        return None
    if not store_path.is_file():
        raise ConfigError(f"train: --review-store {store_path} does not exist")
    from risk.review.store import ReviewStore  # noqa: PLC0415
    from training.review_labels import review_labels  # noqa: PLC0415

    review = review_labels(ReviewStore(store_path).history(), horizon=horizon)
    confirmed = review.loc[review["label"] == 1, ["household_id", "identified_month"]]
    return confirmed.reset_index(drop=True)


def _writer(result: Any) -> Any:
    from training.evaluate import render_html  # noqa: PLC0415
    from training.train import write_json  # noqa: PLC0415

    def write(evaluation: Mapping[str, Any], folder: Path) -> Sequence[Path]:
        json_path = write_json(evaluation, folder / "evaluation.json")
        html = render_html(
            evaluation, validation=result.validation, shap_importance=result.shap_importance
        )
        html_path = folder / "evaluation.html"
        html_path.write_text(html, encoding="utf-8")
        return [json_path, html_path]

    return write


def _train_table(
    table: Path,
    *,
    id_column: str,
    label_column: str,
    time_column: str | None,
    out: Path,
    config: Path | None,
) -> None:
    from risk.atomic import atomic_output_dir  # noqa: PLC0415
    from risk.config import load_config  # noqa: PLC0415
    from training.train import train_from_table, write_json  # noqa: PLC0415

    settings = load_config(config)
    frame = _read_table(table)
    result = train_from_table(
        frame,
        id_column=id_column,
        label_column=label_column,
        time_column=time_column,
        operating_share=_operating_share(settings),
        progress=_stage,
    )
    from training.registry import save_local  # noqa: PLC0415

    with atomic_output_dir(out) as folder:
        write_json(result.evaluation, folder / "evaluation.json")
        result.predictions.to_parquet(folder / "predictions.parquet", index=False)
        save_local(
            result.model,
            folder / "model",
            signature_frame=result.features,
            configuration=result.configuration.to_dict() if result.configuration else None,
        )
    _summary(result.evaluation, out=out, tracking_uri=None)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataContractError(f"table {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".xlsx":
        return pd.read_excel(path)
    if suffix == ".csv":
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(path, encoding=encoding)
            except UnicodeDecodeError:
                continue
        raise DataContractError(f"{path}: neither UTF-8 nor GB18030 text")
    raise DataContractError(
        f"{path}: expected .csv, .xlsx or .parquet, got {suffix or 'no extension'}"
    )


def _operating_share(settings: Any) -> float:
    warning = settings.warning
    if warning.top_percent is not None:
        return float(warning.top_percent) / 100
    return 0.05  # capacity / threshold: the gate compares at the top 5% (documented)


def _month(text: str) -> pd.Period:
    try:
        return pd.Period(text, "M")
    except (ValueError, TypeError) as error:
        raise ConfigError(f"train: --until must be a month like 2026-04, got {text!r}") from error


@contextmanager
def _stage(name: str) -> Iterator[None]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn  # noqa: PLC0415

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=False
    ) as progress:
        task = progress.add_task(name, total=1)
        yield
        progress.update(task, completed=1)


def _summary(evaluation: Mapping[str, Any], *, out: Path, tracking_uri: str | None) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table as RichTable  # noqa: PLC0415

    from training.evaluate import comparison_table  # noqa: PLC0415

    frame = comparison_table(evaluation)
    table = RichTable(title="同一验证集上的对比 comparison on the same validation rows")
    for column in ("scorer", "auc", "recall@0.05", "recall@0.10", "precision@0.05", "ece"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    for _, row in frame.iterrows():
        table.add_row(
            row["scorer"],
            *[
                _cell(row[c])
                for c in ("auc", "recall@0.05", "recall@0.10", "precision@0.05", "ece")
            ],
        )
    console = Console()
    console.print(table)
    candidates = evaluation.get("candidates") or {}
    if candidates.get("chosen"):
        console.print(f"candidate chosen: {candidates['chosen']} — {candidates.get('criterion')}")
    registered = evaluation.get("registered_model")
    if registered:
        console.print(
            f"registered model: {registered['candidate']} refitted on {registered['fitted_on']} "
            f"({registered['n_rows']} rows); the figures above are the evaluation fit's, out of time"
        )
    promotion = evaluation.get("promotion")
    if promotion:
        console.print(
            f"model version {evaluation.get('model_version')}: {'champion' if promotion['promoted'] else 'challenger'} — {promotion['reason']}"
        )
    if tracking_uri:
        console.print(f"MLflow: {tracking_uri}")
    console.print(f"evaluation: {out / 'evaluation.json'}")


def _cell(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):.4f}"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `risk` app."""
    app.command("train")(train)
