"""An independent SigV4 signer (not botocore's), for raw requests in the tests."""

import datetime
import hashlib
import hmac

REGION = "us-east-1"
TARGET = "AWSCognitoIdentityProviderService."


def sign(endpoint, target, body, key="test", secret="test", when=None, signed=("content-type", "host", "x-amz-date", "x-amz-target")):
    """An independent SigV4 signer (not botocore's), so the server is checked against the spec."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    host = endpoint.removeprefix("http://")
    headers = {"content-type": "application/x-amz-json-1.1", "host": host, "x-amz-date": amz_date,
               "x-amz-target": TARGET + target}
    names = sorted(signed)
    creq = "\n".join(["POST", "/", "", *[f"{n}:{headers[n]}" for n in names], "", ";".join(names),
                      hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{REGION}/cognito-idp/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, REGION, "cognito-idp", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return headers
