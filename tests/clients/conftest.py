"""Fixtures for the end-to-end suite: the real userpool binary on a free loopback port,
driven by the real clients (boto3, the AWS CLI)."""

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("USERPOOL_BIN", str(ROOT / "target" / "debug" / "userpool"))
REGION = "us-east-1"
ACCESS_KEY = "test"
SECRET_KEY = "test"
ENDPOINT_RE = re.compile(r"endpoint=(http://[0-9.]+:\d+)")


class Server:
    """One userpool process; `restart()` keeps its data file (and port), `kill()` is SIGKILL,
    `terminate()` is SIGTERM."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = Path(data_dir)
        self.data = self.data_dir / "userpool.db"
        self.extra_args = list(extra_args)
        self.proc = None
        self.endpoint = None
        self.port = 0
        self.log = []

    def start(self):
        # Port 0 the first time; the same port on restart so clients keep working.
        args = [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data", str(self.data)]
        self.proc = subprocess.Popen(
            args + self.extra_args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "USERPOOL_LOG": "info"},
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"userpool exited: {''.join(self.log)}")
                continue
            self.log.append(line)
            m = ENDPOINT_RE.search(line)
            if m:
                self.endpoint = m.group(1)
                self.port = int(self.endpoint.rsplit(":", 1)[1])
                threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
                return self
        raise RuntimeError("userpool did not report its endpoint in 30 s")

    def _drain(self, proc):
        for line in proc.stderr:
            self.log.append(line)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def terminate(self):
        """SIGTERM: the server refuses new connections, finishes the requests in flight and
        exits; `proc.wait()` for it."""
        self.proc.send_signal(signal.SIGTERM)

    def wait_ready(self, timeout=30):
        """Waits until `GET /ready` answers 200 (the store reachable)."""
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/ready", timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"userpool not ready in {timeout} s")
            time.sleep(0.05)

    def restart(self):
        self.stop()
        return self.start()

    def client(self, **config):
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(**{"retries": {"max_attempts": 1}, **config}),
        )

    def aws(self, *args, check=True):
        """Runs the AWS CLI against this server; returns parsed JSON (or raises CliError)."""
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
        venv_aws = ROOT / ".venv" / "bin" / "aws"
        cmd = [str(venv_aws) if venv_aws.exists() else "aws", "cognito-idp", *args,
               "--endpoint-url", self.endpoint, "--output", "json"]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        if p.returncode != 0:
            if check:
                raise CliError(p.returncode, p.stderr)
            return p
        return json.loads(p.stdout) if p.stdout.strip() else {}


class CliError(Exception):
    def __init__(self, code, stderr):
        super().__init__(stderr)
        self.code = code
        self.stderr = stderr


@pytest.fixture(scope="session")
def lambdas():
    """The Lambda Invoke API the shared server calls triggers at (lambda_server.py)."""
    from lambda_server import LambdaServer
    ls = LambdaServer()
    yield ls
    ls.stop()


def lambda_args(ls):
    return ["--lambda-endpoint", ls.endpoint, "--lambda-access-key-id", ls.access_key,
            "--lambda-secret-access-key", ls.secret_key]


@pytest.fixture(scope="session")
def server(lambdas):
    with tempfile.TemporaryDirectory() as d:
        s = Server(d, lambda_args(lambdas)).start()
        yield s
        s.stop()


@pytest.fixture
def fresh_server():
    """A server of its own, for tests that restart or kill it."""
    with tempfile.TemporaryDirectory() as d:
        s = Server(d).start()
        yield s
        s.stop()


@pytest.fixture(scope="session")
def idp(server):
    return server.client()


@pytest.fixture
def pool(idp):
    name = f"pool-{uuid.uuid4().hex[:8]}"
    p = idp.create_user_pool(PoolName=name)["UserPool"]
    yield p
    try:
        idp.delete_user_pool(UserPoolId=p["Id"])
    except idp.exceptions.ResourceNotFoundException:
        pass


def read_codes(server, pool_id, username):
    """The live codes of a user, through the documented `userpool codes` command."""
    p = subprocess.run([BIN, "codes", "--data", str(server.data), pool_id, username],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def code_for(server, pool_id, username, purpose):
    for c in read_codes(server, pool_id, username):
        if c["purpose"] == purpose:
            return c["code"]
    raise AssertionError(f"no {purpose} code for {username}")


PASSWORD = "Passw0rd!Example"


@pytest.fixture
def app(idp):
    """A pool with device tracking off and a client allowing every flow userpool has."""
    p = idp.create_user_pool(PoolName=f"app-{uuid.uuid4().hex[:6]}", AutoVerifiedAttributes=["email"],
                             Schema=[{"Name": "tenant", "AttributeDataType": "String"}])["UserPool"]
    c = idp.create_user_pool_client(
        UserPoolId=p["Id"], ClientName="app",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                           "ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    yield p, c
    idp.delete_user_pool(UserPoolId=p["Id"])


def make_user(idp, pool_id, username="alice", password=PASSWORD, email="alice@example.com", **extra):
    attrs = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    attrs += [{"Name": k, "Value": v} for k, v in extra.items()]
    idp.admin_create_user(UserPoolId=pool_id, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
