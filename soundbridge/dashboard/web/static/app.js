// soundbridge dashboard: graph explorer, world map, Cypher console, cross-cultural search,
// embedding map, alignment and metrics views. No framework, no CDN.
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

// The session's CSRF token: sent back on every state-changing request (the cookie is HttpOnly).
let csrfToken = null;
async function api(path, options = {}) {
  const method = (options.method || "GET").toUpperCase();
  const headers = { ...(options.headers || {}) };
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const res = await fetch(path, { ...options, headers });
  if (res.status === 401 && path !== "/api/login") showLogin("Your session has ended; sign in again.");
  const body = await res.json().catch(() => ({ detail: res.statusText }));
  if (!res.ok) {
    const detail = typeof body.detail === "string" ? body.detail
      : Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : res.statusText;
    const err = new Error(detail);
    err.status = res.status; err.suggestions = body.suggestions || [];
    throw err;
  }
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
  if (["search", "alignment"].includes(tab.dataset.view)) loadCultureNames();
  if (tab.dataset.view === "embedding") loadEmbedding().catch(fail);
  if (tab.dataset.view === "alignment" && !alignmentShown) { alignmentShown = true; runAlignment(); }
  if (tab.dataset.view === "metrics") loadMetrics().catch(fail);
  if (tab.dataset.view === "review") { loadCultureNames(); loadReview(); }
}));
function showView(view) { $(`#tab-${view}`).click(); }

// Plotly is large (3.5 MB): loaded from /vendor the first time a plot is drawn.
let plotlyLoading = null;
function loadPlotly() {
  plotlyLoading ??= new Promise((resolve, reject) => {
    const script = el("script", { src: "/vendor/plotly.min.js" });
    script.addEventListener("load", () => resolve(window.Plotly));
    script.addEventListener("error", () => reject(new Error("could not load /vendor/plotly.min.js")));
    document.head.append(script);
  });
  return plotlyLoading;
}
const PLOT_CONFIG = { displaylogo: false, responsive: true };

// Many categories (38 HRAF regions): the fixed palette first, then golden-angle hues.
function categoryColours(keys) {
  const out = new Map();
  keys.filter((k) => k !== "unknown").forEach((k, i) => out.set(k, i < PALETTE.length ? PALETTE[i]
    : `hsl(${Math.round((i * 137.508) % 360)}, 60%, 45%)`));
  out.set("unknown", "#9ca3af");
  return out;
}

// An error from the recommender: the message, and the closest culture names as chips.
function showError(box, chips, err, pick) {
  $(box).textContent = err.message;
  $(chips).replaceChildren(...(err.suggestions || []).map((name) =>
    el("button", { class: "chip", type: "button", onclick: () => pick(name) }, name)));
}
function clearError(box, chips) { $(box).textContent = ""; $(chips).replaceChildren(); }

let cultureNamesLoaded = false;
function loadCultureNames() {
  if (cultureNamesLoaded) return;
  cultureNamesLoaded = true;
  api("/api/cultures").then((names) => $("#culture-names").replaceChildren(
    ...names.map((c) => el("option", { value: c.name, label: c.kind.replace("_", " ") })))).catch(fail);
}

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
  { selector: "edge[type = 'SIMILAR_STYLE']", style: { "line-color": "#a78bfa" } },
  { selector: "edge[type = 'SIMILAR_CONTENT']", style: { "line-color": "#10b981" } },
  { selector: "edge[type = 'SIMILAR_AFFECT']", style: { "line-color": "#f472b6" } },
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
    const summary = el("p", { id: "cypher-summary" }, `${res.rows.length} rows`);
    if (res.truncated) summary.append(el("strong", { class: "notice" }, ` — ${res.truncated}`));
    $("#cypher-table").replaceChildren(table, summary);
    cypherCy.elements().remove(); cypherCy.add(graphFrom(res.rows));
    cypherCy.layout({ name: "cose", animate: false }).run();
    status(`${res.rows.length} rows`);
  } catch (err) { $("#cypher-error").textContent = err.message; status("query refused"); }
});

// --- cross-cultural search -----------------------------------------------------------------
let ccTrack = null;
let ccMode = "song";

