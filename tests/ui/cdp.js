// cdp.js -- a minimal client of Chrome's DevTools protocol over
// --remote-debugging-pipe (fd 3: to the browser, fd 4: from it; one JSON
// message per NUL-terminated chunk). No npm package, no WebSocket, and
// nothing is downloaded: it drives Debian's /usr/bin/chromium.
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

class Browser {
  static async launch(bin, args = []) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), "nsxd-ui-chromium-"));
    const proc = spawn(bin, [
      "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
      "--no-first-run", "--no-default-browser-check", "--disable-sync",
      "--disable-background-networking", "--disable-component-update",
      "--disable-default-apps", "--disable-extensions", "--mute-audio",
      `--user-data-dir=${profile}`, "--window-size=1500,1000", ...args,
      "about:blank",
    ], { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
    const b = new Browser(proc, profile);
    proc.stderr.on("data", (d) => { b.stderr += d; if (b.stderr.length > 20000) b.stderr = b.stderr.slice(-10000); });
    const { targetId } = await b.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await b.send("Target.attachToTarget", { targetId, flatten: true });
    b.session = sessionId;
    await b.send("Page.enable", {}, sessionId);
    await b.send("Runtime.enable", {}, sessionId);
    await b.send("Emulation.setDeviceMetricsOverride",
                 { width: 1500, height: 1000, deviceScaleFactor: 1, mobile: false }, sessionId);
    return b;
  }

  constructor(proc, profile) {
    this.proc = proc;
    this.profile = profile;
    this.stderr = "";
    this.next = 1;
    this.waiting = new Map();
    this.buf = Buffer.alloc(0);
    this.console = [];
    proc.stdio[4].on("data", (d) => this.onData(d));
    proc.on("exit", (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`chromium exited (${code})`));
      this.waiting.clear();
    });
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    let i;
    while ((i = this.buf.indexOf(0)) >= 0) {
      const msg = JSON.parse(this.buf.subarray(0, i).toString("utf8"));
      this.buf = this.buf.subarray(i + 1);
      if (msg.id && this.waiting.has(msg.id)) {
        const w = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        if (msg.error) w.reject(new Error(`${w.method}: ${msg.error.message}`));
        else w.resolve(msg.result);
      } else if (msg.method === "Runtime.consoleAPICalled") {
        this.console.push(msg.params.args.map((a) => a.value).join(" "));
      } else if (msg.method === "Runtime.exceptionThrown") {
        this.console.push("exception: " + JSON.stringify(msg.params.exceptionDetails.exception &&
                                                         msg.params.exceptionDetails.exception.description));
      }
    }
  }

  send(method, params = {}, sessionId) {
    const id = this.next++;
    const m = { id, method, params };
    if (sessionId) m.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, method });
      this.proc.stdio[3].write(JSON.stringify(m) + "\0");
    });
  }

  page(method, params) { return this.send(method, params, this.session); }

  async goto(url) {
    await this.page("Page.navigate", { url });
  }

  // The value of expression in the page (a promise is awaited).
  async eval(expression) {
    const r = await this.page("Runtime.evaluate",
                              { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails)
      throw new Error(`in the page: ${r.exceptionDetails.text} ${
        r.exceptionDetails.exception ? r.exceptionDetails.exception.description : ""}`);
    return r.result.value;
  }

  async screenshot(file) {
    const r = await this.page("Page.captureScreenshot", { format: "png" });
    fs.writeFileSync(file, Buffer.from(r.data, "base64"));
  }

  close() {
    try { this.proc.kill("SIGKILL"); } catch (e) { /* gone */ }
    try { fs.rmSync(this.profile, { recursive: true, force: true }); } catch (e) { /* best effort */ }
  }
}

module.exports = { Browser };
