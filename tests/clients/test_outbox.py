"""The outbox: every message a user would have received, rendered from the pool's
templates, read with `userpool outbox`, over HTTP with credentials, and delivered to a
real SMTP listener (aiosmtpd) with --smtp-url."""

import json
import socket
import subprocess
import tempfile
import time
import uuid

import requests
from aiosmtpd.controller import Controller
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import BIN, PASSWORD, Server, code_for, make_user


def outbox(server, pool_id, username=None):
    args = [BIN, "outbox", "--data", str(server.data), pool_id] + ([username] if username else [])
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def templated_pool(idp):
    return idp.create_user_pool(
        PoolName=f"out-{uuid.uuid4().hex[:6]}", AutoVerifiedAttributes=["email"],
        VerificationMessageTemplate={"EmailMessage": "Hello! Code {####} for you.", "EmailSubject": "Confirm it",
                                     "DefaultEmailOption": "CONFIRM_WITH_CODE"},
        AdminCreateUserConfig={"InviteMessageTemplate": {
            "EmailMessage": "Welcome {username}, your password is {####}", "EmailSubject": "Welcome aboard",
            "SMSMessage": "User {username} pw {####}"}},
        EmailConfiguration={"EmailSendingAccount": "COGNITO_DEFAULT"})["UserPool"]


def test_messages_are_rendered_from_the_pool_templates(server, idp):
    p = templated_pool(idp)
    try:
        c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app")["UserPoolClient"]
        idp.sign_up(ClientId=c["ClientId"], Username="sam", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "sam@example.com"}])
        code = code_for(server, p["Id"], "sam", "signup")
        [m] = outbox(server, p["Id"], "sam")
        assert m["kind"] == "signup" and m["channel"] == "EMAIL" and m["destination"] == "sam@example.com"
        assert m["subject"] == "Confirm it" and m["body"] == f"Hello! Code {code} for you."
        # An invitation by email and SMS, with the temporary password in it.
        idp.admin_create_user(UserPoolId=p["Id"], Username="ivy", DesiredDeliveryMediums=["EMAIL", "SMS"],
                              UserAttributes=[{"Name": "email", "Value": "ivy@example.com"},
                                              {"Name": "phone_number", "Value": "+15555550123"}])
        mails = outbox(server, p["Id"], "ivy")
        assert [(x["kind"], x["channel"]) for x in mails] == [("invitation", "EMAIL"), ("invitation", "SMS")]
        temp = code_for(server, p["Id"], "ivy", "temporary_password")
        assert mails[0]["body"] == f"Welcome ivy, your password is {temp}" and mails[0]["subject"] == "Welcome aboard"
        assert mails[1]["body"] == f"User ivy pw {temp}" and mails[1]["subject"] is None
        # Default templates when the pool sets none: a forgotten password.
        q = idp.create_user_pool(PoolName=f"out-{uuid.uuid4().hex[:6]}")["UserPool"]
        qc = idp.create_user_pool_client(UserPoolId=q["Id"], ClientName="app")["UserPoolClient"]
        make_user(idp, q["Id"], "rita", email="rita@example.com")
        idp.forgot_password(ClientId=qc["ClientId"], Username="rita")
        [f] = outbox(server, q["Id"], "rita")
        assert f["kind"] == "forgot_password" and f["subject"] == "Your verification code"
        assert f["body"] == f"Your verification code is {code_for(server, q['Id'], 'rita', 'forgot_password')}. "
        idp.delete_user_pool(UserPoolId=q["Id"])
        # The whole pool's outbox, oldest first.
        assert [x["username"] for x in outbox(server, p["Id"])] == ["sam", "ivy", "ivy"]
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def signed_get(url, key="test", secret="test"):
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(key, secret), "cognito-idp", "us-east-1").add_auth(req)
    return requests.get(url, headers=dict(req.headers.items()), timeout=10)


