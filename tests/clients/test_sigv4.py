"""SigV4 verification and IAM policy evaluation, through boto3 and the AWS CLI with real
keys, and through raw hand-signed requests for what a client would never send."""

import datetime
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
from pathlib import Path

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import BIN, REGION, Server
from signing import sign

ACCOUNT = "000000000000"
TARGET = "AWSCognitoIdentityProviderService."
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details.")


def identities(allowed_pool_arn, denied_pool_arn):
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    return {"users": [
        {"name": "admin", "accessKeyId": "AKIAADMIN", "secretAccessKey": "admin-secret", "policies": [allow_all]},
        {"name": "ci", "accessKeyId": "AKIACI", "secretAccessKey": "ci-secret", "sessionToken": None, "policies": [
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["cognito-idp:Describe*", "cognito-idp:List*"],
                 "Resource": f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/*"},
                {"Effect": "Allow", "Action": "cognito-idp:ListUserPools", "Resource": "*"},
                {"Effect": "Deny", "Action": "cognito-idp:DescribeUserPoolClient", "Resource": "*"},
                {"Effect": "Deny", "Action": "cognito-idp:*", "Resource": denied_pool_arn},
            ]}]},
        {"name": "scoped", "accessKeyId": "AKIASCOPED", "secretAccessKey": "scoped-secret", "policies": [
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "cognito-idp:*",
                                                    "Resource": allowed_pool_arn}}]},
        {"name": "temp", "accessKeyId": "ASIATEMP", "secretAccessKey": "temp-secret",
         "sessionToken": "FwoGZXIvYXdzEXAMPLETOKEN", "policies": [allow_all]},
    ]}


@pytest.fixture(scope="module")
def iam():
    """A server with an identities file naming two pools created first."""
    with tempfile.TemporaryDirectory() as d:
        first = Path(d) / "bootstrap.json"
        first.write_text(json.dumps({"users": [identities("x", "y")["users"][0]]}))
        s = Server(d, ["--iam", str(first)]).start()
        admin = client(s, "AKIAADMIN", "admin-secret")
        allowed = admin.create_user_pool(PoolName="allowed")["UserPool"]
        denied = admin.create_user_pool(PoolName="denied")["UserPool"]
        full = Path(d) / "iam.json"
        full.write_text(json.dumps(identities(allowed["Arn"], denied["Arn"])))
        s.extra_args = ["--iam", str(full)]
        s.restart()
        s.allowed, s.denied = allowed, denied
        yield s
        s.stop()


def client(server, key, secret, token=None, **config):
    return boto3.client("cognito-idp", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"max_attempts": 1}, **config))


def cli(server, key, secret, *args):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": REGION,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env.pop("AWS_SESSION_TOKEN", None)
    aws = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "aws"
    return subprocess.run([str(aws) if aws.exists() else "aws", "cognito-idp", *args, "--endpoint-url",
                           server.endpoint, "--output", "json"], capture_output=True, text=True, env=env, timeout=60)


def code_and_message(call):
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response["Error"]
    return err["Code"], err["Message"]


def test_right_key_works(iam):
    admin = client(iam, "AKIAADMIN", "admin-secret")
    assert admin.describe_user_pool(UserPoolId=iam.allowed["Id"])["UserPool"]["Name"] == "allowed"
    p = cli(iam, "AKIAADMIN", "admin-secret", "describe-user-pool", "--user-pool-id", iam.allowed["Id"])
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["UserPool"]["Id"] == iam.allowed["Id"]


def test_wrong_secret(iam):
    bad = client(iam, "AKIAADMIN", "not-the-secret")
    assert code_and_message(lambda: bad.list_user_pools(MaxResults=1)) == ("InvalidSignatureException", MISMATCH)
    p = cli(iam, "AKIAADMIN", "not-the-secret", "list-user-pools", "--max-results", "1")
    assert p.returncode != 0 and "InvalidSignatureException" in p.stderr


def test_unknown_key(iam):
    bad = client(iam, "AKIANOBODY", "whatever")
    assert code_and_message(lambda: bad.list_user_pools(MaxResults=1)) == (
        "UnrecognizedClientException", "The security token included in the request is invalid.")
    p = cli(iam, "AKIANOBODY", "whatever", "list-user-pools", "--max-results", "1")
    assert p.returncode != 0 and "UnrecognizedClientException" in p.stderr


def test_denied_action(iam):
    ci = client(iam, "AKIACI", "ci-secret")
    assert ci.describe_user_pool(UserPoolId=iam.allowed["Id"])["UserPool"]["Id"] == iam.allowed["Id"]
    assert "UserPools" in ci.list_user_pools(MaxResults=5)
    code, msg = code_and_message(lambda: ci.create_user_pool(PoolName="nope"))
    assert code == "AccessDeniedException"
    assert msg == (f"User: arn:aws:iam::{ACCOUNT}:user/ci is not authorized to perform: cognito-idp:CreateUserPool "
                   "on resource: * because no identity-based policy allows the cognito-idp:CreateUserPool action")
    p = cli(iam, "AKIACI", "ci-secret", "create-user-pool", "--pool-name", "nope")
    assert p.returncode != 0 and "AccessDeniedException" in p.stderr


def test_denied_pool(iam):
    scoped = client(iam, "AKIASCOPED", "scoped-secret")
    assert scoped.describe_user_pool(UserPoolId=iam.allowed["Id"])["UserPool"]["Name"] == "allowed"
    code, msg = code_and_message(lambda: scoped.describe_user_pool(UserPoolId=iam.denied["Id"]))
    assert code == "AccessDeniedException"
    assert msg == (f"User: arn:aws:iam::{ACCOUNT}:user/scoped is not authorized to perform: cognito-idp:DescribeUserPool "
                   f"on resource: {iam.denied['Arn']} because no identity-based policy allows the "
                   "cognito-idp:DescribeUserPool action")


def test_explicit_deny(iam):
    ci = client(iam, "AKIACI", "ci-secret")
    code, msg = code_and_message(lambda: ci.describe_user_pool(UserPoolId=iam.denied["Id"]))
    assert code == "AccessDeniedException"
    assert msg.endswith(f"on resource: {iam.denied['Arn']} with an explicit deny in an identity-based policy")
    code, _ = code_and_message(lambda: ci.describe_user_pool_client(UserPoolId=iam.allowed["Id"], ClientId="a" * 26))
    assert code == "AccessDeniedException"


def test_denied_request_never_touches_the_store(iam):
    ci = client(iam, "AKIACI", "ci-secret")
    # Explicitly denied on the pool: the answer is AccessDenied, not the operation's own
    # ResourceNotFound for a client that does not exist.
    code, _ = code_and_message(lambda: ci.list_user_pool_clients(UserPoolId=iam.denied["Id"], MaxResults=1))
    assert code == "AccessDeniedException"


def test_session_token(iam):
    temp = client(iam, "ASIATEMP", "temp-secret", token="FwoGZXIvYXdzEXAMPLETOKEN")
    assert "UserPools" in temp.list_user_pools(MaxResults=1)
    no_token = client(iam, "ASIATEMP", "temp-secret")
    assert code_and_message(lambda: no_token.list_user_pools(MaxResults=1))[0] == "UnrecognizedClientException"
    wrong = client(iam, "ASIATEMP", "temp-secret", token="FwoGZXIvYXdzWRONG")
    assert code_and_message(lambda: wrong.list_user_pools(MaxResults=1))[0] == "UnrecognizedClientException"


def test_unsigned_call_to_sigv4_operation(iam):
    anon = boto3.client("cognito-idp", endpoint_url=iam.endpoint, region_name=REGION,
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    assert code_and_message(lambda: anon.list_user_pools(MaxResults=1)) == (
        "MissingAuthenticationTokenException", "Missing Authentication Token")


def test_unsigned_call_to_token_operation_passes_auth(iam):
    anon = boto3.client("cognito-idp", endpoint_url=iam.endpoint, region_name=REGION,
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    # GetUser is authorised by its access token, never by SigV4: the SigV4 layer lets it
    # through unsigned, and with a Bearer header (pycognito sends one) too.
    code, _ = code_and_message(lambda: anon.get_user(AccessToken="not-a-token"))
    assert code not in ("MissingAuthenticationTokenException", "IncompleteSignatureException",
                        "InvalidSignatureException", "UnrecognizedClientException")
    r = requests.post(iam.endpoint + "/", data=json.dumps({"AccessToken": "x"}), headers={
        "X-Amz-Target": TARGET + "GetUser", "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "Bearer x"}, timeout=10)
    assert r.json()["__type"] not in ("MissingAuthenticationTokenException", "IncompleteSignatureException")


# ---- raw, hand-signed requests -------------------------------------------------------

def send(server, headers, body):
    h = {k: v for k, v in headers.items() if k != "host"}
    return requests.post(server.endpoint + "/", data=body, headers=h, timeout=10)


def test_raw_signed_request_works(iam):
    body = json.dumps({"MaxResults": 3}).encode()
    r = send(iam, sign(iam.endpoint, "ListUserPools", body, "AKIAADMIN", "admin-secret"), body)
    assert r.status_code == 200, r.text


def test_stale_date(iam):
    body = b'{"MaxResults": 3}'
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=6)
    r = send(iam, sign(iam.endpoint, "ListUserPools", body, "AKIAADMIN", "admin-secret", when=when), body)
    assert r.status_code == 400
    b = r.json()
    assert b["__type"] == "InvalidSignatureException"
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    assert b["message"].startswith(f"Signature expired: {stamp} is now earlier than ")
    assert b["message"].endswith(" - 5 min.)")
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=6)
    r = send(iam, sign(iam.endpoint, "ListUserPools", body, "AKIAADMIN", "admin-secret", when=future), body)
    assert r.json()["__type"] == "InvalidSignatureException"
    assert r.json()["message"].startswith("Signature not yet current:")


def test_tampered_body(iam):
    body = b'{"MaxResults": 3}'
    headers = sign(iam.endpoint, "ListUserPools", body, "AKIAADMIN", "admin-secret")
    r = send(iam, headers, b'{"MaxResults": 4}')
    assert r.json() == {"__type": "InvalidSignatureException", "message": MISMATCH}


def test_tampered_target(iam):
    body = json.dumps({"UserPoolId": iam.allowed["Id"]}).encode()
    headers = sign(iam.endpoint, "DescribeUserPool", body, "AKIAADMIN", "admin-secret")
    headers["x-amz-target"] = TARGET + "DeleteUserPool"
    r = send(iam, headers, body)
    assert r.json()["__type"] == "InvalidSignatureException"


def test_missing_signed_header(iam):
    body = b'{"MaxResults": 3}'
    headers = sign(iam.endpoint, "ListUserPools", body, "AKIAADMIN", "admin-secret",
                   signed=("content-type", "x-amz-date", "x-amz-target"))
    r = send(iam, headers, body)
    assert r.status_code == 400
    assert r.json()["__type"] == "IncompleteSignatureException"
    assert "'host' must be a 'SignedHeader'" in r.json()["message"]


def test_malformed_authorization(iam):
    body = b'{"MaxResults": 3}'
    for bad in ["AWS4-HMAC-SHA256 Credential=AKIAADMIN/20240101/us-east-1/cognito-idp/aws4_request",
                "AWS4-HMAC-SHA256 garbage", "Basic dXNlcjpwYXNz", "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=zz"]:
        headers = sign(iam.endpoint, "ListUserPools", body, "AKIAADMIN", "admin-secret")
        headers["authorization"] = bad
        r = send(iam, headers, body)
        assert r.status_code == 400, bad
        assert r.json()["__type"] == "IncompleteSignatureException", (bad, r.text)
    headers = sign(iam.endpoint, "ListUserPools", body, "AKIAADMIN", "admin-secret")
    headers["authorization"] = headers["authorization"].replace("/us-east-1/", "/eu-west-1/")
    r = send(iam, headers, body)
    assert r.json()["__type"] == "InvalidSignatureException"


def test_bad_identities_file_is_refused_at_start(tmp_path):
    bad = tmp_path / "iam.json"
    bad.write_text(json.dumps({"users": [{"name": "x", "accessKeyId": "A", "secretAccessKey": "s", "policies": [
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                        "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}]}]}))
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "d.db"), "--iam", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "users[0].policies[0].Statement[0].Condition" in p.stderr
    bad.write_text("{not json")
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(tmp_path / "d.db"), "--iam", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "not JSON" in p.stderr


def test_default_credentials_refused_off_loopback(tmp_path):
    p = subprocess.run([BIN, "serve", "--listen", "0.0.0.0:0", "--data", str(tmp_path / "d.db")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "--allow-default-credentials" in p.stderr


def test_default_identity_warns(server):
    assert any("accepting access key 'test'" in line for line in server.log)
    assert not any("admin-secret" in line or "ci-secret" in line for line in server.log)
