// The Plexus explorer: renders every view from this node's /v1 API (same origin) and keeps the
// overview live from /v1/stream/blocks. No framework, no build step, nothing from elsewhere.
//
// Every string from the API goes through esc() (or textContent) before it reaches the page:
// addresses, job outputs and endpoints are chosen by whoever sent a transaction.
"use strict";

// What went wrong in the page, for people (the console) and for the browser test.
window.__explorerErrors = [];
window.addEventListener("error", (e) => {
  window.__explorerErrors.push(String(e.message || e.error || "error"));
});
const consoleError = console.error.bind(console);
console.error = (...args) => {
  window.__explorerErrors.push("console.error: " + args.map(String).join(" "));
  consoleError(...args);
};
window.addEventListener("unhandledrejection", (e) => {
  window.__explorerErrors.push("unhandled rejection: " + String(e.reason && e.reason.message || e.reason));
});

const PLX_DECIMALS = 9n;
const PLX = 10n ** PLX_DECIMALS;
// Blocks the overview plots and the account history scan read back from the tip.
const OVERVIEW_BLOCKS = 40;
const HISTORY_BLOCKS = 200;
const BLOCKS_PAGE = 25;
// Requests in flight at once when reading many blocks (the node limits each client to 32).
const FETCH_PARALLEL = 6;

// ---------------------------------------------------------------- helpers

function esc(value) {
  return String(value === undefined || value === null ? "" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// Base units (a decimal string) as PLX, grouped, without trailing zeros: "1,234.5 PLX".
function plx(units) {
  if (units === undefined || units === null || units === "") return "—";
  let n;
  try { n = BigInt(units); } catch (_) { return esc(units); }
  const negative = n < 0n;
  if (negative) n = -n;
  const whole = (n / PLX).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let fraction = (n % PLX).toString().padStart(Number(PLX_DECIMALS), "0").replace(/0+$/, "");
  return (negative ? "−" : "") + whole + (fraction ? "." + fraction : "") + " PLX";
}

function num(value) {
  if (value === undefined || value === null) return "—";
  return Number(value).toLocaleString("en-US");
}

function short(text, keep) {
  const s = String(text || "");
  const k = keep || 10;
  return s.length > 2 * k + 1 ? s.slice(0, k) + "…" + s.slice(-6) : s;
}

function when(ms) {
  if (!ms) return "—";
  const d = new Date(Number(ms));
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - Number(ms)) / 1000));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  return Math.floor(s / 3600) + " h ago";
}

const link = {
  block: (h) => `<a href="#/block/${esc(h)}">${num(h)}</a>`,
  tx: (h) => `<a class="mono" href="#/tx/${esc(h)}" title="${esc(h)}">${esc(short(h))}</a>`,
  account: (a) => a ? `<a class="mono" href="#/account/${esc(a)}" title="${esc(a)}">${esc(short(a, 12))}</a>` : "—",
  provider: (a) => a ? `<a class="mono" href="#/provider/${esc(a)}" title="${esc(a)}">${esc(short(a, 12))}</a>` : "—",
  job: (id) => `<a class="mono" href="#/job/${esc(id)}" title="${esc(id)}">${esc(short(id))}</a>`,
  file: (id) => `<a class="mono" href="#/file/${esc(id)}" title="${esc(id)}">${esc(short(id))}</a>`,
};

function badge(text, tone) {
  return `<span class="badge ${esc(tone || "")}">${esc(text)}</span>`;
}

const STATUS_TONE = {
  settled: "good", success: "good", passed: "good", active: "good", finalized: "good", proven: "good",
  committed: "", assigned: "", posted: "", drawn: "", sealed: "", pending: "warn", repairing: "warn",
  faulty: "warn", declined: "warn", expired: "bad", refuted: "bad", failed: "bad", rejected: "bad",
  missed: "bad", disputed: "bad", lost: "bad", cancelled: "warn",
};
function status(text) {
  return badge(text, STATUS_TONE[text] || "");
}

