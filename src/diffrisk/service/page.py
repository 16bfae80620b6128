"""The service's HTML page: models, recent sets, a request form, a fan chart (no build step).

One static page of plain HTML and JavaScript: it calls the JSON API (``/models``,
``/audit``, ``/scenarios``, ``/reverse-stress``), draws the fan chart of a set (quantile
bands of the cumulative portfolio log return per day) as inline SVG, and shows a reverse
stress answer: ``P(loss >= L)`` with its interval per method and the leading assets of
each method's most plausible scenario.

The reverse stress form is built from ``GET /reverse-stress``: equal weights over the
model's assets, the conditioning date limited to the served dates, the horizon bounded
by (and defaulting to) the model's, a checkbox per method (the defaults checked). The
body carries ``as_of`` only when a date is chosen, ``horizon`` and ``methods`` only when
they differ from the defaults. The browser does not validate the form (``novalidate``):
the server judges it, and each field error of a 4xx answer is shown next to its field
(and in full under the form). The answer shows the methods, the conditioning date and
the horizon the server used.
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
 #error, #rs-error, .field-error { color: #b00020; white-space: pre-wrap; }
 .field-error { font-size: 0.85rem; margin-left: 0.3rem; }
 #rs-methods-field { display: inline-block; border: 1px solid #ccc; padding: 0.1rem 0.5rem; }
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
<h2>Reverse stress</h2>
<p>The scenarios that make the portfolio lose at least L over the horizon, and how likely
that loss is, per method (<code>POST /reverse-stress</code>).</p>
<form id="reverse-form" novalidate>
 <label>weights <input id="rs-weights" name="weights" size="40"
   title="comma-separated, one per asset in the model's order"></label><span
   class="field-error" id="rs-weights-error"></span>
 <label>level <select id="rs-kind" name="kind"><option value="loss">loss L</option>
   <option value="es_alpha">ES level alpha</option></select></label>
 <label>value <input id="rs-level" name="level" type="number" step="any" value="0.05"
   min="0"></label><span class="field-error" id="rs-level-error"></span>
 <label>paths <input id="rs-n_paths" name="n_paths" type="number" value="300" min="16"
   max="5000"></label><span class="field-error" id="rs-n_paths-error"></span>
 <label>seed <input id="rs-seed" name="seed" type="number" value="0" min="0"></label><span
   class="field-error" id="rs-seed-error"></span>
 <br>
 <label>as of <input id="rs-as_of" name="as_of" type="date"
   title="first day of the scenarios (empty: the day after the data)"></label><span
   class="field-error" id="rs-as_of-error"></span>
 <label>horizon <input id="rs-horizon" name="horizon" type="number" min="1" step="1"
   title="days (at most the model's)"></label><span class="field-error"
   id="rs-horizon-error"></span>
 <fieldset id="rs-methods-field"><legend>methods</legend></fieldset><span
   class="field-error" id="rs-methods-error"></span>
 <button id="rs-submit" type="submit">Find scenarios</button>
</form>
<p id="rs-assets"></p>
<p id="rs-status"></p>
<p id="rs-error"></p>
<div id="rs-result"></div>
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
    const err = new Error(r.status + " " + (r.statusText || "") + (d ? "\\n" + d :
      (text ? "\\n" + text.slice(0, 300) : "")) + (retry ? "\\nretry after " + retry + " s" : ""));
    err.detail = items;
    throw err;
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
let RS = null;  // what a reverse stress request may ask (GET /reverse-stress)
async function loadReverse() {
  const o = await api("/reverse-stress");
  const n = o.assets.length;
  if (!$("rs-weights").value)
    $("rs-weights").value = o.assets.map(() => +(1 / n).toFixed(6)).join(", ");
  $("rs-assets").textContent = "assets, in order: " + o.assets.join(", ") + " (model " +
    o.model_version + ")";
  $("rs-as_of").min = o.as_of_range[0]; $("rs-as_of").max = o.as_of_range[1];
  $("rs-as_of").title = "first day of the scenarios, " + o.as_of_range[0] + " .. " +
    o.as_of_range[1] + " (empty: the day after the data)";
  $("rs-horizon").max = o.horizon; $("rs-horizon").value = o.horizon;
  $("rs-n_paths").min = o.n_paths.min; $("rs-n_paths").max = o.n_paths.max;
  const box = $("rs-methods-field");
  box.querySelectorAll("label").forEach(l => l.remove());
  for (const name of o.methods) {
    const label = document.createElement("label");
    const c = document.createElement("input"); c.type = "checkbox"; c.name = "methods";
    c.id = "rs-method-" + name; c.value = name; c.checked = o.default_methods.includes(name);
    label.appendChild(c); label.appendChild(document.createTextNode(" " + name));
    box.appendChild(label);
  }
  RS = o;
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
const fmt = (v, d) => (v === null || v === undefined || Number.isNaN(v)) ? "–" : v.toFixed(d);
function table(id, head, rows) {
  const t = document.createElement("table"); t.id = id;
  const hr = document.createElement("tr");
  for (const h of head) { const th = document.createElement("th"); th.textContent = h;
                          hr.appendChild(th); }
  t.appendChild(hr);
  for (const r of rows) { const tr = document.createElement("tr");
                          r.forEach(v => cell(tr, v)); t.appendChild(tr); }
  return t;
}
function showReverse(out) {
  const box = $("rs-result"); box.innerHTML = "";
  const cap = document.createElement("p"); cap.id = "rs-used";
  const part = (id, text) => { const s = document.createElement("b"); s.id = id;
                               s.textContent = text; cap.appendChild(s); };
  cap.append("loss level L = " + fmt(out.loss_level, 4) + " over ");
  part("rs-used-horizon", String(out.horizon));
  cap.append(" days from ");
  part("rs-used-as_of", out.as_of);
  cap.append(" (history to " + out.last_history + "); methods: ");
  part("rs-used-methods", out.methods.map(r => r.method).join(", "));
  cap.append("; leading segment by ");
  part("rs-used-attribution", out.settings.attribution);
  const nseg = Object.keys(out.settings.segments).length;
  cap.append(" over " + nseg + " segments, guidance strength ");
  part("rs-used-strength", String(out.settings.strength));
  cap.append(" (" + out.settings.source + ")");
  box.appendChild(cap);
  box.appendChild(table("rs-methods",
    ["method", "P(loss ≥ L)", "interval", "scenarios", "leading asset", "leading segment"],
    out.methods.map(r => [r.method, fmt(r.p, 4),
      "[" + fmt(r.p_lower, 4) + ", " + fmt(r.p_upper, 4) + "]", r.n_scenarios,
      r.leading_asset || "–", r.leading_segment || "–"])));
  const h = document.createElement("h3"); h.textContent = "most plausible scenario";
  box.appendChild(h);
  box.appendChild(table("rs-scenarios",
    ["method", "loss", "plausibility", "leading contributions"],
    Object.entries(out.most_plausible).map(([name, s]) => [name, fmt(s.loss, 4),
      fmt(s.plausibility, 3), Object.entries(s.contributions).sort((a, b) => b[1] - a[1])
        .slice(0, 3).map(([a, c]) => a + " " + fmt(c, 4)).join(", ")])));
}
// request field -> the form element its error is shown next to
const RS_FIELDS = {weights: "rs-weights", total: "rs-weights", loss: "rs-level",
                   es_alpha: "rs-level", n_paths: "rs-n_paths", seed: "rs-seed",
                   as_of: "rs-as_of", horizon: "rs-horizon", methods: "rs-methods"};
function reverseFieldErrors(items) {
  document.querySelectorAll("#reverse-form .field-error").forEach(s => s.textContent = "");
  document.querySelectorAll("#reverse-form [aria-invalid]")
    .forEach(el => el.removeAttribute("aria-invalid"));
  for (const e of items || []) {
    const loc = Array.isArray(e.loc) ? e.loc : String(e.field || "").split(".");
    const target = loc[0] === "body" ? RS_FIELDS[loc[1]] : undefined;
    if (!target) continue;
    const span = $(target + "-error");
    span.textContent = (span.textContent ? span.textContent + "; " : "") + e.msg +
      (e.allowed ? " (allowed: " + (typeof e.allowed === "string" ? e.allowed :
        JSON.stringify(e.allowed)) + ")" : "");
    const input = $(target === "rs-methods" ? "rs-methods-field" : target);
    input.setAttribute("aria-invalid", "true");
  }
}
$("reverse-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("rs-error").textContent = ""; reverseFieldErrors([]);
  $("rs-result").innerHTML = "";  // a refused request must not leave the last answer shown
  $("rs-status").textContent = "searching…"; $("rs-submit").disabled = true;
  try {
    if (!RS) await loadReverse();
    const weights = $("rs-weights").value.split(",").map(s => s.trim()).filter(s => s)
      .map(Number);
    const body = {weights: weights, n_paths: Number($("rs-n_paths").value),
                  seed: Number($("rs-seed").value)};
    body[$("rs-kind").value] = Number($("rs-level").value);
    if ($("rs-as_of").value) body.as_of = $("rs-as_of").value;
    const h = $("rs-horizon").value.trim();
    if (h !== "" && Number(h) !== RS.horizon) body.horizon = Number(h);
    const chosen = RS.methods.filter(m => $("rs-method-" + m).checked);
    if (chosen.join() !== RS.methods.filter(m => RS.default_methods.includes(m)).join())
      body.methods = chosen;
    const out = await api("/reverse-stress", {method: "POST", headers: headers(true),
                                              body: JSON.stringify(body)});
    showReverse(out);
    $("rs-status").textContent = "done: " + out.audit.model_version;
  } catch (e) {
    $("rs-error").textContent = String(e.message || e); $("rs-status").textContent = "";
    reverseFieldErrors(e.detail);
  } finally { $("rs-submit").disabled = false; }
});
if (TOKEN_REQUIRED) $("auth").hidden = false;
loadModels().then(loadRecent).catch(fail);
loadReverse().catch(e => { $("rs-error").textContent = String(e.message || e); });
</script>
</body>
</html>
"""


def page_html(token_required: bool = False) -> str:
    """The page's HTML (``token_required`` shows the token field)."""
    return _PAGE.replace("__TOKEN_REQUIRED__", "true" if token_required else "false")
