"""The hosted sign-in pages in a real browser: headless Chromium (Debian's `chromium`),
driven through WebDriver (Debian's `chromium-driver`) by Selenium, walks the OAuth 2.0
code flow end to end on a pool domain's host-name form
(`http://<prefix>.auth.us-east-1.localhost:<port>`, which Chromium resolves to the
loopback address), and lands on a real callback page served by the test.

A screenshot of each page is kept as a PNG under $BROWSER_ARTIFACTS (default
tests/browser/artifacts/), one folder per test; a failing test also keeps the page's HTML
and the browser's console. Without chromium or chromedriver the tests are skipped, or fail
when USERPOOL_REQUIRE_BROWSER=1 (CI sets it).

Run: USERPOOL_BIN=target/debug/userpool .venv/bin/python -m pytest tests/browser -q
(scripts/test.sh does, with the client suite's venv: boto3, requests, authlib, pytest)."""

import base64
import contextlib
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
import requests
from authlib.jose import JsonWebKey, jwt
from botocore.config import Config

from conftest import ARTIFACTS

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("USERPOOL_BIN", str(ROOT / "target" / "debug" / "userpool"))
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
REGION = "us-east-1"
PASSWORD = "Passw0rd!Example"
WAIT_S = 20


def _browser_missing():
    """Why the browser cannot run here, or None."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    if missing:
        return (f"{' and '.join(missing)} not found: install Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver), or set CHROMIUM_BIN / CHROMEDRIVER_BIN")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -r tests/browser/requirements.txt"
    return None


def _require_browser():
    why = _browser_missing()
    if why is None:
        return
    if os.environ.get("USERPOOL_REQUIRE_BROWSER") == "1":
        pytest.fail(f"USERPOOL_REQUIRE_BROWSER=1 but the browser cannot run: {why}", pytrace=False)
    pytest.skip(why)


# --- the server, the pool, the callback page ---------------------------------------------

class Server:
    """The userpool binary on a free loopback port (as tests/clients/conftest.py starts it)."""

    def __init__(self, data_dir):
        self.log = []
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(Path(data_dir) / "userpool.db")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "USERPOOL_LOG": "info"})
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"userpool exited: {''.join(self.log)}")
                continue
            self.log.append(line)
            m = re.search(r"endpoint=(http://[0-9.]+:(\d+))", line)
            if m:
                self.endpoint, self.port = m.group(1), int(m.group(2))
                threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()
                return
        raise RuntimeError("userpool did not report its endpoint in 30 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Callback:
    """The client application's pages: `/callback` (the redirect URI) and `/signed-out`
    (the logout URI), on http://localhost:<port>. Records each request's path and query."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/favicon.ico":  # the browser asks for it on its own
                    self.send_response(204)
                    self.end_headers()
                    return
                query = urllib.parse.parse_qs(url.query)
                hits.append((url.path, query))
                if url.path not in ("/callback", "/signed-out"):
                    self.send_error(404)
                    return
                rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v[0][:48])}"
                               f"{'…' if len(v[0]) > 48 else ''}</td></tr>" for k, v in query.items())
                heading = "Signed out" if url.path == "/signed-out" else "Back at the application"
                body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{heading}</title></head>"
                        f"<body style='font-family:sans-serif'><h1 id='heading'>{heading}</h1>"
                        f"<p id='path'>{html.escape(url.path)}</p><table>{rows}</table></body></html>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.callback = f"http://localhost:{self.port}/callback"
        self.signed_out = f"http://localhost:{self.port}/signed-out"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def env():
    _require_browser()
    with tempfile.TemporaryDirectory() as d:
        server = Server(d)
        app = Callback()
        try:
            yield server, app
        finally:
            app.stop()
            server.stop()


