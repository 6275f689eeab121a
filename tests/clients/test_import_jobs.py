"""User import from a CSV file through boto3: GetCSVHeader, CreateUserImportJob, the upload
to the job's PreSignedUrl as the developer guide does it (`curl -T file -H
"x-amz-server-side-encryption:aws:kms" <url>`, and `requests`), StartUserImportJob,
DescribeUserImportJob until the job ends, StopUserImportJob, ListUserImportJobs."""

import csv
import hashlib
import hmac
import http.client
import io
import os
import re
import select
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import Server

ROLE = "arn:aws:iam::123456789012:role/CognitoImportRole"
STANDARD = [
    "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
    "profile", "picture", "website", "email", "email_verified", "gender", "birthdate",
    "zoneinfo", "locale", "phone_number", "phone_number_verified", "address", "updated_at",
    "cognito:mfa_enabled", "cognito:username",
]
FINAL = {"Succeeded", "Failed", "Stopped", "Expired"}


@pytest.fixture
def import_pool(idp):
    """A pool whose users verify their email, with one custom attribute."""
    p = idp.create_user_pool(
        PoolName=f"import-{uuid.uuid4().hex[:8]}",
        AutoVerifiedAttributes=["email"],
        Schema=[{"Name": "team", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]
    yield p["Id"]
    try:
        idp.delete_user_pool(UserPoolId=p["Id"])
    except idp.exceptions.ResourceNotFoundException:
        pass


def header_of(idp, pool_id):
    return idp.get_csv_header(UserPoolId=pool_id)["CSVHeader"]


def csv_file(header, users):
    """The file the guide describes: the header, then one line per user (values unquoted,
    a comma inside a value escaped with a backslash)."""
    lines = [",".join(header)]
    for u in users:
        lines.append(",".join(str(u.get(h, "")).replace(",", "\\,") for h in header))
    return ("\n".join(lines) + "\n").encode()


def person(i, **extra):
    return {"cognito:username": f"user{i}", "email": f"user{i}@example.com", "email_verified": "TRUE",
            "cognito:mfa_enabled": "FALSE", "given_name": f"Given{i}", **extra}


def create_job(idp, pool_id, name="import-test"):
    return idp.create_user_import_job(UserPoolId=pool_id, JobName=name, CloudWatchLogsRoleArn=ROLE)["UserImportJob"]


def put(url, data, sse=True):
    headers = {"x-amz-server-side-encryption": "aws:kms"} if sse else {}
    return requests.put(url, data=data, headers=headers, timeout=60)


def wait_done(idp, pool_id, job_id, timeout=180):
    deadline = time.time() + timeout
    while True:
        job = idp.describe_user_import_job(UserPoolId=pool_id, JobId=job_id)["UserImportJob"]
        if job["Status"] in FINAL:
            return job
        assert time.time() < deadline, job
        time.sleep(0.1)


def run_import(idp, pool_id, data):
    job = create_job(idp, pool_id)
    r = put(job["PreSignedUrl"], data)
    assert r.status_code == 200, r.text
    idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    return wait_done(idp, pool_id, job["JobId"])


def attrs(user):
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}


def test_csv_header_lists_the_standard_columns_then_the_custom_ones(idp, import_pool):
    got = idp.get_csv_header(UserPoolId=import_pool)
    assert got["UserPoolId"] == import_pool
    assert got["CSVHeader"] == STANDARD + ["custom:team"]
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.get_csv_header(UserPoolId="us-east-1_nothere0")


def test_create_answers_a_created_job_with_its_upload_url(server, idp, import_pool):
    before = datetime.now(timezone.utc)
    job = create_job(idp, import_pool, name="first import")
    assert re.fullmatch(r"import-[0-9a-zA-Z]{10}", job["JobId"]), job["JobId"]
    assert job["JobName"] == "first import" and job["UserPoolId"] == import_pool
    assert job["Status"] == "Created" and job["CloudWatchLogsRoleArn"] == ROLE
    assert (job["ImportedUsers"], job["SkippedUsers"], job["FailedUsers"]) == (0, 0, 0)
    assert before - timedelta(seconds=2) <= job["CreationDate"] <= datetime.now(timezone.utc) + timedelta(seconds=2)
    assert "StartDate" not in job and "CompletionDate" not in job
    url = urlsplit(job["PreSignedUrl"])
    assert job["PreSignedUrl"].startswith(f"{server.endpoint}/_userpool/import/{import_pool}/{job['JobId']}?")
    q = parse_qs(url.query)
    assert q["X-Amz-Expires"] == ["900"] and q["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert q["X-Amz-SignedHeaders"] == ["host;x-amz-server-side-encryption"]
    described = idp.describe_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])["UserImportJob"]
    assert described == job
    # The role must be an IAM role's ARN; the model's pattern is checked first.
    with pytest.raises(idp.exceptions.InvalidParameterException, match="IAM role"):
        idp.create_user_import_job(UserPoolId=import_pool, JobName="j",
                                   CloudWatchLogsRoleArn="arn:aws:iam::123456789012:user/bob")
    with pytest.raises(idp.exceptions.InvalidParameterException, match="cloudWatchLogsRoleArn"):
        idp.create_user_import_job(UserPoolId=import_pool, JobName="j", CloudWatchLogsRoleArn="not-an-arn-at-all-really")
    with pytest.raises(idp.exceptions.InvalidParameterException, match="jobName"):
        idp.create_user_import_job(UserPoolId=import_pool, JobName="no/slash", CloudWatchLogsRoleArn=ROLE)
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        create_job(idp, "us-east-1_nothere0")
    with pytest.raises(idp.exceptions.ResourceNotFoundException, match="does not exist"):
        idp.describe_user_import_job(UserPoolId=import_pool, JobId="import-0000000000")


