"""Lambda triggers through the real Lambda Invoke API (lambda_server.py checks every call's
SigV4 signature): each trigger source's event, member by member against the developer
guide's, and the effect of its answer; CUSTOM_AUTH through boto3 and pycognito's SRP; the
failure modes and Cognito's exceptions for them."""

import base64
import json
import time
import uuid

import pytest
from pycognito import aws_srp

from conftest import PASSWORD, Server, lambda_args, make_user, read_codes
from test_outbox import outbox

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
         "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_CUSTOM_AUTH"]


def claims(token):
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


@pytest.fixture
def triggered(idp, lambdas):
    """make(LambdaConfig=..., **pool settings) -> (pool, client); pools deleted after."""
    made = []

    def make(lambda_config, **settings):
        p = idp.create_user_pool(PoolName=f"trig-{uuid.uuid4().hex[:6]}", LambdaConfig=lambda_config,
                                 **settings)["UserPool"]
        c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app", ExplicitAuthFlows=FLOWS)["UserPoolClient"]
        made.append(p["Id"])
        return p, c
    yield make
    for pid in made:
        idp.delete_user_pool(UserPoolId=pid)


def envelope(event, source, pool, user_name, client_id):
    assert event["version"] == "1"
    assert event["triggerSource"] == source
    assert event["region"] == "us-east-1"
    assert event["userPoolId"] == pool["Id"]
    assert event["userName"] == user_name
    assert event["callerContext"] == {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id}


def test_pre_sign_up_auto_confirms_and_verifies(idp, lambdas, triggered, server):
    def pre(event):
        event["response"]["autoConfirmUser"] = True
        event["response"]["autoVerifyEmail"] = True
        return event
    arn = lambdas.register(pre)
    pool, client = triggered({"PreSignUp": arn}, AutoVerifiedAttributes=["email"])
    r = idp.sign_up(ClientId=client["ClientId"], Username="amy", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "amy@example.com"}],
                    ValidationData=[{"Name": "invite", "Value": "abc"}], ClientMetadata={"from": "test"})
    assert r["UserConfirmed"] is True and "CodeDeliveryDetails" not in r
    (event,) = lambdas.received(arn)
    envelope(event, "PreSignUp_SignUp", pool, "amy", client["ClientId"])
    assert event["request"] == {"userAttributes": {"email": "amy@example.com"}, "validationData": {"invite": "abc"},
                                "clientMetadata": {"from": "test"}}
    assert event["response"] == {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}
    u = idp.admin_get_user(UserPoolId=pool["Id"], Username="amy")
    assert u["UserStatus"] == "CONFIRMED"
    assert {a["Name"]: a["Value"] for a in u["UserAttributes"]}["email_verified"] == "true"
    assert read_codes(server, pool["Id"], "amy") == []
    idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": "amy", "PASSWORD": PASSWORD})


def test_pre_sign_up_error_refuses_and_keeps_nothing(idp, lambdas, triggered):
    def pre(event):
        raise Exception("Registration from this domain is not allowed.")
    arn = lambdas.register(pre)
    pool, client = triggered({"PreSignUp": arn})
    with pytest.raises(idp.exceptions.UserLambdaValidationException) as e:
        idp.sign_up(ClientId=client["ClientId"], Username="bo", Password=PASSWORD)
    assert e.value.response["Error"]["Message"] == "PreSignUp failed with error Registration from this domain is not allowed.."
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=pool["Id"], Username="bo")
    with pytest.raises(idp.exceptions.UserLambdaValidationException):
        idp.admin_create_user(UserPoolId=pool["Id"], Username="bo", MessageAction="SUPPRESS")
    event = lambdas.received(arn)[-1]
    envelope(event, "PreSignUp_AdminCreateUser", pool, "bo", "CLIENT_ID_NOT_APPLICABLE")
    assert "sub" in event["request"]["userAttributes"]


