// The built-in CRM's entity page ("Open in CRM" in the demo): /crm/entities/{id}, read-only.
// Its data comes from GET /v1/crm/entities/{id} with the operator's session, like the rest
// of the operator's page.

import { Api, AuthError, formatNumber, h } from "./api.js";

const root = document.getElementById("entity");
const id = window.location.pathname.split("/").filter(Boolean).pop();

function when(unix) {
  return unix ? new Date(unix * 1000).toLocaleString() : "";
}

function render(page) {
  const { entity, deals, calls } = page;
  document.title = `${entity.name || `Entity ${entity.id}`} · CRM · callbridge`;
  const parts = [
    h("h2", { class: "entity-name" }, entity.name || `Entity ${entity.id}`),
    h("p", { class: "entity-kind" }, entity.kind === "company" ? "Company" : "Contact",
      entity.company ? ` · ${entity.company}` : ""),
    h("h3", {}, "Phones"),
    entity.phones.length
      ? h("ul", { class: "entity-phones" }, entity.phones.map((p) => h("li", {}, formatNumber(p))))
      : h("p", {}, "No phones."),
    h("h3", {}, deals.length ? `Deals (${deals.length})` : "No deals"),
    deals.length
      ? h("ul", { class: "entity-deals" }, deals.map((d) => h("li", {},
        d.name || `Deal ${d.id}`, d.status ? ` · ${d.status}` : "", d.is_open ? "" : " · closed",
        d.amount ? ` · ${d.amount.toLocaleString()}` : "")))
      : null,
    h("h3", {}, calls.length ? "Recent calls" : "No calls logged yet"),
    calls.length
      ? h("ul", { class: "entity-calls" }, calls.map((c) => h("li", {},
        `${when(c.started_at)} · ${c.direction} · ${c.result}`,
        c.extension ? ` · ext. ${c.extension}` : "", c.duration_s ? ` · ${c.duration_s} s` : "",
        c.note ? ` · ${c.note}` : "")))
      : null,
  ];
  root.replaceChildren(...parts.filter(Boolean));
}

async function main() {
  const api = new Api();
  if (!api.signedIn) {
    root.replaceChildren(h("p", {}, "Sign in on the operator's page first: ", h("a", { href: "/ui/" }, "callbridge")));
    return;
  }
  try {
    render(await api.request("GET", `/v1/crm/entities/${encodeURIComponent(id)}`));
  } catch (error) {
    const text = error instanceof AuthError ? "Your session ended: sign in again." : `Could not load it: ${error.message}`;
    root.replaceChildren(h("p", {}, text));
  }
}

main();
