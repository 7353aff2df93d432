// @ts-check
/**
 * The `/events` WebSocket, kept open forever: the token goes as the first message, the
 * connection is checked with pings, and it reconnects with backoff after any drop. Each server
 * message is dispatched as a CustomEvent named after its `type` ("hello", "snapshot", "feed",
 * "viewers", "camera", "error"); "up" and "down" tell the connection state.
 * See docs/events.md.
 */
import { Backoff, sleep } from "./backoff.js";

const PING_MS = 10000;
const PONG_TIMEOUT_MS = 5000;

export class EventsClient extends EventTarget {
  /**
   * @param {string} token
   * @param {{url?: string, backoff?: Backoff}} [options]
   */
  constructor(token, { url = undefined, backoff = new Backoff({ baseMs: 300, maxMs: 15000 }) } = {}) {
    super();
    this.token = token;
    this.url = url ?? `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/events`;
    this.backoff = backoff;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.connected = false;
    this.stopped = false;
    /** the last error message from the server (401/403), cleared by a good hello */
    /** @type {{status: number, reason: string} | null} */
    this.denied = null;
    this.abort = new AbortController();
  }

  start() {
    this.stopped = false;
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    this.abort.abort();
    this.ws?.close();
  }

  /** Use a renewed token; an open socket switches at once. @param {string} token */
  setToken(token) {
    this.token = token;
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ type: "auth", token }));
    }
  }

  /** @param {string} type @param {any} detail */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async loop() {
    while (!this.stopped) {
      await this.once();
      if (this.stopped) break;
      // A refused token is retried slowly (it may be renewed meanwhile); other drops quickly.
      await (this.denied ? sleep(30000, this.abort.signal) : this.backoff.sleep(this.abort.signal));
    }
  }

  /** One connection, until it ends. @returns {Promise<void>} */
  once() {
    return new Promise((resolve) => {
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch {
        resolve();
        return;
      }
      this.ws = ws;
      let lastPong = Date.now();
      const pinger = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        if (Date.now() - lastPong > PING_MS + PONG_TIMEOUT_MS) {
          ws.close(); // no answer: the network is gone even if TCP does not know yet
          return;
        }
        ws.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
      ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: this.token }));
      ws.onmessage = (e) => {
        lastPong = Date.now();
        let msg;
        try { msg = JSON.parse(e.data); } catch { return; }
        if (msg.type === "hello") {
          this.denied = null;
          this.backoff.reset();
          if (!this.connected) {
            this.connected = true;
            this.emit("up", msg);
          }
        } else if (msg.type === "error") {
          this.denied = { status: msg.status, reason: msg.reason };
        }
        this.emit(msg.type, msg);
      };
      ws.onclose = () => {
        clearInterval(pinger);
        if (this.connected) {
          this.connected = false;
          this.emit("down", null);
        }
        resolve();
      };
    });
  }
}
