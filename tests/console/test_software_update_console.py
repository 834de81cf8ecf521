"""Pilot tests of the software update in the console's System commands (issue 23 item 5):
the status for admins, a package refused in the core's words before any question, an
apply behind a confirmation (no: nothing installed; yes: installed, selected, restart
asked), readonly users see none of it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from enerteg_tui.screens.dialogs import ConfirmDialog
from tests.conftest import principal
from tests.helpers import wait_for
from tests.update_packages import build, new_key, tampered

from .conftest import make_app, settle
from .pilots import notes, palette


async def test_status_refusal_and_apply_behind_a_confirmation(make_controller: Any,
                                                               tmp_path: Path) -> None:
    key, pub = new_key(tmp_path, "k")
    good = build(key, "0.2.0", tmp_path / "out")
    c = await make_controller(pdus=2, update_keys=(pub,))
    upload = c.core.paths.upload
    upload.mkdir(exist_ok=True)
    shutil.copy(good, upload / good.name)
    tampered(good, upload / "zz-changed.etgpkg")

    from enerteg_tui.screens.palette import ConsoleCommands
    ro = make_app(c, "readonly")
    async with ro.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        texts = [t for t, _h, _c in ConsoleCommands(ro.screen)._entries()]
        assert not [t for t in texts if "oftware update" in t]

    app = make_app(c)
    async with app.run_test(size=(110, 32)) as pilot:
        await settle(pilot)
        texts = [t for t, _h, _c in ConsoleCommands(app.screen)._entries()]
        assert "Apply software update enerteg-0.2.0.etgpkg" in texts
        assert "Apply software update zz-changed.etgpkg" in texts

        await palette(pilot, "Software update status")
        await wait_for(lambda: any("Running version    0.1.0 (base)" in n
                                   for n in notes(app)), timeout=10)
        assert any("enerteg-0.2.0.etgpkg, zz-changed.etgpkg" in n for n in notes(app))

        await palette(pilot, "Apply software update zz-changed.etgpkg")
        await wait_for(lambda: any("changed after signing" in n for n in notes(app)),
                       timeout=20)
        assert not isinstance(app.screen, ConfirmDialog)        # refused before asking

        await palette(pilot, "Apply software update enerteg-0.2.0.etgpkg")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), timeout=20)
        await pilot.press("n")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert c.core.software.versions.installed() == []      # no: nothing installed

        await palette(pilot, "Apply software update enerteg-0.2.0.etgpkg")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), timeout=20)
        await pilot.press("y")
        await wait_for(lambda: c.core.system.requested == "restart", timeout=60)
        await wait_for(lambda: any("software update to 0.2.0" in n for n in notes(app)),
                       timeout=10)
    assert c.core.software.versions.current() == "0.2.0"
    entries = await c.audit.query(principal("admin"), limit=100)
    actions = [e.action for e in entries if e.action.startswith("software.update.")]
    assert "software.update.refused" in actions and "software.update.restart" in actions
