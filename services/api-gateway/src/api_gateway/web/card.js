// The caller card, shared by the operator's page and the CRM widgets. It renders the
// messages of the operator's feed (docs/api-gateway.md, "Feeds"):
//   card.show     this operator's phone rings (or a call was transferred to it): number at once
//   card.data     what the CRM knows (crm.card): contact, company, deals, responsible, why
//   card.answered this operator answered it
//   card.hide     it stopped ringing, was answered elsewhere, transferred away, or ended
//   snapshot      after a reconnect: the cards open now (each a card.show with answered and
//                 data); every other card is closed (its call ended or left meanwhile)
// The server decides which calls an operator sees; this module only draws them.

import { formatNumber, h, numberWithCall } from "./api.js";

const HIDE_REASONS = {
  answered_elsewhere: "answered by a colleague",
  caller_gave_up: "the caller hung up",
  no_answer: "not answered",
  busy: "busy",
  failed: "failed",
  transferred: "transferred",
  ended: "ended",
};

/** Links a CRM offers for an entity: open it, create a deal for it, create a contact. */
export function crmLinks(data, crmBase = "") {
  const entity = data && data.entity;
  const deal = data && data.deal;
  const resolve = (url) => (url ? new URL(url, crmBase || window.location.href).href : "");
  const open = resolve((deal && deal.url) || (entity && entity.url) || "");
  let create = "";
  if (entity && entity.url) {
    const crm = data.crm || "";
    if (crm === "amocrm") create = resolve(`/leads/add/?contact_id=${encodeURIComponent(entity.id)}`);
    else if (crm === "bitrix24") create = resolve(`/crm/deal/details/0/?contact_id=${encodeURIComponent(entity.id)}`);
    else create = `${resolve(entity.url)}#new-deal`;
  }
  return { open, create };
}

export class CardDeck {
  /**
   * root: the element cards go in. options: onCall(number) for click-to-call,
   * keepAfterAnswer() → bool (the operator's option), lastCalls(number) → Promise<records>,
   * crmBase: where relative CRM links point, linkTarget: "_blank" | "_top",
   * createDeal(message) → Promise<{status, deal}>: "Create deal" asks the gateway (else the
   * button is the CRM's own link).
   */
  constructor(root, options = {}) {
    this.root = root;
    this.options = { onCall: () => {}, keepAfterAnswer: () => false, lastCalls: null,
      crmBase: "", linkTarget: "_blank", createDeal: null, ...options };
    this.cards = new Map(); // call_id -> {message, data, answered, ended, node}
  }

  handle(message) {
    const card = this.cards.get(message.call_id);
    switch (message.type) {
      case "card.show":
        if (!card) this.show(message);
        break;
      case "card.data":
        if (card) {
          card.data = message.data;
          this.draw(card);
        }
        break;
      case "card.answered":
        if (card) {
          card.answered = true;
          this.draw(card);
        }
        break;
      case "card.hide":
        if (card) this.hideOrKeep(card, message.reason);
        break;
      case "snapshot":
        this.applySnapshot(message.cards || []);
        break;
      default:
        break;
    }
  }

  /** The server's word after a reconnect: exactly these cards are open. A card the operator
   *  chose to keep after answering (already marked ended) stays until closed by hand. */
  applySnapshot(open) {
    const ids = new Set(open.map((c) => c.call_id));
    for (const [callId, card] of [...this.cards]) {
      if (!ids.has(callId) && !card.ended) this.hideOrKeep(card, "ended");
    }
    for (const message of open) {
      let card = this.cards.get(message.call_id);
      if (!card) {
        this.show({ ...message, type: "card.show" });
        card = this.cards.get(message.call_id);
      }
      if (message.data) card.data = message.data;
      if (message.answered) card.answered = true;
      card.ended = "";
      this.draw(card);
    }
  }

  show(message) {
    const card = { message, data: null, answered: false, ended: "", node: null, last: null };
    this.cards.set(message.call_id, card);
    card.node = h("article", { class: "card", "data-call-id": message.call_id, tabindex: "-1" });
    this.root.prepend(card.node);
    this.draw(card);
    this.loadLastCalls(card);
  }

  hideOrKeep(card, reason) {
    if (card.answered && this.options.keepAfterAnswer()) {
      card.ended = reason;
      this.draw(card);
      return;
    }
    this.close(card.message.call_id);
  }

  close(callId) {
    const card = this.cards.get(callId);
    if (!card) return;
    this.cards.delete(callId);
    card.node.remove();
  }

  async loadLastCalls(card) {
    if (!this.options.lastCalls || !card.message.external) return;
    try {
      card.last = await this.options.lastCalls(card.message.external);
    } catch {
      card.last = [];
    }
    if (this.cards.has(card.message.call_id)) this.draw(card);
  }

