// CUSTOM_AUTH end to end through the real client libraries: userpool calls the pool's
// DefineAuthChallenge / CreateAuthChallenge / VerifyAuthChallengeResponse functions through the
// Lambda Invoke API of lambda.mjs (which checks every call's SigV4 signature), and
//  - Amplify v6 signs in with `authFlowType: 'CUSTOM_WITHOUT_SRP'` (a wrong answer, another
//    custom challenge, then the right one) and `'CUSTOM_WITH_SRP'` (SRP_A, the PASSWORD_VERIFIER
//    Amplify answers by itself, then the custom challenge);
//  - amazon-cognito-identity-js signs in with `initiateAuth` (no password, the README's
//    `customChallenge` callback answering with `sendCustomChallengeAnswer`), with
//    `authenticateUser` and a password under flow type CUSTOM_AUTH (CHALLENGE_NAME SRP_A), and
//    fails after three wrong answers.
// The functions are the Python suite's (tests/clients/test_triggers.py `custom_auth_functions`):
// "6 x 7?", three tries, PASSWORD_VERIFIER first when the flow began with SRP_A.
// CUSTOM_LOG=FILE writes every request and response the libraries exchanged with the server.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import {
  CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolClientCommand, AdminCreateUserCommand,
  AdminSetUserPasswordCommand, InitiateAuthCommand,
} from "@aws-sdk/client-cognito-identity-provider";
import { startServer, credentials, recordFetch } from "./server.mjs";
import { startLambda, ACCESS_KEY, SECRET_KEY } from "./lambda.mjs";

// Record what the libraries send and what they are answered, by wrapping fetch before they load
// (Amplify calls fetch with a Headers object, identity-js with a plain one).
const realFetch = globalThis.fetch;
const seen = recordFetch();
// Node 20 has no global navigator; Amplify reads navigator.userAgent (see amplify-mfa.test.mjs).
globalThis.navigator ??= { userAgent: `node/${process.versions.node}` };
const { Amplify } = await import("aws-amplify");
const { signIn, signOut, confirmSignIn, fetchAuthSession, getCurrentUser } = await import("aws-amplify/auth");
const { CognitoUserPool, CognitoUser, AuthenticationDetails } = await import("amazon-cognito-identity-js");

function exchanges(from = 0) {
  return JSON.stringify(seen.slice(from).map(({ target, status, request, response }) => ({ target, status, request, response })), null, 1);
}
const challenges = (from) => seen.slice(from).map((s) => s.challenge).filter(Boolean);
const sent = (from, target) => seen.slice(from).filter((s) => s.target === target);
// Runs a test body; on failure prints the libraries' exchanges with the server during it.
async function traced(fn) {
  const mark = seen.length;
  try { await fn(); } catch (e) {
    console.error(`exchanges:\n${exchanges(mark)}\nrefused Lambda calls: ${JSON.stringify(lambda.refused)}`);
    throw e;
  }
}
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

// A one-question challenge ("what is 6 x 7?"), three tries; a flow that began with SRP_A proves
// the password (PASSWORD_VERIFIER) first.
function customAuthFunctions() {
  const define = async (event) => {
    const s = event.request.session;
    const r = event.response;
    const custom = s.filter((c) => c.challengeName === "CUSTOM_CHALLENGE");
    if (event.request.userNotFound) Object.assign(r, { issueTokens: false, failAuthentication: true });
    else if (s.length === 1 && s[0].challengeName === "SRP_A") {
      Object.assign(r, { challengeName: "PASSWORD_VERIFIER", issueTokens: false, failAuthentication: false });
    } else if (s.length && s.at(-1).challengeName === "CUSTOM_CHALLENGE" && s.at(-1).challengeResult) {
      Object.assign(r, { issueTokens: true, failAuthentication: false });
    } else if (custom.length >= 3) Object.assign(r, { issueTokens: false, failAuthentication: true });
    else Object.assign(r, { challengeName: "CUSTOM_CHALLENGE", issueTokens: false, failAuthentication: false });
    return event;
  };
  const create = async (event) => {
    event.response.publicChallengeParameters = { question: "6 x 7" };
    event.response.privateChallengeParameters = { answer: "42" };
    event.response.challengeMetadata = `Q${event.request.session.length}`;
    return event;
  };
  const verify = async (event) => {
    event.response.answerCorrect = event.request.challengeAnswer === event.request.privateChallengeParameters.answer;
    return event;
  };
  return {
    DefineAuthChallenge: lambda.register(define),
    CreateAuthChallenge: lambda.register(create),
    // In another region than the others: each call is signed for its function's region.
    VerifyAuthChallengeResponse: lambda.register(verify, "eu-west-1"),
  };
}

