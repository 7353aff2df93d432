// @ts-check
/** Exponential backoff with full jitter, for everything that reconnects by itself. */

export class Backoff {
  /**
   * @param {{baseMs?: number, maxMs?: number, factor?: number}} [options]
   */
  constructor({ baseMs = 500, maxMs = 30000, factor = 2 } = {}) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.factor = factor;
    this.attempt = 0;
  }

  /** The next delay in ms: random in [cap/2, cap], cap growing per attempt. */
  next() {
    const cap = Math.min(this.maxMs, this.baseMs * this.factor ** this.attempt);
    this.attempt += 1;
    return cap / 2 + Math.random() * (cap / 2);
  }

  reset() { this.attempt = 0; }

  /**
   * Wait the next delay; resolves early when `signal` aborts.
   * @param {AbortSignal} [signal]
   * @returns {Promise<void>}
   */
  sleep(signal) {
    return sleep(this.next(), signal);
  }
}

/**
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
