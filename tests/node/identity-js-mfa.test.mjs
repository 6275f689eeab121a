// amazon-cognito-identity-js against userpool, MFA as the library's README documents its
// callbacks: TOTP set-up by a signed-in user (associateSoftwareToken / verifySoftwareToken /
// setUserMfaPreference) and the totpRequired challenge answered with sendMFACode (a wrong code,
// then the right one); MFA_SETUP under MFA ON (mfaSetup, then associateSoftwareToken and
// verifySoftwareToken on the sign-in's Session, which complete the sign-in); and SMS_MFA
// (mfaRequired, the code read with `userpool codes` and `userpool outbox`, then sendMFACode).
// IDJS_LOG=FILE writes every request and response the library exchanged with the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import {
  CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolClientCommand, AdminCreateUserCommand,
  AdminSetUserPasswordCommand, SetUserPoolMfaConfigCommand, AdminSetUserMFAPreferenceCommand, AdminGetUserCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import { startServer, credentials, BIN } from "./server.mjs";

// Record what the library sends and what it is answered, by wrapping fetch before it loads (the
// library calls the global fetch through isomorphic-unfetch). Full bodies are kept so a failure
// can print the exchange.
const seen = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const res = await realFetch(url, init);
  const target = (init?.headers?.["X-Amz-Target"] ?? "").split(".").pop();
  const response = await res.clone().json().catch(() => ({}));
  let request = {};
  try { request = JSON.parse(init?.body ?? "{}"); } catch {}
  seen.push({ target, status: res.status, challenge: response.ChallengeName, error: response.__type, request, response });
  return res;
};
const { CognitoUserPool, CognitoUser, AuthenticationDetails } = await import("amazon-cognito-identity-js");

function exchanges(from = 0) {
  return JSON.stringify(seen.slice(from).map(({ target, status, request, response }) => ({ target, status, request, response })), null, 1);
}
const targets = (from) => seen.slice(from).map((s) => s.target);
const challenges = (from) => seen.slice(from).map((s) => s.challenge).filter(Boolean);
// Runs a test body; on failure prints the library's exchanges with the server during it.
async function traced(fn) {
  const mark = seen.length;
  try { await fn(); } catch (e) {
    console.error(`exchanges:\n${exchanges(mark)}`);
    throw e;
  }
}

// RFC 6238 TOTP: HMAC-SHA1, 6 digits, 30-second steps, over a base32 secret.
function base32Decode(s) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0, value = 0;
  const out = [];
  for (const c of s.replace(/=+$/, "").toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}
const stepNow = () => Math.floor(Date.now() / 30000);
// userpool accepts each step's code once, within one step either side of now: every code handed
// out for a secret is of a later step than the one before (the next step's code when the current
// one is spent), and if that step is not yet within reach, wait.
const lastStep = new Map();
async function freshCode(secret) {
  const step = Math.max(stepNow(), (lastStep.get(secret) ?? -Infinity) + 1);
  while (step > stepNow() + 1) await new Promise((ok) => setTimeout(ok, 250));
  lastStep.set(secret, step);
  return totp(secret, step);
}
function wrongCode(secret) {
  const near = new Set([-2, -1, 0, 1, 2, 3].map((d) => totp(secret, stepNow() + d)));
  for (let n = 123456; ; n++) if (!near.has(String(n))) return String(n);
}

// The library's callback maps, turned into promises: resolves with the name of the callback the
// library called and its arguments, whichever it is (onFailure included), so each step asserts it.
const CALLBACKS = ["onSuccess", "onFailure", "mfaRequired", "totpRequired", "mfaSetup", "selectMFAType",
  "customChallenge", "newPasswordRequired", "associateSecretCode"];
const outcome = (start) => new Promise((ok) => {
  const callbacks = Object.fromEntries(CALLBACKS.map((name) => [name, (...args) => ok({ via: name, args })]));
  start(callbacks);
});
function expectVia(r, name) {
  const detail = r.via === "onFailure" ? `${r.args[0]?.code}: ${r.args[0]?.message}` : JSON.stringify(r.args);
  assert.equal(r.via, name, `the library called ${r.via} (${detail}), expected ${name}`);
  return r.args;
}
// setUserMfaPreference and getUserData take node-style callbacks.
const nodeCall = (fn) => new Promise((ok, fail) => fn((err, result) => (err ? fail(err) : ok(result))));

let server, admin;
const PASSWORD = "Passw0rd!Example";

