// Amplify v6 (aws-amplify, through its public API only) against userpool: SRP sign-in with the
// new device that Amplify confirms by itself, TOTP set-up (setUpTOTP / verifyTOTPSetup /
// updateMFAPreference / fetchMFAPreference), the TOTP challenge (a wrong code, then the right
// one), rememberDevice / fetchDevices, a later sign-in that the remembered device answers instead
// of the TOTP code (DEVICE_SRP_AUTH), a forced refresh through GetTokensFromRefreshToken with the
// DeviceKey, and a sign-in from a storage that knows no device, which is asked for TOTP again.
// AMPLIFY_LOG=FILE writes every request and response Amplify exchanged with the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import {
  CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolClientCommand, AdminCreateUserCommand,
  AdminSetUserPasswordCommand, SetUserPoolMfaConfigCommand, AdminListDevicesCommand, AdminGetDeviceCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import { startServer, credentials, recordFetch } from "./server.mjs";

// Record what Amplify sends and what it is answered, by wrapping fetch before it loads. The full
// request and response bodies are kept so a failure can print the exchange.
const seen = recordFetch();
// Node 20 has no global navigator (Node 21 added it); Amplify reads navigator.userAgent for the
// DeviceName it sends with ConfirmDevice, and without it silently skips confirming the device.
globalThis.navigator ??= { userAgent: `node/${process.versions.node}` };
const { Amplify } = await import("aws-amplify");
const {
  signIn, signOut, confirmSignIn, setUpTOTP, verifyTOTPSetup, updateMFAPreference, fetchMFAPreference,
  rememberDevice, fetchDevices, fetchAuthSession, getCurrentUser,
} = await import("aws-amplify/auth");
const { cognitoUserPoolsTokenProvider } = await import("aws-amplify/auth/cognito");

// On failure, show Amplify's exchanges with the server since `from`.
function exchanges(from = 0) {
  return JSON.stringify(seen.slice(from).map(({ target, status, request, response }) => ({ target, status, request, response })), null, 1);
}
const challenges = (from) => seen.slice(from).map((s) => s.challenge).filter(Boolean);
const targets = (from) => seen.slice(from).map((s) => s.target);

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
// userpool accepts each code once, within one step either side of now: every code handed out
// here is of a later step than the one before, and if that step is not yet within reach, wait.
let lastStep = -Infinity;
async function freshCode(secret) {
  const step = Math.max(stepNow(), lastStep + 1);
  while (step > stepNow() + 1) await new Promise((ok) => setTimeout(ok, 250));
  lastStep = step;
  return totp(secret, step);
}
function wrongCode(secret) {
  const near = new Set([-2, -1, 0, 1, 2, 3].map((d) => totp(secret, stepNow() + d)));
  for (let n = 123456; ; n++) if (!near.has(String(n))) return String(n);
}
// Amplify sends the device it keeps with its answer to PASSWORD_VERIFIER (not in InitiateAuth).
const verifierAnswer = (from) => seen.slice(from).find((s) => s.request.ChallengeName === "PASSWORD_VERIFIER");
async function rememberedStatus(key) {
  const got = await admin.send(new AdminGetDeviceCommand({ UserPoolId: poolId, Username: USERNAME, DeviceKey: key }));
  return got.Device.DeviceAttributes.find((a) => a.Name === "dev:device_remembered_status")?.Value;
}
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

let server, admin, poolId, clientId, secret, deviceKey;
const USERNAME = "maya", PASSWORD = "Passw0rd!Example";

before(async () => {
  server = await startServer();
  admin = new CognitoIdentityProviderClient({ region: "us-east-1", endpoint: server.endpoint, credentials });
  const { UserPool } = await admin.send(new CreateUserPoolCommand({
    PoolName: "amplify-mfa",
    DeviceConfiguration: { ChallengeRequiredOnNewDevice: true, DeviceOnlyRememberedOnUserPrompt: true },
  }));
  poolId = UserPool.Id;
  await admin.send(new SetUserPoolMfaConfigCommand({
    UserPoolId: poolId, MfaConfiguration: "OPTIONAL", SoftwareTokenMfaConfiguration: { Enabled: true },
  }));
  const { UserPoolClient } = await admin.send(new CreateUserPoolClientCommand({
    UserPoolId: poolId, ClientName: "amplify", ExplicitAuthFlows: ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
  }));
  clientId = UserPoolClient.ClientId;
  await admin.send(new AdminCreateUserCommand({ UserPoolId: poolId, Username: USERNAME, MessageAction: "SUPPRESS",
    UserAttributes: [{ Name: "email", Value: "maya@example.com" }] }));
  await admin.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: USERNAME, Password: PASSWORD, Permanent: true }));
  Amplify.configure({ Auth: { Cognito: { userPoolId: poolId, userPoolClientId: clientId, userPoolEndpoint: server.endpoint } } });
});
after(() => {
  if (process.env.AMPLIFY_LOG) writeFileSync(process.env.AMPLIFY_LOG, exchanges());
  server?.stop();
});

