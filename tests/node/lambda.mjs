// A Lambda Invoke API for the trigger tests: `POST /2015-03-31/functions/<name>/invocations` on
// 127.0.0.1 (plain node:http), hosting JS functions. Like Lambda, it checks each call's SigV4
// signature (service `lambda`, the region of the function's ARN, the credentials it was given)
// with its own signer code (node:crypto, no AWS signer), and refuses a bad one with 403
// `InvalidSignatureException`. The Python suite's tests/clients/lambda_server.py is its twin.
//
// A function is `async (event) => answer`; throwing makes a function error
// (`X-Amz-Function-Error: Unhandled`, `{errorMessage, errorType}`), as the Node runtime answers.
// Every event received is kept, per function, for the tests to check member by member.
import { createServer } from "node:http";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const ACCESS_KEY = "AKIDLAMBDATEST";
export const SECRET_KEY = "lambda-test-secret";
export const ACCOUNT = "123456789012";

const sha256 = (data) => createHash("sha256").update(data).digest("hex");
const hmac = (key, data) => createHmac("sha256", key).update(data).digest();
// RFC 3986 encoding, as SigV4 wants it: everything but the unreserved characters A-Z a-z 0-9 - _ . ~
// (encodeURIComponent also leaves ! ' ( ) * alone).
const uriEncode = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

// Why the signature of a request is not good, or null when it is; `region` is set from the
// credential scope.
export function checkSignature({ method, rawPath, headers, body, accessKeyId, secretAccessKey, now = Date.now() }) {
  const auth = headers.authorization ?? "";
  const ALG = "AWS4-HMAC-SHA256 ";
  if (!auth.startsWith(ALG)) return { why: "no SigV4 authorization" };
  const parts = Object.fromEntries(auth.slice(ALG.length).split(",").map((p) => {
    const [k, ...v] = p.trim().split("=");
    return [k, v.join("=")];
  }));
  if (!parts.Credential || !parts.SignedHeaders || !parts.Signature) return { why: `authorization ${auth}` };
  const [key, date, region, service, term, ...rest] = parts.Credential.split("/");
  if (key !== accessKeyId || service !== "lambda" || term !== "aws4_request" || rest.length) {
    return { why: `credential scope ${parts.Credential}` };
  }
  const signed = parts.SignedHeaders.split(";");
  if (!signed.includes("host") || !signed.includes("x-amz-date")) return { why: "host and x-amz-date must be signed" };
  const amzDate = headers["x-amz-date"] ?? "";
  if (amzDate.slice(0, 8) !== date) return { why: `x-amz-date ${amzDate} is not of the scope's day ${date}` };
  const m = amzDate.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  if (!m) return { why: `x-amz-date ${amzDate}` };
  const at = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  if (Math.abs(now - at) > 15 * 60 * 1000) return { why: "signature expired" };
  const [path, query = ""] = rawPath.split(/\?(.*)/s);
  // Every service but S3 signs the path URI-encoded once more (what was sent, each segment
  // encoded again: `%3A` is signed as `%253A`).
  const canonicalPath = path.split("/").map(uriEncode).join("/");
  const pairs = query === "" ? [] : query.split("&").map((kv) => {
    const [k, ...v] = kv.split("=");
    const dec = (s) => decodeURIComponent(s.replace(/\+/g, " "));
    return [uriEncode(dec(k)), uriEncode(dec(v.join("=")))];
  });
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  const canonicalQuery = pairs.map(([k, v]) => `${k}=${v}`).join("&");
  const bodyHash = sha256(body);
  const payloadHash = headers["x-amz-content-sha256"] ?? bodyHash;
  if (payloadHash !== bodyHash) return { why: "payload hash" };
  const canonicalHeaders = signed.map((n) => `${n}:${String(headers[n] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const canonicalRequest = [method, canonicalPath, canonicalQuery, canonicalHeaders, signed.join(";"), payloadHash].join("\n");
  const scope = `${date}/${region}/${service}/${term}`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  let k = Buffer.from(`AWS4${secretAccessKey}`);
  for (const part of [date, region, service, term]) k = hmac(k, part);
  const expected = Buffer.from(hmac(k, stringToSign).toString("hex"));
  const given = Buffer.from(parts.Signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { why: "signature mismatch", region };
  return { why: null, region };
}

export async function startLambda({ accessKeyId = ACCESS_KEY, secretAccessKey = SECRET_KEY } = {}) {
  // The credentials signatures are checked against: `expect` changes them (to see a signature
  // made with other ones refused), the flags given to userpool (`args`) stay the first ones.
  const keys = { accessKeyId, secretAccessKey };
  const functions = new Map();
  const events = new Map();
  const refused = [];

  const answer = (res, status, headers, payload) => {
    const body = Buffer.from(typeof payload === "string" ? payload : JSON.stringify(payload));
    res.writeHead(status, { "content-type": "application/json", "content-length": body.length, ...headers });
    res.end(body);
  };
  const invalid = (res, why) => {
    refused.push(why);
    answer(res, 403, { "x-amzn-ErrorType": "InvalidSignatureException" },
      { message: `The request signature we calculated does not match (${why})` });
  };

  async function handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    if (req.method !== "POST") return answer(res, 405, {}, { message: "POST only" });
    const { why, region } = checkSignature({ method: req.method, rawPath: req.url, headers: req.headers, body, ...keys });
    if (why) return invalid(res, why);
    const path = decodeURIComponent(req.url.split("?")[0]);
    const prefix = "/2015-03-31/functions/", suffix = "/invocations";
    if (!path.startsWith(prefix) || !path.endsWith(suffix)) {
      return answer(res, 404, { "x-amzn-ErrorType": "ResourceNotFoundException" }, { message: "no such path" });
    }
    const fn = path.slice(prefix.length, -suffix.length);
    if (fn.startsWith("arn:") && fn.split(":")[3] !== region) return invalid(res, `signed for ${region}, the function is in ${fn.split(":")[3]}`);
    const name = fn.split(":").pop();
    const handler = functions.get(name);
    if (!handler) {
      return answer(res, 404, { "x-amzn-ErrorType": "ResourceNotFoundException" },
        { Type: "User", message: `Function not found: ${fn}` });
    }
    events.get(name).push(JSON.parse(body));
    try {
      const out = await handler(JSON.parse(body));
      return answer(res, 200, {}, Buffer.isBuffer(out) ? out.toString() : JSON.stringify(out ?? null));
    } catch (e) {
      return answer(res, 200, { "X-Amz-Function-Error": "Unhandled" },
        { errorMessage: String(e?.message ?? e), errorType: e?.name ?? "Error", trace: [] });
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => answer(res, 500, {}, { message: String(e) }));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  const endpoint = `http://127.0.0.1:${server.address().port}`;
  return {
    endpoint,
    refused,
    // The flags that point userpool here.
    args: ["--lambda-endpoint", endpoint, "--lambda-access-key-id", accessKeyId, "--lambda-secret-access-key", secretAccessKey],
    expect(credentials) {
      Object.assign(keys, credentials);
    },
    // Hosts `fn` under a fresh name; answers its ARN.
    register(fn, region = "us-east-1") {
      const name = `fn-${randomBytes(5).toString("hex")}`;
      functions.set(name, fn);
      events.set(name, []);
      return `arn:aws:lambda:${region}:${ACCOUNT}:function:${name}`;
    },
    // The events the function of `arn` received, oldest first.
    received(arn) {
      return [...events.get(arn.split(":").pop())];
    },
    stop() {
      server.closeAllConnections();
      server.close();
    },
  };
}