def test_post_confirmation_after_confirm_and_forgot_password(idp, lambdas, triggered, server):
    failing = {"on": False}

    def post(event):
        if failing["on"]:
            raise Exception("downstream is down")
        return event
    arn = lambdas.register(post)
    pool, client = triggered({"PostConfirmation": arn}, AutoVerifiedAttributes=["email"])
    idp.sign_up(ClientId=client["ClientId"], Username="cy", Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": "cy@example.com"}])
    code = next(c["code"] for c in read_codes(server, pool["Id"], "cy") if c["purpose"] == "signup")
    failing["on"] = True
    with pytest.raises(idp.exceptions.UserLambdaValidationException) as e:
        idp.confirm_sign_up(ClientId=client["ClientId"], Username="cy", ConfirmationCode=code,
                            ClientMetadata={"k": "v"})
    assert e.value.response["Error"]["Message"] == "PostConfirmation failed with error downstream is down."
    # Cognito keeps the confirmation although the function failed.
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="cy")["UserStatus"] == "CONFIRMED"
    event = lambdas.received(arn)[-1]
    envelope(event, "PostConfirmation_ConfirmSignUp", pool, "cy", client["ClientId"])
    attrs = event["request"]["userAttributes"]
    assert attrs["cognito:user_status"] == "CONFIRMED" and attrs["email_verified"] == "true" and attrs["sub"]
    assert event["request"]["clientMetadata"] == {"k": "v"}
    failing["on"] = False
    idp.forgot_password(ClientId=client["ClientId"], Username="cy")
    code = next(c["code"] for c in read_codes(server, pool["Id"], "cy") if c["purpose"] == "forgot_password")
    idp.confirm_forgot_password(ClientId=client["ClientId"], Username="cy", ConfirmationCode=code,
                                Password=PASSWORD + "2")
    envelope(lambdas.received(arn)[-1], "PostConfirmation_ConfirmForgotPassword", pool, "cy", client["ClientId"])


def test_pre_and_post_authentication(idp, lambdas, triggered):
    blocked = set()

    def pre(event):
        if event["userName"] in blocked:
            raise Exception("SPIKE_LOCKED")
        return event
    pre_arn, post_arn = lambdas.register(pre), lambdas.register(lambda e: e)
    pool, client = triggered({"PreAuthentication": pre_arn, "PostAuthentication": post_arn})
    make_user(idp, pool["Id"], "dee", email="dee@example.com")
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "dee", "PASSWORD": PASSWORD}, ClientMetadata={"ip": "1.2.3.4"})
    assert "AccessToken" in r["AuthenticationResult"]
    (pre_event,) = lambdas.received(pre_arn)
    envelope(pre_event, "PreAuthentication_Authentication", pool, "dee", client["ClientId"])
    assert pre_event["request"]["validationData"] == {"ip": "1.2.3.4"}
    assert pre_event["request"]["userAttributes"]["email"] == "dee@example.com"
    (post_event,) = lambdas.received(post_arn)
    envelope(post_event, "PostAuthentication_Authentication", pool, "dee", client["ClientId"])
    assert post_event["request"]["newDeviceUsed"] is False
    # InitiateAuth's ClientMetadata is not passed to PostAuthentication.
    assert "clientMetadata" not in post_event["request"]
    # A PreAuthentication error refuses the sign-in, before the password is checked.
    blocked.add("dee")
    for password in (PASSWORD, "wrong-Passw0rd!"):
        with pytest.raises(idp.exceptions.UserLambdaValidationException) as e:
            idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "dee", "PASSWORD": password})
        assert e.value.response["Error"]["Message"] == "PreAuthentication failed with error SPIKE_LOCKED."
    srp = aws_srp.AWSSRP(username="dee", password=PASSWORD, pool_id=pool["Id"], client_id=client["ClientId"], client=idp)
    with pytest.raises(idp.exceptions.UserLambdaValidationException):
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_SRP_AUTH", AuthParameters=srp.get_auth_params())
    assert len(lambdas.received(post_arn)) == 1


