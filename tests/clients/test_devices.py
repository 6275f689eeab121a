"""The heart: SRP sign-in and device tracking, end to end through pycognito, boto3 and the
AWS CLI, with AdminGetDevice compared member by member with the API reference."""

import datetime
import re
import uuid
from pathlib import Path

import pytest
from pycognito import aws_srp

from conftest import PASSWORD, make_user

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "api-reference-AdminGetDevice.txt"
REFERENCE_ATTRIBUTES = ["device_status", "device_name", "dev:device_arn", "dev:device_owner", "last_ip_used",
                        "dev:device_remembered_status", "dev:device_sdk"]


class Recorder:
    """A boto3 client that remembers the challenges the server asked."""

    def __init__(self, client):
        self.client = client
        self.challenges = []

    def __getattr__(self, name):
        attr = getattr(self.client, name)
        if name not in ("initiate_auth", "respond_to_auth_challenge"):
            return attr

        def call(**kw):
            r = attr(**kw)
            if "ChallengeName" in r:
                self.challenges.append(r["ChallengeName"])
            return r
        return call


def tracked_pool(idp, on_prompt=True):
    p = idp.create_user_pool(PoolName=f"dev-{uuid.uuid4().hex[:6]}", DeviceConfiguration={
        "ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": on_prompt})["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app", ExplicitAuthFlows=[
        "ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    return p, c


@pytest.fixture
def tracked(idp):
    p, c = tracked_pool(idp)
    make_user(idp, p["Id"], "alice")
    yield p, c
    idp.delete_user_pool(UserPoolId=p["Id"])


def srp_sign_in(idp, pool, client, password=PASSWORD, **device):
    rec = Recorder(idp)
    srp = aws_srp.AWSSRP(username="alice", password=password, pool_id=pool["Id"], client_id=client["ClientId"],
                         client=rec, **device)
    return srp.authenticate_user(), rec.challenges


def remember(idp, pool, client):
    """SRP sign-in, ConfirmDevice with pycognito's verifier, remember: the device's secrets."""
    tokens, challenges = srp_sign_in(idp, pool, client)
    assert challenges == ["PASSWORD_VERIFIER"]
    res = tokens["AuthenticationResult"]
    ndm = res["NewDeviceMetadata"]
    device_password, cfg = aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
    r = idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"],
                           DeviceSecretVerifierConfig=cfg, DeviceName="laptop")
    assert r["UserConfirmationNecessary"] is True  # DeviceOnlyRememberedOnUserPrompt
    idp.update_device_status(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"],
                             DeviceRememberedStatus="remembered")
    return {"device_key": ndm["DeviceKey"], "device_group_key": ndm["DeviceGroupKey"],
            "device_password": device_password}, res


def test_srp_sign_in_and_wrong_password(idp, tracked):
    pool, client = tracked
    tokens, challenges = srp_sign_in(idp, pool, client)
    assert challenges == ["PASSWORD_VERIFIER"]
    assert tokens["AuthenticationResult"]["AccessToken"]
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        srp_sign_in(idp, pool, client, password="WrongPassw0rd!")
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."


def test_new_device_metadata_and_claim(idp, tracked):
    pool, client = tracked
    res = srp_sign_in(idp, pool, client)[0]["AuthenticationResult"]
    ndm = res["NewDeviceMetadata"]
    assert re.fullmatch(r"us-east-1_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", ndm["DeviceKey"])
    assert re.fullmatch(r"-[0-9A-Za-z]{8}", ndm["DeviceGroupKey"])
    import jwt
    assert jwt.decode(res["AccessToken"], options={"verify_signature": False})["device_key"] == ndm["DeviceKey"]
    # Password sign-in issues devices too, with the user's one group key.
    res2 = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]
    assert res2["NewDeviceMetadata"]["DeviceKey"] != ndm["DeviceKey"]
    assert res2["NewDeviceMetadata"]["DeviceGroupKey"] == ndm["DeviceGroupKey"]


def test_remembered_device_sign_in_asks_device_srp(idp, tracked):
    pool, client = tracked
    device, _ = remember(idp, pool, client)
    tokens, challenges = srp_sign_in(idp, pool, client, **device)
    assert challenges == ["PASSWORD_VERIFIER", "DEVICE_SRP_AUTH", "DEVICE_PASSWORD_VERIFIER"]
    res = tokens["AuthenticationResult"]
    assert "NewDeviceMetadata" not in res
    import jwt
    assert jwt.decode(res["AccessToken"], options={"verify_signature": False})["device_key"] == device["device_key"]
    d = idp.admin_get_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=device["device_key"])["Device"]
    assert d["DeviceLastAuthenticatedDate"] >= d["DeviceCreateDate"]


