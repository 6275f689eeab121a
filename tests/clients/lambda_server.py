"""A Lambda Invoke API for the trigger tests: `POST /2015-03-31/functions/<name>/invocations`
on 127.0.0.1, hosting Python functions. Like Lambda, it checks each call's SigV4 signature
(service `lambda`, the function ARN's region, the credentials it was given), with its own
signer code (not botocore's), and refuses a bad one with 403 `InvalidSignatureException`.

A function is `fn(event) -> answer`; raising makes a function error (`X-Amz-Function-Error:
Unhandled`, `{"errorMessage", "errorType"}`), as the Node and Python runtimes answer. Every
event received is kept, per function, for the tests to check member by member."""

import hashlib
import hmac
import json
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCESS_KEY = "AKIDLAMBDATEST"
SECRET_KEY = "lambda-test-secret"
ACCOUNT = "123456789012"


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class LambdaServer:
    def __init__(self, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
        self.access_key, self.secret_key = access_key, secret_key
        self.functions = {}
        self.events = {}
        self.refused = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status, headers, payload = server.handle(self.command, self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()

    def register(self, fn, region="us-east-1"):
        """Hosts `fn` under a fresh name; answers its ARN."""
        name = f"fn-{uuid.uuid4().hex[:10]}"
        with self.lock:
            self.functions[name] = fn
            self.events[name] = []
        return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}"

    def received(self, arn):
        """The events the function of `arn` received, oldest first."""
        with self.lock:
            return list(self.events[arn.rsplit(":", 1)[1]])

    def _signature_ok(self, method, raw_path, headers, body):
        h = {k.lower(): v for k, v in headers.items()}
        auth = h.get("authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return False, "no SigV4 authorization"
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        key, date, region, service, term = parts["Credential"].split("/")
        if key != self.access_key or service != "lambda" or term != "aws4_request":
            return False, f"credential scope {parts['Credential']}"
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return False, "host and x-amz-date must be signed"
        path, _, query = raw_path.partition("?")
        # Every service but S3 signs the path URI-encoded once more.
        canonical_path = urllib.parse.quote(path, safe="/-_.~")
        pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
        canonical_query = "&".join(f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                                   for k, v in pairs)
        payload_hash = h.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
        if payload_hash != hashlib.sha256(body).hexdigest():
            return False, "payload hash"
        creq = "\n".join([method, canonical_path, canonical_query,
                          *[f"{n}:{' '.join(h.get(n, '').split())}" for n in signed], "",
                          ";".join(signed), payload_hash])
        scope = f"{date}/{region}/{service}/{term}"
        sts = "\n".join(["AWS4-HMAC-SHA256", h["x-amz-date"], scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + self.secret_key).encode()
        for part in (date, region, service, term):
            k = _hmac(k, part)
        expected = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, parts["Signature"]), region

    def handle(self, method, raw_path, headers, body):
        ok, why = self._signature_ok(method, raw_path, headers, body)
        if not ok:
            self.refused.append(why)
            return 403, {"x-amzn-ErrorType": "InvalidSignatureException"}, json.dumps(
                {"message": f"The request signature we calculated does not match ({why})"}).encode()
        path = urllib.parse.unquote(raw_path.partition("?")[0])
        prefix, suffix = "/2015-03-31/functions/", "/invocations"
        if not (path.startswith(prefix) and path.endswith(suffix)):
            return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, b'{"message":"no such path"}'
        function = path[len(prefix):-len(suffix)]
        arn_region = function.split(":")[3] if function.startswith("arn:") else None
        if arn_region and arn_region != why:
            return 403, {"x-amzn-ErrorType": "InvalidSignatureException"}, b'{"message":"signed for another region"}'
        name = function.rsplit(":", 1)[1] if function.startswith("arn:") else function
        with self.lock:
            fn = self.functions.get(name)
        if fn is None:
            return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(
                {"Type": "User", "message": f"Function not found: {function}"}).encode()
        event = json.loads(body)
        with self.lock:
            self.events[name].append(json.loads(body))
        try:
            answer = fn(event)
        except Exception as e:  # noqa: BLE001: a function error, as Lambda reports it
            return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(
                {"errorMessage": str(e), "errorType": type(e).__name__, "stackTrace": []}).encode()
        if isinstance(answer, bytes):
            return 200, {}, answer
        return 200, {}, json.dumps(answer).encode()