def test_the_guides_curl_upload_then_an_import_of_users_reset_required(idp, import_pool):
    header = header_of(idp, import_pool)
    users = [
        person(1, birthdate="02/01/1985", **{"custom:team": "red, blue"}, family_name="Doe"),
        person(2, phone_number="+12345550100", phone_number_verified="TRUE", address="100 Main Street"),
        person(3, updated_at="1471453471", email_verified="true"),
    ]
    job = create_job(idp, import_pool)
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        f.write(csv_file(header, users))
        f.flush()
        p = subprocess.run(["curl", "-v", "-T", f.name, "-H", "x-amz-server-side-encryption:aws:kms",
                            job["PreSignedUrl"]], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "We are completely uploaded and fine" in p.stderr
    assert "< HTTP/1.1 200" in p.stderr
    started = idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])["UserImportJob"]
    assert started["Status"] in ("Pending", "InProgress", "Succeeded")
    assert "StartDate" in started
    done = wait_done(idp, import_pool, job["JobId"])
    assert done["Status"] == "Succeeded", done
    assert done["CompletionMessage"] == "Import Job Completed Successfully."
    assert (done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (3, 0, 0)
    assert done["StartDate"] <= done["CompletionDate"]

    one = idp.admin_get_user(UserPoolId=import_pool, Username="user1")
    assert one["UserStatus"] == "RESET_REQUIRED" and one["Enabled"] is True
    a = attrs(one)
    assert a["email"] == "user1@example.com" and a["email_verified"] == "true"
    assert a["given_name"] == "Given1" and a["family_name"] == "Doe"
    assert a["birthdate"] == "1985-02-01"
    assert a["custom:team"] == "red, blue"
    assert "sub" in a and "name" not in a
    two = attrs(idp.admin_get_user(UserPoolId=import_pool, Username="user2"))
    assert (two["phone_number"], two["phone_number_verified"], two["address"]) == (
        "+12345550100", "true", "100 Main Street")
    assert attrs(idp.admin_get_user(UserPoolId=import_pool, Username="user3"))["updated_at"] == "1471453471"
    listed = idp.list_users(UserPoolId=import_pool, Filter='cognito:user_status = "RESET_REQUIRED"')["Users"]
    assert sorted(u["Username"] for u in listed) == ["user1", "user2", "user3"]
    # An imported user resets their password before signing in, as Cognito's do.
    client = idp.create_user_pool_client(UserPoolId=import_pool, ClientName="c",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    with pytest.raises(idp.exceptions.PasswordResetRequiredException):
        idp.initiate_auth(ClientId=client["UserPoolClient"]["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "user1", "PASSWORD": "Whatever1!"})
    # The job cannot run again, nor take another file.
    with pytest.raises(idp.exceptions.PreconditionNotMetException, match="Succeeded"):
        idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])
    assert put(job["PreSignedUrl"], b"x").status_code == 403


def test_bad_rows_are_counted_and_logged_and_the_job_still_succeeds(server, idp, import_pool):
    idp.admin_create_user(UserPoolId=import_pool, Username="taken", MessageAction="SUPPRESS")
    header = header_of(idp, import_pool)
    users = [person(i) for i in range(10)]
    users += [
        person(10, email_verified="FALSE"),           # line 12: no auto-verified attribute true
        person(11, email="not-an-email"),             # line 13: the schema's email form
        person(12, **{"cognito:mfa_enabled": ""}),     # line 14: mfa_enabled is required
        {**person(13), "cognito:username": "taken"},  # line 15: exists: skipped
        person(0),                                    # line 16: imported above: skipped
    ]
    data = csv_file(header, users) + b"only,three,values\n"   # line 17: wrong number of values
    done = run_import(idp, import_pool, data)
    assert done["Status"] == "Succeeded", done
    assert (done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (10, 2, 4)
    log = "".join(server.log)
    jid = done["JobId"]
    def logged(line):
        return re.search(re.escape(line) + rf".* job={jid}", log)
    assert logged("[FAILED] Line Number 12 - The User Record does not set any of the auto verified attributes "
                  "to true. (Example: email_verified to true)."), log[-3000:]
    assert logged("[FAILED] Line Number 13 - Invalid email address format.")
    assert logged("[FAILED] Line Number 14 - The cognito:mfa_enabled value must be true or false.")
    assert logged("[SKIPPED] Line Number 15 - The user already exists.")
    assert logged("[SKIPPED] Line Number 16 - The user already exists.")
    assert logged("[FAILED] Line Number 17 - The row has 3 values but the header has 22 columns.")
    assert idp.admin_get_user(UserPoolId=import_pool, Username="taken")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=import_pool, Username="user10")


def test_quoted_values_from_pythons_csv_writer_are_read(idp, import_pool):
    header = header_of(idp, import_pool)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\r\n")
    w.writeheader()
    w.writerow({h: "" for h in header} | person(1, address='1 "Main" St, Apt 2'))
    done = run_import(idp, import_pool, buf.getvalue().encode())
    assert (done["Status"], done["ImportedUsers"]) == ("Succeeded", 1), done
    assert attrs(idp.admin_get_user(UserPoolId=import_pool, Username="user1"))["address"] == '1 "Main" St, Apt 2'


def test_with_email_as_the_username_an_address_already_there_is_the_same_user(idp):
    pool_id = idp.create_user_pool(PoolName=f"emails-{uuid.uuid4().hex[:6]}", UsernameAttributes=["email"],
                                   AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    try:
        header = header_of(idp, pool_id)
        users = [{**person(i), "cognito:username": f"user{i}@example.com"} for i in range(3)]
        users.append({**person(9), "cognito:username": "not-an-email"})
        done = run_import(idp, pool_id, csv_file(header, users))
        assert (done["Status"], done["ImportedUsers"], done["FailedUsers"]) == ("Succeeded", 3, 1), done
        got = idp.admin_get_user(UserPoolId=pool_id, Username="user1@example.com")
        assert re.fullmatch(r"[0-9a-f-]{36}", got["Username"]) and got["UserStatus"] == "RESET_REQUIRED"
        again = run_import(idp, pool_id, csv_file(header, users[:2] + [{**person(5), "cognito:username": "user5@example.com"}]))
        assert (again["ImportedUsers"], again["SkippedUsers"], again["FailedUsers"]) == (1, 2, 0), again
        assert again["Status"] == "Failed" and again["CompletionMessage"].startswith("Too many users")
    finally:
        idp.delete_user_pool(UserPoolId=pool_id)


def test_too_many_failures_fail_the_job(idp, import_pool):
    header = header_of(idp, import_pool)
    users = [person(1)] + [person(i, email_verified="false") for i in range(2, 5)]
    done = run_import(idp, import_pool, csv_file(header, users))
    assert done["Status"] == "Failed"
    assert done["CompletionMessage"] == "Too many users have failed or been skipped during the import."
    assert (done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (1, 0, 3)


def test_a_file_whose_header_is_not_the_pools_fails_the_job(idp, import_pool):
    done = run_import(idp, import_pool, b"cognito:username,email,email_verified,cognito:mfa_enabled\nbob,b@x.com,true,false\n")
    assert done["Status"] == "Failed"
    assert done["CompletionMessage"].startswith("The CSV header is missing the column"), done
    assert done["ImportedUsers"] == 0
    header = header_of(idp, import_pool) + ["custom:nope"]
    done = run_import(idp, import_pool, csv_file(header, [person(1)]))
    assert done["CompletionMessage"] == "The CSV header column custom:nope is not an attribute of the user pool."


def test_a_record_far_over_the_row_limit_fails_the_file_as_it_is_read(idp, import_pool):
    """A row a little over 16,000 characters fails (the job goes on); one whose raw record
    passes 4 bytes a character (a 20 MB quoted value) fails the file before it is held."""
    header = header_of(idp, import_pool)
    done = run_import(idp, import_pool, csv_file(header, [person(1), person(2), person(3, name="n" * 17_000)]))
    assert (done["Status"], done["ImportedUsers"], done["FailedUsers"]) == ("Succeeded", 2, 1), done
    rows = csv_file(header, [person(1), person(2)]).decode().splitlines()
    huge = '"' + "x" * 20_000_000 + '"'
    data = "\n".join(rows + [huge + "," * (len(header) - 1)]) + "\n"
    done = run_import(idp, import_pool, data.encode())
    assert done["Status"] == "Failed", done
    assert done["CompletionMessage"] == "The row at line 4 of the CSV file is longer than 16000 characters.", done
    assert done["ImportedUsers"] == 0


def test_starting_before_the_upload_fails_the_job(idp, import_pool):
    job = create_job(idp, import_pool)
    started = idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])["UserImportJob"]
    assert started["Status"] == "Pending"
    done = wait_done(idp, import_pool, job["JobId"])
    assert (done["Status"], done["CompletionMessage"]) == ("Failed", "The CSV file has not been uploaded.")


def test_start_needs_a_created_job_and_an_auto_verified_attribute(idp, import_pool, pool):
    job = create_job(idp, pool["Id"])
    with pytest.raises(idp.exceptions.PreconditionNotMetException, match="auto-verified"):
        idp.start_user_import_job(UserPoolId=pool["Id"], JobId=job["JobId"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.start_user_import_job(UserPoolId=import_pool, JobId="import-0000000000")
    with pytest.raises(idp.exceptions.PreconditionNotMetException, match="Created"):
        idp.stop_user_import_job(UserPoolId=import_pool, JobId=create_job(idp, import_pool)["JobId"])


def test_a_new_upload_replaces_the_last_until_the_job_starts(idp, import_pool):
    header = header_of(idp, import_pool)
    job = create_job(idp, import_pool)
    assert put(job["PreSignedUrl"], csv_file(header, [person(1)])).status_code == 200
    assert put(job["PreSignedUrl"], csv_file(header, [person(2), person(3)])).status_code == 200
    idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])
    done = wait_done(idp, import_pool, job["JobId"])
    assert (done["Status"], done["ImportedUsers"]) == ("Succeeded", 2)
    with pytest.raises(idp.exceptions.UserNotFoundException):
        idp.admin_get_user(UserPoolId=import_pool, Username="user1")


def test_the_upload_url_is_its_own_authorisation(server, idp, import_pool):
    job = create_job(idp, import_pool)
    url = job["PreSignedUrl"]
    body = csv_file(header_of(idp, import_pool), [person(1)])
    # Another signature, another job's, or the URL without its signature: refused.
    forged = re.sub(r"X-Amz-Signature=[0-9a-f]{4}", "X-Amz-Signature=0000", url)
    r = put(forged, body)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    other = create_job(idp, import_pool)
    r = put(url.replace(job["JobId"], other["JobId"]), body)
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    r = put(url.split("?")[0], body)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    # The URL signs the encryption header: a PUT without it is refused, as S3 refuses it.
    r = put(url, body, sse=False)
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text
    # Only PUT (and a browser's preflight for it).
    assert requests.get(url, timeout=10).status_code == 405
    pre = requests.options(url, headers={"Origin": "http://app.test", "Access-Control-Request-Method": "PUT"}, timeout=10)
    assert pre.status_code == 200 and "PUT" in pre.headers["access-control-allow-methods"]
    assert "x-amz-server-side-encryption" in pre.headers["access-control-allow-headers"]
    # Nothing was taken: the job has no file.
    idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])
    assert wait_done(idp, import_pool, job["JobId"])["CompletionMessage"] == "The CSV file has not been uploaded."


