"""The history export service: flushed 5-second history to files or PostgreSQL, exactly once.

Owns the export loop of ``config/sql_export``. Every ``intervalSeconds`` (aligned to
multiples of it, a few seconds after the history flush) it exports every flushed
block of the finest tier (one row per channel per 5-second block) after the target's
watermark, in batches (``rows``), each batch and its new watermark committed together
(``sinks``). When the target fails (server down, disk full, bad password) the failure
is logged and audited once, the loop retries with a doubling back-off, and the next
success logs and audits the recovery and catches up from the watermark: nothing is
missing and nothing is there twice, as long as the outage is shorter than the finest
tier's retention (``config/core`` historyKeep5sHours; a longer outage is reported as
a gap). A change of ``config/sql_export`` finishes the batch under way and restarts
the target. Decoding and encoding run in worker threads and asyncpg is asynchronous,
so the event loop never waits on the export. Secrets never reach a log line, an
audit entry or the status. Also owns the logs archive (``logs``). Started and stopped
by the controller; ``export status`` / ``export now`` and ``logs archive`` in the shell
call it. Documented in docs/export.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audit import AuditLog, Severity
from ..configuration import Configuration
from ..errors import Invalid
from ..events import EventBus
from ..history import HistoryService
from ..history.tiers import TIERS, retention_s
from ..live import LiveState
from ..permissions import SYSTEM, Action, Principal, require
from ..settings import SqlExportSettings
from ..store import Store
from ..waiting import wait_event
from .logs import LogArchive
from .rows import BATCH_ROWS, PERIOD_S, ChannelMeta, LoopTurn, decode_period, describe, \
    encode_rows, iso_time, plan_batches
from .rows import Batch as RowBatch
from .sinks import Sink, make_sink

__all__ = ["ExportService", "ExportStatus", "RETRY_MIN_S", "RETRY_MAX_S"]

log = logging.getLogger(__name__)

RETRY_MIN_S = 5.0
"""First wait after a failed export; it doubles on each further failure."""
RETRY_MAX_S = 300.0
"""Longest wait between two attempts while the target stays down."""
START_DELAY_S = 5.0
"""Seconds after each multiple of ``intervalSeconds`` the export runs (after the flush)."""
STOP_GRACE_S = 3.0
"""How long stopping waits for the batch under way before cancelling it."""
FUTURE_SLACK_S = 86400
"""A watermark further than this ahead of the history came from a clock set wrong and
then corrected; the export restarts from the history's end instead of waiting for it."""
REASON_MAX = 300
"""Longest failure text kept for the log, the audit entry and the status."""
_TOPIC = "sql_export"


@dataclass(slots=True)
class ExportStatus:
    """What the export is doing, for ``export status`` and the tests."""

    enabled: bool
    target: str
    destination: str
    state: str
    """off, starting, ok, retrying or stopped."""
    exported_until: float | None
    """Watermark: every block before it is in the target."""
    history_until: float | None
    """Every block before it is in the history database (the export's limit)."""
    rows: int
    """Rows exported since the controller started."""
    last_run: float | None
    last_rows: int
    last_ms: float
    last_error: str
    retry_in_s: float | None

    @property
    def lag_s(self) -> float | None:
        """Seconds of flushed history not yet exported."""
        if self.exported_until is None or self.history_until is None:
            return None
        return max(0.0, self.history_until - self.exported_until)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, camelCase like the shell's other documents."""
        return {"enabled": self.enabled, "target": self.target, "destination": self.destination,
                "state": self.state, "exportedUntil": _iso(self.exported_until),
                "historyUntil": _iso(self.history_until), "lagSeconds": self.lag_s,
                "rows": self.rows, "lastRun": _iso(self.last_run), "lastRows": self.last_rows,
                "lastMs": round(self.last_ms, 1), "lastError": self.last_error,
                "retryInSeconds": None if self.retry_in_s is None else round(self.retry_in_s, 1)}


def _iso(t: float | None) -> str | None:
    return None if t is None else iso_time(int(t))


