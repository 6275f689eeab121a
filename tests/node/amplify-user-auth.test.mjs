// Amplify v6 (aws-amplify, through its public API only) against userpool with choice-based
// sign-in (authFlowType USER_AUTH): EMAIL_OTP as the preferred challenge
// (CONFIRM_SIGN_IN_WITH_EMAIL_CODE, the eight-digit code from userpool's outbox), no preference
// (CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION with the available challenges, EMAIL_OTP chosen),
// and PASSWORD chosen from the selection (CONFIRM_SIGN_IN_WITH_PASSWORD, then the password).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolClientCommand, AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import { startServer, credentials, BIN, recordFetch } from "./server.mjs";

const seen = recordFetch();
globalThis.navigator ??= { userAgent: `node/${process.versions.node}` };
// Amplify's auto sign-in arms a 3-minute timer it never clears; a browser tab does not mind,
// but it would hold this test process open: timers of a minute or more do not keep it alive.
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (fn, ms, ...rest) => {
  const t = realSetTimeout(fn, ms, ...rest);
  if (ms >= 60_000) t.unref?.();
  return t;
};
const { Amplify } = await import("aws-amplify");
// The namespace object, not destructured names: signUp replaces `autoSignIn` (a live binding).
const auth = await import("aws-amplify/auth");
const { signIn, signOut, confirmSignIn, fetchAuthSession, signUp, confirmSignUp } = auth;
const { cognitoUserPoolsTokenProvider } = await import("aws-amplify/auth/cognito");

const exchanges = (from) => JSON.stringify(seen.slice(from), null, 1);
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());
let server, admin, poolId;
const PASSWORD = "Passw0rd!Example";
const USERNAME = "uma", EMAIL = "uma@example.com";

before(async () => {
  server = await startServer();
  admin = new CognitoIdentityProviderClient({ region: "us-east-1", endpoint: server.endpoint, credentials });
  const { UserPool } = await admin.send(new CreateUserPoolCommand({
    PoolName: "amplify-user-auth", AutoVerifiedAttributes: ["email"],
    Policies: { SignInPolicy: { AllowedFirstAuthFactors: ["PASSWORD", "EMAIL_OTP"] } },
  }));
  poolId = UserPool.Id;
  const { UserPoolClient } = await admin.send(new CreateUserPoolClientCommand({
    UserPoolId: poolId, ClientName: "amplify", ExplicitAuthFlows: ["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
  }));
  await admin.send(new AdminCreateUserCommand({
    UserPoolId: poolId, Username: USERNAME, MessageAction: "SUPPRESS",
    UserAttributes: [{ Name: "email", Value: EMAIL }, { Name: "email_verified", Value: "true" }],
  }));
  await admin.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: USERNAME, Password: PASSWORD, Permanent: true }));
  Amplify.configure({ Auth: { Cognito: { userPoolId: poolId, userPoolClientId: UserPoolClient.ClientId, userPoolEndpoint: server.endpoint } } });
  const store = new Map();
  cognitoUserPoolsTokenProvider.setKeyValueStorage({
    setItem: async (k, v) => { store.set(k, v); }, getItem: async (k) => store.get(k) ?? null,
    removeItem: async (k) => { store.delete(k); }, clear: async () => { store.clear(); },
  });
});
after(() => server?.stop());

// The newest code of `kind` in the user's outbox (eight digits for sign-in, six for sign-up).
function newestCode(username = USERNAME, kind = "otp:EMAIL_OTP", digits = 8) {
  const all = JSON.parse(execFileSync(BIN, ["outbox", "--data", server.data, poolId, username], { encoding: "utf8" }));
  const msg = all.filter((m) => m.kind === kind).at(-1);
  assert.ok(msg, `a ${kind} code in the outbox: ${JSON.stringify(all)}`);
  const m = msg.body.match(new RegExp(`(\\d{${digits}})`));
  assert.ok(m, `a ${digits}-digit code in ${JSON.stringify(msg.body)}`);
  return m[1];
}

