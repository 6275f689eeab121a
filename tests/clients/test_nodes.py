"""Several stateless nodes on one PostgreSQL database (`--database`), as a load balancer
would spread requests: a sign-in begun on node 1 finishes on node 2, a device confirmed
through node 2 is read on node 3 the moment the confirm returned, a change on one node is
seen by the next request on another, a node killed with SIGKILL loses nothing
acknowledged while the others keep serving, and a rolling restart (each node in turn
stopped with SIGTERM and started again) fails no request that clients retry.

Needs USERPOOL_TEST_POSTGRES (a database URL; `.ci/run` starts a throw-away cluster and
sets it)."""

import json
import os
import secrets
import socket
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError
from pycognito import aws_srp

from conftest import PASSWORD, Server, make_user
from signing import sign

DATABASE = os.environ.get("USERPOOL_TEST_POSTGRES")
# The CA of the test cluster's TLS certificate (scripts/pg-cluster.sh).
DATABASE_CA = os.environ.get("USERPOOL_TEST_POSTGRES_CA")
pytestmark = pytest.mark.skipif(not DATABASE, reason="USERPOOL_TEST_POSTGRES is not set")


@pytest.fixture
def nodes(tmp_path):
    key = tmp_path / "shared.key"
    key.write_bytes(secrets.token_bytes(32))
    started = []
    try:
        for i in range(3):
            d = tmp_path / f"node{i}"
            d.mkdir()
            # One --public-url for all, as behind a load balancer: tokens name one issuer.
            started.append(Server(d, ["--database", DATABASE, "--data-key-file", str(key),
                                      "--public-url", "http://userpool.test"]).start())
        yield started
    finally:
        for s in started:
            s.stop()


