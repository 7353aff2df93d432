"""Signalling over HTTP: WHIP for cameras, WHEP for viewers (RFC 9725 and the WHEP draft).

``body`` reads and checks SDP bodies, ``sdpfrag`` parses trickle-ICE fragments, ``session``
is one peer connection, ``whip`` and ``whep`` are the HTTP handlers.
"""