$("#cc-track-form").addEventListener("submit", async (evt) => {
  evt.preventDefault();
  const q = $("#cc-track-search").value.trim();
  if (!q) return;
  const rows = await api(`/api/tracks?q=${encodeURIComponent(q)}`).catch(fail);
  const list = $("#cc-tracks"); list.replaceChildren();
  if (!rows || !rows.length) { list.append(el("li", { class: "hint" }, `no song with audio factors matches “${q}”`)); return; }
  for (const r of rows) {
    const li = el("li", { "data-id": r.id, onclick: () => pickTrack(r, li) },
      r.name, " ", el("small", {}, `${r.culture_name ?? "no society"} · ${r.function ?? "function withheld"}`));
    list.append(li);
  }
});

function pickTrack(r, li) {
  ccTrack = r;
  document.querySelectorAll("#cc-tracks li").forEach((x) => x.classList.toggle("selected", x === li));
  $("#cc-picked").textContent = `Query: ${r.name}`;
  $("#cc-picked").classList.remove("hint");
}

function trackCard(t, heading) {
  const card = el("div", { class: "card", "data-id": t.track_id });
  if (heading) card.append(el("h3", {}, heading));
  const fn = t.function ?? (t.predicted_function
    ? `function not public (predicted ${t.predicted_function.name}, p=${t.predicted_function.p.toFixed(2)})`
    : "function not public");
  card.append(el("a", { href: "#", class: "title", onclick: (evt) => { evt.preventDefault(); openTrack(t.track_id); } }, t.title),
    el("p", { class: "meta" }, `${t.culture_name} · ${fn}`));
  if (t.audio_url) card.append(el("audio", { controls: "", preload: "none", src: t.audio_url, "data-track": t.track_id }));
  return card;
}

function renderRecommendations(res, queryCard) {
  const target = res.target ? `Target: ${res.target.name} (${res.target.level.replace("_", " ")}` +
      `${res.target.via === "alias" ? `, alias of ${res.target.ids.length} culture(s)` : ""})`
    : "Target: any culture (or one named in the description)";
  $("#cc-query").replaceChildren(queryCard, el("p", { class: "meta", id: "cc-target" },
    target + (res.alignment ? ` · alignment: ${res.alignment}` : "")));
  const list = $("#cc-results"); list.replaceChildren();
  for (const r of res.results) {
    const card = trackCard(r);
    card.insertBefore(el("span", { class: "score" }, `score ${r.score.toFixed(3)}`), card.children[1]);
    card.append(el("p", { class: "explanation" }, r.explanation));
    list.append(el("li", { class: "result", "data-id": r.track_id }, card));
  }
  if (!res.results.length) list.append(el("li", { class: "hint" }, "no result"));
}

async function runSearch() {
  clearError("#cc-error", "#cc-suggestions");
  const culture = $("#cc-culture").value.trim();
  const k = $("#cc-k").value || "10";
  const pick = (name) => { $("#cc-culture").value = name; runSearch(); };
  try {
    if (ccMode === "text") {
      const text = $("#cc-text").value.trim();
      if (!text) throw new Error("Describe the music you are looking for first.");
      const params = new URLSearchParams({ q: text, k });
      if (culture) params.set("culture", culture);
      status("searching…");
      const res = await api(`/api/search-text?${params}`);
      renderRecommendations(res, el("div", { class: "card" }, el("h3", {}, "Query"), el("p", {}, `“${text}”`)));
    } else {
      if (!ccTrack) throw new Error("Choose a song first: search for it above and click it.");
      if (!culture) throw new Error("Type a target culture (a society, region, world region or alias).");
      const params = new URLSearchParams({ track: ccTrack.id, culture, k, alignment: $("#cc-alignment").value });
      status("recommending…");
      const res = await api(`/api/recommend?${params}`);
      renderRecommendations(res, trackCard(res.query, "Query"));
    }
    status(`${$("#cc-results").children.length} recommendations`);
  } catch (err) { showError("#cc-error", "#cc-suggestions", err, pick); status("no recommendations"); }
}
$("#cc-run").addEventListener("click", runSearch);
$("#cc-culture").addEventListener("keydown", (evt) => { if (evt.key === "Enter") runSearch(); });

