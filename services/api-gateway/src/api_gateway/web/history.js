// Call history: the operator's call records with filters, click-to-call on every number,
// and a player that streams the recording through a signed link (the <audio> element seeks
// with HTTP Range requests).

import { formatNumber, h, numberWithCall } from "./api.js";
import { directionName, formatDateTime, formatDuration, formatRelative, resultName, t } from "./i18n.js";

export class History {
  /** root: the history section; api: an Api; onCall(number): click-to-call. */
  constructor(root, api, onCall) {
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

  async load(cursor = null) {
    this.status.textContent = t("loading");
    try {
      const page = await this.api.calls({ ...this.filters(), limit: 25, cursor });
      if (!cursor) this.body.replaceChildren();
      for (const record of page.calls) this.body.append(this.row(record));
      this.cursor = page.next_cursor;
      this.more.hidden = !this.cursor;
      const count = this.body.children.length;
      this.status.textContent = count ? t("history.count", { count }) : t("history.none");
    } catch (error) {
      this.status.textContent = t("history.failed", { error: error.message });
    }
  }

  row(record) {
    const when = new Date(record.started_at / 1000);
    const talk = record.talk_seconds ? formatDuration(record.talk_seconds) : "—";
    const number = record.external || record.called || record.caller;
    const play = record.recording_file
      ? h("button", { type: "button", class: "button", "aria-label": t("history.play_label", { number: formatNumber(number) }),
        onclick: () => this.play(record) }, t("history.play"))
      : h("span", { class: "muted" }, "—");
    return h("tr", { "data-call-id": record.call_id },
      h("td", {}, h("time", { datetime: when.toISOString(), title: formatRelative(when) }, formatDateTime(when))),
      h("td", {}, directionName(record.direction)),
      h("td", {}, number ? numberWithCall(number, this.onCall) : "—"),
      h("td", { class: `result result-${record.result}` }, resultName(record.result)),
      h("td", {}, talk),
      h("td", {}, play));
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
