"""User pools through boto3 and the AWS CLI: create, describe, update, list, delete,
custom attributes; members and defaults as the real service answers them."""

import datetime
import re

import pytest
from botocore.exceptions import ClientError

STANDARD = [
    "sub", "name", "given_name", "family_name", "middle_name", "nickname",
    "preferred_username", "profile", "picture", "website", "email", "email_verified",
    "gender", "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified",
    "address", "updated_at",
]


def near_now(dt):
    now = datetime.datetime.now(datetime.timezone.utc)
    return abs((now - dt).total_seconds()) < 120


def test_create_user_pool_defaults(idp):
    p = idp.create_user_pool(PoolName="defaults")["UserPool"]
    try:
        assert re.fullmatch(r"us-east-1_[0-9A-Za-z]{9}", p["Id"])
        assert p["Name"] == "defaults"
        assert p["Arn"] == f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{p['Id']}"
        assert near_now(p["CreationDate"]) and near_now(p["LastModifiedDate"])
        assert p["Policies"]["PasswordPolicy"] == {
            "MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True,
            "RequireNumbers": True, "RequireSymbols": True, "TemporaryPasswordValidityDays": 7,
        }
        assert p["MfaConfiguration"] == "OFF"
        assert p["DeletionProtection"] == "INACTIVE"
        assert p["EstimatedNumberOfUsers"] == 0
        assert p["LambdaConfig"] == {}
        assert p["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": False, "UnusedAccountValidityDays": 7}
        assert p["EmailConfiguration"] == {"EmailSendingAccount": "COGNITO_DEFAULT"}
        assert p["VerificationMessageTemplate"] == {"DefaultEmailOption": "CONFIRM_WITH_CODE"}
        assert [a["Name"] for a in p["SchemaAttributes"]] == STANDARD
        sub = p["SchemaAttributes"][0]
        assert sub == {
            "Name": "sub", "AttributeDataType": "String", "DeveloperOnlyAttribute": False,
            "Mutable": False, "Required": True,
            "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "2048"},
        }
        birthdate = next(a for a in p["SchemaAttributes"] if a["Name"] == "birthdate")
        assert birthdate["StringAttributeConstraints"] == {"MinLength": "10", "MaxLength": "10"}
        assert "DeviceConfiguration" not in p
        # Describe shows exactly what create answered.
        assert idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"] == p
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_create_with_settings_and_custom_attributes(idp):
    p = idp.create_user_pool(
        PoolName="configured",
        Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": False}},
        UsernameAttributes=["email"],
        UsernameConfiguration={"CaseSensitive": False},
        AutoVerifiedAttributes=["email"],
        DeviceConfiguration={"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False},
        Schema=[
            {"Name": "tenant", "AttributeDataType": "String", "Mutable": True,
             "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}},
            {"Name": "level", "AttributeDataType": "Number", "DeveloperOnlyAttribute": True},
            {"Name": "email", "AttributeDataType": "String", "Required": True},
        ],
        UserPoolTags={"team": "idp"},
    )["UserPool"]
    try:
        assert p["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
        assert p["Policies"]["PasswordPolicy"]["RequireSymbols"] is False
        assert p["UsernameAttributes"] == ["email"]
        assert p["UsernameConfiguration"] == {"CaseSensitive": False}
        assert p["DeviceConfiguration"] == {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False}
        assert p["UserPoolTags"] == {"team": "idp"}
        names = {a["Name"]: a for a in p["SchemaAttributes"]}
        assert names["custom:tenant"]["StringAttributeConstraints"] == {"MinLength": "1", "MaxLength": "64"}
        assert names["dev:custom:level"]["AttributeDataType"] == "Number"
        assert names["email"]["Required"] is True
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])


def test_alias_and_username_attributes_conflict(idp):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool(PoolName="x", AliasAttributes=["email"], UsernameAttributes=["email"])
    assert "Only one of the aliasAttributes or usernameAttributes" in str(e.value)


def test_required_custom_attribute_refused(idp):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool(PoolName="x", Schema=[{"Name": "t", "AttributeDataType": "String", "Required": True}])
    assert e.value.response["Error"]["Message"] == "Required custom attributes are not supported currently."


def test_update_user_pool_resets_omitted_members(idp, pool):
    idp.update_user_pool(
        UserPoolId=pool["Id"],
        MfaConfiguration="OFF",
        DeviceConfiguration={"ChallengeRequiredOnNewDevice": False, "DeviceOnlyRememberedOnUserPrompt": True},
        Policies={"PasswordPolicy": {"MinimumLength": 10}},
        PoolName="renamed",
    )
    p = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert p["Name"] == "renamed"
    assert p["DeviceConfiguration"]["DeviceOnlyRememberedOnUserPrompt"] is True
    assert p["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
    assert p["LastModifiedDate"] >= p["CreationDate"]
    # Cognito: a member left out of UpdateUserPool is reset to its default.
    idp.update_user_pool(UserPoolId=pool["Id"])
    p = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert "DeviceConfiguration" not in p
    assert p["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert p["Name"] == "renamed"  # the name is kept unless given
    assert [a["Name"] for a in p["SchemaAttributes"]] == STANDARD


def test_list_user_pools_pages(idp):
    ids = [idp.create_user_pool(PoolName=f"page-{i}")["UserPool"]["Id"] for i in range(5)]
    try:
        seen, token = [], None
        while True:
            kw = {"MaxResults": 2}
            if token:
                kw["NextToken"] = token
            r = idp.list_user_pools(**kw)
            assert len(r["UserPools"]) <= 2
            for d in r["UserPools"]:
                assert set(d) >= {"Id", "Name", "LambdaConfig", "CreationDate", "LastModifiedDate"}
            seen += [d["Id"] for d in r["UserPools"]]
            token = r.get("NextToken")
            if not token:
                break
        assert set(ids) <= set(seen)
        assert len(seen) == len(set(seen))
        # The paginator botocore ships works too.
        all_ids = [d["Id"] for page in idp.get_paginator("list_user_pools").paginate(MaxResults=3)
                   for d in page["UserPools"]]
        assert set(ids) <= set(all_ids)
    finally:
        for i in ids:
            idp.delete_user_pool(UserPoolId=i)


def test_list_user_pools_max_results_required_and_bounded(idp):
    with pytest.raises(ClientError) as e:
        idp.list_user_pools(MaxResults=61)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert e.value.response["Error"]["Message"] == (
        "1 validation error detected: Value '61' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 60"
    )


def test_delete_user_pool_and_not_found(idp):
    p = idp.create_user_pool(PoolName="gone")["UserPool"]
    idp.delete_user_pool(UserPoolId=p["Id"])
    for call in (
        lambda: idp.describe_user_pool(UserPoolId=p["Id"]),
        lambda: idp.delete_user_pool(UserPoolId=p["Id"]),
        lambda: idp.update_user_pool(UserPoolId=p["Id"]),
    ):
        with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
            call()
        assert e.value.response["Error"]["Message"] == f"User pool {p['Id']} does not exist."
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_deletion_protection(idp):
    p = idp.create_user_pool(PoolName="protected", DeletionProtection="ACTIVE")["UserPool"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.delete_user_pool(UserPoolId=p["Id"])
    idp.update_user_pool(UserPoolId=p["Id"], DeletionProtection="INACTIVE")
    idp.delete_user_pool(UserPoolId=p["Id"])


def test_add_custom_attributes(idp, pool):
    idp.add_custom_attributes(
        UserPoolId=pool["Id"],
        CustomAttributes=[{"Name": "plan", "AttributeDataType": "String"}],
    )
    p = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    plan = next(a for a in p["SchemaAttributes"] if a["Name"] == "custom:plan")
    assert plan["Mutable"] is True and plan["Required"] is False
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.add_custom_attributes(UserPoolId=pool["Id"], CustomAttributes=[{"Name": "plan", "AttributeDataType": "String"}])
    assert e.value.response["Error"]["Message"] == "custom:plan: Existing attribute already has name custom:plan."


def test_cli_create_describe_list_delete(server):
    created = server.aws("create-user-pool", "--pool-name", "cli-pool")["UserPool"]
    pid = created["Id"]
    # AWS CLI v1 prints the wire's epoch seconds as they came (a number).
    import time
    assert abs(created["CreationDate"] - time.time()) < 120
    described = server.aws("describe-user-pool", "--user-pool-id", pid)["UserPool"]
    assert described["Name"] == "cli-pool"
    # Every page (a shared database may hold more pools than one page).
    listed = server.aws("list-user-pools", "--max-results", "60")
    ids = [p["Id"] for p in listed["UserPools"]]
    while "NextToken" in listed and pid not in ids:
        listed = server.aws("list-user-pools", "--max-results", "60", "--next-token", listed["NextToken"])
        ids += [p["Id"] for p in listed["UserPools"]]
    assert pid in ids
    server.aws("update-user-pool", "--user-pool-id", pid, "--mfa-configuration", "OFF")
    server.aws("delete-user-pool", "--user-pool-id", pid)
    p = server.aws("describe-user-pool", "--user-pool-id", pid, check=False)
    assert p.returncode != 0
    assert "ResourceNotFoundException" in p.stderr and f"User pool {pid} does not exist." in p.stderr


def test_tags_of_a_pool(idp):
    p = idp.create_user_pool(PoolName="tagged", UserPoolTags={"team": "auth"})["UserPool"]
    try:
        arn = p["Arn"]
        assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "auth"}
        idp.tag_resource(ResourceArn=arn, Tags={"env": "ci", "team": "identity"})
        assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "identity", "env": "ci"}
        idp.untag_resource(ResourceArn=arn, TagKeys=["team", "absent"])
        assert idp.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "ci"}
        # DescribeUserPool shows the same tags.
        assert idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"]["UserPoolTags"] == {"env": "ci"}
        with pytest.raises(idp.exceptions.InvalidParameterException):
            idp.tag_resource(ResourceArn=arn, Tags={f"k{i}": "v" for i in range(51)})
        missing = arn.rsplit("/", 1)[0] + "/us-east-1_nothere"
        with pytest.raises(idp.exceptions.ResourceNotFoundException):
            idp.list_tags_for_resource(ResourceArn=missing)
    finally:
        idp.delete_user_pool(UserPoolId=p["Id"])
