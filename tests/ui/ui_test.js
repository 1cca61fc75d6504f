// ui_test.js -- the /ui page in a real browser (headless chromium through
// the DevTools protocol, cdp.js), against a running 3-node cluster
// (tests/ui/ui_test.sh starts it). Each check is bounded in time; a
// screenshot after each step goes to $UI_OUT. Exit 0 when every check
// passed (fault steps "skipped: no fault endpoint" when the nodes have
// none), 1 when one failed.
//
//   UI_URL=http://127.0.0.1:9102/ui UI_NODES=127.0.0.1:9101,... UI_OUT=build/ui \
//       node tests/ui/ui_test.js
"use strict";
const { Browser } = require("./cdp.js");

const url = process.env.UI_URL;
const nodes = (process.env.UI_NODES || "").split(",").filter(Boolean);
const out = process.env.UI_OUT || "build/ui";
const chromium = process.env.CHROMIUM || "/usr/bin/chromium";
const TOTAL_MS = 90000;

let fails = 0;
const t0 = Date.now();
const log = (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
function check(ok, what) {
  log(`${ok ? "PASS" : "FAIL"} ${what}`);
  if (!ok) fails++;
  return ok;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll fn until it returns a truthy value or ms pass: that value, or null.
async function until(ms, fn) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= end) return null;
    await sleep(100);
  }
}

async function health(ep) {
  try {
    const r = await fetch(`http://${ep}/health`, { signal: AbortSignal.timeout(3000) });
    return await r.json();
  } catch (e) {
    return null;
  }
}

// What the page draws: one entry per box.
const BOXES = `[...document.querySelectorAll("#boxes .box")].map((b) => ({
  id: Number(b.dataset.id), role: b.dataset.role, up: b.dataset.up === "1",
  term: Number(b.querySelector(".f-term").textContent),
  cells: [...b.querySelectorAll(".cell[data-term]")].map((c) => Number(c.dataset.index)),
}))`;

async function main() {
  const b = await Browser.launch(chromium);
  const killer = setTimeout(() => {
    log("FAIL the test took over 90 s");
    b.close();
    process.exit(1);
  }, TOTAL_MS);
  try {
    await run(b);
  } catch (e) {
    check(false, `no error: ${e.message}`);
  }
  if (b.console.length) log(`page console: ${b.console.slice(-10).join(" | ")}`);
  check(!b.console.some((l) => l.startsWith("exception")), "no exception in the page's scripts");
  clearTimeout(killer);
  b.close();
  log(fails ? `ui_test: ${fails} FAILED` : "ui_test: all passed");
  process.exit(fails ? 1 : 0);
}

async function shot(b, name) {
  await sleep(300); // a frame or two of animation
  await b.screenshot(`${out}/${name}.png`);
  log(`screenshot ${out}/${name}.png`);
}