  draw(card) {
    const { message, data } = card;
    const who = (data && data.entity && data.entity.name) || formatNumber(message.external) || "Unknown number";
    const state = card.ended
      ? `Call ${HIDE_REASONS[card.ended] || card.ended}`
      : card.answered
        ? "On the call"
        : message.transferred
          ? "Transferred to you"
          : message.direction === "outbound"
            ? "Calling"
            : "Ringing";
    card.node.className = `card ${card.answered ? "card-answered" : "card-ringing"}${card.ended ? " card-ended" : ""}`;
    card.node.setAttribute("aria-label", `${state}: ${who}`);
    const parts = [
      h("header", { class: "card-head" },
        h("span", { class: "card-state" }, state),
        message.did ? h("span", { class: "card-did" }, `to ${formatNumber(message.did)}`) : null,
        h("button", { type: "button", class: "card-close", "aria-label": "Close the card",
          title: "Close", onclick: () => this.close(message.call_id) }, "×")),
      h("h2", { class: "card-name" }, who),
      h("p", { class: "card-number" },
        message.external ? numberWithCall(message.external, this.options.onCall) : "internal call"),
      this.drawCrm(card),
      this.drawLastCalls(card),
      this.drawActions(card),
    ];
    card.node.replaceChildren(...parts.filter(Boolean));
  }

  drawCrm(card) {
    const data = card.data;
    if (!data) return h("p", { class: "card-crm card-loading" }, "Looking up the caller in the CRM…");
    if (!data.entity) {
      return h("div", { class: "card-crm" }, h("p", {}, "Not in the CRM yet."),
        data.reason ? h("p", { class: "card-reason" }, data.reason) : null);
    }
    const entity = data.entity;
    const rows = [];
    if (entity.kind === "contact" && (data.company || entity.company)) {
      rows.push(["Company", data.company || entity.company]);
    }
    if (entity.kind === "company") rows.push(["Company", entity.name]);
    if (data.responsible) {
      const r = data.responsible;
      rows.push(["Responsible", `${r.name || r.id}${r.extension ? ` (ext. ${r.extension})` : ""}`]);
    }
    const deals = data.open_deals || [];
    return h("div", { class: "card-crm" },
      h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h3", {}, deals.length ? `Open deals (${deals.length})` : "No open deals"),
      deals.length
        ? h("ul", { class: "card-deals" }, deals.map((d) => h("li", {},
          d.url ? h("a", { href: new URL(d.url, this.options.crmBase || window.location.href).href,
            target: this.options.linkTarget, rel: "noopener" }, d.name || `Deal ${d.id}`) : d.name || `Deal ${d.id}`,
          d.status ? ` · ${d.status}` : "",
          d.amount ? ` · ${d.amount.toLocaleString()}` : "")))
        : null,
      h("p", { class: "card-reason" }, h("strong", {}, "Why this card: "),
        data.reason || data.reason_code || "—",
        data.candidates > 1 ? ` (${data.candidates} matches)` : ""),
    );
  }

  drawLastCalls(card) {
    if (!card.last || card.last.length === 0) return null;
    const rows = card.last
      .filter((c) => c.call_id !== card.message.call_id)
      .slice(0, 3)
      .map((c) => h("li", {}, `${new Date(c.started_at / 1000).toLocaleString()} · ${c.direction} · ${c.result}`));
    return rows.length ? h("div", { class: "card-last" }, h("h3", {}, "Last calls"), h("ul", {}, rows)) : null;
  }

  drawActions(card) {
    const links = crmLinks(card.data, this.options.crmBase);
    const link = (href, text) => href
      ? h("a", { class: "button", href, target: this.options.linkTarget, rel: "noopener" }, text)
      : h("button", { type: "button", class: "button", disabled: true, title: "The CRM gave no link" }, text);
    const create = this.options.createDeal && card.message.external
      ? h("button", { type: "button", class: "button card-create-deal", disabled: card.dealBusy || false,
        onclick: () => this.createDeal(card) }, card.dealBusy ? "Creating deal…" : "Create deal")
      : link(links.create, "Create deal");
    return h("div", { class: "card-actions" },
      link(links.open, "Open in CRM"),
      create,
      card.dealNote ? h("p", { class: "card-deal-note", role: "status" }, card.dealNote) : null,
      card.message.external
        ? h("button", { type: "button", class: "button primary",
          onclick: () => this.options.onCall(card.message.external) }, "Call back")
        : null);
  }

  async createDeal(card) {
    card.dealBusy = true;
    card.dealNote = "";
    this.draw(card);
    try {
      const done = await this.options.createDeal(card.message);
      const deal = done && done.deal;
      if (deal && card.data) {
        const deals = card.data.open_deals || [];
        if (!deals.some((d) => d.id === deal.id)) card.data = { ...card.data, open_deals: [...deals, deal] };
      }
      card.dealNote = deal ? `Deal created: ${deal.name || deal.id}` : "Deal requested: the card updates when the CRM has it";
    } catch (error) {
      card.dealNote = `Could not create the deal: ${error.message}`;
    }
    card.dealBusy = false;
    if (this.cards.has(card.message.call_id)) this.draw(card);
  }
}
