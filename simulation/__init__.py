"""`risk simulate`: a realistic simulated county, its department feeds and its hidden truth.

`simulate(...)` runs the county in memory and returns a `Simulation`; `write_simulation(...)` writes
it as a contract data directory (DATA_CONTRACT.md) with `_truth/truth.parquet` and `export_M/`
sub-directories.
"""

from simulation.engine import Simulation, simulate
from simulation.writer import write_simulation

__all__ = ["Simulation", "simulate", "write_simulation"]