async function signedIn(mark, username = USERNAME) {
  const { tokens } = await fetchAuthSession();
  assert.ok(tokens?.accessToken, `tokens after sign-in: ${exchanges(mark)}`);
  assert.equal(claims(tokens.accessToken.toString()).username, username);
  await signOut();
}

test("USER_AUTH with EMAIL_OTP preferred: the code from the outbox signs the user in", async () => {
  const mark = seen.length;
  const r = await signIn({ username: USERNAME, options: { authFlowType: "USER_AUTH", preferredChallenge: "EMAIL_OTP" } });
  assert.equal(r.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_EMAIL_CODE", exchanges(mark));
  assert.equal(r.nextStep.codeDeliveryDetails.deliveryMedium, "EMAIL");
  assert.equal(r.nextStep.codeDeliveryDetails.destination, "u***@e***");
  const done = await confirmSignIn({ challengeResponse: newestCode() });
  assert.equal(done.isSignedIn, true, exchanges(mark));
  assert.equal(done.nextStep.signInStep, "DONE");
  await signedIn(mark);
});

test("USER_AUTH without a preference: SELECT_CHALLENGE, EMAIL_OTP chosen, then its code", async () => {
  const mark = seen.length;
  const r = await signIn({ username: USERNAME, options: { authFlowType: "USER_AUTH" } });
  assert.equal(r.nextStep.signInStep, "CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION", exchanges(mark));
  assert.deepEqual(r.nextStep.availableChallenges, ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"]);
  const asked = await confirmSignIn({ challengeResponse: "EMAIL_OTP" });
  assert.equal(asked.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_EMAIL_CODE", exchanges(mark));
  const wrong = await confirmSignIn({ challengeResponse: "00000000" }).then(() => null, (e) => e);
  assert.equal(wrong?.name, "CodeMismatchException", exchanges(mark));
  const done = await confirmSignIn({ challengeResponse: newestCode() });
  assert.equal(done.isSignedIn, true, exchanges(mark));
  await signedIn(mark);
});

test("USER_AUTH without a preference: PASSWORD chosen, then the password", async () => {
  const mark = seen.length;
  const r = await signIn({ username: USERNAME, options: { authFlowType: "USER_AUTH" } });
  assert.equal(r.nextStep.signInStep, "CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION");
  const asked = await confirmSignIn({ challengeResponse: "PASSWORD" });
  assert.equal(asked.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_PASSWORD", exchanges(mark));
  const done = await confirmSignIn({ challengeResponse: PASSWORD });
  assert.equal(done.isSignedIn, true, exchanges(mark));
  const select = seen.slice(mark).filter((s) => s.target === "RespondToAuthChallenge");
  assert.equal(select.at(-1).request.ChallengeName, "SELECT_CHALLENGE");
  assert.equal(select.at(-1).request.ChallengeResponses.ANSWER, "PASSWORD");
  await signedIn(mark);
});

test("passwordless sign-up: signUp without a password, confirmSignUp, then autoSignIn with USER_AUTH", async () => {
  const mark = seen.length;
  const name = "newbie";
  const r = await signUp({
    username: name,
    options: { userAttributes: { email: "newbie@example.com" }, autoSignIn: { authFlowType: "USER_AUTH" } },
  });
  assert.equal(r.nextStep.signUpStep, "CONFIRM_SIGN_UP", exchanges(mark));
  const confirmed = await confirmSignUp({ username: name, confirmationCode: newestCode(name, "signup", 6) });
  assert.equal(confirmed.nextStep.signUpStep, "COMPLETE_AUTO_SIGN_IN", exchanges(mark));
  const done = await auth.autoSignIn();
  assert.equal(done.isSignedIn, true, exchanges(mark));
  const initiate = seen.slice(mark).filter((s) => s.target === "InitiateAuth").at(-1);
  assert.equal(initiate.request.AuthFlow, "USER_AUTH");
  assert.ok(initiate.request.Session, "autoSignIn sends ConfirmSignUp's Session");
  await signedIn(mark, name);
});
