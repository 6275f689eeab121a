"""The pool's SAML signing certificate and managed login branding styles, through boto3."""

import base64
import datetime
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa


# ---------------------------------------------------------------------------------------
# GetSigningCertificate


def test_signing_certificate_is_a_pool_x509_certificate(idp, pool):
    cert_b64 = idp.get_signing_certificate(UserPoolId=pool["Id"])["Certificate"]
    assert "BEGIN CERTIFICATE" not in cert_b64
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == pool["Id"]
    assert cert.issuer == cert.subject
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048
    now = datetime.datetime.now(datetime.timezone.utc)
    assert cert.not_valid_before_utc <= now + datetime.timedelta(minutes=1)
    years = (cert.not_valid_after_utc - cert.not_valid_before_utc).days / 365.25
    assert 9.99 < years < 10.01
    # The same on every call.
    assert idp.get_signing_certificate(UserPoolId=pool["Id"])["Certificate"] == cert_b64


def test_signing_certificate_is_one_per_pool_even_under_concurrent_first_calls(idp, pool):
    other = idp.create_user_pool(PoolName="other")["UserPool"]["Id"]
    try:
        with ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda _: idp.get_signing_certificate(UserPoolId=pool["Id"])["Certificate"],
                              range(8)))
        assert len(set(got)) == 1
        assert idp.get_signing_certificate(UserPoolId=other)["Certificate"] != got[0]
    finally:
        idp.delete_user_pool(UserPoolId=other)


def test_signing_certificate_of_an_unknown_pool(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.get_signing_certificate(UserPoolId="us-east-1_nothere")


def test_signing_certificate_survives_a_restart(fresh_server):
    idp = fresh_server.client()
    p = idp.create_user_pool(PoolName="saml")["UserPool"]["Id"]
    before = idp.get_signing_certificate(UserPoolId=p)["Certificate"]
    fresh_server.restart()
    assert fresh_server.client().get_signing_certificate(UserPoolId=p)["Certificate"] == before
