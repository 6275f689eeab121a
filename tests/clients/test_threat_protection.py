"""Threat protection through boto3: the feature plan it needs, risk configurations (pool
and client level), the user event history (AdminListUserAuthEvents, newest first and
paged) recorded at sign-in, sign-up and password changes, feedback by administrators and
by the notification email's token, and log export (Get/SetLogDeliveryConfiguration) with
the delivered log lines written to --log-delivery-dir."""

import json
import re
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pyotp
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from conftest import BIN, PASSWORD, Server, code_for, make_user

ADDON_OFF = ("UserPoolAddOnNotEnabledException", "Advanced security features are not enabled for this user pool.")
SES_ARN = "arn:aws:ses:us-east-1:123456789012:identity/example.com"
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:cognito-exported"
STREAM = "arn:aws:firehose:us-east-1:123456789012:deliverystream/cognito-activity"
BUCKET = "arn:aws:s3:::cognito-activity-bucket"


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def protected_pool(idp, mode="AUDIT", tier="PLUS", **kw):
    p = idp.create_user_pool(PoolName=f"tp-{uuid.uuid4().hex[:6]}", UserPoolTier=tier,
                             UserPoolAddOns={"AdvancedSecurityMode": mode}, **kw)["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app", ExplicitAuthFlows=[
        "ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    return p, c


@pytest.fixture
def tp(idp):
    p, c = protected_pool(idp)
    yield p, c
    idp.delete_user_pool(UserPoolId=p["Id"])


def sign_in(idp, client, username="alice", password=PASSWORD, **kw):
    return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password}, **kw)


def events(idp, pool_id, username="alice", **kw):
    return idp.admin_list_user_auth_events(UserPoolId=pool_id, Username=username, **kw)["AuthEvents"]


def outbox(server, pool_id, username=None):
    args = [BIN, "outbox", "--data", str(server.data), pool_id] + ([username] if username else [])
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


# --- the feature plan ---------------------------------------------------------------

def test_threat_protection_is_not_on_the_essentials_plan(idp):
    tier_error = ("FeatureUnavailableInTierException",
                  "The following features need to be disabled for the ESSENTIALS pricing tier configured: "
                  "Threat Protection")
    # The default plan is Essentials.
    assert error_of(lambda: idp.create_user_pool(PoolName="x", UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})) \
        == tier_error
    p = idp.create_user_pool(PoolName="plus", UserPoolTier="PLUS",
                             UserPoolAddOns={"AdvancedSecurityMode": "ENFORCED"})["UserPool"]
    lite = idp.create_user_pool(PoolName="lite", UserPoolTier="LITE",
                                UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})["UserPool"]
    try:
        assert p["UserPoolAddOns"]["AdvancedSecurityMode"] == "ENFORCED" and p["UserPoolTier"] == "PLUS"
        assert lite["UserPoolAddOns"]["AdvancedSecurityMode"] == "AUDIT"
        # UpdateUserPool resets a plan left out to Essentials: refused while the mode stays on.
        assert error_of(lambda: idp.update_user_pool(
            UserPoolId=p["Id"], UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})) == tier_error
        idp.update_user_pool(UserPoolId=p["Id"], UserPoolAddOns={"AdvancedSecurityMode": "OFF"})
        assert idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]["UserPoolTier"] == "ESSENTIALS"
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])
        idp.delete_user_pool(UserPoolId=lite["Id"])


# --- risk configurations ------------------------------------------------------------

POOL_RISK = {
    "CompromisedCredentialsRiskConfiguration": {"EventFilter": ["SIGN_IN", "SIGN_UP"],
                                                "Actions": {"EventAction": "BLOCK"}},
    "AccountTakeoverRiskConfiguration": {
        "NotifyConfiguration": {"From": "security@example.com", "SourceArn": SES_ARN,
                                "NoActionEmail": {"Subject": "Sign-in", "TextBody": "Hello {username}, was it you?"}},
        "Actions": {"LowAction": {"Notify": True, "EventAction": "NO_ACTION"},
                    "MediumAction": {"Notify": True, "EventAction": "MFA_IF_CONFIGURED"},
                    "HighAction": {"Notify": False, "EventAction": "BLOCK"}}},
    "RiskExceptionConfiguration": {"BlockedIPRangeList": ["192.0.2.0/24"],
                                   "SkippedIPRangeList": ["10.0.0.0/8", "2001:db8::/32"]},
}


