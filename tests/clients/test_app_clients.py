"""App clients through boto3 and the AWS CLI."""

import re

import pytest


def test_create_client_defaults(idp, pool):
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="web")["UserPoolClient"]
    assert re.fullmatch(r"[a-z0-9]{26}", c["ClientId"])
    assert c["UserPoolId"] == pool["Id"]
    assert c["ClientName"] == "web"
    assert "ClientSecret" not in c
    assert c["RefreshTokenValidity"] == 30
    assert c["TokenValidityUnits"] == {}
    assert c["EnableTokenRevocation"] is True
    assert c["AllowedOAuthFlowsUserPoolClient"] is False
    assert c["EnablePropagateAdditionalUserContextData"] is False
    assert c["AuthSessionValidity"] == 3
    assert "CreationDate" in c and "LastModifiedDate" in c
    d = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=c["ClientId"])["UserPoolClient"]
    assert d == c


def test_client_with_secret_and_settings(idp, pool):
    c = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="backend",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
        AccessTokenValidity=30,
        IdTokenValidity=2,
        RefreshTokenValidity=7,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"},
        ReadAttributes=["email", "email_verified"],
        WriteAttributes=["email"],
        PreventUserExistenceErrors="ENABLED",
        EnableTokenRevocation=False,
    )["UserPoolClient"]
    assert re.fullmatch(r"[a-z0-9]{51}", c["ClientSecret"])
    assert c["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    assert c["AccessTokenValidity"] == 30
    assert c["TokenValidityUnits"] == {"AccessToken": "minutes", "IdToken": "hours", "RefreshToken": "days"}
    assert c["PreventUserExistenceErrors"] == "ENABLED"
    assert c["EnableTokenRevocation"] is False
    d = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=c["ClientId"])["UserPoolClient"]
    assert d["ClientSecret"] == c["ClientSecret"]


def test_client_secret_is_not_stored_in_clear(fresh_server):
    idp = fresh_server.client()
    p = idp.create_user_pool(PoolName="sealed")["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="s", GenerateSecret=True)["UserPoolClient"]
    fresh_server.stop()
    blob = b"".join(f.read_bytes() for f in fresh_server.data_dir.iterdir() if f.name.startswith("userpool.db"))
    assert c["ClientSecret"].encode() not in blob
    fresh_server.start()
    d = fresh_server.client().describe_user_pool_client(UserPoolId=p["Id"], ClientId=c["ClientId"])
    assert d["UserPoolClient"]["ClientSecret"] == c["ClientSecret"]


def test_token_validity_and_attribute_checks(idp, pool):
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="x", AccessTokenValidity=2,
                                    TokenValidityUnits={"AccessToken": "days"})
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="x", WriteAttributes=["custom:nope"])
    assert e.value.response["Error"]["Message"] == "Invalid write attributes specified while creating a client"


def test_update_client_resets_omitted(idp, pool):
    c = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="u", GenerateSecret=True,
                                    ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    u = idp.update_user_pool_client(UserPoolId=pool["Id"], ClientId=c["ClientId"], ClientName="u2",
                                    AccessTokenValidity=2)["UserPoolClient"]
    assert u["ClientName"] == "u2"
    assert u["AccessTokenValidity"] == 2
    assert "ExplicitAuthFlows" not in u  # reset to the default when left out, as Cognito documents
    assert u["ClientSecret"] == c["ClientSecret"]
    assert u["CreationDate"] == c["CreationDate"]


def test_list_clients_pages_and_delete(idp, pool):
    ids = {idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=f"c{i}")["UserPoolClient"]["ClientId"]
           for i in range(5)}
    seen, token = [], None
    while True:
        kw = {"UserPoolId": pool["Id"], "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        r = idp.list_user_pool_clients(**kw)
        seen += [c["ClientId"] for c in r["UserPoolClients"]]
        for c in r["UserPoolClients"]:
            assert set(c) == {"ClientId", "UserPoolId", "ClientName"}
        token = r.get("NextToken")
        if not token:
            break
    assert set(seen) == ids and len(seen) == 5
    victim = sorted(ids)[0]
    idp.delete_user_pool_client(UserPoolId=pool["Id"], ClientId=victim)
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=victim)
    assert e.value.response["Error"]["Message"] == f"User pool client {victim} does not exist."


