// The mocksrv dashboard: plain JavaScript over the documented admin API (no private endpoints).
// It polls the open panel twice a second. Every value from the server is written with
// textContent, never as HTML: journal paths and bodies come from any client.
"use strict";

const ADMIN = "/__admin";
const POLL_MS = 500;
const TENANTS_MS = 5000;  // how often the tenant picker's list is read again
// a tenant's dashboard (/__admin/tenants/{id}/dashboard) opens with that tenant picked
const opened = location.pathname.match(/^\/__admin\/tenants\/([^/]+)\/dashboard\/?$/);
const state = { panel: "overview", token: sessionStorage.getItem("mocksrvToken") || "",
  selected: null, timer: null, busy: false, tenant: opened ? decodeURIComponent(opened[1]) : "",
  picks: 0 };
class Stale extends Error {}  // an answer for the tenant picked before: never drawn

// The picked tenant's admin API: every panel's calls go there ("" is the default tenant's).
function base() { return state.tenant ? ADMIN + "/tenants/" + encodeURIComponent(state.tenant) : ADMIN; }

// --- admin API ------------------------------------------------------------------------------
async function api(method, path, body, server) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const picks = state.picks;
  const r = await fetch((server ? ADMIN : base()) + path, init);  // `server`: not the tenant's
  if (!server && picks !== state.picks) throw new Stale("another tenant was picked");
  if (r.status === 401) { showLogin(); throw new Error("the admin API needs the token"); }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((data.error && data.error.message) || r.status + " " + r.statusText);
  return data;
}

// --- small DOM helpers ----------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells, cls) {
  const tr = el("tr", null, cls);
  for (const c of cells) {
    const td = el("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "" : String(c);
    tr.appendChild(td);
  }
  return tr;
}
function fill(tableId, rows, empty) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) {
    const tr = el("tr"); const td = el("td", empty || "none yet", "muted");
    td.colSpan = $(tableId).tHead.rows[0].cells.length; tr.appendChild(td); body.appendChild(tr);
  }
}
function copyable(text) {
  const span = el("span");
  span.appendChild(el("code", text));
  const b = el("button", "copy", "copy");
  b.type = "button";
  b.title = "copy to the clipboard";
  b.addEventListener("click", () => copy(text, b));
  span.appendChild(b);
  return span;
}
async function copy(text, button) {
  try { await navigator.clipboard.writeText(text); }
  catch (e) {  // not a secure context: select-and-copy instead
    const t = el("textarea"); t.value = text; document.body.appendChild(t); t.select();
    document.execCommand("copy"); t.remove();
  }
  button.textContent = "copied";
  setTimeout(() => { button.textContent = "copy"; }, 1200);
}
const money = (n) => (typeof n === "number" ? n.toFixed(2) : "");
const time = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");
function message(text, ok) {
  const m = $("controls-message"); m.textContent = text; m.className = "message " + (ok ? "ok" : "bad");
}