@pytest.fixture(scope="module")
def site(env):
    """A pool with a prefix domain, a public code-flow client whose callback and logout
    URLs are the test's own pages, and a confirmed user `alice`."""
    server, app = env
    idp = boto3.client("cognito-idp", endpoint_url=server.endpoint, region_name=REGION,
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(retries={"max_attempts": 1}))
    pool = idp.create_user_pool(PoolName=f"browser-{uuid.uuid4().hex[:6]}")["UserPool"]
    domain = f"myapp-{uuid.uuid4().hex[:8]}"
    idp.create_user_pool_domain(Domain=domain, UserPoolId=pool["Id"])
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="web", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email"], CallbackURLs=[app.callback], LogoutURLs=[app.signed_out],
        SupportedIdentityProviders=["COGNITO"])["UserPoolClient"]
    idp.admin_create_user(UserPoolId=pool["Id"], Username="alice", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "alice@example.com"},
                                          {"Name": "email_verified", "Value": "true"}])
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username="alice", Password=PASSWORD, Permanent=True)
    issuer = f"{server.endpoint}/{pool['Id']}"
    doc = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    host = f"{domain}.auth.{REGION}.localhost:{server.port}"
    return {"idp": idp, "pool": pool, "client_id": client["ClientId"], "issuer": issuer, "doc": doc,
            "host": host, "base": f"http://{host}", "app": app, "server": server}


# --- the browser -------------------------------------------------------------------------

class Browser:
    """A headless Chromium of one test (its own profile: no cookies from another test),
    with numbered screenshots in the test's artifacts folder."""

    def __init__(self, folder):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=900,1000", "--no-first-run", "--no-default-browser-check",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-extensions", "--password-store=basic", "--renderer-process-limit=2"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.folder = folder
        self.shots = []
        self.console = []
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.driver.set_page_load_timeout(WAIT_S)

    def shot(self, name):
        path = self.folder / f"{len(self.shots) + 1:02d}-{name}.png"
        assert self.driver.save_screenshot(str(path)), f"no screenshot saved at {path}"
        self.shots.append(path)
        return path

    def until(self, what, condition):
        from selenium.webdriver.support.ui import WebDriverWait
        try:
            return WebDriverWait(self.driver, WAIT_S).until(lambda d: condition(d))
        except Exception as e:
            raise AssertionError(f"waited {WAIT_S} s for {what}; the browser is at {self.driver.current_url}"
                                 f" ({self.driver.title!r})") from e

    def at(self, prefix):
        """Waits until the browser's URL starts with `prefix`."""
        self.until(f"a page at {prefix}", lambda d: d.current_url.startswith(prefix))
        return self.driver.current_url

    def by_id(self, element_id):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.ID, element_id)

    def by_name(self, name):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.NAME, name)

    def text(self):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.TAG_NAME, "body").text

    def type(self, element, value):
        element.clear()
        element.send_keys(value)

    def drain_console(self):
        try:
            self.console += self.driver.get_log("browser")
        except Exception:  # noqa: BLE001 (a driver without the log: nothing to keep)
            pass
        return self.console


