// aws-sdk-js v3 (@aws-sdk/client-cognito-identity-provider) against userpool: admin calls
// signed with SigV4, sign-up confirmed with the code read by `userpool codes`, sign-in, GetUser.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  CognitoIdentityProviderClient, CreateUserPoolCommand, CreateUserPoolClientCommand, SignUpCommand,
  ConfirmSignUpCommand, InitiateAuthCommand, GetUserCommand, AdminGetUserCommand, DescribeUserPoolCommand,
  UserNotFoundException, NotAuthorizedException,
} from "@aws-sdk/client-cognito-identity-provider";
import { startServer, credentials } from "./server.mjs";

let server, client;
before(async () => {
  server = await startServer();
  client = new CognitoIdentityProviderClient({ region: "us-east-1", endpoint: server.endpoint, credentials });
});
after(() => server.stop());

test("sign-up, confirm with the logged code, sign in, GetUser", async () => {
  const { UserPool } = await client.send(new CreateUserPoolCommand({ PoolName: "js", AutoVerifiedAttributes: ["email"] }));
  assert.match(UserPool.Id, /^us-east-1_[0-9A-Za-z]{9}$/);
  assert.ok(UserPool.CreationDate instanceof Date);
  const described = await client.send(new DescribeUserPoolCommand({ UserPoolId: UserPool.Id }));
  assert.equal(described.UserPool.Name, "js");
  const { UserPoolClient } = await client.send(new CreateUserPoolClientCommand({
    UserPoolId: UserPool.Id, ClientName: "web", ExplicitAuthFlows: ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
  }));
  const up = await client.send(new SignUpCommand({
    ClientId: UserPoolClient.ClientId, Username: "nora", Password: "Passw0rd!Example",
    UserAttributes: [{ Name: "email", Value: "nora@example.com" }],
  }));
  assert.equal(up.UserConfirmed, false);
  assert.equal(up.CodeDeliveryDetails.DeliveryMedium, "EMAIL");
  const code = server.codes(UserPool.Id, "nora").find((c) => c.purpose === "signup").code;
  await client.send(new ConfirmSignUpCommand({ ClientId: UserPoolClient.ClientId, Username: "nora", ConfirmationCode: code }));
  const auth = await client.send(new InitiateAuthCommand({
    ClientId: UserPoolClient.ClientId, AuthFlow: "USER_PASSWORD_AUTH",
    AuthParameters: { USERNAME: "nora", PASSWORD: "Passw0rd!Example" },
  }));
  assert.equal(auth.AuthenticationResult.TokenType, "Bearer");
  assert.ok(auth.$metadata.requestId);
  const me = await client.send(new GetUserCommand({ AccessToken: auth.AuthenticationResult.AccessToken }));
  assert.equal(me.Username, "nora");
  assert.deepEqual(me.UserAttributes.find((a) => a.Name === "email_verified"), { Name: "email_verified", Value: "true" });
  const admin = await client.send(new AdminGetUserCommand({ UserPoolId: UserPool.Id, Username: "nora" }));
  assert.equal(admin.UserStatus, "CONFIRMED");
  assert.ok(admin.UserCreateDate instanceof Date);
});

test("errors arrive as the modelled exception classes", async () => {
  const { UserPool } = await client.send(new CreateUserPoolCommand({ PoolName: "js-errors" }));
  await assert.rejects(client.send(new AdminGetUserCommand({ UserPoolId: UserPool.Id, Username: "ghost" })),
    (e) => e instanceof UserNotFoundException && e.message === "User does not exist.");
  await assert.rejects(client.send(new GetUserCommand({ AccessToken: "nope" })),
    (e) => e instanceof NotAuthorizedException && e.message === "Invalid Access Token");
  const wrong = new CognitoIdentityProviderClient({ region: "us-east-1", endpoint: server.endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "wrong" } });
  await assert.rejects(wrong.send(new DescribeUserPoolCommand({ UserPoolId: UserPool.Id })),
    (e) => e.name === "InvalidSignatureException");
});
