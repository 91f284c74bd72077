// Colleagues' line states (GET /v1/presence and the presence feed, docs/presence.md): each
// extension of the operator's team with its state, its colour and how long it has been in
// it; click a colleague to call them, or hand them the call you are on (a blind transfer
// through POST /v1/calls/{id}/transfer). The server decides what an operator sees (a
// colleague's caller is not shown); this module only draws it.

import { h } from "./api.js";
import { formatDuration, t } from "./i18n.js";

/** A line state in words, in the page's language. */
function stateName(state) {
  return {
    idle: t("presence.idle"), ringing: t("presence.ringing"), in_call: t("presence.in_call"),
    on_hold: t("presence.on_hold"), dnd: t("presence.dnd"), away: t("presence.away"),
    unavailable: t("presence.unavailable"),
  }[state] || t("presence.unknown");
}
const STATES = ["idle", "ringing", "in_call", "on_hold", "dnd", "away", "unavailable", "unknown"];

export class Colleagues {
  /** options: me (the operator's extension), onCall(ext), onTransfer(ext), current() -> the
   *  operator's answered call ({call_id, pbx}) or null. */
  constructor(root, options) {
    this.root = root;
    this.list = root.querySelector("[data-colleagues]");
    this.options = options;
    this.states = new Map(); // extension -> state
    window.setInterval(() => this.tick(), 1000);
  }

  handle(message) {
    if (message.type === "presence.snapshot") {
      this.states.clear();
      for (const state of message.states || []) this.states.set(state.extension, state);
      this.draw();
    } else if (message.type === "presence.state") {
      this.states.set(message.state.extension, message.state);
      this.draw();
    }
  }

  draw() {
    const rows = [...this.states.values()]
      .filter((s) => s.extension !== this.options.me)
      .sort((a, b) => a.extension.localeCompare(b.extension, undefined, { numeric: true }));
    this.list.replaceChildren(...rows.map((s) => this.row(s)));
    this.root.querySelector("[data-none]").hidden = rows.length > 0;
  }

  row(s) {
    const state = STATES.includes(s.state) ? s.state : "unknown";
    const since = h("span", { class: "since", "data-since": String(s.since || "") }, this.age(s.since));
    const call = h("button", {
      type: "button", class: "button link", "data-call": s.extension,
      "aria-label": t("colleagues.call", { extension: s.extension }),
    }, t("colleagues.ext", { extension: s.extension }));
    call.addEventListener("click", () => this.options.onCall(s.extension));
    const children = [
      call,
      h("span", { class: `presence presence-${state}`, "data-state": state }, stateName(state)),
      since,
    ];
    if (this.options.current() && state === "idle") {
      const move = h("button", {
        type: "button", class: "button small", "data-transfer": s.extension,
        "aria-label": t("colleagues.transfer_to", { extension: s.extension }),
      }, t("colleagues.transfer"));
      move.addEventListener("click", () => this.options.onTransfer(s.extension));
      children.push(move);
    }
    return h("li", { class: "colleague", "data-extension": s.extension }, ...children);
  }

  age(since) {
    return since ? formatDuration((Date.now() - Number(since)) / 1000) : "";
  }

  tick() {
    for (const node of this.list.querySelectorAll("[data-since]")) {
      node.textContent = this.age(node.dataset.since);
    }
  }
}