def test_a_file_over_100_mb_is_refused_unread(idp, import_pool):
    job = create_job(idp, import_pool)
    url = urlsplit(job["PreSignedUrl"])
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("PUT", f"{url.path}?{url.query}")
    conn.putheader("x-amz-server-side-encryption", "aws:kms")
    conn.putheader("Content-Length", str(100 * 1024 * 1024 + 1))
    conn.endheaders()
    r = conn.getresponse()
    body = r.read().decode()
    assert r.status == 400 and "<Code>EntityTooLarge</Code>" in body, body
    conn.close()


def test_one_upload_at_a_time_a_concurrent_put_is_refused(idp, import_pool):
    """While a PUT is arriving, another to the same job is refused unread (S3's 409
    OperationAborted); once the first has ended, uploads are taken again."""
    header = header_of(idp, import_pool)
    job = create_job(idp, import_pool)
    first = csv_file(header, [person(i) for i in range(3)])
    url = urlsplit(job["PreSignedUrl"])

    def begin_first():
        """The first PUT, its headers and 20 bytes sent, the rest held back."""
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        c.putrequest("PUT", f"{url.path}?{url.query}")
        c.putheader("x-amz-server-side-encryption", "aws:kms")
        c.putheader("Content-Length", str(len(first)))
        c.endheaders()
        c.send(first[:20])
        return c

    conn = begin_first()
    deadline = time.time() + 10
    while True:
        r = put(job["PreSignedUrl"], csv_file(header, [person(9)]))
        if r.status_code == 409:
            break
        # The first PUT's mark may not be written yet: this one came first and was taken.
        assert r.status_code == 200 and time.time() < deadline, r.text
        if select.select([conn.sock], [], [], 0)[0]:
            # The first PUT was answered already: this one held the mark when it asked (a
            # 409 of its own, unread). Begin it again.
            assert conn.getresponse().status == 409
            conn.close()
            conn = begin_first()
        time.sleep(0.05)
    assert "<Code>OperationAborted</Code>" in r.text, r.text
    conn.send(first[20:])
    done = conn.getresponse()
    assert done.status == 200, done.read()
    conn.close()
    # The first upload is the file; the mark is let go, so a new upload is taken.
    assert put(job["PreSignedUrl"], csv_file(header, [person(i) for i in range(4)])).status_code == 200
    idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])
    finished = wait_done(idp, import_pool, job["JobId"])
    assert (finished["Status"], finished["ImportedUsers"]) == ("Succeeded", 4), finished


