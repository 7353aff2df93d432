// @ts-check
/** What WHIP and WHEP share: an HTTP error type and non-trickle SDP exchange. */

export class HttpError extends Error {
  /** @param {number} status @param {string} reason */
  constructor(status, reason) {
    super(`${status} ${reason}`);
    this.status = status;
    this.reason = reason;
  }

  /** @returns {boolean} the token is the problem (401/403): retrying will not help */
  get denied() { return this.status === 401 || this.status === 403; }
}

/**
 * Parse RFC 9725 `Link: <url>; rel="ice-server"; username=…; credential=…` headers (fetch joins
 * several into one comma-separated value).
 * @param {string | null} header
 * @returns {RTCIceServer[]}
 */
export function parseIceLinks(header) {
  if (!header) return [];
  /** @type {RTCIceServer[]} */
  const servers = [];
  for (const link of header.split(/,\s*(?=<)/)) {
    const url = /^<([^>]+)>/.exec(link.trim());
    if (!url || !/;\s*rel="?ice-server"?/.test(link)) continue;
    /** @type {RTCIceServer} */
    const server = { urls: url[1] };
    const username = /;\s*username="([^"]*)"/.exec(link);
    const credential = /;\s*credential="([^"]*)"/.exec(link);
    if (username && credential) {
      server.username = username[1];
      server.credential = credential[1];
    }
    servers.push(server);
  }
  return servers;
}

/**
 * A peer connection set up with the relay's ICE servers (STUN/TURN with fresh credentials,
 * from an authenticated OPTIONS request, RFC 9725 section 4.4). `#ice=relay` in the page URL
 * forces TURN, to check a screen's path through a firewall.
 * @param {string} endpoint
 * @param {string} token
 * @param {AbortSignal} [signal]
 * @returns {Promise<RTCPeerConnection>}
 */
export async function newPeerConnection(endpoint, token, signal) {
  /** @type {RTCIceServer[]} */
  let iceServers = [];
  try {
    const resp = await fetch(endpoint, {
      method: "OPTIONS", headers: { Authorization: `Bearer ${token}` }, signal,
    });
    iceServers = parseIceLinks(resp.headers.get("Link"));
  } catch (e) {
    if (signal?.aborted) throw e;  // otherwise: no ICE servers, host candidates still work
  }
  const forceRelay = new URLSearchParams(location.hash.slice(1)).get("ice") === "relay";
  return new RTCPeerConnection({
    bundlePolicy: "max-bundle",
    iceServers,
    iceTransportPolicy: forceRelay ? "relay" : "all",
  });
}

/**
 * Wait until ICE gathering is complete, at most `timeoutMs` (the relay does not trickle, so
 * the offer carries every candidate gathered so far).
 * @param {RTCPeerConnection} pc
 * @param {number} timeoutMs
 */
export function iceGathered(pc, timeoutMs = 1500) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve(undefined);
    const timer = setTimeout(done, timeoutMs);
    function check() { if (pc.iceGatheringState === "complete") done(); }
    function done() {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve(undefined);
    }
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/**
 * POST the local offer, apply the answer. Returns the absolute session URL.
 * @param {RTCPeerConnection} pc
 * @param {string} endpoint
 * @param {string} token
 * @param {AbortSignal} [signal]
 * @returns {Promise<string>}
 */
export async function exchangeSdp(pc, endpoint, token, signal) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await iceGathered(pc);
  const resp = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${token}` },
    body: pc.localDescription?.sdp ?? "",
    signal,
  });
  const body = await resp.text();
  if (resp.status !== 201) throw new HttpError(resp.status, body.trim() || resp.statusText);
  const location = resp.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: body });
  // Location may be relative (it is, on this relay): resolve it against the URL that
  // answered, which is the audience tier's after a 307 (RFC 9725 load balancing).
  const answered = resp.url || new URL(endpoint, window.location.href).href;
  return location ? new URL(location, answered).href : "";
}

/**
 * End a session; best effort, survives page unload.
 * @param {string} url
 * @param {string} token
 */
export function deleteSession(url, token) {
  if (!url) return;
  fetch(url, { method: "DELETE", headers: { Authorization: `Bearer ${token}` },
               keepalive: true }).catch(() => {});
}
