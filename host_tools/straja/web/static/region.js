// The Region view of straja hq's dashboard (docs/dashboard.md, docs/hq.md): every site's nodes,
// RF positions (fixes with their 95 % ellipses, rings and loci), Remote ID drones and their
// operators and the region tracks on a plain latitude/longitude grid (sites are often offline:
// at most local tiles, `straja hq --tiles DIR`, under it), and each node's live waterfall from
// the thinned spectra the sites publish.
// It reads app.js's `state` and its messages ("straja-message" events, after app.js applied them).
"use strict";

const region = { on: false, strips: new Map(), pending: false, zooms: [], tiles: new Map() };
const EARTH_M_PER_RAD = 6371000;
const TILE_RETRY_MS = 5000;
const MERCATOR_M_PER_PX_Z0 = 156543.034;  // a 256-pixel tile of zoom 0, at the equator
const MAX_TILES = 64;                     // more to cover the map: too far out, none drawn
const STRIP_ROWS = 48;
const GRID_STEPS_DEG = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2,
  0.5, 1, 2, 5];
const SCALE_BARS_M = [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

document.addEventListener("straja-message", (e) => {
  const msg = e.detail;
  if (msg.tiles) region.zooms = msg.tiles;  // /api/state: the zoom levels of the local tiles
  if (msg.type === "snapshot" && msg.region && !region.on) {
    region.on = true;
    $("nav button[data-view=region]").hidden = false;
    $("nav button[data-view=region]").addEventListener("click", drawRegion);
    show("region");
  }
  if (!region.on) return;
  if (msg.type === "spectrum") regionStrip(msg);
  else scheduleDraw();
});
function scheduleDraw() {  // a burst of events (or tiles arriving): one redraw
  if (region.pending) return;
  region.pending = true;
  requestAnimationFrame(() => { region.pending = false; drawRegion(); });
}

const has = (lat, lon) => typeof lat === "number" && typeof lon === "number";

// What the map shows, from the live state: [{what, lat, lon, ...}]
function regionMarks() {
  const marks = [];
  for (const node of state.nodes.values()) {
    const s = node.stats || {};
    if (has(s.latitude, s.longitude)) {
      marks.push({ what: "node", lat: s.latitude, lon: s.longitude, id: node.node_id, online: node.online });
    }
  }
  for (const a of state.alerts.values()) {
    if (!a.active) continue;
    if (a.site === "region") {
      if (has(a.latitude, a.longitude)) marks.push({ what: "track", lat: a.latitude, lon: a.longitude, alert: a });
      continue;
    }
    if (has(a.latitude, a.longitude) && a.position_kind === "fix") {
      marks.push({ what: "fix", lat: a.latitude, lon: a.longitude, alert: a });
    } else if (has(a.latitude, a.longitude) && (a.position_kind === "ring" || a.position_kind === "locus") && a.ring_m) {
      marks.push({ what: a.position_kind, lat: a.latitude, lon: a.longitude, alert: a });
    }
    if (has(a.claimed_latitude, a.claimed_longitude)) {
      marks.push({ what: "drone", lat: a.claimed_latitude, lon: a.claimed_longitude, alert: a });
    }
    if (has(a.operator_latitude, a.operator_longitude)) {
      marks.push({ what: "operator", lat: a.operator_latitude, lon: a.operator_longitude, alert: a });
    }
  }
  return marks;
}

// a local plane around the marks' centre (metres east and north): exact enough for a region
function projection(marks, W, H) {
  const lats = marks.map((m) => m.lat), lons = marks.map((m) => m.lon);
  const lat0 = (Math.min(...lats) + Math.max(...lats)) / 2, lon0 = (Math.min(...lons) + Math.max(...lons)) / 2;
  const k = Math.cos(lat0 * Math.PI / 180);
  const east = (lon) => (lon - lon0) * Math.PI / 180 * EARTH_M_PER_RAD * k;
  const north = (lat) => (lat - lat0) * Math.PI / 180 * EARTH_M_PER_RAD;
  const reach = marks.map((m) => m.alert && m.alert.ring_m ? m.alert.ring_m[1]
    : m.alert && m.alert.ellipse_m ? m.alert.ellipse_m[0] : 0);
  let span = 400;
  marks.forEach((m, i) => {
    span = Math.max(span, 2 * (Math.abs(east(m.lon)) + reach[i]), 2 * (Math.abs(north(m.lat)) + reach[i]));
  });
  const scale = Math.min(W, H) / (span * 1.15);  // pixels per metre
  const deg = 180 / Math.PI / EARTH_M_PER_RAD / scale;  // degrees of latitude per pixel
  return { lat0, lon0, k, scale, x: (lon) => W / 2 + east(lon) * scale, y: (lat) => H / 2 - north(lat) * scale,
           lon: (px) => lon0 + (px - W / 2) * deg / k, lat: (py) => lat0 - (py - H / 2) * deg };
}

// local web-Mercator tiles {z}/{x}/{y}.png of the zoom nearest the map's scale (within a tile the
// plane and Mercator differ by far less than a pixel); returns how many were drawn
function drawTiles(ctx, p, W, H) {
  if (!region.zooms.length) return 0;
  const ideal = Math.log2(MERCATOR_M_PER_PX_Z0 * Math.cos(p.lat0 * Math.PI / 180) * p.scale);
  const z = region.zooms.reduce((a, b) => (Math.abs(b - ideal) < Math.abs(a - ideal) ? b : a));
  const n = 2 ** z, clamp = (v) => Math.min(n - 1, Math.max(0, v));
  const tileX = (lon) => clamp(Math.floor((lon + 180) / 360 * n));
  const tileY = (lat) => {
    const r = lat * Math.PI / 180;
    return clamp(Math.floor((1 - Math.log(Math.tan(r) + 1 / Math.cos(r)) / Math.PI) / 2 * n));
  };
  const lonOf = (x) => x / n * 360 - 180;
  const latOf = (y) => Math.atan(Math.sinh(Math.PI * (1 - 2 * y / n))) * 180 / Math.PI;
  const [x0, x1, y0, y1] = [tileX(p.lon(0)), tileX(p.lon(W)), tileY(p.lat(0)), tileY(p.lat(H))];
  if ((x1 - x0 + 1) * (y1 - y0 + 1) > MAX_TILES) return 0;
  let drawn = 0;
  for (let x = x0; x <= x1; x++) {
    for (let y = y0; y <= y1; y++) {
      const key = `${z}/${x}/${y}`;
      let tile = region.tiles.get(key);
      // a tile the folder lacks answers No Content: nothing is drawn there; one that failed (that,
      // or the server busy or restarting) is asked again after TILE_RETRY_MS
      if (!tile || (tile.failedAt && Date.now() - tile.failedAt > TILE_RETRY_MS)) {
        tile = new Image(); tile.onload = scheduleDraw;
        tile.onerror = () => { tile.failedAt = Date.now(); setTimeout(scheduleDraw, TILE_RETRY_MS + 100); };
        tile.src = `/tiles/${key}.png`;
        region.tiles.set(key, tile);
      }
      if (tile.complete && tile.naturalWidth) {
        const left = p.x(lonOf(x)), top = p.y(latOf(y));
        ctx.drawImage(tile, left, top, p.x(lonOf(x + 1)) - left, p.y(latOf(y + 1)) - top);
        drawn++;
      }
    }
  }
  return drawn;
}

function drawGrid(ctx, p, W, H) {
  const degPerPx = 180 / Math.PI / EARTH_M_PER_RAD / p.scale;
  const step = GRID_STEPS_DEG.find((s) => s / degPerPx >= 90) || 10;
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  ctx.strokeStyle = "#1f2a33"; ctx.fillStyle = "#56636f"; ctx.font = "11px sans-serif";
  const latSpan = H / 2 * degPerPx, lonSpan = W / 2 * degPerPx / p.k;
  for (let lat = Math.floor((p.lat0 - latSpan) / step) * step; lat <= p.lat0 + latSpan; lat += step) {
    ctx.beginPath(); ctx.moveTo(0, p.y(lat)); ctx.lineTo(W, p.y(lat)); ctx.stroke();
    ctx.fillText(`${lat.toFixed(decimals)}°`, 2, p.y(lat) - 2);
  }
  for (let lon = Math.floor((p.lon0 - lonSpan) / step) * step; lon <= p.lon0 + lonSpan; lon += step) {
    ctx.beginPath(); ctx.moveTo(p.x(lon), 0); ctx.lineTo(p.x(lon), H); ctx.stroke();
    ctx.fillText(`${lon.toFixed(decimals)}°`, p.x(lon) + 2, H - 4);
  }
  const bar = SCALE_BARS_M.find((m) => m * p.scale >= 60) || SCALE_BARS_M.at(-1);
  ctx.strokeStyle = "#9ab"; ctx.fillStyle = "#9ab";
  ctx.beginPath(); ctx.moveTo(W - 20 - bar * p.scale, 20); ctx.lineTo(W - 20, 20); ctx.stroke();
  ctx.fillText(bar >= 1000 ? `${bar / 1000} km` : `${bar} m`, W - 20 - bar * p.scale, 14);
}

const DRAW = {
  node(ctx, m, x, y) {
    ctx.fillStyle = m.online ? "#4da3ff" : "#666";
    ctx.beginPath(); ctx.moveTo(x, y - 9); ctx.lineTo(x - 8, y + 6); ctx.lineTo(x + 8, y + 6); ctx.closePath(); ctx.fill();
    ctx.fillText(m.id, x + 10, y + 4);
  },
  fix(ctx, m, x, y, p) {  // ellipse_m: semi-major m, semi-minor m, major-axis azimuth (clockwise from north)
    if (m.alert.ellipse_m) {
      const [major, minor, azimuth] = m.alert.ellipse_m;
      ctx.strokeStyle = "#ff5c5c"; ctx.fillStyle = "rgba(255, 92, 92, 0.15)"; ctx.beginPath();
      ctx.ellipse(x, y, Math.max(major * p.scale, 1), Math.max(minor * p.scale, 1), (azimuth - 90) * Math.PI / 180, 0, 2 * Math.PI);
      ctx.fill(); ctx.stroke();
    }
    ctx.fillStyle = "#ff5c5c"; ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fill();
    ctx.fillText(`${m.alert.family} ${m.alert.alert_id}`, x + 8, y - 8);
  },
  ring(ctx, m, x, y, p) {  // ring_m: the band of distances (95 %) around lat/lon
    const [inner, outer] = m.alert.ring_m;
    const colour = m.what === "ring" ? "255, 179, 71" : "255, 120, 200";
    ctx.fillStyle = `rgba(${colour}, 0.15)`; ctx.strokeStyle = `rgb(${colour})`;
    ctx.beginPath(); ctx.arc(x, y, outer * p.scale, 0, 2 * Math.PI);
    ctx.moveTo(x + inner * p.scale, y); ctx.arc(x, y, inner * p.scale, 0, 2 * Math.PI, true);
    ctx.fill("evenodd"); ctx.stroke();
    ctx.fillStyle = `rgb(${colour})`;
    ctx.fillText(`${m.alert.family} ${m.alert.alert_id} (${m.what})`, x + outer * p.scale * 0.72, y - outer * p.scale * 0.72);
  },
  drone(ctx, m, x, y, p) {  // the Remote ID claim, and a dashed line to its operator
    const a = m.alert;
    if (has(a.operator_latitude, a.operator_longitude)) {
      ctx.strokeStyle = "#c9f"; ctx.setLineDash([4, 4]); ctx.beginPath(); ctx.moveTo(x, y);
      ctx.lineTo(p.x(a.operator_longitude), p.y(a.operator_latitude)); ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.fillStyle = "#c9f"; ctx.beginPath();
    ctx.moveTo(x, y - 7); ctx.lineTo(x + 7, y); ctx.lineTo(x, y + 7); ctx.lineTo(x - 7, y); ctx.closePath(); ctx.fill();
    ctx.fillText(a.uas_id || "Remote ID drone", x + 9, y + 4);
  },
  operator(ctx, m, x, y) {
    ctx.strokeStyle = "#c9f"; ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#c9f"; ctx.fillText("operator", x + 9, y + 4);
  },
  track(ctx, m, x, y, p) {  // a region track: what neighbouring sites see as one drone
    if (m.alert.radius_m) {  // the drone within this of its position (95 %)
      ctx.strokeStyle = "rgba(255, 255, 255, 0.5)"; ctx.setLineDash([2, 6]); ctx.beginPath();
      ctx.arc(x, y, m.alert.radius_m * p.scale, 0, 2 * Math.PI); ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 2; ctx.strokeRect(x - 7, y - 7, 14, 14); ctx.lineWidth = 1;
    ctx.fillStyle = "#fff"; ctx.fillText(m.alert.track_id, x + 10, y + 14);
  },
};
DRAW.locus = DRAW.ring;

function drawRegion() {
  const canvas = $("#region-map"), ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const marks = regionMarks();
  ctx.fillStyle = "#0b0e11"; ctx.fillRect(0, 0, W, H);
  const counts = {};
  canvas.dataset.tiles = 0;
  if (marks.length) {
    const p = projection(marks, W, H);
    canvas.dataset.tiles = drawTiles(ctx, p, W, H);
    drawGrid(ctx, p, W, H);

    ctx.font = "12px sans-serif";
    for (const what of ["ring", "locus", "fix", "operator", "drone", "track", "node"]) {  // nodes on top
      for (const m of marks.filter((k) => k.what === what)) DRAW[what](ctx, m, p.x(m.lon), p.y(m.lat), p);
    }
    for (const m of marks) counts[m.what] = (counts[m.what] || 0) + 1;
  } else {
    ctx.fillStyle = "#56636f"; ctx.font = "14px sans-serif";
    ctx.fillText("no positions yet: nodes appear with their surveyed position (node_stats)", 20, 30);
  }
  for (const what of Object.keys(DRAW)) canvas.dataset[what] = counts[what] || 0;
}

// each node's waterfall per front end, small, grouped by site
function regionStrip(msg) {
  const key = `${msg.node_id}/${msg.front_end}`;
  let strip = region.strips.get(key);
  if (!strip || strip.canvas.width !== msg.dbm.length) {
    const mhz = (k) => (k / 1000).toFixed(0);
    const canvas = el("canvas", { class: "strip", width: msg.dbm.length, height: STRIP_ROWS, "data-rows": 0 });
    const box = el("div", { class: "region-strip", "data-key": key },
      el("span", {}, `${msg.node_id} fe ${msg.front_end} ${mhz(msg.start_khz)}–${mhz(msg.stop_khz)} MHz`), canvas);
    if (strip) strip.box.replaceWith(box);
    else {
      const boxes = [...document.querySelectorAll("#region-strips .region-strip")];
      $("#region-strips").insertBefore(box, boxes.find((b) => b.dataset.key > key) || null);
    }
    strip = { box, canvas, ctx: canvas.getContext("2d"), row: new ImageData(msg.dbm.length, 1) };
    region.strips.set(key, strip);
  }
  waterfallRow(strip.ctx, strip.canvas, strip.row, msg.dbm);
}
