// doc_shots.js -- README's screenshots of the /ui page (an election, a
// partition, a quorum lost), taken from a live local cluster with
// --enable-faults that tests/ui/doc_shots.sh starts. Not a test: run it
// by hand when the page changes (each step is still bounded in time).
"use strict";
const { execFileSync } = require("child_process");
const { Browser } = require("./cdp.js");

const url = process.env.UI_URL;
const serving = Number(process.env.UI_SERVING);
const out = process.env.UI_OUT || "docs";
const lc = process.env.UI_LC;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BOXES = `[...document.querySelectorAll("#boxes .box")].map((b) => ({
  id: Number(b.dataset.id), role: b.dataset.role, up: b.dataset.up === "1" }))`;

async function until(ms, fn) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() >= end) return v;
    await sleep(100);
  }
}

async function shot(b, name) {
  const r = await b.page("Page.captureScreenshot", {
    format: "png", clip: { x: 0, y: 0, width: 1500, height: 860, scale: 0.7 } });
  require("fs").writeFileSync(`${out}/${name}`, Buffer.from(r.data, "base64"));
  console.log(`${out}/${name}`);
}

const leader = async (b) => {
  const l = (await b.eval(BOXES)).filter((x) => x.role === "leader");
  return l.length === 1 ? l[0].id : 0;
};
const click = (b, id, action) =>
  b.eval(`document.querySelector('.box[data-id="${id}"] button[data-action="${action}"]').click(); true`);

async function main() {
  const b = await Browser.launch("/usr/bin/chromium");
  const killer = setTimeout(() => { b.close(); process.exit(1); }, 120000);
  await b.goto(url);
  await until(10000, async () => (await b.eval(BOXES)).filter((x) => x.up).length === 3);
  await b.eval(`document.querySelector("#kv-put").click(); true`);
  await sleep(1500);

  // an election: the leader killed (kill -9), the two others elect
  let L = await until(5000, () => leader(b));
  if (L === serving) throw new Error("the serving node leads: run again");
  execFileSync(lc, ["kill", String(L)]);
  await until(5000, async () => { const l = await leader(b); return l && l !== L; });
  await sleep(700);
  await shot(b, "ui-election.png");
  execFileSync(lc, ["restart", String(L)]);
  await until(10000, async () => (await b.eval(BOXES)).filter((x) => x.up).length === 3);
  await sleep(1500);

  // a partition: the leader isolated from the page
  L = await leader(b);
  await click(b, L, "isolate");
  await until(5000, async () => { const l = await leader(b); return l && l !== L; });
  await sleep(1200);
  await shot(b, "ui-partition.png");
  await click(b, L, "clear");
  await sleep(3000);

  // a quorum lost: the two other nodes stopped from the page
  for (const x of await b.eval(BOXES))
    if (x.id !== serving) await click(b, x.id, "stop");
  await until(8000, async () => (await b.eval(BOXES)).filter((x) => x.up).length === 1);
  await b.eval(`document.querySelector("#kv-value").value = "nobody to agree";
                document.querySelector("#kv-put").click(); true`);
  await sleep(4000);
  await shot(b, "ui-quorum-lost.png");
  clearTimeout(killer);
  b.close();
}

main().catch((e) => { console.error(e); process.exit(1); });