before(async () => {
  server = await startServer();
  admin = new CognitoIdentityProviderClient({ region: "us-east-1", endpoint: server.endpoint, credentials });
});
after(() => {
  if (process.env.IDJS_LOG) writeFileSync(process.env.IDJS_LOG, exchanges());
  server?.stop();
});

// A pool with the given MFA configuration, a client with the defaults (SRP, as the library
// signs in), and a user with a permanent password.
async function setUp({ name, mfa, poolExtra = {}, username, attributes = [] }) {
  const { UserPool } = await admin.send(new CreateUserPoolCommand({ PoolName: name, ...poolExtra }));
  const poolId = UserPool.Id;
  await admin.send(new SetUserPoolMfaConfigCommand({ UserPoolId: poolId, ...mfa }));
  const { UserPoolClient } = await admin.send(new CreateUserPoolClientCommand({ UserPoolId: poolId, ClientName: "spa" }));
  await admin.send(new AdminCreateUserCommand({ UserPoolId: poolId, Username: username, MessageAction: "SUPPRESS", UserAttributes: attributes }));
  await admin.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: username, Password: PASSWORD, Permanent: true }));
  // A storage per test, as a browser's localStorage: the library caches tokens there.
  const store = new Map();
  const Storage = {
    setItem: (k, v) => store.set(k, String(v)), getItem: (k) => (store.has(k) ? store.get(k) : null),
    removeItem: (k) => store.delete(k), clear: () => store.clear(),
  };
  const pool = new CognitoUserPool({ UserPoolId: poolId, ClientId: UserPoolClient.ClientId, endpoint: server.endpoint + "/", Storage });
  return {
    poolId, clientId: UserPoolClient.ClientId,
    // A fresh CognitoUser each time: as a new page load, it has no session of its own.
    user: () => new CognitoUser({ Username: username, Pool: pool, Storage }),
    details: (password = PASSWORD) => new AuthenticationDetails({ Username: username, Password: password }),
  };
}
const signInAs = (u, details) => outcome((cb) => u.authenticateUser(details, cb));

test("TOTP set-up by a signed-in user, then totpRequired: a wrong code, then the right one", () => traced(async () => {
  const USERNAME = "tara";
  const { poolId, user, details } = await setUp({
    name: "idjs-totp", username: USERNAME, attributes: [{ Name: "email", Value: "tara@example.com" }],
    mfa: { MfaConfiguration: "OPTIONAL", SoftwareTokenMfaConfiguration: { Enabled: true } },
  });

  // No MFA yet: the sign-in succeeds at once.
  const u = user();
  let mark = seen.length;
  const [first] = expectVia(await signInAs(u, details()), "onSuccess");
  assert.ok(first.isValid());
  assert.equal(first.getAccessToken().decodePayload().username, USERNAME);
  assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER"]);

  // associateSoftwareToken with the access token: the secret, in base32.
  mark = seen.length;
  const [secret] = expectVia(await outcome((cb) => u.associateSoftwareToken(cb)), "associateSecretCode");
  assert.match(secret, /^[A-Z2-7]+=*$/);
  assert.ok(seen[mark].request.AccessToken, "associated with the access token");
  assert.equal(seen[mark].request.Session, undefined);

  // A wrong code is refused; the right one verifies the token ({Status: "SUCCESS"}).
  const [refused] = expectVia(await outcome((cb) => u.verifySoftwareToken(wrongCode(secret), "phone", cb)), "onFailure");
  assert.equal(refused.code, "EnableSoftwareTokenMFAException");
  mark = seen.length;
  const [verified] = expectVia(await outcome(async (cb) => u.verifySoftwareToken(await freshCode(secret), "phone", cb)), "onSuccess");
  assert.equal(verified.Status, "SUCCESS");
  assert.equal(seen[mark].request.FriendlyDeviceName, "phone");

  // TOTP enabled and preferred (README use case 29); GetUser shows it.
  assert.equal(await nodeCall((cb) => u.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb)), "SUCCESS");
  const data = await nodeCall((cb) => u.getUserData(cb, { bypassCache: true }));
  assert.deepEqual(data.UserMFASettingList, ["SOFTWARE_TOKEN_MFA"]);
  assert.equal(data.PreferredMfaSetting, "SOFTWARE_TOKEN_MFA");

  // A new sign-in is asked for the TOTP code: totpRequired(challengeName, challengeParameters).
  const u2 = user();
  mark = seen.length;
  const [challengeName, challengeParameters] = expectVia(await signInAs(u2, details()), "totpRequired");
  assert.equal(challengeName, "SOFTWARE_TOKEN_MFA");
  assert.equal(challengeParameters.FRIENDLY_DEVICE_NAME, "phone");
  assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"]);

  // A wrong code: onFailure with CodeMismatchException; the Session stays usable.
  mark = seen.length;
  const [mismatch] = expectVia(await outcome((cb) => u2.sendMFACode(wrongCode(secret), cb, "SOFTWARE_TOKEN_MFA")), "onFailure");
  assert.equal(mismatch.code, "CodeMismatchException");
  assert.equal(seen[mark].request.ChallengeName, "SOFTWARE_TOKEN_MFA");

  // The right code (the next step's: this step's was spent on verifySoftwareToken): a session.
  mark = seen.length;
  const [session] = expectVia(await outcome(async (cb) => u2.sendMFACode(await freshCode(secret), cb, "SOFTWARE_TOKEN_MFA")), "onSuccess");
  const answer = seen[mark].request;
  assert.equal(answer.ChallengeName, "SOFTWARE_TOKEN_MFA");
  // The library sends the code as SMS_MFA_CODE too; the server ignores the extra key.
  assert.equal(answer.ChallengeResponses.SOFTWARE_TOKEN_MFA_CODE, answer.ChallengeResponses.SMS_MFA_CODE);
  assert.ok(session.isValid());
  assert.equal(session.getAccessToken().decodePayload().username, USERNAME);
  assert.equal(session.getIdToken().decodePayload()["cognito:username"], USERNAME);
  assert.ok(session.getRefreshToken().getToken());
  assert.equal(u2.getSignInUserSession(), session);
  const got = await admin.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: USERNAME }));
  assert.equal(got.PreferredMfaSetting, "SOFTWARE_TOKEN_MFA");
}));

