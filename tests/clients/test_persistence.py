"""State survives a clean restart and a kill -9: nothing acknowledged is lost."""

import pytest


def test_restart_keeps_everything(fresh_server):
    idp = fresh_server.client()
    p = idp.create_user_pool(PoolName="durable", DeviceConfiguration={
        "ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True})["UserPool"]
    c = idp.create_user_pool_client(UserPoolId=p["Id"], ClientName="c", GenerateSecret=True)["UserPoolClient"]
    fresh_server.restart()
    idp = fresh_server.client()
    assert idp.describe_user_pool(UserPoolId=p["Id"])["UserPool"] == p
    assert idp.describe_user_pool_client(UserPoolId=p["Id"], ClientId=c["ClientId"])["UserPoolClient"] == c


def test_kill_9_loses_nothing_acknowledged(fresh_server):
    idp = fresh_server.client()
    acknowledged = []
    for i in range(50):
        acknowledged.append(idp.create_user_pool(PoolName=f"k{i}")["UserPool"]["Id"])
    fresh_server.kill()
    fresh_server.start()
    idp = fresh_server.client()
    listed = [p["Id"] for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60)
              for p in page["UserPools"]]
    assert set(acknowledged) <= set(listed)


@pytest.mark.skipif(bool(__import__("os").environ.get("USERPOOL_DATABASE")),
                    reason="the one-server lock is the SQLite file's; nodes share PostgreSQL")
def test_a_second_server_on_the_same_data_file_is_refused(fresh_server):
    import subprocess
    from conftest import BIN
    idp = fresh_server.client()
    pool = idp.create_user_pool(PoolName="owned")["UserPool"]["Id"]
    second = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(fresh_server.data)],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode != 0
    assert "another process is serving this data file" in second.stderr
    # The first keeps serving, and sees its own writes.
    idp.update_user_pool(UserPoolId=pool, UserPoolTags={"k": "v"})
    assert idp.describe_user_pool(UserPoolId=pool)["UserPool"]["UserPoolTags"] == {"k": "v"}
    fresh_server.kill()
    # kill -9 releases the lock with the process.
    fresh_server.start()
    assert fresh_server.client().describe_user_pool(UserPoolId=pool)["UserPool"]["Name"] == "owned"
