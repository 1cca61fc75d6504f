/* nsxd's live cluster page (issue 16; README, "The live cluster page").
 *
 * One EventSource on /ui/events of the node serving the page
 * (http/http_ui.c): its relay (actors/ui_relay.c) sends
 *   "members"  every second: each member's /health as its box needs it
 *              ({"self", "members": [{id, http_addr, up, error, health}]}),
 *              and first thing on connect, so every box is drawn at once;
 *   "trace"    every trace event of every member (msg/msg_trace.h), with
 *              "line", the line `nsxctl trace` prints;
 *   "lost"     {"items": N}: this page read too slowly and N items went.
 * Boxes: the last "members" sets each box; trace events move it on in
 * between (role, term, append, truncate, commit, apply). A box whose
 * member does not answer is greyed ("up": false) and comes back when it
 * does. Messages: a dot leaves a box on msg_send and lands on the matching
 * msg_recv; one never received within a second turns red and fades (a
 * partition, a dropped link). Votes: what msg_send vote_resp granted
 * says (the trace is all the page knows of votes: "?" until an election).
 * Buttons: POST /ui/fault?id=N and /ui/stop?id=N, which the serving node
 * passes to member N's /debug/fault and /debug/stop.
 */
"use strict";

const TAIL = 16;           /* log cells per box */
const HOLD_MS = 200;       /* timeline: as nsxctl trace, sort what came within */
const MAX_LINES = 600;
const MAX_DOTS = 120;
const FLY_MS = 450;
const LOST_MS = 1200;
const ROLES = ["follower", "precandidate", "candidate", "leader"];

const S = {
  self: 0,
  nodes: new Map(),      /* id -> node state */
  lastSeq: new Map(),    /* id -> last trace seq seen */
  hold: [],              /* timeline events waiting HOLD_MS */
  pending: new Map(),    /* "from>to:type" -> [dot] */
  dots: 0,
};

const $ = (sel) => document.querySelector(sel);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const termColour = (t) => `hsl(${(t * 67) % 360}, 62%, 48%)`;

function banner(text) {
  const b = $("#banner");
  b.hidden = !text;
  b.textContent = text || "";
}

/* ------------------------------------------------------------------ */
/* Node state and boxes                                                */

function node(id) {
  let n = S.nodes.get(id);
  if (!n) {
    n = { id, up: false, role: "?", term: 0, leader: 0, commit: 0, applied: 0,
          last: 0, base: 0, vote: null, terms: new Map(), error: "",
          faults: "", box: null, members: [] };
    S.nodes.set(id, n);
  }
  return n;
}

function members(data) {
  S.self = data.self;
  $("#serving").textContent = `served by n${data.self}`;
  const seen = new Set();
  for (const m of data.members) {
    const n = node(m.id);
    seen.add(m.id);
    n.http = m.http_addr;
    n.up = m.up && !!m.health;
    n.error = m.up ? (m.health ? "" : m.error) : `not answering: ${m.error}`;
    const h = m.health;
    if (h) {
      /* a /health is up to a second old: it never takes back what
         newer trace events said (a restart resets the box: the
         monitor's "up" event) */
      if (h.term >= n.term) {
        n.role = h.role;
        n.term = h.term;
        n.leader = h.leader_id || 0;
      }
      n.commit = Math.max(n.commit, h.commit);
      n.applied = Math.max(n.applied, h.applied);
      n.last = Math.max(n.last, h.last_index);
      n.base = h.log ? h.log.base_index : 0;
      n.members = h.members || [];
      if (h.faults) n.faults = faultsText(h.faults); /* --enable-faults' */
    }
  }
  for (const id of [...S.nodes.keys()])
    if (!seen.has(id)) {
      const n = S.nodes.get(id);
      if (n.box) n.box.remove();
      S.nodes.delete(id);
      layout.key = "";
    }
  for (const n of S.nodes.values()) draw(n);
  layout();
}

/* The boxes on a ring, as RaftScope draws its servers: every message
   flies between two of them without crossing a third. */