def test_client_of_unknown_pool(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.create_user_pool_client(UserPoolId="us-east-1_doesnotex", ClientName="x")
    assert e.value.response["Error"]["Message"] == "User pool us-east-1_doesnotex does not exist."
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.list_user_pool_clients(UserPoolId="us-east-1_doesnotex", MaxResults=10)


def test_client_in_another_pool_is_not_found(idp, pool):
    other = idp.create_user_pool(PoolName="other")["UserPool"]
    try:
        c = idp.create_user_pool_client(UserPoolId=other["Id"], ClientName="x")["UserPoolClient"]
        with pytest.raises(idp.exceptions.ResourceNotFoundException):
            idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=c["ClientId"])
    finally:
        idp.delete_user_pool(UserPoolId=other["Id"])


def test_deleting_a_pool_deletes_its_clients(idp):
    p = idp.create_user_pool(PoolName="cascade")["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="x")["UserPoolClient"]
    idp.delete_user_pool(UserPoolId=p["Id"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException) as e:
        idp.describe_user_pool_client(UserPoolId=p["Id"], ClientId=c["ClientId"])
    assert "User pool" in e.value.response["Error"]["Message"]


def test_cli_clients(server):
    pid = server.aws("create-user-pool", "--pool-name", "cli-clients")["UserPool"]["Id"]
    c = server.aws("create-user-pool-client", "--user-pool-id", pid, "--client-name", "app",
                   "--generate-secret", "--explicit-auth-flows", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
    cid = c["UserPoolClient"]["ClientId"]
    assert server.aws("describe-user-pool-client", "--user-pool-id", pid, "--client-id", cid)["UserPoolClient"]["ClientName"] == "app"
    server.aws("update-user-pool-client", "--user-pool-id", pid, "--client-id", cid, "--client-name", "app2")
    listed = server.aws("list-user-pool-clients", "--user-pool-id", pid)
    assert [x["ClientName"] for x in listed["UserPoolClients"]] == ["app2"]
    server.aws("delete-user-pool-client", "--user-pool-id", pid, "--client-id", cid)
    server.aws("delete-user-pool", "--user-pool-id", pid)


def test_terms_documents_of_a_client(idp, pool):
    pid = pool["Id"]
    c = idp.create_user_pool_client(UserPoolId=pid, ClientName="web")["UserPoolClient"]
    links = {"cognito:default": "https://example.com/terms", "cognito:spanish": "https://example.com/es/terms"}
    t = idp.create_terms(UserPoolId=pid, ClientId=c["ClientId"], TermsName="terms-of-use", TermsSource="LINK",
                         Enforcement="NONE", Links=links)["Terms"]
    assert t["ClientId"] == c["ClientId"] and t["Links"] == links and t["TermsSource"] == "LINK"
    assert idp.describe_terms(UserPoolId=pid, TermsId=t["TermsId"])["Terms"] == t
    with pytest.raises(idp.exceptions.TermsExistsException):
        idp.create_terms(UserPoolId=pid, ClientId=c["ClientId"], TermsName="terms-of-use", TermsSource="LINK",
                         Enforcement="NONE", Links=links)
    p = idp.create_terms(UserPoolId=pid, ClientId=c["ClientId"], TermsName="privacy-policy", TermsSource="LINK",
                         Enforcement="NONE", Links={"cognito:default": "https://example.com/privacy"})["Terms"]
    listed = idp.list_terms(UserPoolId=pid)["Terms"]
    assert sorted(x["TermsName"] for x in listed) == ["privacy-policy", "terms-of-use"]
    for bad in [{"cognito:spanish": "https://example.com/es"}, {"cognito:default": "http://example.com"},
                {"cognito:default": "https://example.com", "klingon": "https://example.com/tlh"}]:
        with pytest.raises(idp.exceptions.InvalidParameterException):
            idp.update_terms(UserPoolId=pid, TermsId=t["TermsId"], Links=bad)
    with pytest.raises(idp.exceptions.TermsExistsException):
        idp.update_terms(UserPoolId=pid, TermsId=p["TermsId"], TermsName="terms-of-use")
    up = idp.update_terms(UserPoolId=pid, TermsId=t["TermsId"], Links={"cognito:default": "https://example.com/v2"})
    assert up["Terms"]["Links"] == {"cognito:default": "https://example.com/v2"}
    idp.delete_terms(UserPoolId=pid, TermsId=t["TermsId"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_terms(UserPoolId=pid, TermsId=t["TermsId"])
    assert [x["TermsName"] for x in idp.list_terms(UserPoolId=pid)["Terms"]] == ["privacy-policy"]


def test_two_client_secrets_for_rotation(idp, pool):
    import base64
    import hashlib
    import hmac
    from conftest import PASSWORD, make_user
    pid = pool["Id"]
    c = idp.create_user_pool_client(UserPoolId=pid, ClientName="conf", GenerateSecret=True,
                                    ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    c = c["UserPoolClient"]
    cid, first = c["ClientId"], c["ClientSecret"]
    make_user(idp, pid, "alice")

    def sign_in(secret):
        digest = hmac.new(secret.encode(), ("alice" + cid).encode(), hashlib.sha256).digest()
        return idp.initiate_auth(ClientId=cid, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": "alice", "PASSWORD": PASSWORD, "SECRET_HASH": base64.b64encode(digest).decode()})

    added = idp.add_user_pool_client_secret(UserPoolId=pid, ClientId=cid)["ClientSecretDescriptor"]
    second = added["ClientSecretValue"]
    assert added["ClientSecretId"].startswith(f"{cid}--") and second != first
    listed = idp.list_user_pool_client_secrets(UserPoolId=pid, ClientId=cid)["ClientSecrets"]
    assert len(listed) == 2 and all("ClientSecretValue" not in s for s in listed)
    assert added["ClientSecretId"] in [s["ClientSecretId"] for s in listed]
    # Both secrets work.
    assert "AccessToken" in sign_in(first)["AuthenticationResult"]
    assert "AccessToken" in sign_in(second)["AuthenticationResult"]
    with pytest.raises(idp.exceptions.LimitExceededException):
        idp.add_user_pool_client_secret(UserPoolId=pid, ClientId=cid, ClientSecret="a" * 40)
    # The first goes: the second is the client's secret now, the first no longer works.
    original = next(s["ClientSecretId"] for s in listed if s["ClientSecretId"] != added["ClientSecretId"])
    idp.delete_user_pool_client_secret(UserPoolId=pid, ClientId=cid, ClientSecretId=original)
    assert idp.describe_user_pool_client(UserPoolId=pid, ClientId=cid)["UserPoolClient"]["ClientSecret"] == second
    assert [s["ClientSecretId"] for s in idp.list_user_pool_client_secrets(UserPoolId=pid, ClientId=cid)[
        "ClientSecrets"]] == [added["ClientSecretId"]]
    with pytest.raises(idp.exceptions.NotAuthorizedException):
        sign_in(first)
    assert "AccessToken" in sign_in(second)["AuthenticationResult"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.delete_user_pool_client_secret(UserPoolId=pid, ClientId=cid, ClientSecretId=added["ClientSecretId"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.delete_user_pool_client_secret(UserPoolId=pid, ClientId=cid, ClientSecretId=f"{cid}--1")
    # A secret of one's own is not echoed; a public client has none to rotate.
    mine = idp.add_user_pool_client_secret(UserPoolId=pid, ClientId=cid, ClientSecret="b" * 40)["ClientSecretDescriptor"]
    assert "ClientSecretValue" not in mine
    assert "AccessToken" in sign_in("b" * 40)["AuthenticationResult"]
    public = idp.create_user_pool_client(UserPoolId=pid, ClientName="public")["UserPoolClient"]
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.add_user_pool_client_secret(UserPoolId=pid, ClientId=public["ClientId"])