def without_date(config):
    return {k: v for k, v in config.items() if k != "LastModifiedDate"}


def test_risk_configuration_of_the_pool_and_of_a_client(idp, tp):
    pool, client = tp
    pid, cid = pool["Id"], client["ClientId"]
    # Nothing set: the pool's defaults.
    assert idp.describe_risk_configuration(UserPoolId=pid)["RiskConfiguration"] == {"UserPoolId": pid}
    r = idp.set_risk_configuration(UserPoolId=pid, **POOL_RISK)["RiskConfiguration"]
    assert without_date(r) == {"UserPoolId": pid, **POOL_RISK}
    assert r["LastModifiedDate"].year >= 2024
    assert without_date(idp.describe_risk_configuration(UserPoolId=pid)["RiskConfiguration"]) == \
        {"UserPoolId": pid, **POOL_RISK}
    # A client without its own falls back to the pool's (no ClientId: it applies to all).
    fallback = idp.describe_risk_configuration(UserPoolId=pid, ClientId=cid)["RiskConfiguration"]
    assert without_date(fallback) == {"UserPoolId": pid, **POOL_RISK}
    own = {"CompromisedCredentialsRiskConfiguration": {"Actions": {"EventAction": "NO_ACTION"}}}
    r = idp.set_risk_configuration(UserPoolId=pid, ClientId=cid, **own)["RiskConfiguration"]
    assert without_date(r) == {"UserPoolId": pid, "ClientId": cid, **own}
    assert without_date(idp.describe_risk_configuration(UserPoolId=pid, ClientId=cid)["RiskConfiguration"]) == \
        {"UserPoolId": pid, "ClientId": cid, **own}
    assert without_date(idp.describe_risk_configuration(UserPoolId=pid)["RiskConfiguration"]) == \
        {"UserPoolId": pid, **POOL_RISK}
    # Only the ids: the client's is reset to the pool's, then the pool's to the defaults.
    idp.set_risk_configuration(UserPoolId=pid, ClientId=cid)
    assert without_date(idp.describe_risk_configuration(UserPoolId=pid, ClientId=cid)["RiskConfiguration"]) == \
        {"UserPoolId": pid, **POOL_RISK}
    idp.set_risk_configuration(UserPoolId=pid)
    assert idp.describe_risk_configuration(UserPoolId=pid)["RiskConfiguration"] == {"UserPoolId": pid}
    # The client's configuration goes with the client.
    idp.set_risk_configuration(UserPoolId=pid, ClientId=cid, **own)
    idp.delete_user_pool_client(UserPoolId=pid, ClientId=cid)
    assert error_of(lambda: idp.describe_risk_configuration(UserPoolId=pid, ClientId=cid)) == (
        "ResourceNotFoundException", f"User pool client {cid} does not exist.")


def test_risk_configuration_on_a_pool_without_threat_protection(idp, pool):
    # The service accepts and reads back a configuration whatever the plan and mode.
    own = {"CompromisedCredentialsRiskConfiguration": {"Actions": {"EventAction": "BLOCK"}}}
    idp.set_risk_configuration(UserPoolId=pool["Id"], **own)
    got = idp.describe_risk_configuration(UserPoolId=pool["Id"])["RiskConfiguration"]
    assert without_date(got) == {"UserPoolId": pool["Id"], **own}


