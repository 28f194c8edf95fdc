// soundbridge dashboard: graph explorer, world map, Cypher console. No framework, no CDN.
"use strict";

const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46a0a0", "#f032e6",
  "#9a6324", "#800000", "#808000", "#000075", "#469990"];
const colours = new Map();
function colourOf(value) {
  if (value === null || value === undefined) return "#9ca3af";
  if (!colours.has(value)) colours.set(value, PALETTE[colours.size % PALETTE.length]);
  return colours.get(value);
}

const $ = (sel) => document.querySelector(sel);
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function status(text) { $("#status").textContent = text; }

async function api(path, options) {
  const res = await fetch(path, options);
  const body = await res.json();
  if (!res.ok) throw new Error(body.detail || res.statusText);
  return body;
}

// --- tabs -----------------------------------------------------------------------------------
let mapReady = false;
document.querySelectorAll("nav .tab").forEach((tab) => tab.addEventListener("click", () => {
  document.querySelectorAll("nav .tab").forEach((t) => t.classList.toggle("active", t === tab));
  document.querySelectorAll(".view").forEach((v) =>
    v.classList.toggle("active", v.id === `view-${tab.dataset.view}`));
  if (tab.dataset.view === "map" && !mapReady) { mapReady = true; initMap(); }
  if (tab.dataset.view === "explorer") cy.resize();
  if (tab.dataset.view === "cypher") cypherCy.resize();
}));

// --- graph explorer -------------------------------------------------------------------------
const STYLE = [
  { selector: "node", style: { "label": "data(name)", "font-size": 9, "width": 16, "height": 16,
    "background-color": "data(colour)", "text-wrap": "ellipsis", "text-max-width": 120 } },
  { selector: "node[label = 'Culture']", style: { "shape": "round-rectangle" } },
  { selector: "node[label = 'Function']", style: { "shape": "diamond" } },
  { selector: "node[label = 'Artist']", style: { "shape": "triangle" } },
  { selector: "node:selected", style: { "border-width": 3, "border-color": "#111" } },
  { selector: "edge", style: { "width": 1.2, "line-color": "#c7ccd4", "curve-style": "bezier",
    "target-arrow-shape": "triangle", "target-arrow-color": "#c7ccd4", "arrow-scale": 0.6 } },
  { selector: "edge[type = 'EXPERT_CONSTRAINT']", style: { "line-color": "#b91c1c", "line-style": "dashed" } },
  { selector: "edge[type = 'STYLE_SIMILAR']", style: { "line-color": "#7c3aed" } },
  { selector: "edge[type = 'CO_COLLECTED']", style: { "line-color": "#0ea5e9" } },
  { selector: "edge[type = 'SERVES_FUNCTION']", style: { "line-color": "#f59e0b" } },
];
const cy = cytoscape({ container: $("#graph"), style: STYLE, wheelSensitivity: 0.3 });
let edgeTypes = {};

function colourKey(data) { return $("#colour-by").value === "function" ? data.function ?? (data.label === "Function" ? data.name : null) : data.world; }
function recolour() {
  colours.clear();
  cy.nodes().forEach((n) => n.data("colour", colourOf(colourKey(n.data()))));
  const legend = $("#legend"); legend.replaceChildren();
  for (const [k, c] of colours) legend.append(el("span", {}, el("i", { style: `background:${c}` }), k));
}
$("#colour-by").addEventListener("change", recolour);

function selectedTypes() {
  return Object.keys(edgeTypes).filter((t) => $(`#edge-${t}`).checked);
}
function applyEdgeFilter() {
  const on = new Set(selectedTypes());
  cy.edges().forEach((e) => e.style("display", on.has(e.data("type")) ? "element" : "none"));
}

async function expand(label, id, { reset = false } = {}) {
  status(`loading ${label} ${id}…`);
  const params = new URLSearchParams();
  selectedTypes().forEach((t) => params.append("types", t));
  const res = await api(`/api/neighbours/${label}/${encodeURIComponent(id)}?${params}`);
  if (reset) cy.elements().remove();
  const fresh = res.elements.filter((e) => cy.getElementById(e.data.id).empty());
  cy.add(fresh);
  recolour(); applyEdgeFilter();
  cy.layout({ name: "cose", animate: false, randomize: false, nodeRepulsion: 9000 }).run();
  const centre = cy.getElementById(res.centre);
  cy.$(":selected").unselect(); centre.select();
  await showDetails(label, id);
  status(`${cy.nodes().length} nodes, ${cy.edges().length} edges`);
}

async function showDetails(label, id) {
  const n = await api(`/api/node/${label}/${encodeURIComponent(id)}`);
  const box = $("#details"); box.replaceChildren();
  box.append(el("h2", {}, n.name), el("p", {}, `${n.label} · ${n.world ?? "no world region"}`));
  if (n.audio_url) box.append(el("audio", { controls: "", preload: "none", src: n.audio_url, "data-track": n.id }));
  const dl = el("dl");
  for (const [k, v] of Object.entries(n.props)) {
    dl.append(el("dt", {}, k), el("dd", {}, Array.isArray(v) ? v.join(", ") : v));
  }
  box.append(dl, el("button", { onclick: () => expand(n.label, n.id) }, "Expand neighbours"));
}

cy.on("tap", "node", (evt) => { const d = evt.target.data(); showDetails(d.label, d.nid).catch(fail); });
cy.on("dbltap", "node", (evt) => { const d = evt.target.data(); expand(d.label, d.nid).catch(fail); });