function setMode(mode) {
  ccMode = mode;
  document.querySelectorAll("#cc-modes .mode").forEach((b) => b.classList.toggle("active", b.dataset.mode === mode));
  $("#cc-song-form").hidden = mode !== "song";
  $("#cc-text-form").hidden = mode !== "text";
  $("#cc-alignment-label").hidden = mode !== "song";
  clearError("#cc-error", "#cc-suggestions");
}
$("#cc-mode-song").addEventListener("click", () => setMode("song"));

async function openTrack(id) {
  showView("explorer");
  await expand("Track", id, { reset: true }).catch(fail);
}

// --- embedding map --------------------------------------------------------------------------
const embeddings = {};
let embeddingClicks = false;
async function loadEmbedding() {
  const space = $("#em-space").value;
  status(`loading ${space}…`);
  const [Plotly, data] = await Promise.all([loadPlotly(),
    embeddings[space] ? Promise.resolve(embeddings[space]) : api(`/api/embeddings/${space}`)]);
  embeddings[space] = data;
  const gd = $("#em-plot");
  if (!data.points.length) {
    Plotly.purge(gd);
    $("#em-info").textContent = data.message;
    status("no points"); return;
  }
  const by = $("#em-colour").value;
  const groups = new Map();
  for (const p of data.points) {
    if (!groups.has(p[by])) groups.set(p[by], []);
    groups.get(p[by]).push(p);
  }
  const keys = [...groups.keys()].sort((a, b) => (a === "unknown") - (b === "unknown") || a.localeCompare(b));
  const colours = categoryColours(keys);
  const traces = keys.map((k) => ({
    type: "scatter", mode: "markers", name: k,
    x: groups.get(k).map((p) => p.x), y: groups.get(k).map((p) => p.y),
    text: groups.get(k).map((p) => p.name), customdata: groups.get(k).map((p) => p.id),
    hovertemplate: "%{text}<br>%{customdata}<extra>%{fullData.name}</extra>",
    marker: { size: 7, color: colours.get(k), opacity: 0.8 },
  }));
  const pct = (v) => `${(100 * v).toFixed(1)}%`;
  await Plotly.react(gd, traces, {
    title: { text: `${data.title}: PCA of ${data.points.length} songs (${data.dim} dimensions)` },
    xaxis: { title: { text: `PC1 (${pct(data.explained[0])} of the variance)` }, zeroline: false },
    yaxis: { title: { text: `PC2 (${pct(data.explained[1])})` }, zeroline: false },
    legend: { title: { text: by === "culture" ? "HRAF region" : "function" }, font: { size: 10 } },
    hovermode: "closest", margin: { t: 50 },
  }, PLOT_CONFIG);
  if (!embeddingClicks) {
    embeddingClicks = true;
    gd.on("plotly_click", (ev) => { if (ev.points.length) openTrack(ev.points[0].customdata); });
  }
  $("#em-info").textContent = `${data.points.length} songs; coloured by ${by === "culture" ? "HRAF region" : "function"} (${keys.length} groups).`;
  status(`${data.points.length} points`);
}
$("#em-space").addEventListener("change", () => loadEmbedding().catch(fail));
$("#em-colour").addEventListener("change", () => loadEmbedding().catch(fail));

