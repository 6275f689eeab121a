"""The pool's SAML signing certificate and managed login branding styles, through boto3."""

import base64
import datetime
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa


# ---------------------------------------------------------------------------------------
# GetSigningCertificate


def test_signing_certificate_is_a_pool_x509_certificate(idp, pool):
    cert_b64 = idp.get_signing_certificate(UserPoolId=pool["Id"])["Certificate"]
    assert "BEGIN CERTIFICATE" not in cert_b64
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == pool["Id"]
    assert cert.issuer == cert.subject
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048
    now = datetime.datetime.now(datetime.timezone.utc)
    assert cert.not_valid_before_utc <= now + datetime.timedelta(minutes=1)
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365.25
    assert 9.99 < years < 10.01
    # The same on every call.
    assert idp.get_signing_certificate(UserPoolId=pool["Id"])["Certificate"] == cert_b64


def test_signing_certificate_is_one_per_pool_even_under_concurrent_first_calls(idp, pool):
    other = idp.create_user_pool(PoolName="other")["UserPool"]["Id"]
    try:
        with ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda _: idp.get_signing_certificate(UserPoolId=pool["Id"])["Certificate"],
                              range(8)))
        assert len(set(got)) == 1
        assert idp.get_signing_certificate(UserPoolId=other)["Certificate"] != got[0]
    finally:
        idp.delete_user_pool(UserPoolId=other)


def test_signing_certificate_of_an_unknown_pool(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.get_signing_certificate(UserPoolId="us-east-1_nothere")


def test_signing_certificate_survives_a_restart(fresh_server):
    idp = fresh_server.client()
    p = idp.create_user_pool(PoolName="saml")["UserPool"]["Id"]
    before = idp.get_signing_certificate(UserPoolId=p)["Certificate"]
    fresh_server.restart()
    assert fresh_server.client().get_signing_certificate(UserPoolId=p)["Certificate"] == before


# ---------------------------------------------------------------------------------------
# Managed login branding styles

import re
import urllib.parse
import uuid

import requests

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="#123"/></svg>'
ICO = b"\x00\x00\x01\x00\x01\x00\x01\x01\x00\x00\x01\x00\x18\x00" + b"\x00" * 40
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CALLBACK = "http://localhost:8765/callback"


@pytest.fixture
def client(idp, pool):
    return idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="web")["UserPoolClient"]["ClientId"]


def asset(category, mode="LIGHT", ext="PNG", data=PNG, **extra):
    return {"Category": category, "ColorMode": mode, "Extension": ext, "Bytes": data, **extra}


def refused(exc, fragment, call, **kw):
    with pytest.raises(exc) as e:
        call(**kw)
    assert fragment in e.value.response["Error"]["Message"], e.value.response["Error"]["Message"]
    return e.value.response["Error"]["Message"]


