"""The trust model, end to end: the IAM resource comes from the operation's own members,
app clients' attribute permissions, attempt limits that hold under parallel requests, no
lost updates under concurrent writes, and the smaller gaps (decoy SRP challenge, the
device step bound to its password step, NEW_PASSWORD_REQUIRED re-checking the user,
device verifier range, CreateUserPool schema checks).

Parallel tests fire raw requests at once (`fire`: every request sent but for its last
byte, then the last bytes back to back, the answers read by a thread pool) and count the
outcomes; each is built so the expected end state is deterministic. Against the build
before the trust-model change, each of them failed on this machine in most runs, except
test_parallel_confirm_device, whose old read-check-write window is microseconds wide."""

import base64
import http.client
import json
import socket
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito import aws_srp

from conftest import PASSWORD, REGION, Server, code_for, make_user
from signing import sign

ACCOUNT = "000000000000"
TARGET = "AWSCognitoIdentityProviderService."
INCORRECT = "Incorrect username or password."
EXCEEDED = "Password attempts exceeded"
LIMIT = "Attempt limit exceeded, please try after some time."
UNAUTHORIZED_WRITE = "A client attempted to write unauthorized attribute"


# ---- helpers -------------------------------------------------------------------------

def outcome(call):
    """"ok" or (error code, message)."""
    try:
        call()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def fire(server, requests_, key="test", secret="test"):
    """Sends raw requests at once; the outcomes in order, "ok" or (error type, message).

    Each (operation, body, signed) is serialised (and, when signed, SigV4-signed) and sent
    on its own connection, all but its last byte, before the start; then the last bytes go
    out back to back in list order (the server can start none before its last byte, so the
    requests start within microseconds of each other, the earlier in the list first), and a
    thread per request reads the answers."""
    host, port = server.endpoint.removeprefix("http://").split(":")
    prepared, last = [], []
    try:
        for target, body, signed in requests_:
            data = json.dumps(body).encode()
            if signed:
                headers = {k: v for k, v in sign(server.endpoint, target, data, key, secret).items() if k != "host"}
            else:
                headers = {"content-type": "application/x-amz-json-1.1", "x-amz-target": TARGET + target}
            head = f"POST / HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-length: {len(data)}\r\nconnection: close\r\n"
            wire = (head + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode() + data
            sock = socket.create_connection((host, int(port)), timeout=30)
            prepared.append(sock)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(wire[:-1])
            last.append(wire[-1:])
        for sock, byte in zip(prepared, last):
            sock.sendall(byte)

        def answer(sock):
            r = http.client.HTTPResponse(sock)
            r.begin()
            payload = r.read()
            if r.status == 200:
                return "ok"
            b = json.loads(payload)
            return b["__type"].rsplit("#", 1)[-1], b.get("message", b.get("Message"))

        with ThreadPoolExecutor(len(prepared)) as ex:
            return list(ex.map(answer, prepared))
    finally:
        for sock in prepared:
            sock.close()


def password_auth(idp, client_id, username, password=PASSWORD):
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password})


def claims(jwt_token):
    payload = jwt_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def attrs_of(attributes):
    return {a["Name"]: a["Value"] for a in attributes}


def new_pool(idp, **kw):
    return idp.create_user_pool(PoolName=f"trust-{uuid.uuid4().hex[:6]}", **kw)["UserPool"]


def password_client(idp, pool_id, **kw):
    return idp.create_user_pool_client(UserPoolId=pool_id, ClientName="pw", ExplicitAuthFlows=[
        "ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"], **kw)["UserPoolClient"]


# ---- 1. IAM: the resource is the operation's own pool ------------------------------------

def client_for(server, key, secret):
    return boto3.client("cognito-idp", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}))


def raw(server, target, body, key="test", secret="test"):
    data = json.dumps(body).encode()
    headers = {k: v for k, v in sign(server.endpoint, target, data, key, secret).items() if k != "host"}
    return requests.post(server.endpoint + "/", data=data, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def iam():
    """A server whose "scoped" identity may do anything on pool B, and nothing on pool A."""
    admin_user = {"name": "admin", "accessKeyId": "AKIAADMIN", "secretAccessKey": "admin-secret", "policies": [
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}]}
    with tempfile.TemporaryDirectory() as d:
        first = Path(d) / "bootstrap.json"
        first.write_text(json.dumps({"users": [admin_user]}))
        s = Server(d, ["--iam", str(first)]).start()
        admin = client_for(s, "AKIAADMIN", "admin-secret")
        a = admin.create_user_pool(PoolName="pool-a")["UserPool"]
        b = admin.create_user_pool(PoolName="pool-b")["UserPool"]
        assert b["Arn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{b['Id']}"
        for p in (a, b):
            admin.admin_create_user(UserPoolId=p["Id"], Username="victim", MessageAction="SUPPRESS")
        scoped = {"name": "scoped", "accessKeyId": "AKIASCOPED", "secretAccessKey": "scoped-secret", "policies": [
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cognito-idp:*",
                                                     "Resource": b["Arn"]}]}]}
        full = Path(d) / "iam.json"
        full.write_text(json.dumps({"users": [admin_user, scoped]}))
        s.extra_args = ["--iam", str(full)]
        s.restart()
        s.pool_a, s.pool_b = a, b
        yield s
        s.stop()


