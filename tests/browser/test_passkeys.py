"""Passkeys in a real browser: headless Chromium (WebDriver, Selenium) with Chrome's
virtual authenticator (CTAP2, internal transport, resident keys, user verification). A
small page served by the test on http://localhost:<port> (the relying party `localhost`)
calls userpool's JSON API with fetch (CORS) and the browser's own WebAuthn API:

1. sign in with USER_AUTH / PASSWORD, StartWebAuthnRegistration,
   `navigator.credentials.create`, CompleteWebAuthnRegistration;
2. sign in with USER_AUTH / PREFERRED_CHALLENGE=WEB_AUTHN: `navigator.credentials.get` on
   the CREDENTIAL_REQUEST_OPTIONS, RespondToAuthChallenge with the CREDENTIAL, and the ID
   token checked against the pool's JWKS; then again (the sign counter moves on);
3. SELECT_CHALLENGE offers WEB_AUTHN; ANSWER=WEB_AUTHN, then the assertion.

Screenshots go to $BROWSER_ARTIFACTS/<test>/ as in test_hosted_ui.py."""

import json
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
from authlib.jose import JsonWebKey, jwt
from botocore.config import Config

from test_hosted_ui import PASSWORD, REGION, Server, _require_browser, browser_for

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Passkey demo</title></head>
<body style="font-family:sans-serif"><h1>Passkey demo</h1><p id="status">ready</p>
<script>
const CONFIG = __CONFIG__;
async function call(target, body) {
  const r = await fetch(CONFIG.endpoint, {method: "POST", headers: {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AWSCognitoIdentityProviderService." + target}, body: JSON.stringify(body)});
  const json = await r.json();
  if (!r.ok) throw new Error(target + ": " + (json.__type || r.status) + ": " + json.message);
  return json;
}
function status(s) { document.getElementById("status").textContent = s; }
window.passwordSignIn = async (username, password) => {
  const r = await call("InitiateAuth", {AuthFlow: "USER_AUTH", ClientId: CONFIG.clientId,
    AuthParameters: {USERNAME: username, PREFERRED_CHALLENGE: "PASSWORD", PASSWORD: password}});
  status("signed in with a password");
  return r.AuthenticationResult.AccessToken;
};
window.registerPasskey = async (accessToken) => {
  const {CredentialCreationOptions} = await call("StartWebAuthnRegistration", {AccessToken: accessToken});
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(CredentialCreationOptions);
  const credential = await navigator.credentials.create({publicKey});
  await call("CompleteWebAuthnRegistration", {AccessToken: accessToken, Credential: credential.toJSON()});
  status("passkey registered");
  return CredentialCreationOptions;
};
async function answerWebAuthn(username, challenge) {
  const options = JSON.parse(challenge.ChallengeParameters.CREDENTIAL_REQUEST_OPTIONS);
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options);
  const assertion = await navigator.credentials.get({publicKey});
  const r = await call("RespondToAuthChallenge", {ClientId: CONFIG.clientId, ChallengeName: "WEB_AUTHN",
    Session: challenge.Session, ChallengeResponses: {USERNAME: username, CREDENTIAL: JSON.stringify(assertion.toJSON())}});
  status("signed in with a passkey");
  return {options, tokens: r.AuthenticationResult};
}
window.passkeySignIn = async (username) => {
  const c = await call("InitiateAuth", {AuthFlow: "USER_AUTH", ClientId: CONFIG.clientId,
    AuthParameters: {USERNAME: username, PREFERRED_CHALLENGE: "WEB_AUTHN"}});
  if (c.ChallengeName !== "WEB_AUTHN") throw new Error("expected WEB_AUTHN, got " + JSON.stringify(c));
  return answerWebAuthn(username, c);
};
window.selectThenPasskey = async (username) => {
  const s = await call("InitiateAuth", {AuthFlow: "USER_AUTH", ClientId: CONFIG.clientId,
    AuthParameters: {USERNAME: username}});
  const c = await call("RespondToAuthChallenge", {ClientId: CONFIG.clientId, ChallengeName: "SELECT_CHALLENGE",
    Session: s.Session, ChallengeResponses: {USERNAME: username, ANSWER: "WEB_AUTHN"}});
  const done = await answerWebAuthn(username, c);
  return {available: s.AvailableChallenges, ...done};
};
</script></body></html>"""


class Page:
    """The application's page on http://localhost:<port>."""

    def __init__(self, config):
        body = PAGE.replace("__CONFIG__", json.dumps(config)).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if self.path != "/":
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def setup():
    _require_browser()
    with tempfile.TemporaryDirectory() as d:
        server = Server(d)
        try:
            idp = boto3.client("cognito-idp", endpoint_url=server.endpoint, region_name=REGION,
                               aws_access_key_id="test", aws_secret_access_key="test",
                               config=Config(retries={"max_attempts": 1}))
            pool = idp.create_user_pool(
                PoolName=f"passkeys-{uuid.uuid4().hex[:6]}",
                Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}})["UserPool"]
            idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="OFF",
                                         WebAuthnConfiguration={"RelyingPartyId": "localhost",
                                                                "UserVerification": "required"})
            client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="spa",
                                                 ExplicitAuthFlows=["ALLOW_USER_AUTH",
                                                                    "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
            idp.admin_create_user(UserPoolId=pool["Id"], Username="pat", MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": "pat@example.com"},
                                                  {"Name": "email_verified", "Value": "true"}])
            idp.admin_set_user_password(UserPoolId=pool["Id"], Username="pat", Password=PASSWORD, Permanent=True)
            page = Page({"endpoint": server.endpoint, "clientId": client["ClientId"]})
            try:
                yield {"idp": idp, "pool": pool, "client": client, "page": page, "server": server}
            finally:
                page.stop()
        finally:
            server.stop()


