"""SNMPv3 protocol names of ``config/snmp_agent`` → pysnmp's USM protocol ids (agent and
traps use the same)."""

from __future__ import annotations

from pysnmp.entity import config

__all__ = ["AUTH", "PRIV"]

AUTH = {
    "MD5": config.USM_AUTH_HMAC96_MD5, "SHA": config.USM_AUTH_HMAC96_SHA,
    "SHA224": config.USM_AUTH_HMAC128_SHA224, "SHA256": config.USM_AUTH_HMAC192_SHA256,
    "SHA384": config.USM_AUTH_HMAC256_SHA384, "SHA512": config.USM_AUTH_HMAC384_SHA512,
}
PRIV = {
    "DES": config.USM_PRIV_CBC56_DES, "AES": config.USM_PRIV_CFB128_AES,
    # draft-blumenthal-aes-usm key extension, as net-snmp's AES-192/AES-256 (its
    # AES-192C/AES-256C are Cisco's, which differ when the auth hash is short: MD5, SHA)
    "AES192": config.USM_PRIV_CFB192_AES_BLUMENTHAL,
    "AES256": config.USM_PRIV_CFB256_AES_BLUMENTHAL,
}
