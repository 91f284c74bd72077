// The supervisor's panel (only for a supervisor session): the callers waiting in queues, the
// team's calls now, the missed calls no one has called back, and per operator the day's
// answered and missed calls and talk time — GET /v1/team, reloaded (debounced) whenever a
// colleague's line changes, and every few seconds while the page is visible.

import { formatNumber, h, numberWithCall } from "./api.js";
import { directionName, formatDateTime, formatDuration, formatRelative, t } from "./i18n.js";

const REFRESH_MS = 5000;

export class Team {
  /** root: the team section (hidden until shown here); api: an Api; onCall(number). */
  constructor(root, api, onCall) {
    this.root = root;
    this.api = api;
    this.onCall = onCall;
    this.timer = null;
    this.root.hidden = false;
    // colleagues' calls are not in this session's feed: a presence change reloads at once,
    // and a visible panel reloads every REFRESH_MS anyway (one request)
    window.setInterval(() => {
      if (document.visibilityState === "visible") this.load();
    }, REFRESH_MS);
  }

  schedule(delay = 400) {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.load(), delay);
  }

  async load() {
    window.clearTimeout(this.timer);
    const status = this.root.querySelector("[data-status]");
    try {
      this.draw(await this.api.team());
      status.textContent = "";
    } catch (error) {
      status.textContent = t("team.failed", { error: error.message });
    }
  }

  list(name, items, line, none) {
    const list = this.root.querySelector(`[data-${name}]`);
    list.replaceChildren(...(items.length ? items.map(line) : [h("li", { class: "muted" }, none)]));
  }

  draw(team) {
    const number = (n) => (n ? numberWithCall(n, this.onCall, formatNumber(n)) : t("card.internal"));
    const since = (us) => h("time", { datetime: new Date(us / 1000).toISOString() }, formatRelative(new Date(us / 1000)));
    this.list("waiting", team.waiting, (c) => h("li", { "data-call-id": c.call_id },
      number(c.external), " ", t("team.in_queue", { queue: c.queue }), " · ", since(c.started_at)), t("team.none_waiting"));
    this.list("live", team.live, (c) => h("li", { "data-call-id": c.call_id },
      number(c.external), " · ", directionName(c.direction), " · ",
      t("team.with", { extension: (c.talking || []).join(", ") || c.extension || "—" }), " · ", since(c.started_at)), t("team.none_live"));
    this.list("callbacks", team.callbacks, (r) => h("li", { "data-call-id": r.call_id, class: "callback" },
      number(r.external), " · ", formatDateTime(new Date(r.started_at / 1000))), t("team.none_callbacks"));
    const rows = team.operators.map((o) => h("tr", { "data-extension": o.extension },
      h("th", { scope: "row" }, o.extension), h("td", {}, String(o.answered)), h("td", {}, String(o.missed)),
      h("td", {}, formatDuration(o.talk_seconds))));
    this.root.querySelector("[data-operators]").replaceChildren(...rows);
  }
}
