"""Users as an administrator manages them, through boto3 and the AWS CLI."""

import re
import time

import pytest
from pycognito import aws_srp

from conftest import PASSWORD, make_user, read_codes


def test_admin_create_user(idp, app):
    pool, _ = app
    r = idp.admin_create_user(UserPoolId=pool["Id"], Username="bob",
                              UserAttributes=[{"Name": "email", "Value": "bob@example.com"},
                                              {"Name": "custom:tenant", "Value": "acme"}],
                              MessageAction="SUPPRESS")["User"]
    assert r["Username"] == "bob"
    assert r["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert r["Enabled"] is True
    attrs = {a["Name"]: a["Value"] for a in r["Attributes"]}
    assert re.fullmatch(r"[0-9a-f-]{36}", attrs["sub"])
    assert attrs["email"] == "bob@example.com" and attrs["custom:tenant"] == "acme"
    g = idp.admin_get_user(UserPoolId=pool["Id"], Username="bob")
    assert g["Username"] == "bob" and g["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert {a["Name"]: a["Value"] for a in g["UserAttributes"]} == attrs
    assert abs(g["UserCreateDate"].timestamp() - time.time()) < 120
    with pytest.raises(idp.exceptions.UsernameExistsException) as e:
        idp.admin_create_user(UserPoolId=pool["Id"], Username="bob", MessageAction="SUPPRESS")
    assert e.value.response["Error"]["Message"] == "User account already exists"


def test_generated_temporary_password_is_readable_locally(server, idp, app):
    pool, client = app
    idp.admin_create_user(UserPoolId=pool["Id"], Username="carol",
                          UserAttributes=[{"Name": "email", "Value": "carol@example.com"}])
    temp = next(c["code"] for c in read_codes(server, pool["Id"], "carol") if c["purpose"] == "temporary_password")
    # The temporary password is never written to the log.
    assert not any(temp in line for line in server.log)
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "carol", "PASSWORD": temp})
    assert r["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_suppressed_generated_password_signs_nobody_in(idp, app):
    """AdminCreateUser with MessageAction SUPPRESS and no TemporaryPassword: the generated
    password reaches nobody (userpool keeps no verifier for it). Every way of signing in
    answers as for a wrong password, attempts count, and AdminSetUserPassword lets the user in."""
    pool, client = app
    idp.admin_create_user(UserPoolId=pool["Id"], Username="erin", MessageAction="SUPPRESS")
    for _ in range(2):
        with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
            idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "erin", "PASSWORD": PASSWORD})
        assert e.value.response["Error"]["Message"] == "Incorrect username or password."
    srp = aws_srp.AWSSRP(username="erin", password=PASSWORD, pool_id=pool["Id"],
                         client_id=client["ClientId"], client=idp)
    params = srp.get_auth_params()
    first = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    assert first["ChallengeName"] == "PASSWORD_VERIFIER"
    again = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_SRP_AUTH",
                              AuthParameters=srp.get_auth_params())
    assert again["ChallengeParameters"]["SALT"] == first["ChallengeParameters"]["SALT"]
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="PASSWORD_VERIFIER",
                                      ChallengeResponses=srp.process_challenge(first["ChallengeParameters"], params))
    assert e.value.response["Error"]["Message"] == "Incorrect username or password."
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username="erin", Password=PASSWORD, Permanent=True)
    r = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "erin", "PASSWORD": PASSWORD})
    assert "AccessToken" in r["AuthenticationResult"]