def test_iam_resource_arn_member_cannot_choose_the_resource(iam):
    a, b = iam.pool_a, iam.pool_b
    # The policy works as written: pool B is allowed, pool A is not.
    r = raw(iam, "AdminGetUser", {"UserPoolId": b["Id"], "Username": "victim"}, "AKIASCOPED", "scoped-secret")
    assert r.status_code == 200, r.text
    r = raw(iam, "AdminGetUser", {"UserPoolId": a["Id"], "Username": "victim"}, "AKIASCOPED", "scoped-secret")
    assert r.json()["__type"] == "AccessDeniedException", r.text
    # A smuggled ResourceArn naming pool B does not make a request on pool A allowed.
    for target in ("AdminGetUser", "AdminDeleteUser"):
        r = raw(iam, target, {"UserPoolId": a["Id"], "Username": "victim", "ResourceArn": b["Arn"]},
                "AKIASCOPED", "scoped-secret")
        assert r.status_code == 400, (target, r.status_code, r.text)
        body = r.json()
        assert body["__type"] == "AccessDeniedException", (target, body)
        assert f"cognito-idp:{target} on resource: {a['Arn']}" in body["message"], (target, body)
    admin = client_for(iam, "AKIAADMIN", "admin-secret")
    assert admin.admin_get_user(UserPoolId=a["Id"], Username="victim")["Username"] == "victim"
    # And the other way round: a request on pool B naming pool A is judged on B (allowed).
    r = raw(iam, "AdminGetUser", {"UserPoolId": b["Id"], "Username": "victim", "ResourceArn": a["Arn"]},
            "AKIASCOPED", "scoped-secret")
    assert r.status_code == 200, r.text
    assert r.json()["Username"] == "victim"
    # Members the model does not define are ignored, not refused.
    r = raw(iam, "AdminGetUser", {"UserPoolId": b["Id"], "Username": "victim", "Foo": 1}, "AKIASCOPED", "scoped-secret")
    assert r.status_code == 200, r.text
    assert r.json()["Username"] == "victim"


# ---- 2. attribute permissions -------------------------------------------------------------

@pytest.fixture
def perms(idp):
    """A pool with custom:role, developer-only dev:custom:tier and immutable custom:fixed;
    a client restricted to email, and one with no attribute lists."""
    p = new_pool(idp, Schema=[
        {"Name": "role", "AttributeDataType": "String"},
        {"Name": "tier", "AttributeDataType": "String", "DeveloperOnlyAttribute": True},
        {"Name": "fixed", "AttributeDataType": "String", "Mutable": False}])
    names = [s["Name"] for s in idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]["SchemaAttributes"]]
    assert "dev:custom:tier" in names and "custom:role" in names
    restricted = password_client(idp, p["Id"], ReadAttributes=["email"], WriteAttributes=["email"])
    default = password_client(idp, p["Id"])
    yield p, restricted, default
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_restricted_client_cannot_write_unlisted_attributes(idp, perms):
    p, restricted, _ = perms
    make_user(idp, p["Id"], "alice")
    access = password_auth(idp, restricted["ClientId"], "alice")["AuthenticationResult"]["AccessToken"]
    for name, value in [("custom:role", "admin"), ("email_verified", "true"), ("dev:custom:tier", "gold")]:
        got = error_of(lambda: idp.update_user_attributes(AccessToken=access,
                                                          UserAttributes=[{"Name": name, "Value": value}]))
        assert got == ("NotAuthorizedException", UNAUTHORIZED_WRITE), name
    attrs = attrs_of(idp.admin_get_user(UserPoolId=p["Id"], Username="alice")["UserAttributes"])
    assert "custom:role" not in attrs and "dev:custom:tier" not in attrs
    # A listed attribute is writable.
    idp.update_user_attributes(AccessToken=access, UserAttributes=[{"Name": "email", "Value": "a2@example.com"}])
    attrs = attrs_of(idp.admin_get_user(UserPoolId=p["Id"], Username="alice")["UserAttributes"])
    assert attrs["email"] == "a2@example.com"


def test_restricted_client_reads_only_listed_attributes(idp, perms):
    p, restricted, _ = perms
    make_user(idp, p["Id"], "alice", **{"custom:role": "admin"})
    idp.admin_update_user_attributes(UserPoolId=p["Id"], Username="alice",
                                     UserAttributes=[{"Name": "dev:custom:tier", "Value": "gold"}])
    res = password_auth(idp, restricted["ClientId"], "alice")["AuthenticationResult"]
    got = attrs_of(idp.get_user(AccessToken=res["AccessToken"])["UserAttributes"])
    assert set(got) == {"email", "sub"}, got
    id_claims = claims(res["IdToken"])
    assert id_claims["email"] == "alice@example.com"
    assert "custom:role" not in id_claims
    assert not any("tier" in k for k in id_claims), id_claims


