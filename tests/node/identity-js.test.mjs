// amazon-cognito-identity-js (what Amplify <= v5 and many apps use) against userpool: SRP
// sign-in, device confirmation and remembering, listDevices, getDevice, a second sign-in
// through the device challenge, forgetDevice, and the retry path after a device is forgotten
// server-side.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolClientCommand, AdminCreateUserCommand,
  AdminSetUserPasswordCommand, AdminGetDeviceCommand, AdminForgetDeviceCommand, AdminListDevicesCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import { startServer, credentials } from "./server.mjs";

// Record what the library sends and what it is asked, by wrapping fetch before it loads.
const seen = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init) => {
  const res = await realFetch(url, init);
  const target = (init?.headers?.["X-Amz-Target"] ?? "").split(".").pop();
  const body = await res.clone().json().catch(() => ({}));
  seen.push({ target, challenge: body.ChallengeName, error: body.__type, request: JSON.parse(init?.body ?? "{}") });
  return res;
};
const { CognitoUserPool, CognitoUser, AuthenticationDetails } = await import("amazon-cognito-identity-js");

let server, admin, poolId, clientId;
const PASSWORD = "Passw0rd!Example";

// A shared storage, as localStorage is in a browser: the library keeps device keys there.
const store = new Map();
const Storage = {
  setItem: (k, v) => store.set(k, String(v)), getItem: (k) => (store.has(k) ? store.get(k) : null),
  removeItem: (k) => store.delete(k), clear: () => store.clear(),
};

before(async () => {
  server = await startServer();
  admin = new CognitoIdentityProviderClient({ region: "us-east-1", endpoint: server.endpoint, credentials });
  const { UserPool } = await admin.send(new CreateUserPoolCommand({
    PoolName: "identity-js",
    DeviceConfiguration: { ChallengeRequiredOnNewDevice: true, DeviceOnlyRememberedOnUserPrompt: true },
  }));
  poolId = UserPool.Id;
  const { UserPoolClient } = await admin.send(new CreateUserPoolClientCommand({ UserPoolId: poolId, ClientName: "spa" }));
  clientId = UserPoolClient.ClientId;
  await admin.send(new AdminCreateUserCommand({ UserPoolId: poolId, Username: "alice", MessageAction: "SUPPRESS",
    UserAttributes: [{ Name: "email", Value: "alice@example.com" }] }));
  await admin.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: "alice", Password: PASSWORD, Permanent: true }));
});
after(() => server.stop());

function pool() {
  return new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint: server.endpoint + "/", Storage });
}

function user() {
  return new CognitoUser({ Username: "alice", Pool: pool(), Storage });
}

function signIn(u, password = PASSWORD) {
  return new Promise((ok, fail) => {
    u.authenticateUser(new AuthenticationDetails({ Username: "alice", Password: password }), {
      onSuccess: (session, userConfirmationNecessary) => ok({ session, userConfirmationNecessary }),
      onFailure: fail,
    });
  });
}

const call = (u, method, ...args) => new Promise((ok, fail) => {
  u[method](...args, { onSuccess: ok, onFailure: fail });
});

test("SRP sign-in, remember, list, get, device challenge, forget, retry", async () => {
  await assert.rejects(signIn(user(), "WrongPassw0rd!"), (e) => e.code === "NotAuthorizedException");

  const u = user();
  const first = await signIn(u);
  assert.equal(first.userConfirmationNecessary, true);  // the library called ConfirmDevice itself
  assert.ok(seen.some((s) => s.target === "ConfirmDevice"));
  const deviceKey = first.session.getAccessToken().decodePayload().device_key;
  assert.match(deviceKey, /^us-east-1_[0-9a-f-]{36}$/);

  await call(u, "setDeviceStatusRemembered");
  const listed = await new Promise((ok, fail) => u.listDevices(10, null, { onSuccess: ok, onFailure: fail }));
  assert.deepEqual(listed.Devices.map((d) => d.DeviceKey), [deviceKey]);
  const got = await call(u, "getDevice");
  assert.equal(got.Device.DeviceKey, deviceKey);

  // A second sign-in goes through the device challenge.
  seen.length = 0;
  const second = await signIn(user());
  assert.deepEqual(seen.map((s) => s.challenge).filter(Boolean), ["PASSWORD_VERIFIER", "DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"]);
  assert.equal(second.session.getAccessToken().decodePayload().device_key, deviceKey);
  const d = await admin.send(new AdminGetDeviceCommand({ UserPoolId: poolId, Username: "alice", DeviceKey: deviceKey }));
  assert.equal(d.Device.DeviceAttributes.find((a) => a.Name === "dev:device_remembered_status").Value, "remembered");

  // Forgotten on the server while the app still remembers it: "Device does not exist.",
  // and the library retries without the device and gets a new one.
  await admin.send(new AdminForgetDeviceCommand({ UserPoolId: poolId, Username: "alice", DeviceKey: deviceKey }));
  seen.length = 0;
  const third = await signIn(user());
  const notFound = seen.find((s) => s.error === "ResourceNotFoundException");
  assert.ok(notFound, "the server refused the forgotten device");
  const newKey = third.session.getAccessToken().decodePayload().device_key;
  assert.notEqual(newKey, deviceKey);

  // forgetDevice through the library.
  const u4 = user();
  await signIn(u4);
  await call(u4, "setDeviceStatusRemembered");
  await call(u4, "forgetDevice");
  const left = await admin.send(new AdminListDevicesCommand({ UserPoolId: poolId, Username: "alice" }));
  assert.ok(!left.Devices.some((x) => x.DeviceKey === newKey));
  // And a sign-in after that works and is issued a fresh device.
  const fifth = await signIn(user());
  assert.ok(fifth.session.isValid());
});
