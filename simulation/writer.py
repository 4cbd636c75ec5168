"""Writing a `Simulation` as a contract data directory (Parquet, CSV or XLSX), byte-reproducibly.

Outputs go to a temporary sibling folder first and are moved into place at the end, so a failed
run leaves nothing half-written (INTERFACE.md).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract.errors import ConfigError
from features.contract.tables import TABLE_NAMES

if TYPE_CHECKING:
    from simulation.engine import Simulation

FORMATS = ("parquet", "csv", "xlsx")
_FIXED_TIME = dt.datetime(2020, 1, 1, 0, 0, 0)
#: Where the case register goes, beside the tables (a folder loading skips).
CASES_FOLDER = "_cases"
CASE_STEPS_FILE = "办理步骤.xlsx"


def write_simulation(sim: Simulation, out_dir: str | Path, *, fmt: str = "parquet") -> Path:
    """Write the tables, `_truth/truth.parquet` and one `export_YYYY-MM/` folder per export month.

    With the truth come the case register `_cases/办理步骤.xlsx` and its truth `_truth/cases.parquet`
    (`simulation.cases`).

    `truth.parquet` holds `household_id, month, p_true, cause` (INTERFACE.md version 2). Tables the
    scenario's departments do not send (e.g. `events` in `sparse`) are not written at all.

    Parameters
    ----------
    sim
        The simulation to write.
    out_dir
        Target folder (created; existing files of the same names are replaced, and files of tables
        this county does not have are removed).
    fmt
        `parquet`, `csv` (UTF-8) or `xlsx`.

    Returns
    -------
    Path
        The output folder.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as error:
        raise OSError(f"cannot write to {out}: {error}") from error
    try:
        write_county(sim, staging, fmt=fmt)
        for month, tables in sim.exports.items():
            write_tables(tables, staging / f"export_{month}", fmt=fmt)
        out.mkdir(exist_ok=True)
        for item in sorted(staging.iterdir()):
            target = out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            item.replace(target)
        _remove_unsent(out, sent=set(sim.tables))
    except OSError as error:
        raise OSError(f"cannot write to {out}: {error}") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def write_county(sim: Simulation, folder: Path, *, fmt: str) -> None:
    """The county's tables as exported at its last month, `_truth/` and `_cases/`, into `folder`.

    Not the `export_M/` folders: a county directory holds them inside (`write_simulation`), a
    province beside its counties (`simulation.province`).
    """
    write_tables(sim.tables, folder, fmt=fmt)
    if sim.truth is not None:
        (folder / "_truth").mkdir()
        truth = sim.truth[["household_id", "month", "p_true", "cause"]]
        _write_parquet(truth, folder / "_truth" / "truth.parquet")
    write_case_register(sim, folder)


def write_case_register(sim: Simulation, folder: Path) -> None:
    """`_cases/办理步骤.xlsx` (a step file `risk review steps` reads) and `_truth/cases.parquet`.

    Both sit in folders whose names start with ``_``, which loading skips: the register is not a
    contract table, and `risk validate` never sees it.
    """
    if sim.case_steps is None or sim.case_truth is None:
        return
    (folder / CASES_FOLDER).mkdir(exist_ok=True)
    _write_xlsx(sim.case_steps, folder / CASES_FOLDER / CASE_STEPS_FILE)
    (folder / "_truth").mkdir(exist_ok=True)
    _write_parquet(sim.case_truth, folder / "_truth" / "cases.parquet")


def _remove_unsent(out: Path, *, sent: set[str]) -> None:
    """Remove table files of an earlier run that this county's departments do not send (a `sparse`
    county written over a `baseline` one must not keep its events)."""
    for name in TABLE_NAMES:
        if name in sent:
            continue
        for fmt in FORMATS:
            (out / f"{name}.{fmt}").unlink(missing_ok=True)


def write_tables(tables: dict[str, pd.DataFrame], folder: Path, *, fmt: str) -> None:
    """One file per table, named after the table."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        if name not in tables:
            continue
        frame = tables[name]
        path = folder / f"{name}.{fmt}"
        if fmt == "parquet":
            _write_parquet(frame, path)
        elif fmt == "csv":
            _text_frame(frame).to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        else:
            _write_xlsx(_text_frame(frame, dates=False), path)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(None)  # no pandas metadata: stable bytes
    pq.write_table(table, path, compression="zstd", write_statistics=False, store_schema=False)


def _text_frame(frame: pd.DataFrame, *, dates: bool = True) -> pd.DataFrame:
    """Booleans as 是/否; dates as YYYY-MM-DD text (CSV) or kept as dates (Excel cells)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype == bool or str(series.dtype) == "boolean":
            out[column] = series.map({True: "是", False: "否"}).astype(object)
        elif dates and pd.api.types.is_datetime64_any_dtype(series):
            out[column] = series.dt.strftime("%Y-%m-%d")
    return out


def _write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook  # noqa: PLC0415

    book = Workbook(write_only=True)
    sheet = book.create_sheet(path.stem)
    sheet.append(list(frame.columns))
    columns = [frame[c].to_numpy(dtype=object) for c in frame.columns]
    for row in zip(*columns, strict=True):
        sheet.append([_cell(v) for v in row])
    book.properties.created = _FIXED_TIME
    book.properties.modified = _FIXED_TIME
    book.properties.creator = "fanpin risk simulate"
    book.save(path)
    _fix_zip_times(path)


def _cell(value: object) -> object:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        return value.item()  # numpy scalar
    return value


def _fix_zip_times(path: Path) -> None:
    """Rewrite the xlsx zip with fixed member timestamps (openpyxl stamps the current time)."""
    import re  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    fixed = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    members = [
        (
            name,
            re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + fixed + rb"\g<2>", data)
            if name == "docProps/core.xml"
            else data,
        )
        for name, data in members
    ]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)
