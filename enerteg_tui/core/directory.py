"""Directory logins: checking a password against LDAP / Active Directory (manual §5.10).

Exists so that ``UserService.authenticate`` — the one admission path of SSH, serial, the
local console and every face to come — can log in a user who has no local account: it
asks this module, which binds to the directory with the ``ldap…`` keys of
``config/auth``, finds the user (a DN template such as ``uid={0},ou=people,dc=example,
dc=com``, or a search by a filter template ``(uid={0})`` or by ``ldapUsernameAttribute``),
checks the password by binding as that user, collects the user's groups (``memberOf`` of
the entry; groups whose ``member``/``uniqueMember`` is the user's DN or whose
``memberUid`` is the name) and maps them through ``ldapRoleMap`` to one of our six roles.

Invariants:

* ldap3 is imported only when a directory is asked (LDAP enabled);
* the user name is escaped wherever it enters a filter (``escape_filter_chars``) or a DN
  (``escape_rdn``), so ``*)(uid=*`` matches nobody;
* an empty password is refused before any bind (an LDAP simple bind with an empty
  password is an *anonymous* bind and would succeed);
* TLS (ldaps:// or StartTLS on ldap://) verifies the server against the certificate
  store's CAs for usage ``ldap`` with host name checking; a mismatch is refused with a
  message saying so;
* every network step is bounded by ``ldapTimeoutSeconds`` and the whole exchange by
  twice that, so a down or silent directory cannot hold a login for long;
* several mapped groups give the role granting the most actions (``ROLE_RANK``); no
  mapped group gives no role: the login is refused, never guessed.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .permissions import MATRIX, Role

__all__ = ["DirectoryUser", "DirectoryRefused", "DirectoryDown", "Directory", "ROLE_RANK",
           "highest_role", "SOURCE", "report_text"]

log = logging.getLogger(__name__)

SOURCE = "ldap"
"""``Principal.source`` of a user logged in through the directory."""

ROLE_RANK: tuple[Role, ...] = (Role.ADMIN, Role.READWRITE, Role.POWER, Role.POWERON,
                               Role.POWEROFF, Role.READONLY)
"""Highest first: by the number of actions the role grants (``permissions.MATRIX``), ties
broken towards switching on (the safer switch)."""
assert [len(MATRIX[r]) for r in ROLE_RANK] == sorted((len(MATRIX[r]) for r in ROLE_RANK),  # noqa: S101
                                                     reverse=True)

MAX_NAME = 256
"""Longest login name sent to a directory."""
MAX_GROUPS = 256
"""Most groups collected for one user, nested ones included (a bound on the searches)."""


class DirectoryRefused(Exception):
    """The directory answered and the login is refused: wrong password, unknown user,
    no mapped group. ``str()`` is the reason for the audit log (never a password)."""


class DirectoryDown(Exception):
    """The directory could not be asked: unreachable, timed out, TLS refused, the
    service bind refused. ``str()`` says which, for the audit log and ``ldap test``."""


@dataclass(slots=True)
class DirectoryUser:
    """A user as the directory describes them."""

    name: str
    dn: str
    groups: list[str] = field(default_factory=list)
    """DNs of the user's groups (memberOf and membership searches), sorted."""
    mapped: list[tuple[str, Role]] = field(default_factory=list)
    """(group DN, role) of each group ``ldapRoleMap`` names."""
    role: Role | None = None
    """The highest mapped role; None: no mapped group (the login is refused)."""
    via: dict[str, str] = field(default_factory=dict)
    """Nested group DN → the group DN it was reached from (``ldapNestedGroupDepth``)."""
    keys: list[str] = field(default_factory=list)
    """OpenSSH public key lines of ``ldapSshKeyAttribute`` (read while ``ldapSshKeys``)."""

    def chain(self, group: str) -> list[str]:
        """The groups from the user's own group up to ``group`` (itself first)."""
        out = [group]
        while out[-1] in self.via and len(out) <= MAX_GROUPS:
            out.append(self.via[out[-1]])
        return out


def highest_role(roles: list[Role]) -> Role | None:
    """The role of ``ROLE_RANK`` that comes first among ``roles``."""
    for r in ROLE_RANK:
        if r in roles:
            return r
    return None


