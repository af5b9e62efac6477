// The Straja dashboard: state from /api/state, then live messages over /ws (docs/dashboard.md).
"use strict";

const state = { nodes: new Map(), alerts: new Map(), drones: new Map(), positions: {}, user: null,
                map: null, spectra: new Map() };
const KINDS = ["alert_raised", "alert_updated", "alert_cleared", "alert_acknowledged",
  "track_started", "track_ended", "node_online", "node_offline", "node_restarted", "node_stats",
  "scan_focus", "scan_restore", "port_opened", "port_closed", "command_failed", "reply_rejected",
  "source_quarantined", "node_recovery", "rid_seen", "rid_updated", "rid_lost", "rid_area_entered"];
const WATERFALL_ROWS = 120;
const DBM_FLOOR = -120, DBM_CEIL = -30;   // waterfall colour scale

const $ = (sel) => document.querySelector(sel);
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
function age(ns) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - ns / 1e9));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}
function utc(ns) { return new Date(ns / 1e6).toISOString().replace("T", " ").slice(0, 19); }

// -- views ------------------------------------------------------------------------------------
for (const b of document.querySelectorAll("nav button")) {
  b.addEventListener("click", () => show(b.dataset.view));
}
function show(view) {
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("active", b.dataset.view === view);
  for (const s of document.querySelectorAll(".view")) s.classList.toggle("active", s.id === `view-${view}`);
  if (view === "history") loadHistory();
  if (view === "map") drawMap();
}

