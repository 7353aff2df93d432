// @ts-check
/** What a WHIP and a WHEP client share: one session at the relay, opened and hung up. */
import { deleteSession, exchangeSdp, newPeerConnection } from "./http.js";

export class Session {
  /**
   * @param {string} endpoint such as "/whep/tsukuba" or "/whip/bochum"
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
   * A peer connection with the relay's ICE servers, set up by `setup` (transceivers,
   * listeners), offered and answered (non-trickle). Closed again if that fails.
   * @param {(pc: RTCPeerConnection) => void} setup
   * @param {AbortSignal} [signal]
   * @returns {Promise<RTCPeerConnection>}
   */
  async open(setup, signal) {
    const pc = await newPeerConnection(this.endpoint, this.token, signal);
    this.pc = pc;
    setup(pc);
    try {
      this.location = await exchangeSdp(pc, this.endpoint, this.token, signal);
    } catch (e) {
      pc.close();
      throw e;
    }
    return pc;
  }

  /** Hang up: DELETE the session (the server frees it at once) and close the peer. */
  close() {
    deleteSession(this.location, this.token);
    this.location = "";
    this.pc?.close();
    this.pc = null;
  }
}
