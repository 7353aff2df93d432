"""SDP adjustments our own WHIP clients make so that other WebRTC servers work with them.

One documented interop fix each (docs/deployment.md, "What interop with Janus needed"):

``renumber_payload``: aiortc numbers VP8 97; browsers, OBS and GStreamer number it 96.
Janus's VideoRoom RTP forwarder (as Debian's ``simple-whip-server`` sets it up, without a
``pt``) keeps the publisher's payload type, and the Streaming plugin relays packets as they
come while announcing the mountpoint's own number to viewers. A publisher into Janus must
therefore send the number the mountpoint (and every browser viewer) uses: our WHIP offers
say 96 for VP8. Any answerer, aiortc's included, then sends or expects 96: payload type
numbers are only labels agreed in the offer/answer.
"""

from __future__ import annotations

import re

VP8_PT = 96


def renumber_payload(sdp: str, codec: str = "VP8", pt: int = VP8_PT) -> str:
    """``sdp`` with ``codec``'s dynamic payload type changed to ``pt`` (and the number that
    held ``pt`` before, if any, swapped to the old one), in the ``m=`` line, ``rtpmap``,
    ``fmtp``, ``rtcp-fb`` and RTX ``apt=``. Unchanged if the codec is absent or already ``pt``.
    """
    found = re.search(rf"^a=rtpmap:(\d+) {re.escape(codec)}/", sdp, re.MULTILINE | re.IGNORECASE)
    if found is None or int(found.group(1)) == pt:
        return sdp
    old = found.group(1)
    new = str(pt)
    swap = {old: new, new: old}

    def fix(line: str) -> str:
        if line.startswith("m="):
            head, *pts = line.split(" ")
            fixed = pts[:2] + [swap.get(p, p) for p in pts[2:]]
            return " ".join([head, *fixed])
        m = re.match(r"^a=(rtpmap|fmtp|rtcp-fb):(\d+)(.*)$", line)
        if m:
            rest = re.sub(r"\bapt=(\d+)", lambda a: "apt=" + swap.get(a.group(1), a.group(1)),
                          m.group(3))
            return f"a={m.group(1)}:{swap.get(m.group(2), m.group(2))}{rest}"
        return line

    eol = "\r\n" if "\r\n" in sdp else "\n"
    return eol.join(fix(line) for line in sdp.split(eol))
