"""The model's constraints answered with AWS's own message grammar, through boto3 with its
client-side validation turned off (so the server's answer is what is seen)."""

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def raw(server):
    return server.client(parameter_validation=False)


def error(call):
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response["Error"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err["Code"], err["Message"]


def test_admin_get_device_key_pattern(raw):
    code, msg = error(lambda: raw.admin_get_device(UserPoolId="us-east-1_abc", Username="alice", DeviceKey="nokey"))
    assert code == "InvalidParameterException"
    assert msg == ("1 validation error detected: Value 'nokey' at 'deviceKey' failed to satisfy constraint: "
                   "Member must satisfy regular expression pattern: [\\w-]+_[0-9a-f-]+")


def test_admin_get_device_key_length(raw):
    key = "us-east-1_" + "a" * 50
    code, msg = error(lambda: raw.admin_get_device(UserPoolId="us-east-1_abc", Username="alice", DeviceKey=key))
    assert code == "InvalidParameterException"
    assert msg == (f"1 validation error detected: Value '{key}' at 'deviceKey' failed to satisfy constraint: "
                   "Member must have length less than or equal to 55")


def test_admin_get_device_missing_members(raw):
    code, msg = error(lambda: raw.admin_get_device(UserPoolId="us-east-1_abc"))
    assert code == "InvalidParameterException"
    assert msg == ("2 validation errors detected: "
                   "Value null at 'deviceKey' failed to satisfy constraint: Member must not be null; "
                   "Value null at 'username' failed to satisfy constraint: Member must not be null")


def test_admin_get_device_pool_id_and_sensitive_username(raw):
    code, msg = error(lambda: raw.admin_get_device(UserPoolId="bad", Username="", DeviceKey="us-east-1_0a"))
    assert code == "InvalidParameterException"
    assert msg.startswith("3 validation errors detected: ")
    assert "Value 'bad' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w-]+_[0-9a-zA-Z]+" in msg
    # Username is a sensitive member: its value is never echoed.
    assert "Value at 'username' failed to satisfy constraint: Member must have length greater than or equal to 1" in msg


def test_enum_and_range(raw):
    code, msg = error(lambda: raw.create_user_pool(PoolName="p", MfaConfiguration="SOMETIMES"))
    assert code == "InvalidParameterException"
    assert msg == ("1 validation error detected: Value 'SOMETIMES' at 'mfaConfiguration' failed to satisfy constraint: "
                   "Member must satisfy enum value set: [OFF, ON, OPTIONAL]")
    code, msg = error(lambda: raw.create_user_pool(PoolName="p", Policies={"PasswordPolicy": {"MinimumLength": 3}}))
    assert msg == ("1 validation error detected: Value '3' at 'policies.passwordPolicy.minimumLength' failed to satisfy "
                   "constraint: Member must have value greater than or equal to 6")


def test_nested_list_path(raw):
    code, msg = error(lambda: raw.add_custom_attributes(UserPoolId="us-east-1_abc",
                                                         CustomAttributes=[{"Name": "ok"}, {"Name": "x" * 21}]))
    assert code == "InvalidParameterException"
    assert msg == ("1 validation error detected: Value '" + "x" * 21 + "' at 'customAttributes.2.member.name' failed to "
                   "satisfy constraint: Member must have length less than or equal to 20")