def _norm_dn(dn: str) -> str:
    return ",".join(part.strip() for part in dn.split(",")).lower()


def _group_name(dn: str) -> str:
    first = dn.split(",", 1)[0]
    return first.split("=", 1)[1].strip() if "=" in first else first.strip()


def map_groups(groups: list[str], role_map: dict[str, Any]) -> list[tuple[str, Role]]:
    """(group DN, role) for every group ``role_map`` names by DN or by name (first RDN
    value, e.g. ``pdu-admins`` of ``cn=pdu-admins,ou=groups,…``); case does not matter."""
    by_key = {_norm_dn(k) if "=" in k else k.strip().lower(): Role(v)
              for k, v in role_map.items()}
    out = []
    for g in groups:
        role = by_key.get(_norm_dn(g)) or by_key.get(_group_name(g).lower())
        if role is not None:
            out.append((g, role))
    return out


class Directory:
    """The LDAP / Active Directory of ``config/auth``.

    Args:
        policy: returns ``config/auth`` now (attribute access).
        trust: returns the TLS client context for usage ``ldap`` (the certificate store's
            CAs, host names checked).
    """

    def __init__(self, policy: Callable[[], object],
                 trust: Callable[[], ssl.SSLContext] | None = None) -> None:
        self._policy = policy
        self._trust = trust

    @property
    def enabled(self) -> bool:
        """Whether directory logins are on (``ldapEnabled`` with a URL)."""
        p = self._policy()
        return bool(getattr(p, "ldapEnabled", False) and getattr(p, "ldapUrl", ""))

    @property
    def timeout(self) -> int:
        """Seconds each network step may take (``ldapTimeoutSeconds``)."""
        return int(getattr(self._policy(), "ldapTimeoutSeconds", 5))

    @property
    def url(self) -> str:
        return str(getattr(self._policy(), "ldapUrl", ""))

    async def authenticate(self, name: str, password: str) -> DirectoryUser:
        """Check ``password`` of ``name``; the user with their groups and role.

        Raises:
            DirectoryRefused: wrong password, unknown user, no mapped group.
            DirectoryDown: the directory could not be asked.
        """
        if not password:
            raise DirectoryRefused("empty password (refused before asking the directory)")
        return await self._run(self._sync_lookup, name, password)

    @property
    def key_attribute(self) -> str | None:
        """The attribute of SSH public keys, or None while ``ldapSshKeys`` is off."""
        p = self._policy()
        if not getattr(p, "ldapSshKeys", False):
            return None
        return str(getattr(p, "ldapSshKeyAttribute", "") or "") or None

    async def lookup(self, name: str) -> DirectoryUser:
        """Find ``name`` with their groups and role, without their password (``ldap
        test``): binds as ``ldapBindDn`` (or anonymously). Same exceptions."""
        return await self._run(self._sync_lookup, name, None)

    async def _run(self, fn: Callable[..., DirectoryUser], *args: Any) -> DirectoryUser:
        limit = 2 * self.timeout + 1
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args), limit)
        except asyncio.TimeoutError:
            raise DirectoryDown(f"directory {self.url} did not answer within {limit:g} s "
                                "(config/auth ldapTimeoutSeconds)") from None
        except (DirectoryDown, DirectoryRefused):
            raise
        except Exception as exc:  # an ldap3 surprise must not reach a login as a traceback
            log.warning("directory %s: %r", self.url, exc)
            raise DirectoryDown(f"directory {self.url} failed: {exc}") from None

    # ------------------------------------------------------------------ in a thread
    def _server(self) -> Any:
        import ldap3

        parts = urlsplit(self.url)
        secure = parts.scheme.lower() == "ldaps"
        tls = _StoreTls(self._context()) if secure or self._start_tls else None
        return ldap3.Server(parts.hostname, port=parts.port or (636 if secure else 389),
                            use_ssl=secure, tls=tls, get_info=ldap3.NONE,
                            connect_timeout=self.timeout)

    @property
    def _start_tls(self) -> bool:
        p = self._policy()
        return (urlsplit(self.url).scheme.lower() == "ldap"
                and bool(getattr(p, "ldapStartTls", True)))

    def _context(self) -> ssl.SSLContext:
        if self._trust is not None:
            return self._trust()
        ctx = ssl.create_default_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def _bind(self, server: Any, dn: str | None, password: str | None, who: str,
              service: bool = False) -> Any:
        """An open connection bound as ``dn`` (None: anonymous), StartTLS first when
        configured. ``DirectoryRefused`` when the credentials are refused."""
        import ldap3
        from ldap3.core.exceptions import LDAPException

        conn = ldap3.Connection(server, user=dn, password=password,
                                authentication=ldap3.SIMPLE if dn else ldap3.ANONYMOUS,
                                receive_timeout=self.timeout, auto_referrals=False,
                                raise_exceptions=False, read_only=True)
        try:
            conn.open()
            if self._start_tls and not conn.start_tls():
                conn.unbind()
                raise DirectoryDown(f"directory {self.url} refused StartTLS: "
                                    f"{conn.result.get('description', '')} "
                                    f"{conn.result.get('message', '')}".strip())
            if conn.bind():
                return conn
            result = dict(conn.result or {})
            conn.unbind()
        except ssl.SSLCertVerificationError as exc:
            raise DirectoryDown(_tls_reason(self.url, exc)) from None
        except LDAPException as exc:
            cause = exc.__context__ if isinstance(exc.__context__, ssl.SSLError) else None
            text = str(exc)
            if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY" in text \
                    or "certificate verify failed" in text:
                raise DirectoryDown(_tls_reason(self.url, cause or exc)) from None
            raise DirectoryDown(f"directory {self.url} unreachable: {text}") from None
        except (OSError, ValueError, TypeError) as exc:
            raise DirectoryDown(f"directory {self.url} unreachable: {exc}") from None
        if result.get("result") == 49 and not service:  # invalidCredentials
            raise DirectoryRefused(f"the directory refused the password of {who}")
        if result.get("result") == 49:   # the search account: a setting, not the user
            raise DirectoryDown(f"the directory refused the password of {who} (config/auth "
                                "ldapBindDn, ldapBindPassword)")
        raise DirectoryDown(f"directory {self.url} refused the bind of {who}: "
                            f"{result.get('description', '')} {result.get('message', '')}".strip())

    def _sync_lookup(self, name: str, password: str | None) -> DirectoryUser:
        from ldap3.utils.conv import escape_filter_chars
        from ldap3.utils.dn import escape_rdn

        if not name or len(name) > MAX_NAME:
            raise DirectoryRefused(f"login name of {len(name)} characters (1 to {MAX_NAME} "
                                   "are sent to the directory)")
        p = self._policy()
        template = str(getattr(p, "ldapBindDnTemplate", "")).strip()
        bind_dn = str(getattr(p, "ldapBindDn", "")) or None
        server = self._server()
        reader = self._bind(server, bind_dn, str(getattr(p, "ldapBindPassword", "")) or None,
                            f"the search account {bind_dn}" if bind_dn else "anonymous",
                            service=True)
        try:
            if template and not template.startswith("("):
                dn = template.replace("{0}", escape_rdn(name))
                entry = self._read(reader, dn)
                if entry is None and bind_dn:
                    raise DirectoryRefused(f"no directory entry {dn}")
            else:
                flt = (template.replace("{0}", escape_filter_chars(name)) if template else
                       f"({getattr(p, 'ldapUsernameAttribute', '') or 'cn'}="
                       f"{escape_filter_chars(name)})")
                cls = str(getattr(p, "ldapUserObjectClass", ""))
                if cls:
                    flt = f"(&(objectClass={escape_filter_chars(cls)}){flt})"
                base = str(getattr(p, "ldapSearchBase", ""))
                entries = self._search(reader, base, flt, self._user_attrs(), limit=2)
                if not entries:
                    raise DirectoryRefused(f"no user matches {flt} under {base or 'the root'}")
                if len(entries) > 1:
                    raise DirectoryRefused(f"{len(entries)} users match {flt} under "
                                           f"{base or 'the root'}; a login needs exactly one")
                dn, entry = entries[0]
            if password is not None:
                user_conn = self._bind(server, dn, password, f"{name!r}")
                if entry is None or not bind_dn:     # read as the user when the reader may not
                    entry = self._read(user_conn, dn) or entry
                    groups_conn = user_conn if not bind_dn else reader
                else:
                    groups_conn = reader
            else:
                user_conn, groups_conn = None, reader
                if entry is None:
                    raise DirectoryRefused(f"no directory entry {dn} (or it cannot be read "
                                           "anonymously: set ldapBindDn)")
            try:
                own = set((entry or {}).get("memberOf", []))
                groups = own | self._member_groups(groups_conn, dn, name)
                via = self._nested(groups_conn, groups, read_member_of=bool(own))
            finally:
                if user_conn is not None:
                    user_conn.unbind()
        finally:
            reader.unbind()
        user = DirectoryUser(name=name, dn=dn, groups=sorted(groups | set(via), key=str.lower),
                             via=via, keys=self._keys(entry))
        user.mapped = map_groups(user.groups, dict(getattr(p, "ldapRoleMap", {}) or {}))
        user.role = highest_role([r for _, r in user.mapped])
        return user

    def _user_attrs(self) -> list[str]:
        key = self.key_attribute
        return ["memberOf", key] if key else ["memberOf"]

    def _keys(self, entry: dict[str, list[str]] | None) -> list[str]:
        key = self.key_attribute
        if not key or not entry:
            return []
        values = next((vs for k, vs in entry.items() if k.lower() == key.lower()), [])
        return [line for v in values for line in v.splitlines() if line.strip()]

    def _read(self, conn: Any, dn: str,
              attrs: list[str] | None = None) -> dict[str, list[str]] | None:
        import ldap3

        if not conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE,
                           attributes=attrs or self._user_attrs(),
                           time_limit=int(self.timeout) or 1):
            self._check(conn, (0, 32))  # success, noSuchObject
            return None
        return {k: [_text(v) for v in vs]
                for k, vs in conn.response[0].get("attributes", {}).items()
                if isinstance(vs, list)} if conn.response else None

    def _search(self, conn: Any, base: str, flt: str, attrs: list[str],
                limit: int = 1000) -> list[tuple[str, dict[str, list[str]]]]:
        import ldap3

        ok = conn.search(base, flt, search_scope=ldap3.SUBTREE, attributes=attrs,
                         size_limit=limit, time_limit=int(self.timeout) or 1)
        if not ok:
            self._check(conn, (0, 4, 32))   # success, sizeLimitExceeded, noSuchObject
            if (conn.result or {}).get("result") != 4:
                return []
        out = []
        for r in conn.response or []:
            if r.get("type") != "searchResEntry":
                continue
            attributes = {k: [_text(v) for v in (vs if isinstance(vs, list) else [vs])]
                          for k, vs in (r.get("attributes") or {}).items()}
            out.append((r["dn"], attributes))
        return out

    def _check(self, conn: Any, fine: tuple[int, ...]) -> None:
        result = conn.result or {}
        if result.get("result") not in fine:
            raise DirectoryDown(f"directory {self.url} search failed: "
                                f"{result.get('description', '')} "
                                f"{result.get('message', '')}".strip())

    def _member_groups(self, conn: Any, dn: str, name: str) -> set[str]:
        from ldap3.utils.conv import escape_filter_chars

        p = self._policy()
        base = str(getattr(p, "ldapGroupSearchBase", ""))
        if not base:
            return set()
        dn_e, name_e = escape_filter_chars(dn), escape_filter_chars(name)
        flt = f"(|(member={dn_e})(uniqueMember={dn_e})(memberUid={name_e}))"
        cls = str(getattr(p, "ldapGroupClass", ""))
        if cls:
            flt = f"(&(objectClass={escape_filter_chars(cls)}){flt})"
        return {g for g, _ in self._search(conn, base, flt, [])}


    def _nested(self, conn: Any, groups: set[str], read_member_of: bool) -> dict[str, str]:
        """Groups that contain the user's groups, ``ldapNestedGroupDepth`` levels up: the
        ``memberOf`` of each group entry (AD; when the user's entry had ``memberOf`` or
        no group search base is set) and groups under ``ldapGroupSearchBase`` whose
        ``member``/``uniqueMember`` is one of them. One search per level, at most
        ``MAX_GROUPS`` groups; a group seen before (a cycle) is not followed again.
        Returns nested group → the group it was reached from."""
        from ldap3.utils.conv import escape_filter_chars

        p = self._policy()
        depth = int(getattr(p, "ldapNestedGroupDepth", 0) or 0)
        base = str(getattr(p, "ldapGroupSearchBase", ""))
        cls = str(getattr(p, "ldapGroupClass", ""))
        read_member_of = read_member_of or not base
        seen = {_norm_dn(g) for g in groups}
        via: dict[str, str] = {}
        frontier = sorted(groups, key=str.lower)
        for _ in range(depth):
            if not frontier or len(seen) >= MAX_GROUPS:
                break
            parents: list[tuple[str, str]] = []
            if read_member_of:
                for g in frontier:
                    try:
                        entry = self._read(conn, g, ["memberOf"])
                    except DirectoryDown:      # a group we may not read: not followed
                        continue
                    parents += [(parent, g) for parent in (entry or {}).get("memberOf", [])]
            if base:
                by_norm = {_norm_dn(g): g for g in frontier}
                ors = "".join(f"(member={escape_filter_chars(g)})"
                              f"(uniqueMember={escape_filter_chars(g)})" for g in frontier)
                flt = f"(|{ors})"
                if cls:
                    flt = f"(&(objectClass={escape_filter_chars(cls)}){flt})"
                for parent, attrs in self._search(conn, base, flt, ["member", "uniqueMember"],
                                                  limit=MAX_GROUPS):
                    members = [_norm_dn(m) for k, vs in attrs.items() for m in vs]
                    child = next((by_norm[m] for m in members if m in by_norm), frontier[0])
                    parents.append((parent, child))
            frontier = []
            for parent, child in parents:
                key = _norm_dn(parent)
                if key in seen or len(seen) >= MAX_GROUPS:
                    continue
                seen.add(key)
                via[parent] = child
                frontier.append(parent)
        return via


