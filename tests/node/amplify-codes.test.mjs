// Amplify v6 (aws-amplify, through its public API only) against userpool, with the MFA codes a
// user would receive by SMS or email, read from userpool's outbox (`userpool outbox`): SMS_MFA
// (CONFIRM_SIGN_IN_WITH_SMS_CODE, a wrong code, then the right one), EMAIL_OTP
// (CONFIRM_SIGN_IN_WITH_EMAIL_CODE, the pool's email MFA subject and message), and
// SELECT_MFA_TYPE when both are enabled and none is preferred
// (CONTINUE_SIGN_IN_WITH_MFA_SELECTION, EMAIL chosen, then its code).
// AMPLIFY_LOG=FILE writes every request and response Amplify exchanged with the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import {
  CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolClientCommand, AdminCreateUserCommand,
  AdminSetUserPasswordCommand, SetUserPoolMfaConfigCommand, AdminSetUserMFAPreferenceCommand, AdminGetUserCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import { startServer, credentials, BIN, recordFetch } from "./server.mjs";

// Record what Amplify sends and what it is answered, by wrapping fetch before it loads. The full
// request and response bodies are kept so a failure can print the exchange.
const seen = recordFetch();
// Node 20 has no global navigator (Node 21 added it); Amplify reads navigator.userAgent.
globalThis.navigator ??= { userAgent: `node/${process.versions.node}` };
const { Amplify } = await import("aws-amplify");
const { signIn, signOut, confirmSignIn, fetchAuthSession, getCurrentUser } = await import("aws-amplify/auth");
const { cognitoUserPoolsTokenProvider } = await import("aws-amplify/auth/cognito");

function exchanges(from = 0) {
  return JSON.stringify(seen.slice(from).map(({ target, status, request, response }) => ({ target, status, request, response })), null, 1);
}
const challenges = (from) => seen.slice(from).map((s) => s.challenge).filter(Boolean);
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

let server, admin;
const PASSWORD = "Passw0rd!Example";
const SNS_ROLE = "arn:aws:iam::000000000000:role/sns";

before(async () => {
  server = await startServer();
  admin = new CognitoIdentityProviderClient({ region: "us-east-1", endpoint: server.endpoint, credentials });
});
after(() => {
  if (process.env.AMPLIFY_LOG) writeFileSync(process.env.AMPLIFY_LOG, exchanges());
  server?.stop();
});

// A pool with the given settings and MFA configuration, an SRP app client, a user with a
// permanent password and the given MFA preference; Amplify configured for that pool, with a
// fresh in-memory token storage (as a new browser).
async function setUp({ name, poolExtra, mfa, username, attributes, preference }) {
  const { UserPool } = await admin.send(new CreateUserPoolCommand({ PoolName: name, ...poolExtra }));
  const poolId = UserPool.Id;
  await admin.send(new SetUserPoolMfaConfigCommand({ UserPoolId: poolId, ...mfa }));
  const { UserPoolClient } = await admin.send(new CreateUserPoolClientCommand({
    UserPoolId: poolId, ClientName: "amplify", ExplicitAuthFlows: ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
  }));
  await admin.send(new AdminCreateUserCommand({ UserPoolId: poolId, Username: username, MessageAction: "SUPPRESS", UserAttributes: attributes }));
  await admin.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: username, Password: PASSWORD, Permanent: true }));
  await admin.send(new AdminSetUserMFAPreferenceCommand({ UserPoolId: poolId, Username: username, ...preference }));
  Amplify.configure({ Auth: { Cognito: { userPoolId: poolId, userPoolClientId: UserPoolClient.ClientId, userPoolEndpoint: server.endpoint } } });
  const store = new Map();
  cognitoUserPoolsTokenProvider.setKeyValueStorage({
    setItem: async (k, v) => { store.set(k, v); }, getItem: async (k) => store.get(k) ?? null,
    removeItem: async (k) => { store.delete(k); }, clear: async () => { store.clear(); },
  });
  return { poolId };
}