def test_pre_token_generation_v1(idp, lambdas, triggered):
    def pre(event):
        event["response"]["claimsOverrideDetails"] = {
            "claimsToAddOrOverride": {"tenant": "acme", "sub": "forged"},
            "claimsToSuppress": ["email"],
            "groupOverrideDetails": {"groupsToOverride": ["admins", "auditors"]},
        }
        return event
    arn = lambdas.register(pre)
    pool, client = triggered({"PreTokenGeneration": arn})
    make_user(idp, pool["Id"], "eve", email="eve@example.com")
    idp.create_group(UserPoolId=pool["Id"], GroupName="staff")
    idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username="eve", GroupName="staff")
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "eve", "PASSWORD": PASSWORD})["AuthenticationResult"]
    (event,) = lambdas.received(arn)
    envelope(event, "TokenGeneration_Authentication", pool, "eve", client["ClientId"])
    assert event["request"]["groupConfiguration"] == {"groupsToOverride": ["staff"], "iamRolesToOverride": [],
                                                      "preferredRole": None}
    assert "scopes" not in event["request"]
    assert event["response"] == {"claimsOverrideDetails": None}
    id_claims, access = claims(r["IdToken"]), claims(r["AccessToken"])
    assert id_claims["tenant"] == "acme" and "email" not in id_claims
    assert id_claims["sub"] != "forged"
    assert id_claims["cognito:groups"] == ["admins", "auditors"] == access["cognito:groups"]
    assert "tenant" not in access
    refreshed = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": r["RefreshToken"]})["AuthenticationResult"]
    assert claims(refreshed["IdToken"])["tenant"] == "acme"
    event = lambdas.received(arn)[-1]
    envelope(event, "TokenGeneration_RefreshTokens", pool, "eve", client["ClientId"])
    assert "clientMetadata" not in event["request"]
    idp.get_tokens_from_refresh_token(ClientId=client["ClientId"], RefreshToken=r["RefreshToken"],
                                      ClientMetadata={"via": "GetTokensFromRefreshToken"})
    event = lambdas.received(arn)[-1]
    assert event["triggerSource"] == "TokenGeneration_RefreshTokens"
    assert event["request"]["clientMetadata"] == {"via": "GetTokensFromRefreshToken"}


def test_pre_token_generation_v2_access_token_and_scopes(idp, lambdas, triggered):
    def pre(event):
        assert event["version"] == "2"
        event["response"]["claimsAndScopeOverrideDetails"] = {
            "idTokenGeneration": {"claimsToAddOrOverride": {"plan": {"tier": "gold", "seats": 3}}},
            "accessTokenGeneration": {"claimsToAddOrOverride": {"role": "editor", "client_id": "forged"},
                                      "claimsToSuppress": ["role"],
                                      "scopesToAdd": ["api/read"], "scopesToSuppress": []},
        }
        return event
    arn = lambdas.register(pre)
    pool, client = triggered({"PreTokenGenerationConfig": {"LambdaVersion": "V2_0", "LambdaArn": arn}})
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["LambdaConfig"]["PreTokenGenerationConfig"] == {
        "LambdaVersion": "V2_0", "LambdaArn": arn}
    make_user(idp, pool["Id"], "fay", email="fay@example.com")
    idp.admin_create_user(UserPoolId=pool["Id"], Username="gus", TemporaryPassword="Temp-Passw0rd!", MessageAction="SUPPRESS")
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "fay", "PASSWORD": PASSWORD})["AuthenticationResult"]
    (event,) = lambdas.received(arn)
    assert event["request"]["scopes"] == ["aws.cognito.signin.user.admin"]
    assert event["response"] == {"claimsAndScopeOverrideDetails": None}
    access = claims(r["AccessToken"])
    assert access["scope"] == "aws.cognito.signin.user.admin api/read"
    assert "role" not in access and access["client_id"] == client["ClientId"]
    assert claims(r["IdToken"])["plan"] == {"tier": "gold", "seats": 3}
    # The access token still works against the API.
    idp.get_user(AccessToken=r["AccessToken"])
    first = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "gus", "PASSWORD": "Temp-Passw0rd!"})
    idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED",
                                  Session=first["Session"],
                                  ChallengeResponses={"USERNAME": "gus", "NEW_PASSWORD": PASSWORD})
    assert lambdas.received(arn)[-1]["triggerSource"] == "TokenGeneration_NewPasswordChallenge"


