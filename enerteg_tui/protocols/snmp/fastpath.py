"""SNMPv2c reads (GET, GETNEXT, GETBULK) answered straight from the tree, without pysnmp.

Why: a bulk walk of 100 full PDUs spent about half of each request in pysnmp's message
processing and pyasn1's BER encoding, and most of the rest building pyasn1 value
objects; net-snmp's snmpd walked 10 to 15 times faster. The common case, a v2c read
with one of our communities, needs none of that machinery: every v2c principal has the
same read view (``etg-read``, everything the agent serves), so there is no access
decision to make per varbind. This module decodes such a request with a minimal BER
reader, reads the values from the same ``Tree`` as pysnmp's path (raw values, see
``tree.Raw``), and encodes the response itself.

Anything else (SNMPv1, SNMPv3, SET, an unknown community, a request this reader does
not fully understand, a response that would exceed the largest datagram) returns None
and goes through pysnmp as before, which also does the counting and the error answers.
GETBULK follows pysnmp's responder exactly: N non-repeaters, then at most
``max_varbinds // R`` repetitions of the R others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["FastReads", "decode_request", "encode_response", "MAX_DATAGRAM"]

OID = tuple[int, ...]
MAX_DATAGRAM = 65507
"""The largest UDP payload (pysnmp's limit too); a longer answer goes through pysnmp."""

_GET, _GETNEXT, _RESPONSE, _GETBULK = 0xA0, 0xA1, 0xA2, 0xA5
_NO_SUCH_OBJECT, _NO_SUCH_INSTANCE, _END_OF_MIB = b"\x80\x00", b"\x81\x00", b"\x82\x00"
_UNSIGNED = frozenset({0x41, 0x42, 0x43, 0x46, 0x47})
"""Counter32, Gauge32/Unsigned32, TimeTicks, Counter64, Opaque-free unsigned tags."""


# ---------------------------------------------------------------------- decoding
def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at ``pos``; ValueError if cut."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if not 1 <= n <= 3:
            raise ValueError("length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    end = pos + length
    if end > len(data):
        raise ValueError("cut")
    return tag, pos, end


def _int(data: bytes, start: int, end: int) -> int:
    if not 1 <= end - start <= 5:
        raise ValueError("integer")
    return int.from_bytes(data[start:end], "big", signed=True)


def _oid(data: bytes, start: int, end: int) -> OID:
    if start >= end or end - start > 256:
        raise ValueError("oid")
    first = data[start]
    arcs = [first // 40, first % 40] if first < 80 else [2, first - 80]
    value = 0
    for b in data[start + 1:end]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    if data[end - 1] & 0x80:
        raise ValueError("oid")
    return tuple(arcs)


def decode_request(data: bytes) -> tuple[bytes, int, bytes, int, int, list[OID]] | None:
    """(community, PDU tag, request-id TLV, non-repeaters or 0, max-repetitions or 0,
    OIDs) of an SNMPv2c GET/GETNEXT/GETBULK; None for anything else."""
    try:
        tag, start, end = _tlv(data, 0)
        if tag != 0x30 or end != len(data):
            return None
        tag, s, e = _tlv(data, start)
        if tag != 0x02 or data[s:e] != b"\x01":              # version 1 = SNMPv2c
            return None
        tag, s, pos = _tlv(data, e)
        if tag != 0x04:
            return None
        community = data[s:pos]
        pdu, s, pdu_end = _tlv(data, pos)
        if pdu not in (_GET, _GETNEXT, _GETBULK) or pdu_end != end:
            return None
        tag, rs, re_ = _tlv(data, s)
        if tag != 0x02:
            return None
        _int(data, rs, re_)
        request_id = data[s:re_]
        tag, s2, e2 = _tlv(data, re_)
        if tag != 0x02:
            return None
        a = _int(data, s2, e2)
        tag, s3, e3 = _tlv(data, e2)
        if tag != 0x02:
            return None
        b = _int(data, s3, e3)
        if pdu != _GETBULK and (a or b):
            return None                                   # error-status/index in a request
        tag, pos, vbl_end = _tlv(data, e3)
        if tag != 0x30 or vbl_end != pdu_end:
            return None
        oids = []
        while pos < vbl_end:
            tag, vs, ve = _tlv(data, pos)
            if tag != 0x30:
                return None
            tag, os_, oe = _tlv(data, vs)
            if tag != 0x06:
                return None
            oids.append(_oid(data, os_, oe))
            pos = ve
        return community, pdu, request_id, a, b, oids
    except (IndexError, ValueError):
        return None


# ---------------------------------------------------------------------- encoding
def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x100:
        return bytes((0x81, n))
    return bytes((0x82, n >> 8, n & 0xFF))


_ARCS: dict[int, bytes] = {}


def _arc(arc: int) -> bytes:
    """Base-128 encoding of one OID arc (cached: a tree has few distinct arcs)."""
    out = _ARCS.get(arc)
    if out is None:
        a = arc
        parts = [a & 0x7F]
        a >>= 7
        while a:
            parts.append(0x80 | (a & 0x7F))
            a >>= 7
        out = bytes(reversed(parts))
        if len(_ARCS) < 65536:
            _ARCS[arc] = out
    return out


def _body(oid: OID) -> bytes:
    if len(oid) < 2:
        raise ValueError("an OID has at least two arcs")
    return bytes((oid[0] * 40 + oid[1],)) + b"".join([_arc(a) for a in oid[2:]])


def encode_oid(oid: OID) -> bytes:
    """The BER TLV of an OBJECT IDENTIFIER."""
    body = _body(oid)
    return b"\x06" + _len(len(body)) + body


_HEADS: dict[OID, bytes] = {}
_TAILS: dict[OID, bytes] = {}


def encode_instance(oid: OID, split: int) -> bytes:
    """``encode_oid`` of a tree instance: its column (``oid[:split]``) and its index
    are each encoded once and remembered (a tree has few columns; indexes are small)."""
    head_oid, tail_oid = oid[:split], oid[split:]
    head = _HEADS.get(head_oid)
    if head is None:
        head = _body(head_oid)
        if len(_HEADS) < 4096:
            _HEADS[head_oid] = head
    tail = _TAILS.get(tail_oid)
    if tail is None:
        tail = b"".join([_arc(a) for a in tail_oid])
        if len(_TAILS) < 65536:
            _TAILS[tail_oid] = tail
    body = head + tail
    return b"\x06" + _len(len(body)) + body


def encode_value(raw: tuple[int, Any]) -> bytes:
    """The BER TLV of a raw value ``(tag, value)`` (see ``tree.Raw``)."""
    tag, value = raw
    if tag == 0x04:
        return b"\x04" + _len(len(value)) + value
    if tag == 0x02:
        n = ((value if value >= 0 else -value - 1).bit_length() + 8) // 8
        return bytes((0x02, n)) + value.to_bytes(n, "big", signed=True)
    if tag in _UNSIGNED:
        n = (value.bit_length() + 8) // 8
        return bytes((tag, n)) + value.to_bytes(n, "big")
    if tag == 0x06:
        return encode_oid(value)
    raise ValueError(f"no encoding for tag {tag:#x}")


def encode_response(community: bytes, request_id: bytes, varbinds: list[bytes]) -> bytes:
    """A v2c GetResponse with error-status 0 around already encoded varbinds."""
    vbl = b"".join(varbinds)
    pdu = request_id + b"\x02\x01\x00\x02\x01\x00" + b"\x30" + _len(len(vbl)) + vbl
    body = (b"\x02\x01\x01\x04" + _len(len(community)) + community
            + bytes((_RESPONSE,)) + _len(len(pdu)) + pdu)
    return b"\x30" + _len(len(body)) + body


def _varbind(oid_tlv: bytes, value_tlv: bytes) -> bytes:
    inner = oid_tlv + value_tlv
    return b"\x30" + _len(len(inner)) + inner


# ---------------------------------------------------------------------- answering
class FastReads:
    """Answers v2c reads of the communities in ``communities`` from ``tree``."""

    def __init__(self, tree: Any, communities: Callable[[], frozenset[bytes]],
                 max_varbinds: int) -> None:
        self.tree = tree
        self.communities = communities
        self.max_varbinds = max_varbinds
        self.answered = 0
        """Requests answered here (the rest went through pysnmp)."""

    def answer(self, data: bytes) -> bytes | None:
        """The response datagram to ``data``, or None to let pysnmp handle it."""
        req = decode_request(data)
        if req is None:
            return None
        community, pdu, request_id, a, b, oids = req
        if community not in self.communities():
            return None                          # pysnmp counts and drops it
        if pdu == _GET:
            vbs = [self._get(oid) for oid in oids]
        elif pdu == _GETNEXT:
            vbs = [self._chain(oid, 1)[0] for oid in oids]
        else:
            vbs = self._bulk(oids, max(a, 0), max(b, 0))
            if not vbs:
                return None
        out = encode_response(community, request_id, vbs)
        if len(out) > MAX_DATAGRAM:
            return None                          # pysnmp answers tooBig
        self.answered += 1
        return out

    def _get(self, oid: OID) -> bytes:
        exists, raw = self.tree.get(oid)
        if raw is None:
            return _varbind(encode_oid(oid), _NO_SUCH_INSTANCE if exists else _NO_SUCH_OBJECT)
        return _varbind(encode_oid(oid), encode_value(raw))

    def _chain(self, oid: OID, count: int) -> list[bytes]:
        """``count`` successive GETNEXT answers from ``oid`` (each from the previous one),
        read in one pass over the tree; past the end, endOfMibView at the last name."""
        out = []
        last = oid
        if count > 0:
            for nxt, raw, split in self.tree.walk(oid):
                out.append(_varbind(encode_instance(nxt, split), encode_value(raw)))
                last = nxt
                if len(out) == count:
                    return out
        if len(out) < count:
            end = _varbind(encode_oid(last), _END_OF_MIB)
            out.extend([end] * (count - len(out)))
        return out

    def _bulk(self, oids: list[OID], non_repeaters: int, repetitions: int) -> list[bytes]:
        n = min(non_repeaters, len(oids))
        r = max(len(oids) - n, 0)
        m = min(repetitions, self.max_varbinds // r) if r else repetitions
        out = [self._chain(oid, 1)[0] for oid in oids[:n]]
        if m and r:
            # repetition i of a varbind is GETNEXT of its repetition i-1: each varbind is
            # its own chain, and the response takes them round-robin
            chains = [self._chain(oid, m) for oid in oids[n:]]
            for i in range(m):
                out.extend(chain[i] for chain in chains)
        return out