// --- alignment ------------------------------------------------------------------------------
let alignmentShown = false;
function functionText(t) {
  return t.function ?? (t.predicted_function ? `${t.predicted_function.name}? (predicted)` : "not public");
}
async function runAlignment() {
  clearError("#al-error", "#al-suggestions");
  const params = new URLSearchParams({ source: $("#al-source").value.trim(), target: $("#al-target").value.trim(),
    method: $("#al-method").value });
  status("computing the transport plan…");
  try {
    const [Plotly, res] = await Promise.all([loadPlotly(), api(`/api/alignment?${params}`)]);
    const rows = res.rows.map((t) => t.title); const cols = res.cols.map((t) => t.title);
    await Plotly.react($("#al-heatmap"), [{
      type: "heatmap", z: res.plan, x: cols, y: rows, colorscale: "Viridis",
      hovertemplate: "%{y}<br>→ %{x}<br>mass %{z:.4f}<extra></extra>", colorbar: { title: { text: "mass" } },
    }], {
      title: { text: `Transport plan (${res.method}): ${res.source.name} → ${res.target.name}` },
      xaxis: { tickfont: { size: 9 }, automargin: true }, yaxis: { tickfont: { size: 9 }, automargin: true, autorange: "reversed" },
      margin: { t: 50 },
    }, PLOT_CONFIG);
    $("#al-summary").textContent = `${rows.length} × ${cols.length} songs; ` +
      `${(100 * res.same_function).toFixed(0)}% of the plan's mass couples songs of the same (public or predicted) function.`;
    const table = el("table", { id: "al-pairs" }, el("tr", {}, ...["#", `${res.source.name} song`, "function",
      `${res.target.name} song`, "function", "share of mass"].map((h) => el("th", {}, h))));
    res.pairs.forEach((p, i) => {
      const a = res.rows[p.source]; const b = res.cols[p.target];
      const same = functionText(a).replace("? (predicted)", "") === functionText(b).replace("? (predicted)", "");
      table.append(el("tr", { class: same ? "same" : "" }, el("td", {}, i + 1),
        el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); openTrack(a.track_id); } }, a.title)),
        el("td", {}, functionText(a)),
        el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); openTrack(b.track_id); } }, b.title)),
        el("td", {}, functionText(b)), el("td", {}, `${(100 * p.share).toFixed(1)}%`)));
    });
    $("#al-table").replaceChildren(el("h3", {}, "Most strongly coupled songs"), table);
    status(`plan ${rows.length} × ${cols.length}`);
  } catch (err) {
    const pick = (box) => (name) => { $(box).value = name; runAlignment(); };
    // a suggestion replaces whichever culture the server could not resolve
    const bad = err.message.match(/unknown culture '([^']*)'/);
    const box = bad && bad[1] === $("#al-target").value.trim() ? "#al-target" : "#al-source";
    showError("#al-error", "#al-suggestions", err, pick(box));
    status("no plan");
  }
}
$("#al-run").addEventListener("click", runAlignment);

// --- metrics --------------------------------------------------------------------------------
async function loadMetrics() {
  const m = await api("/api/metrics");
  const msg = $("#metrics-message"); const box = $("#metrics-charts");
  if (!m.available) {
    msg.textContent = m.message; msg.className = "warning";
    box.replaceChildren(); status("no metrics report"); return;
  }
  msg.className = "hint";
  msg.textContent = `From ${m.path}${m.generated ? `, generated ${m.generated}` : ""}.`;
  const Plotly = await loadPlotly();
  const methods = Object.keys(m.methods);
  box.replaceChildren();
  for (const metric of m.metrics) {
    const div = el("div", { class: "chart", id: `metric-${metric.key}` });
    box.append(div);
    const values = methods.map((n) => m.methods[n][metric.key] ?? null);
    const trace = { type: "bar", name: metric.title, x: methods, y: values,
      marker: { color: methods.map((n, i) => PALETTE[i % PALETTE.length]) }, showlegend: false };
    if (metric.ci) {
      const ci = methods.map((n) => m.methods[n][`${metric.key}_ci95`] ?? [null, null]);
      trace.error_y = { type: "data", symmetric: false, array: ci.map((c, i) => c[1] - values[i]),
        arrayminus: ci.map((c, i) => values[i] - c[0]) };
    }
    const traces = [trace];
    if (metric.key === "function_share" && methods.some((n) => "chance" in m.methods[n])) {
      trace.name = "function share"; trace.showlegend = true;
      traces.push({ type: "bar", name: "chance", x: methods, y: methods.map((n) => m.methods[n].chance ?? null),
        marker: { color: "#cbd5e1" } });
    }
    await Plotly.newPlot(div, traces, {
      title: { text: `${metric.title}<br><sub>${metric.better}</sub>`, font: { size: 14 } },
      barmode: "group", height: 320, margin: { t: 70, b: 80, l: 50, r: 10 }, legend: { orientation: "h" },
    }, PLOT_CONFIG);
  }
  status(`${m.metrics.length} metrics for ${methods.length} methods`);
}