def test_default_client_permissions_and_developer_only_attributes(idp, perms):
    p, _, default = perms
    make_user(idp, p["Id"], "alice")
    res = password_auth(idp, default["ClientId"], "alice")["AuthenticationResult"]
    access = res["AccessToken"]
    # With no lists, custom attributes are writable and readable...
    idp.update_user_attributes(AccessToken=access, UserAttributes=[{"Name": "custom:role", "Value": "editor"}])
    assert attrs_of(idp.get_user(AccessToken=access)["UserAttributes"])["custom:role"] == "editor"
    # ...but no client writes email_verified or a developer-only attribute.
    for name, value in [("email_verified", "true"), ("dev:custom:tier", "gold")]:
        got = error_of(lambda: idp.update_user_attributes(AccessToken=access,
                                                          UserAttributes=[{"Name": name, "Value": value}]))
        assert got == ("NotAuthorizedException", UNAUTHORIZED_WRITE), name
    # The administrator sets the developer-only attribute and sees it; the user never does.
    idp.admin_update_user_attributes(UserPoolId=p["Id"], Username="alice",
                                     UserAttributes=[{"Name": "dev:custom:tier", "Value": "gold"}])
    admin_view = attrs_of(idp.admin_get_user(UserPoolId=p["Id"], Username="alice")["UserAttributes"])
    assert admin_view["dev:custom:tier"] == "gold"
    user_view = attrs_of(idp.get_user(AccessToken=access)["UserAttributes"])
    assert user_view["custom:role"] == "editor"
    assert not any("tier" in k for k in user_view), user_view
    id_claims = claims(password_auth(idp, default["ClientId"], "alice")["AuthenticationResult"]["IdToken"])
    assert id_claims["custom:role"] == "editor"
    assert not any("tier" in k for k in id_claims), id_claims


def test_sign_up_with_unwritable_attribute(idp, perms):
    p, restricted, default = perms
    got = error_of(lambda: idp.sign_up(ClientId=restricted["ClientId"], Username="sam", Password=PASSWORD,
                                       UserAttributes=[{"Name": "email", "Value": "sam@example.com"},
                                                       {"Name": "custom:role", "Value": "admin"}]))
    assert got == ("NotAuthorizedException", UNAUTHORIZED_WRITE)
    got = error_of(lambda: idp.sign_up(ClientId=default["ClientId"], Username="sam", Password=PASSWORD,
                                       UserAttributes=[{"Name": "email", "Value": "sam@example.com"},
                                                       {"Name": "email_verified", "Value": "true"}]))
    assert got == ("NotAuthorizedException", UNAUTHORIZED_WRITE)
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=p["Id"], Username="sam")


def test_client_write_attributes_cannot_name_email_verified(idp, perms):
    p, _, _ = perms
    got = error_of(lambda: idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="bad",
                                                       WriteAttributes=["email", "email_verified"]))
    assert got == ("InvalidParameterException", "Invalid write attributes specified while creating a client")


def test_immutable_attribute_and_capitalised_boolean(idp, perms):
    p, _, _ = perms
    idp.admin_create_user(UserPoolId=p["Id"], Username="ivy", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "ivy@example.com"},
                                          {"Name": "email_verified", "Value": "True"},
                                          {"Name": "custom:fixed", "Value": "one"}])
    got = error_of(lambda: idp.admin_update_user_attributes(
        UserPoolId=p["Id"], Username="ivy", UserAttributes=[{"Name": "custom:fixed", "Value": "two"}]))
    assert got == ("InvalidParameterException", "user.custom:fixed: Attribute cannot be updated.")
    assert attrs_of(idp.admin_get_user(UserPoolId=p["Id"], Username="ivy")["UserAttributes"])["custom:fixed"] == "one"


# ---- 3. attempt limits under parallel requests ---------------------------------------------

# Parallel wrong guesses in test_parallel_wrong_codes: far more than a code's five attempts.
# Only the guesses that spent an attempt count against the per-user window of 20 guesses
# per purpose and hour (limits.rs GUESSES_PER_WINDOW), so the new code works after a resend.
PARALLEL_CODE_GUESSES = 24