def test_schema_checks(idp, app):
    pool, _ = app
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.admin_create_user(UserPoolId=pool["Id"], Username="x", UserAttributes=[{"Name": "custom:nope", "Value": "1"}])
    assert "Attribute does not exist in the schema." in e.value.response["Error"]["Message"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.admin_create_user(UserPoolId=pool["Id"], Username="x", UserAttributes=[{"Name": "email_verified", "Value": "yes"}])
    with pytest.raises(idp.exceptions.InvalidPasswordException) as e:
        idp.admin_create_user(UserPoolId=pool["Id"], Username="x", TemporaryPassword="short")
    assert e.value.response["Error"]["Message"] == "Password did not conform with policy: Password not long enough"


def test_username_alias_and_sub_resolve(idp):
    p = idp.create_user_pool(PoolName="alias", AliasAttributes=["email", "preferred_username"])["UserPool"]
    try:
        make_user(idp, p["Id"], "dana", email="dana@example.com", preferred_username="dd")
        sub = next(a["Value"] for a in idp.admin_get_user(UserPoolId=p["Id"], Username="dana")["UserAttributes"]
                   if a["Name"] == "sub")
        for name in ["dana", "dana@example.com", "DANA@example.com", "dd", sub]:
            assert idp.admin_get_user(UserPoolId=p["Id"], Username=name)["Username"] == "dana", name
        with pytest.raises(idp.exceptions.AliasExistsException):
            make_user(idp, p["Id"], "erin", email="dana@example.com")
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_email_as_username(idp):
    p = idp.create_user_pool(PoolName="emailuser", UsernameAttributes=["email"],
                             UsernameConfiguration={"CaseSensitive": False})["UserPool"]
    try:
        u = idp.admin_create_user(UserPoolId=p["Id"], Username="Frank@Example.com", MessageAction="SUPPRESS")["User"]
        attrs = {a["Name"]: a["Value"] for a in u["Attributes"]}
        assert u["Username"] == attrs["sub"]  # the real username is the sub
        assert attrs["email"] == "Frank@Example.com"
        assert idp.admin_get_user(UserPoolId=p["Id"], Username="frank@example.com")["Username"] == attrs["sub"]
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.admin_create_user(UserPoolId=p["Id"], Username="not-an-email", MessageAction="SUPPRESS")
        assert e.value.response["Error"]["Message"] == "Username should be an email."
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_case_insensitive_usernames(idp):
    p = idp.create_user_pool(PoolName="ci", UsernameConfiguration={"CaseSensitive": False})["UserPool"]
    try:
        make_user(idp, p["Id"], "Greta")
        assert idp.admin_get_user(UserPoolId=p["Id"], Username="greta")["Username"] == "Greta"
        with pytest.raises(idp.exceptions.UsernameExistsException):
            idp.admin_create_user(UserPoolId=p["Id"], Username="GRETA", MessageAction="SUPPRESS")
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_update_and_delete_attributes(idp, app):
    pool, _ = app
    make_user(idp, pool["Id"], "hank")
    idp.admin_update_user_attributes(UserPoolId=pool["Id"], Username="hank",
                                     UserAttributes=[{"Name": "given_name", "Value": "Hank"},
                                                     {"Name": "email", "Value": "hank2@example.com"}])
    attrs = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=pool["Id"], Username="hank")["UserAttributes"]}
    assert attrs["given_name"] == "Hank" and attrs["email"] == "hank2@example.com"
    assert attrs["email_verified"] == "false"  # a new email is unverified
    idp.admin_delete_user_attributes(UserPoolId=pool["Id"], Username="hank", UserAttributeNames=["given_name"])
    attrs = {a["Name"] for a in idp.admin_get_user(UserPoolId=pool["Id"], Username="hank")["UserAttributes"]}
    assert "given_name" not in attrs
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.admin_update_user_attributes(UserPoolId=pool["Id"], Username="hank",
                                         UserAttributes=[{"Name": "sub", "Value": "x"}])


def test_enable_disable_confirm_delete(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "ivan")
    idp.admin_disable_user(UserPoolId=pool["Id"], Username="ivan")
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="ivan")["Enabled"] is False
    with pytest.raises(idp.exceptions.NotAuthorizedException) as e:
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "ivan", "PASSWORD": PASSWORD})
    assert e.value.response["Error"]["Message"] == "User is disabled."
    idp.admin_enable_user(UserPoolId=pool["Id"], Username="ivan")
    idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": "ivan", "PASSWORD": PASSWORD})
    idp.admin_delete_user(UserPoolId=pool["Id"], Username="ivan")
    with pytest.raises(idp.exceptions.UserNotFoundException) as e:
        idp.admin_get_user(UserPoolId=pool["Id"], Username="ivan")
    assert e.value.response["Error"]["Message"] == "User does not exist."


