//! `copy_store`: a store filled through the Store verbs is copied SQLite → SQLite and, when
//! `USERPOOL_TEST_POSTGRES` holds a connection URL, SQLite → PostgreSQL → SQLite; every
//! copy reads back identical through the verbs, and a non-empty target is refused unless
//! `force`.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::time::{SystemTime, UNIX_EPOCH};
use userpool_store::copy::copy_store;
use userpool_store::postgres::{PgOptions, PostgresStore};
use userpool_store::sqlite::{Durability, SqliteStore};
use userpool_store::{
    AuthEventRecord, ClientRecord, CodeRecord, DeviceRecord, GroupRecord, Lookups, MessageRecord, PasswordVerifier,
    PoolRecord, RefreshRecord, SigningKeyRecord, Store, StoreError, UserRecord,
};

const POOL: &str = "us-east-1_copytest1";

fn user(name: &str, email: &str, n: u8) -> UserRecord {
    let sub = format!("00000000-0000-4000-8000-0000000000{n:02}");
    UserRecord {
        pool_id: POOL.into(),
        username_key: name.into(),
        username: name.to_uppercase(),
        sub: sub.clone(),
        status: "CONFIRMED".into(),
        enabled: n.is_multiple_of(2),
        created_ms: 1000 + i64::from(n),
        modified_ms: 2000 + i64::from(n),
        attributes: vec![("sub".into(), sub), ("email".into(), email.into())],
        password: Some(PasswordVerifier {
            salt: vec![n; 16],
            verifier: vec![0, 255, n, 7],
        }),
        password_set_ms: 3000,
        failed_attempts: 0,
        locked_until_ms: 0,
        tokens_valid_after_ms: 0,
        version: 0,
        mfa: format!("mfa-{n}"),
        lookups: Some(Lookups {
            aliases: vec![format!("email:{email}")],
            search: vec![("email".into(), email.into())],
        }),
    }
}

async fn fill(s: &dyn Store) {
    s.create_pool(&PoolRecord {
        id: POOL.into(),
        name: "copy ünïcode".into(),
        created_ms: 1,
        modified_ms: 2,
        settings: r#"{"a":1}"#.into(),
    })
    .await
    .unwrap();
    for (id, secret) in [("client1", Some(vec![1u8, 2, 3])), ("client2", None)] {
        s.create_client(&ClientRecord {
            client_id: id.into(),
            pool_id: POOL.into(),
            name: id.into(),
            created_ms: 5,
            modified_ms: 6,
            sealed_secret: secret,
            settings: "{}".into(),
        })
        .await
        .unwrap();
    }
    for (i, (name, email)) in [
        ("alice", "a@example.com"),
        ("bob", "b@example.com"),
        ("carol", "c@example.com"),
    ]
    .into_iter()
    .enumerate()
    {
        s.create_user(&user(name, email, u8::try_from(i).unwrap() + 1))
            .await
            .unwrap();
    }
    s.record_password_failure(POOL, "bob", 10_000, 5, 900_000)
        .await
        .unwrap();
    assert!(s.use_totp_step(POOL, "alice", 42).await.unwrap());
    s.sign_out_user(POOL, "carol", 7777).await.unwrap();
    s.put_code(&CodeRecord {
        pool_id: POOL.into(),
        username_key: "alice".into(),
        purpose: "signup".into(),
        sealed_code: vec![9, 8, 7],
        destination: "a***@e***".into(),
        expires_ms: 9_999_999_999,
        attempts_left: 3,
    })
    .await
    .unwrap();
    for (i, device) in [None, Some("dev1")].into_iter().enumerate() {
        s.put_refresh_token(&RefreshRecord {
            token_hash: vec![u8::try_from(i).unwrap(); 32],
            pool_id: POOL.into(),
            username_key: "alice".into(),
            client_id: "client1".into(),
            device_key: device.map(String::from),
            origin_jti: format!("jti-{i}"),
            auth_time: 11,
            created_ms: 12,
            expires_ms: 9_999_999_999,
            rotated_at_ms: None,
            scope: Some("openid email".into()),
        })
        .await
        .unwrap();
    }
    s.revoke_refresh_token(&[0u8; 32], "jti-0", 9_999_999_999)
        .await
        .unwrap();
    for (key, remembered) in [("dev1", true), ("dev2", false)] {
        s.put_device(
            &DeviceRecord {
                pool_id: POOL.into(),
                device_key: key.into(),
                username_key: "alice".into(),
                device_group_key: "-grp".into(),
                confirmed: remembered,
                remembered,
                name: remembered.then(|| "phone".into()),
                salt: Some(vec![1, 2]),
                verifier: None,
                last_ip: Some("10.0.0.1".into()),
                sdk: "sdk".into(),
                created_ms: 20,
                modified_ms: 21,
                last_auth_ms: 22,
                version: 0,
            },
            0,
        )
        .await
        .unwrap();
    }
    assert!(s.consume_state(&[5u8; 24], 9_999_999_999).await.unwrap());
    s.count_in_window("signin:alice", 1_000_000, 60_000).await.unwrap();
    s.count_in_window("signin:alice", 1_000_001, 60_000).await.unwrap();
    for (name, precedence) in [("admins", Some(1)), ("readers", None)] {
        s.create_group(&GroupRecord {
            pool_id: POOL.into(),
            name: name.into(),
            description: Some(format!("the {name}")),
            role_arn: None,
            precedence,
            created_ms: 30,
            modified_ms: 31,
        })
        .await
        .unwrap();
    }
    s.add_to_group(POOL, "admins", "alice").await.unwrap();
    s.add_to_group(POOL, "readers", "alice").await.unwrap();
    s.add_to_group(POOL, "readers", "bob").await.unwrap();
    for (i, user) in ["alice", "bob", "alice"].into_iter().enumerate() {
        s.put_message(&MessageRecord {
            id: 0,
            pool_id: POOL.into(),
            username_key: user.into(),
            username: user.to_uppercase(),
            channel: "EMAIL".into(),
            destination: format!("{user}@example.com"),
            subject: (i != 1).then(|| "Your code".into()),
            sealed_body: vec![u8::try_from(i).unwrap(); 10],
            kind: "signup".into(),
            created_ms: 40,
            expires_ms: 9_999_999_999,
        })
        .await
        .unwrap();
    }
    for (i, id) in ["ev-a", "ev-b"].into_iter().enumerate() {
        s.put_auth_event(&AuthEventRecord {
            pool_id: POOL.into(),
            username_key: "alice".into(),
            event_id: id.into(),
            created_ms: 60 + i64::try_from(i).unwrap(),
            body: format!("{{\"EventId\":\"{id}\"}}"),
            expires_ms: 9_999_999_999,
        })
        .await
        .unwrap();
    }
    s.put_signing_key(&SigningKeyRecord {
        pool_id: POOL.into(),
        kid: "kid1".into(),
        token_use: "id".into(),
        sealed_private: vec![3; 40],
        public_n: vec![4; 32],
        public_e: vec![1, 0, 1],
        created_ms: 50,
    })
    .await
    .unwrap();
}