def test_custom_message_replaces_the_template(idp, lambdas, triggered, server):
    def custom(event):
        r = event["request"]
        if event["triggerSource"] == "CustomMessage_AdminCreateUser":
            event["response"]["emailMessage"] = f"Welcome {r['usernameParameter']}, use {r['codeParameter']}"
        else:
            event["response"]["emailMessage"] = f"<b>{r['codeParameter']}</b> is your code"
        event["response"]["emailSubject"] = "From the trigger"
        event["response"]["smsMessage"] = f"code {r['codeParameter']}"
        return event
    arn = lambdas.register(custom)
    pool, client = triggered({"CustomMessage": arn}, AutoVerifiedAttributes=["email"])
    idp.sign_up(ClientId=client["ClientId"], Username="hal", Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": "hal@example.com"}], ClientMetadata={"lang": "fr"})
    event = lambdas.received(arn)[-1]
    envelope(event, "CustomMessage_SignUp", pool, "hal", client["ClientId"])
    assert event["request"]["codeParameter"] == "{####}"
    assert event["request"]["linkParameter"] == "{##Click Here##}"
    assert event["request"]["usernameParameter"] is None
    assert event["request"]["clientMetadata"] == {"lang": "fr"}
    assert event["response"] == {"smsMessage": None, "emailMessage": None, "emailSubject": None}
    code = next(c["code"] for c in read_codes(server, pool["Id"], "hal") if c["purpose"] == "signup")
    (m,) = [m for m in outbox(server, pool["Id"], "hal")]
    assert m["subject"] == "From the trigger" and m["body"] == f"<b>{code}</b> is your code"
    idp.resend_confirmation_code(ClientId=client["ClientId"], Username="hal")
    assert lambdas.received(arn)[-1]["triggerSource"] == "CustomMessage_ResendCode"
    idp.admin_create_user(UserPoolId=pool["Id"], Username="ida", DesiredDeliveryMediums=["EMAIL"],
                          UserAttributes=[{"Name": "email", "Value": "ida@example.com"}])
    event = lambdas.received(arn)[-1]
    envelope(event, "CustomMessage_AdminCreateUser", pool, "ida", "CLIENT_ID_NOT_APPLICABLE")
    assert event["request"]["usernameParameter"] == "{username}"
    temp = next(c["code"] for c in read_codes(server, pool["Id"], "ida") if c["purpose"] == "temporary_password")
    assert outbox(server, pool["Id"], "ida")[-1]["body"] == f"Welcome ida, use {temp}"


def test_custom_message_without_the_code_is_refused(idp, lambdas, triggered):
    def custom(event):
        event["response"]["emailMessage"] = "no code here"
        return event
    pool, client = triggered({"CustomMessage": lambdas.register(custom)}, AutoVerifiedAttributes=["email"])
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.sign_up(ClientId=client["ClientId"], Username="jo", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "jo@example.com"}])
    assert e.value.response["Error"]["Message"].startswith(
        "1 validation error detected: Value 'no code here' at 'emailBody' failed to satisfy constraint")


