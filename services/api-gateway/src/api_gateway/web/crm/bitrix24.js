// The Bitrix24 application page: the operator's caller cards inside Bitrix24 (an app's
// handler page, or a placement such as CALL_CARD). Served by the gateway, so the feed and
// the API are same-origin; the operator signs in once with the one-time link.

import { mountCards } from "../embed.js";
import { setLanguage, translatePage } from "../i18n.js";

const root = document.getElementById("cards");
const portal = (() => {
  try {
    return document.referrer ? new URL(document.referrer).origin : "";
  } catch {
    return "";
  }
})();

// Bitrix24 opens the handler with the portal user's language (?LANG=ru); else the browser's.
const lang = new URLSearchParams(window.location.search).get("LANG");
if (lang === "ru" || lang === "en") await setLanguage(lang).catch(() => null);
translatePage();
mountCards(root, {
  base: new URL("../..", window.location.href).href.replace(/\/$/, ""),
  crmBase: portal,
  linkTarget: "_top",
  onChange: () => {
    if (window.BX24 && window.BX24.fitWindow) window.BX24.fitWindow();
  },
});
if (window.BX24 && window.BX24.init) window.BX24.init(() => window.BX24.fitWindow());
