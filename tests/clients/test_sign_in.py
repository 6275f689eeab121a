"""Password sign-in, refresh, NEW_PASSWORD_REQUIRED, client settings, and the
user-facing operations authorised by access tokens, through boto3 and the AWS CLI."""

import base64
import hashlib
import hmac

import pytest

from conftest import PASSWORD, make_user


def password_auth(idp, client_id, username, password=PASSWORD, **params):
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password, **params})


def test_user_password_auth(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice")
    r = password_auth(idp, client["ClientId"], "alice")
    res = r["AuthenticationResult"]
    assert res["TokenType"] == "Bearer" and res["ExpiresIn"] == 3600
    assert res["AccessToken"].count(".") == 2 and res["IdToken"].count(".") == 2 and res["RefreshToken"]
    assert r["ChallengeParameters"] == {}
    assert "NewDeviceMetadata" not in res  # the pool has no DeviceConfiguration
    u = idp.get_user(AccessToken=res["AccessToken"])
    assert u["Username"] == "alice"
    assert {"Name": "email", "Value": "alice@example.com"} in u["UserAttributes"]


def test_wrong_password_and_unknown_user(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "bob")
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        password_auth(idp, client["ClientId"], "bob", "WrongPassw0rd!")
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."
    with pytest.raises(idp.exceptions.UserNotFoundException) as e:
        password_auth(idp, client["ClientId"], "nobody")
    assert e.value.response["Error"]["Message"] == "User does not exist."


def test_prevent_user_existence_errors(idp, app):
    pool, _ = app
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="quiet", PreventUserExistenceErrors="ENABLED",
                                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        password_auth(idp, c["ClientId"], "nobody")
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."


def test_lockout_after_repeated_failures(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "carl")
    messages = []
    for _ in range(7):
        with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
            password_auth(idp, client["ClientId"], "carl", "WrongPassw0rd!")
        messages.append(e.value.response["Error"]["Message"])
    assert messages[0] == "Incorrect username or password."
    assert messages[-1] == "Password attempts exceeded"
    # Even the right password is refused while locked.
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        password_auth(idp, client["ClientId"], "carl")
    assert e.value.response["Error"]["Message"] == "Password attempts exceeded"


def test_flow_not_enabled(idp, app):
    pool, _ = app
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="srp-only")["UserPoolClient"]
    make_user(idp, pool["Id"], "dave")
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        password_auth(idp, c["ClientId"], "dave")
    assert e.value.response["Error"]["Message"] == "USER_PASSWORD_AUTH flow not enabled for this client"


def test_unknown_client(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        password_auth(idp, "a" * 26, "x")
    assert e.value.response["Error"]["Message"] == f"User pool client {'a' * 26} does not exist."


def secret_hash(secret, username, client_id):
    return base64.b64encode(hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()).decode()


def test_secret_hash(idp, app):
    pool, _ = app
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="secret", GenerateSecret=True,
                                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    make_user(idp, pool["Id"], "erin", email="erin@example.com")
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        password_auth(idp, c["ClientId"], "erin")
    assert e.value.response["Error"]["Message"] == f"Client {c['ClientId']} is configured for secret but secret was not received"
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        password_auth(idp, c["ClientId"], "erin", SECRET_HASH=secret_hash("wrong", "erin", c["ClientId"]))
    assert e.value.response["Error"]["Message"] == f"Unable to verify secret hash for client {c['ClientId']}"
    r = password_auth(idp, c["ClientId"], "erin", SECRET_HASH=secret_hash(c["ClientSecret"], "erin", c["ClientId"]))
    refresh = r["AuthenticationResult"]["RefreshToken"]
    r2 = idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                           AuthParameters={"REFRESH_TOKEN": refresh,
                                           "SECRET_HASH": secret_hash(c["ClientSecret"], "erin", c["ClientId"])})
    assert "AccessToken" in r2["AuthenticationResult"]


def test_admin_flows(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "fred")
    for flow in ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"]:
        r = idp.admin_initiate_auth(UserPoolId=pool["Id"], ClientId=client["ClientId"], AuthFlow=flow,
                                    AuthParameters={"USERNAME": "fred", "PASSWORD": PASSWORD})
        assert idp.get_user(AccessToken=r["AuthenticationResult"]["AccessToken"])["Username"] == "fred"