def test_wrong_device_secret_is_refused(idp, tracked):
    pool, client = tracked
    device, _ = remember(idp, pool, client)
    device["device_password"] = "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc="
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        srp_sign_in(idp, pool, client, **device)
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."


def test_device_step_needs_the_password_step(idp, tracked):
    pool, client = tracked
    device, _ = remember(idp, pool, client)
    # DEVICE_SRP_AUTH straight away, with no password step before it, yields nothing.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="DEVICE_SRP_AUTH",
                                      ChallengeResponses={"USERNAME": "alice", "DEVICE_KEY": device["device_key"],
                                                          "SRP_A": "02"})


def test_admin_get_device_matches_the_api_reference(idp, tracked):
    pool, client = tracked
    device, _ = remember(idp, pool, client)
    raw = idp.admin_get_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=device["device_key"])
    d = raw["Device"]
    reference = REFERENCE.read_text()
    # Every member of the sample answer, and no other.
    assert set(d) == {"DeviceKey", "DeviceAttributes", "DeviceCreateDate", "DeviceLastModifiedDate",
                      "DeviceLastAuthenticatedDate"}
    for member in d:
        assert f'"{member}"' in reference
    names = [a["Name"] for a in d["DeviceAttributes"]]
    assert names == REFERENCE_ATTRIBUTES
    assert all(f'"{n}"' in reference for n in names)
    attrs = {a["Name"]: a["Value"] for a in d["DeviceAttributes"]}
    assert attrs["device_status"] == "valid"
    assert attrs["device_name"] == "laptop"
    assert attrs["dev:device_owner"] == f"alice.{pool['Id']}"
    assert attrs["dev:device_arn"] == (f"arn:aws:cognito-idp:us-east-1:000000000000:owner/alice.{pool['Id']}"
                                       f"/device/{device['device_key']}")
    assert attrs["last_ip_used"] == "127.0.0.1"
    assert attrs["dev:device_remembered_status"] == "remembered"
    assert attrs["dev:device_sdk"] == "aws-sdk-unknown-unknown"
    now = datetime.datetime.now(datetime.timezone.utc)
    for k in ("DeviceCreateDate", "DeviceLastModifiedDate", "DeviceLastAuthenticatedDate"):
        assert isinstance(d[k], datetime.datetime), k  # botocore parsed an epoch-seconds number
        assert abs((now - d[k]).total_seconds()) < 120, k
    assert d["DeviceKey"] == device["device_key"]
    # By alias and by sub too.
    sub = next(a["Value"] for a in idp.admin_get_user(UserPoolId=pool["Id"], Username="alice")["UserAttributes"]
               if a["Name"] == "sub")
    assert idp.admin_get_device(UserPoolId=pool["Id"], Username=sub, DeviceKey=device["device_key"])["Device"] == d


def test_get_and_list_devices_by_token(idp, tracked):
    pool, client = tracked
    tokens = srp_sign_in(idp, pool, client)[0]["AuthenticationResult"]
    ndm = tokens["NewDeviceMetadata"]
    access = tokens["AccessToken"]
    _, cfg = aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
    idp.confirm_device(AccessToken=access, DeviceKey=ndm["DeviceKey"], DeviceSecretVerifierConfig=cfg, DeviceName="phone")
    # Tracked but not remembered: Get finds it, List does not show it.
    d = idp.get_device(AccessToken=access, DeviceKey=ndm["DeviceKey"])["Device"]
    assert {a["Name"]: a["Value"] for a in d["DeviceAttributes"]}["dev:device_remembered_status"] == "not_remembered"
    assert idp.list_devices(AccessToken=access)["Devices"] == []
    assert idp.admin_list_devices(UserPoolId=pool["Id"], Username="alice")["Devices"] == []
    idp.update_device_status(AccessToken=access, DeviceKey=ndm["DeviceKey"], DeviceRememberedStatus="remembered")
    listed = idp.list_devices(AccessToken=access)["Devices"]
    assert [x["DeviceKey"] for x in listed] == [ndm["DeviceKey"]]
    assert [a["Name"] for a in listed[0]["DeviceAttributes"]] == ["device_status", "device_name", "last_ip_used"]
    admin = idp.admin_list_devices(UserPoolId=pool["Id"], Username="alice")["Devices"]
    assert [a["Name"] for a in admin[0]["DeviceAttributes"]] == REFERENCE_ATTRIBUTES
    # A status change moves the modified date, not the created one.
    before = idp.admin_get_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=ndm["DeviceKey"])["Device"]
    idp.admin_update_device_status(UserPoolId=pool["Id"], Username="alice", DeviceKey=ndm["DeviceKey"],
                                   DeviceRememberedStatus="not_remembered")
    after = idp.admin_get_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=ndm["DeviceKey"])["Device"]
    assert after["DeviceCreateDate"] == before["DeviceCreateDate"]
    assert after["DeviceLastModifiedDate"] >= before["DeviceLastModifiedDate"]


