// @ts-check
/** A WHIP client: publish a local camera (video only), non-trickle ICE. */
import { Session } from "./session.js";

export class WhipClient extends Session {
  /**
   * @param {MediaStream} stream
   * @param {AbortSignal} [signal]
   * @returns {Promise<RTCPeerConnection>}
   */
  publish(stream, signal) {
    return this.open((pc) => {
      for (const track of stream.getVideoTracks()) {
        pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
      }
    }, signal);
  }
}
