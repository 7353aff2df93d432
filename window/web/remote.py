"""Who is on the other end of a request, also behind a TLS reverse proxy.

``X-Forwarded-For`` is believed only from the proxies listed in ``server.trusted_proxies``;
anyone else could write anything into it.
"""

from __future__ import annotations

from aiohttp import web


def client_address(request: web.Request, trusted_proxies: list[str]) -> str:
    peer = request.remote or ""
    if peer not in trusted_proxies:
        return peer
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")
                 if a.strip()]
    # the right-most address that is not one of our proxies is the client
    for address in reversed(forwarded):
        if address not in trusted_proxies:
            return address
    return peer
