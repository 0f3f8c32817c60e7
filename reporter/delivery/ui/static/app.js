// phantom-report UI: a few fetch() calls against the same-origin /v1 API (the login cookie
// authenticates them). No framework and no network access beyond this service.
"use strict";

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const detail = data && data.detail !== undefined ? data.detail : resp.statusText;
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "number") return v.toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 2 : digits });
  return String(v);
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function checked(containerId) {
  return Array.from(document.querySelectorAll("#" + containerId + " input:checked")).map((i) => i.value);
}

// ---- comparison page ------------------------------------------------------------------------
let compareSeq = 0;
async function refreshCompare() {
  const status = document.getElementById("compare-status");
  const models = Array.from(document.getElementById("models").selectedOptions).map((o) => o.value);
  const gpus = checked("gpus");
  const precisions = checked("precisions");
  const batch = parseInt(document.getElementById("batch").value, 10);
  if (!models.length || !gpus.length || !precisions.length) {
    status.textContent = "Pick at least one model, GPU and precision.";
    return;
  }
  const seq = ++compareSeq;
  status.textContent = "Predicting…";
  try {
    const data = await api("POST", "/v1/compare", { models, gpus, precisions, batch_sizes: [batch] });
    if (seq !== compareSeq) return; // a newer request superseded this one
    renderCompare(data.rows);
    status.textContent = data.count + " configurations";
    document.body.dataset.compareCount = String(data.count);
  } catch (err) {
    if (seq === compareSeq) { status.textContent = err.message; status.className = "status error"; }
  }
}

function renderCompare(rows) {
  const tbody = document.querySelector("#compare-table tbody");
  tbody.replaceChildren();
  for (const r of rows) {
    const tr = el("tr", { "data-gpu": r.gpu, class: r.supported === false ? "unsupported" : "" });
    tr.append(el("td", {}, r.model), el("td", {}, r.gpu), el("td", {}, r.precision), el("td", { class: "num" }, fmt(r.batch_size)));
    for (const k of ["latency_ms", "throughput_per_s", "tokens_per_s", "memory_gb"]) tr.append(el("td", { class: "num" }, fmt(r[k])));
    tr.append(el("td", {}, r.supported === false ? (r.reason || "unsupported") : (r.fits ? "yes" : "no: " + (r.fit_hint || ""))), el("td", {}, r.bound || ""));
    tbody.append(tr);
  }
  drawChart(rows);
}

function drawChart(rows) {
  const svg = document.getElementById("chart");
  const metric = document.getElementById("metric").value;
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const pts = rows.filter((r) => typeof r[metric] === "number");
  if (!pts.length) return;
  const width = svg.clientWidth || 800, height = 260, left = 180, barH = Math.max(8, Math.min(28, (height - 20) / pts.length - 4));
  svg.setAttribute("height", String(Math.max(height, pts.length * (barH + 4) + 20)));
  const max = Math.max(...pts.map((r) => r[metric]));
  pts.forEach((r, i) => {
    const y = 10 + i * (barH + 4);
    const w = max > 0 ? (width - left - 90) * (r[metric] / max) : 0;
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", "4"); label.setAttribute("y", String(y + barH * 0.75)); label.setAttribute("font-size", "12");
    label.textContent = `${r.model} · ${r.gpu} · ${r.precision}`;
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("x", String(left)); bar.setAttribute("y", String(y)); bar.setAttribute("width", String(w)); bar.setAttribute("height", String(barH));
    bar.setAttribute("fill", "#1f4e79");
    const val = document.createElementNS(ns, "text");
    val.setAttribute("x", String(left + w + 4)); val.setAttribute("y", String(y + barH * 0.75)); val.setAttribute("font-size", "12");
    val.textContent = fmt(r[metric]);
    svg.append(label, bar, val);
  });
}

function initCompare() {
  document.getElementById("compare-form").addEventListener("change", refreshCompare);
  refreshCompare();
}

// ---- profile editor -------------------------------------------------------------------------
function profileStatus(text, ok) {
  const s = document.getElementById("profile-status");
  s.textContent = text;
  s.className = "status " + (ok ? "ok" : "error");
}

function initProfiles() {
  const text = document.getElementById("profile-text");
  document.getElementById("profile-source").addEventListener("change", async (ev) => {
    if (!ev.target.value) return;
    try {
      const p = await api("GET", "/v1/gpus/" + encodeURIComponent(ev.target.value) + "/profile");
      text.value = p.toml;
      if (p.file) document.getElementById("profile-file").value = p.file;
      profileStatus("Loaded " + p.name, true);
    } catch (err) { profileStatus(err.message, false); }
  });
  document.getElementById("profile-validate").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/v1/profiles/validate", { toml: text.value });
      profileStatus("Valid profile: " + r.name, true);
    } catch (err) { profileStatus(err.message, false); }
  });
  document.getElementById("profile-save").addEventListener("click", async () => {
    const file = document.getElementById("profile-file").value;
    try {
      // the server validates again before writing; nothing invalid reaches the directory
      const r = await api("PUT", "/v1/profiles/" + encodeURIComponent(file), { toml: text.value });
      profileStatus("Saved " + r.file + " (" + r.name + ")", true);
    } catch (err) { profileStatus(err.message, false); }
  });
}

// ---- accuracy dashboard ---------------------------------------------------------------------
function scoreTable(tableId, rows, keyCols) {
  const t = document.getElementById(tableId);
  t.replaceChildren();
  const cols = [...keyCols, "n", "median_ape", "mape", "within_25pct", "coverage"];
  const head = el("tr");
  cols.forEach((c) => head.append(el("th", {}, c)));
  t.append(el("thead")); t.tHead.append(head);
  const body = el("tbody");
  for (const r of rows || []) {
    const tr = el("tr");
    for (const c of cols) {
      const v = r[c];
      const pct = ["median_ape", "mape", "within_25pct", "coverage"].includes(c) && typeof v === "number";
      tr.append(el("td", { class: typeof v === "number" ? "num" : "" }, pct ? fmt(v * 100, 1) + " %" : fmt(v)));
    }
    body.append(tr);
  }
  t.append(body);
}

async function initAccuracy() {
  const method = document.getElementById("accuracy-method");
  try {
    const a = await api("GET", "/v1/accuracy");
    if (!a.available) { method.textContent = "No accuracy figures: " + a.reason; return; }
    method.textContent = a.method;
    const s = a.summary || {};
    document.getElementById("accuracy-summary").textContent =
      `${fmt(s.n)} held-out measurements · median APE ${fmt((s.median_ape || 0) * 100, 1)} % · ` +
      `mean APE ${fmt((s.mape || 0) * 100, 1)} % · ` +
      `${fmt((a.confidence || 0.9) * 100, 0)} % interval coverage ${fmt((s.coverage || 0) * 100, 1)} %`;
    scoreTable("accuracy-gpu", a.by_gpu, ["gpu"]);
    scoreTable("accuracy-model", a.by_model, ["model"]);
    scoreTable("accuracy-runtime", a.by_runtime, ["runtime"]);
    scoreTable("accuracy-task-metric", a.by_task_metric, ["task_metric"]);
  } catch (err) { method.textContent = err.message; method.className = "error"; }
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "compare") initCompare();
  else if (page === "profiles") initProfiles();
  else if (page === "accuracy") initAccuracy();
});
