"""Who is on the other end: the client's address and the known-device proof for login throttling.

* The client address is the TCP peer's. `X-Forwarded-For` counts only when
  the peer is one of LEUCHTTURM_TRUSTED_PROXIES (addresses or networks,
  comma-separated; default none): then the right-most address in the header
  that is not itself a trusted proxy is the client. Anyone else sending the
  header is ignored, so nobody picks their own throttling key.
  (uvicorn's own proxy-header handling is switched off in `leuchtturm serve`.)
* After a successful login the browser gets `lt_device`: the username and an
  HMAC of it under the secret key. A login for that username carrying the
  cookie skips the per-address limit (the per-account back-off still
  applies), so colleagues behind a shared address are not locked out by
  someone guessing from there (OWASP's "device cookie" advice).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache

from litestar import Request
from litestar.datastructures import Cookie

DEVICE_COOKIE = "lt_device"
DEVICE_COOKIE_DAYS = 180

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def trusted_networks(spec: str) -> tuple[Network, ...]:
    nets: list[Network] = []
    for part in (spec or "").replace(";", ",").split(","):
        if part.strip():
            nets.append(ipaddress.ip_network(part.strip(), strict=False))
    return tuple(nets)


def _trusted(address: str, nets: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_address(request: Request) -> str:
    """The client's address for throttling (see the module docstring)."""
    peer = request.client.host if request.client else "unknown"
    nets = trusted_networks(str(getattr(request.app.state.settings, "trusted_proxies", "") or ""))
    if not nets or not _trusted(peer, nets):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, nets):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed hop: fall back to the proxy itself
    return peer


def _device_mac(request: Request, username: str) -> str:
    key = request.app.state.settings.resolved_secret_key().encode()
    return hmac.new(key, f"known-device:{username}".encode(), hashlib.sha256).hexdigest()[:32]


def device_cookie(request: Request, username: str) -> Cookie:
    return Cookie(
        key=DEVICE_COOKIE,
        value=f"{username}.{_device_mac(request, username)}",
        path="/",
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.cookies_secure),
        max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
    )


def is_known_device(request: Request, username: str) -> bool:
    """Whether the request carries a valid device cookie for `username` (a malformed cookie is simply not one)."""
    value = request.cookies.get(DEVICE_COOKIE) or ""
    name, _, mac = value.rpartition(".")
    username = (username or "").strip().lower()
    if not name or name != username or not mac.isascii():
        return False
    return hmac.compare_digest(mac, _device_mac(request, username))