// -- map: a plain grid in metres, nodes from the config, tracks when events carry positions, and
// the Remote ID drones where they say they and their operators are ----------------------------
let mapImage = null;
function trackMarks() {
  const marks = [];
  for (const a of state.alerts.values()) {
    if (a.active && a.position_m) marks.push(a);
  }
  return marks;
}
function droneMarks() {  // the Remote ID drones heard, and the identified alerts' claims
  const marks = [...state.drones.values()].filter((d) => d.position_m)
    .map((d) => ({ id: d.uas_id || d.address, at: d.position_m, operator: d.operator_m, plausible: d.plausible }));
  const heard = new Set(marks.map((m) => m.id));
  for (const a of state.alerts.values()) {
    if (a.active && a.identified && a.claimed_m && !heard.has(a.uas_id)) {
      marks.push({ id: a.uas_id, at: a.claimed_m, operator: a.operator_m, plausible: true });
    }
  }
  return marks;
}
function drawDrone(ctx, m, px, py) {  // a diamond at the claim, a square at its operator, joined
  const x = px(m.at[0]), y = py(m.at[1]);
  ctx.strokeStyle = ctx.fillStyle = m.plausible === false ? "#ffb000" : "#c9f";
  if (m.operator) {
    const ox = px(m.operator[0]), oy = py(m.operator[1]);
    ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(ox, oy); ctx.stroke();
    ctx.setLineDash([]); ctx.fillRect(ox - 4, oy - 4, 8, 8);
    ctx.fillText("operator", ox + 8, oy + 4);
  }
  ctx.beginPath(); ctx.moveTo(x, y - 7); ctx.lineTo(x + 7, y); ctx.lineTo(x, y + 7); ctx.lineTo(x - 7, y);
  ctx.closePath(); ctx.fill();
  ctx.fillText(`Remote ID ${m.id}${m.plausible === false ? " (implausible)" : ""}`, x + 9, y - 6);
}
function drawMap() {
  const canvas = $("#map"), ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const drones = droneMarks();
  const points = Object.values(state.positions).concat(trackMarks().map((a) => a.position_m),
    drones.map((m) => m.at), drones.filter((m) => m.operator).map((m) => m.operator));
  if (state.map && state.map.extent_m.length === 4) {
    const [x0, y0, x1, y1] = state.map.extent_m; points.push([x0, y0], [x1, y1]);
  }
  if (!points.length) points.push([0, 0]);
  let xmin = Math.min(...points.map((p) => p[0])), xmax = Math.max(...points.map((p) => p[0]));
  let ymin = Math.min(...points.map((p) => p[1])), ymax = Math.max(...points.map((p) => p[1]));
  const span = Math.max(xmax - xmin, ymax - ymin, 200) * 1.3;
  const cx = (xmin + xmax) / 2, cy = (ymin + ymax) / 2;
  const scale = Math.min(W, H) / span;
  const px = (x) => W / 2 + (x - cx) * scale, py = (y) => H / 2 - (y - cy) * scale;
  ctx.fillStyle = "#0b0e11"; ctx.fillRect(0, 0, W, H);
  if (mapImage && mapImage.complete && mapImage.naturalWidth) {
    const [x0, y0, x1, y1] = state.map.extent_m;
    ctx.globalAlpha = 0.6;
    ctx.drawImage(mapImage, px(x0), py(y1), (x1 - x0) * scale, (y1 - y0) * scale);
    ctx.globalAlpha = 1;
  }
  const step = Math.pow(10, Math.floor(Math.log10(span / 4)));
  ctx.strokeStyle = "#1f2a33"; ctx.fillStyle = "#56636f"; ctx.font = "11px sans-serif";
  for (let x = Math.floor((cx - span) / step) * step; x <= cx + span; x += step) {
    ctx.beginPath(); ctx.moveTo(px(x), 0); ctx.lineTo(px(x), H); ctx.stroke();
    ctx.fillText(`${x} m`, px(x) + 2, H - 4);
  }
  for (let y = Math.floor((cy - span) / step) * step; y <= cy + span; y += step) {
    ctx.beginPath(); ctx.moveTo(0, py(y)); ctx.lineTo(W, py(y)); ctx.stroke();
    ctx.fillText(`${y} m`, 2, py(y) - 2);
  }
  const alerted = new Set();
  for (const a of state.alerts.values()) {
    if (a.active) for (const n of a.nodes) alerted.add(n.node_id);
  }
  for (const a of trackMarks()) {
    const [x, y] = a.position_m;
    if (a.ring_m) {  // a locus or a ring: the 95 % band of distances around position_m
      ctx.strokeStyle = "#b06a2a"; ctx.setLineDash([6, 4]);
      for (const r of a.ring_m) {
        ctx.beginPath(); ctx.arc(px(x), py(y), r * scale, 0, 2 * Math.PI); ctx.stroke();
      }
      ctx.setLineDash([]);
    }
    if (a.ellipse_m) {  // the fix's 95 %: [semi-major m, semi-minor m, azimuth clockwise from north]
      const [ma, mi, az] = a.ellipse_m;
      ctx.strokeStyle = "#ff5c5c"; ctx.beginPath();
      ctx.ellipse(px(x), py(y), ma * scale, mi * scale, (az - 90) * Math.PI / 180, 0, 2 * Math.PI);
      ctx.stroke();
    }
    if (a.position_kind === "fix") {
      ctx.fillStyle = "#ff5c5c"; ctx.beginPath(); ctx.arc(px(x), py(y), 5, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.fillStyle = "#ff5c5c";
    ctx.fillText(`${a.family} ${a.alert_id} (${a.position_kind})`, px(x) + 8, py(y) - 8);
  }
  for (const m of drones) drawDrone(ctx, m, px, py);
  ctx.font = "13px sans-serif";
  for (const [id, p] of Object.entries(state.positions)) {
    const node = state.nodes.get(Number(id));
    const x = px(p[0]), y = py(p[1]);
    ctx.fillStyle = alerted.has(Number(id)) ? "#ff5c5c" : node && node.online ? "#4da3ff" : "#666";
    ctx.beginPath(); ctx.moveTo(x, y - 9); ctx.lineTo(x - 8, y + 6); ctx.lineTo(x + 8, y + 6);
    ctx.closePath(); ctx.fill();
    ctx.fillText(`node ${id}`, x + 10, y + 4);
  }
  canvas.dataset.nodes = Object.keys(state.positions).length;
  canvas.dataset.drones = drones.length;
}

// -- alerts -----------------------------------------------------------------------------------
function renderAlerts() {
  const body = $("#alerts tbody");
  body.replaceChildren();
  const alerts = [...state.alerts.values()].sort((a, b) => (b.active - a.active) || (b.raised_ns - a.raised_ns));
  for (const a of alerts) {
    const ack = a.acknowledged;
    const canAck = a.active && !ack && state.user && state.user.role === "operator";
    // the linked Remote ID drone (docs/gateway.md, "Identified and unidentified alerts")
    const operator = a.operator_latitude == null ? "operator unknown"
      : `operator at ${a.operator_latitude.toFixed(5)}, ${a.operator_longitude.toFixed(5)}`;
    const identity = a.identified ? `identified: ${a.uas_id}, ${operator}` : "UNIDENTIFIED";
    body.append(el("tr", { class: `alert-row ${a.active ? a.severity : "cleared"}`, "data-alert": a.alert_id },
      el("td", {}, a.severity), el("td", {}, a.family), el("td", {}, identity),
      el("td", {}, a.text), el("td", {}, a.nodes.map((n) => n.node_id).join(", ")),
      el("td", { class: "age", "data-ns": a.raised_ns }, age(a.raised_ns)),
      el("td", { class: "state" }, (a.active ? "active" : "cleared")
        + (ack ? `, acknowledged by ${ack.by} at ${utc(ack.t_ns)}` : "")),
      el("td", {}, canAck ? el("button", { class: "ack", onclick: () => acknowledge(a.alert_id) }, "acknowledge") : "")));
  }
  const active = alerts.filter((a) => a.active).length;
  $("#alert-count").textContent = active ? `(${active})` : "";
}
async function acknowledge(alertId) {
  const r = await fetch(`/api/alerts/${encodeURIComponent(alertId)}/ack`, { method: "POST" });
  if (!r.ok) alert(`acknowledge failed: ${(await r.json()).detail || r.status}`);
}

// -- nodes: health, and per front end a spectrum and a waterfall --------------------------------
function nodeCard(id) {
  let card = document.getElementById(`node-${id}`);
  if (!card) {
    card = el("div", { class: "node", id: `node-${id}`, "data-node": id },
      el("h2", {}, `node ${id}`), el("div", { class: "health" }), el("div", { class: "front-ends" }));
    const cards = [...document.querySelectorAll("#nodes .node")];
    const after = cards.find((c) => Number(c.dataset.node) > id);
    $("#nodes").insertBefore(card, after || null);
  }
  return card;
}
function renderNode(node) {
  state.nodes.set(node.node_id, node);
  const card = nodeCard(node.node_id);
  const s = node.stats || {};
  const fields = [["status", node.online ? "online" : "offline"], ["port", node.port || "?"],
    ["frames", s.frames], ["lost", s.lost], ["restarts", s.restarts],
    ["free memory", s.mem_free != null ? `${Math.round(s.mem_free / 1024)} KiB` : undefined],
    ["overruns", s.overruns], ["uptime", s.uptime_s != null ? `${s.uptime_s} s` : undefined],
    ["firmware", s.firmware]];
  card.querySelector(".health").replaceChildren(...fields.filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => el("span", { class: k === "status" ? v : "" }, `${k}: ${v}`)));
  drawMap();
}
function spectrumView(msg) {
  const key = `${msg.node_id}/${msg.front_end}`;
  let view = state.spectra.get(key);
  const n = msg.dbm.length;
  if (view && view.n === n && view.start === msg.start_khz) return view;
  const card = nodeCard(msg.node_id);
  const box = el("div", { class: "front-end", "data-front-end": msg.front_end });
  const mhz = (k) => (k / 1000).toFixed(0);
  box.append(el("h3", {}, `front end ${msg.front_end}: ${mhz(msg.start_khz)}–${mhz(msg.stop_khz)} MHz`));
  const plotBox = el("div"); box.append(plotBox);
  const waterfall = el("canvas", { class: "waterfall", width: n, height: WATERFALL_ROWS, "data-rows": 0 });
  box.append(waterfall);
  if (view) view.box.replaceWith(box);
  else {  // in front-end order
    const boxes = [...card.querySelectorAll(".front-end")];
    card.querySelector(".front-ends").insertBefore(box, boxes.find((b) => Number(b.dataset.frontEnd) > msg.front_end) || null);
  }
  const freqs = Array.from({ length: n }, (_, i) => (msg.start_khz + (msg.stop_khz - msg.start_khz) * i / Math.max(1, n - 1)) / 1000);
  const plot = new uPlot({ width: 420, height: 140, legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false }, y: { range: [DBM_FLOOR, DBM_CEIL] } },
    axes: [{ stroke: "#9ab", grid: { stroke: "#222" } }, { stroke: "#9ab", grid: { stroke: "#222" } }],
    series: [{}, { stroke: "#4da3ff", width: 1 }] }, [freqs, msg.dbm], plotBox);
  view = { n, start: msg.start_khz, box, plot, freqs, waterfall, ctx: waterfall.getContext("2d"),
           row: new ImageData(n, 1) };
  state.spectra.set(key, view);
  return view;
}
function colour(dbm) {
  const t = Math.min(1, Math.max(0, (dbm - DBM_FLOOR) / (DBM_CEIL - DBM_FLOOR)));
  return [Math.round(255 * Math.min(1, 2 * t)), Math.round(255 * Math.max(0, 2 * t - 1)), Math.round(120 * (1 - t))];
}
// a waterfall canvas scrolls down one row, the newest spectrum on top (the region view's too)
function waterfallRow(ctx, waterfall, row, dbm) {
  const n = waterfall.width, rows = waterfall.height;
  ctx.drawImage(waterfall, 0, 0, n, rows - 1, 0, 1, n, rows - 1);
  dbm.forEach((v, i) => {
    const [r, g, b] = colour(v);
    row.data.set([r, g, b, 255], i * 4);
  });
  ctx.putImageData(row, 0, 0);
  waterfall.dataset.rows = Number(waterfall.dataset.rows) + 1;
}
function renderSpectrum(msg) {
  const view = spectrumView(msg);
  view.plot.setData([view.freqs, msg.dbm]);
  waterfallRow(view.ctx, view.waterfall, view.row, msg.dbm);
}