def test_user_migration_on_sign_in_and_forgot_password(idp, lambdas, triggered, server):
    legacy = {"kim": "Legacy-Passw0rd!", "lou": None}

    def migrate(event):
        name = event["userName"]
        if name not in legacy:
            raise Exception("Bad password")
        if event["triggerSource"] == "UserMigration_Authentication" and event["request"]["password"] != legacy[name]:
            raise Exception("Bad password")
        event["response"]["userAttributes"] = {"email": f"{name}@example.com", "email_verified": "true",
                                               "custom:tenant": "old"}
        if not legacy[name]:
            event["response"]["finalUserStatus"] = "RESET_REQUIRED"
        # else left out: a sign-in's migrated user is CONFIRMED (the developer guide)
        event["response"]["messageAction"] = "SUPPRESS"
        return event
    arn = lambdas.register(migrate)
    pool, client = triggered({"UserMigration": arn}, Schema=[{"Name": "tenant", "AttributeDataType": "String"}])
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "kim", "PASSWORD": "Legacy-Passw0rd!"},
                          ClientMetadata={"src": "app"})
    assert "AccessToken" in r["AuthenticationResult"]
    (event,) = lambdas.received(arn)
    envelope(event, "UserMigration_Authentication", pool, "kim", client["ClientId"])
    assert event["request"] == {"password": "Legacy-Passw0rd!", "validationData": {"src": "app"}}
    u = idp.admin_get_user(UserPoolId=pool["Id"], Username="kim")
    assert u["UserStatus"] == "CONFIRMED"
    assert {a["Name"]: a["Value"] for a in u["UserAttributes"]}["custom:tenant"] == "old"
    # Now a user of the pool: no second call.
    idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": "kim", "PASSWORD": "Legacy-Passw0rd!"})
    assert len(lambdas.received(arn)) == 1
    # A function that throws is not shown: Cognito's own answer, with neither the function's
    # message nor (where the client hides users) anything an unknown user would not get.
    with pytest.raises(idp.exceptions.UserNotFoundException) as e:
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "max", "PASSWORD": "Whatever-1!"})
    assert e.value.response["Error"]["Message"] == f"Exception migrating user in app client {client['ClientId']}"
    hiding = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="hiding",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                                         PreventUserExistenceErrors="ENABLED")["UserPoolClient"]
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.initiate_auth(ClientId=hiding["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "max", "PASSWORD": "Whatever-1!"})
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."
    d = idp.forgot_password(ClientId=client["ClientId"], Username="lou")["CodeDeliveryDetails"]
    assert d["AttributeName"] == "email"
    envelope(lambdas.received(arn)[-1], "UserMigration_ForgotPassword", pool, "lou", client["ClientId"])
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="lou")["UserStatus"] == "RESET_REQUIRED"
    code = next(c["code"] for c in read_codes(server, pool["Id"], "lou") if c["purpose"] == "forgot_password")
    idp.confirm_forgot_password(ClientId=client["ClientId"], Username="lou", ConfirmationCode=code, Password=PASSWORD)
    idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": "lou", "PASSWORD": PASSWORD})


def custom_auth_functions(lambdas, with_password=False):
    """A one-question challenge ("what is 6 x 7?"), three tries, after an SRP password step
    when `with_password`."""
    def define(event):
        s = event["request"]["session"]
        r = event["response"]
        if event["request"].get("userNotFound"):
            r.update(issueTokens=False, failAuthentication=True)
        elif with_password and len(s) == 1 and s[0]["challengeName"] == "SRP_A":
            r.update(challengeName="PASSWORD_VERIFIER", issueTokens=False, failAuthentication=False)
        elif s and s[-1]["challengeName"] == "CUSTOM_CHALLENGE" and s[-1]["challengeResult"]:
            r.update(issueTokens=True, failAuthentication=False)
        elif len([c for c in s if c["challengeName"] == "CUSTOM_CHALLENGE"]) >= 3:
            r.update(issueTokens=False, failAuthentication=True)
        else:
            r.update(challengeName="CUSTOM_CHALLENGE", issueTokens=False, failAuthentication=False)
        return event

    def create(event):
        event["response"]["publicChallengeParameters"] = {"question": "6 x 7"}
        event["response"]["privateChallengeParameters"] = {"answer": "42"}
        event["response"]["challengeMetadata"] = f"Q{len(event['request']['session'])}"
        return event

    def verify(event):
        event["response"]["answerCorrect"] = (
            event["request"]["challengeAnswer"] == event["request"]["privateChallengeParameters"]["answer"])
        return event
    return {"DefineAuthChallenge": lambdas.register(define), "CreateAuthChallenge": lambdas.register(create),
            "VerifyAuthChallengeResponse": lambdas.register(verify)}


def test_custom_auth_without_password(idp, lambdas, triggered):
    fns = custom_auth_functions(lambdas)
    pool, client = triggered(fns)
    make_user(idp, pool["Id"], "meg", email="meg@example.com")
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": "meg"})
    assert r["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert r["ChallengeParameters"] == {"question": "6 x 7", "USERNAME": "meg"}
    define_events = lambdas.received(fns["DefineAuthChallenge"])
    envelope(define_events[0], "DefineAuthChallenge_Authentication", pool, "meg", client["ClientId"])
    assert define_events[0]["request"]["session"] == []
    assert define_events[0]["response"] == {"challengeName": None, "issueTokens": None, "failAuthentication": None}
    wrong = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="CUSTOM_CHALLENGE",
                                          Session=r["Session"], ChallengeResponses={"USERNAME": "meg", "ANSWER": "41"},
                                          ClientMetadata={"try": "1"})
    assert wrong["ChallengeName"] == "CUSTOM_CHALLENGE"
    verify_event = lambdas.received(fns["VerifyAuthChallengeResponse"])[-1]
    envelope(verify_event, "VerifyAuthChallengeResponse_Authentication", pool, "meg", client["ClientId"])
    assert verify_event["request"]["privateChallengeParameters"] == {"answer": "42"}
    assert verify_event["request"]["challengeAnswer"] == "41"
    assert verify_event["request"]["clientMetadata"] == {"try": "1"}
    assert verify_event["response"] == {"answerCorrect": None}
    create_event = lambdas.received(fns["CreateAuthChallenge"])[-1]
    assert create_event["request"]["challengeName"] == "CUSTOM_CHALLENGE"
    assert create_event["request"]["session"] == [
        {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False, "challengeMetadata": "Q0"}]
    # A Session answers once.
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="CUSTOM_CHALLENGE",
                                      Session=r["Session"], ChallengeResponses={"USERNAME": "meg", "ANSWER": "42"})
    assert e.value.response["Error"]["Message"] == "Invalid session for the user."
    done = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="CUSTOM_CHALLENGE",
                                         Session=wrong["Session"], ChallengeResponses={"USERNAME": "meg", "ANSWER": "42"})
    assert idp.get_user(AccessToken=done["AuthenticationResult"]["AccessToken"])["Username"] == "meg"
    # Three wrong answers: Define fails the sign-in.
    s = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": "meg"})["Session"]
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        for _ in range(3):
            s = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="CUSTOM_CHALLENGE", Session=s,
                                              ChallengeResponses={"USERNAME": "meg", "ANSWER": "0"})["Session"]
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."