class ExportService:
    """Exports the history to the target of ``config/sql_export``; builds the logs archive.

    Args:
        config: settings (``sql_export`` read at start and on every change; ``core``
            for the retention of the finest tier).
        history: the history service (its database and ``flushed_until``).
        live: live state (device names for the rows).
        store: controller database (file watermarks, audit log for the archive).
        audit: failures and recoveries are audited once each.
        events: ``settings`` events restart the target.
        data_dir: data directory (default export folder, logs folder).
        clock: wall clock (tests inject a simulated one).
        retry_min_s, retry_max_s: back-off bounds after a failure.
        batch_rows: rows aimed at per batch.
        trust: TLS client context for PostgreSQL ``verify-ca``/``verify-full`` (the
            certificate store's, given whether host names are checked), or None.
    """

    def __init__(self, config: Configuration, history: HistoryService, live: LiveState,
                 store: Store, audit: AuditLog, events: EventBus, data_dir: Path, *,
                 clock: Callable[[], float] = time.time, retry_min_s: float = RETRY_MIN_S,
                 retry_max_s: float = RETRY_MAX_S, batch_rows: int = BATCH_ROWS,
                 trust: Callable[[bool], ssl.SSLContext] | None = None) -> None:
        self._config = config
        self._trust = trust
        config.appliers.register("sql_export", "export")
        self._history = history
        self._live = live
        self._store = store
        self._audit = audit
        self._events = events
        self._data_dir = Path(data_dir)
        self._clock = clock
        self._retry_min = retry_min_s
        self._retry_max = retry_max_s
        self.batch_rows = batch_rows
        """Rows aimed at per batch (one transaction or file append)."""
        self.logs = LogArchive(self._data_dir / "logs", store, clock)
        """The logs archive (``/logs/enerteg-logs.tar.gz``)."""
        self._settings: SqlExportSettings = config.get(_TOPIC)  # type: ignore[assignment]
        self._gen = 0
        self._wake = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._sub: Any = None
        self._stopping = False
        self._sink: Sink | None = None
        self._open = False
        self._failing = False
        self._gap_told: set[str] = set()
        self._state = "off"
        self._rows = 0
        self._last_run: float | None = None
        self._last_rows = 0
        self._last_ms = 0.0
        self._last_error = ""
        self._retry_at: float | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Listen for settings changes and start the export loop."""
        if self._tasks:
            return
        self._stopping = False
        self._sub = self._events.subscribe(kinds={"settings"}, live=False)
        self._tasks = [asyncio.create_task(self._listen(), name="export-settings"),
                       asyncio.create_task(self._run(), name="export")]

    async def stop(self) -> None:
        """Let the batch under way finish (briefly), then stop and close the target."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            listen, run = self._tasks
            listen.cancel()
            done, _ = await asyncio.wait({run}, timeout=STOP_GRACE_S)
            if not done:
                run.cancel()
            for task in (listen, run):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._tasks = []
        if self._sub is not None:
            self._sub.close()
            self._sub = None
        if self._sink is not None:
            with contextlib.suppress(Exception):
                await self._sink.close()
            self._sink = None
        self._state = "stopped"
        self._resolve(self._waiters)
        self._waiters = []

    async def reset(self) -> None:
        """Factory reset of the export: every target's watermark forgotten (the history
        it exported from is gone too); the settings reset switches the export off."""
        await self._store.execute("DELETE FROM meta WHERE key LIKE 'export.%'")

    @property
    def sink(self) -> Sink | None:
        """The target being exported to now (None while disabled or stopped)."""
        return self._sink

    # ------------------------------------------------------------------ faces
    def status(self, principal: Principal) -> ExportStatus:
        """The export's state, watermark and last run (``read`` needed)."""
        require(principal, Action.READ, f"config/{_TOPIC}")
        self._sync()
        s = self._settings
        sink = self._sink or make_sink(s, self._data_dir, self._store, self._trust)
        until = sink.until if self._sink is not None else None
        retry = (max(0.0, self._retry_at - time.monotonic())
                 if self._state == "retrying" and self._retry_at is not None else None)
        return ExportStatus(
            enabled=s.enabled, target=s.target, destination=sink.destination,
            state=self._state, exported_until=until, history_until=self._history.flushed_until,
            rows=self._rows, last_run=self._last_run, last_rows=self._last_rows,
            last_ms=self._last_ms, last_error=self._last_error, retry_in_s=retry)

    async def run_now(self, principal: Principal, *, flush: bool = True,
                      timeout: float = 120.0) -> ExportStatus:
        """Export now (``administer`` needed): optionally flush the history first, then
        wait for one export attempt (at most ``timeout`` s; it goes on after that)."""
        require(principal, Action.ADMINISTER, f"config/{_TOPIC}")
        self._sync()    # a script's "put ...; export now" must not wait for the event
        if not self._settings.enabled:
            raise Invalid("the history export is disabled; enable it first with "
                          "'put /config/sql_export enabled=true'",
                          thing="config/sql_export enabled", value="disabled", allowed="enabled")
        if not self._tasks:
            raise Invalid("the history export is not running in this controller",
                          thing="export", value="stopped", allowed="a running controller")
        if flush and self._history.db is not None:
            await self._history.flush()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        return self.status(principal)

    # ------------------------------------------------------------------ loop
    async def _listen(self) -> None:
        assert self._sub is not None
        while True:
            batch = await self._sub.get()
            if any(ev.kind == "settings" and ev.subject == _TOPIC for ev in batch.events):
                self._sync()

    def _sync(self) -> None:
        """Take the current ``config/sql_export``; a new value restarts the target."""
        current = self._config.get(_TOPIC)
        if current is not self._settings:     # every change stores a new model
            self._settings = current  # type: ignore[assignment]
            self._gen += 1
            self._failing = False
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._serve()
            except asyncio.CancelledError:
                raise
            except Exception:   # a bug must not end the export for good
                log.exception("history export: unexpected error; starting again in %g s",
                              self._retry_max)
                await self._sleep(self._retry_max)

    async def _serve(self) -> None:
        """Serve the current settings until they change (or the service stops)."""
        while not self._stopping:
            settings, gen = self._settings, self._gen
            if not settings.enabled:
                self._state = "off"
                self._resolve(self._waiters)
                self._waiters = []
                await self._wake.wait()
                self._wake.clear()
                continue
            sink = make_sink(settings, self._data_dir, self._store, self._trust)
            self._sink, self._open, self._state = sink, False, "starting"
            delay = self._retry_min
            try:
                while self._gen == gen and not self._stopping:
                    waiters, self._waiters = self._waiters, []
                    ok = await self._attempt(sink, gen)
                    self._resolve(waiters)
                    if ok:
                        delay = self._retry_min
                        every = int(settings.intervalSeconds)
                        wait = every - (self._clock() % every) + START_DELAY_S
                    else:
                        wait, delay = delay, min(delay * 2, self._retry_max)
                        self._retry_at = time.monotonic() + wait
                    await self._sleep(wait)
            finally:
                self._open = False
                self._sink = None
                with contextlib.suppress(Exception):
                    await sink.close()

    async def _sleep(self, seconds: float) -> None:
        await wait_event(self._wake, seconds)
        self._wake.clear()

    @staticmethod
    def _resolve(waiters: list[asyncio.Future[None]]) -> None:
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def _attempt(self, sink: Sink, gen: int) -> bool:
        """Open the target if needed and export what is there; False on failure."""
        t0 = time.perf_counter()
        try:
            if not self._open:
                await sink.open()
                self._open = True
            rows = await self._export(sink, gen)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._open = False
            with contextlib.suppress(Exception):
                await sink.close()
            await self._failed(sink, exc)
            return False
        self._last_run = self._clock()
        self._last_rows = rows
        self._last_ms = (time.perf_counter() - t0) * 1000
        self._rows += rows
        self._last_error = ""
        self._state = "ok"
        self._retry_at = None
        if self._failing:
            self._failing = False
            log.info("history export to %s works again; caught up to %s", sink.destination,
                     _iso(sink.until))
            await self._note("export.resumed",
                             f"History export to {sink.destination} works again; caught up "
                             f"to {_iso(sink.until)}", Severity.INFO)
        return True

    async def _failed(self, sink: Sink, exc: BaseException) -> None:
        reason = self._reason(exc)
        self._last_error = reason
        self._state = "retrying"
        if self._failing:
            log.debug("history export to %s still failing: %s", sink.destination, reason)
            return
        self._failing = True
        log.warning("history export to %s failed: %s; retrying with back-off, it catches up "
                    "when the target is back", sink.destination, reason)
        await self._note("export.failed",
                         f"History export to {sink.destination} failed: {reason}; it retries "
                         "and catches up when the target is back", Severity.WARNING)

    def _reason(self, exc: BaseException) -> str:
        """The failure in one line, for logs, audit and status (password masked)."""
        text = " ".join(str(exc).split()) or "no details"
        if len(text) > REASON_MAX:
            text = text[:REASON_MAX - 1] + "…"
        text = f"{text} ({type(exc).__name__})"
        secret = self._settings.dbPassword
        return text.replace(secret, "***") if secret else text

    async def _note(self, action: str, message: str, severity: Severity) -> None:
        with contextlib.suppress(Exception):
            await self._audit.record(SYSTEM, action, f"config/{_TOPIC}", message,
                                     severity=severity)

    # ------------------------------------------------------------------ export
    async def _export(self, sink: Sink, gen: int) -> int:
        """Export every flushed block after the sink's watermark; returns rows written."""
        history = self._history
        db = history.db
        if db is None or history.flushed_until is None:
            return 0
        limit = int(history.flushed_until)
        w = sink.until
        if w is None:
            first = await db.first_start(0, 0)
            w = first if first is not None else limit
        elif w > limit + FUTURE_SLACK_S:
            await self._rewind(sink, w, limit)
            w = limit
        await self._check_gap(sink, w)
        rows = 0
        meta: dict[int, ChannelMeta] = {}
        names: dict[str, str] | None = None
        turn = LoopTurn(asyncio.get_running_loop())   # the worker threads give way to the loop
        while w < limit:
            if self._gen != gen or self._stopping:
                return rows
            p = TIERS[0].period_start(w)
            nxt = await db.first_start(0, p)
            if nxt is None or nxt >= limit:
                break
            if nxt > p:
                p, w = nxt, max(w, nxt)
            hi = min(limit, p + PERIOD_S)
            chunks = [c for c in await db.range_all(0, p, p + PERIOD_S) if c[0] in db.by_id]
            new = {c[0] for c in chunks} - meta.keys()
            if new:
                if names is None:
                    names = {h: d.info.display_name for h, d in self._live.devices.items()}
                meta.update(await asyncio.to_thread(describe, new, db.by_id, names))
            period = await asyncio.to_thread(decode_period, chunks, w, hi, turn)
            if period.damaged:
                log.error("history export: %d damaged history chunks of %s skipped",
                          period.damaged, iso_time(p))
            for times, until in plan_batches(period, hi, self.batch_rows):
                if self._gen != gen or self._stopping:
                    return rows
                batch = await asyncio.to_thread(encode_rows, times, period, meta, sink.format,
                                                until, turn)
                rows += batch.rows
                await sink.write(batch)
                w = until
            w = max(w, hi)
        if sink.until is None or sink.until < limit:
            await sink.write(RowBatch(until=limit))   # the rest of the range had no blocks
        return rows

    async def _rewind(self, sink: Sink, w: int, limit: int) -> None:
        log.warning("history export to %s: watermark %s is far ahead of the history (%s): "
                    "the clock was set back; exporting from %s", sink.destination, iso_time(w),
                    iso_time(limit), iso_time(limit))
        await self._note("export.rewind",
                         f"History export to {sink.destination}: watermark {iso_time(w)} was "
                         f"far in the future (clock set back); exporting from {iso_time(limit)}",
                         Severity.WARNING)
        await sink.rewind(limit)

    async def _check_gap(self, sink: Sink, w: int) -> None:
        """Report (once per target) history purged before it could be exported."""
        db = self._history.db
        assert db is not None
        keep = retention_s(self._config.get("core"), TIERS[0])
        first = await db.first_start(0, 0)
        if first is None or w >= first or w >= self._clock() - keep - PERIOD_S:
            return
        if sink.destination in self._gap_told:
            return
        self._gap_told.add(sink.destination)
        text = (f"History export to {sink.destination}: history between {iso_time(w)} and "
                f"{iso_time(first)} is no longer in the 5-second tier (kept for config/core "
                "historyKeep5sHours, or the controller was off); the export goes on from "
                f"{iso_time(first)}")
        log.warning("%s", text)
        await self._note("export.gap", text, Severity.WARNING)
