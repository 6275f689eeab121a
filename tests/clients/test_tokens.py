"""Tokens: claims as Cognito issues them, signatures verified against the JWKS (PyJWT and
pycognito's own verification), and every refusal of a bad access token."""

import base64
import json
import time

import jwt as pyjwt
import pytest
import requests
from pycognito import Cognito

from conftest import PASSWORD, make_user


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(token):
    return pyjwt.decode(token, options={"verify_signature": False})


def sign_in(idp, client_id, username="alice"):
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD})["AuthenticationResult"]


def test_claims(server, idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice", **{"custom:tenant": "acme"})
    res = sign_in(idp, client["ClientId"])
    iss = f"{server.endpoint}/{pool['Id']}"
    a, i = claims(res["AccessToken"]), claims(res["IdToken"])
    sub = next(x["Value"] for x in idp.admin_get_user(UserPoolId=pool["Id"], Username="alice")["UserAttributes"]
               if x["Name"] == "sub")
    assert a["iss"] == iss and i["iss"] == iss
    assert a["token_use"] == "access" and i["token_use"] == "id"
    assert a["client_id"] == client["ClientId"] and "aud" not in a
    assert i["aud"] == client["ClientId"]
    assert a["scope"] == "aws.cognito.signin.user.admin"
    assert a["username"] == "alice" and i["cognito:username"] == "alice"
    assert a["sub"] == sub == i["sub"]
    assert i["email"] == "alice@example.com" and i["email_verified"] is True
    assert i["custom:tenant"] == "acme"
    assert a["exp"] - a["iat"] == 3600 and isinstance(a["iat"], int)
    assert abs(a["auth_time"] - time.time()) < 60
    for c in (a, i):
        assert c["jti"] and c["origin_jti"] and c["event_id"]
    assert a["origin_jti"] == i["origin_jti"]
    assert "device_key" not in a
    ha, hi = pyjwt.get_unverified_header(res["AccessToken"]), pyjwt.get_unverified_header(res["IdToken"])
    assert ha["alg"] == hi["alg"] == "RS256"
    assert ha["kid"] != hi["kid"]  # two keys, as Cognito uses


def test_jwks_verifies_both_tokens(server, idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice")
    res = sign_in(idp, client["ClientId"])
    jwks = requests.get(f"{server.endpoint}/{pool['Id']}/.well-known/jwks.json", timeout=10).json()
    assert len(jwks["keys"]) == 2
    for k in jwks["keys"]:
        assert k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and k["e"] == "AQAB"
    client_jwks = pyjwt.PyJWKSet.from_dict(jwks)
    for token, aud in [(res["AccessToken"], None), (res["IdToken"], client["ClientId"])]:
        kid = pyjwt.get_unverified_header(token)["kid"]
        key = next(k for k in client_jwks.keys if k.key_id == kid)
        pyjwt.decode(token, key.key, algorithms=["RS256"], audience=aud,
                     issuer=f"{server.endpoint}/{pool['Id']}", options={"verify_aud": aud is not None})
    oidc = requests.get(f"{server.endpoint}/{pool['Id']}/.well-known/openid-configuration", timeout=10).json()
    assert oidc["issuer"] == f"{server.endpoint}/{pool['Id']}"
    assert oidc["jwks_uri"].endswith("/.well-known/jwks.json")
    r = requests.get(f"{server.endpoint}/us-east-1_nope/.well-known/jwks.json", timeout=10)
    assert r.status_code == 400 and r.json()["__type"] == "ResourceNotFoundException"


def test_other_pools_have_other_keys(server, idp, app):
    pool, _ = app
    other = idp.create_user_pool(PoolName="other")["UserPool"]
    try:
        mine = requests.get(f"{server.endpoint}/{pool['Id']}/.well-known/jwks.json", timeout=10).json()
        theirs = requests.get(f"{server.endpoint}/{other['Id']}/.well-known/jwks.json", timeout=10).json()
        assert not {k["n"] for k in mine["keys"]} & {k["n"] for k in theirs["keys"]}
    finally:
        idp.delete_user_pool(UserPoolId=other["Id"])


def test_pycognito_sign_in_refresh_and_verification(server, idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice")
    u = Cognito(pool["Id"], client["ClientId"], username="alice", user_pool_region="us-east-1",
                boto3_client_kwargs={"endpoint_url": server.endpoint, "aws_access_key_id": "test",
                                     "aws_secret_access_key": "test"})
    u.authenticate(password=PASSWORD)  # USER_SRP_AUTH, then verify_token on both tokens via our JWKS
    assert u.access_claims["username"] == "alice"
    assert u.id_claims["email"] == "alice@example.com"
    old = u.access_token
    u.renew_access_token()  # REFRESH_TOKEN_AUTH, verified again
    assert u.access_token != old
    assert u.get_user().username == "alice"
    with pytest.raises(Exception):
        Cognito(pool["Id"], client["ClientId"], username="alice",
                boto3_client_kwargs={"endpoint_url": server.endpoint, "aws_access_key_id": "test",
                                     "aws_secret_access_key": "test"}).authenticate(password="WrongPassw0rd!")


def refused(idp, token, message):
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.get_user(AccessToken=token)
    assert e.value.response["Error"]["Message"] == message


def test_forged_tokens_are_refused(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice")
    res = sign_in(idp, client["ClientId"])
    h, p, s = res["AccessToken"].split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=="))
    # A changed claim under the old signature.
    payload["username"] = "admin"
    refused(idp, ".".join([h, b64url(json.dumps(payload).encode()), s]), "Invalid Access Token")
    # An unsigned token.
    none = b64url(json.dumps({"alg": "none", "kid": pyjwt.get_unverified_header(res["AccessToken"])["kid"]}).encode())
    refused(idp, ".".join([none, p, ""]), "Invalid Access Token")
    # A token signed by a key of our own making.
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = pyjwt.encode(claims(res["AccessToken"]), key, algorithm="RS256",
                          headers={"kid": pyjwt.get_unverified_header(res["AccessToken"])["kid"]})
    refused(idp, forged, "Invalid Access Token")
    refused(idp, "garbage", "Invalid Access Token")
    # An ID token is not an access token.
    refused(idp, res["IdToken"], "Invalid Access Token")


def test_token_of_another_pool(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice")
    res = sign_in(idp, client["ClientId"])
    other = idp.create_user_pool(PoolName="other")["UserPool"]
    try:
        h, p, s = res["AccessToken"].split(".")
        payload = json.loads(base64.urlsafe_b64decode(p + "=="))
        payload["iss"] = payload["iss"].rsplit("/", 1)[0] + "/" + other["Id"]
        refused(idp, ".".join([h, b64url(json.dumps(payload).encode()), s]), "Invalid Access Token")
    finally:
        idp.delete_user_pool(UserPoolId=other["Id"])


def test_revoked_and_signed_out_tokens(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice")
    res = sign_in(idp, client["ClientId"])
    idp.revoke_token(Token=res["RefreshToken"], ClientId=client["ClientId"])
    refused(idp, res["AccessToken"], "Access Token has been revoked")
    res = sign_in(idp, client["ClientId"])
    idp.global_sign_out(AccessToken=res["AccessToken"])
    refused(idp, res["AccessToken"], "Access Token has been revoked")


def test_token_validity_from_client_settings(idp, app):
    pool, _ = app
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="short", AccessTokenValidity=10,
                                    IdTokenValidity=20, TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes"},
                                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    make_user(idp, pool["Id"], "alice")
    res = sign_in(idp, c["ClientId"])
    assert res["ExpiresIn"] == 600
    a, i = claims(res["AccessToken"]), claims(res["IdToken"])
    assert a["exp"] - a["iat"] == 600 and i["exp"] - i["iat"] == 1200


def secret_hash(username, client):
    import hashlib
    import hmac
    digest = hmac.new(client["ClientSecret"].encode(), (username + client["ClientId"]).encode(),
                      hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_get_tokens_from_refresh_token_and_rotation(idp, app):
    """GetTokensFromRefreshToken (Amplify v6's refresh) and RefreshTokenRotation."""
    pool, client = app
    make_user(idp, pool["Id"], "rot")
    auth = lambda c: idp.initiate_auth(ClientId=c, AuthFlow="USER_PASSWORD_AUTH",  # noqa: E731
                                       AuthParameters={"USERNAME": "rot", "PASSWORD": PASSWORD})["AuthenticationResult"]
    first = auth(client["ClientId"])
    r = idp.get_tokens_from_refresh_token(ClientId=client["ClientId"], RefreshToken=first["RefreshToken"])
    assert r["AuthenticationResult"]["AccessToken"] and "RefreshToken" not in r["AuthenticationResult"]
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_tokens_from_refresh_token(ClientId=client["ClientId"], RefreshToken="not-a-token")

    rotating = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="rotating", GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})["UserPoolClient"]
    start = idp.admin_initiate_auth(
        UserPoolId=pool["Id"], ClientId=rotating["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "rot", "PASSWORD": PASSWORD,
                        "SECRET_HASH": secret_hash("rot", rotating)})["AuthenticationResult"]
    old = start["RefreshToken"]
    with pytest.raises(idp.exceptions.NotAuthorizedException):  # no secret
        idp.get_tokens_from_refresh_token(ClientId=rotating["ClientId"], RefreshToken=old)
    new = idp.get_tokens_from_refresh_token(ClientId=rotating["ClientId"], RefreshToken=old,
                                            ClientSecret=rotating["ClientSecret"])["AuthenticationResult"]
    assert new["RefreshToken"] and new["RefreshToken"] != old
    # REFRESH_TOKEN_AUTH is not how a rotating client refreshes.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(ClientId=rotating["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": new["RefreshToken"],
                                          "SECRET_HASH": secret_hash("rot", rotating)})
    # The old token, past its grace period (0 s): reuse, and the whole sign-in ends.
    time.sleep(0.01)
    with pytest.raises(idp.exceptions.RefreshTokenReuseException):
        idp.get_tokens_from_refresh_token(ClientId=rotating["ClientId"], RefreshToken=old,
                                          ClientSecret=rotating["ClientSecret"])
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.get_tokens_from_refresh_token(ClientId=rotating["ClientId"], RefreshToken=new["RefreshToken"],
                                          ClientSecret=rotating["ClientSecret"])
    assert e.value.response["Error"]["Message"] == "Refresh Token has been revoked"
