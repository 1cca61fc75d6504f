/* nsxd's live cluster page: its side panels (ui.js says how the page
 * works; both are classic scripts sharing their top-level names): the
 * timeline, the keys-and-values panel, and the fault and stop buttons,
 * which POST /ui/fault?id=N and /ui/stop?id=N (http/http_ui.c).
 */
"use strict";

/* ------------------------------------------------------------------ */
/* Timeline                                                            */

function lineShown(ev) {
  if (!$("#tl-msgs").checked && ev.kind.startsWith("msg_")) return false;
  if (!$("#tl-http").checked && ev.kind === "http") return false;
  if (!$("#tl-health").checked && ev.kind === "http" && ev.text.startsWith("GET /health"))
    return false; /* the relay's own probes, every second */
  const f = $("#tl-filter").value.trim();
  if (!f) return true;
  const m = /^\/(.*)\/$/.exec(f);
  if (m) {
    try { return new RegExp(m[1]).test(ev.line); } catch (e) { return true; }
  }
  return ev.line.includes(f);
}

function addLine(div) {
  const tl = $("#timeline");
  const atEnd = tl.scrollTop + tl.clientHeight >= tl.scrollHeight - 4;
  tl.appendChild(div);
  while (tl.childElementCount > MAX_LINES) tl.firstElementChild.remove();
  if (atEnd && !$("#tl-pause").checked) tl.scrollTop = tl.scrollHeight;
}

function gapLine(text) {
  addLine(el("div", "gap", text));
}

/* As nsxctl trace (http/trace_client.c): hold each event HOLD_MS, then
   print in (wall time, node, seq) order. */
function flushTimeline() {
  if ($("#tl-pause").checked || !S.hold.length) return;
  const now = performance.now();
  S.hold.sort((x, y) => x.ev.wall_us - y.ev.wall_us || x.ev.node - y.ev.node ||
                        x.ev.seq - y.ev.seq);
  let i = 0;
  while (i < S.hold.length && S.hold[i].at + HOLD_MS <= now) {
    const ev = S.hold[i++].ev;
    const d = el("div", `k-${ev.kind}`, ev.line);
    d.dataset.kind = ev.kind;
    d.hidden = !lineShown(ev);
    d._ev = ev;
    addLine(d);
  }
  S.hold.splice(0, i);
}

function refilter() {
  for (const d of $("#timeline").children)
    if (d._ev) d.hidden = !lineShown(d._ev);
}

/* ------------------------------------------------------------------ */
/* Requests: keys and values, faults                                   */

function reply(text, ok) {
  const r = $("#replies");
  const d = el("div", ok ? "ok" : "err", text);
  r.appendChild(d);
  while (r.childElementCount > 60) r.firstElementChild.remove();
  r.scrollTop = r.scrollHeight;
}

async function call(method, path, body) {
  const opts = { method, headers: {} };
  if (body !== undefined) {
    opts.body = JSON.stringify(body);
    opts.headers["Content-Type"] = "application/json";
  }
  let status = 0, json = null, text = "";
  try {
    const r = await fetch(path, opts);
    status = r.status;
    text = await r.text();
    try { json = JSON.parse(text); } catch (e) { json = null; }
  } catch (e) {
    text = String(e);
  }
  reply(`${method} ${path} ${body ? JSON.stringify(body) + " " : ""}→ ${status || "no answer"} ${text.trim()}`,
        status >= 200 && status < 300);
  return { status, json };
}

function kv(op) {
  const key = $("#kv-key").value, value = $("#kv-value").value;
  const fwd = $("#kv-forward").checked ? "?forward=true" : "";
  const k = encodeURIComponent(key);
  if (op === "put") return call("POST", `/kv/put${fwd}`, { key, value });
  if (op === "get") return call("GET", `/kv/get?key=${k}`);
  if (op === "stale") return call("GET", `/kv/get?key=${k}&stale=true`);
  return call("DELETE", `/kv/delete${fwd}`, { key });
}

function faultsText(f) {
  if (!f || typeof f !== "object") return "";
  const parts = [];
  for (const [k, v] of Object.entries(f))
    if (v && !(Array.isArray(v) && !v.length) && !(typeof v === "object" && !Object.keys(v).length))
      parts.push(typeof v === "object" ? `${k} ${JSON.stringify(v)}` : v === true ? k : `${k} ${v}`);
  return parts.length ? `faults: ${parts.join(", ")}` : "";
}

async function act(id, action, box) {
  const n = node(id);
  const ms = Number(box.querySelector("input.ms").value) || 0;
  let r;
  if (action === "stop") {
    r = await call("POST", `/ui/stop?id=${id}`, {});
    if (r.status === 200) n.stopped = true;
  } else {
    const body = { action };
    if (action === "drop") {
      body.peer = Number(box.querySelector("select.peer").value);
      body.direction = box.querySelector("select.dir").value;
    }
    if (action === "delay" || action === "slow_fsync") body.ms = ms;
    r = await call("POST", `/ui/fault?id=${id}`, body);
    if (r.status === 200 && r.json) n.faults = faultsText(r.json.faults);
  }
  if (r.status === 403 && r.json && r.json.error === "faults_disabled")
    banner(`n${id} runs without --enable-faults: start the cluster with it ` +
           "(NSXD_EXTRA_ARGS=--enable-faults deploy/local-cluster.sh start) to use the fault buttons.");
  else if (r.status === 404 && r.json && r.json.error === "unknown_path")
    banner(`n${id} has no fault endpoint (/debug/fault, /debug/stop): this nsxd was built without it.`);
  else if (r.status === 403)
    banner("the fault and stop buttons, like this page's stream, are admin routes: " +
           "open the page on loopback, or run with --open-admin.");
  else if (r.status === 502)
    banner(`n${id} did not answer (${r.json ? r.json.detail || r.json.error : "?"}).`);
  draw(n);
}