@pytest.fixture
def keyed_server():
    """A server whose data key the test knows, to sign an upload URL of its own."""
    with tempfile.TemporaryDirectory() as d:
        key = os.urandom(32)
        path = os.path.join(d, "data.key")
        with open(path, "wb") as f:
            f.write(key)
        s = Server(d, ["--data-key-file", path]).start()
        yield s, key
        s.stop()


def test_an_expired_upload_url_is_refused(keyed_server):
    server, key = keyed_server
    idp = server.client()
    pool_id = idp.create_user_pool(PoolName="p", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    job = create_job(idp, pool_id)
    # The URL's own signature, made again for a date 16 minutes ago: signed, but expired.
    derive = hmac.new(key, b"userpool derivation key v1", hashlib.sha256).digest()
    then = (datetime.now(timezone.utc) - timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    label = f"userpool import upload v1\n{pool_id}\n{job['JobId']}\n{then}\n900".encode()
    sig = hmac.new(derive, label, hashlib.sha256).hexdigest()
    base = job["PreSignedUrl"].split("?")[0]
    url = (f"{base}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={then}&X-Amz-Expires=900"
           f"&X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption&X-Amz-Signature={sig}")
    r = put(url, b"cognito:username\n")
    assert r.status_code == 403, r.text
    assert "<Code>AccessDenied</Code>" in r.text and "Request has expired" in r.text
    # The same scheme with the current date is accepted: the job's own URL.
    assert put(job["PreSignedUrl"], b"cognito:username\n").status_code == 200


def test_list_pages_newest_first(server, idp, import_pool):
    ids = [create_job(idp, import_pool, name=f"job-{i}")["JobId"] for i in range(3)]
    first = idp.list_user_import_jobs(UserPoolId=import_pool, MaxResults=2)
    assert [j["JobId"] for j in first["UserImportJobs"]] == [ids[2], ids[1]]
    assert all(j["PreSignedUrl"] and j["Status"] == "Created" for j in first["UserImportJobs"])
    rest = idp.list_user_import_jobs(UserPoolId=import_pool, MaxResults=2, PaginationToken=first["PaginationToken"])
    assert [j["JobId"] for j in rest["UserImportJobs"]] == [ids[0]]
    assert "PaginationToken" not in rest
    unchecked = server.client(parameter_validation=False)
    for bad in (0, 61):
        with pytest.raises(unchecked.exceptions.InvalidParameterException, match="maxResults"):
            unchecked.list_user_import_jobs(UserPoolId=import_pool, MaxResults=bad)
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.list_user_import_jobs(UserPoolId="us-east-1_nothere0", MaxResults=10)


def test_stop_ends_a_running_import(idp, import_pool):
    header = header_of(idp, import_pool)
    job = create_job(idp, import_pool)
    assert put(job["PreSignedUrl"], csv_file(header, [person(i) for i in range(20_000)])).status_code == 200
    idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])
    deadline = time.time() + 60
    while idp.describe_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])["UserImportJob"]["ImportedUsers"] == 0:
        assert time.time() < deadline
        time.sleep(0.02)
    stopped = idp.stop_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])["UserImportJob"]
    assert stopped["Status"] in ("Stopping", "Stopped"), stopped
    done = wait_done(idp, import_pool, job["JobId"])
    assert done["Status"] == "Stopped", done
    assert done["CompletionMessage"] == "The Import Job was stopped by the developer."
    assert 0 < done["ImportedUsers"] < 20_000
    # The counts are the users there are.
    n = idp.describe_user_pool(UserPoolId=import_pool)["UserPool"]["EstimatedNumberOfUsers"]
    assert n == done["ImportedUsers"]
    with pytest.raises(idp.exceptions.PreconditionNotMetException):
        idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])
    with pytest.raises(idp.exceptions.PreconditionNotMetException):
        idp.stop_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])