/// Everything the verbs read back from a filled store.
#[derive(PartialEq)]
struct Snapshot {
    pools: Vec<PoolRecord>,
    clients: Vec<ClientRecord>,
    users: Vec<UserRecord>,
    by_alias: Vec<Option<UserRecord>>,
    by_filter: Vec<String>,
    codes: Vec<CodeRecord>,
    refresh: Vec<Option<RefreshRecord>>,
    revoked: Vec<bool>,
    devices: Vec<DeviceRecord>,
    device2: Option<DeviceRecord>,
    groups: Vec<GroupRecord>,
    members: Vec<String>,
    groups_of_alice: Vec<String>,
    messages: Vec<MessageRecord>,
    keys: Vec<SigningKeyRecord>,
    auth_events: Vec<AuthEventRecord>,
}

async fn snapshot(s: &dyn Store) -> Snapshot {
    let filter = userpool_store::UserFilter {
        attribute: "email".into(),
        value: "b".into(),
        prefix: true,
    };
    Snapshot {
        pools: s.list_pools(None, 60).await.unwrap().items,
        clients: s.list_clients(POOL, None, 60).await.unwrap().items,
        users: s.list_users(POOL, None, None, 60).await.unwrap().items,
        by_alias: vec![
            s.find_user_by_alias(POOL, "email:a@example.com").await.unwrap(),
            s.find_user_by_alias(POOL, "email:c@example.com").await.unwrap(),
        ],
        by_filter: s
            .list_users(POOL, Some(&filter), None, 60)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|u| u.username_key)
            .collect(),
        codes: s.list_codes(POOL, "alice").await.unwrap(),
        refresh: vec![
            s.get_refresh_token(&[0u8; 32]).await.unwrap(),
            s.get_refresh_token(&[1u8; 32]).await.unwrap(),
        ],
        revoked: vec![
            s.is_origin_revoked("jti-0").await.unwrap(),
            s.is_origin_revoked("jti-1").await.unwrap(),
        ],
        devices: s.list_devices(POOL, "alice", false, None, 60).await.unwrap().items,
        device2: s.get_device(POOL, "dev2").await.unwrap(),
        groups: s.list_groups(POOL, None, 60).await.unwrap().items,
        members: s
            .users_in_group(POOL, "readers", None, 60)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|u| u.username_key)
            .collect(),
        groups_of_alice: s
            .groups_of_user(POOL, "alice", None, 60)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|g| g.name)
            .collect(),
        messages: s.list_messages(POOL, None, 0, 100).await.unwrap(),
        keys: s.signing_keys(POOL).await.unwrap(),
        auth_events: s.list_auth_events(POOL, "alice", None, 60).await.unwrap().items,
    }
}

