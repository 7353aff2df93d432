// @ts-check
/** A WHEP client: receive one feed (video only), non-trickle ICE. */
import { deleteSession, exchangeSdp, newPeerConnection } from "./http.js";

export class WhepClient {
  /**
   * @param {string} endpoint such as "/whep/tsukuba"
   * @param {string} token
   */
  constructor(endpoint, token) {
    this.endpoint = endpoint;
    this.token = token;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    this.location = "";
  }

  /**
   * Connect; resolves with the remote stream once the answer is applied.
   * @param {AbortSignal} [signal]
   * @returns {Promise<MediaStream>}
   */
  async connect(signal) {
    const pc = await newPeerConnection(this.endpoint, this.token, signal);
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    /** @type {Promise<MediaStream>} */
    const stream = new Promise((resolve) => {
      pc.addEventListener("track", (e) => resolve(e.streams[0] ?? new MediaStream([e.track])),
                          { once: true });
    });
    try {
      this.location = await exchangeSdp(pc, this.endpoint, this.token, signal);
    } catch (e) {
      pc.close();
      throw e;
    }
    return stream;
  }

  /** Hang up: DELETE the session (the server frees it at once) and close the peer. */
  close() {
    deleteSession(this.location, this.token);
    this.location = "";
    this.pc?.close();
    this.pc = null;
  }
}