// --- panels ---------------------------------------------------------------------------------
const render = {
  overview(scen, ids) {
    // drawn again only when something changed: a poll must not undo a "copied" or a selection
    const key = JSON.stringify([scen.active, ids]);
    if (key === state.overviewKey) return;
    state.overviewKey = key;
    $("scenarios-active").replaceChildren(...scen.active.map((s) => el("li", s.name + "  (" + s.source + ")")));
    const shown = ids.identities.some((i) => i.secret_key);
    $("secrets-note").textContent = shown ? "" : "Secret keys are shown to an authenticated admin only.";
    fill("identities", ids.identities.map((i) => row([i.name, i.api, copyable(i.access_key),
      i.secret_key ? copyable(i.secret_key) : el("span", "hidden", "muted"),
      (i.regions || []).join(", ")])));
  },

  journal(j) {
    const newest = j.entries.length ? j.entries[0].requestId : "";
    const key = [j.size, j.dropped, newest, j.entries.length, state.selected, $("journal-api").value].join(" ");
    if (key === state.journalKey) return;
    state.journalKey = key;
    $("journal-stats").textContent = j.size + " kept of " + j.capacity + (j.dropped ? ", " + j.dropped + " dropped" : "");
    const apis = new Set([...$("journal-api").options].map((o) => o.value));
    fill("journal", j.entries.map((e) => {
      if (e.api && !apis.has(e.api)) { $("journal-api").appendChild(el("option", e.api)); apis.add(e.api); }
      const request = el("span", e.method + " " + e.path, "mono path");
      request.title = e.method + " " + e.path;
      const at = el("span", time(e.time).slice(11)); at.title = e.time + " (scenario " + e.scenarioTime + ")";
      const tr = row([at, request, e.api, e.operation, e.identity, e.outcome, e.status,
        e.latencyMs + " ms"], "clickable" + (e.requestId === state.selected ? " selected" : ""));
      const cls = ["time", "request", "api", "operation", "identity", "outcome", "num status", "num latency"];
      cls.forEach((c, i) => { tr.cells[i].className = c; });
      if (e.signature_failed || e.status >= 500) tr.cells[5].classList.add("bad");
      tr.dataset.requestId = e.requestId;
      tr.addEventListener("click", () => openExchange(e.requestId));
      return tr;
    }), "no requests yet: send one to this server");
  },

  traffic(t) {
    const names = Object.keys(t.apis);
    const series = (key) => names.map((api) => [api, t.apis[api][key]]);
    const rates = series("requestsPerSecond"), lat = series("meanLatencyMs");
    $("rate-max").textContent = "(top " + chart("traffic-rate", rates, t) + ")";
    $("latency-max").textContent = "(top " + chart("traffic-latency", lat, t) + " ms)";
    const recent = (values) => values.slice(-6).reduce((a, b) => a + b, 0) / 6;  // the last 30 s
    $("traffic-legend").replaceChildren(...names.map((api) => {
      const item = el("li", null, "api-" + api);
      item.appendChild(el("span", "", "swatch"));
      const rps = recent(t.apis[api].requestsPerSecond);
      item.appendChild(el("span", api + " " + rps.toFixed(1) + " req/s"));
      return item;
    }));
    const total = names.reduce((n, api) => n + Math.round(t.apis[api].requestsPerSecond.reduce((a, b) => a + b, 0) * t.stepSeconds), 0);
    $("traffic-now").textContent = names.length ? total + " requests" : "no requests yet";
  },
};

// One SVG line per API over the window (x: time, y: 0 to the top value), broken where a value is
// null (no request, so no latency); returns the top value.
function chart(id, series, t) {
  const svg = $(id);
  const top = Math.max(1, ...series.flatMap(([, values]) => values.filter((v) => v !== null)));
  const step = 600 / Math.max(1, t.points - 1);
  svg.replaceChildren(...series.map(([api, values]) => {
    const line = document.createElementNS(svg.namespaceURI, "path");  // the SVG namespace
    let d = "", gap = true;
    values.forEach((v, i) => {
      if (v === null) { gap = true; return; }
      // a lone point is a dot: a zero-length stroke with round caps (dashboard.css)
      d += (gap ? "M" : "L") + (i * step).toFixed(1) + " " + (118 - v / top * 112).toFixed(1) + (gap ? " l0.01 0 " : " ");
      gap = false;
    });
    line.setAttribute("d", d.trim() || "M0 118");
    line.setAttribute("class", "api-" + api);
    line.setAttribute("vector-effect", "non-scaling-stroke");
    line.dataset.api = api;
    line.dataset.requests = String(Math.round(t.apis[api].requestsPerSecond.reduce((a, b) => a + b, 0) * t.stepSeconds));
    return line;
  }));
  return top >= 10 ? top.toFixed(0) : top.toFixed(1);
}

