"""User pool domains and resource servers through boto3 (and the AWS CLI for one round):
Create/Describe/Update/DeleteUserPoolDomain, the pool's Domain and CustomDomain, and the
five resource-server operations, with Cognito's refusals."""

import uuid

import pytest


def prefix():
    return f"app-{uuid.uuid4().hex[:10]}"


def test_prefix_domain_lifecycle(idp, pool):
    d = prefix()
    r = idp.create_user_pool_domain(Domain=d, UserPoolId=pool["Id"])
    assert r["ManagedLoginVersion"] == 1 and "CloudFrontDomain" not in r
    desc = idp.describe_user_pool_domain(Domain=d)["DomainDescription"]
    assert desc["UserPoolId"] == pool["Id"]
    assert desc["Domain"] == d and desc["Status"] == "ACTIVE" and desc["ManagedLoginVersion"] == 1
    assert desc["AWSAccountId"].isdigit()
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Domain"] == d
    # One prefix domain per pool; a name is unique across pools.
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool_domain(Domain=prefix(), UserPoolId=pool["Id"])
    assert e.value.response["Error"]["Message"] == "User pool already has a domain configured."
    other = idp.create_user_pool(PoolName="other")["UserPool"]
    try:
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.create_user_pool_domain(Domain=d, UserPoolId=other["Id"])
        assert e.value.response["Error"]["Message"] == "Domain already associated with another user pool."
        # Another pool cannot delete or update it.
        with pytest.raises(idp.exceptions.InvalidParameterException):
            idp.delete_user_pool_domain(Domain=d, UserPoolId=other["Id"])
    finally:
        idp.delete_user_pool(UserPoolId=other["Id"])
    r = idp.update_user_pool_domain(Domain=d, UserPoolId=pool["Id"], ManagedLoginVersion=2)
    assert r["ManagedLoginVersion"] == 2
    assert idp.describe_user_pool_domain(Domain=d)["DomainDescription"]["ManagedLoginVersion"] == 2
    idp.delete_user_pool_domain(Domain=d, UserPoolId=pool["Id"])
    # An unknown domain is an empty description, not an error.
    assert idp.describe_user_pool_domain(Domain=d)["DomainDescription"] == {}
    assert "Domain" not in idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    # The name is free again.
    idp.create_user_pool_domain(Domain=d, UserPoolId=pool["Id"])


def test_domain_refusals(idp, pool):
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool_domain(Domain="a" * 64, UserPoolId=pool["Id"])
    assert "Member must have length less than or equal to 63" in e.value.response["Error"]["Message"]
    for bad in ["Upper", "-lead", "trail-", "under_score", "dot.ted"]:
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.create_user_pool_domain(Domain=bad, UserPoolId=pool["Id"])
        assert e.value.response["Error"]["Message"].startswith(
            "The domain name contains an invalid character."), bad
    for reserved, word in [("my-aws-app", "aws"), ("amazonian", "amazon"), ("newcognito", "cognito")]:
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.create_user_pool_domain(Domain=reserved, UserPoolId=pool["Id"])
        assert e.value.response["Error"]["Message"] == f"Domain cannot contain reserved word: {word}"
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.create_user_pool_domain(Domain=prefix(), UserPoolId="us-east-1_nope")
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_domain(Domain=prefix(), UserPoolId=pool["Id"], ManagedLoginVersion=3)
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.delete_user_pool_domain(Domain=prefix(), UserPoolId=pool["Id"])


def test_custom_domain_beside_a_prefix_domain(idp, pool):
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-4000-8000-000000000000"
    custom = f"auth{uuid.uuid4().hex[:8]}.example.com"
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool_domain(Domain=custom, UserPoolId=pool["Id"])  # no certificate: a prefix, with dots
    for cert in ["arn:aws:iam::123456789012:role/not-a-certificate",
                 "arn:aws:acm:eu-west-1:123456789012:certificate/0f0e0d0c"]:
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.create_user_pool_domain(Domain=custom, UserPoolId=pool["Id"], CustomDomainConfig={"CertificateArn": cert})
        assert "isn't in us-east-1 region" in e.value.response["Error"]["Message"]
    with pytest.raises(idp.exceptions.InvalidParameterException) as e:
        idp.create_user_pool_domain(Domain="nodots", UserPoolId=pool["Id"], CustomDomainConfig={"CertificateArn": arn})
    assert e.value.response["Error"]["Message"] == "Custom domain is not a valid subdomain"
    r = idp.create_user_pool_domain(Domain=custom, UserPoolId=pool["Id"],
                                    CustomDomainConfig={"CertificateArn": arn})
    assert r["CloudFrontDomain"]
    idp.create_user_pool_domain(Domain=prefix(), UserPoolId=pool["Id"])
    p = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert p["CustomDomain"] == custom and p["Domain"].startswith("app-")
    desc = idp.describe_user_pool_domain(Domain=custom)["DomainDescription"]
    assert desc["CustomDomainConfig"] == {"CertificateArn": arn}


