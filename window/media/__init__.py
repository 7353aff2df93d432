"""The media relay: a camera's frames go through the privacy step, are encoded once per feed,
and the same packets go to every viewer.

``ingest`` reads a publisher's track, ``feed`` owns one site's pipeline and state, ``encoder``
is the shared VP8 encoder, ``feed_track`` is what each viewer's sender reads, ``slate`` draws
the still picture shown when there is no live video, ``dtls`` lets RSA-certificate peers in.
"""