function kv(rows) {
  return "<dl class=\"kv\">" + rows.filter((r) => r).map(([k, v]) =>
    `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("") + "</dl>";
}

// A table: columns are [heading, (row) => html, "num"?]; rows empty shows `empty`.
function table(columns, rows, empty) {
  if (!rows.length) return `<p class="muted">${esc(empty || "Nothing yet.")}</p>`;
  const head = columns.map(([h, , cls]) => `<th class="${cls || ""}">${esc(h)}</th>`).join("");
  const body = rows.map((r) => "<tr>" + columns.map(([, cell, cls]) =>
    `<td class="${cls || ""}">${cell(r)}</td>`).join("") + "</tr>").join("");
  return `<div class="table-wrap"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

// Fields the explorer does not know yet (a newer node's), shown as they come.
function extraRows(object, known) {
  return Object.keys(object).filter((k) => !known.includes(k)).map((k) => {
    const v = object[k];
    if (Array.isArray(v) || (v && typeof v === "object")) {
      return [k.replace(/_/g, " "), `<code>${esc(JSON.stringify(v))}</code>`];
    }
    return [k.replace(/_/g, " "), esc(v)];
  });
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const statusLine = document.getElementById("status-line");
let streamLive = false;

function setStatusLine(text, tone) {
  statusLine.textContent = text;
  statusLine.className = "status-line " + (tone || "");
}

async function api(path) {
  let response;
  try {
    response = await fetch("/v1" + path, { headers: { Accept: "application/json" } });
  } catch (_) {
    setStatusLine("The node is unreachable: showing what was loaded before. Retrying…", "down");
    throw new ApiError(0, "unreachable", "the node did not answer");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body && body.code || "http_" + response.status,
      body && body.message || response.statusText);
  }
  if (!streamLive && statusLine.classList.contains("down")) setStatusLine("Connected.", "");
  return body;
}

// The API's answer, or null when it says the thing does not exist.
async function apiOrNull(path) {
  try {
    return await api(path);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

// Finalized blocks never change: each is fetched once.
const blockCache = new Map();
function block(height) {
  if (!blockCache.has(height)) {
    const p = api("/blocks/" + height);
    p.catch(() => blockCache.delete(height));
    blockCache.set(height, p);
  }
  return blockCache.get(height);
}

// Blocks `from..=to`, newest first, at most FETCH_PARALLEL requests at once.
async function blocks(from, to) {
  const heights = [];
  for (let h = to; h >= Math.max(1, from); h--) heights.push(h);
  const out = new Array(heights.length);
  let next = 0;
  async function worker() {
    while (next < heights.length) {
      const i = next++;
      out[i] = await block(heights[i]);
    }
  }
  await Promise.all(Array.from({ length: FETCH_PARALLEL }, worker));
  return out;
}

// ---------------------------------------------------------------- plots (inline SVG)

// A line (or bar) plot of `series` = [{name, points: [[x, y]...]}], y from 0.
function plot(title, series, opts) {
  const o = opts || {};
  const W = 320, H = 110, L = 34, B = 14;
  const all = series.flatMap((s) => s.points);
  const last = series[0] && series[0].points.length ? series[0].points[series[0].points.length - 1][1] : null;
  let heading = `<div class="title"><span>${esc(title)}</span><span>${last === null ? "" : esc(o.format ? o.format(last) : num(last))}</span></div>`;
  if (all.length < 2) {
    return `<div class="plot" data-plot="${esc(title)}">${heading}<svg viewBox="0 0 ${W} ${H}"><text x="${L}" y="${H / 2}">waiting for blocks…</text></svg></div>`;
  }
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  // From 0, or (`fit`) from the lowest value, for totals that move little against their size.
  const y0 = o.fit ? Math.min(...ys) : 0;
  let y1 = Math.max(...ys);
  if (y1 <= y0) y1 = y0 + (o.fit ? Math.max(1e-9, Math.abs(y0) * 1e-9) : 1);
  const sy = (y) => H - B - ((y - y0) / (y1 - y0)) * (H - B - 8);
  const sx = (x) => L + (x1 === x0 ? 0 : (x - x0) / (x1 - x0)) * (W - L - 4);
  let shapes = "";
  series.forEach((s, i) => {
    if (o.bars) {
      const w = Math.max(1, (W - L - 4) / Math.max(1, x1 - x0 + 1) - 1);
      shapes += s.points.map(([x, y]) =>
        `<rect class="bar" x="${(sx(x) - w / 2).toFixed(1)}" y="${sy(y).toFixed(1)}" width="${w.toFixed(1)}" height="${(H - B - sy(y)).toFixed(1)}"></rect>`).join("");
    } else {
      const d = s.points.map(([x, y], j) => (j ? "L" : "M") + sx(x).toFixed(1) + " " + sy(y).toFixed(1)).join(" ");
      shapes += `<path class="line l${i}" d="${d}"></path>`;
    }
  });
  // A fitted plot's labels carry the decimals its range needs (a supply of a billion moves by
  // fractions of a PLX).
  const decimals = Math.min(9, Math.max(0, Math.ceil(-Math.log10(y1 - y0)) + 1));
  const fitted = (v) => v.toLocaleString("en-US", { maximumFractionDigits: decimals, minimumFractionDigits: decimals });
  const fmt = o.fit ? fitted : o.axis || ((v) => num(Math.round(v)));
  const axes = `<line class="axis" x1="${L}" y1="${H - B}" x2="${W}" y2="${H - B}"></line>` +
    `<text x="0" y="12">${esc(fmt(y1))}</text><text x="0" y="${H - B}">${esc(fmt(y0))}</text>` +
    `<text x="${L}" y="${H - 2}">#${esc(num(x0))}</text><text x="${W - 60}" y="${H - 2}">#${esc(num(x1))}</text>`;
  if (o.fit && last !== null) {
    heading = `<div class="title"><span>${esc(title)}</span><span>${esc(fitted(last))}</span></div>`;
  }
  const legend = series.length > 1 ? `<div class="legend">${series.map((s, i) => `<span class="k${i}">■ ${esc(s.name)}</span>`).join("")}</div>` : "";
  return `<div class="plot" data-plot="${esc(title)}">${heading}<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none">${axes}${shapes}</svg>${legend}</div>`;
}

// ---------------------------------------------------------------- live state

// What the overview plots: per block (from blocks and the stream) and per status poll.
const live = {
  tip: 0,
  perBlock: new Map(), // height -> {timestamp, txs, jobs, latency?}
  supply: [], // [height, total, minted, burned, auditPool]
  status: null,
};

function recordBlock(b, latency) {
  const prev = live.perBlock.get(b.height) || {};
  live.perBlock.set(b.height, {
    timestamp: b.timestamp,
    txs: Array.isArray(b.txs) ? b.txs.length : b.txs,
    jobs: Array.isArray(b.txs) ? b.txs.filter((t) => t.kind === "job_post").length : prev.jobs,
    latency: latency === undefined ? prev.latency : latency,
    proposer: b.proposer || prev.proposer,
    hash: b.hash,
  });
  const keys = [...live.perBlock.keys()].sort((a, c) => a - c);
  while (keys.length > OVERVIEW_BLOCKS * 3) live.perBlock.delete(keys.shift());
  if (b.height > live.tip) live.tip = b.height;
}

function recordStatus(s) {
  live.status = s;
  if (s.height > live.tip) live.tip = s.height;
  const last = live.supply[live.supply.length - 1];
  if (!last || last[0] !== s.height) {
    // As PLX in floating point: for drawing only (the cards show the exact amounts).
    const asPlx = (units) => Number(BigInt(units)) / Number(PLX);
    live.supply.push([s.height, asPlx(s.supply.total), asPlx(s.supply.minted), asPlx(s.supply.burned),
      asPlx(s.audit_pool)]);
    if (live.supply.length > 300) live.supply.shift();
  }
  document.getElementById("status-line").dataset.height = String(s.height);
}

function connectStream() {
  if (!window.EventSource) return;
  const source = new EventSource("/v1/stream/blocks");
  source.addEventListener("open", () => {
    streamLive = true;
    setStatusLine("Live: following finalized blocks.", "live");
  });
  source.addEventListener("error", () => {
    streamLive = false;
    setStatusLine("The node is unreachable or the block stream dropped: retrying…", "down");
  });
  source.addEventListener("block", (event) => {
    let e;
    try { e = JSON.parse(event.data); } catch (_) { return; }
    recordBlock(e, Date.now() - Number(e.timestamp));
    setStatusLine(`Live: block ${num(e.height)} finalized ${ago(e.timestamp)}.`, "live");
    onBlock();
  });
}

let pendingRefresh = null;
function onBlock() {
  // Redraw once per burst of blocks, after reading the status and the new blocks.
  if (pendingRefresh) return;
  pendingRefresh = setTimeout(async () => {
    pendingRefresh = null;
    try {
      recordStatus(await api("/status"));
      // Blocks the stream did not bring (finalized before it connected, or skipped by a slow
      // subscriber) and those whose transactions are not read yet.
      const missing = [];
      for (let h = Math.max(1, live.tip - OVERVIEW_BLOCKS + 1); h <= live.tip; h++) {
        const seen = live.perBlock.get(h);
        if (!seen || seen.jobs === undefined) missing.push(h);
      }
      if (missing.length) {
        (await blocks(missing[0], missing[missing.length - 1])).forEach((b) => recordBlock(b));
      }
    } catch (_) { /* the status line says so */ }
    if (current.view === "overview") drawOverview();
  }, 250);
}

// ---------------------------------------------------------------- views

const view = document.getElementById("view");
const current = { view: "", token: 0 };

function perMinute(counts) {
  // counts: [[timestamp, n]...] oldest first; n summed over the span's minutes.
  if (counts.length < 2) return null;
  const span = (counts[counts.length - 1][0] - counts[0][0]) / 60000;
  if (span <= 0) return null;
  return counts.slice(1).reduce((a, [, n]) => a + n, 0) / span;
}

function drawOverview() {
  const s = live.status;
  const heights = [...live.perBlock.keys()].sort((a, b) => a - b).slice(-OVERVIEW_BLOCKS);
  const rows = heights.map((h) => [h, live.perBlock.get(h)]);
  const intervals = [];
  for (let i = 1; i < rows.length; i++) {
    if (rows[i][0] === rows[i - 1][0] + 1) intervals.push([rows[i][0], rows[i][1].timestamp - rows[i - 1][1].timestamp]);
  }
  const latencies = rows.filter(([, r]) => r.latency !== undefined).map(([h, r]) => [h, Math.max(0, r.latency)]);
  const txRate = perMinute(rows.map(([, r]) => [r.timestamp, r.txs || 0]));
  const jobRate = perMinute(rows.filter(([, r]) => r.jobs !== undefined).map(([, r]) => [r.timestamp, r.jobs]));
  const lastLatency = latencies.length ? latencies[latencies.length - 1][1] : null;
  const avgInterval = intervals.length ? intervals.reduce((a, [, v]) => a + v, 0) / intervals.length : null;
  const card = (label, value, id) => `<div class="card"${id ? ` id="${id}"` : ""}><div class="label">${esc(label)}</div><div class="value${value.length > 16 ? " long" : ""}">${value}</div></div>`;
  const cards = s ? [
    card("Height", num(live.tip || s.height), "card-height"),
    card("Finality latency", lastLatency === null ? "—" : esc(num(lastLatency)) + " ms"),
    card("Block time", avgInterval === null ? "—" : esc((avgInterval / 1000).toFixed(2)) + " s"),
    card("Transactions / min", txRate === null ? "—" : esc(txRate.toFixed(1))),
    card("Jobs / min", jobRate === null ? "—" : esc(jobRate.toFixed(1))),
    card("Supply", plx(s.supply.total)),
    card("Minted", plx(s.supply.minted)),
    card("Burned", plx(s.supply.burned)),
    card("Audit pool", plx(s.audit_pool)),
    card("Validators", `${num(s.committee)} in committee / ${num(s.validators)}`),
    card("Epoch", `${num(s.epoch)} <span class="muted">(${epochSpan(s)})</span>`, "card-epoch"),
    card("Mempool", num(s.mempool_size)),
  ].join("") : "";
  const supply = (i) => live.supply.map((r) => [r[0], r[i]]);
  const plots = [
    plot("Block time (ms)", [{ name: "interval", points: intervals }]),
    plot("Finality latency seen here (ms)", [{ name: "latency", points: latencies }]),
    plot("Transactions per block", [{ name: "txs", points: rows.map(([h, r]) => [h, r.txs || 0]) }], { bars: true }),
    plot("Jobs posted per block", [{ name: "jobs", points: rows.filter(([, r]) => r.jobs !== undefined).map(([h, r]) => [h, r.jobs]) }], { bars: true }),
    plot("Supply (PLX)", [{ name: "supply", points: supply(1) }], { fit: true }),
    plot("Minted (PLX)", [{ name: "minted", points: supply(2) }], { fit: true }),
    plot("Burned (PLX)", [{ name: "burned", points: supply(3) }], { fit: true }),
    plot("Audit pool (PLX)", [{ name: "pool", points: supply(4) }], { fit: true }),
  ].join("");
  const recent = rows.slice().reverse().slice(0, 12);
  view.innerHTML = `<h1>Network</h1>
    <div class="cards">${cards}</div>
    <div class="plots">${plots}</div>
    <p class="muted">Plots cover the last ${OVERVIEW_BLOCKS} blocks; supply, minted, burned and the audit pool are sampled at each block since this page opened; finality latency is a block's arrival here minus its timestamp.</p>
    <h2>Latest blocks</h2>
    ${table([
      ["Height", ([h]) => link.block(h)],
      ["Time", ([, r]) => esc(when(r.timestamp))],
      ["Transactions", ([, r]) => num(r.txs), "num"],
      ["Jobs posted", ([, r]) => r.jobs === undefined ? "…" : num(r.jobs), "num"],
      ["Proposer", ([, r]) => link.account(r.proposer)],
    ], recent, "No blocks yet.")}
    <p><a href="#/blocks">All blocks →</a></p>`;
}

async function overview() {
  const s = await api("/status");
  recordStatus(s);
  const list = await blocks(s.height - OVERVIEW_BLOCKS + 1, s.height);
  list.forEach((b) => recordBlock(b));
  drawOverview();
}

async function blocksPage(arg) {
  const s = await api("/status");
  const top = Math.min(arg ? Number(arg) : s.height, s.height);
  const list = await blocks(top - BLOCKS_PAGE + 1, top);
  const older = top - BLOCKS_PAGE;
  view.innerHTML = `<h1>Blocks</h1>
    ${table([
      ["Height", (b) => link.block(b.height)],
      ["Time", (b) => esc(when(b.timestamp))],
      ["Transactions", (b) => num(b.txs.length), "num"],
      ["Hash", (b) => `<span class="mono">${esc(short(b.hash))}</span>`],
      ["Proposer", (b) => link.account(b.proposer)],
    ], list)}
    <div class="pager">${top < s.height ? `<a href="#/blocks/${Math.min(s.height, top + BLOCKS_PAGE)}">← Newer</a>` : ""}
    ${older >= 1 ? `<a href="#/blocks/${older}">Older →</a>` : ""}</div>`;
}

function txTarget(tx) {
  if (!tx.target) return "—";
  if (/^job_|^audit_|^dispute_/.test(tx.kind)) return link.job(tx.target);
  if (/^deal_|^shard_accept|^storage_proof|^fault_declare/.test(tx.kind)) return link.file(tx.target);
  if (tx.target.startsWith("plx1")) return link.account(tx.target);
  return `<span class="mono">${esc(short(tx.target))}</span>`;
}

function txTable(txs, extra) {
  return table([
    ["Hash", (t) => link.tx(t.hash)],
    ...(extra || []),
    ["Kind", (t) => `<code>${esc(t.kind)}</code>`],
    ["From", (t) => link.account(t.sender)],
    ["Target", (t) => txTarget(t)],
    ["Amount", (t) => t.amount === "0" ? "—" : plx(t.amount), "num"],
    ["Fee", (t) => plx(t.fee), "num"],
    ["Result", (t) => t.receipt ? status(t.receipt.status) + (t.receipt.reason ? ` <code>${esc(t.receipt.reason)}</code>` : "") : "—"],
  ], txs, "No transactions.");
}

async function blockPage(arg) {
  const height = Number(arg);
  if (!Number.isSafeInteger(height) || height < 0) throw new ApiError(400, "invalid_height", `"${arg}" is not a block height`);
  const b = await block(height);
  const s = live.status || await api("/status");
  view.innerHTML = `<h1>Block ${num(b.height)}</h1>
    <div class="pager">${b.height > 1 ? `<a href="#/block/${b.height - 1}">← Parent</a>` : ""}
    ${b.height < (live.tip || s.height) ? `<a href="#/block/${b.height + 1}">Child →</a>` : ""}</div>
    ${kv([
      ["Height", `<span id="block-height">${esc(b.height)}</span>`],
      ["Time", `${esc(when(b.timestamp))} <span class="muted">(${esc(ago(b.timestamp))})</span>`],
      ["Hash", `<span class="mono">${esc(b.hash)}</span>`],
      ["Parent", `<span class="mono">${esc(b.parent)}</span>`],
      ["Proposer", link.account(b.proposer)],
      ["State root", `<span class="mono">${esc(b.state_root)}</span>`],
      ["Transaction root", `<span class="mono">${esc(b.tx_root)}</span>`],
      ["Seed", `<span class="mono">${esc(b.seed)}</span>`],
      ["Transactions", num(b.txs.length)],
    ])}
    <h2>Transactions</h2>${txTable(b.txs)}`;
}

async function txPage(hash) {
  const t = await api("/txs/" + encodeURIComponent(hash));
  let tx = null;
  if (t.height !== null && t.height !== undefined) {
    const b = await block(t.height);
    tx = b.txs[t.index] && b.txs[t.index].hash === t.hash ? b.txs[t.index] : b.txs.find((x) => x.hash === t.hash);
  }
  const receipt = t.receipt || (tx && tx.receipt);
  view.innerHTML = `<h1>Transaction <span class="mono">${esc(short(t.hash, 16))}</span></h1>
    ${kv([
      ["Hash", `<span class="mono">${esc(t.hash)}</span>`],
      ["State", status(t.status)],
      t.height !== null && t.height !== undefined ? ["Block", `${link.block(t.height)} <span class="muted">(position ${esc(t.index)})</span>`] : null,
      tx ? ["Kind", `<code>${esc(tx.kind)}</code>`] : null,
      tx ? ["From", link.account(tx.sender)] : null,
      tx ? ["Nonce", num(tx.nonce)] : null,
      tx && tx.target ? ["Target", txTarget(tx)] : null,
      tx ? ["Amount", plx(tx.amount)] : null,
      tx ? ["Fee", plx(tx.fee)] : null,
      tx && tx.kind === "job_post" ? ["Job", link.job(tx.hash)] : null,
      tx && tx.kind === "deal_post" ? ["Stored file", link.file(tx.hash)] : null,
      receipt ? ["Result", status(receipt.status) + (receipt.reason ? ` <code>${esc(receipt.reason)}</code>` : "")] : null,
      receipt ? ["Fee burned", plx(receipt.fee_burned)] : null,
    ])}`;
}

/** Basis points as a percentage with two decimals (1000 -> "10.00%"). */
function bpsPercent(bps) {
  const n = Number(bps);
  return Number.isFinite(n) ? (n / 100).toFixed(2) + "%" : String(bps);
}

const ACCOUNT_FIELDS = ["address", "balance", "nonce", "next_nonce", "bonded", "unbonding", "rewards", "delegations"];

function delegationsHtml(delegations) {
  if (!Array.isArray(delegations)) return "";
  const keys = delegations.length ? Object.keys(delegations[0]) : [];
  return "<h2>Delegations</h2>" + table(keys.map((k) => [k.replace(/_/g, " "), (d) => {
    const v = d[k];
    if (typeof v === "string" && v.startsWith("plx1")) return link.account(v);
    if (typeof v === "string" && /^\d+$/.test(v) && /amount|stake|reward|bond|balance|shares/.test(k)) return plx(v);
    return esc(typeof v === "object" ? JSON.stringify(v) : v);
  }]), delegations, "No delegations.");
}

async function accountPage(address) {
  const a = await api("/accounts/" + encodeURIComponent(address));
  const [validators, provider, verifiers, jobs, files, s] = await Promise.all([
    api("/validators"), apiOrNull("/providers/" + encodeURIComponent(address)), api("/verifiers"),
    api("/jobs?limit=20&consumer=" + encodeURIComponent(address)),
    api("/storage/files?limit=20&owner=" + encodeURIComponent(address)), api("/status"),
  ]);
  const validator = validators.find((v) => v.address === a.address);
  const verifier = verifiers.find((v) => v.address === a.address);
  const roles = [validator ? `<a href="#/validators">validator</a>` : "", provider ? `<a href="#/provider/${esc(a.address)}">provider</a>` : "",
    verifier ? `<a href="#/verifiers">verifier</a>` : ""].filter((r) => r).join(", ");
  view.innerHTML = `<h1>Account <span class="mono">${esc(a.address)}</span></h1>
    ${kv([
      ["Balance", `<span id="account-balance">${plx(a.balance)}</span>`],
      ["Bonded (stake)", plx(a.bonded)],
      ["Unbonding", plx(a.unbonding)],
      a.rewards !== undefined ? ["Rewards", typeof a.rewards === "object" ? `<code>${esc(JSON.stringify(a.rewards))}</code>` : plx(a.rewards)] : null,
      ["Nonce", `${num(a.nonce)} <span class="muted">(next ${num(a.next_nonce)})</span>`],
      ["Roles", roles || "—"],
      validator ? ["Validator stake", plx(validator.stake)] : null,
      ...extraRows(a, ACCOUNT_FIELDS),
    ])}
    ${delegationsHtml(a.delegations)}
    <h2>Jobs posted</h2>${jobsTable(jobs)}
    <h2>Stored files</h2>${filesTable(files)}
    <h2>History</h2><div id="history"><p class="muted">Reading the last ${HISTORY_BLOCKS} blocks…</p></div>`;
  const token = current.token;
  const list = await blocks(s.height - HISTORY_BLOCKS + 1, s.height);
  if (token !== current.token) return;
  const mine = list.flatMap((b) => b.txs.filter((t) => t.sender === a.address || t.target === a.address)
    .map((t) => Object.assign({ height: b.height }, t)));
  document.getElementById("history").innerHTML =
    `<p class="muted">Transactions from or to this account in blocks ${num(Math.max(1, s.height - HISTORY_BLOCKS + 1))}–${num(s.height)}.</p>` +
    txTable(mine, [["Block", (t) => link.block(t.height)]]);
}

/** An epoch's heights and length, and a change of length a vote scheduled, as text. */
function epochSpan(s) {
  const span = `heights ${num(s.epoch_first_height)}–${num(s.epoch_last_height)}, ${num(s.epoch_length)} blocks`;
  const change = s.epoch_change;
  return change
    ? `${span}; ${num(change.length)} blocks from epoch ${num(change.first_epoch)} at height ${num(change.first_height)}`
    : span;
}

async function validatorsPage() {
  const [list, s] = await Promise.all([api("/validators"), api("/status")]);
  view.innerHTML = `<h1>Validators</h1>
    <p class="muted">Epoch ${num(s.epoch)} (${epochSpan(s)}); participation counts the blocks each validator signed this epoch.</p>
    ${table([
      ["Address", (v) => link.account(v.address)],
      ["Stake", (v) => plx(v.stake), "num"],
      ["Self bond", (v) => plx(v.self_bond), "num"],
      ["Delegated", (v) => plx(v.delegated), "num"],
      ["Commission", (v) => v.commission_bps === undefined ? "—" : esc(bpsPercent(v.commission_bps) + (v.commission_pending_bps == null ? "" : " (next epoch " + bpsPercent(v.commission_pending_bps) + ")")), "num"],
      ["Committee", (v) => (v.in_committee ? badge("now", "good") : "") + " " + (v.in_next_committee ? badge("next") : "")],
      ["Signed this epoch", (v) => num(v.epoch_signatures), "num"],
      ["Slashed", (v) => v.slashed === "0" ? "—" : plx(v.slashed), "num"],
      ["State", (v) => v.jailed ? badge("jailed", "bad") : badge("active", "good")],
    ], list, "No validators.")}`;
}

function providersTable(list) {
  return table([
    ["Provider", (p) => link.provider(p.address)],
    ["State", (p) => p.active ? badge("active", "good") : badge("inactive", "warn")],
    ["Bond", (p) => plx(p.bond), "num"],
    ["Ask / Mfuel", (p) => plx(p.ask_per_mfuel), "num"],
    ["Speed (fuel/s)", (p) => num(p.fuel_per_second), "num"],
    ["Reputation", (p) => num(p.reputation), "num"],
    ["Jobs done", (p) => num(p.jobs_done), "num"],
    ["Missed", (p) => num(p.jobs_missed), "num"],
    ["Audits passed", (p) => num(p.audits_passed), "num"],
    ["Disputes lost", (p) => num(p.disputes_lost), "num"],
    ["Slashed", (p) => p.slashed === "0" ? "—" : plx(p.slashed), "num"],
    ["In flight", (p) => `${num(p.jobs_in_flight)} / ${num(p.capacity)}`, "num"],
  ], list, "No providers registered.");
}

async function providersPage() {
  const [list, offers] = await Promise.all([api("/providers"), api("/storage/providers")]);
  view.innerHTML = `<h1>Providers</h1><h2>Compute</h2>${providersTable(list)}
    <h2>Storage offers</h2>${offersTable(offers)}`;
}

function offersTable(offers) {
  return table([
    ["Provider", (o) => link.provider(o.provider)],
    ["State", (o) => o.active ? badge("active", "good") : badge("inactive", "warn")],
    ["Capacity", (o) => bytes(o.capacity_bytes), "num"],
    ["Used", (o) => bytes(o.used_bytes), "num"],
    ["Price / GiB·epoch", (o) => plx(o.price_per_gib_epoch), "num"],
    ["Bond", (o) => plx(o.bond), "num"],
    ["Reputation", (o) => num(o.reputation), "num"],
  ], offers, "No storage offers.");
}

function bytes(n) {
  const v = Number(n);
  if (v < 1024) return num(v) + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let x = v / 1024, i = 0;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
  return x.toFixed(1) + " " + units[i];
}

async function providerPage(address) {
  const [p, jobs, offers] = await Promise.all([
    api("/providers/" + encodeURIComponent(address)),
    api("/jobs?limit=50&provider=" + encodeURIComponent(address)), api("/storage/providers"),
  ]);
  const offer = offers.filter((o) => o.provider === p.address);
  view.innerHTML = `<h1>Provider <span class="mono">${esc(p.address)}</span></h1>
    ${kv([
      ["Account", link.account(p.address)],
      ["State", p.active ? badge("active", "good") : badge("inactive", "warn")],
      ["Endpoint", `<span class="mono">${esc(p.endpoint)}</span>`],
      ["Bond", `${plx(p.bond)} <span class="muted">(${plx(p.bond_locked)} locked)</span>`],
      ["Ask per Mfuel", plx(p.ask_per_mfuel)],
      ["Measured speed", num(p.fuel_per_second) + " fuel/s"],
      ["Profile", esc(`${p.profile.cores} cores, ${p.profile.memory_mb} MB, ${p.profile.gpus} GPU ${p.profile.gpu_model}`)],
      ["Reputation", num(p.reputation)],
      ["Jobs", `${num(p.jobs_done)} done, ${num(p.jobs_missed)} missed, ${num(p.jobs_in_flight)} of ${num(p.capacity)} in flight`],
      ["Audits passed", num(p.audits_passed)],
      ["Disputes lost", num(p.disputes_lost)],
      ["Slashed", plx(p.slashed)],
      ["Registered", link.block(p.registered_height)],
      ["Last heartbeat", link.block(p.last_heartbeat_height)],
    ])}
    <h2>Storage offer</h2>${offersTable(offer)}
    <h2>Jobs</h2>${jobsTable(jobs)}`;
}

function jobsTable(jobs) {
  return table([
    ["Job", (j) => link.job(j.id)],
    ["Status", (j) => status(j.status)],
    ["Consumer", (j) => link.account(j.consumer)],
    ["Provider", (j) => link.provider(j.provider)],
    ["Posted", (j) => link.block(j.posted_height), "num"],
    ["Audit", (j) => esc(j.audit)],
    ["Fuel", (j) => j.total_fuel === null || j.total_fuel === undefined ? "—" : num(j.total_fuel), "num"],
    ["Escrow", (j) => plx(j.escrow), "num"],
    ["Paid", (j) => plx(j.paid), "num"],
  ], jobs, "No jobs.");
}

async function jobsPage() {
  const jobs = await api("/jobs?limit=100");
  view.innerHTML = `<h1>Jobs</h1><p class="muted">The newest ${num(jobs.length)} retained jobs.</p>${jobsTable(jobs)}`;
}

function at(height) {
  return height === null || height === undefined ? "" : ` at ${link.block(height)}`;
}

// The job's life as steps: done ones with their block, the next ones greyed.
function timeline(j) {
  const steps = [];
  const step = (name, done, text, tone) => steps.push({ name, done, text, tone });
  step("Posted", true, `by ${link.account(j.consumer)}${at(j.posted_height)}, escrow ${plx(j.escrow)}, deadline ${link.block(j.deadline_height)}`);
  if (j.status === "cancelled") step("Cancelled", true, "by its consumer before a match: refunded", "bad");
  step("Matched", !!j.provider, j.provider ? `to ${link.provider(j.provider)}${at(j.assigned_height)} at ${plx(j.ask_per_mfuel)} per Mfuel` : "waiting for a provider");
  step("Committed", j.committed_height !== null && j.committed_height !== undefined,
    j.committed_height !== null && j.committed_height !== undefined
      ? `at ${link.block(j.committed_height)}: ${num(j.total_fuel)} fuel in ${num(j.segments)} segment${j.segments === 1 ? "" : "s"}${j.failed ? " (the run failed)" : ""}, output <span class="mono">${esc(short(j.output_hash))}</span>`
      : "the provider owes its result");
  const a = j.audit_record;
  if (a) {
    step("Audit drawn", true, `${esc(a.kind)} audit by ${link.account(a.verifier)}${at(a.drawn_height)}, due ${link.block(a.due_height)}${a.segments.length ? `, segments ${esc(a.segments.join(", "))}` : ""}`);
    const over = !["drawn", "sealed"].includes(a.stage);
    step("Verdict", over, `${status(a.stage)}${a.canary_flagged ? " (canary flagged)" : ""}${a.paid && a.paid !== "0" ? `, verifier paid ${plx(a.paid)}` : ""}`, a.stage === "passed" ? "" : over ? "bad" : "");
  } else if (j.committed_height !== null && j.committed_height !== undefined) {
    step("Audit", true, j.audit === "full" ? "full audit pending" : "not drawn for an audit");
  }
  const d = j.dispute;
  if (d) {
    step("Dispute", true, `opened by ${link.account(d.challenger)}${d.by_verifier ? " (its verifier)" : ""}${at(d.opened_height)}, deposit ${plx(d.deposit)}`, "bad");
    step("Dispute rounds", true, `round ${num(d.round)}, ${esc(d.phase.replace(/_/g, " "))}, leaves ${num(d.lo)}–${num(d.hi)}${d.to_move ? `, ${esc(d.to_move)} to move by ${link.block(d.due_height)}` : ""}`);
    if (d.ruling) {
      const r = d.ruling;
      step("Ruling", true, `${r.provider_lost ? "the provider lost" : "the provider won"} by ${esc(r.end)}${at(r.height)}; slashed ${plx(r.slashed)}, ${plx(r.to_winner)} to the winner`, r.provider_lost ? "bad" : "");
    } else {
      step("Ruling", false, "pending");
    }
  }
  const final = ["settled", "expired", "refuted"].includes(j.status);
  if (j.status !== "cancelled") {
    step("Settlement", final, final ? `${status(j.status)}${at(j.finished_height)}` :
      j.settle_height ? `settles at ${link.block(j.settle_height)} unless disputed` : "pending", j.status === "settled" || !final ? "" : "bad");
  }
  if (final || j.status === "cancelled") {
    step("Bill", true, [["paid", j.paid], ["burned", j.burned], ["audit fee", j.audit_fee], ["refunded", j.refunded], ["slashed", j.slashed]]
      .filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k} ${plx(v)}`).join(", ") || "—");
  }
  return `<ol class="timeline" id="job-timeline">${steps.map((s) =>
    `<li class="${s.done ? "" : "pending"} ${s.tone || ""}" data-step="${esc(s.name)}"><span class="step">${esc(s.name)}</span>${s.text}</li>`).join("")}</ol>`;
}

async function jobPage(id) {
  const j = await api("/jobs/" + encodeURIComponent(id));
  view.innerHTML = `<h1>Job <span class="mono">${esc(short(j.id, 16))}</span> <span id="job-status">${status(j.status)}</span></h1>
    <h2>Timeline</h2>${timeline(j)}
    <h2>Details</h2>
    ${kv([
      ["Id", `<span class="mono">${esc(j.id)}</span>`],
      ["Posting transaction", link.tx(j.id)],
      ["Module", `<span class="mono">${esc(j.module)}</span>`],
      ["Input", `<span class="mono">${esc(j.input)}</span>`],
      ["Blobs", j.blobs.map((b) => `<span class="mono">${esc(b)}</span>`).join("<br>") || "—"],
      ["Max fuel", num(j.max_fuel)],
      ["Price cap per Mfuel", plx(j.price_cap_per_mfuel)],
      ["Audit class", esc(j.audit)],
      ["Output hash", j.output_hash ? `<span class="mono">${esc(j.output_hash)}</span>` : "—"],
      ["Trace root", j.trace_root ? `<span class="mono">${esc(j.trace_root)}</span>` : "—"],
    ])}`;
}

async function verifiersPage() {
  const list = await api("/verifiers");
  view.innerHTML = `<h1>Verifiers</h1>${table([
    ["Verifier", (v) => link.account(v.address)],
    ["Bond", (v) => plx(v.bond), "num"],
    ["Locked", (v) => plx(v.locked), "num"],
    ["Speed (fuel/s)", (v) => num(v.fuel_per_second), "num"],
    ["Open audits", (v) => `${num(v.open)} / ${num(v.capacity)}`, "num"],
    ["Audits done", (v) => num(v.audits_done), "num"],
    ["Missed", (v) => num(v.audits_missed), "num"],
    ["Declined", (v) => num(v.audits_declined), "num"],
    ["Disputes won / lost", (v) => `${num(v.disputes_won)} / ${num(v.disputes_lost)}`, "num"],
    ["Canaries flagged / passed", (v) => `${num(v.canaries_flagged)} / ${num(v.canaries_passed)}`, "num"],
    ["Earned", (v) => plx(v.earned), "num"],
    ["Slashed", (v) => v.slashed === "0" ? "—" : plx(v.slashed), "num"],
  ], list, "No verifiers registered.")}`;
}

function filesTable(files) {
  return table([
    ["File", (f) => link.file(f.id)],
    ["Owner", (f) => link.account(f.owner)],
    ["Size", (f) => bytes(f.size_bytes), "num"],
    ["Coding", (f) => `${esc(f.k)} of ${esc(f.n)}`, "num"],
    ["Shards active", (f) => `${num(f.shards_active)} / ${num(f.shard_count)}`, "num"],
    ["Epochs", (f) => `${num(f.start_epoch)}–${num(f.end_epoch)}`, "num"],
    ["Escrow", (f) => plx(f.escrow), "num"],
    ["Paid", (f) => plx(f.paid), "num"],
    ["Public", (f) => f.public ? "yes" : "no"],
  ], files, "No stored files.");
}

async function storagePage() {
  const [files, offers] = await Promise.all([api("/storage/files?limit=100"), api("/storage/providers")]);
  view.innerHTML = `<h1>Storage</h1><h2>Files</h2>${filesTable(files)}<h2>Providers' offers</h2>${offersTable(offers)}`;
}

// ---------------------------------------------------------------- governance

function tallyCell(t) {
  return `yes ${plx(t.yes)} · no ${plx(t.no)} · abstain ${plx(t.abstain)} · veto ${plx(t.veto)}`;
}

function proposalStatus(p) {
  const tone = { passed: "good", applied: "good", rejected: "bad", vetoed: "bad", no_quorum: "bad", failed_to_apply: "bad" }[p.status];
  return badge(p.status, tone);
}

async function governancePage() {
  const [proposals, params] = await Promise.all([api("/proposals?limit=100"), api("/params")]);
  const rows = [];
  for (const [section, names] of Object.entries(params.sections)) {
    for (const [name, p] of Object.entries(names)) rows.push({ key: section + "." + name, ...p });
  }
  view.innerHTML = `<h1>Governance</h1>
    <h2>Proposals</h2>
    ${table([
      ["Id", (p) => `<a href="#/proposal/${esc(p.id)}">${num(p.id)}</a>`, "num"],
      ["Title", (p) => esc(p.title)],
      ["Status", proposalStatus],
      ["Changes", (p) => p.changes.map((c) => `<code>${esc(c.key)} = ${esc(c.value)}</code>`).join(" ")],
      ["Proposer", (p) => link.account(p.proposer)],
      ["Voting ends", (p) => link.block(p.voting_end_height)],
      ["Takes effect", (p) => link.block(p.effect_height)],
    ], proposals, "No proposals.")}
    <h2>Parameters</h2>
    <p class="muted">Every parameter a proposal may change (<code>plexus gov propose --param SECTION.NAME=VALUE</code>), its value at block ${num(params.height)} and the bounds a proposal must keep.</p>
    ${table([
      ["Parameter", (r) => `<code>${esc(r.key)}</code>`],
      ["Value", (r) => esc(r.value), "num"],
      ["Min", (r) => esc(r.min), "num"],
      ["Max", (r) => esc(r.max), "num"],
    ], rows, "No parameters.")}`;
}

async function proposalPage(id) {
  const p = await api("/proposals/" + encodeURIComponent(id));
  view.innerHTML = `<h1>Proposal ${num(p.id)} ${proposalStatus(p)}</h1>
    ${kv([
      ["Title", esc(p.title)],
      ["Description", p.description ? esc(p.description) : "—"],
      ["Proposer", link.account(p.proposer)],
      ["Deposit", plx(p.deposit)],
      ["Submitted", link.block(p.submit_height)],
      ["Voting ends", link.block(p.voting_end_height)],
      ["Takes effect", link.block(p.effect_height)],
      ["Voters", num(p.voters)],
      ["Tally", tallyCell(p.tally)],
      ["Turnout", `${(Number(p.tally.turnout_bps) / 100).toFixed(2)}% of ${plx(p.tally.bonded)} bonded`],
      p.failure ? ["Failure", esc(p.failure)] : null,
    ])}
    <h2>Changes</h2>
    ${table([
      ["Parameter", (c) => `<code>${esc(c.key)}</code>`],
      ["New value", (c) => esc(c.value), "num"],
    ], p.changes, "No changes.")}`;
}

async function filePage(id) {
  // The file's summary fields and its segments, in one object.
  const f = await api("/storage/files/" + encodeURIComponent(id));
  const s = f;
  view.innerHTML = `<h1>Stored file <span class="mono">${esc(short(s.id, 16))}</span></h1>
    ${kv([
      ["Id", `<span class="mono">${esc(s.id)}</span>`],
      ["Deal transaction", link.tx(s.id)],
      ["Owner", link.account(s.owner)],
      ["Size", bytes(s.size_bytes)],
      ["Erasure coding", `any ${esc(s.k)} of ${esc(s.n)} shards per segment`],
      ["Segments", num(s.segment_count)],
      ["Shards active", `${num(s.shards_active)} of ${num(s.shard_count)}`],
      ["Epochs", `${num(s.start_epoch)} to ${num(s.end_epoch)}`],
      ["Price cap per GiB·epoch", plx(s.price_cap_per_gib_epoch)],
      ["Escrow", plx(s.escrow)], ["Paid", plx(s.paid)],
      ["Posted", link.block(s.posted_height)], ["Public", s.public ? "yes" : "no"],
    ])}
    ${f.segments.map((seg) => `<h2>Segment ${esc(seg.index)} <span class="muted">(${bytes(seg.size_bytes)}, shards of ${bytes(seg.shard_bytes)})</span></h2>` +
      table([
        ["Shard", (sh) => num(sh.index), "num"],
        ["Holder", (sh) => link.provider(sh.holder)],
        ["State", (sh) => status(sh.state)],
        ["Price / GiB·epoch", (sh) => plx(sh.price_per_gib_epoch), "num"],
        ["Collateral", (sh) => plx(sh.collateral), "num"],
        ["Active since", (sh) => sh.active_since_height ? link.block(sh.active_since_height) : "—"],
        ["Last proof", (sh) => sh.last_proof_height ? link.block(sh.last_proof_height) : "—"],
        ["Misses", (sh) => num(sh.misses), "num"],
        ["Challenge", (sh) => sh.challenge ? `epoch ${num(sh.challenge.epoch)} ${status(sh.challenge.outcome)}` : "—"],
      ], seg.shards)).join("")}`;
}

// ---------------------------------------------------------------- search

async function search(text) {
  const q = text.trim();
  if (!q) return;
  if (/^\d+$/.test(q)) return go("#/block/" + q);
  if (/^plx1[0-9a-z]+$/i.test(q)) return go("#/account/" + q.toLowerCase());
  const hex = q.toLowerCase().replace(/^0x/, "");
  if (/^[0-9a-f]{64}$/.test(hex)) {
    if (await apiOrNull("/jobs/" + hex)) return go("#/job/" + hex);
    if (await apiOrNull("/storage/files/" + hex)) return go("#/file/" + hex);
    if (await apiOrNull("/txs/" + hex)) return go("#/tx/" + hex);
    return showNotFound(`No job, stored file or transaction has the hash ${hex}.`);
  }
  return showNotFound(`"${q}" is not an address (plx1…), a transaction hash or job id (64 hex digits) or a block height.`);
}

function showNotFound(message) {
  view.innerHTML = `<h1>Not found</h1><p class="error" id="not-found">${esc(message)}</p>`;
  view.dataset.ready = "1";
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// ---------------------------------------------------------------- routing

const ROUTES = {
  "": ["overview", overview],
  blocks: ["blocks", blocksPage],
  block: ["block", blockPage],
  tx: ["tx", txPage],
  account: ["account", accountPage],
  validators: ["validators", validatorsPage],
  providers: ["providers", providersPage],
  provider: ["provider", providerPage],
  jobs: ["jobs", jobsPage],
  job: ["job", jobPage],
  verifiers: ["verifiers", verifiersPage],
  storage: ["storage", storagePage],
  file: ["file", filePage],
  governance: ["governance", governancePage],
  proposal: ["proposal", proposalPage],
};

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  const entry = ROUTES[parts[0]];
  const token = ++current.token;
  view.dataset.ready = "";
  document.querySelectorAll("nav a").forEach((a) => {
    a.classList.toggle("active", a.getAttribute("href") === "#/" + parts[0]);
  });
  if (!entry) {
    current.view = "missing";
    showNotFound(`There is no page "${location.hash}".`);
    return;
  }
  current.view = entry[0];
  document.body.dataset.view = entry[0];
  const arg = parts.slice(1).map(decodeURIComponent).join("/");
  try {
    await entry[1](arg);
  } catch (e) {
    if (token !== current.token) return;
    const what = e instanceof ApiError && e.status === 404 ? "Not found" : "Could not load this page";
    view.innerHTML = `<h1>${esc(what)}</h1><p class="error" id="load-error">${esc(e.message)}${e.code ? ` <code>${esc(e.code)}</code>` : ""}</p>`;
  }
  if (token === current.token) view.dataset.ready = "1";
  document.title = "Plexus explorer · " + (document.querySelector("main h1") || {}).textContent;
}

document.getElementById("search").addEventListener("submit", (e) => {
  e.preventDefault();
  search(document.getElementById("search-input").value).catch((err) => showNotFound(err.message));
});
window.addEventListener("hashchange", route);
route();
connectStream();
// Without the stream (a proxy that buffers it, a lost connection) the overview still moves.
setInterval(async () => {
  if (streamLive || current.view !== "overview") return;
  try {
    const s = await api("/status");
    if (s.height > live.tip) {
      recordBlock(await block(s.height));
      recordStatus(s);
      drawOverview();
    }
  } catch (_) { /* the status line says so */ }
}, 3000);
