// Takes docs/dashboard.png from a running demo: headless chromium shows the
// dashboard for a number of real seconds (so its chart fills), then the
// Chrome DevTools protocol captures the page.
//
//   node --experimental-websocket breaker-ops/scripts/screenshot.mjs URL SECONDS OUT.png
//
// (node 20 needs the flag for its built-in WebSocket; 22 and later do not.)
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, seconds, out] = process.argv.slice(2);
if (!url || !seconds || !out) {
  console.error("usage: screenshot.mjs URL SECONDS OUT.png");
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), "dashboard-shot-"));
const chromium = spawn("/usr/bin/chromium", [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  `--user-data-dir=${profile}`, "--window-size=1200,800", "--remote-debugging-port=0", url,
], { stdio: ["ignore", "ignore", "pipe"] });

// Chromium prints the DevTools endpoint on stderr.
const browserWs = await new Promise((resolve, reject) => {
  let seen = "";
  chromium.stderr.on("data", chunk => {
    seen += chunk;
    const m = seen.match(/DevTools listening on (ws:\/\/\S+)/);
    if (m) resolve(m[1]);
  });
  chromium.on("exit", code => reject(new Error(`chromium exited (${code}): ${seen}`)));
});
const port = new URL(browserWs).port;
await new Promise(r => setTimeout(r, Number(seconds) * 1000));
const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
const page = targets.find(t => t.type === "page");
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise(r => ws.addEventListener("open", r));
ws.send(JSON.stringify({ id: 1, method: "Page.captureScreenshot", params: { format: "png" } }));
const reply = await new Promise(r => ws.addEventListener("message", e => r(JSON.parse(e.data))));
writeFileSync(out, Buffer.from(reply.result.data, "base64"));
ws.close();
chromium.kill();
console.log(`${out} written`);