const panels = {
  async overview() {
    const [scen, ids, traffic] = await Promise.all([api("GET", "/scenarios"), api("GET", "/identities"),
      api("GET", "/metrics/traffic")]);
    render.overview(scen, ids);
    render.traffic(traffic);
  },

  async journal() {
    const filter = $("journal-api").value;
    render.journal(await api("GET", "/journal?limit=200" + (filter ? "&api=" + encodeURIComponent(filter) : "")));
  },

  async agcod() {
    const s = await api("GET", "/state/agcod");
    const nowMs = Date.parse((await api("GET", "/clock")).now);
    fill("agcod-partners", s.partners.map((p) => {
      const ledger = el("div", null, "ledger");
      if (p.mode === "production") {
        ledger.appendChild(el("div", "start " + money(p.startingFunds) + " " + p.currency));
        for (const m of p.ledger.slice(-8)) {
          ledger.appendChild(el("div", time(m.at) + "  " + m.operation + " " + m.gcId + "  " +
            (m.amount > 0 ? "+" : "") + money(m.amount) + " = " + money(m.balance)));
        }
      } else ledger.appendChild(el("span", "sandbox: no funds are held", "muted"));
      return row([p.partnerId, p.mode, p.marketplace,
        p.mode === "production" ? money(p.availableFunds) + " " + p.currency : "0.00 (sandbox)", ledger]);
    }));
    fill("agcod-cards", s.cards.slice().reverse().map((c) => {
      let windowText = "closed";
      const left = Date.parse(c.cancelWindowEndsAt) - nowMs;
      if (c.cardStatus !== "Fulfilled") windowText = "cancelled " + time(c.cancelledAt);
      else if (c.claimed) windowText = "claimed: not cancellable";
      else if (left > 0) windowText = Math.floor(left / 60000) + "m " + String(Math.floor(left / 1000) % 60).padStart(2, "0") + "s left";
      return row([time(c.createdAt), c.partnerId, c.creationRequestId, copyable(c.gcId),
        money(c.amount) + " " + c.currencyCode, c.cardStatus, windowText]);
    }), "no cards yet");
    fill("agcod-physical", s.physicalCards.map((c) => row([c.cardNumber, c.partnerId, c.cardStatus,
      c.amount === null ? "" : money(c.amount) + " " + c.currencyCode])));
  },

  async prime() {
    const s = await api("GET", "/state/prime");
    fill("prime-codes", s.offerCodes.map((c) => {
      const calls = Object.entries(c.calls).filter(([k]) => !k.includes(":")).map(([k, v]) => k + " " + v).join(", ");
      const outcome = el("span", c.outcomeNow + (c.pinnedReplies ? " (pinned reply)" : ""),
        c.outcomeNow === "SUCCESS" ? "ok" : "bad");
      return row([c.benefit, c.code, c.limit ? c.limit.uses + " per " + c.limit.period : "no limit",
        c.usedThisPeriod === null ? "" : c.usedThisPeriod, c.redemptions.length, calls, outcome]);
    }));
    fill("prime-auth", s.authCodes.map((a) => row([copyable(a.authCode), a.benefit, a.code, time(a.expiresAt)])));
  },

  async promotions() {
    const s = await api("GET", "/state/promotions");
    fill("promo-inventory", s.inventory.map((i) => row([i.environment, i.promotionId, i.available,
      i.assigned, i.redeemed, i.members])));
    const warnings = $("promo-warnings");
    warnings.hidden = !s.warnings.length;
    warnings.replaceChildren(...s.warnings.map((w) => {
      const item = el("p");
      item.appendChild(el("strong", "Low inventory (" + w.environment + "): "));
      item.appendChild(document.createTextNode(w.message));
      return item;
    }));
    fill("promo-reports", s.reports.slice().reverse().map((r) => {
      const reasons = Object.entries(r.reasons).map(([k, v]) => k + " " + v).join(", ") ||
        (r.fileErrors && r.fileErrors.length ? r.fileErrors.map((e) => e.reason || e).join(", ") : "");
      return row([r.file, r.environment, r.status, r.rows.accepted, r.rows.rejected + (reasons ? " (" + reasons + ")" : ""),
        time(r.processedAt)], r.status === "ACCEPTED" ? "" : "warn");
    }), "no uploads processed yet");
    const assigned = [];
    for (const i of s.inventory) for (const a of i.assignments || []) assigned.push(row([i.environment, i.promotionId, a.member, a.code]));
    fill("promo-assignments", assigned, "no member has claimed a code yet");
  },

  async controls() {
    const [scen, faults] = await Promise.all([api("GET", "/scenarios"), api("GET", "/faults")]);
    const choice = $("scenario-choice");
    const names = ["(embedded default)", ...Object.keys(scen.available)];
    if ([...choice.options].map((o) => o.value).join() !== names.join()) {
      choice.replaceChildren(...names.map((n) => el("option", n)));
    }
    fill("faults", faults.faults.map((f) => {
      const remove = el("button", "remove");
      remove.addEventListener("click", () => act(() => api("DELETE", "/faults/" + encodeURIComponent(f.id)), "fault " + f.id + " removed"));
      const effect = f.error || (f.throttle && "throttle") || f.transport || (f.latency_ms !== undefined && "latency " + JSON.stringify(f.latency_ms)) || (f.commit_then_fail && "commit then fail") || "";
      return row([f.id, f.source, JSON.stringify(f.match || {}), effect, f.seen + " / " + f.fired, remove]);
    }), "no faults");
  },
};

