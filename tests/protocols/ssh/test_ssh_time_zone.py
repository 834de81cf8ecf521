"""The shell's text output in the zone of ``config/time``, its JSON in UTC (issue 23 item
1), over a real OpenSSH session: ``whoami``, ``token list``, ``backup list`` read by a
person show ISO 8601 with the zone's offset; ``format json`` keeps ``+00:00``; a ``put
config/time timezone=…`` shows in the next command, no restart."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest

from tests.conftest import ADMIN

from .conftest import SSHEnv

pytestmark = pytest.mark.e2e

PRAGUE = zoneinfo.ZoneInfo("Europe/Prague")


def _docs(out: str) -> list:
    decoder, text, docs = json.JSONDecoder(), out.strip(), []
    while text:
        doc, end = decoder.raw_decode(text)
        docs.append(doc)
        text = text[end:].strip()
    return docs


def _local(iso_utc: str) -> str:
    return dt.datetime.fromisoformat(iso_utc).astimezone(PRAGUE).isoformat(timespec="seconds")


async def test_text_in_the_zone_json_in_utc(ssh_env: SSHEnv) -> None:
    c = ssh_env.controller
    await c.core.tokens.create(ADMIN, "ansible", days=90, user="boss")
    r = await ssh_env.ssh("boss", "put config/time timezone=Europe/Prague; backup create")
    assert r.code == 0, r.err
    as_json = await ssh_env.ssh("boss", "format json; whoami; token list; backup list")
    assert as_json.code == 0, as_json.err
    who, tokens, backups = _docs(as_json.out)
    assert who["loginTime"].endswith("+00:00")
    assert tokens[0]["expires"].endswith("+00:00") and backups[0]["created"].endswith("+00:00")
    text = await ssh_env.ssh("boss", "whoami; token list; backup list")
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    login = next(line for line in lines if line.startswith("loginTime"))
    assert login.split()[1][-6:] in ("+01:00", "+02:00")          # CET / CEST
    assert f"expires {_local(tokens[0]['expires'])}" in text.out
    assert f"{_local(backups[0]['created'])}  " in text.out
    # back to UTC: the next command shows it
    r = await ssh_env.ssh("boss", "put config/time timezone=UTC; whoami")
    assert r.code == 0, r.err
    login = next(line for line in r.out.splitlines() if line.startswith("loginTime"))
    assert login.split()[1].endswith("+00:00")