def test_resource_servers(idp, pool):
    scopes = [{"ScopeName": "read", "ScopeDescription": "Read"}, {"ScopeName": "write", "ScopeDescription": "Write"}]
    rs = idp.create_resource_server(UserPoolId=pool["Id"], Identifier="https://api.example.com", Name="API",
                                    Scopes=scopes)["ResourceServer"]
    assert rs == {"UserPoolId": pool["Id"], "Identifier": "https://api.example.com", "Name": "API",
                  "Scopes": scopes}
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_resource_server(UserPoolId=pool["Id"], Identifier="https://api.example.com", Name="again")
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_resource_server(UserPoolId=pool["Id"], Identifier="dup", Name="dup",
                                   Scopes=[scopes[0], scopes[0]])
    for i in range(3):
        idp.create_resource_server(UserPoolId=pool["Id"], Identifier=f"svc{i}", Name=f"svc {i}")
    got = idp.describe_resource_server(UserPoolId=pool["Id"], Identifier="https://api.example.com")
    assert got["ResourceServer"] == rs
    # Pages of two, every server once.
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = idp.list_resource_servers(UserPoolId=pool["Id"], MaxResults=2, **kw)
        seen += [r["Identifier"] for r in page["ResourceServers"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(["https://api.example.com", "svc0", "svc1", "svc2"])
    # Update replaces the name and the scopes.
    up = idp.update_resource_server(UserPoolId=pool["Id"], Identifier="svc0", Name="renamed",
                                    Scopes=[{"ScopeName": "admin", "ScopeDescription": "Admin"}])["ResourceServer"]
    assert up["Name"] == "renamed" and [s["ScopeName"] for s in up["Scopes"]] == ["admin"]
    idp.delete_resource_server(UserPoolId=pool["Id"], Identifier="svc0")
    for call in (idp.describe_resource_server, idp.delete_resource_server):
        with pytest.raises(idp.exceptions.ResourceNotFoundException):
            call(UserPoolId=pool["Id"], Identifier="svc0")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.list_resource_servers(UserPoolId="us-east-1_nope", MaxResults=5)


def test_aws_cli_domain_round(server, pool):
    d = prefix()
    server.aws("create-user-pool-domain", "--domain", d, "--user-pool-id", pool["Id"])
    desc = server.aws("describe-user-pool-domain", "--domain", d)["DomainDescription"]
    assert desc["UserPoolId"] == pool["Id"]
    server.aws("delete-user-pool-domain", "--domain", d, "--user-pool-id", pool["Id"])


def test_client_oauth_settings_as_cognito_validates_them(idp, pool):
    pid = pool["Id"]
    idp.create_resource_server(UserPoolId=pid, Identifier="https://api", Name="api",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}])
    web = dict(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["code"],
               AllowedOAuthScopes=["openid", "email", "https://api/read"],
               CallbackURLs=["https://app.example.com/cb", "http://localhost:3000/cb", "myapp://cb"],
               LogoutURLs=["http://127.0.0.1:8080/bye"], SupportedIdentityProviders=["COGNITO"])
    c = idp.create_user_pool_client(UserPoolId=pid, ClientName="web", DefaultRedirectURI="myapp://cb",
                                    **web)["UserPoolClient"]
    assert c["AllowedOAuthFlows"] == ["code"] and c["AllowedOAuthFlowsUserPoolClient"] is True
    assert c["CallbackURLs"] == web["CallbackURLs"]

    def refused(exc, message, **changes):
        with pytest.raises(exc) as e:
            idp.create_user_pool_client(UserPoolId=pid, ClientName="x", **{**web, **changes})
        assert e.value.response["Error"]["Message"] == message
        # UpdateUserPoolClient checks the same.
        with pytest.raises(exc):
            idp.update_user_pool_client(UserPoolId=pid, ClientId=c["ClientId"], **{**web, **changes})

    refused(idp.exceptions.InvalidParameterException,
            "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows.",
            AllowedOAuthScopes=[])
    refused(idp.exceptions.InvalidOAuthFlowException,
            "CallbackUrls can not be empty when code flow or implicit flow is selected", CallbackURLs=[])
    refused(idp.exceptions.InvalidOAuthFlowException,
            "client_credentials flow can not be selected along with code flow or implicit flow.",
            AllowedOAuthFlows=["code", "client_credentials"])
    refused(idp.exceptions.InvalidOAuthFlowException,
            "client_credentials flow can not be selected if client does not have a client secret.",
            AllowedOAuthFlows=["client_credentials"], CallbackURLs=[])
    refused(idp.exceptions.InvalidParameterException, "http://app.example.com/cb cannot use the HTTP protocol.",
            CallbackURLs=["http://app.example.com/cb"])
    refused(idp.exceptions.InvalidParameterException, "https://app.example.com/cb#x cannot use fragment",
            CallbackURLs=["https://app.example.com/cb#x"])
    refused(idp.exceptions.InvalidParameterException,
            "The default redirect URI https://other.example.com is not in the callback URIs list.",
            DefaultRedirectURI="https://other.example.com")
    refused(idp.exceptions.ScopeDoesNotExistException, "Invalid scope requested: https://api/write",
            AllowedOAuthScopes=["openid", "https://api/write"])
    refused(idp.exceptions.InvalidParameterException, f"The provider Google does not exist for User Pool {pid}",
            SupportedIdentityProviders=["COGNITO", "Google"])
    # A machine client: a secret, custom scopes only.
    m2m = dict(AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials"],
               AllowedOAuthScopes=["https://api/read"], GenerateSecret=True)
    idp.create_user_pool_client(UserPoolId=pid, ClientName="m2m", **m2m)
    with pytest.raises(idp.exceptions.InvalidOAuthFlowException) as e:
        idp.create_user_pool_client(UserPoolId=pid, ClientName="m2m", **{**m2m, "AllowedOAuthScopes": ["openid"]})
    assert e.value.response["Error"]["Message"] == "openid is not supported with client_credentials flow"