def test_admin_set_password_temporary_and_reset(server, idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "judy")
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username="judy", Password="Temp0rary!x", Permanent=False)
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="judy")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    idp.admin_reset_user_password(UserPoolId=pool["Id"], Username="judy")
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username="judy")["UserStatus"] == "RESET_REQUIRED"
    with pytest.raises(idp.exceptions.PasswordResetRequiredException):
        idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "judy", "PASSWORD": "Temp0rary!x"})
    code = next(c["code"] for c in read_codes(server, pool["Id"], "judy") if c["purpose"] == "forgot_password")
    idp.confirm_forgot_password(ClientId=client["ClientId"], Username="judy", ConfirmationCode=code, Password="N3wPassword!")
    idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                      AuthParameters={"USERNAME": "judy", "PASSWORD": "N3wPassword!"})


def test_list_users_filter_and_pages(idp, app):
    pool, _ = app
    for i in range(7):
        idp.admin_create_user(UserPoolId=pool["Id"], Username=f"user{i}",
                              UserAttributes=[{"Name": "email", "Value": f"{'al' if i < 3 else 'zz'}{i}@example.com"},
                                              {"Name": "given_name", "Value": f"G{i}"}],
                              MessageAction="SUPPRESS")
    r = idp.list_users(UserPoolId=pool["Id"], Filter='email ^= "al"')
    assert sorted(u["Username"] for u in r["Users"]) == ["user0", "user1", "user2"]
    r = idp.list_users(UserPoolId=pool["Id"], Filter='username = "user5"')
    assert [u["Username"] for u in r["Users"]] == ["user5"]
    r = idp.list_users(UserPoolId=pool["Id"], Filter='cognito:user_status = "FORCE_CHANGE_PASSWORD"', Limit=60)
    assert len(r["Users"]) == 7
    r = idp.list_users(UserPoolId=pool["Id"], AttributesToGet=["email"], Limit=1)
    assert [a["Name"] for a in r["Users"][0]["Attributes"]] == ["email"]
    names = [u["Username"] for page in idp.get_paginator("list_users").paginate(UserPoolId=pool["Id"],
                                                                                PaginationConfig={"PageSize": 3})
             for u in page["Users"]]
    assert sorted(names) == [f"user{i}" for i in range(7)]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.list_users(UserPoolId=pool["Id"], Filter='custom:tenant = "x"')
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.list_users(UserPoolId=pool["Id"], Filter="email ~ nonsense")


def test_estimated_number_of_users(idp, app):
    pool, _ = app
    make_user(idp, pool["Id"], "k1")
    make_user(idp, pool["Id"], "k2", email="k2@example.com")
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["EstimatedNumberOfUsers"] == 2


def test_unknown_pool_and_user(idp, app):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.admin_get_user(UserPoolId="us-east-1_nonexist", Username="x")
    pool, _ = app
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=pool["Id"], Username="nobody")


def test_cli_users(server, app):
    pool, _ = app
    u = server.aws("admin-create-user", "--user-pool-id", pool["Id"], "--username", "cli-user",
                   "--user-attributes", "Name=email,Value=cli@example.com", "--message-action", "SUPPRESS")
    assert u["User"]["Username"] == "cli-user"
    server.aws("admin-set-user-password", "--user-pool-id", pool["Id"], "--username", "cli-user",
               "--password", PASSWORD, "--permanent")
    g = server.aws("admin-get-user", "--user-pool-id", pool["Id"], "--username", "cli-user")
    assert g["UserStatus"] == "CONFIRMED"
    listed = server.aws("list-users", "--user-pool-id", pool["Id"], "--filter", 'email = "cli@example.com"')
    assert [x["Username"] for x in listed["Users"]] == ["cli-user"]
    server.aws("admin-delete-user", "--user-pool-id", pool["Id"], "--username", "cli-user")
