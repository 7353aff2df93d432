// @ts-check
/**
 * Tokens travel in the URL fragment (`#token=…&camera=…`), which browsers never send to the
 * server. This module reads them, decodes the (unverified) claims for display and timing, and
 * writes a renewed token back into the fragment so a reload keeps working.
 */

/**
 * @typedef {object} Claims
 * @property {string} [role]
 * @property {string} [site]
 * @property {string} [sub]
 * @property {string} [jti]
 * @property {number} [exp]  Unix seconds
 * @property {number} [iat]  Unix seconds
 */

/** @param {string} part @returns {string} */
function base64UrlDecode(part) {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = b64 + "=".repeat((4 - (b64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/**
 * The claims of a JWT, or null when it is not one. Not verified: the server does that.
 * @param {string} token
 * @returns {Claims | null}
 */
export function decodeClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1]));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

export class FragmentToken {
  /** @param {string} [name] the fragment parameter, "token" or "camera" */
  constructor(name = "token") {
    this.name = name;
    /** @type {string} */
    this.value = new URLSearchParams(location.hash.slice(1)).get(name) || "";
    /** @type {Claims | null} */
    this.claims = this.value ? decodeClaims(this.value) : null;
  }

  /** @returns {boolean} the fragment holds something that looks like a JWT */
  get present() { return this.value !== ""; }

  /** @returns {boolean} */
  get wellFormed() { return this.claims !== null; }

  /** Seconds until expiry (negative: expired); Infinity without `exp`. */
  secondsLeft(now = Date.now() / 1000) {
    return this.claims && typeof this.claims.exp === "number" ? this.claims.exp - now : Infinity;
  }

  /** @returns {boolean} */
  get expired() { return this.secondsLeft() < 0; }

  /** The token's full lifetime in seconds (exp − iat), or null. */
  get lifetime() {
    const c = this.claims;
    return c && typeof c.exp === "number" && typeof c.iat === "number" ? c.exp - c.iat : null;
  }

  /**
   * Use a renewed token from now on, and keep it in the fragment for reloads.
   * @param {string} token
   */
  replace(token) {
    this.value = token;
    this.claims = decodeClaims(token);
    const params = new URLSearchParams(location.hash.slice(1));
    params.set(this.name, token);
    history.replaceState(null, "", "#" + params.toString());
  }
}