let server, lambda, admin;
const PASSWORD = "Passw0rd!Example";
const FLOWS = ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"];

before(async () => {
  lambda = await startLambda();
  server = await startServer({ args: lambda.args });
  admin = new CognitoIdentityProviderClient({ region: "us-east-1", endpoint: server.endpoint, credentials });
});
after(() => {
  if (process.env.CUSTOM_LOG) writeFileSync(process.env.CUSTOM_LOG, exchanges());
  server?.stop();
  lambda?.stop();
});

// A pool with its own three functions, a client allowing CUSTOM_AUTH and SRP, and a user with a
// permanent password. What each function received: `events.define()` etc.
async function setUp(name, username, { poolExtra = {}, clientExtra = {}, attributes = [] } = {}) {
  const fns = customAuthFunctions();
  const { UserPool } = await admin.send(new CreateUserPoolCommand({ PoolName: name, LambdaConfig: fns, ...poolExtra }));
  const poolId = UserPool.Id;
  const { UserPoolClient } = await admin.send(new CreateUserPoolClientCommand({
    UserPoolId: poolId, ClientName: "app", ExplicitAuthFlows: FLOWS, ...clientExtra,
  }));
  const { User } = await admin.send(new AdminCreateUserCommand({
    UserPoolId: poolId, Username: username, MessageAction: "SUPPRESS", UserAttributes: attributes,
  }));
  await admin.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: username, Password: PASSWORD, Permanent: true }));
  return {
    poolId, clientId: UserPoolClient.ClientId, username: User.Username,
    events: {
      define: () => lambda.received(fns.DefineAuthChallenge),
      create: () => lambda.received(fns.CreateAuthChallenge),
      verify: () => lambda.received(fns.VerifyAuthChallengeResponse),
    },
  };
}
const sessionOf = (event) => event.request.session.map((c) => [c.challengeName, c.challengeResult, c.challengeMetadata]);
function envelope(event, source, { poolId, clientId, username }) {
  assert.equal(event.version, "1");
  assert.equal(event.triggerSource, source);
  assert.equal(event.region, "us-east-1");
  assert.equal(event.userPoolId, poolId);
  assert.equal(event.userName, username);
  assert.equal(event.callerContext.clientId, clientId);
}

test("the Lambda server takes only calls signed with its credentials", () => traced(async () => {
  // Unsigned: refused before any function runs.
  const res = await realFetch(`${lambda.endpoint}/2015-03-31/functions/x/invocations`, { method: "POST", body: "{}" });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get("x-amzn-errortype"), "InvalidSignatureException");
  // userpool's calls, signed with the flags' key, are refused while the server expects another.
  const ctx = await setUp("custom-keys", "kit");
  lambda.expect({ secretAccessKey: "not-the-one-userpool-has" });
  try {
    await assert.rejects(
      admin.send(new InitiateAuthCommand({ ClientId: ctx.clientId, AuthFlow: "CUSTOM_AUTH", AuthParameters: { USERNAME: "kit" } })),
      (e) => e.name === "UnexpectedLambdaException"
        && e.message === "DefineAuthChallenge invocation failed due to error InvalidSignatureException.",
    );
  } finally {
    lambda.expect({ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY });
  }
  assert.deepEqual(ctx.events.define(), []);
  assert.deepEqual(lambda.refused, ["no SigV4 authorization", "signature mismatch"]);
  lambda.refused.length = 0;
  const r = await admin.send(new InitiateAuthCommand({ ClientId: ctx.clientId, AuthFlow: "CUSTOM_AUTH", AuthParameters: { USERNAME: "kit" } }));
  assert.equal(r.ChallengeName, "CUSTOM_CHALLENGE");
  assert.deepEqual(lambda.refused, []);
}));

