// The built-in CRM's entity page ("Open in CRM" in the demo): /crm/entities/{id}, read-only.
// Its data comes from GET /v1/crm/entities/{id} with the operator's session, like the rest
// of the operator's page.

import { Api, AuthError, formatNumber, h } from "./api.js";
import { directionName, formatAmount, formatDateTime, formatDuration, resultName, t, translatePage } from "./i18n.js";

const root = document.getElementById("entity");
const id = window.location.pathname.split("/").filter(Boolean).pop();

function when(unix) {
  return unix ? formatDateTime(unix * 1000) : "";
}

function render(page) {
  const { entity, deals, calls } = page;
  document.title = t("entity.page_title", { name: entity.name || t("entity.unnamed", { id: entity.id }) });
  const parts = [
    h("h2", { class: "entity-name" }, entity.name || t("entity.unnamed", { id: entity.id })),
    h("p", { class: "entity-kind" }, entity.kind === "company" ? t("entity.company") : t("entity.contact"),
      entity.company ? ` · ${entity.company}` : ""),
    h("h3", {}, t("entity.phones")),
    entity.phones.length
      ? h("ul", { class: "entity-phones" }, entity.phones.map((p) => h("li", {}, formatNumber(p))))
      : h("p", {}, t("entity.no_phones")),
    h("h3", {}, deals.length ? t("entity.deals", { count: deals.length }) : t("entity.no_deals")),
    deals.length
      ? h("ul", { class: "entity-deals" }, deals.map((d) => h("li", {},
        d.name || t("card.deal", { id: d.id }), d.status ? ` · ${d.status}` : "", d.is_open ? "" : ` · ${t("entity.closed")}`,
        d.amount ? ` · ${formatAmount(d.amount)}` : "")))
      : null,
    h("h3", {}, calls.length ? t("entity.recent_calls") : t("entity.no_calls")),
    calls.length
      ? h("ul", { class: "entity-calls" }, calls.map((c) => h("li", {},
        [when(c.started_at), directionName(c.direction), resultName(c.result)].filter(Boolean).join(" · "),
        c.extension ? ` · ${t("entity.ext", { extension: c.extension })}` : "", c.duration_s ? ` · ${formatDuration(c.duration_s)}` : "",
        c.note ? ` · ${c.note}` : "")))
      : null,
  ];
  root.replaceChildren(...parts.filter(Boolean));
}

async function main() {
  const api = new Api();
  if (!api.signedIn) {
    root.replaceChildren(h("p", {}, t("entity.sign_in_first"), " ", h("a", { href: "/ui/" }, "callbridge")));
    return;
  }
  try {
    render(await api.request("GET", `/v1/crm/entities/${encodeURIComponent(id)}`));
  } catch (error) {
    const text = error instanceof AuthError ? t("entity.ended") : t("entity.failed", { error: error.message });
    root.replaceChildren(h("p", {}, text));
  }
}

translatePage();
main();