async function openExchange(requestId) {
  state.selected = requestId;
  const x = await api("GET", "/journal/" + encodeURIComponent(requestId));
  const e = x.entry;
  $("exchange").hidden = false;
  $("exchange-title").textContent = e.method + " " + e.path + " → " + e.status + " (" + (e.outcome || "") + ")";
  const headers = (list) => list.map(([k, v]) => k + ": " + v).join("\n");
  if (!x.kept) {
    $("exchange-request").textContent = "(no longer kept: only the newest calls keep their bodies)";
    $("exchange-response").textContent = "";
  } else {
    $("exchange-request").textContent = headers(x.request.headers) + "\n\n" + x.request.body +
      (x.request.bodyTruncated ? "\n… (" + x.request.bodyBytes + " bytes in all)" : "");
    $("exchange-response").textContent = x.response.status + "\n" + headers(x.response.headers) + "\n\n" +
      x.response.body + (x.response.bodyTruncated ? "\n… (" + x.response.bodyBytes + " bytes in all)" : "");
  }
  const sig = x.signature;
  $("exchange-signature").hidden = !sig;
  if (sig) {
    $("sig-canonical").textContent = sig.canonicalRequest;
    $("sig-sts").textContent = sig.stringToSign;
    const auth = (x.request.headers.find(([k]) => k === "authorization") || [null, "(presigned URL: see the query)"])[1];
    $("sig-auth").textContent = auth;
  }
}

async function act(fn, done) {
  try { await fn(); message(done, true); } catch (e) { if (!(e instanceof Stale)) message(e.message, false); }
  refresh();
}

function wireControls() {
  $("btn-reset").addEventListener("click", () => act(() => api("POST", "/reset", {}), "reset: state rebuilt from the active scenarios"));
  $("btn-switch").addEventListener("click", () => {
    const name = $("scenario-choice").value;
    const body = name === "(embedded default)" ? { default: true } : { names: [name] };
    body.keepState = $("scenario-keep").checked;
    act(() => api("POST", "/scenarios", body), "switched to " + name);
  });
  $("btn-freeze").addEventListener("click", () => act(() => api("POST", "/clock/freeze", {}), "clock frozen"));
  $("btn-unfreeze").addEventListener("click", () => act(() => api("POST", "/clock/unfreeze", {}), "clock running"));
  $("btn-advance").addEventListener("click", () => {
    const minutes = Number($("advance-minutes").value);
    act(() => api("POST", "/clock/advance", { minutes }), "clock advanced by " + minutes + " minutes");
  });
  $("btn-set-clock").addEventListener("click", () => {
    const now = $("clock-set").value.trim();
    act(() => api("PUT", "/clock", { now }), "clock set to " + now);
  });
  $("btn-verify").addEventListener("click", async () => {
    try {
      const v = await api("POST", "/expectations/verify", {});
      const lines = [(v.met ? "MET" : "NOT MET") + ": " + v.total + " expectation(s)"];
      for (const x of v.expectations) lines.push((x.met ? "  ok   " : "  FAIL ") + x.name + "  " + (x.message || ""));
      $("verify-result").textContent = lines.join("\n");
      $("verify-result").className = v.met ? "ok" : "bad";
    } catch (e) { message(e.message, false); }
  });
  $("btn-add-fault").addEventListener("click", () => {
    let spec;
    try { spec = JSON.parse($("fault-spec").value); } catch (e) { message("the fault is not valid JSON: " + e.message, false); return; }
    act(() => api("POST", "/faults", spec), "fault added");
  });
  $("journal-api").addEventListener("change", refresh);
  $("exchange-close").addEventListener("click", () => { $("exchange").hidden = true; state.selected = null; refresh(); });
}

