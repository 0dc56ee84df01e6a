"""Network facts about addresses, shared by config validation and the catalog (no I/O)."""

from __future__ import annotations

import ipaddress


def is_loopback(address: str) -> bool:
    """True for `localhost` and loopback IPs; a listener or upstream on one never leaves the machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