class Split:
    """A boto3-like client sending InitiateAuth to one node and the challenge answers to
    another."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def initiate_auth(self, **kw):
        return self.first.initiate_auth(**kw)

    def respond_to_auth_challenge(self, **kw):
        return self.second.respond_to_auth_challenge(**kw)


def test_requests_hop_between_nodes(nodes):
    n1, n2, n3 = (s.client() for s in nodes)
    pool = n1.create_user_pool(PoolName="nodes", DeviceConfiguration={
        "ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False})["UserPool"]
    client = n2.create_user_pool_client(UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=[
        "ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    make_user(n3, pool["Id"], "alice")
    # SRP: InitiateAuth on node 1, PASSWORD_VERIFIER on node 2.
    srp = aws_srp.AWSSRP(username="alice", password=PASSWORD, pool_id=pool["Id"], client_id=client["ClientId"],
                         client=Split(n1, n2))
    res = srp.authenticate_user()["AuthenticationResult"]
    ndm = res["NewDeviceMetadata"]
    # Confirmed through node 2, read on node 3 at once.
    device_password, cfg = aws_srp.generate_hash_device(ndm["DeviceGroupKey"], ndm["DeviceKey"])
    n2.confirm_device(AccessToken=res["AccessToken"], DeviceKey=ndm["DeviceKey"],
                      DeviceSecretVerifierConfig=cfg, DeviceName="laptop")
    got = n3.admin_get_device(UserPoolId=pool["Id"], Username="alice", DeviceKey=ndm["DeviceKey"])["Device"]
    attrs = {a["Name"]: a["Value"] for a in got["DeviceAttributes"]}
    assert attrs["device_name"] == "laptop" and attrs["dev:device_remembered_status"] == "remembered"
    # The remembered device's sign-in hops too: node 3 starts, node 1 answers every step.
    device = {"device_key": ndm["DeviceKey"], "device_group_key": ndm["DeviceGroupKey"],
              "device_password": device_password}
    again = aws_srp.AWSSRP(username="alice", password=PASSWORD, pool_id=pool["Id"], client_id=client["ClientId"],
                           client=Split(n3, n1), **device).authenticate_user()["AuthenticationResult"]
    # The token one node signed is accepted by another (the keys are shared).
    assert n2.get_user(AccessToken=again["AccessToken"])["Username"] == "alice"
    # A change on one node is seen by the next request on another.
    n1.update_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"], ClientName="renamed",
                               ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    with pytest.raises(n3.exceptions.InvalidParameterException):
        n3.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_SRP_AUTH",
                         AuthParameters={"USERNAME": "alice", "SRP_A": "0a" * 64})
    n2.update_user_pool(UserPoolId=pool["Id"], MfaConfiguration="OFF",
                        DeviceConfiguration={"ChallengeRequiredOnNewDevice": False})
    assert n3.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["DeviceConfiguration"] == {
        "ChallengeRequiredOnNewDevice": False}
    # Attempt limits hold across nodes: five failures anywhere lock everywhere.
    for n in (n1, n2, n3, n1, n2):
        with pytest.raises(n.exceptions.NotAuthorizedException):
            n.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                            AuthParameters={"USERNAME": "alice", "PASSWORD": "wrong-Passw0rd!"})
    with pytest.raises(n3.exceptions.NotAuthorizedException) as e:
        n3.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                         AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})
    assert e.value.response["Error"]["Message"] == "Password attempts exceeded"


def test_a_killed_node_loses_nothing_acknowledged(nodes):
    n1, n2, n3 = nodes
    a, b = n1.client(), n2.client()
    pool = a.create_user_pool(PoolName="kill")["UserPool"]
    made, errors, stop = [], [], threading.Event()

    def create_on_node_1():
        i = 0
        while not stop.is_set():
            try:
                a.admin_create_user(UserPoolId=pool["Id"], Username=f"u{i}", MessageAction="SUPPRESS")
                made.append(f"u{i}")
            except Exception:  # the node is being killed: unacknowledged, so not counted
                return
            i += 1

    t = threading.Thread(target=create_on_node_1)
    t.start()
    while len(made) < 20 and t.is_alive():
        threading.Event().wait(0.01)
    n1.kill()
    stop.set()
    t.join(30)
    # Every create node 1 acknowledged is there, read through the other nodes.
    for name in made:
        assert b.admin_get_user(UserPoolId=pool["Id"], Username=name)["Username"] == name
    assert n3.client().describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Id"] == pool["Id"]


def test_concurrent_writes_through_different_nodes(nodes):
    """The same username created through three nodes at once: exactly one wins. Parallel
    attribute writes to one user through different nodes: every acknowledged one stands."""
    from concurrent.futures import ThreadPoolExecutor
    clients = [s.client() for s in nodes]
    schema = [{"Name": f"a{i}", "AttributeDataType": "String"} for i in range(9)]
    pool = clients[0].create_user_pool(PoolName="race", Schema=schema)["UserPool"]
    for round_ in range(5):
        name = f"dup{round_}"
        barrier = threading.Barrier(3)

        def create(c):
            barrier.wait()
            try:
                c.admin_create_user(UserPoolId=pool["Id"], Username=name, MessageAction="SUPPRESS")
                return "ok"
            except c.exceptions.UsernameExistsException:
                return "exists"

        with ThreadPoolExecutor(3) as ex:
            outcomes = list(ex.map(create, clients))
        assert sorted(outcomes) == ["exists", "exists", "ok"], outcomes
    barrier = threading.Barrier(9)

    def write(i):
        c = clients[i % 3]
        barrier.wait()
        c.admin_update_user_attributes(UserPoolId=pool["Id"], Username="dup0",
                                       UserAttributes=[{"Name": f"custom:a{i}", "Value": str(i)}])

    with ThreadPoolExecutor(9) as ex:
        list(ex.map(write, range(9)))
    attrs = {a["Name"]: a["Value"] for a in
             clients[2].admin_get_user(UserPoolId=pool["Id"], Username="dup0")["UserAttributes"]}
    assert all(attrs.get(f"custom:a{i}") == str(i) for i in range(9)), attrs


def test_health_and_readiness(nodes):
    import requests
    for s in nodes:
        assert requests.get(f"{s.endpoint}/health", timeout=5).json() == {"status": "ok"}
        assert requests.get(f"{s.endpoint}/ready", timeout=5).json() == {"status": "ready"}


def test_an_mfa_sign_in_hops_nodes(nodes):
    """TOTP set up through node 1; the password on node 2; the code answered on node 3. The
    code is then spent on every node (a TOTP step is accepted once, in the database)."""
    import pyotp
    n1, n2, n3 = (s.client() for s in nodes)
    pool = n1.create_user_pool(PoolName="mfa-nodes")["UserPool"]
    n1.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="OPTIONAL",
                                SoftwareTokenMfaConfiguration={"Enabled": True})
    client = n1.create_user_pool_client(UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=[
        "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    make_user(n1, pool["Id"], "alice")
    auth = {"USERNAME": "alice", "PASSWORD": PASSWORD}
    access = n1.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters=auth)["AuthenticationResult"]["AccessToken"]
    secret = n2.associate_software_token(AccessToken=access)["SecretCode"]
    totp = pyotp.TOTP(secret)
    assert n3.verify_software_token(AccessToken=access, UserCode=totp.now())["Status"] == "SUCCESS"
    n1.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    challenge = n2.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=auth)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    code = totp.at(time.time() + 30)
    done = n3.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="SOFTWARE_TOKEN_MFA",
                                        Session=challenge["Session"],
                                        ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code})
    assert done["AuthenticationResult"]["AccessToken"]
    again = n1.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters=auth)
    with pytest.raises(n1.exceptions.ExpiredCodeException):
        n1.respond_to_auth_challenge(ClientId=client["ClientId"], ChallengeName="SOFTWARE_TOKEN_MFA",
                                     Session=again["Session"],
                                     ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code})


def psql(sql):
    return subprocess.run(["psql", DATABASE, "-Atc", sql], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


@pytest.mark.skipif(not DATABASE_CA, reason="USERPOOL_TEST_POSTGRES_CA is not set")
def test_tls_to_postgres_and_pool_size(tmp_path):
    """`sslmode=require` connects over TLS, the server's certificate checked against
    --database-ca-file; --database-pool-size caps the node's connections; a certificate
    from another CA is refused at start, with the reason."""
    key = tmp_path / "shared.key"
    key.write_bytes(secrets.token_bytes(32))
    url = DATABASE + ("&" if "?" in DATABASE else "?") + "sslmode=require&application_name=userpool-tls"
    node = Server(tmp_path, ["--database", url, "--data-key-file", str(key),
                             "--database-ca-file", DATABASE_CA, "--database-pool-size", "2"]).start()
    try:
        idp = node.client()
        pool = idp.create_user_pool(PoolName="tls")["UserPool"]
        errors = []

        def reads():
            try:
                for _ in range(20):
                    idp.describe_user_pool(UserPoolId=pool["Id"])
            except Exception as e:  # noqa: BLE001: reported below
                errors.append(e)
        threads = [threading.Thread(target=reads) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        row = psql("SELECT count(*), bool_and(s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                   "WHERE a.application_name = 'userpool-tls'")
        count, all_tls = row.split("|")
        assert 1 <= int(count) <= 2 and all_tls == "t", row
        idp.delete_user_pool(UserPoolId=pool["Id"])
    finally:
        node.stop()
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
                    "-keyout", str(tmp_path / "other-ca.key"), "-out", str(other)], check=True, capture_output=True)
    d = tmp_path / "refused"
    d.mkdir()
    with pytest.raises(RuntimeError) as e:
        Server(d, ["--database", url, "--data-key-file", str(key), "--database-ca-file", str(other)]).start()
    assert "certificate" in str(e.value).lower(), str(e.value)


def _raw_head(server, operation, body):
    """A signed Cognito request as raw HTTP/1.1: its head (asking `Expect: 100-continue`)."""
    headers = sign(server.endpoint, operation, body)
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"POST / HTTP/1.1\r\n{lines}Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode()


def _read_head(f):
    """The status and headers of the next response on a socket's file."""
    status = f.readline()
    headers = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status.split()[1]), headers


