"""Every region from one process: boto3 clients for us-west-2 and us-east-2 share one
server. A signed request's region is its SigV4 scope's: pools are created in it (ids and
ARNs carry it), ListUserPools lists its pools only, and a pool of another region is not
found there. What belongs to a pool (device keys, trigger events) takes the pool's
region; unsigned requests find the pool through the client they name."""

import uuid

import boto3
import pytest
import requests
from botocore.config import Config

from conftest import PASSWORD, make_user


def client_for(server, region):
    return boto3.client("cognito-idp", endpoint_url=server.endpoint, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}))


def test_pools_live_in_the_region_they_were_created_in(server):
    west, east = client_for(server, "us-west-2"), client_for(server, "us-east-2")
    pw = west.create_user_pool(PoolName=f"west-{uuid.uuid4().hex[:6]}")["UserPool"]
    pe = east.create_user_pool(PoolName=f"east-{uuid.uuid4().hex[:6]}")["UserPool"]
    assert pw["Id"].startswith("us-west-2_") and pe["Id"].startswith("us-east-2_")
    assert pw["Arn"] == f"arn:aws:cognito-idp:us-west-2:000000000000:userpool/{pw['Id']}"
    assert pe["Arn"].startswith("arn:aws:cognito-idp:us-east-2:")
    west_ids = {p["Id"] for p in west.list_user_pools(MaxResults=60)["UserPools"]}
    assert pw["Id"] in west_ids and pe["Id"] not in west_ids
    assert all(i.startswith("us-west-2_") for i in west_ids)
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.describe_user_pool(UserPoolId=pe["Id"])
    with pytest.raises(east.exceptions.ResourceNotFoundException):
        east.list_tags_for_resource(ResourceArn=pw["Arn"])
    assert east.describe_user_pool(UserPoolId=pe["Id"])["UserPool"]["Arn"] == pe["Arn"]
    # Pagination stays inside the region.
    for _ in range(2):
        west.create_user_pool(PoolName=f"west-{uuid.uuid4().hex[:6]}")
    seen, token = [], None
    while True:
        page = west.list_user_pools(MaxResults=1, **({"NextToken": token} if token else {}))
        seen += [p["Id"] for p in page["UserPools"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) >= 3
    assert all(i.startswith("us-west-2_") for i in seen)


def test_a_pool_of_another_region_signs_in_with_its_own_region(server):
    west = client_for(server, "us-west-2")
    p = west.create_user_pool(PoolName=f"dev-{uuid.uuid4().hex[:6]}",
                              DeviceConfiguration={"ChallengeRequiredOnNewDevice": False,
                                                   "DeviceOnlyRememberedOnUserPrompt": True})["UserPool"]
    c = west.create_user_pool_client(UserPoolId=p["Id"], ClientName="a",
                                     ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                        "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    make_user(west, p["Id"], "wes")
    # The sign-in is unsigned: a client of any region finds the pool through ClientId.
    r = client_for(server, "us-east-1").initiate_auth(
        ClientId=c["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "wes", "PASSWORD": PASSWORD})["AuthenticationResult"]
    assert r["NewDeviceMetadata"]["DeviceKey"].startswith("us-west-2_")
    assert west.get_user(AccessToken=r["AccessToken"])["Username"] == "wes"
    jwks = requests.get(f"{server.endpoint}/{p['Id']}/.well-known/jwks.json", timeout=10).json()
    assert jwks["keys"]


def test_a_scope_that_is_no_region_is_refused(server):
    bad = client_for(server, "nowhere")
    with pytest.raises(bad.exceptions.ClientError) as e:
        bad.list_user_pools(MaxResults=1)
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