test("TOTP set-up, TOTP challenge, remembered device skips it, refresh with the device key", async () => {
  // The default key-value storage in Node (no window.localStorage): Amplify falls back to memory.
  let mark = 0;
  const step = async (name, fn) => {
    mark = seen.length;
    try { return await fn(); } catch (e) {
      console.error(`exchanges during "${name}":\n${exchanges(mark)}`);
      throw e;
    }
  };

  // 2. First sign-in: no MFA yet. The pool tracks devices, so the tokens already carry a new
  // device, which Amplify confirms by itself (ConfirmDevice); the pool remembers devices only on
  // the user's prompt, so it is tracked but not remembered. Then TOTP is set up and preferred.
  await step("first sign-in", async () => {
    const r = await signIn({ username: USERNAME, password: PASSWORD });
    assert.deepEqual(r, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
    assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER"]);
    assert.equal(verifierAnswer(mark).request.ChallengeResponses.DEVICE_KEY, undefined);
    const done = seen.slice(mark).find((s) => s.response.AuthenticationResult);
    deviceKey = done.response.AuthenticationResult.NewDeviceMetadata?.DeviceKey;
    assert.match(deviceKey ?? "", /^us-east-1_[0-9a-f-]{36}$/, "the tokens carry a new device");
    const confirm = seen.slice(mark).find((s) => s.target === "ConfirmDevice");
    assert.ok(confirm, "Amplify confirmed the new device");
    assert.equal(confirm.status, 200);
    assert.equal(confirm.request.DeviceKey, deviceKey);
    assert.equal(confirm.response.UserConfirmationNecessary, true);
    assert.equal(await rememberedStatus(deviceKey), "not_remembered");
    assert.equal((await getCurrentUser()).username, USERNAME);
    assert.equal((await fetchAuthSession()).tokens.accessToken.payload.device_key, deviceKey);
  });
  await step("TOTP set-up", async () => {
    const setup = await setUpTOTP();
    secret = setup.sharedSecret;
    assert.match(secret, /^[A-Z2-7]+=*$/);
    const uri = setup.getSetupUri("userpool-tests", USERNAME);
    assert.equal(uri.protocol, "otpauth:");
    assert.equal(uri.searchParams.get("secret"), secret);
    await verifyTOTPSetup({ code: await freshCode(secret) });
    await updateMFAPreference({ totp: "PREFERRED" });
    assert.deepEqual(await fetchMFAPreference(), { enabled: ["TOTP"], preferred: "TOTP" });
  });
  await step("sign-out", () => signOut());
  await assert.rejects(getCurrentUser(), (e) => e.name === "UserUnAuthenticatedException");

  // 3. The TOTP challenge: Amplify presents the device it keeps, but a device that is not
  // remembered does not stand in for the second factor. A wrong code is refused, the right one
  // signs in, on the same device (no new one). Then the user asks to remember it.
  await step("sign-in asking for TOTP", async () => {
    const r = await signIn({ username: USERNAME, password: PASSWORD });
    assert.equal(r.isSignedIn, false);
    assert.equal(r.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_TOTP_CODE");
    assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"]);
    assert.equal(verifierAnswer(mark).request.ChallengeResponses.DEVICE_KEY, deviceKey);
  });
  await step("wrong TOTP code", () => assert.rejects(confirmSignIn({ challengeResponse: wrongCode(secret) }),
    (e) => e.name === "CodeMismatchException"));
  await step("right TOTP code", async () => {
    const r = await confirmSignIn({ challengeResponse: await freshCode(secret) });
    assert.deepEqual(r, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
    const done = seen.slice(mark).find((s) => s.response.AuthenticationResult);
    assert.equal(done.request.ChallengeName, "SOFTWARE_TOKEN_MFA");
    assert.equal(done.response.AuthenticationResult.NewDeviceMetadata, undefined, "no new device");
    assert.ok(!targets(mark).includes("ConfirmDevice"));
    assert.equal(claims(done.response.AuthenticationResult.AccessToken).device_key, deviceKey);
    assert.equal((await fetchAuthSession()).tokens.accessToken.payload.device_key, deviceKey);
  });
  await step("remember the device", async () => {
    // As in Cognito, ListDevices lists remembered devices only: none before rememberDevice.
    assert.deepEqual(await fetchDevices(), []);
    await rememberDevice();
    const devices = await fetchDevices();
    assert.deepEqual(devices.map((d) => d.id), [deviceKey]);
    const listed = await admin.send(new AdminListDevicesCommand({ UserPoolId: poolId, Username: USERNAME }));
    assert.deepEqual(listed.Devices.map((d) => d.DeviceKey), [deviceKey]);
    assert.equal(await rememberedStatus(deviceKey), "remembered");
  });

  // 4. A local sign-out keeps the device key: the next sign-in is answered by the remembered
  // device (DEVICE_SRP_AUTH) and asks for no TOTP code.
  await step("local sign-out", () => signOut());
  await step("sign-in on the remembered device", async () => {
    const r = await signIn({ username: USERNAME, password: PASSWORD });
    assert.deepEqual(r, { isSignedIn: true, nextStep: { signInStep: "DONE" } }, "no MFA prompt");
    assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER", "DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"]);
    assert.ok(!challenges(mark).includes("SOFTWARE_TOKEN_MFA"));
    assert.equal(verifierAnswer(mark).request.ChallengeResponses.DEVICE_KEY, deviceKey);
    assert.ok(!targets(mark).includes("ConfirmDevice"), "no new device");
    assert.equal((await fetchAuthSession()).tokens.accessToken.payload.device_key, deviceKey);
  });

  // 5. A forced refresh: GetTokensFromRefreshToken with the DeviceKey, new tokens, same device.
  await step("forced refresh", async () => {
    const before = (await fetchAuthSession()).tokens;
    assert.equal(before.accessToken.payload.device_key, deviceKey);
    mark = seen.length;
    const after = (await fetchAuthSession({ forceRefresh: true })).tokens;
    const refresh = seen.slice(mark).find((s) => s.target === "GetTokensFromRefreshToken");
    assert.ok(refresh, `Amplify refreshed through GetTokensFromRefreshToken: ${targets(mark)}`);
    assert.equal(refresh.status, 200);
    assert.equal(refresh.request.DeviceKey, deviceKey);
    assert.notEqual(after.accessToken.toString(), before.accessToken.toString());
    assert.equal(after.accessToken.payload.device_key, deviceKey);
    assert.equal(after.accessToken.payload.username, USERNAME);
    assert.notEqual(after.accessToken.payload.jti, before.accessToken.payload.jti);
    assert.equal(after.accessToken.payload.origin_jti, before.accessToken.payload.origin_jti, "the same sign-in");
    assert.equal(claims(refresh.response.AuthenticationResult.AccessToken).device_key, deviceKey);
  });
  await step("sign-out", () => signOut());
});

test("a storage that knows no device is asked for the TOTP code again", async () => {
  assert.ok(secret && deviceKey, "the first test set up TOTP and a remembered device");
  // A fresh in-memory storage: as a new browser, no tokens and no device keys.
  const store = new Map();
  cognitoUserPoolsTokenProvider.setKeyValueStorage({
    setItem: async (k, v) => { store.set(k, v); }, getItem: async (k) => store.get(k) ?? null,
    removeItem: async (k) => { store.delete(k); }, clear: async () => { store.clear(); },
  });
  let mark = seen.length;
  try {
    const r = await signIn({ username: USERNAME, password: PASSWORD });
    assert.equal(r.isSignedIn, false);
    assert.equal(r.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_TOTP_CODE");
    assert.equal(verifierAnswer(mark).request.ChallengeResponses.DEVICE_KEY, undefined);
    assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER", "SOFTWARE_TOKEN_MFA"]);
    mark = seen.length;
    const confirmed = await confirmSignIn({ challengeResponse: await freshCode(secret) });
    assert.deepEqual(confirmed, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
    const { tokens } = await fetchAuthSession();
    const newKey = tokens.accessToken.payload.device_key;
    assert.match(newKey ?? "", /^us-east-1_[0-9a-f-]{36}$/);
    assert.notEqual(newKey, deviceKey, "a second device");
    const done = seen.slice(mark).find((s) => s.response.AuthenticationResult);
    assert.equal(done.response.AuthenticationResult.NewDeviceMetadata?.DeviceKey, newKey);
    assert.equal(seen.slice(mark).find((s) => s.target === "ConfirmDevice")?.request.DeviceKey, newKey);
    // The new device is tracked but not remembered; as in Cognito, only remembered devices are listed.
    assert.equal(await rememberedStatus(newKey), "not_remembered");
    assert.equal(await rememberedStatus(deviceKey), "remembered");
    const listed = await admin.send(new AdminListDevicesCommand({ UserPoolId: poolId, Username: USERNAME }));
    assert.deepEqual(listed.Devices.map((d) => d.DeviceKey), [deviceKey]);
    await signOut();
  } catch (e) {
    console.error(`exchanges:\n${exchanges(mark)}`);
    throw e;
  }
});
