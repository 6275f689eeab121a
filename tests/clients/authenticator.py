"""A software WebAuthn authenticator for the passkey tests through boto3: it answers
`navigator.credentials.create` / `.get` options as a browser and its authenticator would,
with real keys (ES256 or RS256, from `cryptography`) and real signatures, in attestation
`none` or `packed` self-attestation. The JSON it returns is what Amplify sends
(base64url members). The Chromium test (tests/browser) checks the same server against
the browser's own WebAuthn and its virtual authenticator."""

import base64
import hashlib
import json
import os
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def cbor(v):
    """The few CBOR types WebAuthn needs (canonical enough for a verifier)."""
    def head(major, n):
        if n < 24:
            return bytes([major << 5 | n])
        if n < 256:
            return bytes([major << 5 | 24, n])
        if n < 65536:
            return bytes([major << 5 | 25]) + struct.pack(">H", n)
        return bytes([major << 5 | 26]) + struct.pack(">I", n)
    if isinstance(v, bool):
        return b"\xf5" if v else b"\xf4"
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, str):
        e = v.encode()
        return head(3, len(e)) + e
    if isinstance(v, list):
        return head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(v)


class Passkey:
    def __init__(self, alg=-7):
        self.alg = alg
        self.id = os.urandom(32)
        self.counter = 0
        if alg == -7:
            self.key = ec.generate_private_key(ec.SECP256R1())
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user_handle = None
        self.rp_id = None

    def cose(self):
        pub = self.key.public_key().public_numbers()
        if self.alg == -7:
            return cbor({1: 2, 3: -7, -1: 1, -2: pub.x.to_bytes(32, "big"), -3: pub.y.to_bytes(32, "big")})
        n = pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")
        e = pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big")
        return cbor({1: 3, 3: -257, -1: n, -2: e})

    def sign(self, data):
        if self.alg == -7:
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def auth_data(self, rp_id, uv=True, attested=False):
        flags = 0x01 | (0x04 if uv else 0)
        body = b""
        if attested:
            flags |= 0x40
            body = b"\0" * 16 + struct.pack(">H", len(self.id)) + self.id + self.cose()
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.counter) + body

    def create(self, options, origin, fmt="none", uv=True, rp_id=None):
        """`navigator.credentials.create({publicKey: options})`: the RegistrationResponseJSON."""
        self.rp_id = rp_id or options["rp"]["id"]
        self.user_handle = options["user"]["id"]
        client_data = json.dumps({"type": "webauthn.create", "challenge": options["challenge"],
                                  "origin": origin, "crossOrigin": False}).encode()
        auth_data = self.auth_data(self.rp_id, uv=uv, attested=True)
        att_stmt = {}
        if fmt == "packed":
            att_stmt = {"alg": self.alg, "sig": self.sign(auth_data + hashlib.sha256(client_data).digest())}
        attestation = cbor({"fmt": fmt, "attStmt": att_stmt, "authData": auth_data})
        return {"type": "public-key", "id": b64url(self.id), "rawId": b64url(self.id),
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation),
                             "transports": ["internal"], "publicKeyAlgorithm": self.alg,
                             "authenticatorData": b64url(auth_data)},
                "authenticatorAttachment": "platform"}

    def get(self, options, origin, uv=True, counter_step=1, rp_id=None):
        """`navigator.credentials.get({publicKey: options})`: the AuthenticationResponseJSON."""
        self.counter += counter_step
        client_data = json.dumps({"type": "webauthn.get", "challenge": options["challenge"],
                                  "origin": origin, "crossOrigin": False}).encode()
        auth_data = self.auth_data(rp_id or options["rpId"], uv=uv)
        sig = self.sign(auth_data + hashlib.sha256(client_data).digest())
        return {"id": b64url(self.id), "rawId": b64url(self.id), "type": "public-key",
                "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                             "signature": b64url(sig), "userHandle": self.user_handle},
                "authenticatorAttachment": "platform"}
