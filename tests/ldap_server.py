"""A real OpenLDAP ``slapd`` for the directory-login tests, started in the foreground.

No systemd and no system configuration: the tree is loaded offline with ``slapadd`` into
a temporary directory, then ``slapd -f slapd.conf -h "ldap://… ldaps://…" -d 0`` serves
it on free loopback ports until ``stop``. Two suffixes: ``dc=example,dc=com`` shaped like
a Unix directory (inetOrgPerson/posixAccount users, groupOfNames and posixGroup groups)
and ``dc=corp,dc=test`` shaped like Active Directory (``user`` objects with
sAMAccountName, userPrincipalName and memberOf, from OpenLDAP's msuser schema). TLS uses a
CA made by ``tests/certgen``; its certificate names ``localhost`` only, so
``ldaps://127.0.0.1`` is a host name mismatch.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import certgen
from tests.helpers import free_port

PASSWORD = "Dir-Passw0rd"
"""Password of every directory user (and of the search account)."""
READER_DN = "cn=reader,dc=example,dc=com"
BASE = "dc=example,dc=com"
AD_BASE = "dc=corp,dc=test"
SLAPD = "/usr/sbin/slapd"

_PEOPLE = [("alice", "Alice Admin"), ("bob", "Bob Power"), ("carol", "Carol Nogroup"),
           ("dave", "Dave Twogroups"), ("eve", "Eve Readonly"), ("frank", "Frank Nested")]
KEYED = ("alice", "carol")
"""Users whose entry lists the test key (``Slapd.key_path``) in ``sshPublicKey``."""


def available() -> bool:
    """Whether slapd and slapadd are installed (scripts/install-test-deps.sh)."""
    return Path(SLAPD).exists() and shutil.which("slapadd") is not None


def _ldif(public_key: str = "") -> str:
    out = [f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
           "o: Example\n",
           f"dn: {READER_DN}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\n"
           f"cn: reader\nuserPassword: {PASSWORD}\n",
           f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n",
           f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n"]
    for i, (uid, cn) in enumerate(_PEOPLE):
        keyed = public_key and uid in KEYED
        out.append(f"dn: uid={uid},ou=people,{BASE}\nobjectClass: inetOrgPerson\n"
                   f"objectClass: posixAccount\n"
                   + ("objectClass: ldapPublicKey\n" if keyed else "")
                   + f"uid: {uid}\ncn: {cn}\nsn: {cn.split()[1]}\n"
                   f"uidNumber: {2000 + i}\ngidNumber: 2000\nhomeDirectory: /home/{uid}\n"
                   f"userPassword: {PASSWORD}\n"
                   + (f"sshPublicKey: {public_key}\n" if keyed else ""))
    people = f"ou=people,{BASE}"
    out.append(f"dn: cn=pdu-admins,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: pdu-admins\n"
               f"member: uid=alice,{people}\n")
    out.append(f"dn: cn=pdu-power,ou=groups,{BASE}\nobjectClass: posixGroup\ncn: pdu-power\n"
               "gidNumber: 3001\nmemberUid: bob\nmemberUid: dave\n")
    out.append(f"dn: cn=pdu-setup,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: pdu-setup\n"
               f"member: uid=dave,{people}\nmember: cn=team-b,ou=groups,{BASE}\n")
    # nested: frank ∈ team-a ∈ team-b ∈ pdu-setup (readwrite), and team-b ∈ team-a (a cycle)
    out.append(f"dn: cn=team-a,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: team-a\n"
               f"member: uid=frank,{people}\nmember: cn=team-b,ou=groups,{BASE}\n")
    out.append(f"dn: cn=team-b,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: team-b\n"
               f"member: cn=team-a,ou=groups,{BASE}\n")
    out.append(f"dn: cn=pdu-view,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: pdu-view\n"
               f"member: uid=eve,{people}\nmember: uid=dave,{people}\n")
    out.append(f"dn: cn=staff,ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: staff\n"
               f"member: uid=carol,{people}\nmember: uid=alice,{people}\n")
    # Active Directory shaped: CN=… users with sAMAccountName and memberOf
    users, groups = f"CN=Users,{AD_BASE}", f"OU=Groups,{AD_BASE}"
    out += [f"dn: {AD_BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: corp\no: Corp\n",
            f"dn: {users}\nobjectClass: organizationalRole\ncn: Users\n",
            f"dn: {groups}\nobjectClass: organizationalUnit\nou: Groups\n"]
    for sam, cn, member_of in [("jdoe", "John Doe", ["PDU Operators"]),
                               ("asmith", "Ann Smith", ["Domain Users"]),
                               ("kim", "Kim Helpdesk", ["Helpdesk"])]:
        lines = [f"dn: CN={cn},{users}", "objectClass: top", "objectClass: user",
                 f"cn: {cn}", f"sn: {cn.split()[1]}", f"sAMAccountName: {sam}",
                 f"userPrincipalName: {sam}@corp.test", f"userPassword: {PASSWORD}"]
        lines += [f"memberOf: CN={g},{groups}" for g in member_of]
        out.append("\n".join(lines) + "\n")
    # nested the AD way (memberOf on groups): Helpdesk ∈ PDU Operators ∈ Helpdesk (a cycle)
    for g, parent in (("PDU Operators", "Helpdesk"), ("Domain Users", None),
                      ("Helpdesk", "PDU Operators")):
        out.append(f"dn: CN={g},{groups}\nobjectClass: top\nobjectClass: group\ncn: {g}\n"
                   + (f"memberOf: CN={parent},{groups}\n" if parent else ""))
    return "\n".join(out)


_AD_SCHEMA = """\
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'memberOf'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'user' SUP organizationalPerson STRUCTURAL
  MAY ( sAMAccountName $ userPrincipalName $ memberOf ) )
