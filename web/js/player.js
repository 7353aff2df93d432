// @ts-check
/**
 * A feed on a <video>, kept playing forever: connects over WHEP, watches that frames keep
 * being decoded (the relay sends a slate even when the camera is gone, so silence means a
 * broken connection), and reconnects with backoff after any failure. A refused token (401 or
 * 403) is reported and retried slowly.
 *
 * Events: "state" with detail {state: "connecting"|"playing"|"retrying"|"denied", error?}.
 */
import { Backoff, sleep } from "./backoff.js";
import { WhepClient } from "./whep.js";

export class LivePlayer extends EventTarget {
  /**
   * @param {HTMLVideoElement} video
   * @param {{endpoint: string, token: () => string, stallMs?: number, deniedRetryMs?: number}} options
   */
  constructor(video, { endpoint, token, stallMs = 4000, deniedRetryMs = 30000 }) {
    super();
    this.video = video;
    this.endpoint = endpoint;
    this.token = token;
    this.stallMs = stallMs;
    this.deniedRetryMs = deniedRetryMs;
    this.backoff = new Backoff({ baseMs: 500, maxMs: 20000 });
    /** @type {WhepClient | null} */
    this.client = null;
    this.state = "idle";
    this.stopped = false;
    this.lastFrameAt = 0;
    this.wake = new AbortController();
    video.muted = true;
    video.playsInline = true;
    video.autoplay = true;
  }

  /** @param {string} state @param {unknown} [error] */
  setState(state, error) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, error } }));
  }

  start() {
    this.stopped = false;
    this.run();
    window.addEventListener("pagehide", () => this.client?.close());
    window.addEventListener("online", () => this.reconnectSoon());
    return this;
  }

  stop() {
    this.stopped = true;
    this.client?.close();
    this.wake.abort();
  }

  /**
   * Something suggests the relay is reachable again (events socket up, network online, token
   * renewed): skip the rest of the backoff wait, or drop a connection that stopped delivering.
   */
  reconnectSoon() {
    this.backoff.reset();
    if (this.state === "retrying" || this.state === "denied"
        || (this.state === "playing" && !this.framesFlowing())) {
      this.wake.abort();
    }
  }

  frames() {
    const q = this.video.getVideoPlaybackQuality?.();
    return q ? q.totalVideoFrames : 0;
  }

  /** Frames were decoded within the last stall period. */
  framesFlowing() {
    return Date.now() - this.lastFrameAt < this.stallMs;
  }

  async run() {
    while (!this.stopped) {
      this.wake = new AbortController();
      let retryMs = 0;
      try {
        this.setState("connecting");
        this.client = new WhepClient(this.endpoint, this.token());
        const stream = await this.client.connect(this.wake.signal);
        this.video.srcObject = stream;
        this.video.play().catch(() => {});
        await this.watch();
      } catch (e) {
        const err = /** @type {any} */ (e);
        if (err && err.denied) {
          this.setState("denied", err);
          retryMs = this.deniedRetryMs;
        }
      }
      this.client?.close();
      this.client = null;
      if (this.stopped) break;
      if (this.state !== "denied") this.setState("retrying");
      await sleep(retryMs || this.backoff.next(), this.wake.signal);
    }
  }

  /** Resolves when the connection is broken: failed/closed, or no frames decoded for a while. */
  watch() {
    return new Promise((resolve) => {
      const pc = /** @type {RTCPeerConnection} */ (this.client?.pc);
      const started = Date.now();
      let count = this.frames();
      this.lastFrameAt = Date.now();
      let playing = false;
      const finish = () => {
        clearInterval(timer);
        resolve(undefined);
      };
      const timer = setInterval(() => {
        const now = Date.now();
        const n = this.frames();
        if (n !== count) {
          count = n;
          this.lastFrameAt = now;
          if (!playing) {
            playing = true;
            this.backoff.reset();
            this.setState("playing");
          }
        }
        const broken = pc.connectionState === "failed" || pc.connectionState === "closed";
        const limit = playing ? this.stallMs : this.stallMs + 6000; // first frame may take a while
        if (broken || now - this.lastFrameAt > limit || this.wake.signal.aborted
            || (!playing && now - started > limit)) finish();
      }, 250);
      this.wake.signal.addEventListener("abort", finish, { once: true });
    });
  }
}
