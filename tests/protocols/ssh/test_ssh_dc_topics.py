"""The DC structure as topics over OpenSSH (issue 19 item 3): ``dc/<room>/<row>/<rack>``
created, renamed, deleted (refused while not empty, naming what it holds), PDUs
assigned and unassigned, all permission-checked and audited through ``Structure``."""

from __future__ import annotations

import json

import pytest

from enerteg_tui.core.permissions import SYSTEM

from .conftest import SSHEnv

pytestmark = pytest.mark.e2e
"""Through a real peer (OpenSSH): see pyproject's markers."""


async def test_dc_tree_create_assign_rename_delete_through_ssh(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    hexes = [d.hex_id for d in c.live.ordered()]
    made = await ssh_env.ssh("boss", "mkdir dc/Hall; mkdir dc/hall/A; put dc/Hall/new name=B; "
                             "mkdir /dc/Hall/A/R1; ls dc/Hall")
    assert made.code == 0, made.err
    assert "Created room Hall" in made.err and "Created rack Hall / A / R1" in made.err
    assert made.out.split() == ["_data", "new/", "A/", "B/"]
    assign = await ssh_env.ssh("boss", f"put dc/Hall/A/R1 assign={hexes[0]}; "
                               f"put dc/Hall/A/R1 assign={hexes[1]}; cat dc/Hall/A/R1")
    assert assign.code == 0, assign.err
    rack = json.loads(assign.out)
    assert [d["hexId"] for d in rack["devices"]] == hexes[:2]
    assert rack["kind"] == "rack" and rack["path"] == "Hall / A / R1"
    assert rack["total"]["current"] > 0 and "L1" in rack["phases"]
    assert c.structure.location_of(hexes[0]) == "Hall / A / R1"

    # not empty: refused, naming what it holds, nothing changed
    busy = await ssh_env.ssh("boss", "rmdir dc/Hall/A/R1")
    assert busy.code == 1
    assert "not empty" in busy.err and hexes[0] in busy.err and hexes[1] in busy.err
    room = await ssh_env.ssh("boss", "put dc/Hall delete=true")
    assert room.code == 1 and "holds 2 row(s)" in room.err

    renamed = await ssh_env.ssh("boss", "put dc/Hall/A/R1 name=Rack-01; ls dc/Hall/A")
    assert renamed.code == 0, renamed.err
    assert "Rack-01/" in renamed.out.split()
    wrong = await ssh_env.ssh("boss", f"put dc/Hall/B unassign={hexes[0]}")
    assert wrong.code == 1 and "unknown key 'unassign'" in wrong.err, wrong.err
    out = await ssh_env.ssh("boss", f"put dc/Hall/A/Rack-01 unassign={hexes[0]}; "
                            f"put dc/Hall/A/Rack-01 unassign={hexes[1]}; rmdir dc/Hall/A/Rack-01; "
                            "rmdir dc/Hall/A; rmdir dc/Hall/B; rmdir dc/Hall; cat dc")
    assert out.code == 0, out.err
    top = json.loads(out.out)
    assert top["rooms"] == [] and set(hexes) <= set(top["unassigned"])

    actions = [e.action for e in await c.audit.query(SYSTEM, limit=100)
               if e.action.startswith("dc.")]
    for kind, n in {"dc.create": 4, "dc.assign": 4, "dc.rename": 1, "dc.delete": 4}.items():
        assert actions.count(kind) == n, (kind, actions)


async def test_dc_topics_refuse_bad_input_and_readonly(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    ro = await ssh_env.ssh("oper", "mkdir dc/Hall")
    assert ro.code == 1 and "edit-structure" in ro.err and "readwrite" in ro.err
    assert c.structure.elements() == []
    assert (await ssh_env.ssh("oper", "cat dc")).code == 0       # reading is everyone's
    missing = await ssh_env.ssh("boss", "mkdir dc/Nowhere/A")
    assert missing.code == 1 and "no room named 'Nowhere'" in missing.err.replace('"', "'")
    slash = await ssh_env.ssh("boss", "put dc/new name=a/b")
    assert slash.code == 1 and "may not contain /" in slash.err
    await ssh_env.ssh("boss", "mkdir dc/Hall; mkdir dc/Hall/A; mkdir dc/Hall/A/R1")
    deep = await ssh_env.ssh("boss", "mkdir dc/Hall/A/R1/X")
    assert deep.code == 1 and "racks hold PDUs" in deep.err
    unknown = await ssh_env.ssh("boss", "put dc/Hall/A/R1 assign=fffff")
    assert unknown.code == 1 and "fffff" in unknown.err
    two = await ssh_env.ssh("boss", "put dc/Hall/A/R1 name=X assign=fffff")
    assert two.code == 1 and "one change per put" in two.err
    assert [e.name for e in c.structure.elements()] == ["Hall", "A", "R1"]