@pytest.fixture
def browser(request, summary, setup):
    with browser_for(request, summary, setup["server"]) as b:
        yield b


def run(browser, script, *args):
    """Runs one of the page's async functions; its value, or the page's error raised."""
    result = browser.driver.execute_async_script(
        f"const done = arguments[arguments.length - 1];"
        f"{script}(...Array.from(arguments).slice(0, -1)).then(v => done({{ok: v}}), e => done({{err: String(e)}}));",
        *args)
    assert "ok" in result, result.get("err")
    return result["ok"]


def verified_claims(setup, id_token):
    issuer = f"{setup['server'].endpoint}/{setup['pool']['Id']}"
    keys = JsonWebKey.import_key_set(requests.get(f"{issuer}/.well-known/jwks.json", timeout=10).json())
    claims = jwt.decode(id_token, keys)
    claims.validate()
    assert claims["iss"] == issuer
    assert claims["aud"] == setup["client"]["ClientId"]
    return claims


def test_passkey_registration_and_sign_in_in_chromium(setup, browser):
    from selenium.webdriver.common.virtual_authenticator import Protocol, Transport, VirtualAuthenticatorOptions

    browser.driver.set_script_timeout(30)
    browser.driver.get(setup["page"].url)
    browser.driver.add_virtual_authenticator(VirtualAuthenticatorOptions(
        protocol=Protocol.CTAP2, transport=Transport.INTERNAL, has_resident_key=True,
        has_user_verification=True, is_user_verified=True))
    browser.shot("page")

    access = run(browser, "passwordSignIn", "pat", PASSWORD)
    options = run(browser, "registerPasskey", access)
    browser.shot("registered")
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    creds = browser.driver.get_credentials()
    assert len(creds) == 1 and creds[0].is_resident_credential
    listed = setup["idp"].list_web_authn_credentials(AccessToken=access)["Credentials"]
    assert [c["RelyingPartyId"] for c in listed] == ["localhost"]

    first = run(browser, "passkeySignIn", "pat")
    browser.shot("signed-in")
    assert first["options"]["rpId"] == "localhost"
    assert first["options"]["userVerification"] == "required"
    assert [c["id"] for c in first["options"]["allowCredentials"]] == [listed[0]["CredentialId"]]
    claims = verified_claims(setup, first["tokens"]["IdToken"])
    assert claims["cognito:username"] == "pat"
    assert setup["idp"].get_user(AccessToken=first["tokens"]["AccessToken"])["Username"] == "pat"
    counter = browser.driver.get_credentials()[0].sign_count

    second = run(browser, "selectThenPasskey", "pat")
    assert second["available"] == ["PASSWORD", "PASSWORD_SRP", "WEB_AUTHN"]
    verified_claims(setup, second["tokens"]["IdToken"])
    assert browser.driver.get_credentials()[0].sign_count > counter
    browser.shot("signed-in-again")
