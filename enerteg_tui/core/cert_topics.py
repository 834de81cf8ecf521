"""The ``certs/`` topic folder: the certificate store as scripts and the shell see it.

``certs/_data`` lists every certificate (no key material, ever); ``certs/<id>`` is one
certificate (``put usage=smtp`` changes its usage, ``put delete=true`` deletes it, the
shell's ``rm certs/<id>`` is that put); ``certs/new`` imports: ``put certs/new
pem="-----BEGIN CERTIFICATE-----..."`` (optionally ``key=`` a PEM private key) or
``file=/upload/NAME`` (a PEM, CRT/CER, DER or PKCS#12 file uploaded over SFTP), with
``passphrase=`` (PKCS#12 or encrypted key), ``usage=`` and ``name=``. Only administrators
see the folder; the checks, audit entries and messages are the ``CertStore``'s. Called
only by ``core.topics``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .certstore import MAX_IMPORT_BYTES, CertStore, CertUsage
from .documents import envelope
from .errors import Invalid, NotFound, shown
from .permissions import Action, Principal, require
from .settings._base import Secret, Toggle
from .validation import validate_document

__all__ = ["CertImport", "CertChange", "CertTopics", "NEW"]

NEW = "new"
"""The import topic ``certs/new``."""
_USAGES = " | ".join(u.value for u in CertUsage)


class CertImport(BaseModel):
    """What ``put certs/new`` accepts: the data (``pem`` or an uploaded ``file``)."""

    model_config = ConfigDict(extra="forbid")

    pem: str = ""
    """Certificate(s) in PEM, optionally followed by the private key (its size is
    checked by the store, whose refusal never repeats key material)."""
    key: Secret = ""
    """A separate PEM private key (never shown)."""
    file: str = ""
    """``/upload/NAME``: a PEM, CRT/CER, DER or PKCS#12 file uploaded over SFTP."""
    passphrase: Secret = ""
    """Of the PKCS#12 file or of the encrypted private key (never shown)."""
    usage: str = CertUsage.UNRESTRICTED.value
    """unrestricted | web-server | ldap | device-connections | smtp | syslog-tls."""
    name: str = Field(default="", max_length=64)
    """A label (default: the subject's common name)."""


class CertChange(BaseModel):
    """What ``put certs/<id>`` accepts."""

    model_config = ConfigDict(extra="forbid")

    usage: str | None = None
    """A new usage."""
    delete: Toggle = False
    """Delete the certificate and its key."""


class CertTopics:
    """Resolve, read and change ``certs/`` for ``core.topics``.

    Args:
        certs: the certificate store.
        upload: the SFTP ``/upload`` folder on disk (``DataLayout.upload``).
    """

    def __init__(self, certs: CertStore, upload: Path,
                 clock: Callable[[], float] = time.time) -> None:
        self._certs = certs
        self._upload = upload
        self._clock = clock

    def node(self, principal: Principal, path: str, parts: list[str],
             missing: Callable[[str, str, list[str]], Any]) -> tuple[list[str], bool, Any]:
        """(children, writable, schema) of ``certs`` or a path under it."""
        require(principal, Action.ADMINISTER, path)
        ids = [str(i) for i in self._certs.ids()]
        if len(parts) == 1:
            return [NEW, *ids], False, None
        if len(parts) == 2 and parts[1] == NEW:
            return [], True, CertImport
        if len(parts) == 2 and parts[1] in ids:
            return [], True, CertChange
        return missing(path, "certs", [NEW, *ids])

    def get(self, principal: Principal, parts: list[str]) -> dict[str, Any]:
        """``_data`` of ``certs``, ``certs/new`` (the template) or ``certs/<id>``."""
        now = self._clock()
        ts = int(now * 1000)
        if len(parts) == 1:
            rows = []
            for c in self._certs.all(principal):
                doc = c.document(now)
                doc.pop("certificatePem")
                rows.append(doc)
            return envelope(ts, {"certificates": rows})
        if parts[1] == NEW:
            return envelope(ts, CertImport().model_dump())
        return envelope(ts, self._certs.get(principal, int(parts[1])).document(now))

    async def put(self, principal: Principal, parts: list[str],
                  changes: dict[str, Any]) -> list[str]:
        """Import, change or delete; returns the path to show afterwards."""
        if parts[1] == NEW:
            doc = validate_document("certs/new", CertImport, changes)
            assert isinstance(doc, CertImport)
            data: bytes | str
            if doc.pem and doc.file:
                raise Invalid("certs/new: give pem or file, not both", thing="file",
                              value=doc.file, allowed="pem=... or file=/upload/NAME")
            if doc.file:
                data, source = self._read_upload(doc.file), doc.file
            elif doc.pem:
                data, source = doc.pem, ""
            else:
                raise Invalid("certs/new: no certificate given", thing="pem", value="",
                              allowed='pem="-----BEGIN CERTIFICATE-----..." or file=/upload/NAME')
            info = await self._certs.import_data(principal, data, passphrase=doc.passphrase,
                                                 key=doc.key, usage=doc.usage, name=doc.name,
                                                 source=source)
            return ["certs", str(info.id)]
        cert_id = int(parts[1])
        change = validate_document(f"certs/{cert_id}", CertChange, changes)
        assert isinstance(change, CertChange)
        if change.delete:
            await self._certs.delete(principal, cert_id)
            return ["certs"]
        if change.usage is None:
            raise Invalid(f"certs/{cert_id}: nothing to change", thing="put", value="",
                          allowed=f"usage=<{_USAGES}> or delete=true")
        await self._certs.set_usage(principal, cert_id, change.usage)
        return ["certs", str(cert_id)]

    def _read_upload(self, given: str) -> bytes:
        """The bytes of ``/upload/NAME`` (a bare NAME means the same); nothing else."""
        parts = [p for p in given.strip().split("/") if p]
        if len(parts) == 1:
            parts = ["upload", parts[0]]
        if len(parts) != 2 or parts[0] != "upload" or parts[1] in (".", ".."):
            raise Invalid(f"certificate file {shown(given)} is not allowed; give /upload/NAME",
                          thing="file", value=given,
                          allowed="/upload/NAME (a file uploaded over SFTP)")
        path = self._upload / parts[1]
        if not path.is_file():
            raise NotFound(f"certificate file {shown(given)} does not exist", thing="file",
                           value=given, allowed="a file in /upload")
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise Invalid(f"certificate file {shown(given)} is larger than "
                          f"{MAX_IMPORT_BYTES // 1024} KiB", thing="file", value=given,
                          allowed=f"a file up to {MAX_IMPORT_BYTES // 1024} KiB")
        return path.read_bytes()