objectclass ( 1.3.6.1.4.1.99999.2.2 NAME 'group' SUP top STRUCTURAL
  MUST cn MAY ( member $ sAMAccountName $ memberOf ) )
"""
"""The few Active Directory names the AD-shaped tree needs, with matching rules
(OpenLDAP's msuser.schema has none for sAMAccountName, so it cannot be searched)."""


_LPK_SCHEMA = """\
attributetype ( 1.3.6.1.4.1.24552.500.1.1.1.13 NAME 'sshPublicKey'
  DESC 'MANDATORY: OpenSSH Public key'
  EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 )
objectclass ( 1.3.6.1.4.1.24552.500.1.1.2.0 NAME 'ldapPublicKey' SUP top AUXILIARY
  DESC 'MANDATORY: OpenSSH LPK objectclass'
  MAY ( sshPublicKey $ uid ) )
"""
"""The openssh-lpk schema (as shipped with openssh-ldap-publickey); Debian's slapd does
not include it."""


def _conf(root: Path, tls: bool) -> str:
    schema = "/etc/ldap/schema"
    tls_lines = (f"TLSCACertificateFile {root}/ca.pem\nTLSCertificateFile {root}/server.pem\n"
                 f"TLSCertificateKeyFile {root}/server.key\n") if tls else ""
    dbs = ""
    for suffix, sub in ((BASE, "db1"), (AD_BASE, "db2")):
        dbs += (f"database mdb\nsuffix \"{suffix}\"\ndirectory {root}/{sub}\nmaxsize 33554432\n"
                f"rootdn \"cn=root,{suffix}\"\n"
                "access to attrs=userPassword by self read by anonymous auth by * none\n"
                "access to * by * read\n\n")
    return (f"include {schema}/core.schema\ninclude {schema}/cosine.schema\n"
            f"include {schema}/inetorgperson.schema\ninclude {schema}/nis.schema\n"
            f"include {root}/ad.schema\ninclude {root}/openssh-lpk.schema\n"
            f"pidfile {root}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n"
            f"{tls_lines}\n{dbs}")


@dataclass
class Slapd:
    """A slapd serving the test trees on ``ldap://127.0.0.1:port`` and
    ``ldaps://127.0.0.1:tls_port``; ``ca_pem`` is the CA that signed its certificate."""

    root: Path
    port: int = 0
    tls_port: int = 0
    ca_pem: str = ""
    key_path: Path | None = None
    """Private key (OpenSSH, no passphrase) whose public half is in the entries of
    ``KEYED`` users."""
    proc: subprocess.Popen | None = None
    log: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://localhost:{self.tls_port}"

    def prepare(self) -> None:
        """Write certificates, configuration and the tree (slapadd, offline)."""
        self.root.mkdir(parents=True, exist_ok=True)
        ca = certgen.make_ca("Directory Test CA")
        leaf = certgen.make_leaf(ca, "localhost", ips=())   # 127.0.0.1: a mismatch
        self.ca_pem = ca.pem
        (self.root / "ca.pem").write_text(self.ca_pem)
        (self.root / "server.pem").write_text(leaf.pem)
        (self.root / "server.key").write_text(certgen.key_pem(leaf))
        os.chmod(self.root / "server.key", 0o600)
        for sub in ("db1", "db2"):
            (self.root / sub).mkdir(exist_ok=True)
        (self.root / "ad.schema").write_text(_AD_SCHEMA)
        (self.root / "openssh-lpk.schema").write_text(_LPK_SCHEMA)
        self.key_path = self.root / "user_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "directory-user",
                        "-f", str(self.key_path)], check=True, capture_output=True, timeout=30)
        public_key = (self.root / "user_key.pub").read_text().strip()
        (self.root / "slapd.conf").write_text(_conf(self.root, True))
        (self.root / "tree.ldif").write_text(_ldif(public_key))
        for suffix in (BASE, AD_BASE):
            ldif = self.root / f"{suffix}.ldif"
            ldif.write_text("\n\n".join(e.strip() for e in _ldif(public_key).split("\n\n")
                                      if e.split("\n", 1)[0].lower().endswith(suffix.lower()))
                            + "\n")
            subprocess.run(["slapadd", "-f", str(self.root / "slapd.conf"), "-b", suffix,
                            "-l", str(ldif)],
                           check=True, capture_output=True, timeout=60)

    def start(self, timeout: float = 30) -> None:
        """Start slapd on free ports (new ones each time) and wait until it answers."""
        self.port, self.tls_port = free_port(), free_port()
        while self.tls_port == self.port:
            self.tls_port = free_port()
        self.proc = subprocess.Popen(
            [SLAPD, "-f", str(self.root / "slapd.conf"),
             "-h", f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.tls_port}/",
             "-d", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"slapd exited with {self.proc.returncode}: {err[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5), \
                        socket.create_connection(("127.0.0.1", self.tls_port), 0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"slapd did not listen within {timeout} s")

    def stop(self) -> None:
        """Stop slapd (SIGTERM, then SIGKILL) and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def role_map() -> dict[str, str]:
    """``ldapRoleMap`` of the tests: by name and by DN, case mixed on purpose."""
    return {"pdu-admins": "admin", f"CN=pdu-power,OU=groups,{BASE}": "power",
            "pdu-setup": "readwrite", "pdu-view": "readonly", "PDU Operators": "poweron"}


def auth_settings(server: Slapd, **over: object) -> dict[str, object]:
    """``config/auth`` for the Unix tree over StartTLS, searching as the reader."""
    return {"ldapEnabled": True, "ldapUrl": f"ldap://localhost:{server.port}",
            "ldapBindDn": READER_DN, "ldapBindPassword": PASSWORD,
            "ldapSearchBase": f"ou=people,{BASE}", "ldapUsernameAttribute": "uid",
            "ldapUserObjectClass": "posixAccount", "ldapGroupSearchBase": f"ou=groups,{BASE}",
            "ldapRoleMap": role_map(), "addressBackoffSeconds": 0, **over}


def ad_settings(server: Slapd, **over: object) -> dict[str, object]:
    """``config/auth`` for the AD-shaped tree: sAMAccountName, memberOf, ldaps://."""
    return {"ldapEnabled": True, "ldapUrl": server.ldaps_url,
            "ldapBindDn": "", "ldapBindPassword": "", "ldapBindDnTemplate": "",
            "ldapSearchBase": AD_BASE, "ldapUsernameAttribute": "sAMAccountName",
            "ldapUserObjectClass": "user", "ldapGroupSearchBase": "", "ldapGroupClass": "",
            "ldapRoleMap": role_map(), "addressBackoffSeconds": 0, **over}


async def trust_ca(controller: object, server: Slapd) -> None:
    """Import the directory's CA into the certificate store with usage ldap."""
    from enerteg_tui.core.permissions import SYSTEM

    await controller.certs.import_data(SYSTEM, server.ca_pem, usage="ldap",  # type: ignore[attr-defined]
                                       name="directory CA")


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """One slapd for a test session (each xdist worker its own); tests must not stop it."""
    if not available():
        pytest.skip("slapd is not installed (scripts/install-test-deps.sh)")
    server = Slapd(tmp_path_factory.mktemp("slapd"))
    server.prepare()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_slapd(tmp_path: Path) -> Iterator[Slapd]:
    """A slapd of the test's own, which it may stop (directory down mid-run)."""
    if not available():
        pytest.skip("slapd is not installed (scripts/install-test-deps.sh)")
    server = Slapd(tmp_path / "slapd")
    server.prepare()
    server.start()
    yield server
    server.stop()