def test_new_password_required(idp, app):
    pool, client = app
    idp.admin_create_user(UserPoolId=pool["Id"], Username="gina", TemporaryPassword="Temp0rary!x",
                          UserAttributes=[{"Name": "email", "Value": "gina@example.com"}], MessageAction="SUPPRESS")
    r = password_auth(idp, client["ClientId"], "gina", "Temp0rary!x")
    assert r["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert r["ChallengeParameters"]["USER_ID_FOR_SRP"] == "gina"
    assert '"email":"gina@example.com"' in r["ChallengeParameters"]["userAttributes"].replace(" ", "")
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                      Session=r["Session"], ChallengeResponses={"USERNAME": "gina", "NEW_PASSWORD": "weak"})
    done = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                         Session=r["Session"],
                                         ChallengeResponses={"USERNAME": "gina", "NEW_PASSWORD": "Perm4nent!pw",
                                                             "userAttributes.given_name": "Gina"})
    assert "AccessToken" in done["AuthenticationResult"]
    g = idp.admin_get_user(UserPoolId=pool["Id"], Username="gina")
    assert g["UserStatus"] == "CONFIRMED"
    assert {"Name": "given_name", "Value": "Gina"} in g["UserAttributes"]
    # The session yields tokens once.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                      Session=r["Session"], ChallengeResponses={"USERNAME": "gina", "NEW_PASSWORD": "Other4nent!pw"})
    password_auth(idp, client["ClientId"], "gina", "Perm4nent!pw")


def test_admin_respond_new_password(idp, app):
    pool, client = app
    idp.admin_create_user(UserPoolId=pool["Id"], Username="hal", TemporaryPassword="Temp0rary!x", MessageAction="SUPPRESS")
    r = idp.admin_initiate_auth(UserPoolId=pool["Id"], ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "hal", "PASSWORD": "Temp0rary!x"})
    done = idp.admin_respond_to_auth_challenge(UserPoolId=pool["Id"], ClientId=client["ClientId"],
                                               ChallengeName="NEW_PASSWORD_REQUIRED", Session=r["Session"],
                                               ChallengeResponses={"USERNAME": "hal", "NEW_PASSWORD": "Perm4nent!pw"})
    assert done["AuthenticationResult"]["IdToken"]


def test_refresh(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "ivy")
    r = password_auth(idp, client["ClientId"], "ivy")["AuthenticationResult"]
    for flow in ["REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"]:
        new = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow=flow,
                                AuthParameters={"REFRESH_TOKEN": r["RefreshToken"]})["AuthenticationResult"]
        assert "RefreshToken" not in new  # refresh answers reuse the refresh token
        assert idp.get_user(AccessToken=new["AccessToken"])["Username"] == "ivy"
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": "not-a-token"})
    assert e.value.response["Error"]["Message"] == "Invalid Refresh Token."


def test_global_sign_out_and_revoke(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "jack")
    a = password_auth(idp, client["ClientId"], "jack")["AuthenticationResult"]
    b = password_auth(idp, client["ClientId"], "jack")["AuthenticationResult"]
    # RevokeToken revokes one sign-in's refresh token and its access tokens.
    idp.revoke_token(Token=a["RefreshToken"], ClientId=client["ClientId"])
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.get_user(AccessToken=a["AccessToken"])
    assert e.value.response["Error"]["Message"] == "Access Token has been revoked"
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": a["RefreshToken"]})
    assert idp.get_user(AccessToken=b["AccessToken"])["Username"] == "jack"
    # GlobalSignOut ends every session of the user.
    idp.global_sign_out(AccessToken=b["AccessToken"])
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.get_user(AccessToken=b["AccessToken"])
    assert e.value.response["Error"]["Message"] == "Access Token has been revoked"
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": b["RefreshToken"]})
    c = password_auth(idp, client["ClientId"], "jack")["AuthenticationResult"]
    assert idp.get_user(AccessToken=c["AccessToken"])["Username"] == "jack"
    idp.admin_user_global_sign_out(UserPoolId=pool["Id"], Username="jack")
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.get_user(AccessToken=c["AccessToken"])


def test_user_operations_by_token(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "kim")
    tok = password_auth(idp, client["ClientId"], "kim")["AuthenticationResult"]["AccessToken"]
    idp.update_user_attributes(AccessToken=tok, UserAttributes=[{"Name": "given_name", "Value": "Kim"}])
    idp.delete_user_attributes(AccessToken=tok, UserAttributeNames=["given_name"])
    assert "given_name" not in {a["Name"] for a in idp.get_user(AccessToken=tok)["UserAttributes"]}
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.change_password(AccessToken=tok, PreviousPassword="WrongPassw0rd!", ProposedPassword="N3wPassword!")
    idp.change_password(AccessToken=tok, PreviousPassword=PASSWORD, ProposedPassword="N3wPassword!")
    password_auth(idp, client["ClientId"], "kim", "N3wPassword!")
    idp.delete_user(AccessToken=tok)
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=pool["Id"], Username="kim")


def test_cli_sign_in(server, app):
    pool, client = app
    make_user(server.client(), pool["Id"], "lee")
    r = server.aws("initiate-auth", "--client-id", client["ClientId"], "--auth-flow", "USER_PASSWORD_AUTH",
                   "--auth-parameters", f"USERNAME=lee,PASSWORD={PASSWORD}")
    tok = r["AuthenticationResult"]["AccessToken"]
    assert server.aws("get-user", "--access-token", tok)["Username"] == "lee"
    server.aws("global-sign-out", "--access-token", tok)
