"""Shell PDU firmware commands (manual §7.4, issue 23 item 6): ``firmware status``,
``firmware update FILE (all | HEX...) [--force]``, ``firmware cancel``.

FILE is an image put in ``/upload`` with SFTP (``NAME`` or ``/upload/NAME``) or the word
``shipped`` (the image shipped with the controller). Every rule (admin only, one plan
at a time, PDUs in alarm refused unless ``--force``) is the core ``FirmwareService``'s;
this module parses words and prints. ``update`` returns once the plan has started;
``status`` shows each PDU's progress.
"""

from __future__ import annotations

from typing import Any

from ...core.i18n import _
from ...core.timesync import local_text
from .parse import UsageError, usage_error

__all__ = ["cmd_firmware", "USAGE", "status_text"]

USAGE = "Usage: firmware status | firmware update FILE (all | HEX...) [--force] | firmware cancel"


def status_text(core: Any) -> str:
    """The plan and each PDU's progress, as ``firmware status`` prints it."""
    fw = core.firmware
    auto = _("enabled") if core.config.get("sppdu5").firmwareAutoUpdate else _("disabled")
    versions: dict[str, int] = {}
    for d in core.live.devices.values():
        v = d.info.identification.firmware_version
        versions[v] = versions.get(v, 0) + 1
    running = ", ".join(_("{count} run {version}").format(count=n, version=v)
                        for v, n in sorted(versions.items())) or _("none known")
    lines = [_("Shipped image   {version} (auto-update {auto}, config/sppdu5 "
               "firmwareAutoUpdate)").format(version=fw.shipped.version, auto=auto),
             _("PDUs            {running}").format(running=running)]
    images = fw.upload_images()
    lines.append(_("In /upload      {images}").format(
        images=", ".join(images) if images else _("no .etgfw image")))
    job = fw.status()
    if job is None:
        lines.append(_("No firmware update has run on this controller."))
        return "\n".join(lines)
    how = _("auto-update") if job.auto else _("by {user}").format(user=job.user)
    started = (_("started {when} {how}, forced") if job.forced else _("started {when} {how}")).format(
        when=local_text(core.config, job.started), how=how)
    lines.append(_("Update to {version} from {source}: {state} ({started})").format(
        version=job.version, source=job.source, state=job.state, started=started))
    name_h, pos_h, from_h = _("Name"), _("Pos"), _("From")
    lines.append(f"  {'#':>2}  {'PDU':<7} {name_h:<22} {pos_h:>3}  {from_h:<8} " + _("State"))
    for s in job.steps:
        name = s.name if len(s.name) <= 22 else s.name[:21] + "…"
        lines.append(f"  {s.seq + 1:>2}  {s.hex_id:<7} {name:<22} {s.position:>3}  "
                     f"{s.from_version:<8} {s.text}")
    return "\n".join(lines)


async def cmd_firmware(sh: Any, args: list[str]) -> None:
    core = sh.core
    if args == ["status"] or not args:
        fw = core.firmware
        job = fw.status()
        sh.emit({"shipped": fw.shipped.version,
                 "autoUpdate": bool(core.config.get("sppdu5").firmwareAutoUpdate),
                 "images": fw.upload_images(),
                 "pdus": {h: d.info.identification.firmware_version
                          for h, d in core.live.devices.items()},
                 "update": job.as_dict() if job is not None else None}, status_text(core))
        return
    if args == ["cancel"]:
        job = await core.firmware.cancel(sh.principal)
        sh.msg(_("Firmware update to {version} cancelled; {done} of {count} PDU(s) had "
                 "been updated.").format(version=job.version, count=len(job.steps),
                                         done=sum(s.state.value == "verified" for s in job.steps)))
        return
    if args[0] == "update":
        words = args[1:]
        force = "--force" in words
        words = [w for w in words if w != "--force"]
        bad = [w for w in words if w.startswith("-")]
        if bad or len(words) < 2:
            raise UsageError(USAGE)
        given, targets = words[0], words[1:]
        if targets == ["all"]:
            chosen = None
        elif "all" in targets:
            raise usage_error("firmware update: give 'all' alone or hex ids of PDUs")
        else:
            chosen = [t.lower() for t in targets]
        job = await core.firmware.update(sh.principal, given, chosen, force=force)
        sh.emit(job.as_dict(),
                _("Firmware update to {version} started for {count} PDU(s), in this order: "
                  "{order}. 'firmware status' shows the progress.").format(
                    version=job.version, count=len(job.steps),
                    order=", ".join(s.hex_id for s in job.steps)))
        return
    raise UsageError(USAGE)
