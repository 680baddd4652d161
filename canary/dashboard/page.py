"""The dashboard's two pages (every Rollout; one Rollout) as HTML with their script.

The server sends each page's state as JSON over server-sent events; the script draws it (plots with
plotly.js, served by the dashboard itself) and posts the buttons' verbs. Everything is fetched from
the dashboard: the page works with no network beyond it.
"""

from __future__ import annotations

from html import escape

STYLE = """
body { font-family: sans-serif; margin: 0; color: #222; background: #fff; }
header { background: #1f2937; color: #fff; padding: 10px 24px; display: flex; gap: 24px; align-items: center; }
header a { color: #fff; text-decoration: none; font-weight: bold; }
main { padding: 16px 24px; }
table { border-collapse: collapse; font-size: 14px; }
td, th { border-bottom: 1px solid #ddd; padding: 6px 10px; text-align: left; vertical-align: top; }
.phase { font-weight: bold; padding: 2px 8px; border-radius: 4px; color: #fff; white-space: nowrap; }
.Healthy { background: #2ca02c; } .Progressing { background: #d4a017; } .Paused { background: #1f77b4; }
.Degraded { background: #d62728; } .unknown { background: #888; }
.bar { display: inline-block; width: 120px; height: 10px; background: #1f77b4; vertical-align: middle; }
.bar span { display: block; height: 10px; background: #ff7f0e; }
pre.tree { background: #fafafa; border: 1px solid #eee; padding: 8px; font-size: 13px; overflow-x: auto; }
.actions button { font-size: 14px; padding: 6px 14px; margin-right: 8px; cursor: pointer; }
#result { margin: 8px 0; min-height: 1.2em; }
#result.error { color: #d62728; }
#live { font-size: 12px; color: #9ca3af; }
.figure { max-width: 900px; }
.caption { font-size: 12px; color: #555; margin-bottom: 16px; }
"""

SCRIPT = r"""
const body = document.body;
const root = body.dataset.root;
const readOnly = body.dataset.readOnly === "true";
const text = (value) => document.createTextNode(value === undefined || value === null ? "" : String(value));
function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.appendChild(text(content));
  row.appendChild(td);
  return td;
}
function phaseBadge(phase) {
  const span = document.createElement("span");
  span.className = "phase " + (["Healthy", "Progressing", "Paused", "Degraded"].includes(phase) ? phase : "unknown");
  span.appendChild(text(phase));
  return span;
}
function weights(r) {
  const wrap = document.createElement("span");
  wrap.className = "weights";
  const bar = document.createElement("span");
  bar.className = "bar";
  const canary = document.createElement("span");
  canary.style.width = r.canary_weight + "%";
  bar.appendChild(canary);
  wrap.appendChild(bar);
  wrap.appendChild(text(" canary " + r.canary_weight + "% · stable " + r.stable_weight + "%"));
  return wrap;
}
function step(r) { return r.step + (r.step_now ? " · now: " + r.step_now : ""); }
function live(path, draw) {
  const status = document.getElementById("live");
  const source = new EventSource(root + path);
  source.onmessage = (message) => { draw(JSON.parse(message.data)); status.textContent = "live"; };
  source.onerror = () => { status.textContent = "reconnecting…"; };
}
function drawList(state) {
  const tbody = document.querySelector("#rollouts tbody");
  tbody.replaceChildren();
  document.getElementById("error").textContent = state.error || "";
  for (const r of state.rollouts || []) {
    const row = document.createElement("tr");
    row.dataset.rollout = r.namespace + "/" + r.name;
    row.dataset.phase = r.phase;
    const link = document.createElement("a");
    link.href = root + "/rollouts/" + encodeURIComponent(r.namespace) + "/" + encodeURIComponent(r.name);
    link.appendChild(text(r.name));
    cell(row, r.namespace);
    cell(row, link);
    cell(row, phaseBadge(r.phase)).className = "phase-cell";
    cell(row, step(r)).className = "step";
    cell(row, weights(r)).className = "weights-cell";
    cell(row, r.analysis || "—").className = "analysis";
    cell(row, r.replicas);
    cell(row, r.message);
    tbody.appendChild(row);
  }
  if (!(state.rollouts || []).length) {
    const row = document.createElement("tr");
    cell(row, "No rollouts found.").colSpan = 8;
    tbody.appendChild(row);
  }
}
function drawRollout(state) {
  document.getElementById("error").textContent = state.error || "";
  if (state.error) return;
  const summary = document.getElementById("summary");
  summary.dataset.phase = state.phase;
  summary.dataset.canaryWeight = state.canary_weight;
  summary.dataset.aborted = state.aborted;
  document.getElementById("phase").replaceChildren(phaseBadge(state.phase), text(" " + (state.message || "")));
  document.getElementById("step").textContent = step(state);
  document.getElementById("weights").replaceChildren(weights(state));
  document.getElementById("analysis").textContent = (state.analysis_run ? state.analysis_run + " " : "") + (state.analysis || "—");
  document.getElementById("tree").innerHTML = state.tree;  // rendered and escaped by the server (rich)
  const plots = document.getElementById("plots");
  const wanted = new Set(state.figures.map((f) => f.id));
  for (const old of Array.from(plots.children)) if (!wanted.has(old.dataset.id)) old.remove();
  for (const figure of state.figures) {
    let box = plots.querySelector('[data-id="' + figure.id + '"]');
    if (!box) {
      box = document.createElement("div");
      box.dataset.id = figure.id;
      box.innerHTML = '<div class="figure"></div><div class="caption"></div>';
      plots.appendChild(box);
    }
    box.querySelector(".caption").textContent = figure.caption;
    Plotly.react(box.querySelector(".figure"), figure.figure.data, figure.figure.layout, {displaylogo: false, responsive: true});
  }
  const events = document.querySelector("#events tbody");
  events.replaceChildren();
  for (const e of state.events) {
    const row = document.createElement("tr");
    cell(row, e.time);
    cell(row, e.type);
    cell(row, e.reason).className = "reason";
    cell(row, e.message);
    events.appendChild(row);
  }
}
async function act(verb) {
  const result = document.getElementById("result");
  result.className = "";
  result.textContent = verb + "…";
  const response = await fetch(root + "/api/rollouts/" + body.dataset.namespace + "/" + body.dataset.name + "/" + verb,
    {method: "POST", headers: {"X-Canary-Dashboard": "1"}});
  const answer = await response.json();
  result.className = response.ok ? "ok" : "error";
  result.textContent = answer.message || answer.error;
}
if (body.dataset.page === "list") live("/api/stream", drawList);
if (body.dataset.page === "rollout") {
  live("/api/stream/" + body.dataset.namespace + "/" + body.dataset.name, drawRollout);
  for (const button of document.querySelectorAll(".actions button")) {
    button.addEventListener("click", () => act(button.dataset.verb));
  }
}
"""


