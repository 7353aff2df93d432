// @ts-check
/** A WHEP client: receive one feed (video only), non-trickle ICE. */
import { Session } from "./session.js";

export class WhepClient extends Session {
  /**
   * Connect; resolves with the remote stream once the answer is applied.
   * @param {AbortSignal} [signal]
   * @returns {Promise<MediaStream>}
   */
  async connect(signal) {
    /** @type {(stream: MediaStream) => void} */
    let resolve = () => {};
    /** @type {Promise<MediaStream>} */
    const stream = new Promise((r) => { resolve = r; });
    await this.open((pc) => {
      pc.addTransceiver("video", { direction: "recvonly" });
      pc.addEventListener("track", (e) => resolve(e.streams[0] ?? new MediaStream([e.track])),
                          { once: true });
    }, signal);
    return stream;
  }
}