// --- review (experts) -----------------------------------------------------------------------
let rvSong = null;
let rvLoaded = false;

function postJSON(path, body) {
  return api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

function guesses(predicted) {
  const box = el("div", { class: "guesses" });
  for (const g of predicted || []) {
    const [label, p] = Array.isArray(g) ? g : [g.label, g.probability ?? g.p];
    box.append(el("div", { class: "guess" }, el("span", { class: "bar", style: `width:${Math.round(p * 120)}px` }),
      `${label} ${p.toFixed(2)}`));
  }
  return box;
}

async function loadReview() {
  $("#rv-queue-error").textContent = "";
  const params = new URLSearchParams({ k: "20" });
  const culture = $("#rv-culture").value.trim();
  if (culture) params.set("culture", culture);
  status("loading the review queue…");
  try {
    const [queue, labels] = await Promise.all([api(`/api/review/queue?${params}`),
      rvLoaded ? null : api("/api/review/labels")]);
    if (labels) {
      $("#rv-label").replaceChildren(...labels.map((l) => el("option", { value: l.name },
        l.kind === "function" ? l.name : `${l.name} (concept)`)));
      rvLoaded = true;
    }
    const list = $("#rv-queue"); list.replaceChildren();
    for (const item of queue.items) {
      const top = item.predicted?.[0];
      const guess = top ? (Array.isArray(top) ? top[0] : top.label) : "?";
      const li = el("li", { "data-id": item.track_id, onclick: () => showReviewSong(item, li) },
        item.name, " ", el("small", {}, `${item.culture_name} · uncertainty ${item.uncertainty.toFixed(2)} · maybe ${guess}`));
      list.append(li);
    }
    if (!queue.items.length) list.append(el("li", { class: "hint" }, "nothing to review here"));
    status(`${queue.items.length} songs to review`);
    await loadReviewLog();
  } catch (err) { $("#rv-queue-error").textContent = err.message; status("no review queue"); }
}

function showReviewSong(item, li) {
  rvSong = item;
  document.querySelectorAll("#rv-queue li").forEach((x) => x.classList.toggle("selected", x === li));
  const card = el("div", { class: "card", id: "rv-card", "data-id": item.track_id },
    el("h2", {}, item.name),
    el("p", { class: "meta" }, `${item.culture_name} · ${item.region ?? ""} · ${item.track_id}`));
  if (item.audio_url) card.append(el("audio", { controls: "", preload: "none", src: item.audio_url, "data-track": item.track_id }));
  card.append(el("h3", {}, "The model's guesses"), guesses(item.predicted));
  card.append(el("h3", {}, "Nearest songs whose function is known"));
  const near = el("ul", { class: "list", id: "rv-nearest" });
  for (const n of item.nearest_known || []) {
    const li2 = el("li", { "data-id": n.track_id }, `${n.name} `, el("small", {}, `${n.culture_name} · ${n.function}`));
    if (n.audio_url) li2.append(el("audio", { controls: "", preload: "none", src: n.audio_url, "data-track": n.track_id }));
    near.append(li2);
  }
  card.append(near, el("button", { id: "rv-find-similar", onclick: () => findSimilar(item) }, "Find songs like this…"));
  $("#rv-song").replaceChildren(card);
  $("#rv-answer").disabled = false; $("#rv-link").disabled = false;
  $("#rv-message").textContent = ""; $("#rv-error").textContent = "";
}

function findSimilar(item) {
  ccTrack = { id: item.track_id, name: item.name };
  $("#cc-picked").textContent = `Query: ${item.name}`; $("#cc-picked").classList.remove("hint");
  showView("search");
}

async function loadReviewLog() {
  const log = await api("/api/review/log");
  const list = $("#rv-log"); list.replaceChildren();
  for (const a of log) {
    const what = a.kind === "function" ? `${a.tracks[0]} is ${a.label}`
      : a.tracks.join(a.kind === "must_link" ? " ≈ " : " ≠ ");
    list.append(el("li", { "data-answer": a.id }, `${what} `, el("small", {}, `${a.id} · ${a.created.slice(0, 16)}`),
      el("button", { class: "retract", onclick: () => retractAnswer(a.id) }, "Retract")));
  }
  if (!log.length) list.append(el("li", { class: "hint" }, "no answers yet"));
}

async function retractAnswer(id) {
  try {
    await postJSON("/api/review/retract", { answer_id: id });
    $("#rv-message").textContent = `Retracted ${id}.`;
    await loadReviewLog();
  } catch (err) { $("#rv-error").textContent = err.message; }
}

$("#rv-answer-form").addEventListener("submit", async (evt) => {
  evt.preventDefault();
  if (!rvSong) return;
  $("#rv-error").textContent = ""; $("#rv-message").textContent = "";
  try {
    const a = await postJSON("/api/review/answer", { track: rvSong.track_id, label: $("#rv-label").value,
      confidence: Number($("#rv-confidence").value), rationale: $("#rv-rationale").value });
    $("#rv-message").textContent = `Saved ${a.id}: ${rvSong.name} is ${a.label}.`;
    await loadReviewLog();
  } catch (err) { $("#rv-error").textContent = err.message; }
});

$("#rv-link-form").addEventListener("submit", async (evt) => {
  evt.preventDefault();
  if (!rvSong) return;
  $("#rv-error").textContent = ""; $("#rv-message").textContent = "";
  try {
    const kind = document.querySelector("input[name=rv-kind]:checked").value;
    const a = await postJSON("/api/review/link", { a: rvSong.track_id, b: $("#rv-other").value.trim(), kind,
      rationale: $("#rv-link-rationale").value });
    $("#rv-message").textContent = `Saved ${a.id}.`;
    await loadReviewLog();
  } catch (err) { $("#rv-error").textContent = err.message; }
});
$("#rv-refresh").addEventListener("click", loadReview);

// --- sign-in and start ----------------------------------------------------------------------
function showLogin(message = "") {
  $("#login").hidden = false; $("#account").hidden = true;
  $("#login-error").textContent = message;
  status("sign in"); $("#login-user").focus();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("#login-error").textContent = "";
  try {
    const account = await api("/api/login", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: $("#login-user").value, password: $("#login-pass").value }) });
    $("#login-pass").value = "";
    signedIn(account);
  } catch (err) { $("#login-error").textContent = err.message; status("sign in"); }
});

