// callbridge caller card for amoCRM (widget format: an AMD module returning the widget's
// constructor; manifest.json names its settings gateway_url and tenant).
// It asks the gateway for an operator session with amoCRM's one-time token
// ($authorizedAjax → X-Auth-Token; amoCRM user → extension by the tenant's amocrm_users),
// then loads the shared card module from the gateway and shows this operator's cards.
define(["jquery"], function ($) {
  "use strict";

  return function CallbridgeWidget() {
    var self = this;
    var mounted = null;

    function settings() {
      var s = self.get_settings() || {};
      return { base: String(s.gateway_url || "").replace(/\/$/, ""), tenant: String(s.tenant || "") };
    }

    // The widget's own strings (i18n/ru.json, i18n/en.json, as amoCRM widgets carry them):
    // amoCRM gives them in the user's language through self.i18n(section).
    function text(section, key, fallback) {
      var strings = (self.i18n && self.i18n(section)) || {};
      return strings[key] || fallback;
    }

    function language() {
      var lang = (window.AMOCRM && window.AMOCRM.lang_id) || document.documentElement.lang || "";
      return String(lang).slice(0, 2) === "ru" ? "ru" : "en";
    }

    function panel() {
      var host = document.getElementById("callbridge-cards");
      if (!host) {
        host = document.createElement("aside");
        host.id = "callbridge-cards";
        host.setAttribute("aria-label", text("panel", "label", "callbridge"));
        host.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:10000;width:360px;max-width:calc(100vw - 32px)";
        document.body.appendChild(host);
      }
      return host;
    }

    function start() {
      var s = settings();
      if (!s.base || !s.tenant || mounted) return;
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = s.base + "/ui/style.css";
      document.head.appendChild(link);
      self.$authorizedAjax({
        url: s.base + "/v1/webhooks/amocrm/" + encodeURIComponent(s.tenant) + "/session",
        method: "POST",
      }).then(function (session) {
        return import(s.base + "/ui/embed.js").then(function (embed) {
          mounted = embed.mountCards(panel(), {
            base: s.base,
            token: session.token,
            storage: window.sessionStorage,
            crmBase: window.location.origin,
            linkTarget: "_top",
            lang: language(),
          });
        });
      }).catch(function (error) {
        if (window.console) window.console.warn("callbridge: no caller cards", error);
      });
    }

    this.callbacks = {
      render: function () { return true; },
      init: function () { start(); return true; },
      bind_actions: function () { return true; },
      settings: function () { return true; },
      onSave: function () { start(); return true; },
      destroy: function () {},
    };
    return this;
  };
});