// -- history ------------------------------------------------------------------------------------
for (const k of KINDS) $("#filters select").append(el("option", { value: k }, k));
$("#filters").addEventListener("submit", (e) => { e.preventDefault(); loadHistory(); });
let historyRequest = 0;  // only the latest query's answer is shown
async function loadHistory() {
  const request = ++historyRequest;
  const form = new FormData($("#filters"));
  const q = new URLSearchParams([...form].filter(([, v]) => v !== ""));
  const r = await fetch(`/api/events?${q}`);
  const rows = await r.json();
  if (request !== historyRequest) return;
  if (!r.ok) { alert(rows.detail || r.status); return; }
  $("#history tbody").replaceChildren(...rows.map((e) => el("tr", { class: "history-row" },
    el("td", {}, e.id), el("td", {}, utc(e.t_ns)), el("td", {}, e.kind), el("td", {}, e.node_id ?? ""),
    el("td", {}, e.alert_id ?? ""), el("td", {}, e.text || e.by || e.port || e.uas_id || ""))));
}

// -- live ---------------------------------------------------------------------------------------
function apply(msg) {
  if (msg.type === "snapshot") {
    state.positions = msg.positions;
    msg.nodes.forEach(renderNode);
    state.alerts = new Map(msg.alerts.map((a) => [a.alert_id, a]));
    state.drones = new Map((msg.drones || []).map((d) => [d.uas_id, d]));
    for (const id of Object.keys(msg.positions)) nodeCard(Number(id));
    renderAlerts(); drawMap();
  } else if (msg.type === "node") {
    renderNode(msg.node);
  } else if (msg.type === "alert") {
    state.alerts.set(msg.alert.alert_id, msg.alert); renderAlerts(); drawMap();
  } else if (msg.type === "drone") {
    if (msg.drone.active) state.drones.set(msg.drone.uas_id, msg.drone);
    else state.drones.delete(msg.drone.uas_id);
    drawMap();
  } else if (msg.type === "spectrum") {
    renderSpectrum(msg);
  }
  document.dispatchEvent(new CustomEvent("straja-message", { detail: msg }));  // region.js
}
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onopen = () => { $("#link").textContent = "live"; $("#link").className = "up"; };
  ws.onmessage = (e) => apply(JSON.parse(e.data));
  ws.onclose = () => {
    $("#link").textContent = "reconnecting"; $("#link").className = "down";
    setTimeout(connect, 2000);
  };
}
async function start() {
  const s = await (await fetch("/api/state")).json();
  state.user = s.user; state.map = s.map;
  $("#user").textContent = `${s.user.name} (${s.user.role})`;
  if (s.map.image) { mapImage = new Image(); mapImage.onload = drawMap; mapImage.src = "/map-image"; }
  apply(s);
  connect();
  setInterval(() => {
    for (const td of document.querySelectorAll("#alerts td.age")) td.textContent = age(Number(td.dataset.ns));
  }, 1000);
}
start();
