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
import { callLine, formatAmount, t } from "./i18n.js";

const HIDE_REASONS = () => ({
  answered_elsewhere: t("card.ended.answered_elsewhere"),
  caller_gave_up: t("card.ended.caller_gave_up"),
  no_answer: t("card.ended.no_answer"),
  busy: t("card.ended.busy"),
  failed: t("card.ended.failed"),
  transferred: t("card.ended.transferred"),
  ended: t("card.ended.ended"),
});

/** Why the CRM shows this entity, in the page's language, from crm-sync's stable code
 *  ("only_contact.several_open_deals", cbcrm.effective); its English words if the code is new. */
export function reasonText(data) {
  const [chosen, deals] = String(data.reason_code || "").split(".");
  const count = data.candidates || 0;
  const first = {
    no_match: t("reason.no_match"),
    only_contact: t("reason.only_contact"), only_company: t("reason.only_company"), only_lead: t("reason.only_lead"),
    oldest_contact: t("reason.oldest_contact", { count }), oldest_company: t("reason.oldest_company", { count }),
    oldest_lead: t("reason.oldest_lead", { count }), newest_contact: t("reason.newest_contact", { count }),
    newest_company: t("reason.newest_company", { count }), newest_lead: t("reason.newest_lead", { count }),
    most_open_deals_contact: t("reason.most_open_deals_contact", { count }),
    most_open_deals_company: t("reason.most_open_deals_company", { count }),
    most_open_deals_lead: t("reason.most_open_deals_lead", { count }),
  }[chosen];
  const open = (data.open_deals || []).length;
  const second = { single_open_deal: t("reason.single_open_deal"), no_open_deal: t("reason.no_open_deal"),
    several_open_deals: t("reason.several_open_deals", { count: open }) }[deals];
  if (!first || (deals && !second)) return data.reason || data.reason_code || "";
  if (!deals) return first;
  return deals === "single_open_deal" ? t("reason.with_deal", { first, second }) : t("reason.with_deals", { first, second });
}

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

  /** The call this operator is talking on now (the newest answered, still open), or null. */
  current() {
    const talking = [...this.cards.values()].filter((c) => c.answered && !c.ended);
    return talking.length ? talking[talking.length - 1].message : null;
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
    const who = (data && data.entity && data.entity.name) || formatNumber(message.external) || t("card.unknown_number");
    const state = card.ended
      ? t("card.ended", { reason: HIDE_REASONS()[card.ended] || card.ended })
      : card.answered
        ? t("card.on_call")
        : message.transferred
          ? t("card.transferred")
          : message.direction === "outbound"
            ? t("card.calling")
            : t("card.ringing");
    card.node.className = `card ${card.answered ? "card-answered" : "card-ringing"}${card.ended ? " card-ended" : ""}`;
    card.node.setAttribute("aria-label", t("card.label", { state, who }));
    const parts = [
      h("header", { class: "card-head" },
        h("span", { class: "card-state" }, state),
        message.did ? h("span", { class: "card-did" }, t("card.to", { number: formatNumber(message.did) })) : null,
        h("button", { type: "button", class: "card-close", "aria-label": t("card.close_label"),
          title: t("card.close"), onclick: () => this.close(message.call_id) }, "×")),
      h("h2", { class: "card-name" }, who),
      h("p", { class: "card-number" },
        message.external ? numberWithCall(message.external, this.options.onCall) : t("card.internal")),
      this.drawCrm(card),
      this.drawLastCalls(card),
      this.drawActions(card),
    ];
    card.node.replaceChildren(...parts.filter(Boolean));
  }

  drawCrm(card) {
    const data = card.data;
    if (!data) return h("p", { class: "card-crm card-loading" }, t("card.looking_up"));
    if (!data.entity) {
      return h("div", { class: "card-crm" }, h("p", {}, t("card.not_in_crm")),
        data.reason ? h("p", { class: "card-reason" }, reasonText(data)) : null);
    }
    const entity = data.entity;
    const rows = [];
    if (entity.kind === "contact" && (data.company || entity.company)) {
      rows.push([t("card.company"), data.company || entity.company]);
    }
    if (entity.kind === "company") rows.push([t("card.company"), entity.name]);
    if (data.responsible) {
      const r = data.responsible;
      rows.push([t("card.responsible"), r.extension ? t("card.responsible_ext", { name: r.name || r.id, extension: r.extension }) : r.name || r.id]);
    }
    const deals = data.open_deals || [];
    return h("div", { class: "card-crm" },
      h("dl", {}, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h3", {}, deals.length ? t("card.open_deals", { count: deals.length }) : t("card.no_open_deals")),
      deals.length
        ? h("ul", { class: "card-deals" }, deals.map((d) => h("li", {},
          d.url ? h("a", { href: new URL(d.url, this.options.crmBase || window.location.href).href,
            target: this.options.linkTarget, rel: "noopener" }, d.name || t("card.deal", { id: d.id })) : d.name || t("card.deal", { id: d.id }),
          d.status ? ` · ${d.status}` : "",
          d.amount ? ` · ${formatAmount(d.amount)}` : "")))
        : null,
      h("p", { class: "card-reason" }, h("strong", {}, t("card.why")),
        reasonText(data) || "—",
        data.candidates > 1 ? t("card.matches", { count: data.candidates }) : ""),
    );
  }

  drawLastCalls(card) {
    if (!card.last || card.last.length === 0) return null;
    const rows = card.last
      .filter((c) => c.call_id !== card.message.call_id)
      .slice(0, 3)
      .map((c) => h("li", {}, callLine(c.started_at / 1000, c.direction, c.result)));
    return rows.length ? h("div", { class: "card-last" }, h("h3", {}, t("card.last_calls")), h("ul", {}, rows)) : null;
  }

  drawActions(card) {
    const links = crmLinks(card.data, this.options.crmBase);
    const link = (href, text) => href
      ? h("a", { class: "button", href, target: this.options.linkTarget, rel: "noopener" }, text)
      : h("button", { type: "button", class: "button", disabled: true, title: t("card.no_link") }, text);
    const create = this.options.createDeal && card.message.external
      ? h("button", { type: "button", class: "button card-create-deal", disabled: card.dealBusy || false,
        onclick: () => this.createDeal(card) }, card.dealBusy ? t("card.creating_deal") : t("card.create_deal"))
      : link(links.create, t("card.create_deal"));
    return h("div", { class: "card-actions" },
      link(links.open, t("card.open_in_crm")),
      create,
      card.dealNote ? h("p", { class: "card-deal-note", role: "status" }, card.dealNote) : null,
      card.message.external
        ? h("button", { type: "button", class: "button primary",
          onclick: () => this.options.onCall(card.message.external) }, t("card.call_back"))
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
      card.dealNote = deal ? t("card.deal_created", { name: deal.name || deal.id }) : t("card.deal_requested");
    } catch (error) {
      card.dealNote = t("card.deal_failed", { error: error.message });
    }
    card.dealBusy = false;
    if (this.cards.has(card.message.call_id)) this.draw(card);
  }
}
