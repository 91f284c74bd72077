// The operator's page: sign in with the one-time link, then the caller cards of this
// operator's phone, a dial box and the call history.

import { Api, AuthError, formatNumber, h } from "./api.js";
import { CardDeck } from "./card.js";
import { Colleagues } from "./colleagues.js";
import { History } from "./history.js";
import { Team } from "./team.js";
import { language, setLanguage, t, translatePage } from "./i18n.js";

const api = new Api();
const $ = (selector) => document.querySelector(selector);
const KEEP = "callbridge.keepAfterAnswer";

function toast(text, kind = "info") {
  const node = h("p", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  $("#toasts").append(node);
  window.setTimeout(() => node.remove(), 6000);
}

function showSignIn(text) {
  $("#signin").hidden = false;
  $("#app").hidden = true;
  $("#signin-text").textContent = text;
}

async function signInFromLink() {
  const code = new URLSearchParams(window.location.hash.slice(1)).get("code");
  if (!code) return;
  history.replaceState(null, "", window.location.pathname); // the code works once anyway
  try {
    await api.exchange(code);
  } catch {
    api.forget();
    showSignIn(t("signin.used"));
    throw new Error("sign-in failed");
  }
}

async function start() {
  try {
    await signInFromLink();
  } catch {
    return;
  }
  if (!api.signedIn) {
    showSignIn(t("signin.open_link"));
    return;
  }
  let me;
  try {
    me = await api.me();
  } catch {
    api.forget();
    showSignIn(t("signin.ended"));
    return;
  }
  $("#signin").hidden = true;
  $("#app").hidden = false;
  $("#who").textContent = t("who", { user: me.user, extension: me.extension });
  document.title = t("page.title_ext", { extension: me.extension });

  const keep = $("#keep");
  keep.checked = window.localStorage.getItem(`${KEEP}.${me.user}`) === "1";
  keep.addEventListener("change", () => window.localStorage.setItem(`${KEEP}.${me.user}`, keep.checked ? "1" : "0"));

  const call = async (number) => {
    try {
      await api.call(me.extension, number);
      toast(t("call.ringing", { extension: me.extension, number: formatNumber(number) }));
    } catch (error) {
      if (error instanceof AuthError) return showSignIn(t("signin.ended"));
      toast(t("call.failed", { number: formatNumber(number), error: error.message }), "error");
    }
    return undefined;
  };

  const cards = $("#cards");
  const deck = new CardDeck(cards, {
    onCall: call,
    keepAfterAnswer: () => keep.checked,
    lastCalls: async (number) => (await api.calls({ number, limit: 4 })).calls,
    createDeal: (message) => api.createDeal(message),
  });
  const empty = $("#no-call");
  const colleagues = new Colleagues($("#colleagues"), {
    me: me.extension,
    onCall: (extension) => call(extension),
    current: () => deck.current(),
    onTransfer: async (extension) => {
      const current = deck.current();
      if (!current) return;
      try {
        await api.transfer(current, extension);
        toast(t("colleagues.transferred", { extension }));
      } catch (error) {
        if (error instanceof AuthError) return showSignIn(t("signin.ended"));
        toast(t("colleagues.transfer_failed", { extension, error: error.message }), "error");
      }
      return undefined;
    },
  });
  const history = new History($("#history"), api, call, { explain: me.supervisor });
  api.feed(
    (message) => {
      deck.handle(message);
      empty.hidden = deck.cards.size > 0; // new cards are announced (aria-live), focus stays
      colleagues.draw(); // "Transfer" is offered while this operator talks
      history.handle(message); // a call shows as it starts; its record when it ends
    },
    (state) => {
      $("#feed-state").textContent = { live: t("feed.live"), reconnecting: t("feed.reconnecting"), "signed-out": t("feed.signed_out") }[state];
      $("#feed-state").dataset.state = state;
      if (state === "signed-out") showSignIn(t("signin.ended"));
    },
  );
  history.load();

  const team = me.supervisor ? new Team($("#team"), api, call) : null;
  if (team) team.load();
  api.feed((message) => {
    colleagues.handle(message);
    if (message.type === "presence.state") {
      history.colleagueChanged(message.state); // a colleague's call back may clear a mark
      if (team) team.schedule();
    }
  }, () => {}, "/v1/feeds/presence");

  $("#dial").addEventListener("submit", (event) => {
    event.preventDefault();
    const number = new FormData(event.target).get("number");
    if (String(number).replace(/\D/g, "").length >= 3) call(String(number));
    else toast(t("dial.empty"), "error");
  });
  $("#signout").addEventListener("click", async () => {
    await api.signOut();
    showSignIn(t("signin.signed_out"));
  });
}

// A new sign-in link opened in this tab changes only the #fragment: start over with it.
window.addEventListener("hashchange", () => {
  if (window.location.hash.includes("code=")) window.location.reload();
});
// The language switch: the choice is remembered in this browser; the page starts over in it.
const switcher = $("#lang");
switcher.value = language();
switcher.addEventListener("change", async () => {
  await setLanguage(switcher.value, true);
  window.location.reload();
});
translatePage();
start();
