"""Detections, the one owner of what post-processing finds: its settings, its record and its results table.

:mod:`.settings` holds the typed settings record (defaults in the configuration schema
only); :mod:`.table` the record of one map's detections and the CSV (and JSON sidecar) that
``predict`` writes and ``analyze`` reads.
"""

from .settings import KEYS, METHODS, DetectionSettings, DetectionSettingsError
from .table import (
    COLUMNS,
    SPREAD_COLUMNS,
    Detections,
    DetectionTable,
    Spread,
    check_distinct,
    read_table,
    sidecar,
    sidecar_path,
    table_header,
    table_rows,
    write_table,
)

__all__ = [
    "COLUMNS", "KEYS", "METHODS", "SPREAD_COLUMNS", "DetectionSettings", "DetectionSettingsError", "DetectionTable",
    "Detections", "Spread", "check_distinct", "read_table", "sidecar", "sidecar_path", "table_header", "table_rows",
    "write_table",
]