def _text(value: Any) -> str:
    """An attribute value as text (octet strings such as ``sshPublicKey`` come as bytes)."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def report_text(r: dict[str, Any]) -> str:
    """A ``UserService.test_directory`` report as aligned lines (shell and console)."""
    lines = [f"Directory  {r['url']}", f"User       {r['user']}",
             f"DN         {r['dn'] or '-'}"]
    nested = r.get("nested") or {}
    groups = [g + (f" (nested, via {nested[g][0]})" if nested.get(g) else "")
              for g in r["groups"]] or ["(none)"]
    lines.append(f"Groups     {groups[0]}")
    lines += [f"           {g}" for g in groups[1:]]
    mapped = ", ".join(f"{m['group']} → {m['role']}" for m in r["mapped"]) or "(none)"
    lines.append(f"Mapped     {mapped}")
    lines.append(f"Role       {r['role'] or '-'}")
    if "keys" in r:
        lines.append(f"SSH keys   {', '.join(r['keys']) or '(none)'}")
    lines.append(f"Result     {r['result']}" + (f": {r['reason']}" if r["reason"] else ""))
    if r.get("note"):
        lines.append(f"Note       {r['note']}")
    return "\n".join(lines)


def _tls_reason(url: str, exc: BaseException) -> str:
    text = str(getattr(exc, "verify_message", "") or exc)
    host = urlsplit(url).hostname
    if "hostname" in text.lower() or "ip address mismatch" in text.lower():
        return (f"TLS refused: the certificate of directory {url} does not name {host} "
                f"({text}); use the host name the certificate was issued for in ldapUrl")
    return (f"TLS refused: the certificate of directory {url} is not trusted ({text}); "
            "import its CA into the certificate store with usage ldap (certs/)")


def _store_tls_class() -> Any:
    import ldap3

    class StoreTls(ldap3.Tls):  # type: ignore[misc]
        """ldap3's TLS with our context: store CAs and host name checking (ldap3's own
        wrapper turns ``check_hostname`` off)."""

        def __init__(self, context: ssl.SSLContext) -> None:
            super().__init__(validate=ssl.CERT_REQUIRED)
            self.context = context

        def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
            connection.socket = self.context.wrap_socket(
                connection.socket, server_side=False, do_handshake_on_connect=do_handshake,
                server_hostname=connection.server.host)

    return StoreTls


def _StoreTls(context: ssl.SSLContext) -> Any:  # noqa: N802 - a class made on first use
    return _store_tls_class()(context)