function layout() {
  const boxes = [...$("#boxes").children];
  const c = $("#cluster");
  const W = c.clientWidth, H = c.clientHeight, n = boxes.length;
  const key = `${W}x${H}:${n}`;
  if (layout.key === key) return;
  layout.key = key;
  boxes.forEach((b, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
    const rx = n > 1 ? W / 2 - b.offsetWidth / 2 - 10 : 0;
    const ry = n > 1 ? H / 2 - b.offsetHeight / 2 - 10 : 0;
    b.style.left = `${W / 2 + rx * Math.cos(a) - b.offsetWidth / 2}px`;
    b.style.top = `${H / 2 + ry * Math.sin(a) - b.offsetHeight / 2}px`;
  });
}

function makeBox(n) {
  const b = el("div", "box");
  b.dataset.id = n.id;
  b.innerHTML = `
    <div class="title"><span class="name">n${n.id}</span><span class="role"></span></div>
    <dl>
      <dt>term</dt><dd class="f-term"></dd><dt>leader</dt><dd class="f-leader"></dd>
      <dt>commit</dt><dd class="f-commit"></dd><dt>applied</dt><dd class="f-applied"></dd>
      <dt>last</dt><dd class="f-last"></dd><dt>vote</dt><dd class="f-vote"></dd>
    </dl>
    <div class="log"></div>
    <div class="flash"></div>
    <div class="faults"></div>
    <div class="actions">
      <button data-action="isolate" title="cut this node off from every peer">isolate</button>
      <button data-action="clear" title="remove every fault of this node">clear</button>
      <button data-action="stop" title="graceful stop (a leader hands over first)">stop</button>
    </div>
    <div class="actions">
      drop link to <select class="peer"></select>
      <select class="dir"><option>both</option><option>out</option><option>in</option></select>
      <button data-action="drop">drop</button>
    </div>
    <div class="actions">
      <input class="ms" type="number" value="200" min="0" step="50"> ms
      <button data-action="delay" title="delay every peer message">delay</button>
      <button data-action="slow_fsync" title="slow every fsync">slow fsync</button>
    </div>
    <div class="hint"></div>`;
  b.addEventListener("click", (ev) => {
    const a = ev.target.dataset && ev.target.dataset.action;
    if (a) act(n.id, a, b);
  });
  const boxes = $("#boxes");
  const after = [...boxes.children].find((c) => Number(c.dataset.id) > n.id);
  boxes.insertBefore(b, after || null);
  layout.key = "";
  return b;
}

function draw(n) {
  const b = n.box || (n.box = makeBox(n));
  b.dataset.role = n.up ? n.role : "down";
  b.dataset.up = n.up ? "1" : "0";
  b.querySelector(".role").textContent = n.up ? n.role : "down";
  b.querySelector(".f-term").textContent = n.term;
  b.querySelector(".f-leader").textContent = n.leader ? `n${n.leader}` : "none";
  b.querySelector(".f-commit").textContent = n.commit;
  b.querySelector(".f-applied").textContent = n.applied;
  b.querySelector(".f-last").textContent = n.last;
  b.querySelector(".f-vote").textContent =
    n.vote && n.vote.term === n.term ? `n${n.vote.for}` : "?";
  b.querySelector(".faults").textContent = n.faults;
  b.querySelector(".hint").textContent = n.up ? "" :
    (n.error || "") + (n.stopped ? ` — start it again: deploy/local-cluster.sh restart ${n.id}` : "");
  const sel = b.querySelector("select.peer");
  const peers = [...S.nodes.keys()].filter((id) => id !== n.id).join(",");
  if (sel.dataset.peers !== peers) {
    sel.dataset.peers = peers;
    sel.innerHTML = "";
    for (const id of peers.split(",").filter(Boolean))
      sel.appendChild(el("option", "", id)).value = id;
  }
  drawLog(n, b.querySelector(".log"));
}

