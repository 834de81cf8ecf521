"""The ``enerteg`` command: ``serve`` runs the controller, ``user`` manages accounts
offline, ``console`` opens the full-screen console in this terminal.

Errors a user can fix (an unusable data directory, a port in use) end in one line on
stderr naming the thing and exit code 2; SIGTERM and SIGINT shut down cleanly within
five seconds with exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .core.errors import EnertegError
from .core.waiting import wait_event

__all__ = ["main", "build_parser"]

SHUTDOWN_LIMIT_S = 30.0
"""A clean stop (closing sessions, the final history flush of every PDU: ~4 s for 100
full PDUs on an idle machine) must finish within this many seconds; past it the
process exits at once rather than hang on a database thread."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.05 <= value <= 60:
        raise argparse.ArgumentTypeError(f"{text} is out of range; allowed is 0.05 to 60 seconds")
    return value


def _pdu_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{value} PDUs is out of range; allowed is 1 to 1000")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is out of range; allowed is 0 to 65535")
    return value


def _boot_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 5 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text} is out of range; allowed is 5 to 3600 seconds")
    return value


BAUD_RATES = (9600, 19200, 38400, 57600, 115200)


def _baud(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value not in BAUD_RATES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a supported speed; allowed is {', '.join(map(str, BAUD_RATES))}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``enerteg``."""
    parser = argparse.ArgumentParser(prog="enerteg", description="EnerTEG PDU ring controller")
    parser.add_argument("--version", action="version", version=f"enerteg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the controller (core, driver and services)")
    serve.add_argument("--data-dir", type=Path, default=Path("./enerteg-data"),
                       help="directory for the database and state (default ./enerteg-data)")
    serve.add_argument("--simulate", type=_pdu_count, metavar="N",
                       help="number of simulated PDUs (default: config/devices, 8)")
    serve.add_argument("--interval", type=_positive_float, metavar="SECONDS",
                       help="sweep interval (default: config/core pollIntervalSeconds, 5)")
    serve.add_argument("--seed", type=int, default=0, help="seed of the simulated ring")
    serve.add_argument("--bind", metavar="ADDRESS",
                       help="address the network services listen on (default: their settings, "
                            "all interfaces)")
    serve.add_argument("--ssh-port", type=_port, metavar="PORT",
                       help="SSH port (default: config/cli, 22 as root else 2022; 0 = any free)")
    serve.add_argument("--no-ssh", action="store_true", help="do not run the SSH server")
    serve.add_argument("--serial", metavar="DEVICE",
                       help="offer a login console on this serial device (default: config/cli)")
    serve.add_argument("--baud", type=_baud, metavar="BAUD",
                       help="serial console speed (default: config/cli, 115200)")
    serve.add_argument("--bus-latency-ms", type=float, metavar="MS",
                       help="simulated per-query bus latency (default: config/devices)")
    serve.add_argument("--equipment", choices=("mixed", "full"), default="mixed",
                       help="simulated PDU models: mixed, or full (largest model everywhere)")
    serve.add_argument("--log-level", default="INFO",
                       choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    serve.add_argument("--manage-host", action="store_true",
                       help="this controller owns its host (an appliance): allow poweroff "
                            "and reboot (systemctl poweroff/reboot) and 'date set', and "
                            "announce it over mDNS (config/hostname mdns=auto); off by "
                            "default (docs/appliance.md)")
    serve.add_argument("--resolv-conf", type=Path, metavar="PATH",
                       help="with --manage-host: the file config/network's DNS servers are "
                            "written to (default /etc/resolv.conf)")
    serve.add_argument("--update-key", type=Path, action="append", default=[],
                       metavar="PUBKEY",
                       help="also trust this Ed25519 public key (PEM) for software update "
                            "packages, beside the keys shipped in enerteg_tui/update_keys "
                            "(tests, private builds; never a file under the data directory)")
    serve.add_argument("--update-boot-seconds", type=_boot_seconds, metavar="SECONDS",
                       help="how long a version started by a software update has to be "
                            "ready and healthy before it is rolled back (default 180)")
    serve.add_argument("--chrony-sources", type=Path, metavar="PATH",
                       help="with --manage-host: chrony's sources file for config/time's "
                            "NTP servers (default /etc/chrony/sources.d/enerteg.sources)")
    serve.add_argument("--chronyc-socket", type=Path, metavar="PATH",
                       help="chronyd's command socket for 'chronyc -h' (default: "
                            "chronyc's own)")
    serve.add_argument("--timesyncd-conf", type=Path, metavar="PATH",
                       help="with --manage-host: the systemd-timesyncd drop-in for "
                            "config/time's NTP servers (default "
                            "/etc/systemd/timesyncd.conf.d/enerteg.conf)")
    unit = sub.add_parser("install-service",
                          help="write a systemd unit file for `enerteg serve` (to PATH; "
                               "enables nothing)")
    unit.add_argument("path", type=Path, help="where to write the unit, e.g. "
                      "/etc/systemd/system/enerteg.service")
    unit.add_argument("--data-dir", type=Path, default=Path("./enerteg-data"))
    unit.add_argument("--user", help="run the controller as this user (default: root)")
    unit.add_argument("--manage-host", action="store_true",
                      help="start the controller with --manage-host")
    unit.epilog = "Further `enerteg serve` options follow a lone --, e.g. -- --simulate 20."
    from .usercli import add_user_parser
    add_user_parser(sub)
    from .local_console import add_console_parser
    add_console_parser(sub)
    return parser


_WATCHDOG: list[Any] = []
"""The running watchdog (``autoRestart`` decides a crash's exit status in ``main``)."""


async def _serve(args: argparse.Namespace) -> int:
    from .controller import Controller, ControllerOptions, tune_gc
    from .service_unit import Notifier, Watchdog

    controller = Controller(ControllerOptions(
        data_dir=args.data_dir, simulate=args.simulate, interval=args.interval, seed=args.seed,
        bind=args.bind, bus_latency_ms=args.bus_latency_ms, equipment=args.equipment,
        ssh_enabled=False if args.no_ssh else None, ssh_port=args.ssh_port,
        serial_device=args.serial, serial_baud=args.baud, log_file=True,
        manage_host=args.manage_host, resolv_conf=args.resolv_conf,
        update_keys=tuple(args.update_key), update_boot_seconds=args.update_boot_seconds,
        chrony_sources=args.chrony_sources, chronyc_socket=args.chronyc_socket,
        timesyncd_conf=args.timesyncd_conf,
    ))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    notifier = Notifier.from_env()
    await controller.start()
    system = controller.core.system
    watchdog: Watchdog | None = None
    try:
        await wait_event(controller.poller.first_sweep_done, 30)
        tune_gc()
        print(controller.ready_line(), file=sys.stderr, flush=True)
        notifier.send("READY=1\nSTATUS=" + controller.ready_line())
        # a version on its boot attempt checks its own faces: healthy, or rolled back
        if await controller.core.software.confirm_boot(controller.health_targets()):
            print(f"enerteg healthy: version {__version__} confirmed", file=sys.stderr,
                  flush=True)
        interval = Watchdog.interval_from_env()
        if interval is not None:
            watchdog = Watchdog(notifier, interval,
                                lambda: bool(controller.config.get("core").autoRestart))
            watchdog.start()
            _WATCHDOG[:] = [watchdog]
        waits = [asyncio.ensure_future(stop.wait()),
                 asyncio.ensure_future(system.stop_requested.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        logging.getLogger("enerteg").info("shutting down%s", f" for a {system.requested}"
                                          if system.requested else "")
    finally:
        notifier.send("STOPPING=1")
        if watchdog is not None:
            await watchdog.stop()
        try:
            await asyncio.wait_for(controller.stop(), SHUTDOWN_LIMIT_S)
        except TimeoutError:
            logging.getLogger("enerteg").error(
                "shutdown took longer than %g s; exiting without waiting", SHUTDOWN_LIMIT_S)
            logging.shutdown()
            # database worker threads of an interrupted stop would keep the process
            # alive forever; what was committed is safe (WAL), the rest is lost anyway
            os._exit(3)
    if system.requested == "restart" and not stop.is_set():
        _reexec()
    if system.requested in ("poweroff", "reboot") and not stop.is_set():
        return _host_command(system.requested)
    return 0


def _reexec() -> None:
    """Replace this process with a fresh ``enerteg serve`` (same PID, same arguments): the
    base installation's command line, whose launcher chooses the version to run."""
    from .core.versions import ENV_VERSION, ENV_VERSIONS
    from .service_unit import reexec_argv

    argv = reexec_argv()
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VERSION, ENV_VERSIONS)}
    logging.getLogger("enerteg").info("restarting: %s", " ".join(argv))
    logging.shutdown()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


def _launch(args: argparse.Namespace, argv: list[str]) -> None:
    """The base installation's start: run the version selected by a software update
    (``<data-dir>/versions/current``) instead of itself, going back to the previous one
    when the selected version had its boot attempt and never became healthy. Returns
    when the base itself runs."""
    import json

    from .core.versions import ENV_LAUNCH_ARGV, ENV_VERSION, VersionStore
    from .service_unit import reexec_argv

    if os.environ.get(ENV_VERSION):
        return                          # started into a version by this launcher already
    os.environ.setdefault(ENV_LAUNCH_ARGV, json.dumps(reexec_argv()))
    data = Path(args.data_dir)
    if not (data / "versions").is_dir() or _locked(data):
        return                          # nothing installed, or the start fails on the lock
    log = logging.getLogger("enerteg")
    choice = VersionStore(data / "versions").choose()
    if choice.rolled_back:
        log.error("software update rolled back: %s", choice.rolled_back)
        print(f"enerteg: rolled back version {choice.rolled_back}", file=sys.stderr,
              flush=True)
    if choice.folder is None:
        return
    log.info("starting version %s from %s%s", choice.version, choice.folder,
             " (boot attempt)" if choice.trial else "")
    logging.shutdown()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "enerteg_tui.versionboot",
                              str(choice.folder.resolve()), *argv])