def test_parallel_wrong_codes(server, idp, app):
    pool, client = app
    idp.sign_up(ClientId=client["ClientId"], Username="quinn", Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": "quinn@example.com"}])
    code = code_for(server, pool["Id"], "quinn", "signup")
    wrong = "000000" if code != "000000" else "111111"
    guess = ("ConfirmSignUp", {"ClientId": client["ClientId"], "Username": "quinn", "ConfirmationCode": wrong}, False)
    results = fire(server, [guess] * PARALLEL_CODE_GUESSES)
    mismatch = [r for r in results if r != "ok" and r[0] == "CodeMismatchException"]
    limited = [r for r in results if r == ("LimitExceededException", LIMIT)]
    assert len(mismatch) + len(limited) == len(results), results
    assert 1 <= len(mismatch) <= 5, results
    # The code is spent: even the right one is refused until a new one is requested.
    assert error_of(lambda: idp.confirm_sign_up(ClientId=client["ClientId"], Username="quinn",
                                                ConfirmationCode=code)) == ("LimitExceededException", LIMIT)
    idp.resend_confirmation_code(ClientId=client["ClientId"], Username="quinn")
    idp.confirm_sign_up(ClientId=client["ClientId"], Username="quinn",
                        ConfirmationCode=code_for(server, pool["Id"], "quinn", "signup"))
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="quinn")["UserStatus"] == "CONFIRMED"


def test_code_guesses_are_limited_per_hour_across_codes(server, idp, app):
    pool, client = app
    idp.sign_up(ClientId=client["ClientId"], Username="wade", Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": "wade@example.com"}])
    for round_ in range(4):
        code = code_for(server, pool["Id"], "wade", "signup")
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            assert error_of(lambda: idp.confirm_sign_up(
                ClientId=client["ClientId"], Username="wade", ConfirmationCode=wrong))[0] == "CodeMismatchException", round_
        idp.resend_confirmation_code(ClientId=client["ClientId"], Username="wade")
    # Twenty guesses were checked this hour: a fresh code with fresh attempts is refused too.
    assert error_of(lambda: idp.confirm_sign_up(
        ClientId=client["ClientId"], Username="wade",
        ConfirmationCode=code_for(server, pool["Id"], "wade", "signup"))) == ("LimitExceededException", LIMIT)
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="wade")["UserStatus"] == "UNCONFIRMED"


def test_code_requests_are_limited(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "rita", email="rita@example.com")
    for i in range(10):
        assert outcome(lambda: idp.forgot_password(ClientId=client["ClientId"], Username="rita")) == "ok", i
    assert error_of(lambda: idp.forgot_password(ClientId=client["ClientId"], Username="rita")) == (
        "LimitExceededException", LIMIT)