fn check_filled(s: &Snapshot) {
    assert_eq!(s.pools.len(), 1);
    assert_eq!(s.clients.len(), 2);
    assert_eq!(s.users.len(), 3);
    assert!(s.by_alias.iter().all(Option::is_some));
    assert_eq!(s.by_filter, vec!["bob".to_string()]);
    assert_eq!(s.codes.len(), 1);
    assert!(s.refresh[0].is_none() && s.refresh[1].is_some(), "revoked, kept");
    assert_eq!(s.revoked, vec![true, false]);
    assert_eq!(s.devices.len(), 1);
    assert!(s.device2.is_some());
    assert_eq!(s.groups.len(), 2);
    assert_eq!(s.members, vec!["alice".to_string(), "bob".to_string()]);
    assert_eq!(s.messages.len(), 3);
    assert_eq!(s.keys.len(), 1);
    let events: Vec<&str> = s.auth_events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(events, ["ev-b", "ev-a"]);
}

fn refused(r: Result<userpool_store::copy::CopyReport, StoreError>) {
    match r {
        Err(StoreError::Backend(m)) => assert!(m.contains("not empty"), "{m}"),
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("a non-empty target was overwritten without force"),
    }
}

/// A new message's id follows the copied ones (PostgreSQL's sequence moved, SQLite's
/// AUTOINCREMENT followed).
async fn next_message_id(s: &dyn Store) -> i64 {
    let mut m = s.list_messages(POOL, None, 0, 100).await.unwrap().pop().unwrap();
    m.id = 0;
    s.put_message(&m).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_keeps_every_row_and_refuses_a_filled_target() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.db");
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let original = {
        let store = SqliteStore::open(&a, Durability::Normal).unwrap();
        fill(&store).await;
        snapshot(&store).await
    };
    check_filled(&original);

    // SQLite → SQLite.
    let report = copy_store(a_s, b_s, false, &PgOptions::default()).await.unwrap();
    let rows: u64 = report.tables.iter().map(|t| t.rows).sum();
    assert!(rows > 20, "{:?}", report);
    assert!(report.tables.iter().all(|t| t.checksum.len() == 64));
    refused(copy_store(a_s, b_s, false, &PgOptions::default()).await);
    assert_eq!(copy_store(a_s, b_s, true, &PgOptions::default()).await.unwrap(), report);
    {
        let store = SqliteStore::open(&b, Durability::Normal).unwrap();
        assert!(snapshot(&store).await == original, "sqlite → sqlite changed the data");
        let max = original.messages.iter().map(|m| m.id).max().unwrap();
        assert!(next_message_id(&store).await > max);
    }
    assert!(
        copy_store(a_s, a_s, true, &PgOptions::default()).await.is_err(),
        "a store copied onto itself"
    );
    let missing = dir.path().join("missing.db");
    assert!(
        copy_store(missing.to_str().unwrap(), b_s, true, &PgOptions::default())
            .await
            .is_err(),
        "no source file"
    );
    assert!(!missing.exists());

    let Some(url) = std::env::var("USERPOOL_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        return;
    };
    // SQLite → PostgreSQL (a fresh schema, named in the URL) → SQLite.
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let schema = format!("copy_{}_{nanos}", std::process::id());
    let pg = PostgresStore::connect_in_schema(&url, Some(&schema)).await.unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let pg_url = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let to_pg = copy_store(a_s, &pg_url, false, &PgOptions::default()).await.unwrap();
    assert_eq!(to_pg, report, "the checksums are engine-neutral");
    assert!(snapshot(&pg).await == original, "sqlite → postgres changed the data");
    refused(copy_store(a_s, &pg_url, false, &PgOptions::default()).await);
    assert_eq!(
        copy_store(b_s, &pg_url, true, &PgOptions::default())
            .await
            .unwrap()
            .tables
            .len(),
        report.tables.len()
    );

    let c = dir.path().join("c.db");
    let back = copy_store(&pg_url, c.to_str().unwrap(), false, &PgOptions::default())
        .await
        .unwrap();
    {
        let store = SqliteStore::open(&c, Durability::Normal).unwrap();
        let copied = snapshot(&store).await;
        // b held one more message than a when it replaced the PostgreSQL content.
        assert_eq!(copied.messages.len(), original.messages.len() + 1);
        assert!(
            copied.users == original.users && copied.devices == original.devices && copied.keys == original.keys,
            "postgres → sqlite changed the data"
        );
        let max = copied.messages.iter().map(|m| m.id).max().unwrap();
        assert!(next_message_id(&store).await > max);
    }
    let pg_max = snapshot(&pg).await.messages.iter().map(|m| m.id).max().unwrap();
    assert!(
        next_message_id(&pg).await > pg_max,
        "the PostgreSQL sequence follows the copied ids"
    );

    // PostgreSQL → PostgreSQL.
    let schema2 = format!("{schema}_b");
    let pg2 = PostgresStore::connect_in_schema(&url, Some(&schema2)).await.unwrap();
    let pg2_url = format!("{url}{sep}options=-c%20search_path%3D{schema2}");
    copy_store(&pg_url, &pg2_url, false, &PgOptions::default())
        .await
        .unwrap();
    assert!(
        snapshot(&pg2).await == snapshot(&pg).await,
        "postgres → postgres changed the data"
    );
    assert!(back.tables.iter().any(|t| t.table == "outbox" && t.rows == 4));
}
