"""Groups through boto3 and the AWS CLI, and cognito:groups in the tokens."""

import jwt
import pytest

from conftest import PASSWORD, make_user


def test_group_lifecycle(idp, app):
    pool, _ = app
    g = idp.create_group(UserPoolId=pool["Id"], GroupName="admins", Description="the admins", Precedence=1)["Group"]
    assert g["GroupName"] == "admins" and g["UserPoolId"] == pool["Id"] and g["Precedence"] == 1
    assert "CreationDate" in g and "LastModifiedDate" in g
    with pytest.raises(idp.exceptions.GroupExistsException) as e:
        idp.create_group(UserPoolId=pool["Id"], GroupName="admins")
    assert e.value.response["Error"]["Message"] == "A group with the name admins already exists."
    u = idp.update_group(UserPoolId=pool["Id"], GroupName="admins", Description="changed")["Group"]
    assert u["Description"] == "changed" and u["Precedence"] == 1
    assert idp.get_group(UserPoolId=pool["Id"], GroupName="admins")["Group"]["Description"] == "changed"
    for i in range(3):
        idp.create_group(UserPoolId=pool["Id"], GroupName=f"g{i}")
    names = [x["GroupName"] for page in idp.get_paginator("list_groups").paginate(
        UserPoolId=pool["Id"], PaginationConfig={"PageSize": 2}) for x in page["Groups"]]
    assert names == ["admins", "g0", "g1", "g2"]
    idp.delete_group(UserPoolId=pool["Id"], GroupName="g0")
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.get_group(UserPoolId=pool["Id"], GroupName="g0")
    assert e.value.response["Error"]["Message"] == "Group not found."


def test_membership_and_token_claims(idp, app):
    pool, client = app
    make_user(idp, pool["Id"], "alice")
    make_user(idp, pool["Id"], "bob", email="bob@example.com")
    idp.create_group(UserPoolId=pool["Id"], GroupName="readers", Precedence=5)
    idp.create_group(UserPoolId=pool["Id"], GroupName="admins", Precedence=1)
    idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username="alice", GroupName="readers")
    idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username="alice", GroupName="admins")
    idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username="bob", GroupName="readers")
    mine = idp.admin_list_groups_for_user(UserPoolId=pool["Id"], Username="alice")["Groups"]
    assert sorted(g["GroupName"] for g in mine) == ["admins", "readers"]
    members = idp.list_users_in_group(UserPoolId=pool["Id"], GroupName="readers")["Users"]
    assert sorted(u["Username"] for u in members) == ["alice", "bob"]
    res = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})["AuthenticationResult"]
    for token in (res["AccessToken"], res["IdToken"]):
        assert jwt.decode(token, options={"verify_signature": False})["cognito:groups"] == ["admins", "readers"]
    idp.admin_remove_user_from_group(UserPoolId=pool["Id"], Username="alice", GroupName="admins")
    res = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="REFRESH_TOKEN_AUTH",
                            AuthParameters={"REFRESH_TOKEN": res["RefreshToken"]})["AuthenticationResult"]
    assert jwt.decode(res["AccessToken"], options={"verify_signature": False})["cognito:groups"] == ["readers"]
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username="alice", GroupName="nope")
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username="nobody", GroupName="readers")
    # Deleting a group removes it from its members.
    idp.delete_group(UserPoolId=pool["Id"], GroupName="readers")
    assert idp.admin_list_groups_for_user(UserPoolId=pool["Id"], Username="bob")["Groups"] == []


def test_cli_groups(server, app):
    pool, _ = app
    make_user(server.client(), pool["Id"], "carol")
    server.aws("create-group", "--user-pool-id", pool["Id"], "--group-name", "ops")
    server.aws("admin-add-user-to-group", "--user-pool-id", pool["Id"], "--username", "carol", "--group-name", "ops")
    r = server.aws("list-users-in-group", "--user-pool-id", pool["Id"], "--group-name", "ops")
    assert [u["Username"] for u in r["Users"]] == ["carol"]
    assert [g["GroupName"] for g in server.aws("list-groups", "--user-pool-id", pool["Id"])["Groups"]] == ["ops"]