def test_custom_auth_with_srp(idp, lambdas, triggered):
    fns = custom_auth_functions(lambdas, with_password=True)
    pool, client = triggered(fns)
    make_user(idp, pool["Id"], "ned", email="ned@example.com")
    srp = aws_srp.AWSSRP(username="ned", password=PASSWORD, pool_id=pool["Id"], client_id=client["ClientId"], client=idp)
    params = {**srp.get_auth_params(), "CHALLENGE_NAME": "SRP_A"}
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="CUSTOM_AUTH", AuthParameters=params)
    assert r["ChallengeName"] == "PASSWORD_VERIFIER"
    assert lambdas.received(fns["DefineAuthChallenge"])[0]["request"]["session"] == [
        {"challengeName": "SRP_A", "challengeResult": True, "challengeMetadata": None}]
    q = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=srp.process_challenge(r["ChallengeParameters"], params))
    assert q["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert [c["challengeName"] for c in lambdas.received(fns["DefineAuthChallenge"])[-1]["request"]["session"]] == [
        "SRP_A", "PASSWORD_VERIFIER"]
    done = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="CUSTOM_CHALLENGE",
                                         Session=q["Session"], ChallengeResponses={"USERNAME": "ned", "ANSWER": "42"})
    assert "IdToken" in done["AuthenticationResult"]
    # A wrong password ends the flow without asking Define again.
    bad = aws_srp.AWSSRP(username="ned", password="Wrong-Passw0rd!", pool_id=pool["Id"], client_id=client["ClientId"],
                         client=idp)
    params = {**bad.get_auth_params(), "CHALLENGE_NAME": "SRP_A"}
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="CUSTOM_AUTH", AuthParameters=params)
    n = len(lambdas.received(fns["DefineAuthChallenge"]))
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=bad.process_challenge(r["ChallengeParameters"], params))
    assert len(lambdas.received(fns["DefineAuthChallenge"])) == n