def _terminate_gracefully(s, pool_id, name):
    """SIGTERMs node `s` with a request in flight (AdminCreateUser of `name`, its head read:
    the server asked for its body with `100 Continue`) and an idle keep-alive connection.
    New connections are refused at once while the process keeps running; the idle
    connection is closed; the request in flight is answered, then its connection closed;
    the process exits 0 within seconds. Returns `name`."""
    idle = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    idle_f = idle.makefile("rb")
    idle.sendall(f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n\r\n".encode())
    status, headers = _read_head(idle_f)
    assert status == 200 and headers.get("connection") != "close"
    idle_f.read(int(headers["content-length"]))
    body = json.dumps({"UserPoolId": pool_id, "Username": name, "MessageAction": "SUPPRESS"}).encode()
    busy = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    busy_f = busy.makefile("rb")
    busy.sendall(_raw_head(s, "AdminCreateUser", body))
    assert _read_head(busy_f)[0] == 100
    signalled = time.monotonic()
    s.terminate()
    # The listener closes at once; the process runs on, waiting for the request in flight.
    while True:
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=5).close()
        except (ConnectionRefusedError, ConnectionResetError):
            # Refused, or (accepted in the kernel's backlog as the listener closed) reset:
            # either way not served.
            break
        assert time.monotonic() - signalled < 5, "new connections still accepted after SIGTERM"
        time.sleep(0.01)
    assert idle_f.read() == b""
    assert s.proc.poll() is None, "exited with a request in flight"
    # The rest of the request: answered, with `Connection: close`, and the connection closed.
    busy.sendall(body)
    status, headers = _read_head(busy_f)
    answer = json.loads(busy_f.read(int(headers["content-length"])))
    assert status == 200, answer
    assert answer["User"]["Username"] == name
    assert headers.get("connection") == "close"
    assert busy_f.read() == b""
    for f, sock in ((idle_f, idle), (busy_f, busy)):
        f.close()
        sock.close()
    assert s.proc.wait(10) == 0, "".join(s.log[-20:])
    took = time.monotonic() - signalled
    assert took < 5, f"{s.endpoint} took {took:.1f} s to exit"
    return name


