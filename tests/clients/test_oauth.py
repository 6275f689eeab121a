"""The hosted sign-in pages and the OAuth 2.0 / OpenID Connect endpoints, driven by a
standard OIDC client library (authlib: discovery, the code flow with PKCE, token
verification against the JWKS, userinfo, refresh, revocation, client_credentials) and by
plain HTTP for the pages' forms (the browser walk is tests/browser)."""

import base64
import hashlib
import html
import json
import re
import secrets
import time
import urllib.parse
import uuid

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt

from conftest import PASSWORD, make_user

CALLBACK = "http://localhost:8765/callback"
SIGNED_OUT = "http://localhost:8765/signed-out"


@pytest.fixture
def site(idp, server):
    """A pool with a prefix domain, a resource server, a public code-flow client, a
    confidential machine client, and a confirmed user."""
    p = idp.create_user_pool(PoolName=f"oauth-{uuid.uuid4().hex[:6]}", AutoVerifiedAttributes=["email"])["UserPool"]
    domain = f"login-{uuid.uuid4().hex[:10]}"
    idp.create_user_pool_domain(Domain=domain, UserPoolId=p["Id"])
    idp.create_resource_server(UserPoolId=p["Id"], Identifier="https://api.example.com", Name="api",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "read"},
                                       {"ScopeName": "write", "ScopeDescription": "write"}])
    web = idp.create_user_pool_client(
        UserPoolId=p["Id"], ClientName="web", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email", "profile", "https://api.example.com/read"],
        CallbackURLs=[CALLBACK], LogoutURLs=[SIGNED_OUT], SupportedIdentityProviders=["COGNITO"],
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    m2m = idp.create_user_pool_client(
        UserPoolId=p["Id"], ClientName="m2m", GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["https://api.example.com/read", "https://api.example.com/write"])["UserPoolClient"]
    make_user(idp, p["Id"], "alice", email="alice@example.com")
    issuer = f"{server.endpoint}/{p['Id']}"
    yield {"pool": p, "domain": domain, "web": web, "m2m": m2m, "issuer": issuer,
           "base": f"{server.endpoint}/{domain}"}
    idp.delete_user_pool(UserPoolId=p["Id"])


def discover(issuer):
    r = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200
    return r.json()


def pkce():
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def form_fields(page):
    fields = {}
    for tag in re.findall(r'<input type="hidden"[^>]*>', page):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        fields[name.group(1)] = html.unescape(value.group(1))
    return fields


def sign_in(browser, authorize_url, username="alice", password=PASSWORD):
    """Follows /oauth2/authorize to the sign-in page and posts the form; the final
    redirect (to the client) is returned, not followed."""
    r = browser.get(authorize_url, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    login = r.headers["Location"]
    assert "/login?" in login
    page = browser.get(login, timeout=10)
    assert page.status_code == 200 and 'name="username"' in page.text
    fields = form_fields(page.text)
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    return browser.post(action, data={**fields, "username": username, "password": password},
                        allow_redirects=False, timeout=10)


def test_discovery_document_lists_the_domain_endpoints(site):
    doc = discover(site["issuer"])
    base = site["base"]
    assert doc == {
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "end_session_endpoint": f"{base}/logout",
        "id_token_signing_alg_values_supported": ["RS256"],
        "issuer": site["issuer"],
        "jwks_uri": f"{site['issuer']}/.well-known/jwks.json",
        "response_types_supported": ["code", "token"],
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "subject_types_supported": ["public"],
        "token_endpoint": f"{base}/oauth2/token",
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "userinfo_endpoint": f"{base}/oauth2/userInfo",
    }
    assert list(json.loads(requests.get(f"{site['issuer']}/.well-known/openid-configuration").text)) == sorted(doc)


def test_code_flow_with_pkce_through_authlib(site, idp):
    doc = discover(site["issuer"])
    client = OAuth2Session(site["web"]["ClientId"], redirect_uri=CALLBACK,
                           scope="openid email https://api.example.com/read", code_challenge_method="S256")
    verifier = secrets.token_urlsafe(64)
    nonce = secrets.token_urlsafe(16)
    url, state = client.create_authorization_url(doc["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    browser = requests.Session()
    back = sign_in(browser, url)
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    assert q["state"] == [state]
    token = client.fetch_token(doc["token_endpoint"], authorization_response=location, code_verifier=verifier)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert {"access_token", "id_token", "refresh_token"} <= set(token)
    # The ID token verifies against the JWKS, with the nonce, the audience and at_hash.
    keys = JsonWebKey.import_key_set(requests.get(doc["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], keys, claims_options={
        "iss": {"essential": True, "value": site["issuer"]},
        "aud": {"essential": True, "value": site["web"]["ClientId"]},
        "nonce": {"essential": True, "value": nonce}})
    claims.validate()
    assert claims["email"] == "alice@example.com" and claims["cognito:username"] == "alice"
    digest = hashlib.sha256(token["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    access = jwt.decode(token["access_token"], keys)
    assert access["scope"] == "openid email https://api.example.com/read"
    assert access["version"] == 2 and access["username"] == "alice" and access["token_use"] == "access"
    assert access["auth_time"] == claims["auth_time"]
    # userInfo: the attributes the scopes open, as strings.
    info = client.get(doc["userinfo_endpoint"], timeout=10)
    assert info.status_code == 200
    assert info.json() == {"sub": claims["sub"], "email": "alice@example.com", "email_verified": "true",
                           "username": "alice"}
    # The hosted-flow token has no aws.cognito.signin.user.admin: the user API refuses it.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=token["access_token"])
    # Refresh: new tokens with the same scopes and auth_time (oidc-client-ts checks it).
    time.sleep(1)
    fresh = client.refresh_token(doc["token_endpoint"], refresh_token=token["refresh_token"])
    again = jwt.decode(fresh["id_token"], keys)
    assert again["auth_time"] == claims["auth_time"] and "nonce" not in again
    assert jwt.decode(fresh["access_token"], keys)["scope"] == access["scope"]
    assert "refresh_token" not in fresh or fresh["refresh_token"] == token["refresh_token"]
    # The code is single use.
    code = q["code"][0]
    r = requests.post(doc["token_endpoint"], data={"grant_type": "authorization_code", "code": code,
                                                   "client_id": site["web"]["ClientId"], "redirect_uri": CALLBACK,
                                                   "code_verifier": verifier}, timeout=10)
    assert (r.status_code, r.json()) == (400, {"error": "invalid_grant"})
    # Revocation ends the refresh token and the access tokens issued with it.
    r = requests.post(doc["revocation_endpoint"], data={"token": token["refresh_token"],
                                                        "client_id": site["web"]["ClientId"]}, timeout=10)
    assert (r.status_code, r.text) == (200, "")
    r = requests.post(doc["token_endpoint"], data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                                                   "client_id": site["web"]["ClientId"]}, timeout=10)
    assert r.json() == {"error": "invalid_grant"}
    r = requests.get(doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_token_endpoint_refusals(site):
    doc = discover(site["issuer"])
    verifier, challenge = pkce()
    cid = site["web"]["ClientId"]
    q = urllib.parse.urlencode({"response_type": "code", "client_id": cid, "redirect_uri": CALLBACK,
                                "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"})
    back = sign_in(requests.Session(), f"{doc['authorization_endpoint']}?{q}")
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(back.headers["Location"]).query)["code"][0]
    post = lambda **data: requests.post(doc["token_endpoint"], data=data, timeout=10)  # noqa: E731
    base = {"grant_type": "authorization_code", "client_id": cid, "code": code, "redirect_uri": CALLBACK}
    assert post(**{**base, "code_verifier": "wrong" * 10}).json() == {"error": "invalid_grant"}
    assert post(**base).json() == {"error": "invalid_grant"}  # the verifier is required
    assert post(**{**base, "redirect_uri": CALLBACK + "/", "code_verifier": verifier}).json() == {"error": "invalid_grant"}
    assert post(**{**base, "code": "not-a-code", "code_verifier": verifier}).json() == {"error": "invalid_grant"}
    assert post(**{**base, "client_id": "nope", "code_verifier": verifier}).json() == {"error": "invalid_client"}
    assert post(**{**base, "grant_type": "password"}).json() == {"error": "unsupported_grant_type"}
    assert post(client_id=cid).json() == {"error": "invalid_request"}
    assert post(grant_type="client_credentials", client_id=cid).json() == {"error": "unauthorized_client"}
    # The refusals above did not spend the code: the right exchange still works, once.
    ok = post(**{**base, "code_verifier": verifier})
    assert ok.status_code == 200 and "id_token" in ok.json()
    # `openid` alone opens every attribute the client may read (the developer guide).
    info = requests.get(doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {ok.json()['access_token']}"},
                        timeout=10).json()
    assert info["email"] == "alice@example.com" and info["email_verified"] == "true" and info["username"] == "alice"
    r = requests.post(doc["token_endpoint"], json=base, timeout=10)
    assert (r.status_code, r.json()) == (400, {"error": "invalid_request"})


def test_authorize_refusals(site):
    doc = discover(site["issuer"])
    cid = site["web"]["ClientId"]
    go = lambda **q: requests.get(doc["authorization_endpoint"], params=q, allow_redirects=False, timeout=10)  # noqa: E731
    # An unregistered redirect URI is never redirected to.
    r = go(response_type="code", client_id=cid, redirect_uri="https://evil.example.com/cb")
    assert r.status_code == 302
    assert r.headers["Location"] == f"{site['base']}/error?error=redirect_mismatch&client_id={cid}"
    page = requests.get(r.headers["Location"], timeout=10)
    assert page.status_code == 400 and "An error was encountered with the requested page." in page.text
    r = go(response_type="code", client_id="unknown", redirect_uri=CALLBACK)
    assert "/error?error=invalid_request" in r.headers["Location"]
    # The rest goes back to the client with error= (and the state).
    for q, error in [({"response_type": "id_token"}, "invalid_request"),
                     ({"response_type": "token"}, "unauthorized_client"),
                     ({"response_type": "code", "scope": "openid phone"}, "invalid_scope"),
                     ({"response_type": "code", "scope": "email"}, "invalid_scope"),
                     ({"response_type": "code", "code_challenge": "x" * 43, "code_challenge_method": "plain"},
                      "invalid_request")]:
        r = go(client_id=cid, redirect_uri=CALLBACK, state="s1", **q)
        loc = urllib.parse.urlsplit(r.headers["Location"])
        params = urllib.parse.parse_qs(loc.query or loc.fragment)
        assert f"{loc.scheme}://{loc.netloc}{loc.path}" == CALLBACK, q
        assert params == {"error": [error], "state": ["s1"]}, q
    r = go(client_id=cid, redirect_uri=CALLBACK, response_type="code", prompt="none", state="s2")
    assert r.headers["Location"] == f"{CALLBACK}?error=login_required&state=s2"
    # Unknown paths on the domain.
    r = requests.get(f"{site['base']}/oauth2/nothing", timeout=10)
    assert (r.status_code, r.json()) == (404, {"error": "This URL doesn't exist on the authorization server."})


def test_hosted_session_sign_out_and_the_host_name_form(site, server):
    doc = discover(site["issuer"])
    cid = site["web"]["ClientId"]
    browser = requests.Session()
    q = {"response_type": "code", "client_id": cid, "redirect_uri": CALLBACK, "scope": "openid"}
    url = f"{doc['authorization_endpoint']}?{urllib.parse.urlencode(q)}"
    assert sign_in(browser, url).headers["Location"].startswith(CALLBACK + "?code=")
    # Signed in: the next authorization answers at once, even with prompt=none.
    r = browser.get(url + "&prompt=none", allow_redirects=False, timeout=10)
    assert r.headers["Location"].startswith(CALLBACK + "?code=")
    # prompt=login asks again.
    r = browser.get(url + "&prompt=login", allow_redirects=False, timeout=10)
    assert "/login?" in r.headers["Location"]
    # Sign-out: only to a registered logout URI; the session ends.
    bad = browser.get(f"{site['base']}/logout", params={"client_id": cid, "logout_uri": "https://evil.example.com"},
                      allow_redirects=False, timeout=10)
    assert "/error?" in bad.headers["Location"]
    r = browser.get(doc["end_session_endpoint"], params={"client_id": cid, "logout_uri": SIGNED_OUT},
                    allow_redirects=False, timeout=10)
    assert r.headers["Location"] == SIGNED_OUT
    r = browser.get(url + "&prompt=none", allow_redirects=False, timeout=10)
    assert r.headers["Location"].startswith(CALLBACK + "?error=login_required")
    # The host-name form: <prefix>.auth.<region>.localhost:<port>, on the same port.
    host = f"{site['domain']}.auth.us-east-1.localhost:{server.port}"
    r = requests.get(f"{server.endpoint}/oauth2/authorize", params=q, headers={"Host": host},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(f"http://{host}/login?")


def test_wrong_password_csrf_and_new_password_on_the_pages(site, idp):
    doc = discover(site["issuer"])
    cid = site["web"]["ClientId"]
    q = {"response_type": "code", "client_id": cid, "redirect_uri": CALLBACK, "scope": "openid", "state": "xyz"}
    url = f"{doc['authorization_endpoint']}?{urllib.parse.urlencode(q)}"
    wrong = sign_in(requests.Session(), url, password="Wrong-Passw0rd!")
    assert wrong.status_code == 200 and "Incorrect username or password." in wrong.text
    # A form posted without its CSRF cookie is refused.
    browser = requests.Session()
    login = browser.get(url, timeout=10)
    fields = form_fields(login.text)
    r = requests.post(login.url, data={**fields, "username": "alice", "password": PASSWORD},
                      allow_redirects=False, timeout=10)
    assert r.status_code == 403
    # Nor does a cookie planted with a form token that equals it (the token is derived).
    planted = "p" * 43
    r = requests.post(login.url, data={**fields, "_csrf": planted, "username": "alice", "password": PASSWORD},
                      cookies={"XSRF-TOKEN": planted}, allow_redirects=False, timeout=10)
    assert r.status_code == 403
    # A user with a temporary password sets a new one on the pages, then is sent back.
    idp.admin_create_user(UserPoolId=site["pool"]["Id"], Username="bob", TemporaryPassword="Temp-Passw0rd!",
                          MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "bob@example.com"},
                                          {"Name": "email_verified", "Value": "true"}])
    browser = requests.Session()
    page = sign_in(browser, url, username="bob", password="Temp-Passw0rd!")
    assert page.status_code == 200 and 'name="new_password"' in page.text
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    assert "/changePassword?" in action
    back = browser.post(action, data={**form_fields(page.text), "new_password": "New-Passw0rd!"},
                        allow_redirects=False, timeout=10)
    assert back.status_code == 302 and back.headers["Location"].startswith(CALLBACK + "?code=")
    assert "state=xyz" in back.headers["Location"]
    assert idp.admin_get_user(UserPoolId=site["pool"]["Id"], Username="bob")["UserStatus"] == "CONFIRMED"


def test_client_credentials_for_a_resource_servers_scopes(site):
    doc = discover(site["issuer"])
    m2m = site["m2m"]
    client = OAuth2Session(m2m["ClientId"], m2m["ClientSecret"], token_endpoint_auth_method="client_secret_basic")
    token = client.fetch_token(doc["token_endpoint"], grant_type="client_credentials",
                               scope="https://api.example.com/read")
    assert set(token) >= {"access_token", "expires_in", "token_type"}
    assert "id_token" not in token and "refresh_token" not in token
    keys = JsonWebKey.import_key_set(requests.get(doc["jwks_uri"], timeout=10).json())
    access = jwt.decode(token["access_token"], keys)
    assert access["sub"] == m2m["ClientId"] and access["client_id"] == m2m["ClientId"]
    assert access["scope"] == "https://api.example.com/read" and access["token_use"] == "access"
    assert "username" not in access and access["iss"] == site["issuer"]
    # No scope: every scope the client is allowed; client_secret_post works too.
    r = requests.post(doc["token_endpoint"], data={"grant_type": "client_credentials", "client_id": m2m["ClientId"],
                                                   "client_secret": m2m["ClientSecret"]}, timeout=10)
    assert jwt.decode(r.json()["access_token"], keys)["scope"] == \
        "https://api.example.com/read https://api.example.com/write"
    post = lambda **data: requests.post(doc["token_endpoint"], data=data, timeout=10).json()  # noqa: E731
    assert post(grant_type="client_credentials", client_id=m2m["ClientId"], client_secret="wrong") == \
        {"error": "invalid_client"}
    assert post(grant_type="client_credentials", client_id=m2m["ClientId"], client_secret=m2m["ClientSecret"],
                scope="https://api.example.com/admin") == {"error": "invalid_scope"}
    # A machine token is not a user's: userInfo refuses it.
    r = requests.get(doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)
    assert r.status_code == 401


# A 1x1 PNG.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def test_ui_customization_reaches_the_pages(site, idp):
    pid, cid = site["pool"]["Id"], site["web"]["ClientId"]
    css = ".submitButton-customizable { background-color: rgb(10, 120, 40); }"
    r = idp.set_ui_customization(UserPoolId=pid, CSS=".banner-customizable { padding: 2em; }")["UICustomization"]
    assert r["ClientId"] == "ALL" and re.fullmatch(r"\d{14}", r["CSSVersion"])
    r = idp.set_ui_customization(UserPoolId=pid, ClientId=cid, CSS=css, ImageFile=PNG)["UICustomization"]
    assert r["ClientId"] == cid and r["CSS"] == css and isinstance(r["CreationDate"], type(r["LastModifiedDate"]))
    assert requests.get(r["ImageUrl"], timeout=10).content == PNG
    got = idp.get_ui_customization(UserPoolId=pid, ClientId=cid)["UICustomization"]
    assert got["CSS"] == css and got["ImageUrl"] == r["ImageUrl"]
    assert idp.get_ui_customization(UserPoolId=pid)["UICustomization"]["CSS"] == ".banner-customizable { padding: 2em; }"
    q = urllib.parse.urlencode({"response_type": "code", "client_id": cid, "redirect_uri": CALLBACK})
    page = requests.get(f"{site['base']}/login?{q}", timeout=10).text
    assert css in page and 'class="logo-customizable" src="data:image/png;base64,' in page
    for bad in ["body { color: red; }", ".submitButton-customizable { color: red; } </style><script>alert(1)</script>",
                "@import url(https://evil.example.com/x.css);"]:
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.set_ui_customization(UserPoolId=pid, ClientId=cid, CSS=bad)
        assert "is not in the list of allowed classes." in e.value.response["Error"]["Message"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.set_ui_customization(UserPoolId=pid, ClientId=cid, ImageFile=b"GIF89a....")
    bare = idp.create_user_pool(PoolName="no-domain")["UserPool"]
    try:
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.set_ui_customization(UserPoolId=bare["Id"], CSS=css)
        assert e.value.response["Error"]["Message"] == "A domain must be associated with this user pool."
    finally:
        idp.delete_user_pool(UserPoolId=bare["Id"])


def follow(browser, url, until):
    """Follows redirects by hand until a Location starts with `until`; the pages met on the
    way (a sign-in form) are returned for the caller to post."""
    while True:
        r = browser.get(url, allow_redirects=False, timeout=20)
        if r.status_code != 302:
            return r, None
        url = r.headers["Location"]
        if url.startswith(until):
            return r, url


def test_sign_in_through_an_oidc_provider_and_linking(site, idp, server, lambdas):
    """A second pool of this server is the OIDC provider: its hosted pages sign the user in,
    and the first pool gets a federated user from its ID token."""
    upstream = idp.create_user_pool(PoolName=f"upstream-{uuid.uuid4().hex[:6]}")["UserPool"]
    try:
        up_domain = f"idp-{uuid.uuid4().hex[:10]}"
        idp.create_user_pool_domain(Domain=up_domain, UserPoolId=upstream["Id"])
        up_client = idp.create_user_pool_client(
            UserPoolId=upstream["Id"], ClientName="for-app", GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile"], SupportedIdentityProviders=["COGNITO"],
            CallbackURLs=[f"{site['base']}/oauth2/idpresponse"])["UserPoolClient"]
        make_user(idp, upstream["Id"], "carol", email="carol@example.com")
        make_user(idp, upstream["Id"], "erin", email="erin@example.com")
        pid = site["pool"]["Id"]
        idp.create_identity_provider(
            UserPoolId=pid, ProviderName="Corp", ProviderType="OIDC", IdpIdentifiers=["corp.example.com"],
            ProviderDetails={"client_id": up_client["ClientId"], "client_secret": up_client["ClientSecret"],
                             "authorize_scopes": "openid email", "attributes_request_method": "GET",
                             "oidc_issuer": f"{server.endpoint}/{upstream['Id']}"},
            AttributeMapping={"email": "email"})

        # PreSignUp_ExternalProvider on the first sign-in: it sees the mapped attributes
        # and marks the email verified.
        def pre(event):
            event["response"]["autoVerifyEmail"] = True
            return event
        pre_arn = lambdas.register(pre)
        idp.update_user_pool(UserPoolId=pid, AutoVerifiedAttributes=["email"], LambdaConfig={"PreSignUp": pre_arn})
        cid = site["web"]["ClientId"]
        idp.update_user_pool_client(
            UserPoolId=pid, ClientId=cid, AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "email", "profile", "https://api.example.com/read"],
            CallbackURLs=[CALLBACK], LogoutURLs=[SIGNED_OUT], SupportedIdentityProviders=["COGNITO", "Corp"])
        doc = discover(site["issuer"])
        verifier, challenge = pkce()

        def federated_sign_in(username, **pick):
            q = {"response_type": "code", "client_id": cid, "redirect_uri": CALLBACK, "scope": "openid email",
                 "state": "st", "code_challenge": challenge, "code_challenge_method": "S256", **pick}
            browser = requests.Session()
            page, _ = follow(browser, f"{doc['authorization_endpoint']}?{urllib.parse.urlencode(q)}", CALLBACK)
            assert f"/{up_domain}/login?" in page.url, page.url
            action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
            r = browser.post(action, data={**form_fields(page.text), "username": username, "password": PASSWORD},
                             allow_redirects=False, timeout=20)
            assert "/oauth2/idpresponse?" in r.headers["Location"]
            _, back = follow(browser, r.headers["Location"], CALLBACK)
            params = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
            assert params["state"] == ["st"], back
            t = requests.post(doc["token_endpoint"], data={
                "grant_type": "authorization_code", "client_id": cid, "code": params["code"][0],
                "redirect_uri": CALLBACK, "code_verifier": verifier}, timeout=10).json()
            keys = JsonWebKey.import_key_set(requests.get(doc["jwks_uri"], timeout=10).json())
            return jwt.decode(t["id_token"], keys)

        claims = federated_sign_in("carol", identity_provider="Corp")
        carol_sub = idp.admin_get_user(UserPoolId=upstream["Id"], Username="carol")["UserAttributes"]
        carol_sub = next(a["Value"] for a in carol_sub if a["Name"] == "sub")
        assert claims["cognito:username"] == f"corp_{carol_sub}"
        assert claims["email"] == "carol@example.com" and claims["email_verified"] is True
        assert claims["cognito:groups"] == [f"{pid}_Corp"]
        (identity,) = claims["identities"]
        assert identity["providerName"] == "Corp" and identity["userId"] == carol_sub
        assert identity["primary"] == "true" and identity["providerType"] == "OIDC"
        user = idp.admin_get_user(UserPoolId=pid, Username=f"corp_{carol_sub}")
        assert user["UserStatus"] == "EXTERNAL_PROVIDER"
        (event,) = lambdas.received(pre_arn)
        assert event["triggerSource"] == "PreSignUp_ExternalProvider"
        assert event["userName"] == f"corp_{carol_sub}" and event["callerContext"]["clientId"] == cid
        assert event["request"]["userAttributes"]["email"] == "carol@example.com"
        # By IdpIdentifier too; the same user again.
        again = federated_sign_in("carol", idp_identifier="corp.example.com")
        assert again["sub"] == claims["sub"]
        # Linked to a native user, erin's identity signs that user in.
        erin_sub = next(a["Value"] for a in idp.admin_get_user(UserPoolId=upstream["Id"], Username="erin")[
            "UserAttributes"] if a["Name"] == "sub")
        idp.admin_link_provider_for_user(
            UserPoolId=pid, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "alice"},
            SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject",
                        "ProviderAttributeValue": erin_sub})
        linked = federated_sign_in("erin", identity_provider="Corp")
        assert linked["cognito:username"] == "alice"
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.admin_link_provider_for_user(
                UserPoolId=pid, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "alice"},
                SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject",
                            "ProviderAttributeValue": carol_sub})
        assert e.value.response["Error"]["Message"].startswith("Merging is not currently supported")
        # Unknown or disabled providers go back to the client with an error.
        r = requests.get(doc["authorization_endpoint"], params={
            "response_type": "code", "client_id": cid, "redirect_uri": CALLBACK, "identity_provider": "Nope"},
            allow_redirects=False, timeout=10)
        assert r.headers["Location"].startswith(CALLBACK + "?error=invalid_request")
    finally:
        idp.delete_user_pool(UserPoolId=upstream["Id"])


def post_form(browser, page, **values):
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    return browser.post(action, data={**form_fields(page.text), **values}, allow_redirects=False, timeout=10)


def test_sign_up_forgot_password_and_mfa_on_the_pages(site, idp, server):
    import pyotp
    from conftest import code_for
    pid, cid = site["pool"]["Id"], site["web"]["ClientId"]
    q = urllib.parse.urlencode({"response_type": "code", "client_id": cid, "redirect_uri": CALLBACK,
                                "scope": "openid email", "state": "s9"})
    # Sign-up, its code, then the sign-in form with a notice.
    browser = requests.Session()
    page = browser.get(f"{site['base']}/signup?{q}", timeout=10)
    assert page.status_code == 200 and 'name="password"' in page.text
    weak = post_form(browser, page, username="frank", email="frank@example.com", password="short")
    assert 'id="errorMessage"' in weak.text and 'value="frank@example.com"' in weak.text
    confirm = post_form(browser, page, username="frank", email="frank@example.com", password=PASSWORD)
    assert confirm.status_code == 200 and 'name="code"' in confirm.text, confirm.text
    wrong = post_form(browser, confirm, code="000000")
    assert 'id="errorMessage"' in wrong.text
    done = post_form(browser, confirm, code=code_for(server, pid, "frank", "signup"))
    assert "Your account is confirmed" in done.text
    back = post_form(browser, done, username="frank", password=PASSWORD)
    assert back.headers["Location"].startswith(CALLBACK + "?code=") and "state=s9" in back.headers["Location"]
    assert idp.admin_get_user(UserPoolId=pid, Username="frank")["UserStatus"] == "CONFIRMED"
    # A forgotten password: the code from the outbox, a new password, then sign in with it.
    browser = requests.Session()
    page = browser.get(f"{site['base']}/login?{q}", timeout=10)
    assert "/forgotPassword?" in page.text and "/signup?" in page.text
    page = browser.get(f"{site['base']}/forgotPassword?{q}", timeout=10)
    reset = post_form(browser, page, username="alice")
    assert 'name="code"' in reset.text and "a***@e***" in reset.text
    done = post_form(browser, reset, code=code_for(server, pid, "alice", "forgot_password"), password="Reset-Passw0rd!")
    assert "Your password is changed" in done.text
    back = post_form(browser, done, username="alice", password="Reset-Passw0rd!")
    assert back.headers["Location"].startswith(CALLBACK + "?code=")
    # TOTP MFA: the /mfa page asks for the code after the password.
    idp.set_user_pool_mfa_config(UserPoolId=pid, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    api = idp.create_user_pool_client(UserPoolId=pid, ClientName="api",
                                      ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    make_user(idp, pid, "gina", email="gina@example.com")
    token = idp.admin_initiate_auth(UserPoolId=pid, ClientId=api["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "gina", "PASSWORD": PASSWORD})
    access = token["AuthenticationResult"]["AccessToken"]
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    totp = pyotp.TOTP(secret)
    idp.verify_software_token(AccessToken=access, UserCode=totp.now())
    idp.admin_set_user_mfa_preference(UserPoolId=pid, Username="gina",
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    browser = requests.Session()
    mfa = sign_in(browser, f"{site['base']}/oauth2/authorize?{q}", username="gina")
    assert mfa.status_code == 200 and 'name="authentication_code"' in mfa.text
    assert "/mfa?" in mfa.text
    time.sleep(max(0, 30 - time.time() % 30) + 1)  # a fresh step: the set-up used the last one
    back = post_form(browser, mfa, authentication_code=totp.now())
    assert back.status_code == 302 and back.headers["Location"].startswith(CALLBACK + "?code="), back.text


def test_sealed_things_do_not_stand_in_for_each_other(site, idp):
    """A code is not a session cookie; a page's challenge Session is not an API Session."""
    cid = site["web"]["ClientId"]
    q = {"response_type": "code", "client_id": cid, "redirect_uri": CALLBACK, "scope": "openid"}
    url = f"{site['base']}/oauth2/authorize?{urllib.parse.urlencode(q)}"
    back = sign_in(requests.Session(), url)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(back.headers["Location"]).query)["code"][0]
    r = requests.get(url + "&prompt=none", cookies={"userpool-session": code}, allow_redirects=False, timeout=10)
    assert r.headers["Location"].startswith(CALLBACK + "?error=login_required")
    # A temporary-password user's page Session, sent to the JSON API, is refused.
    idp.admin_create_user(UserPoolId=site["pool"]["Id"], Username="hank", TemporaryPassword="Temp-Passw0rd!",
                          MessageAction="SUPPRESS")
    page = sign_in(requests.Session(), url, username="hank", password="Temp-Passw0rd!")
    session = form_fields(page.text)["session"]
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.respond_to_auth_challenge(ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
                                      ChallengeResponses={"USERNAME": "hank", "NEW_PASSWORD": "New-Passw0rd!"})
    assert idp.admin_get_user(UserPoolId=site["pool"]["Id"], Username="hank")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