$("#logout").addEventListener("click", async () => {
  await api("/api/logout", { method: "POST" }).catch(() => {});
  csrfToken = null; showLogin("Signed out.");
});

let started = false;
function signedIn(account) {
  csrfToken = account.csrf_token;
  $("#login").hidden = true; $("#account").hidden = false;
  $("#account-name").textContent = `${account.username} (${account.role})`;
  // The console is the analysts' (the server refuses it to viewers in any case).
  const analyst = ["analyst", "expert", "admin"].includes(account.role);
  $("#tab-cypher").hidden = !analyst;
  $("#tab-review").hidden = !["expert", "admin"].includes(account.role);
  if (!analyst && $("#tab-cypher").classList.contains("active")) showView("explorer");
  if (started) { status("ready"); return; }
  started = true;
  start();
}

function start() {
  api("/api/config").then((cfg) => {
    edgeTypes = cfg.edge_types;
    const box = $("#edge-types");
    for (const [t, on] of Object.entries(edgeTypes)) {
      const input = el("input", { type: "checkbox", id: `edge-${t}` }); input.checked = on;
      input.addEventListener("change", applyEdgeFilter);
      box.append(el("label", {}, input, ` ${t}`));
    }
    if (cfg.text_search) {  // the text-query mode exists only where recsys.text is installed
      const tab = el("button", { class: "mode", "data-mode": "text", id: "cc-mode-text", onclick: () => setMode("text") },
        "By description");
      $("#cc-modes").append(tab);
    }
    status("ready");
  }).catch(fail);
}

// Signed in before (a reload)? The CSRF cookie says so without a request that could fail.
const csrfCookie = document.cookie.split("; ").find((c) => c.startsWith("soundbridge_csrf="));
if (csrfCookie) api("/api/session").then(signedIn).catch(() => {}); else showLogin();
