"""Schema of ``config/network``: IPv4/IPv6 configuration per network interface (§5.3).

Owns the per-interface keys (DHCP or static address, gateway, DNS, IPv6 router
advertisements and link-local addressing). Invariants: a static interface (DHCP
disabled) has an IPv4 address and a prefix length; every address parses with
``ipaddress``; an error inside an interface names the full dotted key, e.g.
``interfaces.eth0.ipv4Address``, which is also how the shell sets it. Read by
``core.configuration`` through ``SETTINGS_TOPICS``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from ..i18n import N_
from ._base import Toggle
from ._common import IpOrEmpty, NestedSettings, TopicSettings, fail, split_list

__all__ = ["InterfaceSettings", "NetworkSettings"]

_IFNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,14}$")
IFNAME_WORDS = ("an interface name of 1 to 15 letters, digits, '-' or '_' starting with a "
                "letter, such as eth0")
"""Allowed-text of an interface name (no dots: dotted keys address nested values)."""


def _ipv4_or_empty(value: str) -> str:
    value = value.strip()
    if not value:
        return value
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise ValueError("an IPv4 address such as 192.168.1.20, or empty") from None


def _dns_server(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("an IPv4 or IPv6 address of a DNS server") from None


Ipv4OrEmpty = Annotated[str, Field(max_length=15), AfterValidator(_ipv4_or_empty)]
"""An IPv4 address, or empty."""
DnsServer = Annotated[str, Field(max_length=45), AfterValidator(_dns_server)]
"""The IPv4 or IPv6 address of a DNS server."""


class InterfaceSettings(NestedSettings):
    """One network interface: DHCP or a static address, and IPv6 options."""

    dhcp: Toggle = True
    """Get the IPv4 address, gateway and DNS by DHCP; disable for a static address."""
    ipv4Address: Ipv4OrEmpty = ""
    """Static IPv4 address (needed when DHCP is disabled)."""
    prefixLength: int = 0
    """Subnet prefix length of the static address, 1 to 32 (0 = not set; needed when
    DHCP is disabled)."""
    gateway: IpOrEmpty = ""
    """Default gateway address (optional)."""
    dns: Annotated[list[DnsServer], Field(max_length=4), BeforeValidator(split_list)] = Field(
        default_factory=list)
    """DNS server addresses, at most 4 (optional; a comma-separated text is accepted)."""
    ipv6Ra: Toggle = True
    """Take an IPv6 address and default route from router advertisements (no DNS
    without a DHCPv6 server)."""
    ipv6Lla: Toggle = True
    """Generate an IPv6 link-local address from the interface's MAC address."""
    llaFallback: Toggle = False
    """When DHCP gets no lease, give the interface an IPv4 link-local address
    (169.254.x.y/16, RFC 3927, derived from its MAC address) until a lease comes, so the
    controller stays reachable on its segment."""

    @field_validator("prefixLength")
    @classmethod
    def _prefix_range(cls, value: int) -> int:
        if not 0 <= value <= 32:
            raise ValueError("a prefix length from 0 to 32 (0 = not set)")
        return value

    @model_validator(mode="after")
    def _static_needs_address(self) -> InterfaceSettings:
        if self.dhcp:
            return self
        if not self.ipv4Address:
            raise fail("ipv4Address", self.ipv4Address,
                       "an IPv4 address such as 192.168.1.20 (required when dhcp is disabled)")
        if not self.prefixLength:
            raise fail("prefixLength", self.prefixLength,
                       "a prefix length from 1 to 32 (required when dhcp is disabled)")
        net = ipaddress.IPv4Interface(f"{self.ipv4Address}/{self.prefixLength}")
        if self.gateway and ipaddress.ip_address(self.gateway).version == 4:
            if ipaddress.IPv4Address(self.gateway) == net.ip:
                raise fail("gateway", self.gateway,
                           "the address of a router, not the interface's own address")
            if ipaddress.IPv4Address(self.gateway) not in net.network:
                raise fail("gateway", self.gateway,
                           f"an address inside the interface's subnet {net.network}")
        return self


def _default_interfaces() -> dict[str, InterfaceSettings]:
    return {"eth0": InterfaceSettings()}


class NetworkSettings(TopicSettings):
    """Network interfaces of the controller (§5.3)."""

    TOPIC: ClassVar[str] = "network"
    TITLE: ClassVar[str] = N_("Network")
    SERVICE: ClassVar[str | None] = "network"
    SERVICE_NOTE: ClassVar[str] = ("Applied to the host at once, behind a confirm timer, only "
                                   "when the controller was started with --manage-host.")

    interfaces: Annotated[dict[str, InterfaceSettings], Field(max_length=16)] = Field(
        default_factory=_default_interfaces)
    """Interface name → its settings (at most 16); set one key with a dotted path,
    e.g. interfaces.eth0.dhcp=false."""
    confirmSeconds: int = Field(default=120, ge=5, le=3600)
    """Seconds an operator has to confirm an applied change (`network confirm`) before
    the previous configuration is restored (only with --manage-host; 5 to 3600)."""

    @field_validator("interfaces", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name in value:
                if not isinstance(name, str) or not _IFNAME.match(name):
                    raise fail(str(name), name, IFNAME_WORDS)  # located under "interfaces"
        return value
