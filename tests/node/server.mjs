// Starts the real userpool binary on a free loopback port for a test file; stops it after.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.USERPOOL_BIN ?? resolve(here, "../../target/debug/userpool");
export const credentials = { accessKeyId: "test", secretAccessKey: "test" };

// `args`: more flags for `userpool serve` (e.g. lambda.mjs's `--lambda-endpoint ...`).
export async function startServer({ args = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "userpool-node-"));
  const data = join(dir, "userpool.db");
  const proc = spawn(BIN, ["serve", "--listen", "127.0.0.1:0", "--data", data, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  const endpoint = await new Promise((ok, fail) => {
    let buf = "";
    const timer = setTimeout(() => fail(new Error("userpool did not start")), 30000);
    proc.stderr.on("data", (chunk) => {
      buf += chunk;
      const m = buf.match(/endpoint=(http:\/\/[0-9.]+:\d+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    proc.on("exit", (code) => fail(new Error(`userpool exited ${code}: ${buf}`)));
  });
  proc.stderr.resume();
  return {
    endpoint,
    data,
    codes(poolId, username) {
      return JSON.parse(execFileSync(BIN, ["codes", "--data", data, poolId, username], { encoding: "utf8" }));
    },
    stop() {
      proc.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Records what the clients (Amplify) send and what they are answered, by wrapping fetch; call
// it before Amplify loads. The list it returns grows with every exchange: the target, the
// status, the challenge and error names, and the full request and response bodies.
export function recordFetch() {
  const seen = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await realFetch(input, init);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    const target = (headers.get("x-amz-target") ?? "").split(".").pop();
    const response = await res.clone().json().catch(() => ({}));
    let request = {};
    try { request = JSON.parse(typeof init?.body === "string" ? init.body : "{}"); } catch {}
    seen.push({ target, status: res.status, challenge: response.ChallengeName, error: response.__type, request, response });
    return res;
  };
  return seen;
}
