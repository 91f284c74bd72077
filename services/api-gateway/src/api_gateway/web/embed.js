// The caller card inside a CRM (the amoCRM widget, the Bitrix24 application page): the same
// card module and the same operator feed as the page at /ui/, mounted into a host element.

import { Api, AuthError, formatNumber, h } from "./api.js";
import { CardDeck } from "./card.js";
import { setLanguage, t } from "./i18n.js";

/** The code of a pasted sign-in link (…/ui/#code=cbc_…) or of a bare code. */
export function codeOf(text) {
  const match = String(text).match(/cbc_[A-Za-z0-9_-]+/);
  return match ? match[0] : "";
}

/**
 * Show this operator's cards in ``root``. options: base (the gateway's URL), token (a
 * session, e.g. from the amoCRM widget's token exchange) or none (then a sign-in form asks
 * for the operator's one-time link), crmBase, linkTarget ("_top" inside a CRM), lang ("ru" |
 * "en": the CRM user's language; else the browser's preference).
 */
export async function mountCards(root, options = {}) {
  if (options.lang) await setLanguage(options.lang).catch(() => null);
  const api = new Api(options.base || "", options.storage || window.localStorage);
  if (options.token) api.token = options.token;
  const deck = h("div", { class: "cards" });
  const status = h("p", { class: "muted", role: "status" });
  root.replaceChildren(deck, status);
  if (!api.signedIn) await signIn(root, api);
  let me;
  try {
    me = await api.me();
  } catch (error) {
    if (!(error instanceof AuthError)) throw error;
    api.forget();
    await signIn(root, api, t("embed.ended"));
    me = await api.me();
  }
  root.replaceChildren(deck, status);
  const call = async (number) => {
    try {
      await api.call(me.extension, number);
      status.textContent = t("call.ringing", { extension: me.extension, number: formatNumber(number) });
    } catch (error) {
      status.textContent = t("call.failed", { number: formatNumber(number), error: error.message });
    }
  };
  const cards = new CardDeck(deck, {
    onCall: call,
    crmBase: options.crmBase || "",
    linkTarget: options.linkTarget || "_top",
    lastCalls: async (number) => (await api.calls({ number, limit: 4 })).calls,
  });
  const stop = api.feed(
    (message) => {
      cards.handle(message);
      if (options.onChange) options.onChange(cards.cards.size);
    },
    (state) => {
      status.textContent = { live: t("who", { user: me.user, extension: me.extension }), reconnecting: t("feed.reconnecting"),
        "signed-out": t("feed.signed_out") }[state];
    },
  );
  return { api, cards, stop, me };
}

function signIn(root, api, why = "") {
  return new Promise((resolve) => {
    const input = h("input", { id: "cb-signin", name: "link", type: "text", autocomplete: "off",
      placeholder: "https://…/ui/#code=cbc_…" });
    const error = h("p", { class: "muted", role: "alert" });
    const form = h("form", { class: "signin-form", onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api.exchange(codeOf(input.value));
        resolve();
      } catch {
        error.textContent = t("embed.used");
      }
    } },
    h("p", {}, why, why ? " " : "", t("embed.paste")),
    h("label", { for: "cb-signin" }, t("embed.link_label")), " ", input, " ",
    h("button", { type: "submit", class: "button primary" }, t("embed.sign_in")), error);
    root.replaceChildren(form);
    input.focus();
  });
}