// The user's messages in the outbox, oldest first, as `userpool outbox` prints them.
const outbox = (poolId, username) =>
  JSON.parse(execFileSync(BIN, ["outbox", "--data", server.data, poolId, username], { encoding: "utf8" }));
// The newest outbox message of this kind, and the six-digit code in its body.
function newestMessage(poolId, username, kind, bodyPattern) {
  const all = outbox(poolId, username);
  const msg = all.filter((m) => m.kind === kind).at(-1);
  assert.ok(msg, `an outbox message of kind ${kind}: ${JSON.stringify(all)}`);
  const m = msg.body.match(bodyPattern);
  assert.ok(m, `the body ${JSON.stringify(msg.body)} matches ${bodyPattern}`);
  return { msg, code: m[1], all };
}
const otherCode = (code) => (code === "000000" ? "000001" : "000000");

// Runs a test step; on failure prints Amplify's exchanges with the server during it.
function stepper() {
  const s = { mark: 0 };
  s.run = async (name, fn) => {
    s.mark = seen.length;
    try { return await fn(); } catch (e) {
      console.error(`exchanges during "${name}":\n${exchanges(s.mark)}`);
      throw e;
    }
  };
  return s;
}

test("SMS MFA: CONFIRM_SIGN_IN_WITH_SMS_CODE, the code from the outbox, a wrong code, then the right one", async () => {
  const USERNAME = "sasha", PHONE = "+15555550100";
  const { poolId } = await setUp({
    name: "amplify-sms", username: USERNAME, attributes: [{ Name: "phone_number", Value: PHONE }],
    poolExtra: { SmsConfiguration: { SnsCallerArn: SNS_ROLE, ExternalId: "x" } },
    mfa: {
      MfaConfiguration: "OPTIONAL",
      SmsMfaConfiguration: { SmsAuthenticationMessage: "Your code is {####}", SmsConfiguration: { SnsCallerArn: SNS_ROLE } },
    },
    preference: { SMSMfaSettings: { Enabled: true, PreferredMfa: true } },
  });
  const s = stepper();
  let code;

  await s.run("sign-in asking for the SMS code", async () => {
    const r = await signIn({ username: USERNAME, password: PASSWORD });
    assert.equal(r.isSignedIn, false);
    assert.equal(r.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_SMS_CODE");
    assert.equal(r.nextStep.codeDeliveryDetails.deliveryMedium, "SMS");
    assert.match(r.nextStep.codeDeliveryDetails.destination, /^\+\*+0100$/);
    assert.deepEqual(challenges(s.mark), ["PASSWORD_VERIFIER", "SMS_MFA"]);
  });

  await s.run("the SMS in the outbox", async () => {
    const { msg, code: c } = newestMessage(poolId, USERNAME, "mfa:SMS_MFA", /^Your code is (\d{6})$/);
    code = c;
    assert.equal(msg.channel, "SMS");
    assert.equal(msg.destination, PHONE);
    assert.equal(msg.username, USERNAME);
  });

  await s.run("a wrong SMS code", async () => {
    await assert.rejects(confirmSignIn({ challengeResponse: otherCode(code) }), (e) => {
      assert.equal(e.name, "CodeMismatchException", `${e.name}: ${e.message}`);
      return true;
    });
    const answer = seen.slice(s.mark).find((x) => x.target === "RespondToAuthChallenge");
    assert.equal(answer.request.ChallengeName, "SMS_MFA");
    assert.equal(answer.request.ChallengeResponses.SMS_MFA_CODE, otherCode(code));
    assert.equal(answer.status, 400);
    assert.equal(answer.error, "CodeMismatchException");
  });

  await s.run("the right SMS code", async () => {
    const r = await confirmSignIn({ challengeResponse: code });
    assert.deepEqual(r, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
    const done = seen.slice(s.mark).find((x) => x.response.AuthenticationResult);
    assert.equal(done.request.ChallengeName, "SMS_MFA");
    assert.equal(done.request.ChallengeResponses.SMS_MFA_CODE, code);
    const { tokens } = await fetchAuthSession();
    assert.ok(tokens?.accessToken && tokens.idToken, "fetchAuthSession has tokens");
    assert.equal(tokens.accessToken.payload.username, USERNAME);
    assert.equal(tokens.accessToken.payload.client_id, claims(done.response.AuthenticationResult.AccessToken).client_id);
    assert.equal(tokens.idToken.payload.phone_number, PHONE);
    assert.equal((await getCurrentUser()).username, USERNAME);
    // One SMS was sent for the sign-in; the code is spent.
    assert.equal(outbox(poolId, USERNAME).filter((m) => m.kind === "mfa:SMS_MFA").length, 1);
    assert.deepEqual(server.codes(poolId, USERNAME).filter((c) => c.purpose === "mfa:SMS_MFA"), []);
  });
  await s.run("sign-out", () => signOut());
});

const EMAIL_POOL = {
  EmailConfiguration: {
    EmailSendingAccount: "DEVELOPER", SourceArn: "arn:aws:ses:us-east-1:000000000000:identity/example.com",
    From: "no-reply@example.com",
  },
};
const EMAIL_MFA = { Message: "Sign-in code {####}", Subject: "Your sign-in code" };

test("email MFA: CONFIRM_SIGN_IN_WITH_EMAIL_CODE, the code from the outbox", async () => {
  const USERNAME = "emil", EMAIL = "emil@example.com";
  const { poolId } = await setUp({
    name: "amplify-email", username: USERNAME, attributes: [{ Name: "email", Value: EMAIL }],
    poolExtra: EMAIL_POOL,
    mfa: { MfaConfiguration: "OPTIONAL", EmailMfaConfiguration: EMAIL_MFA },
    preference: { EmailMfaSettings: { Enabled: true, PreferredMfa: true } },
  });
  const s = stepper();
  let code;

  await s.run("sign-in asking for the email code", async () => {
    const r = await signIn({ username: USERNAME, password: PASSWORD });
    assert.equal(r.isSignedIn, false);
    assert.equal(r.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_EMAIL_CODE");
    assert.equal(r.nextStep.codeDeliveryDetails.deliveryMedium, "EMAIL");
    assert.equal(r.nextStep.codeDeliveryDetails.destination, "e***@e***");
    assert.deepEqual(challenges(s.mark), ["PASSWORD_VERIFIER", "EMAIL_OTP"]);
  });

  await s.run("the email in the outbox", async () => {
    const { msg, code: c } = newestMessage(poolId, USERNAME, "mfa:EMAIL_OTP", /^Sign-in code (\d{6})$/);
    code = c;
    assert.equal(msg.channel, "EMAIL");
    assert.equal(msg.destination, EMAIL);
    assert.equal(msg.subject, "Your sign-in code");
  });

  await s.run("the email code", async () => {
    const r = await confirmSignIn({ challengeResponse: code });
    assert.deepEqual(r, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
    const done = seen.slice(s.mark).find((x) => x.response.AuthenticationResult);
    assert.equal(done.request.ChallengeName, "EMAIL_OTP");
    assert.equal(done.request.ChallengeResponses.EMAIL_OTP_CODE, code);
    const { tokens } = await fetchAuthSession();
    assert.ok(tokens?.accessToken && tokens.idToken, "fetchAuthSession has tokens");
    assert.equal(tokens.accessToken.payload.username, USERNAME);
    assert.equal(tokens.idToken.payload.email, EMAIL);
  });
  await s.run("sign-out", () => signOut());
});

test("SMS and email enabled, none preferred: CONTINUE_SIGN_IN_WITH_MFA_SELECTION, EMAIL, then its code", async () => {
  const USERNAME = "bo", PHONE = "+15555550100", EMAIL = "bo@example.com";
  const { poolId } = await setUp({
    name: "amplify-select", username: USERNAME,
    attributes: [{ Name: "phone_number", Value: PHONE }, { Name: "email", Value: EMAIL }],
    poolExtra: { ...EMAIL_POOL, SmsConfiguration: { SnsCallerArn: SNS_ROLE, ExternalId: "x" } },
    mfa: {
      MfaConfiguration: "OPTIONAL",
      SmsMfaConfiguration: { SmsAuthenticationMessage: "Your code is {####}", SmsConfiguration: { SnsCallerArn: SNS_ROLE } },
      EmailMfaConfiguration: EMAIL_MFA,
    },
    preference: {
      SMSMfaSettings: { Enabled: true, PreferredMfa: false },
      EmailMfaSettings: { Enabled: true, PreferredMfa: false },
    },
  });
  const got = await admin.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: USERNAME }));
  assert.deepEqual([...got.UserMFASettingList].sort(), ["EMAIL_OTP", "SMS_MFA"]);
  assert.equal(got.PreferredMfaSetting, undefined);
  const s = stepper();
  let code;

  await s.run("sign-in asking to choose", async () => {
    const r = await signIn({ username: USERNAME, password: PASSWORD });
    assert.equal(r.isSignedIn, false);
    assert.equal(r.nextStep.signInStep, "CONTINUE_SIGN_IN_WITH_MFA_SELECTION");
    assert.ok(r.nextStep.allowedMFATypes.includes("SMS"), JSON.stringify(r.nextStep));
    assert.ok(r.nextStep.allowedMFATypes.includes("EMAIL"), JSON.stringify(r.nextStep));
    assert.deepEqual(challenges(s.mark), ["PASSWORD_VERIFIER", "SELECT_MFA_TYPE"]);
    // Nothing is sent before the user chooses.
    assert.deepEqual(outbox(poolId, USERNAME).filter((m) => m.kind.startsWith("mfa:")), []);
  });

  await s.run("choose EMAIL", async () => {
    const r = await confirmSignIn({ challengeResponse: "EMAIL" });
    assert.equal(r.isSignedIn, false);
    assert.equal(r.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_EMAIL_CODE");
    assert.equal(r.nextStep.codeDeliveryDetails.deliveryMedium, "EMAIL");
    assert.equal(r.nextStep.codeDeliveryDetails.destination, "b***@e***");
    const choice = seen.slice(s.mark).find((x) => x.target === "RespondToAuthChallenge");
    assert.equal(choice.request.ChallengeName, "SELECT_MFA_TYPE");
    assert.equal(choice.request.ChallengeResponses.ANSWER, "EMAIL_OTP");
    assert.equal(choice.response.ChallengeName, "EMAIL_OTP");
  });

  await s.run("the email in the outbox", async () => {
    const { msg, code: c, all } = newestMessage(poolId, USERNAME, "mfa:EMAIL_OTP", /^Sign-in code (\d{6})$/);
    code = c;
    assert.equal(msg.channel, "EMAIL");
    assert.equal(msg.destination, EMAIL);
    assert.equal(msg.subject, "Your sign-in code");
    assert.deepEqual(all.filter((m) => m.kind === "mfa:SMS_MFA"), [], "no SMS was sent");
  });

  await s.run("the email code", async () => {
    const r = await confirmSignIn({ challengeResponse: code });
    assert.deepEqual(r, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
    const done = seen.slice(s.mark).find((x) => x.response.AuthenticationResult);
    assert.equal(done.request.ChallengeName, "EMAIL_OTP");
    assert.equal(done.request.ChallengeResponses.EMAIL_OTP_CODE, code);
    const { tokens } = await fetchAuthSession();
    assert.equal(tokens.accessToken.payload.username, USERNAME);
    assert.equal(tokens.idToken.payload.email, EMAIL);
    assert.equal(tokens.idToken.payload.phone_number, PHONE);
  });
  await s.run("sign-out", () => signOut());
});