def test_ten_thousand_users_while_the_api_keeps_answering(idp, import_pool):
    idp.admin_create_user(UserPoolId=import_pool, Username="bystander", MessageAction="SUPPRESS")
    header = header_of(idp, import_pool)
    job = create_job(idp, import_pool)
    assert put(job["PreSignedUrl"], csv_file(header, [person(i) for i in range(10_000)])).status_code == 200
    t0 = time.time()
    idp.start_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])
    slowest, calls = 0.0, 0
    while True:
        s = time.time()
        assert idp.admin_get_user(UserPoolId=import_pool, Username="bystander")["Username"] == "bystander"
        slowest, calls = max(slowest, time.time() - s), calls + 1
        status = idp.describe_user_import_job(UserPoolId=import_pool, JobId=job["JobId"])["UserImportJob"]
        if status["Status"] in FINAL:
            break
        assert time.time() - t0 < 180, status
    elapsed = time.time() - t0
    assert status["Status"] == "Succeeded", status
    assert status["ImportedUsers"] == 10_000
    assert calls > 5 and slowest < 1.0, (calls, slowest)
    assert idp.describe_user_pool(UserPoolId=import_pool)["UserPool"]["EstimatedNumberOfUsers"] == 10_001
    assert attrs(idp.admin_get_user(UserPoolId=import_pool, Username="user9999"))["given_name"] == "Given9999"
    print(f"10,000 users imported in {elapsed:.1f} s; AdminGetUser answered {calls} times, slowest {slowest * 1000:.0f} ms")