function drawLog(n, log) {
  const first = Math.max(1, n.last - TAIL + 1);
  const cells = [];
  for (let i = first; i <= n.last; i++) {
    const c = el("div", "cell");
    c.dataset.index = i;
    const t = n.terms.get(i);
    if (i <= n.base) c.classList.add("compacted");
    else if (t === undefined) c.classList.add("unknown");
    else {
      c.dataset.term = t;
      c.style.background = termColour(t);
      c.textContent = t;
    }
    if (i <= n.commit) c.classList.add("committed");
    c.title = `index ${i}` + (t !== undefined ? `, term ${t}` : "") +
              (i <= n.commit ? ", committed" : "");
    cells.push(c);
  }
  log.replaceChildren(...cells);
}

function flash(n, cls, text) {
  if (!n.box) return;
  n.box.querySelector(".flash").textContent = text;
  if (!cls) return;
  n.box.classList.add(cls);
  setTimeout(() => n.box && n.box.classList.remove(cls), 700);
}

/* ------------------------------------------------------------------ */
/* Trace events                                                        */

function trace(ev) {
  const n = node(ev.node);
  const prev = S.lastSeq.get(ev.node) || 0;
  if (prev && ev.seq > prev + 1)
    gapLine(`— n${ev.node}: ${ev.seq - prev - 1} event(s) lost (#${prev + 1}..#${ev.seq - 1}) —`);
  S.lastSeq.set(ev.node, ev.seq);
  if (ev.kind === "monitor" && ev.text === "up") { /* a (re)start */
    n.terms.clear();
    n.vote = null;
    n.last = n.commit = n.applied = 0;
  }
  if (ev.term > n.term) n.term = ev.term;
  switch (ev.kind) {
  case "role":
    n.role = ROLES[ev.a] || "?";
    n.leader = ev.b;
    n.up = true;
    if (n.role === "candidate") n.vote = { term: ev.term, for: ev.node };
    break;
  case "term":
    n.term = ev.a;
    break;
  case "election_start":
    flash(n, "flash-election", ev.a === 1 ? "pre-vote round…" : `election, term ${ev.term}…`);
    break;
  case "election_won":
    flash(n, "flash-won", `${ev.a === 1 ? "pre-vote" : "election"} won, ${ev.b} votes`);
    break;
  case "election_lost":
    flash(n, "flash-election", `${ev.a === 1 ? "pre-vote" : "election"} lost`);
    break;
  case "append":
    for (let i = ev.a; i <= ev.b; i++) n.terms.set(i, ev.term);
    n.last = Math.max(n.last, ev.b);
    break;
  case "truncate":
    for (const i of [...n.terms.keys()]) if (i >= ev.a) n.terms.delete(i);
    n.last = Math.min(n.last, ev.a - 1);
    break;
  case "commit":
    n.commit = Math.max(n.commit, ev.b);
    flash(n, "", `committed up to ${ev.b}`);
    break;
  case "apply":
    n.applied = Math.max(n.applied, ev.b);
    break;
  case "msg_send":
    if (ev.b === 6 /* prevote_resp */ || ev.b === 4 /* vote_resp */) {
      if (ev.b === 4 && ev.text.endsWith("granted"))
        n.vote = { term: ev.term, for: ev.a };
    }
    fly(ev.node, ev.a, ev.b, ev.text);
    break;
  case "msg_recv":
    land(ev.a, ev.node, ev.b);
    break;
  }
  if (ev.kind !== "msg_send" && ev.kind !== "msg_recv") draw(n);
  else if (ev.kind === "msg_send" && ev.b === 4) draw(n);
  S.hold.push({ ev, at: performance.now() });
  if (S.hold.length > 4 * MAX_LINES) S.hold.splice(0, S.hold.length - 4 * MAX_LINES);
}

/* ------------------------------------------------------------------ */
/* Messages in flight                                                  */

const TYPES = { 1: "append", 2: "append", 3: "vote", 4: "vote", 5: "prevote",
                6: "prevote", 7: "heartbeat", 8: "heartbeat", 10: "snapshot",
                11: "snapshot" };

