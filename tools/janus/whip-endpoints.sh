#!/bin/sh
# simple-whip-server keeps its endpoints in memory: start it, then create one per site
# (WHIP_SITES="bochum=100:5004 tsukuba=101:5006": site=room:rtp-port; the RTP forwarder
# sends the room's video to the Streaming mountpoint listening on that port, RTCP on +1).
# WHIP_TOKEN (or WHIP_TOKEN_FILE) is the bearer the relay's push presents.
set -eu
[ -n "${WHIP_TOKEN_FILE:-}" ] && WHIP_TOKEN=$(cat "$WHIP_TOKEN_FILE")
: "${WHIP_TOKEN:?WHIP_TOKEN or WHIP_TOKEN_FILE is required}"
cd /usr/share/simple-whip-server
node src/server.js &
server=$!
until curl -fsS "http://127.0.0.1:${WHIP_PORT:-7080}/whip/healthcheck" >/dev/null 2>&1; do
  kill -0 "$server" || exit 1
  sleep 0.5
done
for entry in ${WHIP_SITES:?}; do
  site=${entry%%=*}; rest=${entry#*=}; room=${rest%%:*}; port=${rest#*:}
  curl -fsS -H 'Content-Type: application/json' \
    -d "{\"id\":\"$site\",\"room\":$room,\"token\":\"$WHIP_TOKEN\",\"recipient\":{\"host\":\"127.0.0.1\",\"videoPort\":$port,\"videoRtcpPort\":$((port + 1))}}" \
    "http://127.0.0.1:${WHIP_PORT:-7080}/whip/create" >/dev/null
  echo "WHIP endpoint /whip/endpoint/$site -> room $room -> mountpoint port $port"
done
wait "$server"
