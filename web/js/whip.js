// @ts-check
/** A WHIP client: publish a local camera (video only), non-trickle ICE. */
import { deleteSession, exchangeSdp, newPeerConnection } from "./http.js";

export class WhipClient {
  /**
   * @param {string} endpoint such as "/whip/bochum"
   * @param {string} token a camera token for that site
   */
  constructor(endpoint, token) {
    this.endpoint = endpoint;
    this.token = token;
    /** @type {RTCPeerConnection | null} */
    this.pc = null;
    this.location = "";
  }

  /**
   * @param {MediaStream} stream
   * @param {AbortSignal} [signal]
   * @returns {Promise<RTCPeerConnection>}
   */
  async publish(stream, signal) {
    const pc = await newPeerConnection(this.endpoint, this.token, signal);
    this.pc = pc;
    for (const track of stream.getVideoTracks()) {
      pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    }
    try {
      this.location = await exchangeSdp(pc, this.endpoint, this.token, signal);
    } catch (e) {
      pc.close();
      throw e;
    }
    return pc;
  }

  close() {
    deleteSession(this.location, this.token);
    this.location = "";
    this.pc?.close();
    this.pc = null;
  }
}
