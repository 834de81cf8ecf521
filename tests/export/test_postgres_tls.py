"""The PostgreSQL export verifies the server with the certificate store (issue 20 item 2):
a real PostgreSQL with TLS (certificate signed by a test CA); with ``verify-full`` the
export fails while the CA is not in the store (or is there for SMTP only) and works once
it is imported with usage "unrestricted"."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from enerteg_tui.core.permissions import SYSTEM
from tests.certgen import key_pem, make_ca, make_leaf
from tests.conftest import ADMIN
from tests.helpers import free_port

from .conftest import PgDatabase, PgServer, _pg_bin

pytestmark = pytest.mark.e2e

CA = make_ca("PG test CA")


@pytest.fixture(scope="module")
def tls_pg() -> Iterator[PgServer]:
    """A PostgreSQL server of its own, TLS on, certificate for localhost/127.0.0.1."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (install the postgresql package)")
    root = Path(tempfile.mkdtemp(prefix="enerteg-pgtls-"))
    os.chmod(root, 0o755)
    server = PgServer(bindir, root, free_port())
    try:
        server.init()
        leaf = make_leaf(CA, "localhost")
        for name, text in (("server.crt", leaf.pem), ("server.key", key_pem(leaf))):
            path = server.data / name
            path.write_text(text)
            os.chmod(path, 0o600)
            if server.user_kw:
                shutil.chown(path, "postgres", "postgres")
        with open(server.data / "postgresql.conf", "a") as conf:
            conf.write("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n")
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_verify_full_trusts_the_store_ca(make_controller, tls_pg: PgServer) -> None:
    conn = await tls_pg.connect()
    try:
        await conn.execute('CREATE DATABASE "tls_export"')
    finally:
        await conn.close()
    c = await make_controller(pdus=2, interval=0.2)
    db = PgDatabase(tls_pg, "tls_export")
    await c.config.put(SYSTEM, "sql_export", db.settings(dbHost="localhost",
                                                        dbSslMode="verify-full"))
    st = await c.core.export.run_now(ADMIN, flush=False, timeout=30)
    assert st.state != "ok" and "certificate" in st.last_error.lower(), st.last_error
    info = await c.core.certs.import_data(ADMIN, CA.pem, usage="smtp")
    st = await c.core.export.run_now(ADMIN, flush=False, timeout=30)
    assert st.state != "ok", "a CA trusted for SMTP only must not verify PostgreSQL"
    await c.core.certs.set_usage(ADMIN, info.id, "unrestricted")
    st = await c.core.export.run_now(ADMIN, flush=False, timeout=30)
    assert st.state == "ok", st.last_error
    tables = await db.fetch("SELECT count(*) AS n FROM pg_tables WHERE tablename = "
                            "'enerteg_history'")
    assert tables[0]["n"] == 1           # the export connected and made its table