def test_rolling_restart_loses_no_retried_request(nodes):
    """Every node restarted in turn, twice over (SIGTERM, exit, a new process on the same
    port and flags, `/ready`), while clients keep writing: three threads pinned to one node each
    (botocore's standard retry mode retries against the same endpoint until it is back)
    and three behind a load balancer (round-robin; a request whose connection is refused
    or dropped goes to the next node). No request fails after its retries, and every
    acknowledged write is there, read through each node. At each SIGTERM: a request in
    flight is answered, then its connection closes; an idle keep-alive connection is
    closed; new connections are refused; the process exits 0 within seconds."""
    connection_errors = (BotoConnectionError, HTTPClientError)  # what botocore retries
    writers = 6
    schema = [{"Name": f"w{i}", "AttributeDataType": "String"} for i in range(writers)]
    admin = nodes[0].client()
    pool_id = admin.create_user_pool(PoolName="rolling", Schema=schema)["UserPool"]["Id"]
    admin.admin_create_user(UserPoolId=pool_id, Username="shared", MessageAction="SUPPRESS")

    class Pinned:
        """One node, retried by botocore (standard mode) while it is down."""

        def __init__(self, server):
            self.client = server.client(retries={"mode": "standard", "max_attempts": 10})

        def call(self, op, **kw):
            return getattr(self.client, op)(**kw)["ResponseMetadata"]["RetryAttempts"]

    class Balanced:
        """A load balancer, simply: round-robin over the nodes; a request whose connection
        is refused or dropped is sent to the next node (a node answers every request it
        has begun before it closes the connection, so a dropped one was never run)."""

        def __init__(self, first):
            self.clients = [s.client(retries={"mode": "standard", "max_attempts": 1}) for s in nodes]
            self.next = first

        def call(self, op, **kw):
            for attempt in range(300):
                c = self.clients[self.next % len(self.clients)]
                self.next += 1
                try:
                    getattr(c, op)(**kw)
                    return attempt
                except connection_errors:
                    if attempt % len(self.clients) == len(self.clients) - 1:
                        time.sleep(0.1)  # every node refused: wait a little
            raise AssertionError(f"{op}: no node answered")

    created = [[] for _ in range(writers)]  # per writer, the usernames acknowledged
    last = [None] * writers  # per writer, the last acknowledged value of custom:w<i>
    retried = [0] * writers
    failures = []
    stop = threading.Event()

    def write(i, via):
        n = 0
        try:
            while not stop.is_set():
                name = f"w{i}-{n}"
                retried[i] += via.call("admin_create_user", UserPoolId=pool_id, Username=name,
                                       MessageAction="SUPPRESS")
                created[i].append(name)
                retried[i] += via.call("admin_update_user_attributes", UserPoolId=pool_id, Username="shared",
                                       UserAttributes=[{"Name": f"custom:w{i}", "Value": str(n)}])
                last[i] = str(n)
                n += 1
        except Exception as e:  # noqa: BLE001 - every failure is the test's failure
            failures.append((i, repr(e)))

    vias = [Pinned(nodes[i]) for i in range(3)] + [Balanced(i) for i in range(3)]
    threads = [threading.Thread(target=write, args=(i, v), daemon=True) for i, v in enumerate(vias)]
    for t in threads:
        t.start()

    def acknowledged():
        return sum(len(c) for c in created)

    def wait_for_progress(more):
        goal = acknowledged() + more
        deadline = time.monotonic() + 60
        while acknowledged() < goal and not failures:
            assert time.monotonic() < deadline, "the writers made no progress"
            time.sleep(0.02)

    in_flight_users = []
    try:
        wait_for_progress(30)
        for round_ in range(2):
            for k, s in enumerate(nodes):
                in_flight_users.append(_terminate_gracefully(s, pool_id, f"in-flight-{round_}-{k}"))
                # The same port and flags: pinned clients reconnect to it.
                s.start().wait_ready()
                wait_for_progress(30)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert not any(t.is_alive() for t in threads), "a writer is stuck"
    assert failures == [], failures
    # The restarts were felt: some requests were retried (on the same node or the next).
    assert sum(retried) > 0
    # Every acknowledged user and attribute write is there, read through each node.
    expected = {"shared", *in_flight_users, *(n for c in created for n in c)}
    for s in nodes:
        c = s.client()
        listed = [u["Username"] for page in c.get_paginator("list_users").paginate(UserPoolId=pool_id)
                  for u in page["Users"]]
        assert len(listed) == len(set(listed))
        assert set(listed) == expected
        attrs = {a["Name"]: a["Value"] for a in
                 c.admin_get_user(UserPoolId=pool_id, Username="shared")["UserAttributes"]}
        assert [attrs.get(f"custom:w{i}") for i in range(writers)] == last