def _shell(title: str, data: dict[str, str], main: str, root: str, *, plotly: bool = False) -> str:
    attributes = " ".join(f'data-{k}="{escape(v)}"' for k, v in data.items())
    plotly_tag = f'<script src="{escape(root)}/assets/plotly.min.js"></script>' if plotly else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<style>{STYLE}</style>
{plotly_tag}
</head>
<body data-root="{escape(root)}" {attributes}>
<header><a href="{escape(root)}/">canary</a><span>{escape(title)}</span><span id="live">connecting…</span></header>
<main>
<p id="error" class="error"></p>
{main}
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""


def list_page(root: str, scope: str, read_only: bool) -> str:
    main = """<table id="rollouts"><thead><tr><th>Namespace</th><th>Name</th><th>Phase</th><th>Step</th>
<th>Weights</th><th>Analysis</th><th>Available</th><th>Message</th></tr></thead><tbody></tbody></table>"""
    return _shell(f"Rollouts in {scope}", {"page": "list", "read-only": str(read_only).lower()}, main, root)


def rollout_page(root: str, namespace: str, name: str, verbs: list[str], read_only: bool) -> str:
    buttons = (
        '<p class="read-only">read-only: no actions</p>'
        if read_only
        else "".join(
            f'<button type="button" data-verb="{v}" id="{v}">{v.capitalize()}</button>' for v in verbs
        )
    )
    main = f"""<h2>Rollout {escape(namespace)}/{escape(name)}</h2>
<div class="actions">{buttons}</div>
<p id="result"></p>
<table id="summary">
<tr><th>Phase</th><td id="phase"></td></tr>
<tr><th>Step</th><td id="step"></td></tr>
<tr><th>Weights</th><td id="weights"></td></tr>
<tr><th>Analysis</th><td id="analysis"></td></tr>
</table>
<h3>Tree</h3><div id="tree"></div>
<h3>Evidence</h3><div id="plots"></div>
<h3>Events</h3>
<table id="events"><thead><tr><th>Time</th><th>Type</th><th>Reason</th><th>Message</th></tr></thead><tbody></tbody></table>"""
    data = {"page": "rollout", "namespace": namespace, "name": name, "read-only": str(read_only).lower()}
    return _shell(f"Rollout {namespace}/{name}", data, main, root, plotly=True)