def test_the_outbox_over_http_needs_credentials(server, idp):
    p = templated_pool(idp)
    try:
        c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app")["UserPoolClient"]
        idp.sign_up(ClientId=c["ClientId"], Username="tom", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "tom@example.com"}])
        url = f"{server.endpoint}/_userpool/outbox/{p['Id']}?username=tom"
        anonymous = requests.get(url, timeout=10)
        assert anonymous.status_code == 400
        assert anonymous.json()["__type"] == "MissingAuthenticationTokenException"
        assert signed_get(url, secret="wrong").json()["__type"] == "InvalidSignatureException"
        r = signed_get(url)
        assert r.status_code == 200
        [m] = r.json()
        assert m["body"] == f"Hello! Code {code_for(server, p['Id'], 'tom', 'signup')} for you."
        assert signed_get(f"{url}&after={m['id']}").json() == []
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_email_is_sent_to_a_real_smtp_server():
    inbox = Inbox()
    port = free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with tempfile.TemporaryDirectory() as d:
            s = Server(d, extra_args=["--smtp-url", f"smtp://127.0.0.1:{port}"]).start()
            try:
                idp = s.client()
                p = idp.create_user_pool(
                    PoolName="smtp", EmailConfiguration={
                        "EmailSendingAccount": "DEVELOPER", "From": "Example <no-reply@example.com>",
                        "SourceArn": "arn:aws:ses:us-east-1:000000000000:identity/example.com"})["UserPool"]
                c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app")["UserPoolClient"]
                make_user(idp, p["Id"], "rita", email="rita@example.com")
                idp.forgot_password(ClientId=c["ClientId"], Username="rita")
                code = code_for(s, p["Id"], "rita", "forgot_password")
                deadline = time.time() + 10
                while not inbox.messages and time.time() < deadline:
                    time.sleep(0.05)
                [(sender, rcpts, content)] = inbox.messages
                assert sender == "no-reply@example.com" and rcpts == ["rita@example.com"]
                assert "Subject: Your verification code" in content
                assert f"Your verification code is {code}." in content
            finally:
                s.stop()
    finally:
        smtp.stop()


def test_the_outbox_needs_more_than_read_access(tmp_path):
    """The outbox holds temporary passwords and reset codes: a read-only identity
    (AdminGet*, List*, Describe*) cannot read it; one that may set passwords can. Deleting
    the user deletes their messages."""
    arn = "arn:aws:cognito-idp:us-east-1:000000000000:userpool/*"
    iam = tmp_path / "iam.json"
    iam.write_text(json.dumps({"users": [
        {"name": "admin", "accessKeyId": "AKIAADMIN", "secretAccessKey": "admin-secret",
         "policies": [{"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": "cognito-idp:*", "Resource": "*"}]}]},
        {"name": "reader", "accessKeyId": "AKIAREADER", "secretAccessKey": "reader-secret",
         "policies": [{"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": ["cognito-idp:AdminGet*", "cognito-idp:List*", "cognito-idp:Describe*"],
              "Resource": arn}]}]}]}))
    s = Server(tmp_path, ["--iam", str(iam)]).start()
    try:
        import boto3
        idp = boto3.client("cognito-idp", endpoint_url=s.endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIAADMIN", aws_secret_access_key="admin-secret")
        p = templated_pool(idp)
        idp.admin_create_user(UserPoolId=p["Id"], Username="ivy", DesiredDeliveryMediums=["EMAIL"],
                              UserAttributes=[{"Name": "email", "Value": "ivy@example.com"}])
        url = f"{s.endpoint}/_userpool/outbox/{p['Id']}?username=ivy"
        denied = signed_get(url, "AKIAREADER", "reader-secret")
        assert denied.json()["__type"] == "AccessDeniedException"
        assert "cognito-idp:AdminSetUserPassword" in denied.json()["message"]
        assert len(signed_get(url, "AKIAADMIN", "admin-secret").json()) == 1
        idp.admin_delete_user(UserPoolId=p["Id"], Username="ivy")
        assert signed_get(f"{s.endpoint}/_userpool/outbox/{p['Id']}", "AKIAADMIN", "admin-secret").json() == []
    finally:
        s.stop()
