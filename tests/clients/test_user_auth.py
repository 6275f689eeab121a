"""Choice-based sign-in (USER_AUTH) and passkeys through boto3: the pool's SignInPolicy
and WebAuthnConfiguration rules, SELECT_CHALLENGE, EMAIL_OTP codes from the outbox,
PASSWORD and PASSWORD_SRP inside USER_AUTH, a hidden unknown user, GetUserAuthFactors,
and passkey registration and sign-in with a software authenticator (authenticator.py:
real keys and signatures, attestation none and packed, ES256 and RS256)."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError
from pycognito import aws_srp

from authenticator import Passkey
from conftest import PASSWORD, code_for, make_user

ORIGIN = "http://localhost:3000"


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def choice_pool(idp, factors=("PASSWORD", "EMAIL_OTP", "WEB_AUTHN"), hide=True, **kw):
    p = idp.create_user_pool(PoolName=f"ua-{uuid.uuid4().hex[:6]}",
                             Policies={"SignInPolicy": {"AllowedFirstAuthFactors": list(factors)}},
                             **kw)["UserPool"]
    idp.set_user_pool_mfa_config(UserPoolId=p["Id"], MfaConfiguration="OFF",
                                 WebAuthnConfiguration={"RelyingPartyId": "localhost"})
    c = idp.create_user_pool_client(
        UserPoolId=p["Id"], ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        PreventUserExistenceErrors="ENABLED" if hide else "LEGACY")["UserPoolClient"]
    return p, c


def start(idp, c, username, **params):
    return idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_AUTH",
                             AuthParameters={"USERNAME": username, **params})


def test_sign_in_policy_rules(idp):
    code, msg = error_of(lambda: idp.create_user_pool(
        PoolName="x", Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["EMAIL_OTP"]}}))
    assert (code, msg) == ("InvalidParameterException",
                           "Password should be configured as one of the allowed first auth factors.")
    code, msg = error_of(lambda: idp.create_user_pool(
        PoolName="x", UserPoolTier="LITE",
        Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}}))
    assert code == "FeatureUnavailableInTierException"
    assert "Passwordless Sign-In" in msg
    p, _ = choice_pool(idp)
    code, msg = error_of(lambda: idp.set_user_pool_mfa_config(
        UserPoolId=p["Id"], MfaConfiguration="ON", SoftwareTokenMfaConfiguration={"Enabled": True}))
    assert msg == "Only PASSWORD and WEB_AUTHN (if configured) can be enabled as an auth factor if MFA is enabled"
    described = idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]
    assert described["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"] == ["PASSWORD", "EMAIL_OTP", "WEB_AUTHN"]
    cfg = idp.get_user_pool_mfa_config(UserPoolId=p["Id"])
    assert cfg["WebAuthnConfiguration"] == {"RelyingPartyId": "localhost", "UserVerification": "preferred",
                                            "FactorConfiguration": "SINGLE_FACTOR"}
    default = idp.create_user_pool(PoolName=f"d-{uuid.uuid4().hex[:6]}")["UserPool"]
    assert default["Policies"]["SignInPolicy"] == {"AllowedFirstAuthFactors": ["PASSWORD"]}
    idp.delete_user_pool(UserPoolId=default["Id"])
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_client_must_allow_user_auth(idp):
    p, _ = choice_pool(idp)
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="pw",
                                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
    code, msg = error_of(lambda: start(idp, c, "alice"))
    assert (code, msg) == ("InvalidParameterException", "USER_AUTH flow not enabled for this client")
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_select_challenge_then_email_code(server, idp):
    p, c = choice_pool(idp)
    make_user(idp, p["Id"], "alice")
    r = start(idp, c, "alice")
    assert r["ChallengeName"] == "SELECT_CHALLENGE"
    assert r["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"]
    assert r["ChallengeParameters"] == {}
    r = idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="SELECT_CHALLENGE",
                                      Session=r["Session"],
                                      ChallengeResponses={"USERNAME": "alice", "ANSWER": "EMAIL_OTP"})
    assert r["ChallengeName"] == "EMAIL_OTP"
    assert r["ChallengeParameters"] == {"CODE_DELIVERY_DELIVERY_MEDIUM": "EMAIL",
                                        "CODE_DELIVERY_DESTINATION": "a***@e***"}
    code = code_for(server, p["Id"], "alice", "otp:EMAIL_OTP")
    assert len(code) == 8 and code.isdigit()
    session = r["Session"]
    wrong = str((int(code) + 1) % 10**8).zfill(8)
    err, msg = error_of(lambda: idp.respond_to_auth_challenge(
        ClientId=c["ClientId"], ChallengeName="EMAIL_OTP", Session=session,
        ChallengeResponses={"USERNAME": "alice", "EMAIL_OTP_CODE": wrong}))
    assert (err, msg) == ("CodeMismatchException", "Invalid code or auth state for the user.")
    r = idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="EMAIL_OTP", Session=session,
                                      ChallengeResponses={"USERNAME": "alice", "EMAIL_OTP_CODE": code})
    tokens = r["AuthenticationResult"]
    assert tokens["TokenType"] == "Bearer" and tokens["ExpiresIn"] == 3600
    assert idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == "alice"
    err, msg = error_of(lambda: idp.respond_to_auth_challenge(
        ClientId=c["ClientId"], ChallengeName="EMAIL_OTP", Session=session,
        ChallengeResponses={"USERNAME": "alice", "EMAIL_OTP_CODE": code}))
    assert err in ("NotAuthorizedException", "ExpiredCodeException")
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_preferred_email_otp_and_password(server, idp):
    p, c = choice_pool(idp)
    make_user(idp, p["Id"], "bob", email="bob@example.com")
    r = start(idp, c, "bob", PREFERRED_CHALLENGE="EMAIL_OTP")
    assert r["ChallengeName"] == "EMAIL_OTP"
    assert r["AvailableChallenges"] == ["EMAIL_OTP"]
    code = code_for(server, p["Id"], "bob", "otp:EMAIL_OTP")
    r = idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="EMAIL_OTP", Session=r["Session"],
                                      ChallengeResponses={"USERNAME": "bob", "EMAIL_OTP_CODE": code})
    assert "AccessToken" in r["AuthenticationResult"]
    # PASSWORD as the preferred challenge, and as the answer to SELECT_CHALLENGE.
    r = start(idp, c, "bob", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    assert "AccessToken" in r["AuthenticationResult"]
    err, msg = error_of(lambda: start(idp, c, "bob", PREFERRED_CHALLENGE="PASSWORD", PASSWORD="wrong-Passw0rd!"))
    assert (err, msg) == ("NotAuthorizedException", "Incorrect username or password.")
    r = start(idp, c, "bob")
    r = idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="SELECT_CHALLENGE",
                                      Session=r["Session"],
                                      ChallengeResponses={"USERNAME": "bob", "ANSWER": "PASSWORD",
                                                          "PASSWORD": PASSWORD})
    assert "AccessToken" in r["AuthenticationResult"]
    # An answer that was not offered.
    r = start(idp, c, "bob")
    err, _ = error_of(lambda: idp.respond_to_auth_challenge(
        ClientId=c["ClientId"], ChallengeName="SELECT_CHALLENGE", Session=r["Session"],
        ChallengeResponses={"USERNAME": "bob", "ANSWER": "WEB_AUTHN"}))
    assert err == "InvalidParameterException"
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_password_srp_inside_user_auth(idp):
    p, c = choice_pool(idp)
    make_user(idp, p["Id"], "carol", email="carol@example.com")
    srp = aws_srp.AWSSRP(username="carol", password=PASSWORD, pool_id=p["Id"], client_id=c["ClientId"],
                         client=idp)
    r = start(idp, c, "carol", PREFERRED_CHALLENGE="PASSWORD_SRP", SRP_A=aws_srp.long_to_hex(srp.large_a_value))
    assert r["ChallengeName"] == "PASSWORD_VERIFIER"
    responses = srp.process_challenge(r["ChallengeParameters"], {"USERNAME": "carol"})
    r = idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=responses)
    assert "AccessToken" in r["AuthenticationResult"]
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_unknown_user_hidden_or_not(idp):
    p, c = choice_pool(idp)
    r = start(idp, c, "nobody@example.org", PREFERRED_CHALLENGE="EMAIL_OTP")
    assert r["ChallengeName"] == "EMAIL_OTP"
    assert r["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "n***@e***"
    err, msg = error_of(lambda: idp.respond_to_auth_challenge(
        ClientId=c["ClientId"], ChallengeName="EMAIL_OTP", Session=r["Session"],
        ChallengeResponses={"USERNAME": "nobody@example.org", "EMAIL_OTP_CODE": "12345678"}))
    assert (err, msg) == ("CodeMismatchException", "Invalid code or auth state for the user.")
    r = start(idp, c, "nobody@example.org")
    assert r["ChallengeName"] == "SELECT_CHALLENGE"
    # The pool's factors; WEB_AUTHN for about half the names, as for users with a passkey.
    assert r["AvailableChallenges"][:3] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP"]
    assert r["AvailableChallenges"] == start(idp, c, "nobody@example.org")["AvailableChallenges"]
    lists = {tuple(start(idp, c, f"nobody{i}")["AvailableChallenges"]) for i in range(16)}
    assert len(lists) == 2
    p2, c2 = choice_pool(idp, hide=False)
    err, _ = error_of(lambda: start(idp, c2, "nobody", PREFERRED_CHALLENGE="EMAIL_OTP"))
    assert err == "UserNotFoundException"
    idp.delete_user_pool(UserPoolId=p["Id"])
    idp.delete_user_pool(UserPoolId=p2["Id"])


def register(idp, access_token, key, origin=ORIGIN, fmt="none", **kw):
    options = idp.start_web_authn_registration(AccessToken=access_token)["CredentialCreationOptions"]
    idp.complete_web_authn_registration(AccessToken=access_token,
                                        Credential=key.create(options, origin, fmt=fmt, **kw))
    return options


def passkey_sign_in(idp, c, username, key, origin=ORIGIN, **kw):
    r = start(idp, c, username, PREFERRED_CHALLENGE="WEB_AUTHN")
    assert r["ChallengeName"] == "WEB_AUTHN", r
    options = json.loads(r["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
    answer = key.get(options, origin, **kw)
    return idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="WEB_AUTHN", Session=r["Session"],
                                         ChallengeResponses={"USERNAME": username,
                                                             "CREDENTIAL": json.dumps(answer)})


@pytest.mark.parametrize("alg,fmt", [(-7, "none"), (-7, "packed"), (-257, "packed")])
def test_passkey_register_and_sign_in(idp, alg, fmt):
    p, c = choice_pool(idp)
    make_user(idp, p["Id"], "dave", email="dave@example.com")
    tokens = start(idp, c, "dave", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["AuthenticationResult"]
    at = tokens["AccessToken"]
    factors = idp.get_user_auth_factors(AccessToken=at)
    assert factors["ConfiguredUserAuthFactors"] == ["PASSWORD", "EMAIL_OTP"]
    key = Passkey(alg)
    options = register(idp, at, key, fmt=fmt)
    assert options["rp"]["id"] == "localhost"
    assert options["user"]["name"] == "dave"
    assert {p["alg"] for p in options["pubKeyCredParams"]} == {-7, -257}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    listed = idp.list_web_authn_credentials(AccessToken=at)["Credentials"]
    assert len(listed) == 1
    assert listed[0]["RelyingPartyId"] == "localhost"
    assert listed[0]["AuthenticatorAttachment"] == "platform"
    assert listed[0]["AuthenticatorTransports"] == ["internal"]
    assert idp.get_user_auth_factors(AccessToken=at)["ConfiguredUserAuthFactors"] == [
        "PASSWORD", "EMAIL_OTP", "WEB_AUTHN"]
    r = start(idp, c, "dave")
    assert r["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "WEB_AUTHN"]
    r = passkey_sign_in(idp, c, "dave", key)
    assert idp.get_user(AccessToken=r["AuthenticationResult"]["AccessToken"])["Username"] == "dave"
    # A counter that does not grow is a cloned key.
    err, _ = error_of(lambda: passkey_sign_in(idp, c, "dave", key, counter_step=0))
    assert err == "NotAuthorizedException"
    # Another origin than the relying party's.
    err, msg = error_of(lambda: passkey_sign_in(idp, c, "dave", key, origin="https://evil.example"))
    assert (err, msg) == ("NotAuthorizedException", "Incorrect passkey credential.")
    # A name that is nobody's gets options of the same shape, and its answer fails the same way.
    real = json.loads(start(idp, c, "dave", PREFERRED_CHALLENGE="WEB_AUTHN")["ChallengeParameters"]
                      ["CREDENTIAL_REQUEST_OPTIONS"])
    for n in range(40):
        r = start(idp, c, f"ghost{n}", PREFERRED_CHALLENGE="WEB_AUTHN")
        if r["ChallengeName"] == "WEB_AUTHN":
            break
    assert r["ChallengeName"] == "WEB_AUTHN" and r["AvailableChallenges"] == ["WEB_AUTHN"]
    fake = json.loads(r["ChallengeParameters"]["CREDENTIAL_REQUEST_OPTIONS"])
    assert sorted(fake) == sorted(real)
    assert set(fake["allowCredentials"][0]) == {"type", "id", "transports"} >= set(real["allowCredentials"][0])
    err, msg = error_of(lambda: idp.respond_to_auth_challenge(
        ClientId=c["ClientId"], ChallengeName="WEB_AUTHN", Session=r["Session"],
        ChallengeResponses={"USERNAME": f"ghost{n}", "CREDENTIAL": json.dumps(key.get(fake, ORIGIN))}))
    assert (err, msg) == ("NotAuthorizedException", "Incorrect passkey credential.")
    idp.delete_web_authn_credential(AccessToken=at, CredentialId=listed[0]["CredentialId"])
    assert idp.list_web_authn_credentials(AccessToken=at)["Credentials"] == []
    err, _ = error_of(lambda: idp.delete_web_authn_credential(AccessToken=at, CredentialId=listed[0]["CredentialId"]))
    assert err == "ResourceNotFoundException"
    r = start(idp, c, "dave", PREFERRED_CHALLENGE="WEB_AUTHN")
    assert r["ChallengeName"] == "SELECT_CHALLENGE"
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_passkey_registration_refusals(idp):
    p, c = choice_pool(idp)
    make_user(idp, p["Id"], "erin", email="erin@example.com")
    at = start(idp, c, "erin", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["AuthenticationResult"]["AccessToken"]
    # Nothing started.
    err, _ = error_of(lambda: idp.complete_web_authn_registration(AccessToken=at, Credential={"id": "x"}))
    assert err == "WebAuthnChallengeNotFoundException"
    # The wrong relying party in the authenticator data.
    key = Passkey()
    options = idp.start_web_authn_registration(AccessToken=at)["CredentialCreationOptions"]
    err, _ = error_of(lambda: idp.complete_web_authn_registration(
        AccessToken=at, Credential=key.create(options, ORIGIN, rp_id="example.com")))
    assert err == "WebAuthnRelyingPartyMismatchException"
    # The challenge was taken by that attempt.
    err, _ = error_of(lambda: idp.complete_web_authn_registration(
        AccessToken=at, Credential=key.create(options, ORIGIN)))
    assert err == "WebAuthnChallengeNotFoundException"
    # Malformed credential.
    idp.start_web_authn_registration(AccessToken=at)
    err, msg = error_of(lambda: idp.complete_web_authn_registration(AccessToken=at, Credential={"id": 1}))
    assert (err, msg) == ("InvalidParameterException", "Credential data is not valid")
    # A pool that requires user verification refuses an authenticator without it.
    idp.set_user_pool_mfa_config(UserPoolId=p["Id"], MfaConfiguration="OFF",
                                 WebAuthnConfiguration={"RelyingPartyId": "localhost", "UserVerification": "required"})
    options = idp.start_web_authn_registration(AccessToken=at)["CredentialCreationOptions"]
    assert options["authenticatorSelection"]["userVerification"] == "required"
    err, _ = error_of(lambda: idp.complete_web_authn_registration(
        AccessToken=at, Credential=key.create(options, ORIGIN, uv=False)))
    assert err == "InvalidParameterException"
    # Passkeys not allowed by the pool.
    p2, c2 = choice_pool(idp, factors=("PASSWORD",))
    make_user(idp, p2["Id"], "erin", email="erin@example.com")
    at2 = start(idp, c2, "erin", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["AuthenticationResult"]["AccessToken"]
    err, _ = error_of(lambda: idp.start_web_authn_registration(AccessToken=at2))
    assert err == "WebAuthnNotEnabledException"
    # No relying party and no domain.
    p3 = idp.create_user_pool(PoolName=f"ua-{uuid.uuid4().hex[:6]}",
                              Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}})["UserPool"]
    c3 = idp.create_user_pool_client(UserPoolId=p3["Id"], ClientName="a",
                                     ExplicitAuthFlows=["ALLOW_USER_AUTH"])["UserPoolClient"]
    make_user(idp, p3["Id"], "erin", email="erin@example.com")
    at3 = start(idp, c3, "erin", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["AuthenticationResult"]["AccessToken"]
    err, _ = error_of(lambda: idp.start_web_authn_registration(AccessToken=at3))
    assert err == "WebAuthnConfigurationMissingException"
    for pool in (p, p2, p3):
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_passwordless_sign_up_then_the_confirmation_session_signs_in(server, idp):
    p, c = choice_pool(idp, AutoVerifiedAttributes=["email"])
    r = idp.sign_up(ClientId=c["ClientId"], Username="fern",
                    UserAttributes=[{"Name": "email", "Value": "fern@example.com"}])
    assert r["UserConfirmed"] is False
    code = code_for(server, p["Id"], "fern", "signup")
    confirmed = idp.confirm_sign_up(ClientId=c["ClientId"], Username="fern", ConfirmationCode=code)
    session = confirmed["Session"]
    # Another user cannot use it; nor can it be used twice.
    make_user(idp, p["Id"], "gail", email="gail@example.com")
    err, _ = error_of(lambda: idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_AUTH", Session=session,
                                                AuthParameters={"USERNAME": "gail"}))
    assert err == "NotAuthorizedException"
    r = idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_AUTH", Session=session,
                          AuthParameters={"USERNAME": "fern"})
    assert idp.get_user(AccessToken=r["AuthenticationResult"]["AccessToken"])["Username"] == "fern"
    err, msg = error_of(lambda: idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_AUTH", Session=session,
                                                  AuthParameters={"USERNAME": "fern"}))
    assert err == "NotAuthorizedException"
    # Without a password, only the code factors are offered.
    r = start(idp, c, "fern")
    assert r["AvailableChallenges"] == ["EMAIL_OTP"]
    # A pool without code factors still requires a password.
    p2, c2 = choice_pool(idp, factors=("PASSWORD",))
    err, msg = error_of(lambda: idp.sign_up(ClientId=c2["ClientId"], Username="hal",
                                            UserAttributes=[{"Name": "email", "Value": "hal@example.com"}]))
    assert err == "InvalidParameterException"
    for pool in (p, p2):
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_sms_code_through_admin_initiate_auth(server, idp):
    sns = {"SnsCallerArn": "arn:aws:iam::000000000000:role/sns", "ExternalId": "x"}
    p, c = choice_pool(idp, factors=("PASSWORD", "SMS_OTP"), SmsConfiguration=sns)
    idp.admin_create_user(UserPoolId=p["Id"], Username="ivy", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "phone_number", "Value": "+15555550123"},
                                          {"Name": "phone_number_verified", "Value": "true"}])
    r = idp.admin_initiate_auth(UserPoolId=p["Id"], ClientId=c["ClientId"], AuthFlow="USER_AUTH",
                                AuthParameters={"USERNAME": "ivy"})
    # A user with a temporary password is not offered codes; once confirmed, SMS_OTP.
    assert r["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]
    idp.admin_set_user_password(UserPoolId=p["Id"], Username="ivy", Password=PASSWORD, Permanent=True)
    r = idp.admin_initiate_auth(UserPoolId=p["Id"], ClientId=c["ClientId"], AuthFlow="USER_AUTH",
                                AuthParameters={"USERNAME": "ivy", "PREFERRED_CHALLENGE": "SMS_OTP"})
    assert r["ChallengeName"] == "SMS_OTP"
    assert r["ChallengeParameters"] == {"CODE_DELIVERY_DELIVERY_MEDIUM": "SMS",
                                        "CODE_DELIVERY_DESTINATION": "+*******0123"}
    code = code_for(server, p["Id"], "ivy", "otp:SMS_OTP")
    r = idp.admin_respond_to_auth_challenge(UserPoolId=p["Id"], ClientId=c["ClientId"], ChallengeName="SMS_OTP",
                                            Session=r["Session"],
                                            ChallengeResponses={"USERNAME": "ivy", "SMS_OTP_CODE": code})
    assert "AccessToken" in r["AuthenticationResult"]
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_hidden_users_look_alike_and_codes_prove_their_address(server, idp):
    p, c = choice_pool(idp)
    make_user(idp, p["Id"], "jo", email="jo@example.com")
    make_user(idp, p["Id"], "kim", email="kim@example.com")
    idp.admin_disable_user(UserPoolId=p["Id"], Username="kim")
    # A disabled user and an unknown name answer as a real user would, before any factor.
    for name in ("jo", "kim", "nobody"):
        r = start(idp, c, name, PREFERRED_CHALLENGE="EMAIL_OTP")
        assert r["ChallengeName"] == "EMAIL_OTP", name
        assert r["AvailableChallenges"] == ["EMAIL_OTP"], name
        dest = r["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"]
        assert dest.count("***") == 2 and "@" in dest, (name, dest)
        assert start(idp, c, name)["ChallengeName"] == "SELECT_CHALLENGE", name
    # Five wrong codes a Session, real or not, then the limit.
    for name in ("jo", "nobody"):
        session = start(idp, c, name, PREFERRED_CHALLENGE="EMAIL_OTP")["Session"]
        answers = []
        for _ in range(6):
            answers.append(error_of(lambda: idp.respond_to_auth_challenge(
                ClientId=c["ClientId"], ChallengeName="EMAIL_OTP", Session=session,
                ChallengeResponses={"USERNAME": name, "EMAIL_OTP_CODE": "00000000"}))[0])
        assert answers == ["CodeMismatchException"] * 5 + ["TooManyRequestsException"], (name, answers)
    # A code proves the address it went to: after a change, it signs nobody in, verifies nothing.
    make_user(idp, p["Id"], "lee", email="lee@example.com")
    r = start(idp, c, "lee", PREFERRED_CHALLENGE="EMAIL_OTP")
    code = code_for(server, p["Id"], "lee", "otp:EMAIL_OTP")
    idp.admin_update_user_attributes(UserPoolId=p["Id"], Username="lee",
                                     UserAttributes=[{"Name": "email", "Value": "ceo@other.example"}])
    err, _ = error_of(lambda: idp.respond_to_auth_challenge(
        ClientId=c["ClientId"], ChallengeName="EMAIL_OTP", Session=r["Session"],
        ChallengeResponses={"USERNAME": "lee", "EMAIL_OTP_CODE": code}))
    assert err in ("CodeMismatchException", "ExpiredCodeException")
    attrs = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=p["Id"], Username="lee")["UserAttributes"]}
    assert attrs["email"] == "ceo@other.example" and attrs.get("email_verified") != "true"
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_parallel_completions_of_one_registration_register_one_passkey(idp):
    from concurrent.futures import ThreadPoolExecutor
    p, c = choice_pool(idp)
    make_user(idp, p["Id"], "max", email="max@example.com")
    at = start(idp, c, "max", PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["AuthenticationResult"]["AccessToken"]
    options = idp.start_web_authn_registration(AccessToken=at)["CredentialCreationOptions"]
    answers = [Passkey().create(options, ORIGIN) for _ in range(4)]

    def complete(answer):
        try:
            idp.complete_web_authn_registration(AccessToken=at, Credential=answer)
            return "ok"
        except ClientError as e:
            return e.response["Error"]["Code"]

    with ThreadPoolExecutor(4) as pool:
        results = sorted(pool.map(complete, answers))
    assert results == ["WebAuthnChallengeNotFoundException"] * 3 + ["ok"], results
    assert len(idp.list_web_authn_credentials(AccessToken=at)["Credentials"]) == 1
    idp.delete_user_pool(UserPoolId=p["Id"])