test("Amplify CUSTOM_WITHOUT_SRP: a wrong answer, another challenge, the right one", () => traced(async () => {
  const ctx = await setUp("amplify-custom", "ana", { attributes: [{ Name: "email", Value: "ana@example.com" }] });
  Amplify.configure({ Auth: { Cognito: { userPoolId: ctx.poolId, userPoolClientId: ctx.clientId, userPoolEndpoint: server.endpoint } } });
  let mark = seen.length;
  const r = await signIn({ username: "ana", options: { authFlowType: "CUSTOM_WITHOUT_SRP", clientMetadata: { from: "signIn" } } });
  assert.deepEqual(r, {
    isSignedIn: false,
    nextStep: { signInStep: "CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE", additionalInfo: { question: "6 x 7", USERNAME: "ana" } },
  });
  const [init] = sent(mark, "InitiateAuth");
  assert.equal(init.request.AuthFlow, "CUSTOM_AUTH");
  assert.deepEqual(init.request.AuthParameters, { USERNAME: "ana" });
  assert.deepEqual(init.request.ClientMetadata, { from: "signIn" });
  // Define, then Create, with an empty history; InitiateAuth's ClientMetadata is not theirs
  // (Cognito gives it to Pre sign-up, Pre authentication and User migration only).
  const [define0] = ctx.events.define();
  envelope(define0, "DefineAuthChallenge_Authentication", ctx);
  assert.deepEqual(define0.request.session, []);
  assert.equal(define0.request.userAttributes.email, "ana@example.com");
  assert.equal(define0.request.clientMetadata, undefined);
  assert.deepEqual(define0.response, { challengeName: null, issueTokens: null, failAuthentication: null });
  const [create0] = ctx.events.create();
  envelope(create0, "CreateAuthChallenge_Authentication", ctx);
  assert.equal(create0.request.challengeName, "CUSTOM_CHALLENGE");
  assert.deepEqual(create0.request.session, []);

  mark = seen.length;
  const wrong = await confirmSignIn({ challengeResponse: "41", options: { clientMetadata: { try: "1" } } });
  assert.deepEqual(wrong, {
    isSignedIn: false,
    nextStep: { signInStep: "CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE", additionalInfo: { question: "6 x 7", USERNAME: "ana" } },
  });
  const [answer] = sent(mark, "RespondToAuthChallenge");
  assert.equal(answer.request.ChallengeName, "CUSTOM_CHALLENGE");
  assert.deepEqual(answer.request.ChallengeResponses, { USERNAME: "ana", ANSWER: "41" });
  const [verify0] = ctx.events.verify();
  envelope(verify0, "VerifyAuthChallengeResponse_Authentication", ctx);
  assert.equal(verify0.region, "us-east-1", "the pool's region, whatever the function's");
  assert.equal(verify0.request.challengeAnswer, "41");
  assert.deepEqual(verify0.request.privateChallengeParameters, { answer: "42" });
  assert.deepEqual(verify0.request.clientMetadata, { try: "1" });
  assert.deepEqual(verify0.response, { answerCorrect: null });
  assert.deepEqual(sessionOf(ctx.events.define()[1]), [["CUSTOM_CHALLENGE", false, "Q0"]]);

  mark = seen.length;
  const done = await confirmSignIn({ challengeResponse: "42" });
  assert.deepEqual(done, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
  assert.deepEqual(challenges(mark), []);
  assert.deepEqual(ctx.events.define().map(sessionOf), [
    [], [["CUSTOM_CHALLENGE", false, "Q0"]], [["CUSTOM_CHALLENGE", false, "Q0"], ["CUSTOM_CHALLENGE", true, "Q1"]],
  ]);
  assert.deepEqual(ctx.events.verify().map((e) => e.request.challengeAnswer), ["41", "42"]);
  assert.deepEqual(ctx.events.create().map((e) => e.request.session.length), [0, 1]);
  for (const [fn, source] of [["define", "DefineAuthChallenge_Authentication"], ["create", "CreateAuthChallenge_Authentication"],
    ["verify", "VerifyAuthChallengeResponse_Authentication"]]) {
    assert.deepEqual([...new Set(ctx.events[fn]().map((e) => e.triggerSource))], [source]);
  }

  const { tokens } = await fetchAuthSession();
  assert.equal(tokens.idToken.payload["cognito:username"], "ana");
  assert.equal(tokens.idToken.payload.email, "ana@example.com");
  assert.equal(tokens.accessToken.payload.username, "ana");
  assert.equal(tokens.accessToken.payload.client_id, ctx.clientId);
  assert.equal((await getCurrentUser()).username, "ana");
  await signOut();
}));

test("Amplify CUSTOM_WITHOUT_SRP by email in a pool whose usernames are emails", () => traced(async () => {
  // The username is a generated id; Amplify answers with the USERNAME the challenge names.
  const ctx = await setUp("amplify-custom-email", "bea@example.com", {
    poolExtra: { UsernameAttributes: ["email"] }, attributes: [{ Name: "email", Value: "bea@example.com" }],
  });
  assert.notEqual(ctx.username, "bea@example.com");
  Amplify.configure({ Auth: { Cognito: { userPoolId: ctx.poolId, userPoolClientId: ctx.clientId, userPoolEndpoint: server.endpoint } } });
  const mark = seen.length;
  const r = await signIn({ username: "bea@example.com", options: { authFlowType: "CUSTOM_WITHOUT_SRP" } });
  assert.equal(r.nextStep.signInStep, "CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE");
  assert.deepEqual(r.nextStep.additionalInfo, { question: "6 x 7", USERNAME: ctx.username });
  envelope(ctx.events.define()[0], "DefineAuthChallenge_Authentication", ctx);
  const done = await confirmSignIn({ challengeResponse: "42" });
  assert.deepEqual(done, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
  assert.equal(sent(mark, "RespondToAuthChallenge")[0].request.ChallengeResponses.USERNAME, ctx.username);
  const { tokens } = await fetchAuthSession();
  assert.equal(tokens.idToken.payload["cognito:username"], ctx.username);
  await signOut();
}));

test("Amplify CUSTOM_WITH_SRP: SRP_A, PASSWORD_VERIFIER, then the custom challenge", () => traced(async () => {
  const ctx = await setUp("amplify-custom-srp", "cal");
  Amplify.configure({ Auth: { Cognito: { userPoolId: ctx.poolId, userPoolClientId: ctx.clientId, userPoolEndpoint: server.endpoint } } });
  let mark = seen.length;
  const r = await signIn({ username: "cal", password: PASSWORD, options: { authFlowType: "CUSTOM_WITH_SRP" } });
  assert.deepEqual(r, {
    isSignedIn: false,
    nextStep: { signInStep: "CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE", additionalInfo: { question: "6 x 7", USERNAME: "cal" } },
  });
  const [init] = sent(mark, "InitiateAuth");
  assert.equal(init.request.AuthFlow, "CUSTOM_AUTH");
  assert.equal(init.request.AuthParameters.CHALLENGE_NAME, "SRP_A");
  assert.match(init.request.AuthParameters.SRP_A, /^[0-9a-f]+$/);
  assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER", "CUSTOM_CHALLENGE"]);
  assert.equal(sent(mark, "RespondToAuthChallenge")[0].request.ChallengeName, "PASSWORD_VERIFIER");
  assert.deepEqual(ctx.events.define().map(sessionOf), [
    [["SRP_A", true, null]],
    [["SRP_A", true, null], ["PASSWORD_VERIFIER", true, null]],
  ]);
  assert.deepEqual(sessionOf(ctx.events.create()[0]), [["SRP_A", true, null], ["PASSWORD_VERIFIER", true, null]]);

  mark = seen.length;
  const done = await confirmSignIn({ challengeResponse: "42" });
  assert.deepEqual(done, { isSignedIn: true, nextStep: { signInStep: "DONE" } });
  assert.deepEqual(sessionOf(ctx.events.define().at(-1)), [
    ["SRP_A", true, null], ["PASSWORD_VERIFIER", true, null], ["CUSTOM_CHALLENGE", true, "Q2"],
  ]);
  assert.deepEqual(ctx.events.define().map((e) => e.triggerSource), Array(3).fill("DefineAuthChallenge_Authentication"));
  const { tokens } = await fetchAuthSession();
  assert.equal(tokens.idToken.payload["cognito:username"], "cal");
  await signOut();

  // A wrong password ends the flow at PASSWORD_VERIFIER, without asking Define again.
  const before = ctx.events.define().length;
  mark = seen.length;
  await assert.rejects(signIn({ username: "cal", password: "Wrong-Passw0rd!", options: { authFlowType: "CUSTOM_WITH_SRP" } }),
    (e) => e.name === "NotAuthorizedException" && e.message === "Incorrect username or password.");
  assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER"]);
  assert.equal(ctx.events.define().length, before + 1, "Define was asked after SRP_A only");
}));

// identity-js's callback map, as its README writes it for custom auth: `customChallenge`
// answers with sendCustomChallengeAnswer(answer, this); resolves with the callback that ended it
// (onSuccess or onFailure) and the challenge parameters it was asked with.
function customFlow(user, start, answers) {
  return new Promise((ok) => {
    const asked = [];
    const end = (via) => (...args) => ok({ via, args, asked });
    start({
      customChallenge(params) {
        asked.push(params);
        if (!answers.length) return ok({ via: "customChallenge", args: [params], asked });
        user.sendCustomChallengeAnswer(answers.shift(), this);
      },
      onSuccess: end("onSuccess"), onFailure: end("onFailure"),
      mfaRequired: end("mfaRequired"), totpRequired: end("totpRequired"), newPasswordRequired: end("newPasswordRequired"),
      mfaSetup: end("mfaSetup"), selectMFAType: end("selectMFAType"),
    });
  });
}
function expectVia(r, name) {
  const detail = r.via === "onFailure" ? `${r.args[0]?.code}: ${r.args[0]?.message}` : JSON.stringify(r.args);
  assert.equal(r.via, name, `the library called ${r.via} (${detail}), expected ${name}`);
  return r.args;
}
function identityJs(ctx) {
  const store = new Map();
  const Storage = {
    setItem: (k, v) => store.set(k, String(v)), getItem: (k) => (store.has(k) ? store.get(k) : null),
    removeItem: (k) => store.delete(k), clear: () => store.clear(),
  };
  const pool = new CognitoUserPool({ UserPoolId: ctx.poolId, ClientId: ctx.clientId, endpoint: server.endpoint + "/", Storage });
  return (username) => {
    const user = new CognitoUser({ Username: username, Pool: pool, Storage });
    user.setAuthenticationFlowType("CUSTOM_AUTH");
    return user;
  };
}

test("identity-js initiateAuth without a password: customChallenge, sendCustomChallengeAnswer, onSuccess", () => traced(async () => {
  const ctx = await setUp("idjs-custom", "dan");
  const user = identityJs(ctx)("dan");
  const mark = seen.length;
  const r = await customFlow(user, (cb) => user.initiateAuth(new AuthenticationDetails({ Username: "dan" }), cb), ["42"]);
  const [session] = expectVia(r, "onSuccess");
  assert.deepEqual(r.asked, [{ question: "6 x 7", USERNAME: "dan" }]);
  const [init] = sent(mark, "InitiateAuth");
  assert.deepEqual([init.request.AuthFlow, init.request.AuthParameters], ["CUSTOM_AUTH", { USERNAME: "dan" }]);
  assert.deepEqual(sent(mark, "RespondToAuthChallenge").map((s) => s.request.ChallengeResponses), [{ USERNAME: "dan", ANSWER: "42" }]);
  assert.equal(session.isValid(), true);
  assert.equal(session.getIdToken().payload["cognito:username"], "dan");
  assert.equal(claims(session.getAccessToken().getJwtToken()).username, "dan");
  assert.deepEqual(ctx.events.define().map(sessionOf), [[], [["CUSTOM_CHALLENGE", true, "Q0"]]]);
  envelope(ctx.events.verify()[0], "VerifyAuthChallengeResponse_Authentication", ctx);
}));

test("identity-js authenticateUser with a password under CUSTOM_AUTH: SRP_A, then customChallenge", () => traced(async () => {
  const ctx = await setUp("idjs-custom-srp", "eli");
  const user = identityJs(ctx)("eli");
  const mark = seen.length;
  const details = new AuthenticationDetails({ Username: "eli", Password: PASSWORD });
  const r = await customFlow(user, (cb) => user.authenticateUser(details, cb), ["42"]);
  const [session] = expectVia(r, "onSuccess");
  assert.deepEqual(r.asked, [{ question: "6 x 7", USERNAME: "eli" }]);
  const [init] = sent(mark, "InitiateAuth");
  assert.equal(init.request.AuthFlow, "CUSTOM_AUTH");
  assert.equal(init.request.AuthParameters.CHALLENGE_NAME, "SRP_A");
  assert.deepEqual(challenges(mark), ["PASSWORD_VERIFIER", "CUSTOM_CHALLENGE"]);
  assert.equal(session.getIdToken().payload["cognito:username"], "eli");
  assert.deepEqual(ctx.events.define().map(sessionOf), [
    [["SRP_A", true, null]],
    [["SRP_A", true, null], ["PASSWORD_VERIFIER", true, null]],
    [["SRP_A", true, null], ["PASSWORD_VERIFIER", true, null], ["CUSTOM_CHALLENGE", true, "Q2"]],
  ]);
}));

test("identity-js: three wrong answers, then onFailure NotAuthorizedException", () => traced(async () => {
  const ctx = await setUp("idjs-custom-fail", "fia");
  const user = identityJs(ctx)("fia");
  const mark = seen.length;
  const r = await customFlow(user, (cb) => user.initiateAuth(new AuthenticationDetails({ Username: "fia" }), cb), ["1", "2", "3"]);
  const [err] = expectVia(r, "onFailure");
  assert.equal(err.code, "NotAuthorizedException");
  assert.equal(err.message, "Incorrect username or password.");
  assert.equal(r.asked.length, 3);
  assert.deepEqual(sent(mark, "RespondToAuthChallenge").map((s) => [s.status, s.request.ChallengeResponses.ANSWER]),
    [[200, "1"], [200, "2"], [400, "3"]]);
  assert.deepEqual(sessionOf(ctx.events.define().at(-1)),
    [["CUSTOM_CHALLENGE", false, "Q0"], ["CUSTOM_CHALLENGE", false, "Q1"], ["CUSTOM_CHALLENGE", false, "Q2"]]);
  assert.equal(user.getSignInUserSession(), null);
}));

test("identity-js: a user not found, the client hiding existence: Define fails it", () => traced(async () => {
  const ctx = await setUp("idjs-custom-nobody", "gil", { clientExtra: { PreventUserExistenceErrors: "ENABLED" } });
  const user = identityJs(ctx)("nobody");
  const r = await customFlow(user, (cb) => user.initiateAuth(new AuthenticationDetails({ Username: "nobody" }), cb), []);
  const [err] = expectVia(r, "onFailure");
  assert.equal(err.code, "NotAuthorizedException");
  assert.equal(err.message, "Incorrect username or password.");
  const [define] = ctx.events.define();
  assert.equal(define.userName, "nobody");
  assert.equal(define.request.userNotFound, true);
  assert.deepEqual(ctx.events.create(), []);
}));

test("no call was refused", () => {
  assert.deepEqual(lambda.refused, []);
});