test("MFA_SETUP under MFA ON: mfaSetup, associateSoftwareToken and verifySoftwareToken on the Session complete the sign-in", () => traced(async () => {
  const USERNAME = "otto";
  const { poolId, user, details } = await setUp({
    name: "idjs-mfa-setup", username: USERNAME, attributes: [{ Name: "email", Value: "otto@example.com" }],
    mfa: { MfaConfiguration: "ON", SoftwareTokenMfaConfiguration: { Enabled: true } },
  });

  // A user with no factor in a pool that requires one: mfaSetup(challengeName, challengeParameters).
  const u = user();
  let mark = seen.length;
  const [challengeName, challengeParameters] = expectVia(await signInAs(u, details()), "mfaSetup");
  assert.equal(challengeName, "MFA_SETUP");
  assert.deepEqual(JSON.parse(challengeParameters.MFAS_CAN_SETUP), ["SOFTWARE_TOKEN_MFA"]);
  const setupSession = seen.at(-1).response.Session;
  assert.ok(setupSession);

  // associateSoftwareToken with no signed-in session: it sends the sign-in's Session and keeps
  // the new one it is answered.
  mark = seen.length;
  const [secret] = expectVia(await outcome((cb) => u.associateSoftwareToken(cb)), "associateSecretCode");
  assert.match(secret, /^[A-Z2-7]+=*$/);
  const associate = seen[mark];
  assert.equal(associate.target, "AssociateSoftwareToken");
  assert.equal(associate.request.Session, setupSession);
  assert.equal(associate.request.AccessToken, undefined);
  assert.ok(associate.response.Session);

  // verifySoftwareToken on that Session, then the library answers MFA_SETUP with the Session
  // VerifySoftwareToken returned: onSuccess with the tokens.
  mark = seen.length;
  const [session] = expectVia(await outcome(async (cb) => u.verifySoftwareToken(await freshCode(secret), "name", cb)), "onSuccess");
  assert.deepEqual(targets(mark), ["VerifySoftwareToken", "RespondToAuthChallenge"]);
  const [verify, respond] = seen.slice(mark);
  assert.equal(verify.request.Session, associate.response.Session);
  assert.equal(verify.request.FriendlyDeviceName, "name");
  assert.equal(verify.response.Status, "SUCCESS");
  assert.ok(verify.response.Session);
  assert.equal(respond.request.ChallengeName, "MFA_SETUP");
  assert.equal(respond.request.Session, verify.response.Session);
  assert.ok(respond.response.AuthenticationResult);
  assert.ok(session.isValid());
  assert.equal(session.getAccessToken().decodePayload().username, USERNAME);
  assert.ok(session.getRefreshToken().getToken());

  // The token set up in MFA_SETUP is the user's factor now: listed, and the next sign-in is
  // asked for it (totpRequired), answered with the next step's code.
  const got = await admin.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: USERNAME }));
  assert.ok(got.UserMFASettingList?.includes("SOFTWARE_TOKEN_MFA"), JSON.stringify(got.UserMFASettingList));
  const u2 = user();
  const [next] = expectVia(await signInAs(u2, details()), "totpRequired");
  assert.equal(next, "SOFTWARE_TOKEN_MFA");
  const [again] = expectVia(await outcome(async (cb) => u2.sendMFACode(await freshCode(secret), cb, "SOFTWARE_TOKEN_MFA")), "onSuccess");
  assert.ok(again.isValid());
}));

