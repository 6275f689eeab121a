"""Bad input of every kind gets an AWS-style 4xx that botocore parses into the right
exception: raw HTTP where a client would refuse to send it, boto3 where it would."""

import json
import socket

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from signing import sign

TARGET = "AWSCognitoIdentityProviderService."


def post(server, body, target="ListUserPools", headers=None, method="POST", path="/"):
    """A raw request, signed with the default test/test identity (as every client signs)."""
    if isinstance(body, str):
        body = body.encode()
    if target is not None:
        h = sign(server.endpoint, target, body or b"")
        del h["host"]
    else:
        h = {"Content-Type": "application/x-amz-json-1.1"}
    h.update(headers or {})
    return requests.request(method, server.endpoint + path, data=body, headers=h, timeout=10)


def assert_aws_error(r, status, type_, message_part=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert r.headers["x-amzn-RequestId"]
    assert r.headers["x-amzn-ErrorType"] == f"{type_}:"
    body = r.json()
    assert body["__type"] == type_
    if message_part is not None:
        assert message_part in body["message"], body["message"]
    return body


def botocore_code(server, r):
    """Parses a raw answer with botocore's own JSON parser, as boto3 would."""
    from botocore.parsers import JSONParser
    from botocore.model import ServiceModel
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    model = ServiceModel(loader.load_service_model("cognito-idp", "service-2"))
    parsed = JSONParser().parse(
        {"status_code": r.status_code, "headers": dict(r.headers), "body": r.content},
        model.operation_model("ListUserPools").output_shape,
    )
    return parsed["Error"]["Code"]


def test_success_headers(server):
    r = post(server, json.dumps({"MaxResults": 1}))
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert len(r.headers["x-amzn-RequestId"]) == 36
    assert "UserPools" in r.json()


def test_missing_target(server):
    r = post(server, "{}", target=None)
    assert_aws_error(r, 400, "UnknownOperationException")
    assert botocore_code(server, r) == "UnknownOperationException"


def test_unknown_target(server):
    r = post(server, "{}", target="NoSuchOperation")
    assert_aws_error(r, 400, "UnknownOperationException", "NoSuchOperation")
    r = post(server, "{}", headers={"X-Amz-Target": "SomeOtherService.ListUserPools"})
    assert_aws_error(r, 400, "UnknownOperationException")


def test_wrong_method_and_path(server):
    assert_aws_error(post(server, None, method="GET"), 400, "UnknownOperationException")
    assert_aws_error(post(server, "{}", method="PUT"), 400, "UnknownOperationException")
    assert_aws_error(post(server, "{}", path="/nope"), 400, "UnknownOperationException")


def test_not_json(server):
    for body in ["{", "not json", '{"MaxResults": 1,}', "[1, 2]", '"str"', "\xff\xfe"]:
        r = post(server, body.encode("latin-1") if isinstance(body, str) else body)
        b = assert_aws_error(r, 400, "SerializationException")
        assert botocore_code(server, r) == "SerializationException", b


def test_wrong_member_types(server):
    r = post(server, json.dumps({"MaxResults": "3"}))
    assert_aws_error(r, 400, "SerializationException", "can not be converted")
    r = post(server, json.dumps({"UserPoolId": {"a": 1}}), target="DescribeUserPool")
    assert_aws_error(r, 400, "SerializationException")
    r = post(server, json.dumps({"MaxResults": 1.5}))
    assert_aws_error(r, 400, "SerializationException")


def test_wrong_types_through_boto3(server):
    idp = server.client(parameter_validation=False)
    with pytest.raises(ClientError) as e:
        idp.list_user_pools(MaxResults="many")
    assert e.value.response["Error"]["Code"] in ("SerializationException", "InvalidParameterException")


def test_body_over_limit_refused_unread(server):
    # Declares 64 MiB but sends only a little: the answer comes without the rest being read.
    host, port = server.endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            b"X-Amz-Target: AWSCognitoIdentityProviderService.ListUserPools\r\n"
            b"Content-Length: 67108864\r\n\r\n{\"MaxResults\":"
        )
        answer = s.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 413"), answer
    assert '"__type":"RequestEntityTooLargeException"' in answer


def test_chunked_body_over_limit(server):
    def gen():
        yield b'{"PoolName": "'
        for _ in range(300):
            yield b"x" * 8192
        yield b'"}'

    r = requests.post(server.endpoint + "/", data=gen(), headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": TARGET + "CreateUserPool"}, timeout=30)
    assert_aws_error(r, 413, "RequestEntityTooLargeException")


def test_hostile_strings_are_answered_not_echoed_raw(server):
    nasty = "us-east-1_\u0000\r\n<script>\u202e" + "a" * 10000
    r = post(server, json.dumps({"UserPoolId": nasty}), target="DescribeUserPool")
    body = assert_aws_error(r, 400, "InvalidParameterException", "failed to satisfy constraint")
    assert "x-amzn-ErrorMessage" not in r.headers or "\n" not in r.headers["x-amzn-ErrorMessage"]
    assert body["message"].startswith("2 validation errors detected")
    r = post(server, "{}", target="Ops\t<\u00e9>")
    assert_aws_error(r, 400, "UnknownOperationException")


def test_null_members_are_absent(server):
    r = post(server, json.dumps({"MaxResults": 5, "NextToken": None}))
    assert r.status_code == 200, r.text


def test_cors_preflight(server):
    r = requests.options(server.endpoint + "/", headers={"Origin": "http://localhost:3000",
                                                       "Access-Control-Request-Method": "POST"}, timeout=10)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "x-amz-target" in r.headers["Access-Control-Allow-Headers"]


def test_server_keeps_serving_after_bad_input(server, idp):
    for _ in range(20):
        post(server, b"\x00\x01garbage")
    assert "UserPools" in idp.list_user_pools(MaxResults=1)


def test_health_and_readiness_endpoints(server):
    """For load balancers: /health while the process runs, /ready once the store answers."""
    assert requests.get(f"{server.endpoint}/health", timeout=5).json() == {"status": "ok"}
    r = requests.get(f"{server.endpoint}/ready", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ready"}
