"""Reading request bodies the way WHIP/WHEP demand: the right type, capped, valid SDP text."""

from __future__ import annotations

from aiohttp import web

from ..errors import BadRequest, PayloadTooLarge, UnsupportedMediaType


def _media_type(request: web.Request) -> str:
    return request.headers.get("Content-Type", "").split(";")[0].strip().lower()


async def read_text(request: web.Request, content_type: str, limit: int) -> str:
    """The body as text, if it has ``content_type`` and at most ``limit`` bytes."""
    if _media_type(request) != content_type:
        got = _media_type(request) or "none"
        raise UnsupportedMediaType(f"Content-Type must be {content_type}, not {got}")
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"body over the limit of {limit} bytes")
    data = await request.content.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"body over the limit of {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8 text") from None


async def read_offer(request: web.Request, limit: int) -> str:
    """An SDP offer that at least looks like one; aiortc checks the rest."""
    sdp = await read_text(request, "application/sdp", limit)
    text = sdp.replace("\r\n", "\n").strip()
    if not text.startswith("v=0"):
        raise BadRequest("malformed SDP: an offer starts with v=0")
    if "\nm=video " not in "\n" + text:
        raise BadRequest("malformed SDP: the offer has no video m-line")
    if "a=fingerprint:" not in text:
        raise BadRequest("malformed SDP: no DTLS fingerprint")
    if "a=ice-ufrag:" not in text or "a=ice-pwd:" not in text:
        raise BadRequest("malformed SDP: no ICE credentials")
    return sdp if sdp.endswith("\n") else sdp + "\r\n"