def test_parallel_wrong_passwords(server, idp):
    p = new_pool(idp)
    try:
        c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="pw", ExplicitAuthFlows=[
            "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
        for rnd in range(4):
            name = f"user{rnd}"
            make_user(idp, p["Id"], name, email=f"{name}@example.com")
            wrong = ("InitiateAuth", {"ClientId": c["ClientId"], "AuthFlow": "USER_PASSWORD_AUTH",
                                      "AuthParameters": {"USERNAME": name, "PASSWORD": "WrongPassw0rd!"}}, False)
            results = fire(server, [wrong] * 20)
            incorrect = results.count(("NotAuthorizedException", INCORRECT))
            exceeded = results.count(("NotAuthorizedException", EXCEEDED))
            assert incorrect + exceeded == len(results), results
            assert 1 <= incorrect <= 5, (rnd, incorrect, results)
            # Locked: the right password is refused too, right away.
            assert error_of(lambda: password_auth(idp, c["ClientId"], name)) == ("NotAuthorizedException", EXCEEDED)
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_successful_sign_in_resets_the_count(idp):
    p = new_pool(idp)
    try:
        c = password_client(idp, p["Id"])

        def four_wrong(username):
            for i in range(4):
                assert error_of(lambda: password_auth(idp, c["ClientId"], username, "WrongPassw0rd!")) == (
                    "NotAuthorizedException", INCORRECT), (username, i)

        # Password sign-in as the successful one.
        make_user(idp, p["Id"], "alice")
        four_wrong("alice")
        password_auth(idp, c["ClientId"], "alice")
        four_wrong("alice")
        # SRP sign-in as the successful one.
        make_user(idp, p["Id"], "bob", email="bob@example.com")
        four_wrong("bob")
        srp = aws_srp.AWSSRP(username="bob", password=PASSWORD, pool_id=p["Id"], client_id=c["ClientId"], client=idp)
        assert srp.authenticate_user()["AuthenticationResult"]["AccessToken"]
        four_wrong("bob")
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_change_password_spends_attempts(idp):
    p = new_pool(idp)
    try:
        c = password_client(idp, p["Id"])
        make_user(idp, p["Id"], "alice")
        access = password_auth(idp, c["ClientId"], "alice")["AuthenticationResult"]["AccessToken"]

        def change():
            return idp.change_password(AccessToken=access, PreviousPassword="WrongPassw0rd!",
                                       ProposedPassword="NewPassw0rd!Example")

        for i in range(5):
            assert error_of(change) == ("NotAuthorizedException", INCORRECT), i
        # The lock lasts at least a second from the fifth failure: check right away.
        assert error_of(change) == ("LimitExceededException", LIMIT)
        assert error_of(lambda: password_auth(idp, c["ClientId"], "alice")) == ("NotAuthorizedException", EXCEEDED)
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


# ---- 4. no lost updates ------------------------------------------------------------------

def test_parallel_attribute_writes_and_disable(server, idp):
    p = new_pool(idp, Schema=[{"Name": f"a{i}", "AttributeDataType": "String"} for i in range(10)]
                 + [{"Name": f"u{i}", "AttributeDataType": "String"} for i in range(4)])
    try:
        c = password_client(idp, p["Id"])
        # Rounds of sixteen writes to one user at once (a lost update shows in some rounds,
        # not all, so there are many; a round takes a few tens of milliseconds).
        for rnd in range(20):
            name = f"user{rnd}"
            make_user(idp, p["Id"], name, email=f"{name}@example.com")
            access = password_auth(idp, c["ClientId"], name)["AuthenticationResult"]["AccessToken"]
            admin = [("AdminUpdateUserAttributes", {"UserPoolId": p["Id"], "Username": name, "UserAttributes": [
                {"Name": f"custom:a{i}", "Value": f"{name}-{i}"}]}, True) for i in range(10)]
            user = [("UpdateUserAttributes", {"AccessToken": access, "UserAttributes": [
                {"Name": f"custom:u{i}", "Value": f"{name}-{i}"}]}, False) for i in range(4)]
            disable = ("AdminDisableUser", {"UserPoolId": p["Id"], "Username": name}, True)
            # Interleaved, so no kind of write goes first as a block.
            calls = admin[:3] + [user[0], disable] + admin[3:6] + [user[1], user[2]] + admin[6:] + [disable, user[3]]
            results = fire(server, calls)
            u = idp.admin_get_user(UserPoolId=p["Id"], Username=name)
            attrs = attrs_of(u["UserAttributes"])
            for (op, body, _), r in zip(calls, results):
                if op == "UpdateUserAttributes":
                    # A user's own write is acknowledged or finds the user already disabled.
                    assert r in ("ok", ("NotAuthorizedException", "User is disabled.")), (rnd, body, r)
                else:
                    assert r == "ok", (rnd, op, body, r)
                if r == "ok" and "UserAttributes" in body:
                    (written,) = body["UserAttributes"]
                    assert attrs.get(written["Name"]) == written["Value"], (rnd, written, attrs)
            assert u["Enabled"] is False, rnd
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_set_password_racing_attribute_writes(server, idp):
    p = new_pool(idp, Schema=[{"Name": f"a{i}", "AttributeDataType": "String"} for i in range(14)])
    try:
        c = password_client(idp, p["Id"])
        make_user(idp, p["Id"], "alice")
        access = password_auth(idp, c["ClientId"], "alice")["AuthenticationResult"]["AccessToken"]
        for rnd in range(3):
            new = f"Round{rnd}Passw0rd!"
            writes = [("UpdateUserAttributes", {
                "AccessToken": access, "UserAttributes": [{"Name": f"custom:a{i}", "Value": f"r{rnd}"}]}, False)
                for i in range(14)]
            set_password = ("AdminSetUserPassword", {"UserPoolId": p["Id"], "Username": "alice", "Password": new,
                                                     "Permanent": True}, True)
            results = fire(server, writes[:7] + [set_password] + writes[7:])
            assert results == ["ok"] * len(results), results
            assert outcome(lambda: password_auth(idp, c["ClientId"], "alice", new)) == "ok", (rnd, results)
            attrs = attrs_of(idp.admin_get_user(UserPoolId=p["Id"], Username="alice")["UserAttributes"])
            assert all(attrs.get(f"custom:a{i}") == f"r{rnd}" for i in range(14)), (rnd, attrs)
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def tracked_pool(idp):
    p = idp.create_user_pool(PoolName=f"dev-{uuid.uuid4().hex[:6]}", DeviceConfiguration={
        "ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True})["UserPool"]
    return p, password_client(idp, p["Id"])


@pytest.fixture
def tracked(idp):
    p, c = tracked_pool(idp)
    make_user(idp, p["Id"], "alice")
    yield p, c
    idp.delete_user_pool(UserPoolId=p["Id"])


def srp_sign_in(idp, pool, client, username="alice", password=PASSWORD, **device):
    srp = aws_srp.AWSSRP(username=username, password=password, pool_id=pool["Id"], client_id=client["ClientId"],
                         client=idp, **device)
    return srp.authenticate_user()


def remember(idp, pool, client, username="alice"):
    """SRP sign-in, ConfirmDevice with pycognito's verifier, remember: the device's secrets."""
    res = srp_sign_in(idp, pool, client, username)["AuthenticationResult"]
    ndm = res["NewDeviceMetadata"]
    device_password, cfg = aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
    idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"], DeviceSecretVerifierConfig=cfg,
                       DeviceName="laptop")
    idp.update_device_status(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"],
                             DeviceRememberedStatus="remembered")
    return {"device_key": ndm["DeviceKey"], "device_group_key": ndm["DeviceGroupKey"],
            "device_password": device_password}


def remembered_status(idp, pool, device_key, username="alice"):
    d = idp.admin_get_device(UserPoolId=pool["Id"], Username=username, DeviceKey=device_key)["Device"]
    return attrs_of(d["DeviceAttributes"])["dev:device_remembered_status"]


def device_password_step(idp, pool, client, username, device):
    """InitiateAuth and PASSWORD_VERIFIER with a remembered device: the SRP helper (its A is
    reused for the device step, as pycognito does) and the DEVICE_SRP_AUTH Session."""
    srp = aws_srp.AWSSRP(username=username, password=PASSWORD, pool_id=pool["Id"], client_id=client["ClientId"],
                         client=idp, **device)
    params = srp.get_auth_params()
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    r = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=srp.process_challenge(r["ChallengeParameters"], params))
    assert r["ChallengeName"] == "DEVICE_SRP_AUTH" and r.get("Session"), r
    return srp, r["Session"]


def device_srp_step(idp, client, srp, session=None):
    """DEVICE_SRP_AUTH, with the given Session (pycognito sends none)."""
    return idp.respond_to_auth_challenge(
        ClientId=client["ClientId"], ChallengeName="DEVICE_SRP_AUTH", **({"Session": session} if session else {}),
        ChallengeResponses={"USERNAME": srp.username, "DEVICE_KEY": srp.device_key,
                            "SRP_A": aws_srp.long_to_hex(srp.large_a_value)})


def test_device_status_survives_parallel_sign_ins(server, idp, tracked):
    pool, client = tracked
    device = remember(idp, pool, client)
    key = device["device_key"]
    res = srp_sign_in(idp, pool, client, **device)["AuthenticationResult"]
    forget = ("UpdateDeviceStatus", {"AccessToken": res["AccessToken"], "DeviceKey": key,
                                     "DeviceRememberedStatus": "not_remembered"}, False)
    renew = ("InitiateAuth", {"ClientId": client["ClientId"], "AuthFlow": "REFRESH_TOKEN_AUTH",
                              "AuthParameters": {"REFRESH_TOKEN": res["RefreshToken"], "DEVICE_KEY": key}}, False)
    # Rounds: the device remembered; then at once a device sign-in's last step (its proof,
    # whose SRP check takes a while after it has read the device), a status write and a
    # refresh with the device. The only status write sets not_remembered, so that is the
    # one right end state whatever the order.
    for rnd in range(6):
        idp.admin_update_device_status(UserPoolId=pool["Id"], Username="alice", DeviceKey=key,
                                       DeviceRememberedStatus="remembered")
        assert remembered_status(idp, pool, key) == "remembered"
        srp, session = device_password_step(idp, pool, client, "alice", device)
        r = device_srp_step(idp, client, srp, session)
        proof = ("RespondToAuthChallenge", {
            "ClientId": client["ClientId"], "ChallengeName": "DEVICE_PASSWORD_VERIFIER",
            "ChallengeResponses": srp.process_device_challenge(r["ChallengeParameters"])}, False)
        results = fire(server, [proof, forget, renew])
        # The status write and the refresh are acknowledged (the sign-in may or may not
        # still find the device remembered; its outcome is not the point).
        assert results[1:] == ["ok", "ok"], (rnd, results)
        assert remembered_status(idp, pool, key) == "not_remembered", (rnd, results)


def test_parallel_confirm_device(server, idp, tracked):
    pool, client = tracked
    new = []
    for _ in range(8):
        res = srp_sign_in(idp, pool, client)["AuthenticationResult"]
        ndm = res["NewDeviceMetadata"]
        new.append((res["AccessToken"], ndm, [aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
                                              for _ in range(2)]))
    # Eight new devices, two ConfirmDevice calls each with different verifiers, all at once.
    results = fire(server, [("ConfirmDevice", {
        "AccessToken": access, "DeviceKey": ndm["DeviceKey"], "DeviceSecretVerifierConfig": cfg,
        "DeviceName": "racer"}, False) for access, ndm, secrets in new for _, cfg in secrets])
    for n, (access, ndm, secrets) in enumerate(new):
        pair = results[2 * n:2 * n + 2]
        assert sorted(r if r == "ok" else r[0] for r in pair) == ["DeviceKeyExistsException", "ok"], (n, pair)
    # The winner's verifier stands: its device password signs in with the device.
    for n, (access, ndm, secrets) in enumerate(new[:2]):
        winner = secrets[results[2 * n:2 * n + 2].index("ok")][0]
        idp.update_device_status(AccessToken=access, DeviceKey=ndm["DeviceKey"], DeviceRememberedStatus="remembered")
        tokens = srp_sign_in(idp, pool, client, device_key=ndm["DeviceKey"],
                             device_group_key=ndm["DeviceGroupKey"], device_password=winner)
        assert claims(tokens["AuthenticationResult"]["AccessToken"])["device_key"] == ndm["DeviceKey"]


# ---- 5. smaller gaps -----------------------------------------------------------------------

def test_decoy_srp_challenge_for_unknown_users(idp, app):
    pool, _ = app
    make_user(idp, pool["Id"], "alice")
    flows = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    quiet = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="quiet", ExplicitAuthFlows=flows,
                                        PreventUserExistenceErrors="ENABLED")["UserPoolClient"]
    legacy = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="legacy",
                                         ExplicitAuthFlows=flows)["UserPoolClient"]

    def start(client, username):
        srp = aws_srp.AWSSRP(username=username, password=PASSWORD, pool_id=pool["Id"],
                             client_id=client["ClientId"], client=idp)
        return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_SRP_AUTH",
                                 AuthParameters=srp.get_auth_params())

    real = start(quiet, "alice")
    ghost = start(quiet, "ghost")
    keys = {"SALT", "SRP_B", "SECRET_BLOCK", "USERNAME", "USER_ID_FOR_SRP"}
    assert real["ChallengeName"] == ghost["ChallengeName"] == "PASSWORD_VERIFIER"
    assert set(real["ChallengeParameters"]) == keys
    assert set(ghost["ChallengeParameters"]) == keys
    assert start(quiet, "ghost")["ChallengeParameters"]["SALT"] == ghost["ChallengeParameters"]["SALT"]
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        srp_sign_in(idp, pool, quiet, username="ghost")
    assert e.value.response["Error"]["Message"] == INCORRECT
    with pytest.raises(idp.exceptions.UserNotFoundException):
        start(legacy, "ghost")


