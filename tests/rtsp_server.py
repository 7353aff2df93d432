"""A real RTSP server on loopback for the camera tests: GStreamer's RTSP server library
(Debian: python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-ugly for x264enc).

Run with Debian's own Python (``/usr/bin/python3``: the GObject bindings are not in the
venv), as a subprocess: ``tests/rtsp.py`` does that.

    /usr/bin/python3 tests/rtsp_server.py --port 0 --width 1280 --height 720 --fps 30

Serves ``rtsp://127.0.0.1:PORT/cam``: a live test pattern (a moving ball)
encoded with x264 (`--profile`, constrained baseline by default; a keyframe every second,
SPS/PPS in band), one shared media for
every client. Prints ``{"port": PORT}`` on stdout once it listens; runs until killed.
"""

from __future__ import annotations

import argparse
import json
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--bitrate", type=int, default=2500, help="kbit/s")
    ap.add_argument("--profile", default="constrained-baseline",
                    help="H.264 profile: constrained-baseline, main or high (most IP cameras)")
    args = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true pattern=ball ! "
        f"video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 ! "
        f"x264enc tune=zerolatency speed-preset=ultrafast "
        f"key-int-max={args.fps} bitrate={args.bitrate} ! "
        f"video/x-h264,profile={args.profile} ! "
        f"rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(json.dumps({"error": f"cannot listen on port {args.port}"}), flush=True)
        return 1
    print(json.dumps({"port": server.get_bound_port()}), flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