def test_risk_configuration_is_validated(idp, tp):
    pool, client = tp
    pid = pool["Id"]
    bad_range = {"RiskExceptionConfiguration": {"BlockedIPRangeList": ["192.0.2.0/24", "192.0.2.7"]}}
    assert error_of(lambda: idp.set_risk_configuration(UserPoolId=pid, **bad_range)) == (
        "InvalidParameterException", "192.0.2.7 is not a valid IP range in CIDR notation.")
    too_wide = {"RiskExceptionConfiguration": {"SkippedIPRangeList": ["10.0.0.0/33"]}}
    assert error_of(lambda: idp.set_risk_configuration(UserPoolId=pid, **too_wide))[0] == "InvalidParameterException"
    notify = {"AccountTakeoverRiskConfiguration": {"Actions": {"HighAction": {"Notify": True, "EventAction": "BLOCK"}}}}
    assert error_of(lambda: idp.set_risk_configuration(UserPoolId=pid, **notify)) == (
        "InvalidParameterException",
        "NotifyConfiguration is required when an account takeover action notifies the user.")
    not_ses = {"AccountTakeoverRiskConfiguration": {
        "NotifyConfiguration": {"SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"},
        "Actions": {"HighAction": {"Notify": True, "EventAction": "BLOCK"}}}}
    assert error_of(lambda: idp.set_risk_configuration(UserPoolId=pid, **not_ses))[0] == "InvalidParameterException"
    bad_action = {"CompromisedCredentialsRiskConfiguration": {"Actions": {"EventAction": "WARN"}}}
    code, message = error_of(lambda: idp.set_risk_configuration(UserPoolId=pid, **bad_action))
    assert code == "InvalidParameterException" and "Member must satisfy enum value set" in message
    assert error_of(lambda: idp.set_risk_configuration(UserPoolId=pid, ClientId="nosuchclient00000000000000")) == (
        "ResourceNotFoundException", "User pool client nosuchclient00000000000000 does not exist.")
    other, other_client = protected_pool(idp)
    try:
        # A client of another pool is not this pool's.
        assert error_of(lambda: idp.describe_risk_configuration(
            UserPoolId=pid, ClientId=other_client["ClientId"]))[0] == "ResourceNotFoundException"
    finally:
        idp.delete_user_pool(UserPoolId=other["Id"])
    assert error_of(lambda: idp.describe_risk_configuration(UserPoolId="us-east-1_nothere0"))[0] == \
        "ResourceNotFoundException"


# --- the event history --------------------------------------------------------------

def test_the_event_history_needs_threat_protection(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice")
    sign_in(idp, client)
    assert error_of(lambda: events(idp, pool["Id"])) == ADDON_OFF
    assert error_of(lambda: idp.admin_update_auth_event_feedback(
        UserPoolId=pool["Id"], Username="alice", EventId="e1", FeedbackValue="Valid")) == ADDON_OFF
    assert error_of(lambda: idp.update_auth_event_feedback(
        UserPoolId=pool["Id"], Username="alice", EventId="e1", FeedbackToken="t", FeedbackValue="Valid")) == ADDON_OFF
    # Turned on later: what happened while it was off was not recorded.
    idp.update_user_pool(UserPoolId=pool["Id"], UserPoolTier="PLUS", UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})
    assert events(idp, pool["Id"]) == []
    sign_in(idp, client)
    assert [e["EventType"] for e in events(idp, pool["Id"])] == ["SignIn"]
    assert error_of(lambda: events(idp, pool["Id"], "nobody")) == ("UserNotFoundException", "User does not exist.")