def _boot_failed(reason: str) -> None:
    """A version on its boot attempt crashed: say why in its attempt (``versionboot``
    then goes back to the previous version)."""
    from .core.versions import ENV_VERSION, ENV_VERSIONS, VersionStore

    version, folder = os.environ.get(ENV_VERSION), os.environ.get(ENV_VERSIONS)
    if version and folder:
        store = VersionStore(Path(folder))
        boot = store.boot()
        if boot is not None and boot.get("version") == version:
            store.mark("failed", reason)


def _locked(data: Path) -> bool:
    """Another controller holds the data directory (its start will refuse ours)."""
    import fcntl

    try:
        fd = os.open(data / ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _host_command(action: str) -> int:
    """``systemctl poweroff|reboot`` after the clean stop; its exit status is ours."""
    import subprocess

    logging.getLogger("enerteg").warning("host %s: running systemctl %s", action, action)
    try:
        done = subprocess.run(["systemctl", action], timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"enerteg: error: systemctl {action} failed: {exc}", file=sys.stderr)
        return 1
    return done.returncode


SECRET_LOGGERS = ("aiosqlite",)
"""Libraries whose DEBUG lines repeat SQL parameters, stored secrets among them."""


def quiet_secret_loggers() -> None:
    """Keep libraries that log data at DEBUG at INFO even under ``--log-level DEBUG``:
    secrets never appear in logs."""
    for name in SECRET_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``enerteg`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    serve_args: list[str] = []
    if argv[:1] == ["install-service"] and "--" in argv:  # serve's options, passed through
        cut = argv.index("--")
        argv, serve_args = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    if args.command == "console":
        # the terminal belongs to the console: logs go to <data-dir>/logs only
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger().addHandler(logging.NullHandler())
    logging.basicConfig(
        level=getattr(logging, getattr(args, "log_level", "INFO")), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    quiet_secret_loggers()
    from .core.masking import install_secret_filter
    for handler in logging.getLogger().handlers:
        install_secret_filter(handler)
    try:
        if args.command == "install-service":
            from .service_unit import install_service
            path = install_service(args.path, data_dir=args.data_dir, python=sys.executable,
                                   user=args.user, manage_host=args.manage_host,
                                   serve_args=serve_args)
            print(f"wrote {path}; install it with: systemctl daemon-reload && "
                  f"systemctl enable --now {path.name}")
            return 0
        if args.command == "serve":
            _launch(args, argv)
            try:
                return asyncio.run(_serve(args))
            except (EnertegError, OSError, KeyboardInterrupt):
                raise
            except Exception as exc:
                logging.getLogger("enerteg").exception("the controller crashed")
                _boot_failed(f"{type(exc).__name__}: {exc}")
                from .service_unit import EXIT_NO_RESTART
                if _WATCHDOG and not _WATCHDOG[0].auto_restart:
                    return EXIT_NO_RESTART  # autoRestart disabled: systemd leaves it down
                return 1
        if args.command == "user":
            from .usercli import run_user_command
            return asyncio.run(run_user_command(args))
        if args.command == "console":
            from .local_console import console_main
            return console_main(args)
    except EnertegError as exc:
        print(f"enerteg: error: {exc}", file=sys.stderr)
        return 1 if args.command == "user" else 2
    except OSError as exc:
        print(f"enerteg: error: {exc.strerror or exc}"
              + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 2
