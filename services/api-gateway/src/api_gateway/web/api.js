// The gateway's API as the operator's page uses it: a session token (kept in
// localStorage), JSON requests with it, and the live feed over a WebSocket that resumes
// where it stopped. Shared by the page and the CRM widgets.

import { t } from "./i18n.js";

const STORE = "callbridge.session";

export class AuthError extends Error {}

/** A refused request, its message in the page's language (the server's English detail is
 *  kept in .detail for the console, not shown). */
export class ApiError extends Error {
  constructor(status, problem = {}) {
    const known = {
      400: t("error.bad_request"), 403: t("error.forbidden"), 404: t("error.not_found"),
      409: t("error.conflict"), 422: t("error.bad_request"), 429: t("error.too_many"),
    };
    super(known[status] || (status >= 500 ? t("error.server") : t("error.http", { status })));
    this.status = status;
    this.detail = problem.detail || problem.title || "";
  }
}

export class Api {
  constructor(base = "", storage = window.localStorage) {
    this.base = base.replace(/\/$/, "");
    this.storage = storage;
    this.token = storage.getItem(STORE) || "";
  }

  get signedIn() {
    return this.token !== "";
  }

  forget() {
    this.token = "";
    this.storage.removeItem(STORE);
  }

  /** Exchange a one-time sign-in code for a session (the code never works again). */
  async exchange(code) {
    const session = await this.request("POST", "/v1/sessions/exchange", { code }, false);
    this.token = session.token;
    this.storage.setItem(STORE, session.token);
    return session;
  }

  async request(method, path, body = undefined, auth = true) {
    const headers = { Accept: "application/json" };
    if (auth) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let answer;
    try {
      answer = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new Error(t("error.network"));
    }
    if (answer.status === 401) throw new AuthError("signed out");
    if (answer.status === 204) return null;
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new ApiError(answer.status, data);
    return data;
  }

  me() {
    return this.request("GET", "/v1/me");
  }

  /** "Create deal" for the caller of one of this operator's calls (POST /v1/crm/deals):
   *  {status: "created", deal} once the CRM made it, or {status: "queued"}. */
  createDeal(call, name = "") {
    return this.request("POST", "/v1/crm/deals", {
      call_id: call.call_id, pbx: call.pbx, name, request_id: `${call.call_id}-${Date.now()}`,
    });
  }

  async signOut() {
    await this.request("DELETE", "/v1/me").catch(() => null);
    this.forget();
  }

  /** Call records (newest first); filters: number, direction, result, since, until, cursor. */
  calls(filters = {}) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(filters)) {
      if (value !== undefined && value !== null && value !== "") query.set(name, value);
    }
    return this.request("GET", `/v1/calls?${query}`);
  }

  /** The team (a supervisor session only; 403 otherwise). */
  team() {
    return this.request("GET", "/v1/team");
  }

  /** Click-to-call: this operator's phone rings first, then the number is dialled. */
  call(extension, number) {
    return this.request("POST", "/v1/calls", { extension, number });
  }

  /** A signed link to a call's recording (plays in <audio>, seeks with HTTP Range). */
  recordingLink(callId, pbx) {
    return this.request("POST", `/v1/calls/${encodeURIComponent(callId)}/recording/link?pbx=${encodeURIComponent(pbx)}`);
  }

  /** How a call was built and handled (frames, decisions, crm-sync's trail): supervisors. */
  explain(record) {
    return this.request("GET", `/v1/calls/${encodeURIComponent(record.call_id)}/explain?pbx=${encodeURIComponent(record.pbx)}`);
  }

  /** Hand a live call to another extension (a blind transfer). */
  transfer(call, extension) {
    return this.request("POST", `/v1/calls/${encodeURIComponent(call.call_id)}/transfer`, {
      to: extension, mode: "blind", pbx: call.pbx,
    });
  }

  /**
   * Follow a feed (this operator's cards by default; "/v1/feeds/presence" for colleagues'
   * line states): onMessage(msg) for every message, onState("live" | "reconnecting" |
   * "signed-out"). Reconnects with ?since= the last id seen. Returns stop().
   */
  feed(onMessage, onState = () => {}, path = "/v1/feeds/events") {
    let since = "";
    let socket = null;
    let stopped = false;
    let delay = 500;
    const open = () => {
      const url = new URL(this.base + path, window.location.href);
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      url.searchParams.set("token", this.token);
      if (since) url.searchParams.set("since", since);
      socket = new WebSocket(url);
      socket.onopen = () => {
        delay = 500;
        onState("live");
      };
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.id) since = message.id;
        onMessage(message);
      };
      socket.onclose = (event) => {
        if (stopped) return;
        if (event.code === 4401) {
          onState("signed-out");
          return;
        }
        onState("reconnecting");
        window.setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
    };
    open();
    return () => {
      stopped = true;
      if (socket) socket.close();
    };
  }
}

/**
 * A phone number as people read it, grouped the way its country writes it: +7 916 123-45-67
 * (Russia and Kazakhstan: 8…, 7… and bare 10-digit numbers are Russian, the PBX's home),
 * +375 29 123-45-67 (Belarus), +380 67 123 45 67 (Ukraine), +1 212 555-0100 (North America);
 * other numbers and extensions as given. A small formatter rather than libphonenumber: the
 * page has no build step, and these are the numbers its teams dial.
 */
export function formatNumber(raw) {
  const text = String(raw || "");
  const digits = text.replace(/[^\d]/g, "");
  const at = (d, ...sizes) => {
    const out = [];
    let i = 0;
    for (const size of sizes) {
      out.push(d.slice(i, i + size));
      i += size;
    }
    return out;
  };
  const ru = digits.length === 11 && (digits[0] === "7" || digits[0] === "8") ? digits.slice(1)
    : digits.length === 10 && digits[0] !== "0" && !text.startsWith("+") ? digits : "";
  if (ru) {
    const [a, b, c, d] = at(ru, 3, 3, 2, 2);
    return `+7 ${a} ${b}-${c}-${d}`;
  }
  if (digits.length === 12 && digits.startsWith("375")) {
    const [a, b, c, d] = at(digits.slice(3), 2, 3, 2, 2);
    return `+375 ${a} ${b}-${c}-${d}`;
  }
  if (digits.length === 12 && digits.startsWith("380")) {
    const [a, b, c, d] = at(digits.slice(3), 2, 3, 2, 2);
    return `+380 ${a} ${b} ${c} ${d}`;
  }
  if (digits.length === 11 && digits[0] === "1" && text.startsWith("+")) {
    const [a, b, c] = at(digits.slice(1), 3, 3, 4);
    return `+1 ${a} ${b}-${c}`;
  }
  return text;
}

/** An element with attributes and children (strings become text: never HTML). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A number with a "call" button next to it (click-to-call wherever a number appears). */
export function numberWithCall(number, onCall, label = formatNumber(number)) {
  const button = h(
    "button",
    {
      type: "button",
      class: "call-button",
      title: t("call.number", { number: formatNumber(number) }),
      "aria-label": t("call.number", { number: formatNumber(number) }),
      onclick: () => onCall(number),
    },
    t("call.button"),
  );
  return h("span", { class: "number" }, h("span", { class: "number-text" }, label), " ", button);
}
