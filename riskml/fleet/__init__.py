"""`riskml fleet`: many repositories mined and labelled as Dask tasks, and their union.

``load_fleet(path) -> Fleet`` reads and checks a fleet file (``fleet.toml``, :mod:`.file`);
``run_fleet(fleet, data_dir, out, workers, scheduler) -> FleetResult`` mines and labels every
repository on a Dask cluster, each exactly as `riskml mine` and `riskml label` would alone
(:mod:`.task`), and publishes the fleet dataset, one Parquet file per project (:mod:`.dataset`,
read back with :func:`riskml.tables.read_fleet`). docs/fleet.md describes all of it.
"""

from riskml.fleet.file import Fleet, FleetRepo, load_fleet
from riskml.fleet.runner import FleetResult, format_summary, run_fleet

__all__ = ["Fleet", "FleetRepo", "FleetResult", "format_summary", "load_fleet", "run_fleet"]
