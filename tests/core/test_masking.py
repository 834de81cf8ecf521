"""The one masking point (issue 14, item 1): every secret key of every settings schema,
every secret option, quoting, JSON and PEM forms, and the log filter on a handler."""

from __future__ import annotations

import io
import logging

import pytest

from enerteg_tui.core.masking import (
    MASK,
    SecretFilter,
    install_secret_filter,
    mask_text,
    mask_words,
    secret_keys,
    sensitive_fields,
)
from enerteg_tui.core.settings import SETTINGS_TOPICS


@pytest.mark.parametrize("topic,key", sorted(
    (t, k) for t, schema in SETTINGS_TOPICS.items() for k in schema.secret_fields()))
def test_every_secret_field_of_every_schema_is_masked(topic: str, key: str) -> None:
    line = f"put config/{topic} {key}=S3cr3t-value other=1"
    assert mask_text(line) == f"put config/{topic} {key}={MASK} other=1"
    assert key.lower() in secret_keys()


@pytest.mark.parametrize("line,want", [
    ("user add bob --role admin --password Pa55-word", "user add bob --role admin --password ***"),
    ("user passwd bob --password=Pa55-word", "user passwd bob --password=***"),
    ("put config/email 'password=a b c' x=1", "put config/email password=*** x=1"),
    ('put config/email "password=a \\" b"', "put config/email password=***"),
    ("put config/snmp_agent v2cCommunity=priv8te", "put config/snmp_agent v2cCommunity=***"),
    ("put config/email PASSWORD=x", "put config/email PASSWORD=***"),
    ("put a; put config/auth ldapBindPassword=x; ls", "put a; put config/auth ldapBindPassword=***; ls"),
    ("put _data '{\"password\": \"x y\", \"a\": 1}'", "put _data '{\"password\": \"***\", \"a\": 1}'"),
    ("shell: command \"put config/email password='a b'\" failed",
     "shell: command 'put config/email password=***' failed"),
    ("cat config/email; ls /logs", "cat config/email; ls /logs"),
    ("it's a plain message", "it's a plain message"),
])
def test_command_lines_and_log_messages(line: str, want: str) -> None:
    assert mask_text(line) == want


def test_pem_private_key_anywhere() -> None:
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIabc\n-----END EC PRIVATE KEY-----"
    assert "MHcCAQEEIabc" not in mask_text(f'put config/http_server certificatePem="{pem}"')
    assert mask_text(f"key: {pem} end") == f"key: {MASK} end"


def test_mask_words_and_sensitive_fields() -> None:
    assert mask_words(["user", "add", "x", "--password", "p", "dbPassword=q"]) == [
        "user", "add", "x", "--password", MASK, f"dbPassword={MASK}"]
    snmp = SETTINGS_TOPICS["snmp_agent"]
    # trapTargets holds per-target credentials: kept whole with the secrets
    assert sensitive_fields(snmp) == snmp.secret_fields() | {"v2cCommunity", "trapTargets"}


def test_filter_masks_library_records_arguments_and_tracebacks() -> None:
    out = io.StringIO()
    handler = install_secret_filter(logging.StreamHandler(out))
    install_secret_filter(handler)
    assert sum(isinstance(f, SecretFilter) for f in handler.filters) == 1
    lib = logging.getLogger("asyncssh.test-masking")
    lib.propagate = False
    lib.addHandler(handler)
    lib.setLevel(logging.INFO)
    try:
        lib.info("[conn=0, chan=0]   Command: %s", "user add x --role admin --password Hunter-22")
        try:
            raise ValueError("bad value for password=Hunter-33")
        except ValueError:
            lib.exception("failed on %r", "put config/email password=Hunter-44")
    finally:
        lib.removeHandler(handler)
    text = out.getvalue()
    assert "Command: user add x --role admin --password ***" in text
    assert "Hunter" not in text and "ValueError" in text