$("#search-form").addEventListener("submit", async (evt) => {
  evt.preventDefault();
  const q = $("#search").value.trim();
  if (!q) return;
  const rows = await api(`/api/search?q=${encodeURIComponent(q)}`).catch(fail);
  const list = $("#results"); list.replaceChildren();
  if (!rows || !rows.length) { list.append(el("li", { class: "hint" }, `nothing matches “${q}”`)); return; }
  for (const r of rows) {
    list.append(el("li", { "data-label": r.label, "data-id": r.id,
      onclick: () => expand(r.label, r.id, { reset: true }).catch(fail) },
    r.name, " ", el("small", {}, r.level ? `${r.label} · ${r.level}` : r.label)));
  }
});

function fail(err) { status(`error: ${err.message}`); console.warn(err); }

// --- world map ------------------------------------------------------------------------------
let map;
async function initMap() {
  map = L.map("map", { worldCopyJump: true }).setView([15, 10], 2);
  const world = await (await fetch("/vendor/countries-110m.json")).json();
  const countries = topojson.feature(world, world.objects.countries);
  countries.features.forEach(unwrapAntimeridian);
  L.geoJSON(countries, {
    style: { color: "#94a3b8", weight: 0.6, fillColor: "#f8fafc", fillOpacity: 1 },
  }).addTo(map);
  const societies = await api("/api/societies");
  for (const s of societies) {
    const marker = L.circleMarker([s.lat, s.lon], {
      radius: 3 + Math.sqrt(s.tracks) * 1.5, color: colourOf(s.world), weight: 1, fillOpacity: 0.7,
      className: `society society-${s.id}`,
    }).addTo(map);
    marker.bindTooltip(`${s.name} (${s.tracks} recordings)`);
    marker.on("click", () => showSociety(s).catch(fail));
  }
  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => {
    const box = el("div", { class: "map-legend", id: "map-legend" });
    const worlds = [...new Set(societies.map((s) => s.world))].sort();
    for (const w of worlds) box.append(el("div", {}, el("i", { style: `background:${colourOf(w)}` }), w));
    return box;
  };
  legend.addTo(map);
  status(`${societies.length} societies on the map`);
}

// Rings that cross the 180th meridian (Russia, Fiji) would be drawn across the whole map:
// shift their western-hemisphere points by 360° so that each ring stays contiguous.
function unwrapAntimeridian(feature) {
  const g = feature.geometry;
  if (!g) return;
  const polygons = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
  for (const polygon of polygons) {
    for (const ring of polygon) {
      const lons = ring.map((p) => p[0]);
      if (Math.max(...lons) - Math.min(...lons) > 180) ring.forEach((p) => { if (p[0] < 0) p[0] += 360; });
    }
  }
}

async function showSociety(s) {
  const tracks = await api(`/api/societies/${encodeURIComponent(s.id)}/tracks`);
  const box = $("#society"); box.replaceChildren();
  box.append(el("h2", {}, s.name), el("p", {}, `${s.hraf_region} · ${s.world}`));
  const list = el("ul", { class: "list", id: "society-tracks" });
  for (const t of tracks) {
    const li = el("li", { "data-id": t.id }, el("strong", {}, t.function ?? "function withheld"), " ", t.id);
    if (t.audio_url) li.append(el("audio", { controls: "", preload: "none", src: t.audio_url, "data-track": t.id }));
    list.append(li);
  }
  box.append(list);
}

// --- Cypher console -------------------------------------------------------------------------
const cypherCy = cytoscape({ container: $("#cypher-graph"), style: STYLE });

function graphFrom(rows) {
  const nodes = new Map(); const edges = new Map();
  const visit = (v) => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== "object") return;
    if (v._labels) nodes.set(v._element_id, { data: { id: v._element_id, label: v._labels[0],
      name: v.name ?? String(v.id), colour: colourOf(v._labels[0]) } });
    else if (v._type) edges.set(v._element_id, { data: { id: v._element_id, source: v._start, target: v._end, type: v._type } });
    else Object.values(v).forEach(visit);
  };
  rows.forEach(visit);
  const ends = [...edges.values()].filter((e) => nodes.has(e.data.source) && nodes.has(e.data.target));
  return [...nodes.values(), ...ends];
}

function cell(v) {
  if (v && typeof v === "object") {
    if (v._labels) return `(${v._labels.join(":")} ${v.name ?? v.id})`;
    if (v._type) return `[:${v._type}]`;
    return JSON.stringify(v);
  }
  return v === null ? "null" : String(v);
}

$("#cypher-run").addEventListener("click", async () => {
  $("#cypher-error").textContent = ""; status("running…");
  try {
    const res = await api("/api/cypher", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: $("#cypher-query").value }) });
    const table = el("table", { id: "cypher-result" }, el("tr", {}, ...res.columns.map((c) => el("th", {}, c))));
    for (const row of res.rows) table.append(el("tr", {}, ...row.map((v) => el("td", {}, cell(v)))));
    $("#cypher-table").replaceChildren(table, el("p", {}, `${res.rows.length} rows`));
    cypherCy.elements().remove(); cypherCy.add(graphFrom(res.rows));
    cypherCy.layout({ name: "cose", animate: false }).run();
    status(`${res.rows.length} rows`);
  } catch (err) { $("#cypher-error").textContent = err.message; status("query refused"); }
});

// --- start ----------------------------------------------------------------------------------
api("/api/config").then((cfg) => {
  edgeTypes = cfg.edge_types;
  const box = $("#edge-types");
  for (const [t, on] of Object.entries(edgeTypes)) {
    const input = el("input", { type: "checkbox", id: `edge-${t}` }); input.checked = on;
    input.addEventListener("change", applyEdgeFilter);
    box.append(el("label", {}, input, ` ${t}`));
  }
  status("ready");
}).catch(fail);