// --- the tenant picker: the default tenant and every tenant of GET /__admin/tenants ----------
async function loadTenants() {
  let list;
  try { list = (await api("GET", "/tenants", undefined, true)).tenants; } catch (e) { return; }
  const picker = $("tenant");
  const options = [["", "default"], ...list.map((t) => [t.id, t.name ? t.name + " (" + t.id + ")" : t.id])];
  if (state.tenant && !list.some((t) => t.id === state.tenant)) {
    options.push([state.tenant, state.tenant + " (not found)"]);  // deleted, or never made
  }
  const key = JSON.stringify(options);
  if (key !== state.tenantsKey) {
    state.tenantsKey = key;
    picker.replaceChildren(...options.map(([id, text]) => { const o = el("option", text); o.value = id; return o; }));
  }
  picker.value = state.tenant;
}

function pick(tenant) {
  state.tenant = tenant;
  state.picks += 1;
  state.overviewKey = state.journalKey = state.selected = null;  // draw every panel anew
  $("exchange").hidden = true;
  const page = (tenant ? ADMIN + "/tenants/" + encodeURIComponent(tenant) : ADMIN) + "/dashboard";
  history.replaceState(null, "", page + location.hash);
  refresh();
}

// --- navigation, login and the poll loop ----------------------------------------------------
function show(panel) {
  state.panel = panel;
  for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-selected", String(b.dataset.panel === panel));
  for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== "panel-" + panel;
  if (location.hash !== "#" + panel) history.replaceState(null, "", "#" + panel);
  refresh();
}

function showLogin() {
  $("login").hidden = false;
  document.querySelector("main").hidden = true;
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    const clock = await api("GET", "/clock");
    $("clock-now").textContent = time(clock.now);
    $("clock-frozen").textContent = clock.frozen ? "frozen" : "running";
    await panels[state.panel]();
    $("status").textContent = "live"; $("status").className = "status live";
  } catch (e) {
    if (!(e instanceof Stale)) { $("status").textContent = e.message; $("status").className = "status down"; }
  } finally { state.busy = false; }
}

// What the server put in the page (when the caller may see the data without a token): painted
// before any request, so the first paint, and a one-shot screenshot, show data.
function paintInitial() {
  const node = $("initial-data");
  if (!node) return false;
  let d;
  try { d = JSON.parse(node.textContent); } catch (e) { return false; }
  $("version").textContent = "v" + d.version;
  $("clock-now").textContent = time(d.clock.now);
  $("clock-frozen").textContent = d.clock.frozen ? "frozen" : "running";
  render.overview(d.scenarios, d.identities);
  render.traffic(d.traffic);
  render.journal(d.journal);
  $("status").textContent = "live"; $("status").className = "status live";
  return true;
}

async function start() {
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.panel));
  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    try {
      await api("GET", "/identities");
      sessionStorage.setItem("mocksrvToken", state.token);
      $("login").hidden = true; document.querySelector("main").hidden = false; refresh(); loadTenants();
    } catch (e) { $("login-error").textContent = "that token was refused"; }
  });
  wireControls();
  $("tenant").addEventListener("change", (ev) => pick(ev.target.value));
  loadTenants();
  setInterval(loadTenants, TENANTS_MS);
  const painted = paintInitial();
  const wanted = location.hash.slice(1);
  show(panels[wanted] ? wanted : "overview");
  state.timer = setInterval(refresh, POLL_MS);
  if (!painted) {
    try { $("version").textContent = "v" + (await api("GET", "/version")).version; } catch (e) { /* shown by refresh */ }
  }
}

start();  // a deferred script: the document is parsed, the first paint has not happened yet