test("SMS_MFA: mfaRequired, the code from `userpool codes` and `userpool outbox`, sendMFACode", () => traced(async () => {
  const USERNAME = "sam", PHONE = "+15555550100";
  const { poolId, user, details } = await setUp({
    name: "idjs-sms", username: USERNAME, attributes: [{ Name: "phone_number", Value: PHONE }],
    poolExtra: { SmsConfiguration: { SnsCallerArn: "arn:aws:iam::000000000000:role/sns", ExternalId: "x" } },
    mfa: { MfaConfiguration: "OPTIONAL", SmsMfaConfiguration: { SmsConfiguration: { SnsCallerArn: "arn:aws:iam::000000000000:role/sns" } } },
  });
  await admin.send(new AdminSetUserMFAPreferenceCommand({ UserPoolId: poolId, Username: USERNAME,
    SMSMfaSettings: { Enabled: true, PreferredMfa: true } }));

  // mfaRequired: the README names its argument codeDeliveryDetails; the library passes
  // (challengeName, challengeParameters), the parameters holding the delivery details.
  const u = user();
  const mark = seen.length;
  const [challengeName, delivery] = expectVia(await signInAs(u, details()), "mfaRequired");
  assert.equal(challengeName, "SMS_MFA");
  assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER", "SMS_MFA"]);
  assert.equal(delivery.CODE_DELIVERY_DELIVERY_MEDIUM, "SMS");
  assert.match(delivery.CODE_DELIVERY_DESTINATION, /^\+\*+0100$/);

  // The code, from the documented commands: `codes` (purpose mfa:SMS_MFA) and `outbox`
  // (kind mfa:SMS_MFA, the pool's default SMS MFA message).
  const codes = server.codes(poolId, USERNAME).filter((c) => c.purpose === "mfa:SMS_MFA");
  assert.equal(codes.length, 1, JSON.stringify(codes));
  const code = codes[0].code;
  assert.match(code, /^\d{6}$/);
  const outbox = JSON.parse(execFileSync(BIN, ["outbox", "--data", server.data, poolId, USERNAME], { encoding: "utf8" }));
  const sms = outbox.filter((m) => m.kind === "mfa:SMS_MFA");
  assert.equal(sms.length, 1, JSON.stringify(outbox));
  assert.equal(sms[0].channel, "SMS");
  assert.equal(sms[0].destination, PHONE);
  assert.equal(sms[0].body, `Your authentication code is ${code}. `);

  // A wrong code: CodeMismatchException, the Session stays usable; then the right code.
  const wrong = code === "000000" ? "000001" : "000000";
  const [mismatch] = expectVia(await outcome((cb) => u.sendMFACode(wrong, cb)), "onFailure");
  assert.equal(mismatch.code, "CodeMismatchException");
  const at = seen.length;
  const [session] = expectVia(await outcome((cb) => u.sendMFACode(code, cb)), "onSuccess");
  assert.equal(seen[at].request.ChallengeName, "SMS_MFA");
  assert.equal(seen[at].request.ChallengeResponses.SMS_MFA_CODE, code);
  assert.ok(session.isValid());
  assert.equal(session.getAccessToken().decodePayload().username, USERNAME);
  assert.equal(session.getIdToken().decodePayload().phone_number, PHONE);
  // The code is spent.
  assert.deepEqual(server.codes(poolId, USERNAME).filter((c) => c.purpose === "mfa:SMS_MFA"), []);
}));
