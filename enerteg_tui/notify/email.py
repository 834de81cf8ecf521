"""E-mail notifications (manual §5.7): batched by a delay timer, queued on disk, aiosmtplib.

Owns two things on disk in ``<data-dir>/mail/``: ``batch.json`` (notifications waiting
for the delay timer) and ``outbox/`` (composed mails, one JSON file each, written
atomically). A notification at or above ``minSeverity`` joins the batch; the first one
starts the delay timer (``delayTimer``, 1 min – 1 h), whose expiry turns the batch
into one mail. A notification at or above ``immediateMinSeverity`` turns the batch into
a mail at once. The sender delivers the outbox oldest first and deletes a file only
after the server accepted it, so a mail is never lost when the server is down (it is
retried with back-off) and not sent twice once accepted. A refused login is written
to the audit log once per outage, naming the server and user, never the password.
``send_test`` sends a test mail straight away and reports the server's answer.
Documented in docs/notify.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import aiosmtplib

from ..core.alarms import AUDIT_SEVERITY, AlarmChange
from ..core.audit import AuditEntry, AuditLog, Severity
from ..core.configuration import Configuration
from ..core.errors import Invalid
from ..core.events import EventBus
from ..core.alarm_texts import shown as alarm_text
from ..core.i18n import N_, _, system_language, use
from ..core.permissions import SYSTEM, Action, Principal, require
from ..core.settings import EmailSettings
from ..core.timesync import local_text
from ..core.vocabulary import severity_word
from ..core.waiting import cancel_and_wait, wait_event

__all__ = ["EmailNotifier"]

log = logging.getLogger(__name__)

RETRY_MIN_S, RETRY_MAX_S = 5.0, 300.0
"""Back-off between delivery attempts while the server fails."""
NOTIFIED_CHANGES = ("raised", "escalated", "cleared")
"""Alarm changes that are e-mailed."""
SMTP_TIMEOUT_S = 20.0
"""Time allowed for one SMTP conversation."""


def _write_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class EmailNotifier:
    """Sends notifications by e-mail through the server of ``config/email``.

    Args:
        config: settings (``email``, read afresh for every mail).
        events: subscribed for ``alarm`` and ``audit`` events.
        audit: delivery failures that need a person (refused login) are audited.
        spool: directory for the batch and the outbox (created).
        delay: seconds of the delay timer; None = ``delayTimer`` from the settings
            (tests shorten it; the schema allows 1 min – 1 h).
        retry: first back-off after a failed delivery (doubles up to 5 min).
        tls_context: SSL context for STARTTLS/TLS (tests); None = ``trust``.
        trust: builds the context otherwise: the certificate store's for usage SMTP
            (system CAs plus the store's, ``CertStore.ssl_context``); None = the
            system's trust store.
    """

    name = "email"

    def __init__(self, config: Configuration, events: EventBus, audit: AuditLog, spool: Path,
                 *, delay: float | None = None, retry: float = RETRY_MIN_S,
                 tls_context: ssl.SSLContext | None = None,
                 trust: Callable[[], ssl.SSLContext] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._events = events
        self._audit = audit
        config.appliers.register("email", "email")
        config.appliers.register("hostname", "email")   # named in every mail (_host_line)
        self._spool = spool
        self._outbox = spool / "outbox"
        self._outbox.mkdir(parents=True, exist_ok=True)
        self._batch_path = spool / "batch.json"
        self._delay = delay
        self._retry = retry
        self._tls = tls_context
        self._trust = trust
        self._clock = clock
        self._batch: list[dict[str, Any]] = []
        self._batch_since: float | None = None
        self._wake_send = asyncio.Event()
        self._wake_batch = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.sent = 0
        self.last_error = ""
        self._auth_reported = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Reload the batch, then listen, batch and send."""
        if self._batch_path.exists():
            try:
                self._batch = json.loads(self._batch_path.read_text())
                self._batch_since = self._clock() if self._batch else None
            except ValueError:
                log.error("e-mail: %s unreadable; moved aside", self._batch_path)
                os.replace(self._batch_path, self._batch_path.with_suffix(".corrupt"))
        if not self._tasks:
            self._sub = self._events.subscribe(kinds={"alarm", "audit", "settings"})
            self._tasks = [asyncio.create_task(self._listen(), name="email-listen"),
                           asyncio.create_task(self._timer(), name="email-timer"),
                           asyncio.create_task(self._send_loop(), name="email-send")]
            self._wake_send.set()

    async def stop(self) -> None:
        """Stop; the batch and the outbox stay on disk for the next start."""
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        if hasattr(self, "_sub"):
            self._sub.close()

    def describe(self) -> str:
        """One word for the ready line."""
        s = self._settings()
        return f"email={s.serverAddress}:{s.serverPort}" if s.enabled else "email=off"

    def _hostname(self) -> str:
        """The controller's host name (``config/hostname``)."""
        return str(self._config.get("hostname").hostname)

    def _when(self, note: dict[str, Any]) -> str:
        """A notification's time in the zone of ``config/time`` (a person reads it)."""
        if "at" not in note:                    # queued by an older version: UTC text
            return f"{note['ts']} UTC"
        return local_text(self._config, float(note["at"]))

    def _host_line(self) -> str:
        """The line naming the controller a mail comes from."""
        return _("Controller: {host}").format(host=self._hostname())

    def _language(self) -> str:
        """A mail's language: the system default (``config/core`` language), since its
        readers are the recipients, not a session's user (docs/language.md)."""
        return system_language(self._config)

    def _settings(self) -> EmailSettings:
        return self._config.get("email")  # type: ignore[return-value]

    def outbox(self) -> list[Path]:
        """Composed mails not yet accepted by the server, oldest first."""
        return sorted(self._outbox.glob("*.json"))

    # ------------------------------------------------------------------ input
    async def _listen(self) -> None:
        while True:
            batch = await self._sub.get()
            for ev in batch.events:
                if ev.kind == "alarm" and isinstance(ev.data, AlarmChange):
                    ch = ev.data
                    if ch.change in NOTIFIED_CHANGES:
                        a = ch.alarm
                        prefix = N_("Cleared:") if ch.change == "cleared" else (
                            N_("Escalated:") if ch.change == "escalated" else "")
                        self.notify(AUDIT_SEVERITY[a.severity], a.text, a.start
                                    if ch.change == "raised" else (a.end or a.updated),
                                    prefix=prefix)
                elif ev.kind == "audit" and isinstance(ev.data, AuditEntry):
                    e = ev.data
                    if not e.action.startswith(("alarm.", "email.")):
                        self.notify(e.severity, e.message, e.ts)
                elif ev.kind == "settings" and ev.subject == "email":
                    self._auth_reported = False
                    self._wake_send.set()

    def notify(self, severity: Severity, text: str, ts: float | None = None,
               prefix: str = "") -> None:
        """Add one notification; below ``minSeverity`` (or while disabled) it is ignored.
        ``prefix`` (English, "Cleared:") is put before the text in the mail's language."""
        s = self._settings()
        if not s.enabled or severity.rank < Severity(s.minSeverity).rank:
            return
        at = ts or self._clock()
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))
        note = {"ts": when, "at": at, "severity": severity.value, "text": text}
        self._batch.append({**note, "prefix": prefix} if prefix else note)
        _write_atomic(self._batch_path, self._batch)
        if self._batch_since is None:
            self._batch_since = self._clock()
        if severity.rank >= Severity(s.immediateMinSeverity).rank:
            self._compose()
        self._wake_batch.set()

    async def _timer(self) -> None:
        while True:
            if self._batch_since is None:
                self._wake_batch.clear()
                await self._wake_batch.wait()
                continue
            delay = self._delay if self._delay is not None else float(self._settings().delayTimer)
            left = self._batch_since + delay - self._clock()
            if left <= 0:
                self._compose()
                continue
            self._wake_batch.clear()
            await wait_event(self._wake_batch, left)

    def _compose(self) -> None:
        """Turn the batch into one mail in the outbox (written before the batch is emptied)."""
        if not self._batch:
            self._batch_since = None
            return
        s = self._settings()
        with use(self._language()):             # the words of core.vocabulary, as on screen
            lines = [f"{self._when(n)}  {_(severity_word(n['severity'])):<8}  "
                     + (_(n["prefix"]) + " " if n.get("prefix") else "") + alarm_text(n["text"])
                     for n in self._batch]
            body = (f"{s.textStart}\n\n{self._host_line()}\n\n" + "\n".join(lines)
                    + f"\n\n{s.textEnd}\n")
        mail = {"id": make_msgid(domain=self._hostname()), "subject": s.subject, "body": body,
                "count": len(self._batch), "created": self._clock()}
        name = f"{int(self._clock() * 1000):015d}-{uuid.uuid4().hex[:8]}.json"
        _write_atomic(self._outbox / name, mail)
        self._batch = []
        self._batch_since = None
        _write_atomic(self._batch_path, self._batch)
        self._wake_send.set()

    # ------------------------------------------------------------------ output
    def _message(self, s: EmailSettings, mail: dict[str, Any]) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = mail["subject"]
        msg["From"] = s.sender
        msg["To"] = ", ".join(r.strip() for r in s.recipients.split(",") if r.strip())
        msg["Date"] = formatdate(mail["created"], usegmt=True)
        msg["Message-ID"] = mail["id"]
        msg.set_content(mail["body"])
        return msg

    async def _deliver(self, s: EmailSettings, msg: EmailMessage) -> None:
        kwargs: dict[str, Any] = {"hostname": s.serverAddress, "port": s.serverPort,
                                  "timeout": SMTP_TIMEOUT_S}
        if s.tls == "tls":
            kwargs["use_tls"] = True
        elif s.tls == "starttls":
            kwargs["start_tls"] = True
        else:
            kwargs["start_tls"] = False
        ctx = self._tls if self._tls is not None else (
            self._trust() if self._trust is not None else None)
        if s.tls != "none" and ctx is not None:
            kwargs["tls_context"] = ctx
        if s.username:
            kwargs["username"], kwargs["password"] = s.username, s.password
        await aiosmtplib.send(msg, **kwargs)

    async def _send_loop(self) -> None:
        backoff = self._retry
        while True:
            files = self.outbox()
            s = self._settings()
            if not files or not s.enabled:
                self._wake_send.clear()
                await self._wake_send.wait()
                continue
            path = files[0]
            try:
                mail = json.loads(path.read_text())
            except ValueError:
                log.error("e-mail: %s unreadable; moved aside", path.name)
                os.replace(path, path.with_suffix(".corrupt"))
                continue
            try:
                await self._deliver(s, self._message(s, mail))
            except asyncio.CancelledError:
                raise
            except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
                await self._failed(s, exc)
                self._wake_send.clear()
                await wait_event(self._wake_send, backoff)
                backoff = min(RETRY_MAX_S, backoff * 2)
                continue
            path.unlink()
            self.sent += 1
            backoff = self._retry
            if self.last_error:
                log.info("e-mail: delivered again through %s", s.serverAddress)
                self.last_error = ""
                self._auth_reported = False

    async def _failed(self, s: EmailSettings, exc: BaseException) -> None:
        first = not self.last_error
        self.last_error = _describe(exc)
        if first:
            log.warning("e-mail: cannot deliver through %s:%d: %s (%d mail(s) queued)",
                        s.serverAddress, s.serverPort, self.last_error, len(self.outbox()))
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError) and not self._auth_reported:
            self._auth_reported = True
            await self._audit.record(
                SYSTEM, "email.auth", "config/email",
                f"E-mail: server {s.serverAddress}:{s.serverPort} refused the login of user "
                f"{s.username!r}: {self.last_error}. Mails stay queued ({len(self.outbox())}); "
                "check username and password in config/email", severity=Severity.ERROR)

    # ------------------------------------------------------------------ test mail
    async def send_test(self, principal: Principal) -> str:
        """Send a test e-mail now with the current settings; returns what happened.

        Raises:
            PermissionDenied: not an administrator.
            Invalid: e-mail is disabled, or the server refused; the message says why.
        """
        require(principal, Action.ADMINISTER, "config/email")
        s = self._settings()
        if not s.enabled:
            raise Invalid("config/email: enabled = 'disabled' does not allow a test e-mail; "
                          "allowed is enabled (put config/email enabled=enabled first)",
                          thing="enabled", value="disabled", allowed="enabled")
        with use(self._language()):
            mail = {"id": make_msgid(domain=self._hostname()),
                    "subject": s.subject + " (" + _("test") + ")",
                    "body": (f"{s.textStart}\n\n{self._host_line()}\n\n"
                             + _("Test e-mail sent by {user}.").format(user=principal.user)
                             + f"\n\n{s.textEnd}\n"),
                    "created": self._clock()}
        try:
            await self._deliver(s, self._message(s, mail))
        except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
            why = _describe(exc)
            await self._audit.record(principal, "email.test", "config/email",
                                     f"Test e-mail through {s.serverAddress} failed: {why}",
                                     severity=Severity.WARNING)
            raise Invalid(f"config/email: test e-mail through {s.serverAddress}:{s.serverPort} "
                          f"failed: {why}", thing="serverAddress", value=s.serverAddress,
                          allowed="a server that accepts the login and the sender") from None
        to = s.recipients
        await self._audit.record(principal, "email.test", "config/email",
                                 f"Test e-mail sent to {to}", severity=Severity.INFO)
        return _("Test e-mail sent to {recipients}").format(recipients=to)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"{exc.code} {exc.message}".strip()
    return str(exc) or type(exc).__name__
