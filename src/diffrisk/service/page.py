"""The service's HTML page: models, recent sets, a request form, a fan chart (no build step).

One static page of plain HTML and JavaScript: it calls the JSON API (``/models``,
``/audit``, ``/scenarios``) and draws the fan chart of a set (quantile bands of the
cumulative portfolio log return per day) as inline SVG.
"""

from __future__ import annotations

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>diffrisk scenario service</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1.5rem; max-width: 70rem; color: #222; }
 table { border-collapse: collapse; font-size: 0.85rem; }
 td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
 form label { display: inline-block; margin: 0.2rem 0.8rem 0.2rem 0; }
 #error { color: #b00020; white-space: pre-wrap; }
 #meta { font-size: 0.75rem; max-height: 20rem; overflow: auto; background: #f6f6f6; }
 .band { fill: #1f77b4; }
 a.set { font-family: monospace; cursor: pointer; }
</style>
</head>
<body>
<h1>diffrisk scenario service</h1>
<p>Serves the pipeline's trained generators (<code>dvc repro</code>); it never trains.
Every set is stored by content and every request is logged.</p>
<div id="auth" hidden><label>Bearer token <input id="token" type="password"></label></div>
<h2>Models</h2>
<table id="models"><thead><tr><th>generator</th><th>version</th><th>horizon</th>
<th>training period</th><th>data hash</th></tr></thead><tbody></tbody></table>
<h2>Request a set</h2>
<form id="request-form">
 <label>generator <select id="generator" name="generator"></select></label>
 <label>archetype <select id="archetype" name="archetype"></select></label>
 <label>paths <input id="n_paths" name="n_paths" type="number" value="1000" min="1"></label>
 <label>horizon <input id="horizon" name="horizon" type="number" min="2"></label>
 <label>seed <input id="seed" name="seed" type="number" value="0" min="0"></label>
 <label>as of <input id="as_of" name="as_of" type="date"></label>
 <button id="submit" type="submit">Generate</button>
</form>
<p id="status"></p>
<p id="error"></p>
<h2>Set <span id="set-id"></span></h2>
<div id="summary"></div>
<svg id="fan" width="640" height="320" role="img" aria-label="fan chart"></svg>
<details><summary>metadata</summary><pre id="meta"></pre></details>
<h2>Recent sets</h2>
<ul id="recent"></ul>
<script>
const TOKEN_REQUIRED = __TOKEN_REQUIRED__;
const $ = (id) => document.getElementById(id);
function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const t = $("token").value || sessionStorage.getItem("diffrisk-token") || "";
  if (t) { h["Authorization"] = "Bearer " + t; sessionStorage.setItem("diffrisk-token", t); }
  return h;
}
async function api(path, options) {
  const r = await fetch(path, options || {headers: headers(false)});
  const text = await r.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { body = null; }
  if (!r.ok) {
    const items = (body && Array.isArray(body.detail)) ? body.detail : [];
    const d = items.map(e => e.field + ": " + e.msg +
      (e.allowed ? " (allowed: " + JSON.stringify(e.allowed) + ")" : "")).join("\\n");
    const retry = r.headers.get("Retry-After");
    throw new Error(r.status + " " + (r.statusText || "") + (d ? "\\n" + d :
      (text ? "\\n" + text.slice(0, 300) : "")) + (retry ? "\\nretry after " + retry + " s" : ""));
  }
  if (body === null) throw new Error(r.status + ": the answer is not JSON");
  return body;
}
function cell(row, text) {
  const td = document.createElement("td"); td.textContent = text; row.appendChild(td);
}
async function loadModels() {
  const m = await api("/models");
  const tbody = $("models").querySelector("tbody");
  tbody.innerHTML = "";
  const gens = new Set();
  for (const g of m.generators) {
    const tr = document.createElement("tr");
    cell(tr, g.generator); cell(tr, g.version); cell(tr, g.horizon);
    cell(tr, g.training_period.first + " .. " + g.training_period.last);
    cell(tr, (g.data_sha256 || "").slice(0, 12));
    tbody.appendChild(tr);
    if (!gens.has(g.generator)) {
      gens.add(g.generator);
      const o = document.createElement("option"); o.value = o.textContent = g.generator;
      $("generator").appendChild(o);
    }
  }
  for (const a of m.archetypes) {
    const o = document.createElement("option"); o.value = o.textContent = a.name;
    $("archetype").appendChild(o);
  }
  $("as_of").min = m.as_of_range[0]; $("as_of").max = m.as_of_range[1];
}
async function loadRecent() {
  const a = await api("/audit?status=completed&limit=50");
  const seen = new Set(); const ul = $("recent"); ul.innerHTML = "";
  for (const row of a.rows) {
    if (seen.has(row.set_id) || seen.size >= 15) continue;
    seen.add(row.set_id);
    const li = document.createElement("li");
    const link = document.createElement("a"); link.className = "set";
    link.textContent = row.set_id.slice(0, 16); link.dataset.id = row.set_id;
    link.onclick = () => api("/scenarios/" + row.set_id).then(show).catch(fail);
    li.appendChild(link);
    li.appendChild(document.createTextNode(" " + row.generator + " " +
      (row.request.archetype || "signature") + " " + row.started_at));
    ul.appendChild(li);
  }
}
function fanChart(fan) {
  const svg = $("fan"); const W = 640, H = 320, P = 40;
  const q = fan.quantiles; const days = q[0].length;
  const lo = Math.min(...q[0]), hi = Math.max(...q[q.length - 1]);
  const x = (d) => P + (W - 2 * P) * d / (days - 1);
  const y = (v) => H - P - (H - 2 * P) * (v - lo) / ((hi - lo) || 1);
  let out = "";
  const n = q.length;
  for (let i = 0; i < Math.floor(n / 2); i++) {
    const upper = q[n - 1 - i], lower = q[i];
    let pts = upper.map((v, d) => x(d) + "," + y(v));
    pts = pts.concat(lower.map((v, d) => x(d) + "," + y(v)).reverse());
    const op = (0.15 + 0.2 * i).toFixed(2);
    out += `<polygon class="band" data-level="${fan.levels[i]}" ` +
      `points="${pts.join(" ")}" fill-opacity="${op}"></polygon>`;
  }
  const med = q[Math.floor(n / 2)].map((v, d) => x(d) + "," + y(v)).join(" ");
  out += `<polyline id="median" points="${med}" fill="none" stroke="#d62728" ` +
    `stroke-width="2"></polyline>`;
  out += `<line x1="${P}" y1="${y(0)}" x2="${W - P}" y2="${y(0)}" stroke="#888" ` +
    `stroke-dasharray="4"></line>`;
  out += `<text x="${P}" y="${P - 10}" font-size="12">cumulative portfolio log return, quantiles ` +
    `${fan.levels[0]}..${fan.levels[n - 1]} by day (0..${days - 1})</text>`;
  out += `<text x="4" y="${y(hi)}" font-size="10">${hi.toFixed(3)}</text>`;
  out += `<text x="4" y="${y(lo)}" font-size="10">${lo.toFixed(3)}</text>`;
  svg.innerHTML = out;
}
function show(set) {
  $("set-id").textContent = set.id;
  $("error").textContent = "";
  const rows = set.risk_summary.map(r => `<tr><td>${r.alpha}</td><td>${r.var.toFixed(4)}</td>` +
    `<td>${r.es.toFixed(4)}</td><td>${r.cdar.toFixed(4)}</td></tr>`).join("");
  $("summary").innerHTML = "<table id='risk'><tr><th>alpha</th><th>VaR</th><th>ES</th>" +
    "<th>CDaR</th></tr>" + rows + "</table>" + (set.metadata.out_of_range_flag ?
    "<p><b>out of range:</b> " + set.metadata.out_of_range.join(", ") + "</p>" : "");
  fanChart(set.fan);
  $("meta").textContent = JSON.stringify(set.metadata, null, 1);
}
function fail(e) { $("error").textContent = String(e.message || e); $("status").textContent = ""; }
$("request-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = {generator: $("generator").value, archetype: $("archetype").value,
                n_paths: Number($("n_paths").value), seed: Number($("seed").value)};
  if ($("horizon").value) body.horizon = Number($("horizon").value);
  if ($("as_of").value) body.as_of = $("as_of").value;
  $("status").textContent = "generating…"; $("submit").disabled = true;
  try {
    const set = await api("/scenarios", {method: "POST", headers: headers(true),
                                          body: JSON.stringify(body)});
    show(set);
    $("status").textContent = (set.cached ? "served from the store: " : "generated: ") + set.id;
    await loadRecent();
  } catch (e) { fail(e); } finally { $("submit").disabled = false; }
});
if (TOKEN_REQUIRED) $("auth").hidden = false;
loadModels().then(loadRecent).catch(fail);
</script>
</body>
</html>
"""


def page_html(token_required: bool = False) -> str:
    """The page's HTML (``token_required`` shows the token field)."""
    return _PAGE.replace("__TOKEN_REQUIRED__", "true" if token_required else "false")