def test_sign_ins_are_recorded_newest_first(idp, tp):
    pool, client = tp
    make_user(idp, pool["Id"], "alice")
    sign_in(idp, client)
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        sign_in(idp, client, password="WrongPassw0rd!")
    idp.admin_initiate_auth(
        UserPoolId=pool["Id"], ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
        ContextData={"IpAddress": "192.0.2.10", "ServerName": "app.example.com", "ServerPath": "/login",
                     "HttpHeaders": [{"headerName": "User-Agent", "headerValue": "Firefox 128 on Linux"}]})
    admin, failed, first = events(idp, pool["Id"])
    assert admin["EventType"] == "SignIn" and admin["EventResponse"] == "Pass"
    assert admin["EventContextData"] == {"IpAddress": "192.0.2.10", "DeviceName": "Firefox 128 on Linux"}
    assert failed["EventResponse"] == "Fail"
    assert failed["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Failure"}]
    assert first["EventResponse"] == "Pass"
    assert first["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    assert first["EventRisk"] == {"RiskDecision": "NoRisk", "RiskLevel": "Low", "CompromisedCredentialsDetected": False}
    assert first["EventContextData"] == {"IpAddress": "127.0.0.1"}
    assert "EventFeedback" not in first
    assert admin["CreationDate"] >= failed["CreationDate"] >= first["CreationDate"]
    assert len({e["EventId"] for e in (admin, failed, first)}) == 3
    # Another name of the user (the sub) reads the same history.
    sub = idp.admin_get_user(UserPoolId=pool["Id"], Username="alice")["UserAttributes"]
    sub = next(a["Value"] for a in sub if a["Name"] == "sub")
    assert [e["EventId"] for e in events(idp, pool["Id"], sub)] == [e["EventId"] for e in (admin, failed, first)]


def test_user_context_data_address_only_when_the_client_propagates_it(idp, tp):
    pool, client = tp
    make_user(idp, pool["Id"], "alice")
    sign_in(idp, client, UserContextData={"IpAddress": "198.51.100.7", "EncodedData": "x"})
    assert events(idp, pool["Id"])[0]["EventContextData"]["IpAddress"] == "127.0.0.1"
    idp.update_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"],
                                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                                EnablePropagateAdditionalUserContextData=True)
    sign_in(idp, client, UserContextData={"IpAddress": "198.51.100.7", "EncodedData": "x"})
    assert events(idp, pool["Id"])[0]["EventContextData"]["IpAddress"] == "198.51.100.7"


def test_a_sign_in_at_a_challenge_is_in_progress_then_passes(idp, tp):
    pool, client = tp
    idp.admin_create_user(UserPoolId=pool["Id"], Username="nina", TemporaryPassword="Temp0rary!pw",
                          MessageAction="SUPPRESS")
    r = sign_in(idp, client, "nina", "Temp0rary!pw")
    assert r["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    [pending] = events(idp, pool["Id"], "nina")
    assert pending["EventType"] == "SignIn" and pending["EventResponse"] == "InProgress"
    assert pending["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                  Session=r["Session"],
                                  ChallengeResponses={"USERNAME": "nina", "NEW_PASSWORD": PASSWORD})
    [done] = events(idp, pool["Id"], "nina")
    assert done["EventId"] == pending["EventId"] and done["EventResponse"] == "Pass"


def test_an_mfa_sign_in_is_one_event(idp):
    pool, client = protected_pool(idp)
    try:
        idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="OPTIONAL",
                                     SoftwareTokenMfaConfiguration={"Enabled": True})
        make_user(idp, pool["Id"], "alice")
        access = sign_in(idp, client)["AuthenticationResult"]["AccessToken"]
        secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
        idp.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).now())
        idp.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True,
                                                                                  "PreferredMfa": True})
        r = sign_in(idp, client)
        assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        pending = events(idp, pool["Id"])[0]
        assert pending["EventResponse"] == "InProgress"
        answer = lambda code: idp.respond_to_auth_challenge(  # noqa: E731
            ClientId=client["ClientId"], ChallengeName="SOFTWARE_TOKEN_MFA", Session=r["Session"],
            ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code})
        next_code = pyotp.TOTP(secret).at(time.time() + 30)
        wrong = "000000" if next_code != "000000" else "111111"
        with pytest.raises(idp.exceptions.CodeMismatchException):
            answer(wrong)
        assert events(idp, pool["Id"])[0]["EventResponse"] == "InProgress"
        answer(next_code)
        done, first = events(idp, pool["Id"])
        assert done["EventId"] == pending["EventId"] and done["EventResponse"] == "Pass"
        assert done["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"},
                                              {"ChallengeName": "Mfa", "ChallengeResponse": "Success"}]
        assert first["EventResponse"] == "Pass"
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_sign_up_and_password_changes_are_recorded(server, idp):
    pool, client = protected_pool(idp, AutoVerifiedAttributes=["email"])
    pid, cid = pool["Id"], client["ClientId"]
    try:
        idp.sign_up(ClientId=cid, Username="sam", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "sam@example.com"}],
                    UserContextData={"EncodedData": "fingerprint"})
        idp.resend_confirmation_code(ClientId=cid, Username="sam")
        idp.confirm_sign_up(ClientId=cid, Username="sam", ConfirmationCode=code_for(server, pid, "sam", "signup"))
        idp.admin_update_user_attributes(UserPoolId=pid, Username="sam",
                                         UserAttributes=[{"Name": "email_verified", "Value": "true"}])
        idp.forgot_password(ClientId=cid, Username="sam")
        code = code_for(server, pid, "sam", "forgot_password")
        wrong = "000000" if code != "000000" else "111111"
        with pytest.raises(idp.exceptions.CodeMismatchException):
            idp.confirm_forgot_password(ClientId=cid, Username="sam", ConfirmationCode=wrong, Password=PASSWORD)
        idp.confirm_forgot_password(ClientId=cid, Username="sam", ConfirmationCode=code, Password="N3w!Password")
        access = sign_in(idp, client, "sam", "N3w!Password")["AuthenticationResult"]["AccessToken"]
        with pytest.raises(idp.exceptions.NotAuthorizedException):
            idp.change_password(AccessToken=access, PreviousPassword="Wr0ng!Password", ProposedPassword=PASSWORD)
        idp.change_password(AccessToken=access, PreviousPassword="N3w!Password", ProposedPassword=PASSWORD)
        # An administrator setting the password is not the user's activity.
        idp.admin_set_user_password(UserPoolId=pid, Username="sam", Password="An0ther!Password", Permanent=True)
        got = [(e["EventType"], e["EventResponse"]) for e in events(idp, pid, "sam")]
        assert got == [("PasswordChange", "Pass"), ("PasswordChange", "Fail"),
                       ("SignIn", "Pass"), ("PasswordChange", "Pass"), ("PasswordChange", "Fail"),
                       ("ForgotPassword", "Pass"), ("ResendCode", "Pass"), ("SignUp", "Pass")]
        sign_up = events(idp, pid, "sam")[-1]
        # Only sign-ins are scored by adaptive authentication: no risk level elsewhere.
        assert sign_up["EventRisk"] == {"RiskDecision": "NoRisk", "CompromisedCredentialsDetected": False}
        assert sign_up["ChallengeResponses"] == []
    finally:
        idp.delete_user_pool(UserPoolId=pid)


