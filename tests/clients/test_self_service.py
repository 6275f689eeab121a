"""Sign-up, confirmation, password reset and attribute verification, with the codes read
by the documented local means (`userpool codes`)."""

import base64
import hashlib
import hmac

import pytest

from conftest import PASSWORD, code_for, make_user, read_codes


def test_sign_up_confirm_sign_in(server, idp, app):
    pool, client = app
    r = idp.sign_up(ClientId=client["ClientId"], Username="nina", Password=PASSWORD,
                    UserAttributes=[{"Name": "email", "Value": "nina@example.com"}])
    assert r["UserConfirmed"] is False
    assert r["CodeDeliveryDetails"] == {"Destination": "n***@e***", "DeliveryMedium": "EMAIL", "AttributeName": "email"}
    sub = r["UserSub"]
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="nina")["UserStatus"] == "UNCONFIRMED"
    with pytest.raises(idp.exceptions.UserNotConfirmedException):
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "nina", "PASSWORD": PASSWORD})
    code = code_for(server, pool["Id"], "nina", "signup")
    assert any(code in line for line in server.log)  # codes are written to the log too
    with pytest.raises(idp.exceptions.CodeMismatchException):
        idp.confirm_sign_up(ClientId=client["ClientId"], Username="nina",
                            ConfirmationCode="000000" if code != "000000" else "111111")
    idp.confirm_sign_up(ClientId=client["ClientId"], Username="nina", ConfirmationCode=code)
    g = idp.admin_get_user(UserPoolId=pool["Id"], Username="nina")
    assert g["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in g["UserAttributes"]
    assert {"Name": "sub", "Value": sub} in g["UserAttributes"]
    # Single use.
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.confirm_sign_up(ClientId=client["ClientId"], Username="nina", ConfirmationCode=code)
    idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": "nina", "PASSWORD": PASSWORD})


def test_sign_up_errors(idp, app):
    pool, client = app
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.sign_up(ClientId=client["ClientId"], Username="olga", Password="short")
    idp.sign_up(ClientId=client["ClientId"], Username="olga", Password=PASSWORD)
    with pytest.raises(idp.exceptions.UsernameExistsException):
        idp.sign_up(ClientId=client["ClientId"], Username="olga", Password=PASSWORD)


def test_sign_up_with_client_secret(idp, app):
    pool, _ = app
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="s", GenerateSecret=True)["UserPoolClient"]
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        idp.sign_up(ClientId=c["ClientId"], Username="pat", Password=PASSWORD)
    h = base64.b64encode(hmac.new(c["ClientSecret"].encode(), ("pat" + c["ClientId"]).encode(), hashlib.sha256).digest())
    idp.sign_up(ClientId=c["ClientId"], Username="pat", Password=PASSWORD, SecretHash=h.decode())


def test_code_attempts_are_limited(server, idp, app):
    pool, client = app
    idp.sign_up(ClientId=client["ClientId"], Username="quinn", Password=PASSWORD,
                UserAttributes=[{"Name": "email", "Value": "quinn@example.com"}])
    code = code_for(server, pool["Id"], "quinn", "signup")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        with pytest.raises(idp.exceptions.CodeMismatchException):
            idp.confirm_sign_up(ClientId=client["ClientId"], Username="quinn", ConfirmationCode=wrong)
    # The code's attempts are spent: even the right code is refused now (as Cognito does
    # after five wrong codes), until a new one is requested.
    with pytest.raises(idp.exceptions.LimitExceededException):
        idp.confirm_sign_up(ClientId=client["ClientId"], Username="quinn", ConfirmationCode=code)
    idp.resend_confirmation_code(ClientId=client["ClientId"], Username="quinn")
    idp.confirm_sign_up(ClientId=client["ClientId"], Username="quinn",
                        ConfirmationCode=code_for(server, pool["Id"], "quinn", "signup"))


def test_forgot_password(server, idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "rita", email="rita@example.com")
    r = idp.forgot_password(ClientId=client["ClientId"], Username="rita")
    assert r["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    code = code_for(server, pool["Id"], "rita", "forgot_password")
    with pytest.raises(idp.exceptions.InvalidPasswordException):
        idp.confirm_forgot_password(ClientId=client["ClientId"], Username="rita", ConfirmationCode=code, Password="weak")
    idp.confirm_forgot_password(ClientId=client["ClientId"], Username="rita", ConfirmationCode=code, Password="N3wPassword!")
    idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": "rita", "PASSWORD": "N3wPassword!"})
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.forgot_password(ClientId=client["ClientId"], Username="nobody")


def test_verify_attribute(server, idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "sam", email="sam@example.com")
    tok = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "sam", "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]
    r = idp.update_user_attributes(AccessToken=tok, UserAttributes=[{"Name": "email", "Value": "sam2@example.com"}])
    assert r["CodeDeliveryDetailsList"][0]["AttributeName"] == "email"
    code = code_for(server, pool["Id"], "sam", "verify:email")
    idp.verify_user_attribute(AccessToken=tok, AttributeName="email", Code=code)
    attrs = {a["Name"]: a["Value"] for a in idp.get_user(AccessToken=tok)["UserAttributes"]}
    assert attrs["email"] == "sam2@example.com" and attrs["email_verified"] == "true"
    idp.get_user_attribute_verification_code(AccessToken=tok, AttributeName="email")
    assert any(c["purpose"] == "verify:email" for c in read_codes(server, pool["Id"], "sam"))