def test_identity_providers(idp, pool):
    pid = pool["Id"]
    oidc = {"client_id": "abc", "client_secret": "s3cret", "authorize_scopes": "openid email",
            "oidc_issuer": "https://idp.example.com", "attributes_request_method": "GET"}
    p = idp.create_identity_provider(UserPoolId=pid, ProviderName="Corp", ProviderType="OIDC", ProviderDetails=oidc,
                                     AttributeMapping={"email": "email"}, IdpIdentifiers=["corp.example.com"])
    p = p["IdentityProvider"]
    assert p["ProviderName"] == "Corp" and p["ProviderType"] == "OIDC" and p["UserPoolId"] == pid
    assert p["ProviderDetails"] == {**oidc, "attributes_url_add_attributes": "false"}
    assert p["AttributeMapping"] == {"email": "email"} and p["IdpIdentifiers"] == ["corp.example.com"]
    got = idp.describe_identity_provider(UserPoolId=pid, ProviderName="Corp")["IdentityProvider"]
    assert got["ProviderDetails"]["client_secret"] == "s3cret"
    assert idp.get_identity_provider_by_identifier(UserPoolId=pid, IdpIdentifier="corp.example.com")[
        "IdentityProvider"]["ProviderName"] == "Corp"
    with pytest.raises(idp.exceptions.DuplicateProviderException):
        idp.create_identity_provider(UserPoolId=pid, ProviderName="Corp", ProviderType="OIDC", ProviderDetails=oidc)
    bad = [
        ("Other", "OIDC", {**oidc, "oidc_issuer": "http://idp.example.com"}, "OIDC endpoint must start with https://"),
        ("Other", "OIDC", {"client_id": "abc"},
         "clientId, authorizeScopes, oidcIssuer and attributesRequestMethod are all required idp details."),
        ("Google", "OIDC", oidc, "Provider Google cannot be of type OIDC."),
        ("Facebook2", "Facebook", {"client_id": "a", "client_secret": "b", "authorize_scopes": "email"},
         "Provider Facebook2 cannot be of type Facebook."),
        ("Google", "Google", {"client_id": "a"}, "clientId, clientSecret and authorizeScopes are all required idp details."),
        ("Saml", "SAML", {}, "At least one of the MetadataURL or MetadataFile should be provided."),
    ]
    for name, kind, details, message in bad:
        with pytest.raises(idp.exceptions.InvalidParameterException) as e:
            idp.create_identity_provider(UserPoolId=pid, ProviderName=name, ProviderType=kind, ProviderDetails=details)
        assert e.value.response["Error"]["Message"] == message, name
    idp.create_identity_provider(UserPoolId=pid, ProviderName="Saml", ProviderType="SAML",
                                 ProviderDetails={"MetadataURL": "https://idp.example.com/metadata"})
    idp.create_identity_provider(UserPoolId=pid, ProviderName="Google", ProviderType="Google",
                                 ProviderDetails={"client_id": "a", "client_secret": "b", "authorize_scopes": "email"})
    names = [p["ProviderName"] for p in idp.list_identity_providers(UserPoolId=pid, MaxResults=10)["Providers"]]
    assert sorted(names) == ["Corp", "Google", "Saml"]
    up = idp.update_identity_provider(UserPoolId=pid, ProviderName="Corp", AttributeMapping={"email": "mail"})
    assert up["IdentityProvider"]["AttributeMapping"] == {"email": "mail"}
    # A client may name the pool's providers now.
    idp.create_user_pool_client(UserPoolId=pid, ClientName="fed", SupportedIdentityProviders=["COGNITO", "Corp"])
    idp.delete_identity_provider(UserPoolId=pid, ProviderName="Corp")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_identity_provider(UserPoolId=pid, ProviderName="Corp")