def test_device_step_is_bound_to_its_password_step(idp, tracked):
    pool, client = tracked
    make_user(idp, pool["Id"], "bob", email="bob@example.com")
    alice_device = remember(idp, pool, client, "alice")
    bob_device = remember(idp, pool, client, "bob")

    def password_step(username, device):
        return device_password_step(idp, pool, client, username, device)

    def device_srp(srp, session=None):
        return device_srp_step(idp, client, srp, session)

    def device_verifier(responses):
        return idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="DEVICE_PASSWORD_VERIFIER",
                                             ChallengeResponses=responses)

    _, first = password_step("alice", alice_device)
    srp, current = password_step("alice", alice_device)
    bob_srp, bobs = password_step("bob", bob_device)
    # A garbage Session, another user's sign-in, or an earlier sign-in of this user and device.
    for session in ("garbage-session-" + "x" * 40, bobs, first):
        with pytest.raises(idp.exceptions.NotAuthorizedException):
            device_srp(srp, session)
    # The right Session goes through, once.
    r = device_srp(srp, current)
    assert r["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
    responses = srp.process_device_challenge(r["ChallengeParameters"])
    tokens = device_verifier(responses)["AuthenticationResult"]
    assert claims(tokens["AccessToken"])["device_key"] == alice_device["device_key"]
    # A replay of the completed round is refused: its proof, and a new device step for it.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        device_verifier(responses)
    for session in (current, None):
        with pytest.raises(idp.exceptions.NotAuthorizedException):
            device_srp(srp, session)
    # Bob's own sign-in was not spoiled by the refused attempt with his Session.
    r = device_srp(bob_srp, bobs)
    assert "AccessToken" in device_verifier(bob_srp.process_device_challenge(r["ChallengeParameters"]))[
        "AuthenticationResult"]


def test_new_password_required_after_disable(idp, app):
    pool, client = app
    idp.admin_create_user(UserPoolId=pool["Id"], Username="nora", TemporaryPassword="Temp0rary!Pass",
                          MessageAction="SUPPRESS", UserAttributes=[{"Name": "email", "Value": "nora@example.com"}])
    r = idp.admin_initiate_auth(UserPoolId=pool["Id"], ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                AuthParameters={"USERNAME": "nora", "PASSWORD": "Temp0rary!Pass"})
    assert r["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    idp.admin_disable_user(UserPoolId=pool["Id"], Username="nora")
    got = error_of(lambda: idp.respond_to_auth_challenge(
        ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=r["Session"],
        ChallengeResponses={"USERNAME": "nora", "NEW_PASSWORD": PASSWORD}))
    assert got == ("NotAuthorizedException", "User is disabled.")
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="nora")["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_confirm_device_verifier_range(idp, tracked):
    pool, client = tracked
    res = srp_sign_in(idp, pool, client)["AuthenticationResult"]
    ndm = res["NewDeviceMetadata"]
    _, cfg = aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
    n = b"\x00" + int(aws_srp.N_HEX, 16).to_bytes(384, "big")
    for verifier in (b"\x00", n):
        bad = {"PasswordVerifier": base64.b64encode(verifier).decode(), "Salt": cfg["Salt"]}
        with pytest.raises(idp.exceptions.InvalidParameterException):
            idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"],
                               DeviceSecretVerifierConfig=bad)
    # Nothing was stored: the device is still unconfirmed, and a real verifier confirms it.
    idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"], DeviceSecretVerifierConfig=cfg)


@pytest.mark.parametrize("schema, message", [
    ([{"Name": "nodatatype"}],
     "Invalid AttributeDataType input, consider using the provided AttributeDataType enum."),
    ([{"Name": "email", "AttributeDataType": "Number"}],
     "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute email"),
    ([{"Name": "email", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "1"}}],
     "user.email: Max length cannot be less than min length."),
    ([{"Name": "email", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "2049"}}],
     "user.email: String attributes cannot have a length of more than 2048"),
    ([{"Name": "n", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "5", "MaxValue": "1"}}],
     "user.custom:n: Max value cannot be less than min value."),
], ids=["no-type", "standard-type", "min-over-max-length", "length-over-2048", "min-over-max-value"])
def test_create_user_pool_schema_errors(idp, schema, message):
    name = f"bad-{uuid.uuid4().hex[:6]}"
    got = error_of(lambda: idp.create_user_pool(PoolName=name, Schema=schema))
    assert got == ("InvalidParameterException", message)
    assert not any(p["Name"] == name for p in idp.list_user_pools(MaxResults=60)["UserPools"])


