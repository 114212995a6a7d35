"""The one way out: every outbound HTTP request (document sources, watermark images, webhooks) uses a
session whose every socket is checked against the address rules just before it connects.

The check sits at the socket, after aiohttp has normalised the host (IDNA, fullwidth digits,
ideographic full stops), resolved it and picked an address, so no spelling of a host and no
redirect can reach an address the rules refuse. Proxies from the environment are ignored.
"""

import ipaddress
import socket
from typing import Any

import aiohttp


class AddressNotAllowed(OSError):
    """The address a request was about to connect to is not allowed."""


# IPv6 ranges that carry an IPv4 address in their last 32 bits, besides the ones `ipaddress` unwraps
# itself (mapped ::ffff:0:0/96, 6to4, Teredo): compatible, SIIT and NAT64. Judged by that IPv4 address.
_EMBEDDING = tuple(ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48"))
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated, but routed as private where still in use


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _EMBEDDING):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_allowed(address: str, allow_private: bool) -> bool:
    """Public unicast addresses only, unless private ones are allowed (never the unspecified address).

    An IPv6 address that carries an IPv4 one (mapped, compatible, NAT64, 6to4, Teredo) must be
    allowed as that IPv4 address too: ::ffff:127.0.0.1, 64:ff9b::7f00:1 and 2002:7f00:1:: are loopback."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not part of the address
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        candidates.append(inner)
    if allow_private:
        return not any(c.is_unspecified for c in candidates)
    if isinstance(ip, ipaddress.IPv6Address) and ip in _SITE_LOCAL:
        return False
    return all(c.is_global and not c.is_multicast for c in candidates)


def _socket_factory(allow_private: bool) -> Any:
    def open_socket(addr_info: tuple[Any, ...]) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        if family not in (socket.AF_INET, socket.AF_INET6) or not address_allowed(sockaddr[0], allow_private):
            raise AddressNotAllowed(f"connecting to {sockaddr[0]} is not allowed")
        return socket.socket(family, type_, proto)

    return open_socket


def guarded_session(*, allow_private: bool, timeout_s: float) -> aiohttp.ClientSession:
    """A client session that can only connect to allowed addresses (caller closes it)."""
    connector = aiohttp.TCPConnector(socket_factory=_socket_factory(allow_private), use_dns_cache=False)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s), trust_env=False, auto_decompress=False
    )


def was_refused(exc: BaseException) -> bool:
    """Whether a client error was the guard refusing the address (at any depth of the error)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, AddressNotAllowed):
            return True
        todo += [e for e in (current.__cause__, current.__context__, getattr(current, "os_error", None)) if e]
        todo += list(getattr(current, "exceptions", ()))
    return False