def test_custom_auth_needs_its_triggers_and_the_flow(idp, lambdas, triggered):
    pool, client = triggered({"DefineAuthChallenge": lambdas.register(lambda e: e)})
    make_user(idp, pool["Id"], "ola", email="ola@example.com")
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": "ola"})
    assert e.value.response["Error"]["Message"] == "Custom auth lambda trigger is not configured for the user pool."


def test_failure_modes(idp, lambdas, triggered):
    def answer(payload):
        return lambda event: payload
    cases = [
        (b"null", "InvalidLambdaResponseException", "Invalid lambda function output : Invalid JSON"),
        ({"response": {"autoConfirmUser": "yes"}}, "InvalidLambdaResponseException", "Unrecognizable lambda output"),
    ]
    for payload, code, message in cases:
        pool, client = triggered({"PreSignUp": lambdas.register(answer(payload))})
        with pytest.raises(idp.exceptions.ClientError) as e:
            idp.sign_up(ClientId=client["ClientId"], Username="pat", Password=PASSWORD)
        assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (code, message)
    missing = "arn:aws:lambda:us-east-1:123456789012:function:no-such-function"
    pool, client = triggered({"PreSignUp": missing})
    with pytest.raises(idp.exceptions.UnexpectedLambdaException) as e:
        idp.sign_up(ClientId=client["ClientId"], Username="pat", Password=PASSWORD)
    assert e.value.response["Error"]["Message"] == "PreSignUp invocation failed due to error ResourceNotFoundException."
    # The call is signed for the function's own region.
    arn = lambdas.register(lambda e: e, region="eu-west-1")
    pool, client = triggered({"PreSignUp": arn})
    idp.sign_up(ClientId=client["ClientId"], Username="pat", Password=PASSWORD)
    assert lambdas.received(arn)[0]["region"] == "us-east-1"
    assert lambdas.refused == []


def test_a_function_that_does_not_answer_times_out(idp, lambdas, triggered):
    def slow(event):
        time.sleep(6)
        return event
    pool, client = triggered({"PreSignUp": lambdas.register(slow)})
    started = time.monotonic()
    with pytest.raises(idp.exceptions.UnexpectedLambdaException) as e:
        idp.sign_up(ClientId=client["ClientId"], Username="quin", Password=PASSWORD)
    assert e.value.response["Error"]["Message"] == (
        "PreSignUp invocation failed due to error Socket timeout while invoking Lambda function.")
    # Five seconds an attempt, three attempts.
    assert 14 < time.monotonic() - started < 30


def test_an_unreachable_endpoint_and_a_bad_signature(tmp_path, lambdas):
    from lambda_server import LambdaServer
    other = LambdaServer(secret_key="not-the-one-userpool-has")
    arn = other.register(lambda e: e)
    closed = LambdaServer()
    closed.stop()
    closed.httpd.server_close()
    for endpoint, expected in ((closed.endpoint, "PreSignUp invocation failed due to error "),
                               (other.endpoint, "PreSignUp invocation failed due to error InvalidSignatureException.")):
        d = tmp_path / endpoint.rsplit(":", 1)[1]
        d.mkdir()
        args = lambda_args(lambdas)
        args[1] = endpoint
        s = Server(d, args).start()
        try:
            idp = s.client()
            p = idp.create_user_pool(PoolName="unreachable", LambdaConfig={"PreSignUp": arn})["UserPool"]
            c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="a")["UserPoolClient"]
            with pytest.raises(idp.exceptions.UnexpectedLambdaException) as e:
                idp.sign_up(ClientId=c["ClientId"], Username="rae", Password=PASSWORD)
            assert e.value.response["Error"]["Message"].startswith(expected), e.value.response["Error"]["Message"]
        finally:
            s.stop()
    assert other.refused and other.received(arn) == []
    other.stop()


def test_custom_senders_are_refused(idp):
    """userpool cannot give a custom sender its KMS-encrypted code: the setting is refused."""
    sender = {"LambdaVersion": "V1_0", "LambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:send"}
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool(PoolName="senders", LambdaConfig={
            "CustomEmailSender": sender, "KMSKeyID": "arn:aws:kms:us-east-1:123456789012:key/abc"})
    assert "CustomEmailSender" in e.value.response["Error"]["Message"]
