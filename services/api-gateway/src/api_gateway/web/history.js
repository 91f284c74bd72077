// Call history: the operator's call records with filters, click-to-call on every number,
// and a player that streams the recording through a signed link (the <audio> element seeks
// with HTTP Range requests). It lives: a call appears as it starts (from the operator's
// feed) and its record replaces it when it ends; missed calls no one has called back yet
// (the server decides: callback_needed) are marked and listed first. Reloads are debounced
// and keep the filters.

import { formatNumber, h, numberWithCall } from "./api.js";
import { directionName, formatDateTime, formatDuration, formatRelative, resultName, t } from "./i18n.js";

const RECHECK_MS = 10000;

export class History {
  /** root: the history section; api: an Api; onCall(number): click-to-call; options.explain:
   *  offer "Why" on each call (a supervisor: how the call was built and what the CRM got). */
  constructor(root, api, onCall, options = {}) {
    this.explainCalls = Boolean(options.explain);
    this.explained = root.querySelector("[data-explain]");
    this.root = root;
    this.api = api;
    this.onCall = onCall;
    this.form = root.querySelector("form");
    this.body = root.querySelector("tbody");
    this.more = root.querySelector("[data-more]");
    this.status = root.querySelector("[data-status]");
    this.player = root.querySelector("audio");
    this.playing = root.querySelector("[data-playing]");
    this.cursor = null;
    this.live = new Map(); // call_id -> the card.show message of a call in progress
    this.marked = new Set(); // call_ids marked "call back"
    this.timer = null;
    window.setInterval(() => this.recheck(), RECHECK_MS);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.load();
    });
    this.form.addEventListener("change", () => this.load());
    this.more.addEventListener("click", () => this.load(this.cursor));
  }

  filters() {
    const f = new FormData(this.form);
    const day = (value, end) => (value ? (Date.parse(`${value}T00:00:00`) + (end ? 86400000 : 0)) * 1000 : "");
    return {
      number: String(f.get("number") || "").replace(/[^\d+]/g, ""),
      direction: f.get("direction"),
      result: f.get("result"),
      since: day(f.get("since"), false),
      until: day(f.get("until"), true),
    };
  }

  /** Reload soon, once for a burst of changes (the filters stay as they are). */
  schedule(delay = 300) {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.load(), delay);
  }

  /** A message of the operator's feed: a call shows at once, ends into its record. */
  handle(message) {
    if (message.type === "card.show" && !this.live.has(message.call_id) && this.shows(message)) {
      this.live.set(message.call_id, { ...message, seen: Date.now() });
      this.body.querySelector(`tr[data-call-id="${CSS.escape(message.call_id)}"]`)?.remove();
      const row = this.liveRow(this.live.get(message.call_id));
      const marked = [...this.body.querySelectorAll("tr.callback")].pop();
      if (marked) marked.after(row);
      else this.body.prepend(row);
    } else if (message.type === "card.hide" || message.type === "call.ended") {
      this.live.delete(message.call_id);
      this.schedule();
    } else if (message.type === "snapshot") {
      const showing = new Set((message.cards || []).map((c) => c.call_id));
      for (const id of [...this.live.keys()]) if (!showing.has(id)) this.live.delete(id);
      this.schedule();
    }
  }

  /** A call in progress passes the filters that apply to it already (direction, number). */
  shows(message) {
    const f = this.filters();
    if (f.direction && message.direction !== f.direction) return false;
    if (f.result || f.until) return false; // no result yet; a past day shows no live call
    return !f.number || String(message.external || "").replace(/\D/g, "").includes(f.number.replace(/\D/g, ""));
  }

  /** A colleague's line changed: a call of theirs may have been a call back. */
  colleagueChanged(state) {
    if (this.marked.size && state && state.state === "idle") this.schedule(500);
  }

  /** While calls are marked, ask every RECHECK_MS (one small request, visible pages only)
   * whether a colleague has called one back: their calls are not in this operator's feed. */
  async recheck() {
    if (!this.marked.size || document.visibilityState !== "visible") return;
    try {
      const now = await this.api.calls({ ...this.filters(), limit: 50, callback: "needed" });
      const ids = new Set(now.calls.map((r) => r.call_id));
      if (ids.size !== this.marked.size || [...ids].some((id) => !this.marked.has(id))) this.schedule(0);
    } catch {
      // the next load says what failed
    }
  }

  async load(cursor = null) {
    window.clearTimeout(this.timer);
    this.status.textContent = t("loading");
    try {
      const filters = { ...this.filters(), limit: 25, cursor };
      const [page, callbacks] = await Promise.all([
        this.api.calls(filters),
        cursor ? { calls: [] } : this.api.calls({ ...filters, limit: 50, callback: "needed" }),
      ]);
      const first = new Set(callbacks.calls.map((r) => r.call_id));
      if (!cursor) {
        this.body.replaceChildren();
        this.marked = first;
        for (const record of callbacks.calls) this.body.append(this.row(record));
        for (const message of this.live.values()) this.body.append(this.liveRow(message));
      }
      for (const record of page.calls) {
        if (!first.has(record.call_id) && !this.live.has(record.call_id)) this.body.append(this.row(record));
      }
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      const count = this.body.children.length;
      this.status.textContent = count ? t("history.count", { count }) : t("history.none");
    } catch (error) {
      this.status.textContent = t("history.failed", { error: error.message });
    }
  }

  liveRow(message) {
    const when = new Date(message.seen);
    const number = message.external;
    return h("tr", { class: "live", "data-call-id": message.call_id },
      h("td", {}, h("time", { datetime: when.toISOString() }, formatDateTime(when))),
      h("td", {}, directionName(message.direction)),
      h("td", {}, number ? numberWithCall(number, this.onCall) : "—"),
      h("td", { class: "result result-live" }, t("history.live")),
      h("td", {}, "—"),
      h("td", {}, h("span", { class: "muted" }, "—")));
  }

  row(record) {
    const when = new Date(record.started_at / 1000);
    const talk = record.talk_seconds ? formatDuration(record.talk_seconds) : "—";
    const number = record.external || record.called || record.caller;
    const play = record.recording_file
      ? h("button", { type: "button", class: "button", "aria-label": t("history.play_label", { number: formatNumber(number) }),
        onclick: () => this.play(record) }, t("history.play"))
      : h("span", { class: "muted" }, "—");
    const why = this.explainCalls
      ? h("button", { type: "button", class: "button link", "data-why": record.call_id,
        "aria-label": t("history.explain_label", { number: formatNumber(number) }),
        onclick: () => this.explain(record) }, t("history.explain"))
      : null;
    const mark = record.callback_needed
      ? h("span", { class: "badge callback-mark", title: t("history.callback_title") }, t("history.callback"))
      : null;
    return h("tr", { "data-call-id": record.call_id, class: record.callback_needed ? "callback" : "" },
      h("td", {}, h("time", { datetime: when.toISOString(), title: formatRelative(when) }, formatDateTime(when))),
      h("td", {}, directionName(record.direction)),
      h("td", {}, number ? numberWithCall(number, this.onCall) : "—"),
      h("td", { class: `result result-${record.result}` }, resultName(record.result), mark ? " " : null, mark),
      h("td", {}, talk),
      h("td", {}, play, why ? " " : null, why));
  }

  /** A supervisor's "Why": each frame's decisions, then what crm-sync did, in order. */
  async explain(record) {
    const list = this.explained.querySelector("ol");
    this.explained.hidden = false;
    list.replaceChildren();
    try {
      const exp = await this.api.explain(record);
      const lines = [
        ...(exp.frames || []).flatMap((f) => (f.decisions || []).map((d) => `${f.event}: ${d}`)),
        ...(exp.crm || []).map((c) => `CRM ${c.kind}: ${c.what}`),
      ];
      list.replaceChildren(...(lines.length ? lines : [t("explain.none")]).map((text) => h("li", {}, text)));
    } catch (error) {
      list.replaceChildren(h("li", {}, t("explain.failed", { error: error.message })));
    }
    this.explained.focus();
  }

  async play(record) {
    this.playing.textContent = t("history.opening");
    try {
      const link = await this.api.recordingLink(record.call_id, record.pbx);
      this.player.src = link.url;
      this.player.hidden = false;
      this.playing.textContent = t("history.recording_of", { number: formatNumber(record.external), when: formatDateTime(record.started_at / 1000) });
      await this.player.play().catch(() => null); // autoplay may be refused: the controls stay
      this.player.focus();
    } catch (error) {
      this.playing.textContent = t("history.no_recording", { error: error.message });
    }
  }
}