# ---- found by a hostile review -------------------------------------------------------

def test_malformed_srp_answers_spend_no_attempt(idp):
    """A PASSWORD_VERIFIER answer refused for its format (TIMESTAMP) spends no attempt: five
    of them once left the user unable to sign in at all."""
    p = new_pool(idp)
    try:
        c = password_client(idp, p["Id"])
        make_user(idp, p["Id"], "vic")
        for _ in range(6):
            start = idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_SRP_AUTH",
                                      AuthParameters={"USERNAME": "vic", "SRP_A": "0a" * 64})
            got = error_of(lambda: idp.respond_to_auth_challenge(
                ClientId=c["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                ChallengeResponses={"USERNAME": "vic", "TIMESTAMP": "nope", "PASSWORD_CLAIM_SIGNATURE": "AAAA",
                                    "PASSWORD_CLAIM_SECRET_BLOCK": start["ChallengeParameters"]["SECRET_BLOCK"]}))
            assert got[0] == "InvalidParameterException", got
        assert password_auth(idp, c["ClientId"], "vic")["AuthenticationResult"]["AccessToken"]
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_a_verification_code_proves_only_the_value_it_was_sent_to(server, idp):
    p = new_pool(idp)
    try:
        c = password_client(idp, p["Id"])
        make_user(idp, p["Id"], "eve", email="eve@example.com")
        access = password_auth(idp, c["ClientId"], "eve")["AuthenticationResult"]["AccessToken"]
        idp.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
        code = code_for(server, p["Id"], "eve", "verify:email")
        idp.update_user_attributes(AccessToken=access,
                                   UserAttributes=[{"Name": "email", "Value": "ceo@victim.example"}])
        got = error_of(lambda: idp.verify_user_attribute(AccessToken=access, AttributeName="email", Code=code))
        assert got[0] == "ExpiredCodeException", got
        attrs = attrs_of(idp.admin_get_user(UserPoolId=p["Id"], Username="eve")["UserAttributes"])
        assert attrs["email"] == "ceo@victim.example" and attrs["email_verified"] == "false"
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_confirm_forgot_password_checks_the_policy_before_the_user(idp):
    """With existence hidden, a weak password is refused the same for a real and an unknown
    user."""
    p = new_pool(idp)
    try:
        c = password_client(idp, p["Id"], PreventUserExistenceErrors="ENABLED")
        make_user(idp, p["Id"], "rob")
        for name in ("rob", "nobody-here"):
            assert error_of(lambda: idp.confirm_forgot_password(
                ClientId=c["ClientId"], Username=name, ConfirmationCode="123456",
                Password="weak"))[0] == "InvalidPasswordException", name
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_new_password_required_attributes_void_verification_codes(server, idp):
    p = new_pool(idp)
    try:
        c = password_client(idp, p["Id"])
        make_user(idp, p["Id"], "gus", email="gus@example.com")
        access = password_auth(idp, c["ClientId"], "gus")["AuthenticationResult"]["AccessToken"]
        idp.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
        code = code_for(server, p["Id"], "gus", "verify:email")
        idp.admin_set_user_password(UserPoolId=p["Id"], Username="gus", Password="Temp0rary!pw", Permanent=False)
        r = idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "gus", "PASSWORD": "Temp0rary!pw"})
        done = idp.respond_to_auth_challenge(
            ClientId=c["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=r["Session"],
            ChallengeResponses={"USERNAME": "gus", "NEW_PASSWORD": PASSWORD,
                                "userAttributes.email": "ceo@victim.example"})
        access = done["AuthenticationResult"]["AccessToken"]
        got = error_of(lambda: idp.verify_user_attribute(AccessToken=access, AttributeName="email", Code=code))
        assert got[0] == "ExpiredCodeException", got
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])
