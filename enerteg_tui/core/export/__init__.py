"""Export of measurement history (files, PostgreSQL) and the logs archive.

The package splits by layer: ``rows`` (history blocks after a watermark, batched and
encoded), ``sinks`` (daily CSV / JSON-lines files, a PostgreSQL table; each keeps its
watermark so a batch lands exactly once), ``service`` (the periodic, resumable export
loop of ``config/sql_export``) and ``logs`` (``/logs/enerteg-logs.tar.gz``). See
docs/export.md.
"""

from .logs import ARCHIVE_NAME, ArchiveInfo, LogArchive
from .rows import COLUMNS
from .service import ExportService, ExportStatus
from .sinks import EXPORT_FOLDER, WATERMARK_TABLE, WatermarkMoved, table_ddl

__all__ = ["ExportService", "ExportStatus", "LogArchive", "ArchiveInfo", "ARCHIVE_NAME",
           "COLUMNS", "EXPORT_FOLDER", "WATERMARK_TABLE", "WatermarkMoved", "table_ddl"]