def test_device_pagination(idp, tracked):
    pool, client = tracked
    keys = []
    for _ in range(5):
        device, _ = remember(idp, pool, client)
        keys.append(device["device_key"])
    seen, token = [], None
    while True:
        kw = {"UserPoolId": pool["Id"], "Username": "alice", "Limit": 2}
        if token:
            kw["PaginationToken"] = token
        r = idp.admin_list_devices(**kw)
        assert len(r["Devices"]) <= 2
        seen += [d["DeviceKey"] for d in r["Devices"]]
        token = r.get("PaginationToken")
        if not token:
            break
    assert sorted(seen) == sorted(keys)
    access = srp_sign_in(idp, pool, client)[0]["AuthenticationResult"]["AccessToken"]
    r = idp.list_devices(AccessToken=access, Limit=3)
    assert len(r["Devices"]) == 3 and r["PaginationToken"]
    r2 = idp.list_devices(AccessToken=access, Limit=3, PaginationToken=r["PaginationToken"])
    assert len(r2["Devices"]) == 2 and "PaginationToken" not in r2
    assert len(idp.list_devices(AccessToken=access, Limit=0)["Devices"]) == 5
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.admin_list_devices(UserPoolId=pool["Id"], Username="alice", Limit=61)
    assert "Member must have value less than or equal to 60" in e.value.response["Error"]["Message"]


def test_device_errors(idp, tracked):
    pool, client = tracked
    device, res = remember(idp, pool, client)
    key = device["device_key"]
    missing = "us-east-1_00000000-0000-4000-8000-000000000000"
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.admin_get_device(UserPoolId="us-east-1_nopool123", Username="alice", DeviceKey=key)
    assert e.value.response["Error"]["Message"] == "User pool us-east-1_nopool123 does not exist."
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_device(UserPoolId=pool["Id"], Username="nobody", DeviceKey=key)
    for call in (lambda: idp.admin_get_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=missing),
                 lambda: idp.get_device(AccessToken=res["AccessToken"], DeviceKey=missing),
                 lambda: idp.update_device_status(AccessToken=res["AccessToken"], DeviceKey=missing,
                                                  DeviceRememberedStatus="remembered"),
                 lambda: idp.forget_device(AccessToken=res["AccessToken"], DeviceKey=missing),
                 lambda: idp.admin_forget_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=missing)):
        with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
            call()
        assert e.value.response["Error"]["Message"] == "Device does not exist."
    # Another user never sees alice's device.
    make_user(idp, pool["Id"], "bob", email="bob@example.com")
    bob = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD})["AuthenticationResult"]
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.get_device(AccessToken=bob["AccessToken"], DeviceKey=key)
    assert e.value.response["Error"]["Message"] == "Device does not exist."
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.admin_get_device(UserPoolId=pool["Id"], Username="bob", DeviceKey=key)


def test_confirm_device_errors(idp, tracked):
    pool, client = tracked
    res = srp_sign_in(idp, pool, client)[0]["AuthenticationResult"]
    ndm = res["NewDeviceMetadata"]
    _, cfg = aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"])
    assert e.value.response["Error"]["Message"] == "Invalid device key given."
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"],
                           DeviceSecretVerifierConfig={"PasswordVerifier": "/w==", "Salt": cfg["Salt"]})
    assert e.value.response["Error"]["Message"] == "Negate value passed for salt and Password verifier"
    idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"], DeviceSecretVerifierConfig=cfg)
    with pytest.raises(idp.exceptions.DeviceKeyExistsException):
        idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"], DeviceSecretVerifierConfig=cfg)
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.confirm_device(AccessToken="not-a-token", DeviceKey=ndm["DeviceKey"], DeviceSecretVerifierConfig=cfg)
    assert e.value.response["Error"]["Message"] == "Invalid Access Token"