@contextlib.contextmanager
def browser_for(request, summary, server):
    """A Browser for this test: its artifacts folder (named in pytest's summary); when the
    test fails, the page's screenshot and HTML and the server's log; always the console.
    No page may have had anything blocked by a Content-Security-Policy."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    summary.folders.append(folder)
    failed_before = request.session.testsfailed
    b = Browser(folder)
    try:
        yield b
    finally:
        console = b.drain_console()
        if request.session.testsfailed > failed_before:
            # What a failure needs to be understood: the page as it was, its console, the server.
            try:
                b.shot("failure")
                (folder / "failure.html").write_text(b.driver.page_source)
            except Exception:  # noqa: BLE001
                pass
            (folder / "server.log").write_text("".join(server.log))
        (folder / "console.json").write_text(json.dumps(console, indent=1))
        b.driver.quit()
        # A page's Content-Security-Policy must not have blocked anything the page itself uses.
        blocked = [e["message"] for e in console if "Content Security Policy" in e.get("message", "")]
        assert not blocked, f"CSP violations in the browser console: {blocked}"


@pytest.fixture
def browser(request, summary, site):
    with browser_for(request, summary, site["server"]) as b:
        yield b


# --- helpers -----------------------------------------------------------------------------

def pkce():
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(site, **extra):
    q = {"response_type": "code", "client_id": site["client_id"], "redirect_uri": site["app"].callback,
         "scope": "openid email", **extra}
    return f"{site['base']}/oauth2/authorize?{urllib.parse.urlencode(q)}"


def callback_query(browser, site):
    """The query the browser arrived at the callback with (checked against what the
    callback server itself received)."""
    url = browser.at(site["app"].callback + "?")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    path, received = site["app"].hits[-1]
    assert (path, received) == ("/callback", query), "the callback page was not served to the browser"
    assert browser.by_id("heading").text == "Back at the application"
    return query


def sign_in_page(browser, site, url):
    """Opens the authorization URL; the browser must land on the domain's sign-in page."""
    browser.driver.get(url)
    browser.at(f"{site['base']}/login?")
    assert browser.driver.title == "Sign in"
    assert browser.by_id("signInFormUsername").get_attribute("name") == "username"
    assert browser.by_id("signInFormPassword").get_attribute("type") == "password"


def submit_login(browser, username, password):
    browser.type(browser.by_id("signInFormUsername"), username)
    browser.type(browser.by_id("signInFormPassword"), password)
    browser.by_name("signInSubmitButton").click()


def exchange(site, code, verifier):
    r = requests.post(site["doc"]["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "client_id": site["client_id"], "code": code,
        "redirect_uri": site["app"].callback, "code_verifier": verifier})
    assert r.status_code == 200, r.text
    return r.json()


def id_claims(site, token, nonce):
    keys = JsonWebKey.import_key_set(requests.get(site["doc"]["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], keys, claims_options={
        "iss": {"essential": True, "value": site["issuer"]},
        "aud": {"essential": True, "value": site["client_id"]},
        "nonce": {"essential": True, "value": nonce},
        "token_use": {"essential": True, "value": "id"}})
    claims.validate()
    return claims


# --- the tests ---------------------------------------------------------------------------

def test_sign_in_with_pkce_wrong_then_right_password(browser, site):
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    sign_in_page(browser, site, authorize_url(site, state=state, nonce=nonce, code_challenge=challenge,
                                              code_challenge_method="S256"))
    assert "Sign in with your username and password" in browser.text()
    browser.shot("sign-in")
    # The page set its CSRF cookie on the domain's own host, HttpOnly and SameSite=Lax.
    csrf = browser.driver.get_cookie("XSRF-TOKEN")
    assert csrf and csrf["httpOnly"] and csrf["sameSite"] == "Lax" and csrf["domain"] == site["host"].split(":")[0]

    submit_login(browser, "alice", "Wrong-Passw0rd!")
    error = browser.until("the sign-in error", lambda d: d.find_elements("id", "loginErrorMessage"))[0]
    assert error.is_displayed() and error.text == "Incorrect username or password."
    assert browser.driver.current_url.startswith(f"{site['base']}/login?")
    assert browser.by_id("signInFormUsername").get_attribute("value") == "alice"
    assert browser.by_id("signInFormPassword").get_attribute("value") == ""
    browser.shot("wrong-password")

    submit_login(browser, "alice", PASSWORD)
    query = callback_query(browser, site)
    assert set(query) == {"code", "state"} and query["state"] == [state]
    browser.shot("callback")

    token = exchange(site, query["code"][0], verifier)
    assert token["token_type"] == "Bearer" and {"access_token", "id_token", "refresh_token"} <= set(token)
    claims = id_claims(site, token, nonce)
    assert claims["cognito:username"] == "alice" and claims["email"] == "alice@example.com"
    # The code was single use.
    r = requests.post(site["doc"]["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "client_id": site["client_id"], "code": query["code"][0],
        "redirect_uri": site["app"].callback, "code_verifier": verifier})
    assert (r.status_code, r.json()) == (400, {"error": "invalid_grant"})


def test_temporary_password_through_the_change_password_page(browser, site):
    idp, pool_id = site["idp"], site["pool"]["Id"]
    username = f"bob-{uuid.uuid4().hex[:6]}"
    idp.admin_create_user(UserPoolId=pool_id, Username=username, TemporaryPassword="Temp-Passw0rd!",
                          MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "bob@example.com"},
                                          {"Name": "email_verified", "Value": "true"}])
    verifier, challenge = pkce()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    sign_in_page(browser, site, authorize_url(site, state=state, nonce=nonce, code_challenge=challenge,
                                              code_challenge_method="S256"))
    browser.shot("sign-in")
    submit_login(browser, username, "Temp-Passw0rd!")
    # The challenge page answers the form's POST (the URL stays /login?...; the form posts
    # to /changePassword?...).
    browser.until("the change-password page", lambda d: d.title == "Change Password")
    form = browser.driver.find_element("tag name", "form")
    assert form.get_attribute("action").startswith(f"{site['base']}/changePassword?")
    field = browser.by_id("new_password")
    assert field.get_attribute("name") == "new_password" and field.get_attribute("type") == "password"
    browser.shot("change-password")

    # A password the pool's policy refuses: the page again, with the reason; the sign-in goes on.
    browser.type(browser.by_id("new_password"), "short")
    browser.by_name("submitButton").click()
    error = browser.until("the change-password error",
                          lambda d: d.find_elements("id", "challengeErrorMessage"))[0]
    assert error.is_displayed() and "assword" in error.text, error.text
    assert browser.driver.title == "Change Password"
    browser.shot("change-password-refused")

    browser.type(browser.by_id("new_password"), "New-Passw0rd!")
    browser.by_name("submitButton").click()
    query = callback_query(browser, site)
    assert set(query) == {"code", "state"} and query["state"] == [state]
    browser.shot("callback")
    assert idp.admin_get_user(UserPoolId=pool_id, Username=username)["UserStatus"] == "CONFIRMED"
    claims = id_claims(site, exchange(site, query["code"][0], verifier), nonce)
    assert claims["cognito:username"] == username


