// @ts-check
/**
 * A site's local time, from its IANA time zone. Intl.DateTimeFormat applies the zone's rules,
 * so the time is right across daylight-saving changes without any table of ours.
 */

export class SiteClock {
  /**
   * @param {HTMLElement} element where the time is written
   * @param {string} timeZone IANA zone such as "Asia/Tokyo"
   * @param {{locale?: string, withDate?: boolean}} [options]
   */
  constructor(element, timeZone, { locale = undefined, withDate = true } = {}) {
    this.element = element;
    this.timeZone = timeZone;
    this.time = new Intl.DateTimeFormat(locale, { timeZone, hour: "2-digit", minute: "2-digit",
                                                  hourCycle: "h23" });
    this.date = withDate
      ? new Intl.DateTimeFormat(locale, { timeZone, weekday: "short", day: "numeric",
                                          month: "short" })
      : null;
    /** @type {number | undefined} */
    this.timer = undefined;
  }

  /** @param {Date} [now] @returns {string} */
  format(now = new Date()) {
    const time = this.time.format(now);
    return this.date ? `${time} · ${this.date.format(now)}` : time;
  }

  start() {
    const tick = () => {
      const now = new Date();
      this.element.textContent = this.format(now);
      this.element.setAttribute("datetime", now.toISOString());
      this.timer = window.setTimeout(tick, 1000 - (now.getTime() % 1000) + 5);
    };
    this.stop();
    tick();
    return this;
  }

  stop() {
    if (this.timer !== undefined) window.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * "Sat 08:00" / "Sa., 08:00" / "(土) 08:00" in the site's zone, for "opens at" messages.
 * @param {string} iso
 * @param {string} timeZone
 * @param {string} [locale]
 */
export function formatOpening(iso, timeZone, locale = "en-GB") {
  return new Intl.DateTimeFormat(locale, { timeZone, weekday: "short", hour: "2-digit",
                                           minute: "2-digit", hourCycle: "h23" })
    .format(new Date(iso));
}