async function run(b) {
  await b.goto(url);
  // 1. three boxes, every one up, exactly one leader, and the one the
  //    nodes themselves name
  const three = await until(10000, async () => {
    const bx = await b.eval(BOXES);
    return bx.length === 3 && bx.every((x) => x.up && x.role !== "?") ? bx : null;
  });
  check(!!three, "the page draws three boxes, every member up");
  await sleep(1500); // a second "members" and the trace in between
  let boxes = await b.eval(BOXES);
  const leaders = boxes.filter((x) => x.role === "leader");
  // (asked again while no node answers leader: a loaded machine)
  const real = (await until(6000, async () => {
    const hs = (await Promise.all(nodes.map(health))).filter(Boolean);
    const l = hs.filter((h) => h.role === "leader").map((h) => h.id);
    return l.length ? l : null;
  })) || [];
  check(leaders.length === 1, `exactly one leader drawn (drawn: ${leaders.map((x) => "n" + x.id).join(",") || "none"})`);
  check(leaders.length === 1 && real.length === 1 && leaders[0].id === real[0],
        `the leader drawn is the cluster's (its /health: ${real.map((x) => "n" + x).join(",")})`);
  await shot(b, "1-cluster");

  // 2. a put through the page, in every box's log
  await b.eval(`document.querySelector("#kv-key").value = "ui-test";
                document.querySelector("#kv-value").value = "from the page";
                document.querySelector("#kv-put").click(); true`);
  const index = await until(5000, async () => b.eval(`(() => {
      const r = [...document.querySelectorAll("#replies div")].map((d) => d.textContent)
                  .reverse().find((t) => t.startsWith("POST /kv/put"));
      const m = r && /→ 200 .*"index": ?(\\d+)/.exec(r);
      return m ? Number(m[1]) : 0; })()`));
  check(!!index, `the page's put answered 200 (index ${index})`);
  const inLogs = index && await until(5000, async () => {
    const bx = await b.eval(BOXES);
    return bx.length === 3 && bx.every((x) => x.cells.includes(index));
  });
  check(!!inLogs, `entry ${index} is drawn in every box's log`);
  await shot(b, "2-put");

  // 3. isolate the leader from the page: a new leader within 3 s, the old
  //    one no longer leader
  boxes = await b.eval(BOXES);
  const old = (boxes.find((x) => x.role === "leader") || {}).id;
  if (!old) return check(false, "a leader to isolate");
  const clicked = Date.now();
  await b.eval(`document.querySelector('.box[data-id="${old}"] button[data-action="isolate"]').click(); true`);
  const answer = await until(3000, async () => b.eval(`(() => {
      const r = [...document.querySelectorAll("#replies div")].map((d) => d.textContent)
                  .reverse().find((t) => t.startsWith("POST /ui/fault?id=${old}"));
      const m = r && /→ (\\d+)/.exec(r);
      return m ? Number(m[1]) : 0; })()`));
  if (answer === 404 || answer === 403) {
    log(`skipped: no fault endpoint (the isolate button got ${answer}; ` +
        "the page shows: " + (await b.eval(`document.querySelector("#banner").textContent`)) + ")");
    check(await b.eval(`!document.querySelector("#banner").hidden`),
          "the page says why the fault buttons do not work");
    await shot(b, "3-no-faults");
    return;
  }
  check(answer === 200, `the isolate button answered 200 (got ${answer})`);
  const moved = await until(3000 - (Date.now() - clicked), async () => {
    const bx = await b.eval(BOXES);
    const l = bx.filter((x) => x.role === "leader");
    return l.length === 1 && l[0].id !== old ? l[0] : null;
  });
  check(!!moved, `a new leader is drawn within 3 s of the click (${moved ? "n" + moved.id : "none"}, ` +
                 `${Date.now() - clicked} ms)`);
  boxes = await b.eval(BOXES);
  check(boxes.find((x) => x.id === old).role !== "leader", `the old leader n${old} is no longer drawn leader`);
  // its pre-votes ask for term + 1 without taking it (§9.6): once it
  // runs them, the box still shows the term the node is in
  const pre = await until(5000, async () =>
    (await b.eval(BOXES)).find((y) => y.id === old && y.role === "precandidate"));
  check(!!pre, `the isolated n${old} is drawn running pre-votes`);
  await sleep(1000);
  const h = await health(nodes[old - 1]);
  const x = (await b.eval(BOXES)).find((y) => y.id === old);
  check(h && x && h.term === x.term,
        `the isolated n${old} is drawn in the term it is in (drawn ${x && x.term}, ` +
        `its /health ${h && h.term})`);
  await shot(b, "3-isolated");

  // 4. clear: the old leader comes back as a follower
  await b.eval(`document.querySelector('.box[data-id="${old}"] button[data-action="clear"]').click(); true`);
  const back = await until(10000, async () => {
    const bx = await b.eval(BOXES);
    const o = bx.find((x) => x.id === old);
    const l = bx.filter((x) => x.role === "leader");
    return o && o.up && o.role === "follower" && l.length === 1 && l[0].id !== old &&
           o.term === l[0].term ? l[0] : null;
  });
  check(!!back, `cleared, n${old} is drawn as a follower again, in the leader's term, one leader`);
  // pre-vote (§9.6): the old leader's return deposes nobody
  check(back && moved && back.id === moved.id && back.term === moved.term,
        `the leader is still n${moved && moved.id} in term ${moved && moved.term} (pre-vote: no disruption)`);
  await shot(b, "4-healed");

  // 5. a node going away greys its box; restarted, it comes back
  const serving = Number(new URL(url).port) - Number(process.env.NSXD_HTTP_BASE || 9100);
  const gone = (await b.eval(BOXES)).find((x) => x.id !== serving && x.role !== "leader");
  if (!gone || !process.env.UI_LC) return check(false, "a follower to stop");
  await b.eval(`document.querySelector('.box[data-id="${gone.id}"] button[data-action="stop"]').click(); true`);
  const grey = await until(5000, async () =>
    (await b.eval(BOXES)).find((x) => x.id === gone.id && !x.up && x.role === "down"));
  check(!!grey, `stopped from the page, n${gone.id}'s box is greyed ("down")`);
  await shot(b, "5-stopped");
  // The stopped nsxd may linger as a zombie until init reaps it (slowly,
  // on this VM), which local-cluster.sh takes for "already running":
  // wait for it to go, and drop its PID file once it is only a zombie.
  const fs = require("fs");
  const pidfile = `${process.env.NSXD_DATA}/n${gone.id}.pid`;
  await until(10000, async () => {
    let pid = 0;
    try { pid = Number(fs.readFileSync(pidfile, "utf8")); } catch (e) { return true; }
    let state = "";
    try { state = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "")[0]; } catch (e) { /* gone */ }
    if (!state || state === "Z") {
      fs.rmSync(pidfile, { force: true });
      return true;
    }
    return false;
  });
  require("child_process").execFileSync(process.env.UI_LC, ["restart", String(gone.id)],
                                        { stdio: "ignore", timeout: 20000 });
  const again = await until(10000, async () =>
    (await b.eval(BOXES)).find((x) => x.id === gone.id && x.up && x.role === "follower"));
  check(!!again, `restarted, n${gone.id}'s box is back, a follower`);
  await shot(b, "6-restarted");
}

main();