def test_a_job_interrupted_by_a_crash_is_finished_by_the_restarted_server(fresh_server):
    idp = fresh_server.client()
    pool_id = idp.create_user_pool(PoolName="p", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
    header = header_of(idp, pool_id)
    job = create_job(idp, pool_id)
    assert put(job["PreSignedUrl"], csv_file(header, [person(i) for i in range(10_000)])).status_code == 200
    idp.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
    deadline = time.time() + 60
    while idp.describe_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]["ImportedUsers"] < 500:
        assert time.time() < deadline
        time.sleep(0.02)
    fresh_server.kill()
    fresh_server.start()
    idp = fresh_server.client()
    middle = idp.describe_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]
    assert middle["Status"] in ("InProgress", "Succeeded"), middle
    done = wait_done(idp, pool_id, job["JobId"])
    assert done["Status"] == "Succeeded", done
    # Every row once: each batch was committed with the job's counts.
    assert (done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (10_000, 0, 0)
    assert idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"] == 10_000
    if not os.environ.get("USERPOOL_DATABASE"):
        # On SQLite this server is the store's only user: it takes the job over as it starts.
        # On PostgreSQL every server of the suite shares the database, and whichever node
        # sweeps first once the lease lapses takes it over (so it may be another server's
        # log); test_another_node_takes_over_a_job_whose_node_died checks that path.
        assert any("taking over a user import job" in line for line in fresh_server.log)


@pytest.mark.skipif(not os.environ.get("USERPOOL_TEST_POSTGRES"), reason="USERPOOL_TEST_POSTGRES is not set")
def test_another_node_takes_over_a_job_whose_node_died(tmp_path):
    """Two nodes on one PostgreSQL database: the node running an import is killed; the
    other takes the job over once its lease expires and finishes it, every row once."""
    # The suite's own key when the whole suite runs on PostgreSQL: its servers share this
    # database, sweep it too, and may take the job over; nodes of one database share a key.
    key = os.environ.get("USERPOOL_DATA_KEY_FILE")
    if not key:
        key = tmp_path / "shared.key"
        key.write_bytes(os.urandom(32))
    nodes = []
    try:
        for i in range(2):
            d = tmp_path / f"node{i}"
            d.mkdir()
            nodes.append(Server(d, ["--database", os.environ["USERPOOL_TEST_POSTGRES"], "--data-key-file", str(key),
                                    "--import-lease-seconds", "2"]).start())
        first, second = (n.client() for n in nodes)
        pool_id = first.create_user_pool(PoolName=f"nodes-{uuid.uuid4().hex[:6]}",
                                         AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
        job = create_job(first, pool_id)
        data = csv_file(header_of(first, pool_id), [person(i) for i in range(3000)])
        assert put(job["PreSignedUrl"], data).status_code == 200
        first.start_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])
        deadline = time.time() + 60
        while second.describe_user_import_job(UserPoolId=pool_id, JobId=job["JobId"])["UserImportJob"]["ImportedUsers"] < 200:
            assert time.time() < deadline
            time.sleep(0.01)
        nodes[0].kill()
        done = wait_done(second, pool_id, job["JobId"])
        assert done["Status"] == "Succeeded", done
        assert (done["ImportedUsers"], done["SkippedUsers"], done["FailedUsers"]) == (3000, 0, 0)
        assert any("taking over a user import job" in line for line in nodes[1].log)
    finally:
        for n in nodes:
            n.stop()


def test_a_node_never_takes_over_its_own_job_while_reading_a_big_file(tmp_path):
    """A lease shorter than the reading of the file (before the import starts): the node
    renews its lease meanwhile and never takes its own running job over; every row once."""
    node = Server(tmp_path, ["--import-lease-seconds", "1"]).start()
    try:
        idp = node.client()
        pool_id = idp.create_user_pool(PoolName="big", AutoVerifiedAttributes=["email"])["UserPool"]["Id"]
        long = {k: k[0] * 1900 for k in ("name", "family_name", "middle_name", "nickname", "address", "profile")}
        data = csv_file(header_of(idp, pool_id), [person(i, **long) for i in range(2500)])
        assert len(data) > 25_000_000
        job = run_import(idp, pool_id, data)
        assert job["Status"] == "Succeeded", job
        assert (job["ImportedUsers"], job["SkippedUsers"], job["FailedUsers"]) == (2500, 0, 0)
        assert not [line for line in node.log if "taking over a user import job" in line]
    finally:
        node.stop()
