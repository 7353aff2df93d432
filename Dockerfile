# Virtual Window: one image for the relay (`window serve`) and the camera agent (`window camera`).
#
#   docker build -t virtual-window .
#   docker run --rm --network host -e WINDOW_SECRET=... -v window-data:/data virtual-window
#   docker run --rm -e WINDOW_SECRET=... -v window-data:/data virtual-window \
#       token create --role camera --site bochum --ttl 365d
#
# See docker-compose.yml and docs/deployment.md for a whole deployment.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# Runtime libraries only. opencv-python-headless, PyAV, aiortc, numpy and onnxruntime ship
# everything they load inside their wheels (no libGL, no GLib), and the face model ships in
# the package (window/privacy/models). tzdata: the sites' time zones (opening hours, slate
# clock) must resolve, so do not rely on the base. Versions are not pinned: the security
# updates of bookworm are wanted.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tzdata \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, in their own layer, so that a change to the code does not download them
# again: install the project once with an empty package, then the real one without deps.
COPY pyproject.toml README.md ./
RUN mkdir window \
 && touch window/__init__.py \
 && pip install --no-cache-dir . \
 && rm -rf window build ./*.egg-info

COPY window ./window
RUN pip install --no-cache-dir --no-deps --force-reinstall . \
 && rm -rf build ./*.egg-info \
 && window --help >/dev/null

# The pages (viewer, screen, admin) are plain files outside the package.
COPY web /app/web

RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/window window \
 && mkdir -p /data \
 && chown window:window /data \
 && chmod 700 /data

# The SQLite store, the audit log and (when WINDOW_SECRET is not set) the generated signing
# secret live in /data: keep it on a volume.
ENV WINDOW_DATA=/data \
    WINDOW_SERVER__WEB_DIR=/app/web
VOLUME ["/data"]
WORKDIR /data
# Numeric, so that `runAsNonRoot`-style checks can verify it without the passwd file.
USER 10001:10001

# HTTP: signalling (WHIP/WHEP), pages, health.
EXPOSE 8080/tcp
# WebRTC media (ICE/DTLS/SRTP) is UDP on ports that aiortc picks at random from the kernel's
# ephemeral range (no port option), so no fixed UDP port can be EXPOSEd here: run the relay
# with `--network host` (what docker-compose.yml does), or see docs/deployment.md.

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('WINDOW_SERVER__PORT', '8080') + '/healthz', timeout=4)"]

ENTRYPOINT ["window"]
CMD ["serve", "--host", "0.0.0.0"]
