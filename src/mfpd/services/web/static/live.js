// Live pages: one Server-Sent Events stream (/api/v1/events) keeps the header's state badge,
// the status page and the event log current without reloading. Other scripts (jobs.js) hear
// the stream's events as "mfpd:status", "mfpd:job" and "mfpd:log" DOM events.
"use strict";

(function () {
  const labels = JSON.parse(document.body.dataset.labels || "{}");
  const reasons = labels.reasons || {};
  const SEVERITIES = ["report", "warning", "error"];

  function pad(n) { return String(n).padStart(2, "0"); }

  // The server writes times in its own zone; the reader's zone is more useful.
  function fmtTime(ts) {
    if (!ts) return "—";
    const d = new Date(ts * 1000);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function setTime(el, ts) {
    if (!el) return;
    el.textContent = fmtTime(ts);
    if (ts) {
      el.dataset.ts = ts;
      el.setAttribute("datetime", new Date(ts * 1000).toISOString());
    }
  }

  function severity(reason) {
    return SEVERITIES.find((s) => reason.endsWith("-" + s)) || "report";
  }

  // The same naming as pages_render.reason_text.
  function reasonText(reason) {
    let keyword = reason;
    for (const s of SEVERITIES) {
      if (reason.endsWith("-" + s)) { keyword = reason.slice(0, -s.length - 1); break; }
    }
    if (reasons[keyword]) return reasons[keyword];
    const words = keyword.replace(/-/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  // The same rule as pages_render.badge.
  function badge(status) {
    const rs = status.state_reasons || [];
    let kind = status.state;
    if (status.state === "stopped" || rs.some((r) => r.endsWith("-error"))) kind = "stopped";
    else if (rs.some((r) => r.endsWith("-warning"))) kind = "warning";
    const label = status.state.charAt(0).toUpperCase() + status.state.slice(1);
    return [kind, label];
  }

  function levelState(percent, low) {
    if (percent <= 0) return "empty";
    return percent <= low ? "low" : "ok";
  }

  function levelLabel(kind, state) {
    if (kind === "waste") return { ok: "OK", low: "Almost full", empty: "Full" }[state];
    return { ok: "OK", low: "Low", empty: "Empty" }[state];
  }

  function setPill(el, prefix, value, text) {
    if (!el) return;
    el.className = el.className.split(" ").filter((c) => !c.startsWith(prefix)).join(" ") + " " + prefix + value;
    el.textContent = text;
  }

  function bindAll(name, text) {
    document.querySelectorAll('[data-bind="' + name + '"]').forEach((el) => { el.textContent = text; });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function applyStatus(s) {
    const [kind, label] = badge(s);
    document.querySelectorAll("[data-badge]").forEach((b) => {
      b.className = b.className.split(" ").filter((c) => !c.startsWith("badge-")).join(" ") + " badge-" + kind;
    });
    bindAll("state-label", label);
    bindAll("display", s.display);
    bindAll("accepting", s.accepting ? "Yes" : "No");
    bindAll("jobs-active", String(s.jobs ? s.jobs.active : 0));
    bindAll("paused", s.paused ? "Paused" : "Printing normally");

    const reasonList = document.getElementById("reasons");
    if (reasonList) {
      reasonList.replaceChildren(...s.state_reasons.map((r) => el("li", "pill sev-" + severity(r), reasonText(r))));
    }

    const alertsBody = document.getElementById("alerts-body");
    if (alertsBody) {
      const rows = s.alerts.map((a) => {
        const tr = el("tr");
        const sev = el("td");
        const name = a.severity.replace(/_/g, " ");
        sev.append(el("span", "pill alert-" + a.severity, name.charAt(0).toUpperCase() + name.slice(1)));
        const when = el("td", "when");
        const t = el("time");
        setTime(t, a.time);
        when.append(t);
        tr.append(sev, el("td", "", a.description), when);
        return tr;
      });
      alertsBody.replaceChildren(...rows);
      document.getElementById("alerts-empty").hidden = rows.length > 0;
      document.getElementById("alerts-wrap").hidden = rows.length === 0;
      bindAll("alert-count", String(rows.length));
    }

    for (const supply of s.supplies || []) {
      const row = document.querySelector('[data-supply="' + supply.key + '"]');
      if (!row) continue;
      row.querySelector("meter").value = supply.percent;
      row.querySelector('[data-bind="percent"]').textContent = supply.percent + "%";
      const state = levelState(supply.percent, supply.low_percent);
      setPill(row.querySelector('[data-bind="level-state"]'), "level-", state, levelLabel(supply.kind, state));
    }
    for (const tray of s.trays || []) {
      const row = document.querySelector('[data-tray="' + tray.key + '"]');
      if (!row) continue;
      row.querySelector("meter").value = tray.level;
      row.querySelector('[data-bind="sheets"]').textContent = tray.level + " / " + tray.capacity;
      const state = tray.level <= 0 ? "empty" : tray.level <= tray.low_level ? "low" : "ok";
      setPill(row.querySelector('[data-bind="level-state"]'), "level-", state, levelLabel("tray", state));
    }
    for (const bin of s.bins || []) {
      const row = document.querySelector('[data-bin="' + bin.key + '"]');
      if (!row) continue;
      row.querySelector("meter").value = bin.level;
      row.querySelector('[data-bind="sheets"]').textContent = bin.level + " / " + bin.capacity;
    }
    for (const [key, value] of Object.entries(s.counters || {})) {
      const cell = document.querySelector('[data-counter="' + key + '"]');
      if (cell) cell.textContent = Number(value).toLocaleString("en-US");
    }
    applyScanner(s.scanner);
  }

  // The scanner's card (Status and Scan pages): feeder, glass, AdfState, images by mode.
  function applyScanner(scanner) {
    if (!scanner) return;
    const set = (selector, text) => {
      document.querySelectorAll(selector).forEach((el) => { el.textContent = text; });
    };
    set('[data-scanner="state"]', scanner.state);
    set('[data-scanner-part="sheets"]', String(scanner.feeder_sheets));
    set('[data-scanner-part="adf"]', scanner.adf_state);
    set('[data-scanner="glass"]', scanner.glass);
    document.querySelectorAll("[data-scan-counter]").forEach((cell) => {
      const count = (scanner.images || {})[cell.dataset.scanCounter] || 0;
      cell.textContent = Number(count).toLocaleString("en-US");
    });
  }

  function applyLog(entry) {
    const table = document.getElementById("log-table");
    if (!table) return;
    const levels = ["info", "warning", "error"];
    const want = table.dataset;
    if (want.category && entry.category !== want.category) return;
    if (want.level && levels.indexOf(entry.level) < levels.indexOf(want.level)) return;
    if (want.q && !entry.message.toLowerCase().includes(want.q.toLowerCase())) return;
    const tr = el("tr", "flash-row");
    const when = el("td", "when");
    const t = el("time");
    setTime(t, entry.time);
    when.append(t);
    const level = el("td");
    level.append(el("span", "pill log-" + entry.level, entry.level.charAt(0).toUpperCase() + entry.level.slice(1)));
    const category = el("td");
    category.append(el("span", "tag", entry.category));
    tr.append(when, level, category, el("td", "message", entry.message));
    table.tBodies[0].prepend(tr);
    document.getElementById("log-empty").hidden = true;
  }

  function setLive(state, text) {
    const live = document.getElementById("live");
    if (!live) return;
    live.dataset.state = state;
    live.querySelector('[data-bind="live-label"]').textContent = text;
  }

  function emit(name, data) {
    document.dispatchEvent(new CustomEvent(name, { detail: data }));
  }

  function connect() {
    if (!("EventSource" in window) || document.body.dataset.live !== "on") return null;
    const source = new EventSource("/api/v1/events");
    source.addEventListener("open", () => setLive("on", "Live"));
    source.addEventListener("error", () => {
      setLive(source.readyState === EventSource.CLOSED ? "off" : "retry",
        source.readyState === EventSource.CLOSED ? "Not live" : "Reconnecting…");
    });
    source.addEventListener("status", (e) => {
      const status = JSON.parse(e.data);
      applyStatus(status);
      emit("mfpd:status", status);
    });
    source.addEventListener("job", (e) => emit("mfpd:job", JSON.parse(e.data)));
    source.addEventListener("log", (e) => {
      const entry = JSON.parse(e.data);
      applyLog(entry);
      emit("mfpd:log", entry);
    });
    return source;
  }

  document.querySelectorAll("time[data-ts]").forEach((t) => setTime(t, Number(t.dataset.ts)));
  window.mfpd = { fmtTime, setTime, reasonText, severity, labels };
  let stream = null;
  // After every deferred script (jobs.js) is listening for the events it forwards.
  document.addEventListener("DOMContentLoaded", () => { stream = connect(); });
  // A page left for another closes its stream (browsers limit open connections per host),
  // and opens a new one if the back button brings it back from the page cache.
  window.addEventListener("pagehide", () => { if (stream) stream.close(); });
  window.addEventListener("pageshow", (e) => { if (e.persisted) stream = connect(); });
})();