def test_always_remembered_pool(idp):
    pool, client = tracked_pool(idp, on_prompt=False)
    try:
        make_user(idp, pool["Id"], "alice")
        res = srp_sign_in(idp, pool, client)[0]["AuthenticationResult"]
        ndm = res["NewDeviceMetadata"]
        _, cfg = aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
        r = idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"], DeviceSecretVerifierConfig=cfg)
        assert r["UserConfirmationNecessary"] is False
        assert [d["DeviceKey"] for d in idp.list_devices(AccessToken=res["AccessToken"])["Devices"]] == [ndm["DeviceKey"]]
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def password_verifier_responses(idp, pool, client, device_key=None):
    """InitiateAuth USER_SRP_AUTH and the PASSWORD_VERIFIER answer, as pycognito builds it."""
    srp = aws_srp.AWSSRP(username="alice", password=PASSWORD, pool_id=pool["Id"], client_id=client["ClientId"], client=idp)
    params = srp.get_auth_params()
    if device_key:
        params["DEVICE_KEY"] = device_key
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    responses = srp.process_challenge(r["ChallengeParameters"], params)
    return responses


def test_forgotten_device_falls_back_as_the_clients_expect(idp, tracked):
    pool, client = tracked
    device, _ = remember(idp, pool, client)
    idp.admin_forget_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=device["device_key"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.admin_get_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=device["device_key"])
    responses = password_verifier_responses(idp, pool, client, device["device_key"])
    responses["DEVICE_KEY"] = device["device_key"]
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=responses)
    assert e.value.response["Error"]["Message"] == "Device does not exist."
    # The clients' retry: the same PASSWORD_VERIFIER without DEVICE_KEY succeeds.
    del responses["DEVICE_KEY"]
    r = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=responses)
    new = r["AuthenticationResult"]["NewDeviceMetadata"]["DeviceKey"]
    assert new != device["device_key"]
    # And that state yields tokens only once.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=responses)


def test_refresh_tokens_are_bound_to_their_device(idp, tracked):
    pool, client = tracked
    device, _ = remember(idp, pool, client)
    res = srp_sign_in(idp, pool, client, **device)[0]["AuthenticationResult"]
    refresh = res["RefreshToken"]

    def renew(**extra):
        return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                                 AuthParameters={"REFRESH_TOKEN": refresh, **extra})

    assert renew(DEVICE_KEY=device["device_key"])["AuthenticationResult"]["AccessToken"]
    for bad in ({}, {"DEVICE_KEY": "us-east-1_00000000-0000-4000-8000-000000000000"}):
        with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
            renew(**bad)
        assert e.value.response["Error"]["Message"] == "Invalid Refresh Token."
    idp.admin_forget_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=device["device_key"])
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        renew(DEVICE_KEY=device["device_key"])
    # A refresh token of an issued but never confirmed device does not work either.
    fresh = srp_sign_in(idp, pool, client)[0]["AuthenticationResult"]
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": fresh["RefreshToken"],
                                          "DEVICE_KEY": fresh["NewDeviceMetadata"]["DeviceKey"]})


def test_forget_device_by_token(idp, tracked):
    pool, client = tracked
    device, res = remember(idp, pool, client)
    idp.forget_device(AccessToken=res["AccessToken"], DeviceKey=device["device_key"])
    assert idp.list_devices(AccessToken=res["AccessToken"])["Devices"] == []


def test_cli_device_operations(server, idp, tracked):
    pool, client = tracked
    device, _ = remember(idp, pool, client)
    key = device["device_key"]
    d = server.aws("admin-get-device", "--user-pool-id", pool["Id"], "--username", "alice", "--device-key", key)
    assert [a["Name"] for a in d["Device"]["DeviceAttributes"]] == REFERENCE_ATTRIBUTES
    assert isinstance(d["Device"]["DeviceCreateDate"], (int, float))  # epoch seconds on the wire
    listed = server.aws("admin-list-devices", "--user-pool-id", pool["Id"], "--username", "alice")
    assert [x["DeviceKey"] for x in listed["Devices"]] == [key]
    server.aws("admin-update-device-status", "--user-pool-id", pool["Id"], "--username", "alice",
               "--device-key", key, "--device-remembered-status", "not_remembered")
    assert server.aws("admin-list-devices", "--user-pool-id", pool["Id"], "--username", "alice")["Devices"] == []
    server.aws("admin-forget-device", "--user-pool-id", pool["Id"], "--username", "alice", "--device-key", key)
    p = server.aws("admin-get-device", "--user-pool-id", pool["Id"], "--username", "alice", "--device-key", key,
                   check=False)
    assert p.returncode != 0 and "Device does not exist." in p.stderr
