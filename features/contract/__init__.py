"""The data contract (DATA_CONTRACT.md) as the project's lowest floor: declare, read, validate, pseudonymise.

Everything above it — feature sources, training, scoring, the simulator — imports from here; this
package imports nothing else of the project.

- `schema`: the one declaration of every table and column (English name, 中文 label, kind, values).
- `io`: reading a data directory into normalised `Tables` with a `ValidationReport`.
- `parsing`: turning the text, Excel and Parquet cells of one column into its kind.
- `columns`: the column rules (dtype, empty, allowed values, ranges) as pandera schemas generated
  from `schema`, their failure cases worded as the contract's issues.
- `validation`: the report, and the rules across rows, columns and tables, each problem named by
  file, row and column.
- `id_numbers`: ID numbers with a wrong check digit or length (warnings, before pseudonymisation).
- `pseudonym`: keyed pseudonyms for ID-like person ids and masks for messages.
- `tables`: the `Tables` container passed up to the features.
- `lines`: the monitoring lines by county and year that give income its meaning.
- `errors`: the small error hierarchy every layer raises.
"""

from features.contract.errors import ConfigError, DataContractError, FanpinError
from features.contract.io import LoadResult, load_directory, validate_directory
from features.contract.lines import MonitoringLines
from features.contract.tables import TABLE_NAMES, Tables

__all__ = [
    "TABLE_NAMES",
    "ConfigError",
    "DataContractError",
    "FanpinError",
    "LoadResult",
    "MonitoringLines",
    "Tables",
    "load_directory",
    "validate_directory",
]
