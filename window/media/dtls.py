"""Let peers with RSA DTLS certificates in.

Stock aiortc offers only ECDHE-ECDSA cipher suites. When aiortc is the DTLS client and the
peer's certificate is RSA (GStreamer's webrtcbin, as in Debian's ``simple-whip-client``), the
handshake fails with "no shared cipher". We add the ECDHE-RSA suites; the certificate is still
pinned by the fingerprint in the SDP, so nothing is weakened.
"""

from __future__ import annotations

from typing import Any

from aiortc.rtcdtlstransport import RTCCertificate

CIPHERS = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA"
)

_installed = False


def allow_rsa_peers() -> None:
    """Idempotently widen aiortc's DTLS cipher list."""
    global _installed
    if _installed:
        return
    original = RTCCertificate._create_ssl_context

    def create(self: RTCCertificate, srtp_profiles: Any) -> Any:
        ctx = original(self, srtp_profiles)
        ctx.set_cipher_list(CIPHERS)
        return ctx

    RTCCertificate._create_ssl_context = create  # type: ignore[method-assign]
    _installed = True