def test_sign_out_ends_the_hosted_session(browser, site):
    state = secrets.token_urlsafe(16)
    sign_in_page(browser, site, authorize_url(site, state=state))
    submit_login(browser, "alice", PASSWORD)
    assert callback_query(browser, site)["state"] == [state]
    browser.shot("signed-in")

    # The hosted session (its cookie) answers the next authorization at once.
    browser.driver.get(authorize_url(site, state="again", prompt="none"))
    query = callback_query(browser, site)
    assert set(query) == {"code", "state"} and query["state"] == ["again"]
    browser.shot("prompt-none-signed-in")

    logout = f"{site['base']}/logout?" + urllib.parse.urlencode(
        {"client_id": site["client_id"], "logout_uri": site["app"].signed_out})
    browser.driver.get(logout)
    browser.at(site["app"].signed_out)
    assert browser.by_id("heading").text == "Signed out"
    assert site["app"].hits[-1][0] == "/signed-out"
    browser.shot("signed-out")

    browser.driver.get(authorize_url(site, state="after", prompt="none"))
    query = callback_query(browser, site)
    assert query == {"error": ["login_required"], "state": ["after"]}
    browser.shot("prompt-none-login-required")

    # Without prompt=none the sign-in page asks again.
    sign_in_page(browser, site, authorize_url(site, state="later"))
    browser.shot("sign-in-again")


def test_unregistered_redirect_uri_ends_on_the_error_page(browser, site):
    browser.driver.get(authorize_url(site, redirect_uri="https://evil.example.com/cb"))
    browser.at(f"{site['base']}/error?error=redirect_mismatch")
    assert browser.driver.title == "Error"
    assert browser.by_id("errorMessage").text == "redirect_mismatch"
    assert "An error was encountered with the requested page." in browser.text()
    browser.shot("error")
