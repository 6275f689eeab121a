"""MFA, end to end through boto3 and pycognito: the pool's MFA configuration, TOTP set up
with an access token or inside a sign-in (MFA_SETUP), the SOFTWARE_TOKEN_MFA challenge
(wrong, right and reused codes), and a remembered device standing in for the second
factor when the pool says ChallengeRequiredOnNewDevice.

TOTP codes are computed with pyotp, as an authenticator app would. A code is accepted
once per 30-second step and one step either side is allowed, so a test that spends two
codes uses the current step, then the next."""

import json
import time
import uuid

import pyotp
import pytest
from botocore.exceptions import ClientError
from pycognito import aws_srp

from conftest import PASSWORD, make_user


def error_of(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def code_at(secret, offset_steps=0):
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def mfa_pool(idp, mode="OPTIONAL", **device):
    kw = {"DeviceConfiguration": device} if device else {}
    p = idp.create_user_pool(PoolName=f"mfa-{uuid.uuid4().hex[:6]}", **kw)["UserPool"]
    idp.set_user_pool_mfa_config(UserPoolId=p["Id"], MfaConfiguration=mode,
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app", ExplicitAuthFlows=[
        "ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    return p, c


def password_auth(idp, client, username="alice", **extra):
    return idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD, **extra})


def set_up_totp(idp, pool, client, username="alice"):
    """TOTP through the access-token operations (Amplify's setUpTOTP, verifyTOTPSetup,
    updateMFAPreference); the secret."""
    access = password_auth(idp, client, username)["AuthenticationResult"]["AccessToken"]
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    r = idp.verify_software_token(AccessToken=access, UserCode=code_at(secret), FriendlyDeviceName="phone")
    assert r["Status"] == "SUCCESS"
    idp.set_user_mfa_preference(AccessToken=access,
                                SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret


def test_pool_mfa_configuration(idp):
    p = idp.create_user_pool(PoolName=f"mfa-{uuid.uuid4().hex[:6]}")["UserPool"]
    try:
        assert idp.get_user_pool_mfa_config(UserPoolId=p["Id"])["MfaConfiguration"] == "OFF"
        assert error_of(lambda: idp.set_user_pool_mfa_config(UserPoolId=p["Id"], MfaConfiguration="ON")) == (
            "InvalidParameterException",
            "Invalid MFA configuration given, can't disable all MFAs with a required or optional configuration.")
        assert error_of(lambda: idp.set_user_pool_mfa_config(
            UserPoolId=p["Id"], MfaConfiguration="OFF", SoftwareTokenMfaConfiguration={"Enabled": True})) == (
            "InvalidParameterException",
            "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.")
        # Email MFA needs the pool's mail sent through SES.
        assert error_of(lambda: idp.set_user_pool_mfa_config(
            UserPoolId=p["Id"], MfaConfiguration="OPTIONAL",
            EmailMfaConfiguration={"Message": "Your code is {####}", "Subject": "Code"}))[0] == "InvalidParameterException"
        r = idp.set_user_pool_mfa_config(UserPoolId=p["Id"], MfaConfiguration="OPTIONAL",
                                         SoftwareTokenMfaConfiguration={"Enabled": True})
        assert r["MfaConfiguration"] == "OPTIONAL" and r["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
        got = idp.get_user_pool_mfa_config(UserPoolId=p["Id"])
        assert got["MfaConfiguration"] == "OPTIONAL" and got["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
        assert "SmsMfaConfiguration" not in got
        assert idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]["MfaConfiguration"] == "OPTIONAL"
        # UpdateUserPool keeps the factors.
        idp.update_user_pool(UserPoolId=p["Id"], MfaConfiguration="OPTIONAL")
        assert idp.get_user_pool_mfa_config(UserPoolId=p["Id"])["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_totp_set_up_with_an_access_token_then_challenged(idp):
    pool, client = mfa_pool(idp)
    try:
        make_user(idp, pool["Id"], "alice")
        access = password_auth(idp, client)["AuthenticationResult"]["AccessToken"]  # no factor yet: tokens
        assert error_of(lambda: idp.set_user_mfa_preference(
            AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True})) == (
            "InvalidParameterException", "User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA")
        secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
        assert len(secret) >= 16 and secret.isalnum()
        wrong = "000000" if code_at(secret) != "000000" else "111111"
        assert error_of(lambda: idp.verify_software_token(AccessToken=access, UserCode=wrong)) == (
            "EnableSoftwareTokenMFAException", "Code mismatch and fail enable Software Token MFA")
        assert idp.verify_software_token(AccessToken=access, UserCode=code_at(secret),
                                         FriendlyDeviceName="phone")["Status"] == "SUCCESS"
        # Verified, not yet enabled: no MFA, and the user lists no factor.
        assert "UserMFASettingList" not in idp.get_user(AccessToken=access)
        idp.set_user_mfa_preference(AccessToken=access,
                                    SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
        me = idp.get_user(AccessToken=access)
        assert me["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"] and me["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
        admin = idp.admin_get_user(UserPoolId=pool["Id"], Username="alice")
        assert admin["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]

        r = password_auth(idp, client)
        assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA" and "AuthenticationResult" not in r
        assert r["ChallengeParameters"]["FRIENDLY_DEVICE_NAME"] == "phone"
        assert r["ChallengeParameters"]["USER_ID_FOR_SRP"] == "alice"
        answer = lambda code, session=r["Session"]: idp.respond_to_auth_challenge(  # noqa: E731
            ClientId=client["ClientId"], ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
            ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code})
        assert error_of(lambda: answer(wrong)) == ("CodeMismatchException", "Invalid code received for user")
        # The session survives a wrong code; the next step's code is accepted.
        tokens = answer(code_at(secret, 1))["AuthenticationResult"]
        assert tokens["AccessToken"] and tokens["RefreshToken"]
        # The same code again, in a new sign-in: refused.
        r2 = password_auth(idp, client)
        assert error_of(lambda: answer(code_at(secret, 1), r2["Session"])) == (
            "ExpiredCodeException", "Your software token has already been used once.")
        # A garbage session.
        assert error_of(lambda: answer(code_at(secret, 1), "x" * 40))[0] == "NotAuthorizedException"
        # Admin turns it off: tokens again without MFA.
        idp.admin_set_user_mfa_preference(UserPoolId=pool["Id"], Username="alice",
                                          SoftwareTokenMfaSettings={"Enabled": False})
        assert "AuthenticationResult" in password_auth(idp, client)
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_mfa_setup_when_the_pool_requires_mfa(idp):
    pool, client = mfa_pool(idp, mode="ON")
    try:
        make_user(idp, pool["Id"], "alice")
        r = password_auth(idp, client)
        assert r["ChallengeName"] == "MFA_SETUP"
        assert r["ChallengeParameters"]["MFAS_CAN_SETUP"] == '["SOFTWARE_TOKEN_MFA"]'
        # Answering before the token is verified is refused.
        assert error_of(lambda: idp.respond_to_auth_challenge(
            ClientId=client["ClientId"], ChallengeName="MFA_SETUP", Session=r["Session"],
            ChallengeResponses={"USERNAME": "alice"}))[0] == "InvalidParameterException"
        a = idp.associate_software_token(Session=r["Session"])
        assert a["Session"] and a["SecretCode"]
        v = idp.verify_software_token(Session=a["Session"], UserCode=code_at(a["SecretCode"]),
                                      FriendlyDeviceName="authenticator")
        assert v["Status"] == "SUCCESS" and v["Session"]
        done = idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="MFA_SETUP",
                                             Session=v["Session"], ChallengeResponses={"USERNAME": "alice"})
        assert done["AuthenticationResult"]["AccessToken"]
        # The same session yields tokens once.
        assert error_of(lambda: idp.respond_to_auth_challenge(
            ClientId=client["ClientId"], ChallengeName="MFA_SETUP", Session=v["Session"],
            ChallengeResponses={"USERNAME": "alice"})) == (
            "NotAuthorizedException", "Invalid session for the user, session can only be used once.")
        admin = idp.admin_get_user(UserPoolId=pool["Id"], Username="alice")
        assert admin["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
        assert admin["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
        # From now on the sign-in asks for the code.
        again = password_auth(idp, client)
        assert again["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        assert again["ChallengeParameters"]["FRIENDLY_DEVICE_NAME"] == "authenticator"
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def srp(idp, pool, client, **device):
    return aws_srp.AWSSRP(username="alice", password=PASSWORD, pool_id=pool["Id"],
                          client_id=client["ClientId"], client=idp, **device)


def srp_with_totp(idp, pool, client, code, **device):
    """An SRP sign-in that must answer SOFTWARE_TOKEN_MFA (pycognito raises for it)."""
    with pytest.raises(aws_srp.SoftwareTokenMFAChallengeException) as e:
        srp(idp, pool, client, **device).authenticate_user()
    challenge = e.value.get_tokens()
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    responses = {"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code}
    if device:
        responses["DEVICE_KEY"] = device["device_key"]
    return idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="SOFTWARE_TOKEN_MFA",
                                         Session=challenge["Session"], ChallengeResponses=responses)


@pytest.mark.parametrize("challenge_on_new_device", [True, False])
def test_a_remembered_device_stands_in_for_the_second_factor(idp, challenge_on_new_device):
    pool, client = mfa_pool(idp, ChallengeRequiredOnNewDevice=challenge_on_new_device,
                            DeviceOnlyRememberedOnUserPrompt=False)
    try:
        make_user(idp, pool["Id"], "alice")
        secret = set_up_totp(idp, pool, client)
        # A new device: the code is asked for; the tokens issue the device, remembered at once.
        res = srp_with_totp(idp, pool, client, code_at(secret, 1))["AuthenticationResult"]
        ndm = res["NewDeviceMetadata"]
        device_password, cfg = aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
        assert idp.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"],
                                  DeviceSecretVerifierConfig=cfg,
                                  DeviceName="laptop")["UserConfirmationNecessary"] is False
        device = {"device_key": ndm["DeviceKey"], "device_group_key": ndm["DeviceGroupKey"],
                  "device_password": device_password}
        if challenge_on_new_device:
            # The remembered device proves itself instead: DEVICE_SRP_AUTH, no code.
            tokens = srp(idp, pool, client, **device).authenticate_user()["AuthenticationResult"]
            assert tokens["AccessToken"] and "NewDeviceMetadata" not in tokens
            last = idp.admin_get_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=ndm["DeviceKey"])
            assert last["Device"]["DeviceKey"] == ndm["DeviceKey"]
            # Amplify v6 refreshes with GetTokensFromRefreshToken and the device key the
            # refresh token is bound to; without it the token is refused.
            fresh = idp.get_tokens_from_refresh_token(ClientId=client["ClientId"], RefreshToken=tokens["RefreshToken"],
                                                      DeviceKey=ndm["DeviceKey"])["AuthenticationResult"]
            assert fresh["AccessToken"]
            assert error_of(lambda: idp.get_tokens_from_refresh_token(
                ClientId=client["ClientId"], RefreshToken=tokens["RefreshToken"])) == (
                "NotAuthorizedException", "Invalid Refresh Token.")
        else:
            # Without ChallengeRequiredOnNewDevice the code is asked for on every device.
            with pytest.raises(aws_srp.SoftwareTokenMFAChallengeException):
                srp(idp, pool, client, **device).authenticate_user()
        # Another device (none presented) is always asked for the code.
        r = password_auth(idp, client)
        assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_sms_and_email_codes_and_choosing_a_factor(server, idp):
    """SMS_MFA and EMAIL_OTP codes (read with `userpool codes`, as a phone or inbox would
    receive them), and SELECT_MFA_TYPE when a user has both and prefers neither."""
    from conftest import code_for
    p = idp.create_user_pool(
        PoolName=f"mfa-{uuid.uuid4().hex[:6]}",
        EmailConfiguration={"EmailSendingAccount": "DEVELOPER",
                            "SourceArn": "arn:aws:ses:us-east-1:000000000000:identity/example.com",
                            "From": "no-reply@example.com"},
        SmsConfiguration={"SnsCallerArn": "arn:aws:iam::000000000000:role/sns", "ExternalId": "x"})["UserPool"]
    try:
        idp.set_user_pool_mfa_config(
            UserPoolId=p["Id"], MfaConfiguration="OPTIONAL",
            SmsMfaConfiguration={"SmsAuthenticationMessage": "Your code is {####}",
                                 "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::000000000000:role/sns"}},
            EmailMfaConfiguration={"Message": "Your code is {####}", "Subject": "Your code"})
        c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app",
                                        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                           "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
        make_user(idp, p["Id"], "alice", phone_number="+15555550100")
        idp.admin_set_user_mfa_preference(UserPoolId=p["Id"], Username="alice",
                                          SMSMfaSettings={"Enabled": True}, EmailMfaSettings={"Enabled": True})
        r = password_auth(idp, c)
        assert r["ChallengeName"] == "SELECT_MFA_TYPE"
        assert sorted(json.loads(r["ChallengeParameters"]["MFAS_CAN_CHOOSE"])) == ["EMAIL_OTP", "SMS_MFA"]
        sms = idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="SELECT_MFA_TYPE",
                                            Session=r["Session"],
                                            ChallengeResponses={"USERNAME": "alice", "ANSWER": "SMS_MFA"})
        assert sms["ChallengeName"] == "SMS_MFA"
        assert sms["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "SMS"
        assert sms["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"].endswith("0100")
        answer = lambda name, key, code, session: idp.respond_to_auth_challenge(  # noqa: E731
            ClientId=c["ClientId"], ChallengeName=name, Session=session,
            ChallengeResponses={"USERNAME": "alice", key: code})
        code = code_for(server, p["Id"], "alice", "mfa:SMS_MFA")
        wrong = "000000" if code != "000000" else "111111"
        assert error_of(lambda: answer("SMS_MFA", "SMS_MFA_CODE", wrong, sms["Session"])) == (
            "CodeMismatchException", "Invalid code or auth state for the user.")
        assert answer("SMS_MFA", "SMS_MFA_CODE", code, sms["Session"])["AuthenticationResult"]["AccessToken"]
        # Preferring email: EMAIL_OTP straight away, to the masked address.
        idp.admin_set_user_mfa_preference(UserPoolId=p["Id"], Username="alice",
                                          EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
        e = password_auth(idp, c)
        assert e["ChallengeName"] == "EMAIL_OTP"
        assert e["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "a***@e***"
        code = code_for(server, p["Id"], "alice", "mfa:EMAIL_OTP")
        assert answer("EMAIL_OTP", "EMAIL_OTP_CODE", code, e["Session"])["AuthenticationResult"]["AccessToken"]
        # A used code is gone (the next sign-in sends a new one).
        e2 = password_auth(idp, c)
        assert error_of(lambda: answer("EMAIL_OTP", "EMAIL_OTP_CODE", code, e2["Session"]))[0] == "CodeMismatchException"
        got = idp.admin_get_user(UserPoolId=p["Id"], Username="alice")
        assert sorted(got["UserMFASettingList"]) == ["EMAIL_OTP", "SMS_MFA"] and got["PreferredMfaSetting"] == "EMAIL_OTP"
        assert got["MFAOptions"] == [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_mfa_codes_go_to_the_address_stored_before_new_password_required(server, idp):
    """NEW_PASSWORD_REQUIRED may set attributes, but the second factor's code goes to the
    phone stored before: whoever knows only the temporary password cannot redirect it."""
    from conftest import code_for
    p = idp.create_user_pool(
        PoolName=f"mfa-{uuid.uuid4().hex[:6]}",
        SmsConfiguration={"SnsCallerArn": "arn:aws:iam::000000000000:role/sns", "ExternalId": "x"})["UserPool"]
    try:
        idp.set_user_pool_mfa_config(UserPoolId=p["Id"], MfaConfiguration="OPTIONAL", SmsMfaConfiguration={
            "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::000000000000:role/sns"}})
        c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app",
                                        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
        make_user(idp, p["Id"], "alice", phone_number="+15555550100")
        idp.admin_set_user_mfa_preference(UserPoolId=p["Id"], Username="alice",
                                          SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
        idp.admin_set_user_password(UserPoolId=p["Id"], Username="alice", Password="Temp0rary!pw", Permanent=False)
        r = idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "alice", "PASSWORD": "Temp0rary!pw"})
        assert r["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
        sms = idp.respond_to_auth_challenge(
            ClientId=c["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=r["Session"],
            ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": PASSWORD,
                                "userAttributes.phone_number": "+15555559999"})
        assert sms["ChallengeName"] == "SMS_MFA"
        assert sms["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"].endswith("0100")
        code = code_for(server, p["Id"], "alice", "mfa:SMS_MFA")
        done = idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="SMS_MFA", Session=sms["Session"],
                                             ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": code})
        assert done["AuthenticationResult"]["AccessToken"]
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_a_verified_token_not_turned_on_is_asked_for_not_replaced(idp):
    """MFA turned ON for a user who verified TOTP but never enabled it: the sign-in asks for
    that token (SOFTWARE_TOKEN_MFA), not MFA_SETUP, so a password alone binds nothing."""
    pool, client = mfa_pool(idp)
    try:
        make_user(idp, pool["Id"], "alice")
        access = password_auth(idp, client)["AuthenticationResult"]["AccessToken"]
        secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
        idp.verify_software_token(AccessToken=access, UserCode=code_at(secret))
        idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="ON",
                                     SoftwareTokenMfaConfiguration={"Enabled": True})
        assert password_auth(idp, client)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_admin_sign_in_forms_ask_for_the_second_factor_too(idp):
    """AdminInitiateAuth / AdminRespondToAuthChallenge go through the same steps."""
    pool, _ = mfa_pool(idp)
    try:
        c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="admin", ExplicitAuthFlows=[
            "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
        make_user(idp, pool["Id"], "alice")
        secret = set_up_totp(idp, pool, c)
        r = idp.admin_initiate_auth(UserPoolId=pool["Id"], ClientId=c["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                    AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})
        assert r["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
        done = idp.admin_respond_to_auth_challenge(
            UserPoolId=pool["Id"], ClientId=c["ClientId"], ChallengeName="SOFTWARE_TOKEN_MFA", Session=r["Session"],
            ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code_at(secret, 1)})
        assert done["AuthenticationResult"]["AccessToken"]
        # A challenge answered as another one is refused.
        r2 = idp.admin_initiate_auth(UserPoolId=pool["Id"], ClientId=c["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})
        assert error_of(lambda: idp.admin_respond_to_auth_challenge(
            UserPoolId=pool["Id"], ClientId=c["ClientId"], ChallengeName="SMS_MFA", Session=r2["Session"],
            ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": "123456"}))[0] == "NotAuthorizedException"
        assert error_of(lambda: idp.admin_respond_to_auth_challenge(
            UserPoolId=pool["Id"], ClientId=c["ClientId"], ChallengeName="MFA_SETUP", Session=r2["Session"],
            ChallengeResponses={"USERNAME": "alice"}))[0] in ("InvalidParameterException", "NotAuthorizedException")
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_the_chosen_factor_goes_to_the_address_stored_before_new_password_required(server, idp):
    """SELECT_MFA_TYPE after NEW_PASSWORD_REQUIRED: the chosen factor's code still goes to
    the phone stored before that answer, not one it set."""
    from conftest import code_for
    p = idp.create_user_pool(
        PoolName=f"mfa-{uuid.uuid4().hex[:6]}",
        EmailConfiguration={"EmailSendingAccount": "DEVELOPER",
                            "SourceArn": "arn:aws:ses:us-east-1:000000000000:identity/example.com"},
        SmsConfiguration={"SnsCallerArn": "arn:aws:iam::000000000000:role/sns", "ExternalId": "x"})["UserPool"]
    try:
        idp.set_user_pool_mfa_config(
            UserPoolId=p["Id"], MfaConfiguration="OPTIONAL",
            SmsMfaConfiguration={"SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::000000000000:role/sns"}},
            EmailMfaConfiguration={"Message": "Code {####}", "Subject": "Code"})
        c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="app",
                                        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]
        make_user(idp, p["Id"], "alice", phone_number="+15555550100")
        idp.admin_set_user_mfa_preference(UserPoolId=p["Id"], Username="alice",
                                          SMSMfaSettings={"Enabled": True}, EmailMfaSettings={"Enabled": True})
        idp.admin_set_user_password(UserPoolId=p["Id"], Username="alice", Password="Temp0rary!pw", Permanent=False)
        r = idp.initiate_auth(ClientId=c["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "alice", "PASSWORD": "Temp0rary!pw"})
        sel = idp.respond_to_auth_challenge(
            ClientId=c["ClientId"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=r["Session"],
            ChallengeResponses={"USERNAME": "alice", "NEW_PASSWORD": PASSWORD,
                                "userAttributes.phone_number": "+15555559999",
                                "userAttributes.email": "attacker@example.net"})
        assert sel["ChallengeName"] == "SELECT_MFA_TYPE"
        sms = idp.respond_to_auth_challenge(ClientId=c["ClientId"], ChallengeName="SELECT_MFA_TYPE",
                                            Session=sel["Session"],
                                            ChallengeResponses={"USERNAME": "alice", "ANSWER": "SMS_MFA"})
        assert sms["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"].endswith("0100")
        assert code_for(server, p["Id"], "alice", "mfa:SMS_MFA")
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_turning_totp_off_lets_the_user_set_up_a_new_one(idp):
    """An admin turning off a lost authenticator: under MFA ON the user sets up a new one."""
    pool, client = mfa_pool(idp, mode="OPTIONAL")
    try:
        make_user(idp, pool["Id"], "alice")
        set_up_totp(idp, pool, client)
        idp.admin_set_user_mfa_preference(UserPoolId=pool["Id"], Username="alice",
                                          SoftwareTokenMfaSettings={"Enabled": False})
        idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="ON",
                                     SoftwareTokenMfaConfiguration={"Enabled": True})
        assert password_auth(idp, client)["ChallengeName"] == "MFA_SETUP"
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])