def test_create_describe_update_delete_a_style(idp, pool, client):
    pid = pool["Id"]
    settings = {"components": {"pageBackground": {"lightMode": {"color": "112233ff"}}}}
    made = idp.create_managed_login_branding(
        UserPoolId=pid, ClientId=client, Settings=settings,
        Assets=[asset("FORM_LOGO", ResourceId="logo-1")])["ManagedLoginBranding"]
    bid = made["ManagedLoginBrandingId"]
    assert UUID4.fullmatch(bid)
    assert made["UserPoolId"] == pid and made["UseCognitoProvidedValues"] is False
    assert made["Settings"] == settings
    assert made["Assets"] == [{"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": PNG,
                               "ResourceId": "logo-1"}]
    assert made["CreationDate"] == made["LastModifiedDate"]
    # By id and by client, the customized values only; merged, Cognito's defaults under them.
    by_id = idp.describe_managed_login_branding(UserPoolId=pid, ManagedLoginBrandingId=bid)["ManagedLoginBranding"]
    assert by_id == made
    by_client = idp.describe_managed_login_branding_by_client(UserPoolId=pid, ClientId=client)["ManagedLoginBranding"]
    assert by_client == made
    merged = idp.describe_managed_login_branding_by_client(
        UserPoolId=pid, ClientId=client, ReturnMergedResources=True)["ManagedLoginBranding"]["Settings"]
    assert merged["components"]["pageBackground"]["lightMode"]["color"] == "112233ff"
    assert merged["components"]["pageBackground"]["darkMode"]["color"] == "0f1b2aff"
    assert merged["components"]["primaryButton"]["lightMode"]["defaults"]["backgroundColor"] == "0972d3ff"
    assert merged["categories"]["global"]["colorSchemeMode"] == "LIGHT"
    # An update merges: settings member by member, assets by category and colour mode.
    up = idp.update_managed_login_branding(
        UserPoolId=pid, ManagedLoginBrandingId=bid,
        Settings={"components": {"pageBackground": {"darkMode": {"color": "000000ff"}}}},
        Assets=[asset("PAGE_BACKGROUND", "DARK", "SVG", SVG), asset("FORM_LOGO", ext="SVG", data=SVG)],
    )["ManagedLoginBranding"]
    assert up["ManagedLoginBrandingId"] == bid
    assert up["Settings"] == {"components": {"pageBackground": {"lightMode": {"color": "112233ff"},
                                                                "darkMode": {"color": "000000ff"}}}}
    assert sorted((a["Category"], a["ColorMode"], a["Extension"]) for a in up["Assets"]) == [
        ("FORM_LOGO", "LIGHT", "SVG"), ("PAGE_BACKGROUND", "DARK", "SVG")]
    assert up["CreationDate"] == made["CreationDate"] and up["LastModifiedDate"] >= made["LastModifiedDate"]
    # An asset without Bytes keeps the style's; a null setting removes a customization.
    up = idp.update_managed_login_branding(
        UserPoolId=pid, ManagedLoginBrandingId=bid,
        Settings={"components": {"pageBackground": {"lightMode": None}}},
        Assets=[{"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "SVG", "ResourceId": "logo-2"}],
    )["ManagedLoginBranding"]
    logo = next(a for a in up["Assets"] if a["Category"] == "FORM_LOGO")
    assert logo["Bytes"] == SVG and logo["ResourceId"] == "logo-2"
    assert up["Settings"] == {"components": {"pageBackground": {"darkMode": {"color": "000000ff"}}}}
    # Back to Cognito's values: settings and assets go.
    reset = idp.update_managed_login_branding(UserPoolId=pid, ManagedLoginBrandingId=bid,
                                              UseCognitoProvidedValues=True)["ManagedLoginBranding"]
    assert reset["UseCognitoProvidedValues"] is True and reset["Assets"] == [] and "Settings" not in reset
    idp.delete_managed_login_branding(UserPoolId=pid, ManagedLoginBrandingId=bid)
    refused(idp.exceptions.ResourceNotFoundException, bid, idp.describe_managed_login_branding,
            UserPoolId=pid, ManagedLoginBrandingId=bid)
    refused(idp.exceptions.ResourceNotFoundException, client, idp.describe_managed_login_branding_by_client,
            UserPoolId=pid, ClientId=client)
    refused(idp.exceptions.ResourceNotFoundException, bid, idp.delete_managed_login_branding,
            UserPoolId=pid, ManagedLoginBrandingId=bid)
    # The client may have a new one.
    again = idp.create_managed_login_branding(UserPoolId=pid, ClientId=client, UseCognitoProvidedValues=True)
    assert again["ManagedLoginBranding"]["ManagedLoginBrandingId"] != bid


def test_one_style_per_client(idp, pool, client):
    pid = pool["Id"]
    first = idp.create_managed_login_branding(UserPoolId=pid, ClientId=client, UseCognitoProvidedValues=True)
    assert first["ManagedLoginBranding"]["UseCognitoProvidedValues"] is True
    msg = refused(idp.exceptions.ManagedLoginBrandingExistsException, client, idp.create_managed_login_branding,
                  UserPoolId=pid, ClientId=client, UseCognitoProvidedValues=True)
    assert msg == f"A managed login branding style already exists for app client {client}."
    # Concurrent creates for a fresh client: one wins.
    other = idp.create_user_pool_client(UserPoolId=pid, ClientName="other")["UserPoolClient"]["ClientId"]

    def create(_):
        try:
            return idp.create_managed_login_branding(UserPoolId=pid, ClientId=other,
                                                     UseCognitoProvidedValues=True)["ManagedLoginBranding"]
        except idp.exceptions.ManagedLoginBrandingExistsException:
            return None

    with ThreadPoolExecutor(6) as ex:
        made = [m for m in ex.map(create, range(6)) if m]
    assert len(made) == 1
    got = idp.describe_managed_login_branding_by_client(UserPoolId=pid, ClientId=other)["ManagedLoginBranding"]
    assert got["ManagedLoginBrandingId"] == made[0]["ManagedLoginBrandingId"]
    # Deleting a client deletes its style.
    idp.delete_user_pool_client(UserPoolId=pid, ClientId=other)
    refused(idp.exceptions.ResourceNotFoundException, made[0]["ManagedLoginBrandingId"],
            idp.describe_managed_login_branding, UserPoolId=pid,
            ManagedLoginBrandingId=made[0]["ManagedLoginBrandingId"])


def test_concurrent_updates_are_each_merged(idp, pool, client):
    pid = pool["Id"]
    bid = idp.create_managed_login_branding(UserPoolId=pid, ClientId=client)["ManagedLoginBranding"][
        "ManagedLoginBrandingId"]

    def update(i):
        idp.update_managed_login_branding(UserPoolId=pid, ManagedLoginBrandingId=bid,
                                          Settings={"textContent": {f"key{i}": f"value {i}"}})

    with ThreadPoolExecutor(6) as ex:
        list(ex.map(update, range(6)))
    got = idp.describe_managed_login_branding(UserPoolId=pid, ManagedLoginBrandingId=bid)["ManagedLoginBranding"]
    assert got["Settings"] == {"textContent": {f"key{i}": f"value {i}" for i in range(6)}}


def test_not_found(idp, pool, client):
    pid = pool["Id"]
    nobody = str(uuid.uuid4())
    refused(idp.exceptions.ResourceNotFoundException, "does not exist", idp.create_managed_login_branding,
            UserPoolId="us-east-1_nothere", ClientId=client, UseCognitoProvidedValues=True)
    refused(idp.exceptions.ResourceNotFoundException, "User pool client nothere does not exist.",
            idp.create_managed_login_branding, UserPoolId=pid, ClientId="nothere", UseCognitoProvidedValues=True)
    refused(idp.exceptions.ResourceNotFoundException, f"Managed login branding style {nobody} does not exist.",
            idp.describe_managed_login_branding, UserPoolId=pid, ManagedLoginBrandingId=nobody)
    refused(idp.exceptions.ResourceNotFoundException, nobody, idp.update_managed_login_branding,
            UserPoolId=pid, ManagedLoginBrandingId=nobody, UseCognitoProvidedValues=True)
    refused(idp.exceptions.ResourceNotFoundException, nobody, idp.delete_managed_login_branding,
            UserPoolId=pid, ManagedLoginBrandingId=nobody)
    refused(idp.exceptions.ResourceNotFoundException,
            f"No managed login branding style is assigned to app client {client}.",
            idp.describe_managed_login_branding_by_client, UserPoolId=pid, ClientId=client)
    # A style is found only in its own pool.
    made = idp.create_managed_login_branding(UserPoolId=pid, ClientId=client, UseCognitoProvidedValues=True)
    bid = made["ManagedLoginBranding"]["ManagedLoginBrandingId"]
    other = idp.create_user_pool(PoolName="elsewhere")["UserPool"]["Id"]
    try:
        refused(idp.exceptions.ResourceNotFoundException, bid, idp.describe_managed_login_branding,
                UserPoolId=other, ManagedLoginBrandingId=bid)
        refused(idp.exceptions.ResourceNotFoundException, client, idp.describe_managed_login_branding_by_client,
                UserPoolId=other, ClientId=client)
    finally:
        idp.delete_user_pool(UserPoolId=other)


def test_validation(idp, pool, client):
    pid = pool["Id"]
    bad = idp.exceptions.InvalidParameterException
    create = idp.create_managed_login_branding
    refused(bad, "Settings and Assets must be omitted when UseCognitoProvidedValues is true.", create,
            UserPoolId=pid, ClientId=client, UseCognitoProvidedValues=True, Settings={"components": {}})
    refused(bad, "Settings and Assets must be omitted when UseCognitoProvidedValues is true.", create,
            UserPoolId=pid, ClientId=client, UseCognitoProvidedValues=True, Assets=[asset("FORM_LOGO")])
    refused(bad, "Settings must be a JSON object.", create, UserPoolId=pid, ClientId=client, Settings=["x"])
    refused(bad, "Settings components.form.lightMode.backgroundColor is not a color", create,
            UserPoolId=pid, ClientId=client,
            Settings={"components": {"form": {"lightMode": {"backgroundColor": "red"}}}})
    refused(bad, "is not a valid PNG file.", create, UserPoolId=pid, ClientId=client,
            Assets=[asset("FORM_LOGO", data=b"GIF89a....")])
    refused(bad, "Extension PNG is not allowed for asset category FAVICON_ICO.", create,
            UserPoolId=pid, ClientId=client, Assets=[asset("FAVICON_ICO")])
    refused(bad, "Extension ICO is not allowed for asset category FORM_LOGO.", create,
            UserPoolId=pid, ClientId=client, Assets=[asset("FORM_LOGO", ext="ICO", data=ICO)])
    refused(bad, "Assets holds more than one FORM_LOGO asset for color mode LIGHT.", create,
            UserPoolId=pid, ClientId=client, Assets=[asset("FORM_LOGO"), asset("FORM_LOGO", ext="SVG", data=SVG)])
    refused(bad, "has no Bytes", create, UserPoolId=pid, ClientId=client,
            Assets=[{"Category": "FORM_LOGO", "ColorMode": "LIGHT", "Extension": "PNG"}])
    # The model's constraints, in Cognito's words.
    refused(bad, "failed to satisfy constraint: Member must satisfy enum value set", create,
            UserPoolId=pid, ClientId=client, Assets=[asset("NOT_A_CATEGORY")])
    refused(bad, "Value 'java.nio.HeapByteBuffer[pos=0 lim=1000001 cap=1000001]' at 'assets.1.member.bytes' "
                 "failed to satisfy constraint: Member must have length less than or equal to 1000000",
            create, UserPoolId=pid, ClientId=client, Assets=[asset("FORM_LOGO", data=PNG + b"\0" * (1_000_001 - len(PNG)))])
    refused(bad, "at 'managedLoginBrandingId' failed to satisfy constraint: Member must satisfy regular expression",
            idp.describe_managed_login_branding, UserPoolId=pid, ManagedLoginBrandingId="not-a-uuid")
    refused(bad, "Value null at 'managedLoginBrandingId' failed to satisfy constraint: Member must not be null",
            idp.update_managed_login_branding, UserPoolId=pid, UseCognitoProvidedValues=True)
    # Nothing was created by the refused calls; an ICO favicon and a near-1 MB image are taken
    # (the request may be 2 MB).
    big = PNG + b"\0" * (1_000_000 - len(PNG))
    made = create(UserPoolId=pid, ClientId=client,
                  Assets=[asset("FAVICON_ICO", "DYNAMIC", "ICO", ICO), asset("PAGE_BACKGROUND", data=big)])
    assert len(made["ManagedLoginBranding"]["Assets"]) == 2
    up = idp.update_managed_login_branding
    bid = made["ManagedLoginBranding"]["ManagedLoginBrandingId"]
    refused(bad, "Settings and Assets must be omitted when UseCognitoProvidedValues is true.", up,
            UserPoolId=pid, ManagedLoginBrandingId=bid, UseCognitoProvidedValues=True, Settings={"a": {}})
    refused(bad, "is not a color", up, UserPoolId=pid, ManagedLoginBrandingId=bid,
            Settings={"componentClasses": {"link": {"lightMode": {"defaults": {"textColor": "#0972d3"}}}}})


def test_the_aws_cli_round(server, pool, client):
    made = server.aws("create-managed-login-branding", "--user-pool-id", pool["Id"], "--client-id", client,
                      "--settings", '{"categories": {"global": {"colorSchemeMode": "DARK"}}}')
    bid = made["ManagedLoginBranding"]["ManagedLoginBrandingId"]
    got = server.aws("describe-managed-login-branding", "--user-pool-id", pool["Id"],
                     "--managed-login-branding-id", bid)
    assert got["ManagedLoginBranding"]["Settings"] == {"categories": {"global": {"colorSchemeMode": "DARK"}}}
    server.aws("delete-managed-login-branding", "--user-pool-id", pool["Id"], "--managed-login-branding-id", bid)


# ---------------------------------------------------------------------------------------
# The hosted pages


@pytest.fixture
def hosted(idp, server, pool):
    domain = f"brand-{uuid.uuid4().hex[:10]}"
    idp.create_user_pool_domain(Domain=domain, UserPoolId=pool["Id"], ManagedLoginVersion=2)
    cid = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="web", AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"], CallbackURLs=[CALLBACK],
        SupportedIdentityProviders=["COGNITO"])["UserPoolClient"]["ClientId"]
    q = urllib.parse.urlencode({"response_type": "code", "client_id": cid, "redirect_uri": CALLBACK})
    yield {"domain": domain, "client": cid, "login": f"{server.endpoint}/{domain}/login?{q}"}
    idp.delete_user_pool_domain(Domain=domain, UserPoolId=pool["Id"])


def test_managed_login_pages_show_the_clients_style(idp, pool, hosted):
    pid, cid = pool["Id"], hosted["client"]
    # Managed login without a style: Cognito's pages are unavailable.
    r = requests.get(hosted["login"], timeout=10)
    assert r.status_code == 400 and "Login pages unavailable" in r.text
    idp.create_managed_login_branding(
        UserPoolId=pid, ClientId=cid,
        Settings={"components": {"pageBackground": {"lightMode": {"color": "123456ff"}},
                                 "primaryButton": {"lightMode": {"defaults": {"backgroundColor": "aa0000ff"}}},
                                 "form": {"logo": {"enabled": True}}}},
        Assets=[asset("FORM_LOGO"), asset("PAGE_BACKGROUND", "DYNAMIC", "SVG", SVG),
                asset("FAVICON_ICO", "LIGHT", "ICO", ICO)])
    r = requests.get(hosted["login"], timeout=10)
    assert r.status_code == 200, r.text
    page = r.text
    assert "background-color: #123456ff" in page
    assert ".submitButton-customizable { background-color: #aa0000ff" in page
    assert 'class="logo-customizable" src="data:image/png;base64,' + base64.b64encode(PNG).decode() in page
    assert 'background-image: url("data:image/svg+xml;base64,' + base64.b64encode(SVG).decode() in page
    assert '<link rel="icon" href="data:image/x-icon;base64,' in page
    # The classic branding does not apply to a managed login domain...
    idp.set_ui_customization(UserPoolId=pid, ClientId=cid, CSS=".banner-customizable { padding: 7em; }")
    assert "padding: 7em" not in requests.get(hosted["login"], timeout=10).text
    # ...and the style does not apply to a classic hosted UI domain.
    idp.update_user_pool_domain(Domain=hosted["domain"], UserPoolId=pid, ManagedLoginVersion=1)
    classic = requests.get(hosted["login"], timeout=10).text
    assert "padding: 7em" in classic and "#123456ff" not in classic


def test_a_dark_scheme_shows_the_dark_values(idp, pool, hosted):
    idp.create_managed_login_branding(
        UserPoolId=pool["Id"], ClientId=hosted["client"],
        Settings={"categories": {"global": {"colorSchemeMode": "DARK"}},
                  "components": {"pageBackground": {"darkMode": {"color": "010203ff"}}}})
    page = requests.get(hosted["login"], timeout=10).text
    assert "body { background-color: #010203ff" in page
    # Cognito's dark default for the primary button.
    assert ".submitButton-customizable { background-color: #539fe5ff" in page