def test_events_are_paged(idp, tp):
    pool, client = tp
    make_user(idp, pool["Id"], "alice")
    for _ in range(7):
        sign_in(idp, client)
    everything = events(idp, pool["Id"])
    assert len(everything) == 7
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = idp.admin_list_user_auth_events(UserPoolId=pool["Id"], Username="alice", MaxResults=3, **kw)
        assert len(page["AuthEvents"]) <= 3
        seen += [e["EventId"] for e in page["AuthEvents"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [e["EventId"] for e in everything]
    assert len(events(idp, pool["Id"], MaxResults=0)) == 7
    # boto3's paginator walks the same pages.
    paged = idp.get_paginator("admin_list_user_auth_events").paginate(
        UserPoolId=pool["Id"], Username="alice", PaginationConfig={"PageSize": 2})
    assert [e["EventId"] for p in paged for e in p["AuthEvents"]] == seen
    assert error_of(lambda: events(idp, pool["Id"], NextToken="not-a-token!"))[0] == "InvalidParameterException"
    code, message = error_of(lambda: events(idp, pool["Id"], MaxResults=61))
    assert code == "InvalidParameterException" and "less than or equal to 60" in message


def test_admin_feedback_and_deleted_users(idp, tp):
    pool, client = tp
    make_user(idp, pool["Id"], "alice")
    sign_in(idp, client)
    [event] = events(idp, pool["Id"])
    idp.admin_update_auth_event_feedback(UserPoolId=pool["Id"], Username="alice", EventId=event["EventId"],
                                         FeedbackValue="Invalid")
    [event] = events(idp, pool["Id"])
    feedback = event["EventFeedback"]
    assert feedback["FeedbackValue"] == "Invalid" and feedback["Provider"] == "Admin"
    assert feedback["FeedbackDate"].year >= 2024
    # Feedback does not change the recorded risk (adaptive scoring is not emulated).
    assert event["EventRisk"]["RiskDecision"] == "NoRisk"
    assert error_of(lambda: idp.admin_update_auth_event_feedback(
        UserPoolId=pool["Id"], Username="alice", EventId="no-such-event", FeedbackValue="Valid")) == (
        "ResourceNotFoundException", "Auth event no-such-event does not exist.")
    assert error_of(lambda: idp.admin_update_auth_event_feedback(
        UserPoolId=pool["Id"], Username="bob", EventId=event["EventId"], FeedbackValue="Valid"))[0] == \
        "UserNotFoundException"
    # A user's events go with the user: the same name made again has none.
    idp.admin_delete_user(UserPoolId=pool["Id"], Username="alice")
    make_user(idp, pool["Id"], "alice")
    assert events(idp, pool["Id"]) == []


def test_user_feedback_with_the_token_of_the_notification_email(server, idp, tp):
    pool, client = tp
    pid = pool["Id"]
    idp.set_risk_configuration(UserPoolId=pid, AccountTakeoverRiskConfiguration={
        "NotifyConfiguration": {"From": "security@example.com", "SourceArn": SES_ARN,
                                "NoActionEmail": {"Subject": "New sign-in for {username}",
                                                  "TextBody": "Yes: {one-click-link-valid} No: {one-click-link-invalid}"}},
        "Actions": {"LowAction": {"Notify": True, "EventAction": "NO_ACTION"}}})
    make_user(idp, pid, "alice")
    sign_in(idp, client)
    [event] = events(idp, pid)
    [mail] = [m for m in outbox(server, pid, "alice") if m["kind"] == "risk_notification"]
    assert mail["subject"] == "New sign-in for alice" and mail["destination"] == "alice@example.com"
    links = re.findall(r"https?://\S+", mail["body"])
    assert len(links) == 2
    valid = urllib.parse.parse_qs(urllib.parse.urlsplit(links[0]).query)
    assert valid["eventId"] == [event["EventId"]] and valid["feedbackValue"] == ["Valid"]
    token = valid["feedbackToken"][0]
    assert error_of(lambda: idp.update_auth_event_feedback(
        UserPoolId=pid, Username="alice", EventId=event["EventId"], FeedbackToken=token + "x",
        FeedbackValue="Valid")) == ("NotAuthorizedException", "The feedback token is not valid.")
    # The UpdateAuthEventFeedback call needs no credentials.
    anonymous = server.client(signature_version=UNSIGNED)
    anonymous.update_auth_event_feedback(UserPoolId=pid, Username="alice", EventId=event["EventId"],
                                         FeedbackToken=token, FeedbackValue="Valid")
    feedback = events(idp, pid)[0]["EventFeedback"]
    assert feedback["FeedbackValue"] == "Valid" and feedback["Provider"] == "User"
    # The email's other link is the same operation over GET.
    with urllib.request.urlopen(links[1], timeout=10) as r:
        assert json.loads(r.read()) == {"FeedbackValue": "Invalid"}
    assert events(idp, pid)[0]["EventFeedback"]["FeedbackValue"] == "Invalid"
    # A token is for its event only.
    sign_in(idp, client)
    newer = events(idp, pid)[0]
    assert error_of(lambda: idp.update_auth_event_feedback(
        UserPoolId=pid, Username="alice", EventId=newer["EventId"], FeedbackToken=token,
        FeedbackValue="Valid"))[0] == "NotAuthorizedException"
    # Nothing tells whether a user exists: an unknown user, a real one with a bad token,
    # and another user's name with alice's token all get the same answer (API and link).
    invalid = ("NotAuthorizedException", "The feedback token is not valid.")
    for username, tok in (("nobody", token), ("nobody", "x"), ("alice", "x"), ("ALICE", token)):
        assert error_of(lambda: anonymous.update_auth_event_feedback(
            UserPoolId=pid, Username=username, EventId=event["EventId"], FeedbackToken=tok,
            FeedbackValue="Valid")) == invalid, (username, tok)
    for username in ("nobody", "alice"):
        bad = links[0].replace("feedbackToken=", "feedbackToken=x").replace("username=alice", f"username={username}")
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bad, timeout=10)
        body = json.loads(e.value.read())
        assert (e.value.code, body["__type"], body["message"]) == (400, *invalid), body


# --- log export ---------------------------------------------------------------------

def test_log_delivery_configuration(idp, tp, pool):
    pid = tp[0]["Id"]
    assert idp.get_log_delivery_configuration(UserPoolId=pid)["LogDeliveryConfiguration"] == {
        "UserPoolId": pid, "LogConfigurations": []}
    both = [
        {"LogLevel": "ERROR", "EventSource": "userNotification", "CloudWatchLogsConfiguration": {"LogGroupArn": LOG_GROUP}},
        {"LogLevel": "INFO", "EventSource": "userAuthEvents", "S3Configuration": {"BucketArn": BUCKET}},
    ]
    r = idp.set_log_delivery_configuration(UserPoolId=pid, LogConfigurations=both)
    assert r["LogDeliveryConfiguration"] == {"UserPoolId": pid, "LogConfigurations": both}
    assert idp.get_log_delivery_configuration(UserPoolId=pid)["LogDeliveryConfiguration"]["LogConfigurations"] == both
    one = [{"LogLevel": "INFO", "EventSource": "userAuthEvents", "FirehoseConfiguration": {"StreamArn": STREAM}}]
    idp.set_log_delivery_configuration(UserPoolId=pid, LogConfigurations=one)
    assert idp.get_log_delivery_configuration(UserPoolId=pid)["LogDeliveryConfiguration"]["LogConfigurations"] == one
    idp.set_log_delivery_configuration(UserPoolId=pid, LogConfigurations=[])
    assert idp.get_log_delivery_configuration(UserPoolId=pid)["LogDeliveryConfiguration"]["LogConfigurations"] == []

    def refused(configs, pool_id=pid):
        return error_of(lambda: idp.set_log_delivery_configuration(UserPoolId=pool_id, LogConfigurations=configs))

    cw = {"CloudWatchLogsConfiguration": {"LogGroupArn": LOG_GROUP}}
    assert refused([{"LogLevel": "INFO", "EventSource": "userNotification", **cw}]) == (
        "InvalidParameterException", "userNotification logs are delivered at the ERROR log level only.")
    assert refused([{"LogLevel": "ERROR", "EventSource": "userNotification", "S3Configuration": {"BucketArn": BUCKET}}]) \
        == ("InvalidParameterException",
            "userNotification logs can be delivered to a CloudWatch Logs log group only.")
    assert refused([{"LogLevel": "ERROR", "EventSource": "userAuthEvents", **cw}]) == (
        "InvalidParameterException", "userAuthEvents logs are delivered at the INFO log level only.")
    assert refused([{"LogLevel": "INFO", "EventSource": "userAuthEvents", **cw,
                     "S3Configuration": {"BucketArn": BUCKET}}]) == (
        "InvalidParameterException",
        "A log configuration must have exactly one of CloudWatchLogsConfiguration, S3Configuration or "
        "FirehoseConfiguration.")
    assert refused([{"LogLevel": "ERROR", "EventSource": "userNotification"}])[0] == "InvalidParameterException"
    assert refused([{"LogLevel": "ERROR", "EventSource": "userNotification", "CloudWatchLogsConfiguration": {}}]) == (
        "InvalidParameterException", "LogGroupArn is required.")
    assert refused([{"LogLevel": "INFO", "EventSource": "userAuthEvents",
                     "FirehoseConfiguration": {"StreamArn": LOG_GROUP}}]) == (
        "InvalidParameterException", f"StreamArn {LOG_GROUP} is not the ARN of an Amazon Data Firehose stream.")
    assert refused([{"LogLevel": "INFO", "EventSource": "userAuthEvents", **cw}] * 2) == (
        "InvalidParameterException",
        "Only one log configuration per event source is allowed: userAuthEvents is configured twice.")
    code, message = refused([{"LogLevel": "ERROR", "EventSource": "userNotification", **cw}] * 3)
    assert code == "InvalidParameterException" and "less than or equal to 2" in message
    code, message = refused([{"LogLevel": "DEBUG", "EventSource": "userNotification", **cw}])
    assert code == "InvalidParameterException" and "Member must satisfy enum value set" in message
    # User activity is the Plus plan's; message-delivery errors are any pool's.
    assert refused([{"LogLevel": "INFO", "EventSource": "userAuthEvents", **cw}], pool["Id"]) == (
        "FeatureUnavailableInTierException",
        "The following features are not available for the ESSENTIALS pricing tier configured: "
        "Threat Protection log export")
    idp.set_log_delivery_configuration(UserPoolId=pool["Id"], LogConfigurations=[
        {"LogLevel": "ERROR", "EventSource": "userNotification", **cw}])
    assert refused([], "us-east-1_nothere0")[0] == "ResourceNotFoundException"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_lines(path, want, timeout=10):
    deadline = time.time() + timeout
    while True:
        lines = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
        if len(lines) >= want or time.time() > deadline:
            return lines
        time.sleep(0.05)


def test_delivered_logs_are_written_to_the_log_delivery_dir():
    with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as logs:
        # Nothing listens on the SMTP port: every email fails to be mailed.
        s = Server(d, extra_args=["--log-delivery-dir", logs, "--smtp-url", f"smtp://127.0.0.1:{free_port()}"]).start()
        try:
            idp = s.client()
            pool, client = protected_pool(idp)
            pid = pool["Id"]
            idp.set_log_delivery_configuration(UserPoolId=pid, LogConfigurations=[
                {"LogLevel": "INFO", "EventSource": "userAuthEvents", "FirehoseConfiguration": {"StreamArn": STREAM}},
                {"LogLevel": "ERROR", "EventSource": "userNotification",
                 "CloudWatchLogsConfiguration": {"LogGroupArn": LOG_GROUP}}])
            make_user(idp, pid, "alice")
            sign_in(idp, client)
            activity = Path(logs) / "arn_aws_firehose_us-east-1_123456789012_deliverystream_cognito-activity.jsonl"
            [line] = read_lines(activity, 1)
            assert line["eventSource"] == "USER_AUTH_EVENTS" and line["logLevel"] == "INFO"
            assert line["logSourceId"] == {"userPoolId": pid}
            assert int(line["eventTimestamp"]) > 1_700_000_000_000
            [event] = events(idp, pid)
            message = line["message"]
            assert message["EventId"] == event["EventId"] and message["EventType"] == "SignIn"
            assert message["EventResponse"] == "Pass" and message["UserName"] == "alice"
            assert message["ClientId"] == client["ClientId"] and message["UserPoolId"] == pid
            # A message that could not be mailed is a userNotification ERROR.
            idp.forgot_password(ClientId=client["ClientId"], Username="alice")
            errors = Path(logs) / "arn_aws_logs_us-east-1_123456789012_log-group_cognito-exported.jsonl"
            [failure] = read_lines(errors, 1)
            assert failure["eventSource"] == "USER_NOTIFICATION" and failure["logLevel"] == "ERROR"
            assert failure["message"]["deliveryMedium"] == "EMAIL" and failure["message"]["userName"] == "alice"
            assert failure["message"]["details"].startswith("Email message failed to send")
            # The ForgotPassword event is user activity too.
            assert [x["message"]["EventType"] for x in read_lines(activity, 2)] == ["SignIn", "ForgotPassword"]
            # The same lines reach the tracing target.
            assert any("userpool::log_delivery" in x and "USER_AUTH_EVENTS" in x for x in s.log)
            # With log export off, nothing more is written.
            idp.set_log_delivery_configuration(UserPoolId=pid, LogConfigurations=[])
            sign_in(idp, client)
            time.sleep(0.3)
            assert len(read_lines(activity, 2)) == 2
        finally:
            s.stop()