function centre(id) {
  const n = S.nodes.get(id);
  if (!n || !n.box) return null;
  const r = n.box.getBoundingClientRect();
  const c = $("#cluster").getBoundingClientRect();
  return { x: r.left - c.left + r.width / 2, y: r.top - c.top + r.height / 2 };
}

function fly(from, to, type, text) {
  const a = centre(from), b = centre(to);
  if (!a || !b || S.dots >= MAX_DOTS || document.hidden) return;
  const reply = type % 2 === 0 && type <= 12 && type !== 10;
  const big = type === 1 && /\d+\.\.\d+/.test(text);
  const c = document.createElementNS("http://www.w3.org/2000/svg", "circle");
  c.setAttribute("r", big ? 8 : type === 7 || type === 8 ? 4 : 6);
  c.setAttribute("class", (TYPES[type] || "other") + (reply ? " reply" : ""));
  c.setAttribute("cx", a.x);
  c.setAttribute("cy", a.y);
  const t = el("title", "", text);
  c.appendChild(t);
  $("#wires").appendChild(c);
  S.dots++;
  const dot = { c, a, b, start: performance.now(), landed: false };
  const key = `${from}>${to}:${type}`;
  if (!S.pending.has(key)) S.pending.set(key, []);
  S.pending.get(key).push(dot);
  const step = (now) => {
    if (!c.isConnected) return;
    const f = Math.min(1, (now - dot.start) / FLY_MS);
    const g = dot.landed ? f : Math.min(f, 0.85);
    c.setAttribute("cx", a.x + (b.x - a.x) * g);
    c.setAttribute("cy", a.y + (b.y - a.y) * g);
    if (dot.landed && f >= 1) return done(dot, key);
    if (!dot.landed && now - dot.start > LOST_MS) {
      c.setAttribute("class", "lost");
      c.style.transition = "opacity .8s";
      c.style.opacity = "0";
      setTimeout(() => done(dot, key), 800);
      return;
    }
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

function land(from, to, type) {
  const q = S.pending.get(`${from}>${to}:${type}`);
  const d = q && q.find((x) => !x.landed);
  if (d) d.landed = true;
}

function done(dot, key) {
  if (!dot.c.isConnected) return;
  dot.c.remove();
  S.dots--;
  const q = S.pending.get(key);
  if (q) {
    const i = q.indexOf(dot);
    if (i >= 0) q.splice(i, 1);
    if (!q.length) S.pending.delete(key);
  }
}

/* ------------------------------------------------------------------ */
/* The stream                                                          */

function connect() {
  const es = new EventSource("/ui/events");
  es.addEventListener("open", () => {
    $("#conn").textContent = "live";
    $("#conn").className = "conn ok";
  });
  es.addEventListener("error", () => {
    $("#conn").textContent = "reconnecting…";
    $("#conn").className = "conn bad";
    /* why: the status alone (the answer is aborted at once) */
    const ac = new AbortController();
    fetch("/ui/events", { signal: ac.signal }).then((r) => {
      ac.abort();
      if (r.status === 403)
        banner("/ui/events is an admin route: open this page from loopback " +
               "(or start the nodes with --open-admin).");
      else if (r.status === 503)
        banner("too many pages watch this node already (503 busy); close one.");
    }).catch(() => {});
  });
  es.addEventListener("members", (e) => members(JSON.parse(e.data)));
  es.addEventListener("trace", (e) => trace(JSON.parse(e.data)));
  es.addEventListener("lost", (e) =>
    gapLine(`— ${JSON.parse(e.data).items} item(s) lost: this page read too slowly —`));
}

document.addEventListener("DOMContentLoaded", () => {
  $("#kv-put").onclick = () => kv("put");
  $("#kv-get").onclick = () => kv("get");
  $("#kv-get-stale").onclick = () => kv("stale");
  $("#kv-delete").onclick = () => kv("delete");
  for (const s of ["#tl-filter", "#tl-msgs", "#tl-http", "#tl-health"])
    $(s).addEventListener("input", refilter);
  setInterval(flushTimeline, 100);
  window.addEventListener("resize", layout);
  connect();
});
