"""Software update of the controller (manual §3.3, §5.1.1, issue 23 item 5).

Why a service of its own: every face (the shell's ``update``, the console's System
commands, the REST API) checks, applies and follows an update through the same calls, so
the rules (administrators only; signature, hashes and version checked before anything is
written; one update at a time) and the audit (``software.update.*``) are one.

The steps of ``apply``: *verifying* (``update_package.verify_package``), *installing*
(the package is read and checked once more and exactly the checked wheel is installed
with ``pip install --no-deps --no-index --target <data-dir>/versions/<version>``: beside
the running version, on the libraries the host already has, which the check compared
with the wheel's requirements; no network, 1-1.5 s for this build, and a version is one
folder to remove), then ``current`` points at it with a boot attempt (``core.versions``), then
*restarting* through ``SystemService.request`` (every session warned; the process owner
re-executes and its launcher starts the selected version on trial). The new process,
once ready, checks its own faces (``confirm_boot``) and is *healthy*, or *rolled back*
to the previous version at once (failed check) or at the next start (it never got that
far). Nothing is installed or selected when a step before the restart fails.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .audit import AuditLog, Severity
from .errors import Invalid, Unsupported
from .i18n import _
from .layout import DataLayout
from .permissions import SYSTEM, Action, Principal, require
from .update_package import (PACKAGE_SUFFIX, PackageInfo, open_package, trusted_keys,
                             verify_package)
from .versions import BOOT_DEADLINE_S, ENV_VERSION, VersionStore

__all__ = ["SoftwareUpdate", "HealthTarget", "status_text"]

log = logging.getLogger(__name__)

HealthTarget = tuple[str, int, bytes]
"""A face to check: (host, port, what its first bytes start with; b"" = connect only)."""
PIP_TIMEOUT_S = 300.0
HEALTH_TIMEOUT_S = 10.0


class SoftwareUpdate:
    """Check and apply update packages; confirm or roll back a new version's first start.

    Args:
        audit: every check, apply and outcome is audited.
        system: the restart into the new version goes through its ``request``.
        paths: ``upload`` (where packages are put) and ``versions``.
        extra_keys: public key files trusted beside the shipped ones (given at start:
            ``ControllerOptions.update_keys``; never taken from an upload).
        boot_deadline_s: how long a new version has to become healthy.
        clock: wall clock.
    """

    def __init__(self, audit: AuditLog, system: Any, paths: DataLayout, *,
                 extra_keys: Iterable[Path] = (), boot_deadline_s: float = BOOT_DEADLINE_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._audit = audit
        self._system = system
        self._paths = paths
        self._extra_keys = tuple(Path(p) for p in extra_keys)
        root = paths.root.resolve()
        for key in self._extra_keys:
            if key.resolve().is_relative_to(root):
                raise Invalid(f"update key {str(key)!r} is inside the data directory "
                              f"{str(root)!r}, where uploads land; a trusted key must come "
                              "from outside it", thing="--update-key", value=str(key),
                              allowed="a public key file outside the data directory")
        self._keys = trusted_keys(self._extra_keys)
        self.boot_deadline_s = boot_deadline_s
        self._clock = clock
        self.versions = VersionStore(paths.versions)
        self.running_from: str | None = os.environ.get(ENV_VERSION)
        """The installed version this process runs, or None for the base installation."""
        self._busy = asyncio.Lock()
        self.progress: dict[str, Any] = {"state": "idle", "message": "", "file": None,
                                         "version": None, "at": None}
        """What the last or current update of this process does (``status`` shows it)."""

    # ------------------------------------------------------------ status
    @property
    def running_version(self) -> str:
        from .. import __version__
        return __version__

    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def packages(self) -> list[str]:
        """Update packages in /upload, by name."""
        folder = self._paths.upload
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir()
                      if p.name.endswith(PACKAGE_SUFFIX) and p.is_file())

    def status(self, principal: Principal) -> dict[str, Any]:
        """Running version, selected and previous versions, the update under way or the
        last one's outcome, packages waiting in /upload, trusted keys (administrators)."""
        require(principal, Action.ADMINISTER, "software/update")
        result = self.versions.result()
        return {
            "running": self.running_version,
            "runningFrom": f"versions/{self.running_from}" if self.running_from else "base",
            "selected": self.versions.current() or "base",
            "previous": self.versions.previous() or "base",
            "installed": self.versions.installed(),
            "progress": dict(self.progress),
            "boot": self.versions.boot(),
            "lastResult": {k: v for k, v in result.items() if k != "audited"} if result else None,
            "packages": self.packages(),
            "trustedKeys": self.key_ids(),
            "bootDeadlineSeconds": self.boot_deadline_s,
        }

    def _set(self, state: str, message: str = "", **extra: Any) -> None:
        self.progress.update(state=state, message=message, at=self._clock(), **extra)
        log.info("software update: %s %s", state, message)

    # ------------------------------------------------------------ checks
    def resolve(self, name: str) -> Path:
        """The package file ``name`` in /upload (``x.etgpkg``, ``/upload/x.etgpkg``)."""
        text = str(name).strip()
        for prefix in ("/upload/", "upload/"):
            if text.startswith(prefix):
                text = text[len(prefix):]
        if not text or "/" in text or text in (".", ".."):
            raise Invalid(f"update package {name!r}: give a file in /upload", thing="file",
                          value=name, allowed="the name of a file in /upload, e.g. "
                          "enerteg-0.2.0.etgpkg")
        return self._paths.upload / text

    async def check(self, principal: Principal, name: str, *, force: bool = False,
                    audit: bool = True) -> PackageInfo:
        """Verify a package in /upload without installing anything; a refusal is always
        audited, a success when ``audit`` (a face's check before asking to apply is not).

        Raises:
            PermissionDenied: needs ``administer``.
            Invalid: naming the file, what is wrong, the value and what is allowed.
        """
        require(principal, Action.ADMINISTER, "software/update")
        path = self.resolve(name)
        try:
            info = await asyncio.to_thread(verify_package, path, self._keys,
                                           running=self.running_version, force=force)
        except Invalid as exc:
            await self._audit.record(principal, "software.update.refused", path.name,
                                     exc.message, severity=Severity.WARNING)
            raise
        if audit:
            await self._audit.record(principal, "software.update.checked", path.name,
                                     f"Update package {path.name} verified: version "
                                     f"{info.version} signed by key {info.key_id}")
        return info

    # ------------------------------------------------------------ apply
    async def apply(self, principal: Principal, name: str, *, force: bool = False) -> str:
        """Verify, install beside the running version, select it and restart into it.

        Returns:
            The restart warning every session was sent.

        Raises:
            PermissionDenied, Invalid: as ``check`` (nothing installed).
            Unsupported: an update or a restart is already under way; the install failed.
        """
        require(principal, Action.ADMINISTER, "software/update")
        self._system.check(principal, "restart")
        if self._busy.locked():
            raise Unsupported("a software update is already under way", thing="update",
                              value=self.progress.get("file"), allowed="one update at a time")
        async with self._busy:
            path = self.resolve(name)
            self._set("verifying", f"checking {path.name}", file=path.name, version=None)
            try:
                info = await self.check(principal, name, force=force)
            except Exception as exc:
                self._set("failed", str(exc))
                raise
            self._set("installing", f"installing version {info.version}",
                      version=info.version)
            await self._audit.record(principal, "software.update.install", path.name,
                                     f"Installing version {info.version} from {path.name} "
                                     f"(running {self.running_version})")
            try:
                folder = await self._install(path)
            except Exception as exc:
                message = str(exc) if isinstance(exc, (Invalid, Unsupported)) else (
                    f"installing {path.name} failed: {exc}")
                self._set("failed", message)
                await self._audit.record(principal, "software.update.failed", path.name,
                                         message + "; nothing selected, the running "
                                         "version stays", severity=Severity.ERROR)
                if isinstance(exc, (Invalid, Unsupported)):
                    raise
                raise Unsupported(message, thing="install", value=path.name,
                                  allowed="a package that installs") from exc
            self.versions.select(info.version, previous=self.running_from,
                                 deadline_s=self.boot_deadline_s, by=principal.user)
            self._set("restarting", f"restarting into version {info.version}")
            await self._audit.record(principal, "software.update.restart", info.version,
                                     f"Version {info.version} installed in {folder}; "
                                     f"restarting into it (rolled back to "
                                     f"{self.running_from or 'base'} unless healthy within "
                                     f"{self.boot_deadline_s:g} s)", severity=Severity.WARNING)
            return await self._system.request(
                principal, "restart",
                reason=f"software update to {info.version} by {principal.user}")

    async def _install(self, path: Path) -> Path:
        root = self.versions.root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        wheel, info = await asyncio.to_thread(open_package, path, self._keys)
        staging = root / f".staging-{info.version}"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "wheel").mkdir(parents=True)
        wheel_path = staging / "wheel" / info.wheel
        wheel_path.write_bytes(wheel)              # exactly the bytes just checked
        target = staging / "tree"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
            "--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location",
            "--target", str(target), str(wheel_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _err = await asyncio.wait_for(proc.communicate(), PIP_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            shutil.rmtree(staging, ignore_errors=True)
            raise Unsupported(f"pip did not finish installing {info.wheel} within "
                              f"{PIP_TIMEOUT_S:g} s", thing="install", value=info.wheel,
                              allowed="an install that finishes") from None
        if proc.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            tail = out.decode(errors="replace").strip().splitlines()[-3:]
            raise Unsupported(f"pip could not install {info.wheel} (exit {proc.returncode}): "
                              + " | ".join(tail), thing="install", value=info.wheel,
                              allowed="a wheel pip installs")
        folder = self.versions.folder(info.version)
        old = root / f".old-{info.version}"
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(target, folder)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        return folder

    # ------------------------------------------------------------ the new version's start
    async def start(self) -> None:
        """Audit how the last update ended, once (the launcher rolled back without a
        database; the new version confirmed itself)."""
        result = self.versions.result()
        if result is None or result.get("audited"):
            return
        if result.get("result") == "rolled back":
            self._set("rolled back", f"version {result.get('version')} was rolled back: "
                      f"{result.get('reason')}", version=result.get("version"))
            await self._audit.record(
                SYSTEM, "software.update.rolledback", str(result.get("version")),
                f"Version {result.get('version')} rolled back to "
                f"{result.get('previous') or 'base'}: {result.get('reason')}",
                severity=Severity.ERROR)
        self.versions.set_audited()

    def on_trial(self) -> bool:
        """This process runs a version on its boot attempt (not yet confirmed)."""
        boot = self.versions.boot()
        return (self.running_from is not None and boot is not None
                and boot.get("version") == self.running_from)

    async def confirm_boot(self, targets: Mapping[str, HealthTarget]) -> bool | None:
        """Called by the process owner once ready: check each face in ``targets`` answers,
        then confirm this version (healthy) or mark it failed and restart, which rolls
        back. None when this process is not on trial."""
        if not self.on_trial():
            return None
        version = self.running_from
        self.versions.mark("ready", readyAt=time.time())
        self._set("checking", f"version {version} is ready; checking its faces",
                  version=version)
        problems = [p for p in await asyncio.gather(
            *(_probe(name, *t) for name, t in targets.items())) if p]
        if not problems:
            faces = ", ".join(targets) or "no network face"
            result = self.versions.confirm(version, f"ready; faces answer: {faces}")
            self.versions.set_audited()
            self._set("healthy", f"version {version} is healthy ({faces} answer)")
            await self._audit.record(
                SYSTEM, "software.update.healthy", str(version),
                f"Version {version} is ready and healthy (faces answering: {faces}); "
                f"previous version {(result or {}).get('previous') or 'base'} kept for a "
                "rollback", severity=Severity.WARNING)
            return True
        reason = "its health check failed: " + "; ".join(problems)
        self.versions.mark("failed", reason)
        self._set("failed", f"version {version}: {reason}; rolling back")
        await self._audit.record(SYSTEM, "software.update.failed", str(version),
                                 f"Version {version}: {reason}; restarting into the "
                                 "previous version", severity=Severity.ERROR)
        await self._system.request(SYSTEM, "restart",
                                   reason=f"rollback of version {version}")
        return False


async def _probe(name: str, host: str, port: int, banner: bytes) -> str:
    """'' when ``host:port`` accepts a connection (and starts with ``banner``)."""
    host = "127.0.0.1" if host in ("", "0.0.0.0", "*") else ("::1" if host == "::" else host)
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                HEALTH_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        return f"{name} on {host}:{port} does not accept connections ({exc})"
    try:
        if banner:
            got = await asyncio.wait_for(reader.read(len(banner)), HEALTH_TIMEOUT_S)
            if not got.startswith(banner):
                return f"{name} on {host}:{port} answered {got!r}, expected {banner!r}"
        return ""
    except (OSError, TimeoutError) as exc:
        return f"{name} on {host}:{port} did not answer ({exc})"
    finally:
        writer.close()


def status_text(st: dict[str, Any], clock_text: Callable[[float], str] | None = None) -> str:
    """``status`` as people read it (the shell's ``update status``, the console's), in
    the reader's language; ``clock_text`` writes a time in the zone of ``config/time``
    (default: UTC). States and reasons are the service's own words."""
    def _when(ts: Any) -> str:
        if not isinstance(ts, (int, float)):
            return ""
        stamp = (clock_text(ts) if clock_text is not None
                 else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts)))
        return " " + _("at {time}").format(time=stamp)

    def line(label: str, value: str) -> str:
        return label.ljust(18) + " " + value

    def reason(doc: dict[str, Any]) -> str:
        return f": {doc['reason']}" if doc.get("reason") else ""

    none = _("none")
    lines = [line(_("Running version"), f"{st['running']} ({st['runningFrom']})"),
             line(_("Selected to start"), _("{version}  (previous: {previous})").format(
                 version=st["selected"], previous=st["previous"]))]
    progress = st.get("progress") or {}
    if progress.get("state") not in (None, "idle"):
        lines.append(line(_("This update"), f"{progress['state']}: {progress.get('message', '')}"
                          f"{_when(progress.get('at'))}"))
    boot = st.get("boot")
    if boot:
        lines.append(line(_("Boot attempt"), _("version {version} {state}").format(
            version=boot.get("version"), state=boot.get("state")) + reason(boot)))
    last = st.get("lastResult")
    if last:
        lines.append(line(_("Last update"), _("version {version} {state}").format(
            version=last.get("version"), state=last.get("result"))
            + _when(last.get("at")) + reason(last)))
    lines.append(line(_("Installed"), ", ".join(st["installed"]) or _("none (base only)")))
    lines.append(line(_("Packages in /upload"), ", ".join(st["packages"]) or none))
    lines.append(line(_("Trusted keys"), ", ".join(st["trustedKeys"]) or none))
    return "\n".join(lines)
