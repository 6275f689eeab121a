//! The Store contract, checked against every engine (garage's `db/test.rs` pattern): each
//! test takes a fresh store from [`engines`], so a new engine (PostgreSQL) joins by adding
//! itself there. These tests hold the guarantees the trait's docs state: atomic limits,
//! single-use takes, and the compare-and-set rule for concurrent writes.

// A test binary: its helpers may panic on a broken fixture (clippy.toml allows this in
// `#[test]` functions only, not in the helpers they call).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use userpool_store::postgres::PostgresStore;
use userpool_store::sqlite::{Durability, SqliteStore};
use userpool_store::{
    AuthEventRecord, ClientRecord, CodeRecord, DeviceRecord, GroupRecord, Lookups, MessageRecord, ObjectKind,
    ObjectRecord, PasswordSpend, PoolRecord, RefreshRecord, SigningKeyRecord, Store, StoreError, UserFilter,
    UserRecord, VERSION_CONFLICT,
};

/// A fresh store of every engine this build can reach, with its name: SQLite always,
/// PostgreSQL when `USERPOOL_TEST_POSTGRES` holds a connection URL (each store in a schema
/// of its own, so tests run in parallel on one database; `.ci/run` starts a throw-away
/// cluster and sets it).
async fn engines() -> Vec<(&'static str, Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("t.db"), Durability::Normal).unwrap();
    let mut engines = vec![("sqlite", Arc::new(sqlite) as Arc<dyn Store>, dir)];
    if let Some(url) = std::env::var("USERPOOL_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let schema = format!(
            "conformance_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let store = PostgresStore::connect_in_schema(&url, Some(&schema)).await.unwrap();
        engines.push((
            "postgres",
            Arc::new(store) as Arc<dyn Store>,
            tempfile::tempdir().unwrap(),
        ));
    }
    engines
}

async fn seed(store: &dyn Store) -> (String, String) {
    let pool = PoolRecord {
        id: "us-east-1_conform".into(),
        name: "p".into(),
        created_ms: 1,
        modified_ms: 1,
        settings: "{}".into(),
    };
    store.create_pool(&pool).await.unwrap();
    let user = UserRecord {
        pool_id: pool.id.clone(),
        username_key: "alice".into(),
        username: "alice".into(),
        sub: "00000000-0000-4000-8000-000000000001".into(),
        status: "CONFIRMED".into(),
        enabled: true,
        created_ms: 1,
        modified_ms: 1,
        attributes: vec![("sub".into(), "00000000-0000-4000-8000-000000000001".into())],
        password: None,
        password_set_ms: 0,
        failed_attempts: 0,
        locked_until_ms: 0,
        tokens_valid_after_ms: 0,
        version: 0,
        mfa: String::new(),
        lookups: None,
    };
    store.create_user(&user).await.unwrap();
    (pool.id, user.username_key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_user_is_compare_and_set() {
    for (name, store, _dir) in engines().await {
        let (pool, key) = seed(store.as_ref()).await;
        let a = store.get_user(&pool, &key).await.unwrap().unwrap();
        let b = a.clone();
        let mut a2 = a.clone();
        a2.enabled = false;
        store.update_user(&a2).await.unwrap();
        // `b` read the row before `a2` was written: its write is refused, nothing changes.
        let mut b2 = b.clone();
        b2.attributes.push(("custom:x".into(), "1".into()));
        match store.update_user(&b2).await {
            Err(StoreError::Conflict(c)) => assert_eq!(c, VERSION_CONFLICT, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        let now = store.get_user(&pool, &key).await.unwrap().unwrap();
        assert!(!now.enabled, "{name}");
        assert_eq!(now.version, a.version + 1, "{name}");
        assert!(!now.attributes.iter().any(|(n, _)| n == "custom:x"), "{name}");
        // A gone user is NotFound, not a conflict.
        store.delete_user(&pool, &key).await.unwrap();
        assert!(
            matches!(store.update_user(&now).await, Err(StoreError::NotFound)),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_attempts_hold_under_parallel_spends() {
    for (name, store, _dir) in engines().await {
        let (pool, key) = seed(store.as_ref()).await;
        let now = 1_000_000;
        let spend = |s: Arc<dyn Store>, p: String, k: String, at: i64| async move {
            s.spend_password_attempt(&p, &k, at, 5, 10_000).await.unwrap()
        };
        let mut tasks = Vec::new();
        for _ in 0..32 {
            tasks.push(tokio::spawn(spend(store.clone(), pool.clone(), key.clone(), now)));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        // Five checks may be in flight before any is known wrong; the others wait.
        let spent = outcomes.iter().filter(|o| matches!(o, PasswordSpend::Spent(_))).count();
        assert_eq!(spent, 5, "{name}: {outcomes:?}");
        assert!(outcomes.iter().all(|o| *o != PasswordSpend::Locked), "{name}");
        // The five are wrong: the lock starts (1 s at the fifth failure).
        for _ in 0..5 {
            store
                .record_password_failure(&pool, &key, now, 5, 900_000)
                .await
                .unwrap();
        }
        let u = store.get_user(&pool, &key).await.unwrap().unwrap();
        assert_eq!((u.failed_attempts, u.locked_until_ms), (5, now + 1000), "{name}");
        assert_eq!(
            spend(store.clone(), pool.clone(), key.clone(), now + 999).await,
            PasswordSpend::Locked,
            "{name}"
        );
        // After the lock, one check at a time: a second one waits for the first.
        assert_eq!(
            spend(store.clone(), pool.clone(), key.clone(), now + 1000).await,
            PasswordSpend::Spent(6),
            "{name}"
        );
        assert_eq!(
            spend(store.clone(), pool.clone(), key.clone(), now + 1001).await,
            PasswordSpend::Busy,
            "{name}"
        );
        // It is wrong too: the lock doubles.
        store
            .record_password_failure(&pool, &key, now + 1002, 5, 900_000)
            .await
            .unwrap();
        let u = store.get_user(&pool, &key).await.unwrap().unwrap();
        assert_eq!(u.locked_until_ms, now + 1002 + 2000, "{name}");
        // A correct password resets everything.
        store.clear_password_failures(&pool, &key).await.unwrap();
        let u = store.get_user(&pool, &key).await.unwrap().unwrap();
        assert_eq!((u.failed_attempts, u.locked_until_ms), (0, 0), "{name}");
        // Parallel correct sign-ins: the spends that waited go through once one is proven.
        assert_eq!(
            spend(store.clone(), pool.clone(), key.clone(), now).await,
            PasswordSpend::Spent(1),
            "{name}"
        );
        store.clear_password_failures(&pool, &key).await.unwrap();
        // The lock is capped.
        let mut at = now;
        for _ in 0..30 {
            at += 10_000_000;
            if let PasswordSpend::Spent(_) = spend(store.clone(), pool.clone(), key.clone(), at).await {
                store
                    .record_password_failure(&pool, &key, at, 5, 900_000)
                    .await
                    .unwrap();
            }
        }
        let u = store.get_user(&pool, &key).await.unwrap().unwrap();
        assert!(u.locked_until_ms > 0 && u.locked_until_ms <= at + 900_000, "{name}");
        assert!(matches!(
            store.spend_password_attempt(&pool, "nobody", now, 5, 10_000).await,
            Err(StoreError::NotFound)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_check_that_never_resolves_frees_the_user_after_its_slot() {
    for (name, store, _dir) in engines().await {
        let (pool, key) = seed(store.as_ref()).await;
        let t = 5_000_000;
        for _ in 0..5 {
            assert!(matches!(
                store.spend_password_attempt(&pool, &key, t, 5, 10_000).await.unwrap(),
                PasswordSpend::Spent(_)
            ));
        }
        // Five checks in flight, none resolved (say their node died): the next waits...
        assert_eq!(
            store
                .spend_password_attempt(&pool, &key, t + 1, 5, 10_000)
                .await
                .unwrap(),
            PasswordSpend::Busy,
            "{name}"
        );
        // ...until the slot of the last one has passed; the user is never stuck.
        assert_eq!(
            store
                .spend_password_attempt(&pool, &key, t + 10_000, 5, 10_000)
                .await
                .unwrap(),
            PasswordSpend::Spent(6),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_attempts_are_spent_atomically_and_codes_taken_once() {
    for (name, store, _dir) in engines().await {
        let (pool, key) = seed(store.as_ref()).await;
        let code = CodeRecord {
            pool_id: pool.clone(),
            username_key: key.clone(),
            purpose: "signup".into(),
            sealed_code: vec![7; 8],
            destination: String::new(),
            expires_ms: 10_000,
            attempts_left: 5,
        };
        store.put_code(&code).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (s, p, k) = (store.clone(), pool.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                s.spend_code_attempt(&p, &k, "signup", 1).await.unwrap()
            }));
        }
        let mut spent = 0;
        for t in tasks {
            if t.await.unwrap().is_some() {
                spent += 1;
            }
        }
        assert_eq!(spent, 5, "{name}");
        // Expired codes give no attempt.
        store.put_code(&code).await.unwrap();
        assert!(
            store
                .spend_code_attempt(&pool, &key, "signup", 10_000)
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        // A code is taken once, and only the one named.
        assert!(!store.take_code(&pool, &key, "signup", &[1]).await.unwrap(), "{name}");
        assert!(
            store.take_code(&pool, &key, "signup", &code.sealed_code).await.unwrap(),
            "{name}"
        );
        assert!(
            !store.take_code(&pool, &key, "signup", &code.sealed_code).await.unwrap(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn windows_count_and_roll_over() {
    for (name, store, _dir) in engines().await {
        let counts: Vec<i64> = {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(store.count_in_window("k", 5_000, 1_000).await.unwrap());
            }
            v
        };
        assert_eq!(counts, vec![1, 2, 3], "{name}");
        assert_eq!(store.count_in_window("other", 5_000, 1_000).await.unwrap(), 1, "{name}");
        // The next window starts again at one.
        assert_eq!(store.count_in_window("k", 6_000, 1_000).await.unwrap(), 1, "{name}");
        // Parallel events are all counted.
        let mut tasks = Vec::new();
        for _ in 0..25 {
            let s = store.clone();
            tasks.push(tokio::spawn(
                async move { s.count_in_window("p", 1, 60_000).await.unwrap() },
            ));
        }
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=25).collect::<Vec<i64>>(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn device_writes_keep_their_own_columns() {
    for (name, store, _dir) in engines().await {
        let (pool, key) = seed(store.as_ref()).await;
        let d = DeviceRecord {
            pool_id: pool.clone(),
            device_key: "us-east-1_00000000-0000-4000-8000-0000000000aa".into(),
            username_key: key.clone(),
            device_group_key: "-abc".into(),
            confirmed: true,
            remembered: true,
            name: None,
            salt: Some(vec![1]),
            verifier: Some(vec![2]),
            last_ip: None,
            sdk: "s".into(),
            created_ms: 1,
            modified_ms: 1,
            last_auth_ms: 1,
            version: 0,
        };
        store.put_device(&d, 0).await.unwrap();
        let read = store.get_device(&pool, &d.device_key).await.unwrap().unwrap();
        // A sign-in touches the device between the read and a status write: both stand.
        store.touch_device(&pool, &d.device_key, 500, "10.0.0.1").await.unwrap();
        let mut status = read.clone();
        status.remembered = false;
        status.modified_ms = 400;
        store.update_device(&status).await.unwrap();
        let now = store.get_device(&pool, &d.device_key).await.unwrap().unwrap();
        assert!(!now.remembered, "{name}");
        assert_eq!(
            (now.last_auth_ms, now.last_ip.as_deref()),
            (500, Some("10.0.0.1")),
            "{name}"
        );
        // A second write from the same stale read is refused.
        let mut again = read.clone();
        again.name = Some("x".into());
        assert!(
            matches!(store.update_device(&again).await, Err(StoreError::Conflict(c)) if c == VERSION_CONFLICT),
            "{name}"
        );
        // A touch never moves the date backwards.
        store.touch_device(&pool, &d.device_key, 100, "10.0.0.2").await.unwrap();
        let now = store.get_device(&pool, &d.device_key).await.unwrap().unwrap();
        assert_eq!(now.last_auth_ms, 500, "{name}");
    }
}

fn pool(id: &str) -> PoolRecord {
    PoolRecord {
        id: id.into(),
        name: "p".into(),
        created_ms: 1,
        modified_ms: 1,
        settings: "{}".into(),
    }
}

fn client(pool_id: &str, id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        pool_id: pool_id.into(),
        name: "c".into(),
        created_ms: 1,
        modified_ms: 1,
        sealed_secret: Some(vec![1, 2, 3]),
        settings: "{}".into(),
    }
}

fn user(pool_id: &str, key: &str, sub: &str, email: &str) -> UserRecord {
    UserRecord {
        pool_id: pool_id.into(),
        username_key: key.into(),
        username: key.to_uppercase(),
        sub: sub.into(),
        status: "CONFIRMED".into(),
        enabled: true,
        created_ms: 1,
        modified_ms: 1,
        attributes: vec![("sub".into(), sub.into()), ("email".into(), email.into())],
        password: None,
        password_set_ms: 0,
        failed_attempts: 0,
        locked_until_ms: 0,
        tokens_valid_after_ms: 0,
        version: 0,
        mfa: String::new(),
        lookups: Some(Lookups {
            aliases: vec![format!("email:{email}")],
            search: vec![("email".into(), email.into())],
        }),
    }
}

fn token(pool_id: &str, key: &str, hash: u8, origin: &str, expires_ms: i64) -> RefreshRecord {
    RefreshRecord {
        token_hash: vec![hash; 32],
        pool_id: pool_id.into(),
        username_key: key.into(),
        client_id: "c".into(),
        device_key: None,
        origin_jti: origin.into(),
        auth_time: 1,
        created_ms: 1,
        expires_ms,
        rotated_at_ms: None,
        scope: None,
    }
}

fn device(pool_id: &str, key: &str, n: u8, confirmed: bool, remembered: bool, created_ms: i64) -> DeviceRecord {
    DeviceRecord {
        pool_id: pool_id.into(),
        device_key: format!("us-east-1_00000000-0000-4000-8000-0000000000{n:02}"),
        username_key: key.into(),
        device_group_key: "-grp".into(),
        confirmed,
        remembered,
        name: None,
        salt: None,
        verifier: None,
        last_ip: None,
        sdk: "s".into(),
        created_ms,
        modified_ms: created_ms,
        last_auth_ms: created_ms,
        version: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pools_and_clients_page_in_key_order_and_cascade() {
    for (name, store, _dir) in engines().await {
        for i in [3, 0, 4, 1, 2] {
            store.create_pool(&pool(&format!("us-east-1_{i}"))).await.unwrap();
        }
        assert!(
            matches!(
                store.create_pool(&pool("us-east-1_0")).await,
                Err(StoreError::Conflict(_))
            ),
            "{name}"
        );
        let p1 = store.list_pools(None, 2).await.unwrap();
        assert_eq!(p1.items.len(), 2, "{name}");
        assert_eq!(p1.next_after.as_deref(), Some("us-east-1_1"), "{name}");
        let p3 = store.list_pools(Some("us-east-1_3"), 2).await.unwrap();
        assert_eq!((p3.items.len(), p3.next_after), (1, None), "{name}");
        let mut p = store.get_pool("us-east-1_2").await.unwrap().unwrap();
        p.settings = "{\"x\":1}".into();
        p.modified_ms = 9;
        store.update_pool(&p).await.unwrap();
        assert_eq!(store.get_pool("us-east-1_2").await.unwrap(), Some(p), "{name}");
        assert!(
            matches!(store.update_pool(&pool("us-east-1_9")).await, Err(StoreError::NotFound)),
            "{name}"
        );

        for id in ["b", "a", "c"] {
            store.create_client(&client("us-east-1_0", id)).await.unwrap();
        }
        assert!(
            matches!(
                store.create_client(&client("us-east-1_9", "z")).await,
                Err(StoreError::NotFound)
            ),
            "{name}"
        );
        assert!(
            matches!(
                store.create_client(&client("us-east-1_1", "a")).await,
                Err(StoreError::Conflict(_))
            ),
            "{name}"
        );
        let page = store.list_clients("us-east-1_0", Some("a"), 1).await.unwrap();
        assert_eq!(page.items[0].client_id, "b", "{name}");
        assert_eq!(page.next_after.as_deref(), Some("b"), "{name}");
        assert!(store.get_client("us-east-1_1", "a").await.unwrap().is_none(), "{name}");
        let mut c = store.find_client("a").await.unwrap().unwrap();
        assert_eq!(c.sealed_secret.as_deref(), Some(&[1u8, 2, 3][..]), "{name}");
        c.name = "renamed".into();
        c.sealed_secret = Some(vec![4, 5]);
        store.update_client(&c).await.unwrap();
        let updated = store.get_client("us-east-1_0", "a").await.unwrap().unwrap();
        assert_eq!(updated.name, "renamed", "{name}");
        // The secret too (a rotation moves another secret into the record).
        assert_eq!(updated.sealed_secret.as_deref(), Some(&[4u8, 5][..]), "{name}");
        store.delete_client("us-east-1_0", "c").await.unwrap();
        assert!(
            matches!(store.delete_client("us-east-1_0", "c").await, Err(StoreError::NotFound)),
            "{name}"
        );
        // Deleting a pool takes everything in it.
        store
            .create_user(&user("us-east-1_0", "u", "s-u", "u@x.y"))
            .await
            .unwrap();
        store.delete_pool("us-east-1_0").await.unwrap();
        assert!(store.find_client("a").await.unwrap().is_none(), "{name}");
        assert!(store.get_user("us-east-1_0", "u").await.unwrap().is_none(), "{name}");
        assert!(
            matches!(store.delete_pool("us-east-1_0").await, Err(StoreError::NotFound)),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_are_unique_by_username_sub_and_alias() {
    for (name, store, _dir) in engines().await {
        let p = "us-east-1_users";
        store.create_pool(&pool(p)).await.unwrap();
        store.create_user(&user(p, "alice", "s-a", "a@x.y")).await.unwrap();
        let clash = |u: UserRecord| {
            let store = store.clone();
            async move {
                match store.create_user(&u).await {
                    Err(StoreError::Conflict(c)) => c,
                    other => panic!("{other:?}"),
                }
            }
        };
        assert_eq!(clash(user(p, "alice", "s-2", "2@x.y")).await, "username", "{name}");
        assert_eq!(clash(user(p, "bob", "s-a", "2@x.y")).await, "sub", "{name}");
        assert_eq!(clash(user(p, "bob", "s-b", "a@x.y")).await, "alias", "{name}");
        // Nothing of a refused create is left.
        assert!(store.get_user(p, "bob").await.unwrap().is_none(), "{name}");
        assert!(
            matches!(
                store.create_user(&user("us-east-1_none", "x", "s", "e")).await,
                Err(StoreError::NotFound)
            ),
            "{name}"
        );
        store.create_user(&user(p, "bob", "s-b", "b@x.y")).await.unwrap();
        let alice = store.find_user_by_alias(p, "email:a@x.y").await.unwrap().unwrap();
        assert_eq!((alice.username.as_str(), alice.enabled), ("ALICE", true), "{name}");
        assert_eq!(alice.attributes, user(p, "alice", "s-a", "a@x.y").attributes, "{name}");
        assert_eq!(
            store.find_user_by_sub(p, "s-b").await.unwrap().unwrap().username_key,
            "bob"
        );
        // An update moves the alias; taking another user's alias is refused whole.
        let mut a = alice.clone();
        a.lookups = Some(Lookups {
            aliases: vec!["email:new@x.y".into()],
            search: vec![("email".into(), "new@x.y".into())],
        });
        store.update_user(&a).await.unwrap();
        assert!(
            store.find_user_by_alias(p, "email:a@x.y").await.unwrap().is_none(),
            "{name}"
        );
        let mut a = store.find_user_by_alias(p, "email:new@x.y").await.unwrap().unwrap();
        a.status = "RESET_REQUIRED".into();
        a.lookups = Some(Lookups {
            aliases: vec!["email:b@x.y".into()],
            search: vec![],
        });
        assert!(
            matches!(store.update_user(&a).await, Err(StoreError::Conflict("alias"))),
            "{name}"
        );
        let now = store.get_user(p, "alice").await.unwrap().unwrap();
        assert_eq!(now.status, "CONFIRMED", "{name}");
        assert!(
            store.find_user_by_alias(p, "email:new@x.y").await.unwrap().is_some(),
            "{name}"
        );
        assert_eq!(store.count_users(p).await.unwrap(), 2, "{name}");
        // TOTP steps are accepted once, in order.
        assert!(store.use_totp_step(p, "alice", 10).await.unwrap(), "{name}");
        assert!(!store.use_totp_step(p, "alice", 10).await.unwrap(), "{name}");
        assert!(!store.use_totp_step(p, "alice", 9).await.unwrap(), "{name}");
        store.delete_user(p, "alice").await.unwrap();
        assert!(
            store.find_user_by_alias(p, "email:new@x.y").await.unwrap().is_none(),
            "{name}"
        );
        assert!(
            matches!(store.delete_user(p, "alice").await, Err(StoreError::NotFound)),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_users_filters_and_pages() {
    for (name, store, _dir) in engines().await {
        let p = "us-east-1_list";
        store.create_pool(&pool(p)).await.unwrap();
        for (k, e) in [
            ("d", "ann@x.y"),
            ("a", "bob@x.y"),
            ("c", "ann@z.y"),
            ("b", "al@x.y"),
            ("e", "\u{e9}@x.y"),
        ] {
            store.create_user(&user(p, k, &format!("s-{k}"), e)).await.unwrap();
        }
        let mut disabled = store.get_user(p, "c").await.unwrap().unwrap();
        disabled.enabled = false;
        store.update_user(&disabled).await.unwrap();
        let keys = |page: &userpool_store::Page<UserRecord>| {
            page.items.iter().map(|u| u.username_key.clone()).collect::<Vec<_>>()
        };
        let first = store.list_users(p, None, None, 2).await.unwrap();
        assert_eq!(keys(&first), ["a", "b"], "{name}");
        let rest = store
            .list_users(p, None, first.next_after.as_deref(), 10)
            .await
            .unwrap();
        assert_eq!(
            (keys(&rest), rest.next_after),
            (vec!["c".into(), "d".into(), "e".into()], None),
            "{name}"
        );
        let filter = |attribute: &str, value: &str, prefix: bool| UserFilter {
            attribute: attribute.into(),
            value: value.into(),
            prefix,
        };
        // By attribute value, in (value, key) order, resumed after the page's last pair.
        let f = filter("email", "a", true);
        let page = store.list_users(p, Some(&f), None, 2).await.unwrap();
        assert_eq!(keys(&page), ["b", "d"], "{name}");
        let page = store
            .list_users(p, Some(&f), page.next_after.as_deref(), 2)
            .await
            .unwrap();
        assert_eq!((keys(&page), page.next_after), (vec!["c".into()], None), "{name}");
        let f = filter("email", "ann@x.y", false);
        assert_eq!(
            keys(&store.list_users(p, Some(&f), None, 10).await.unwrap()),
            ["d"],
            "{name}"
        );
        // Byte order: a non-ASCII value sorts after every ASCII one.
        let f = filter("email", "", true);
        let all = store.list_users(p, Some(&f), None, 10).await.unwrap();
        assert_eq!(keys(&all), ["b", "d", "c", "a", "e"], "{name}");
        let f = filter("status", "Disabled", false);
        assert_eq!(
            keys(&store.list_users(p, Some(&f), None, 10).await.unwrap()),
            ["c"],
            "{name}"
        );
        let f = filter("sub", "s-", true);
        assert_eq!(
            store.list_users(p, Some(&f), None, 10).await.unwrap().items.len(),
            5,
            "{name}"
        );
        let f = filter("cognito:user_status", "CONF", true);
        assert_eq!(
            store.list_users(p, Some(&f), None, 10).await.unwrap().items.len(),
            5,
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_tokens_rotate_once_and_sign_out_revokes_families() {
    for (name, store, _dir) in engines().await {
        let (p, k) = seed(store.as_ref()).await;
        store.put_refresh_token(&token(&p, &k, 1, "o1", 10_000)).await.unwrap();
        assert!(
            matches!(
                store.put_refresh_token(&token(&p, "nobody", 9, "o9", 1)).await,
                Err(StoreError::NotFound)
            ),
            "{name}"
        );
        // Two uses of one token at once: one rotates it.
        let (t2, t3) = (token(&p, &k, 2, "o1", 10_000), token(&p, &k, 3, "o1", 10_000));
        let (a, b) = tokio::join!(
            store.rotate_refresh_token(&[1; 32], &t2, 50),
            store.rotate_refresh_token(&[1; 32], &t3, 60),
        );
        assert!(a.unwrap() ^ b.unwrap(), "{name}");
        let old = store.get_refresh_token(&[1; 32]).await.unwrap().unwrap();
        assert!(matches!(old.rotated_at_ms, Some(50 | 60)), "{name}");
        assert_eq!(
            store.get_refresh_token(&[2; 32]).await.unwrap().unwrap().origin_jti,
            "o1"
        );
        store.revoke_refresh_token(&[2; 32], "o1", 20_000).await.unwrap();
        assert!(store.get_refresh_token(&[2; 32]).await.unwrap().is_none(), "{name}");
        assert!(store.is_origin_revoked("o1").await.unwrap(), "{name}");
        store.put_refresh_token(&token(&p, &k, 4, "o4", 10_000)).await.unwrap();
        store.put_refresh_token(&token(&p, &k, 5, "o4", 10_000)).await.unwrap();
        store.sign_out_user(&p, &k, 700).await.unwrap();
        assert!(store.is_origin_revoked("o4").await.unwrap(), "{name}");
        assert!(store.get_refresh_token(&[4; 32]).await.unwrap().is_none(), "{name}");
        assert!(store.get_refresh_token(&[3; 32]).await.unwrap().is_none(), "{name}");
        assert_eq!(
            store.get_user(&p, &k).await.unwrap().unwrap().tokens_valid_after_ms,
            700
        );
        // The instant never goes back.
        store.sign_out_user(&p, &k, 600).await.unwrap();
        assert_eq!(
            store.get_user(&p, &k).await.unwrap().unwrap().tokens_valid_after_ms,
            700
        );
        assert!(
            matches!(store.sign_out_user(&p, "nobody", 1).await, Err(StoreError::NotFound)),
            "{name}"
        );
        // Sign-in states are consumed once.
        assert!(store.consume_state(&[9; 16], 100).await.unwrap(), "{name}");
        assert!(!store.consume_state(&[9; 16], 100).await.unwrap(), "{name}");
        // Expired rows go in batches.
        store.put_refresh_token(&token(&p, &k, 6, "o6", 100)).await.unwrap();
        assert!(store.prune_expired(1_000_000, 10).await.unwrap() >= 2, "{name}");
        assert!(store.get_refresh_token(&[6; 32]).await.unwrap().is_none(), "{name}");
        assert!(store.consume_state(&[9; 16], 100).await.unwrap(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn devices_list_replace_stale_ones_and_go_with_their_user() {
    for (name, store, _dir) in engines().await {
        let (p, k) = seed(store.as_ref()).await;
        store.put_device(&device(&p, &k, 1, true, true, 10), 0).await.unwrap();
        store.put_device(&device(&p, &k, 2, true, false, 10), 0).await.unwrap();
        store.put_device(&device(&p, &k, 3, false, false, 10), 0).await.unwrap();
        assert!(
            matches!(
                store.put_device(&device(&p, &k, 1, true, true, 10), 0).await,
                Err(StoreError::Conflict(_))
            ),
            "{name}"
        );
        assert!(
            matches!(
                store.put_device(&device(&p, "nobody", 9, true, true, 10), 0).await,
                Err(StoreError::NotFound)
            ),
            "{name}"
        );
        let all = store.list_devices(&p, &k, false, None, 1).await.unwrap();
        assert_eq!(all.items.len(), 1, "{name}");
        let rest = store
            .list_devices(&p, &k, false, all.next_after.as_deref(), 10)
            .await
            .unwrap();
        assert_eq!((rest.items.len(), rest.next_after), (1, None), "{name}");
        assert_eq!(store.list_devices(&p, &k, true, None, 10).await.unwrap().items.len(), 1);
        assert_eq!(store.device_group_key(&p, &k).await.unwrap().as_deref(), Some("-grp"));
        // A new issued device clears the never-confirmed ones issued before the cutoff.
        store
            .put_device(&device(&p, &k, 4, false, false, 100), 50)
            .await
            .unwrap();
        assert!(store
            .get_device(&p, &device(&p, &k, 3, false, false, 0).device_key)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .get_device(&p, &device(&p, &k, 1, false, false, 0).device_key)
            .await
            .unwrap()
            .is_some());
        let d2 = device(&p, &k, 2, false, false, 0).device_key;
        store.delete_device(&p, &d2).await.unwrap();
        assert!(
            matches!(store.delete_device(&p, &d2).await, Err(StoreError::NotFound)),
            "{name}"
        );
        assert!(
            matches!(store.touch_device(&p, &d2, 1, "ip").await, Err(StoreError::NotFound)),
            "{name}"
        );
        store.delete_user(&p, &k).await.unwrap();
        assert!(store.device_group_key(&p, &k).await.unwrap().is_none(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pool_objects_are_unique_in_their_scope_page_and_cascade() {
    for (name, store, _dir) in engines().await {
        let (p, _) = seed(store.as_ref()).await;
        store.create_pool(&pool("us-east-1_other")).await.unwrap();
        let object = |kind: ObjectKind, pool_id: &str, n: &str, body: &str| ObjectRecord {
            kind,
            pool_id: pool_id.into(),
            name: n.into(),
            body: body.into(),
            created_ms: 5,
            modified_ms: 5,
        };
        // A domain is unique across pools; a resource server only in its pool.
        let domain = object(ObjectKind::Domain, &p, "myapp", "{}");
        store.create_object(&domain).await.unwrap();
        let taken = store
            .create_object(&object(ObjectKind::Domain, "us-east-1_other", "myapp", "{}"))
            .await;
        assert!(matches!(taken, Err(StoreError::Conflict(_))), "{name}: {taken:?}");
        let found = store.get_object(ObjectKind::Domain, "anything", "myapp").await.unwrap();
        assert_eq!(found, Some(domain.clone()), "{name}");
        for pool_id in [p.as_str(), "us-east-1_other"] {
            for n in ["https://api", "b", "a"] {
                store
                    .create_object(&object(ObjectKind::ResourceServer, pool_id, n, pool_id))
                    .await
                    .unwrap();
            }
        }
        let again = store
            .create_object(&object(ObjectKind::ResourceServer, &p, "a", "{}"))
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{name}: {again:?}");
        let orphan = store
            .create_object(&object(ObjectKind::ResourceServer, "us-east-1_nope", "a", "{}"))
            .await;
        assert!(matches!(orphan, Err(StoreError::NotFound)), "{name}: {orphan:?}");
        // Pages by name, only the pool's own, only the kind asked.
        let first = store
            .list_objects(ObjectKind::ResourceServer, &p, None, 2)
            .await
            .unwrap();
        let names: Vec<_> = first.items.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "{name}");
        assert!(first.items.iter().all(|o| o.body == p), "{name}");
        let rest = store
            .list_objects(ObjectKind::ResourceServer, &p, first.next_after.as_deref(), 2)
            .await
            .unwrap();
        let names: Vec<_> = rest.items.iter().map(|o| o.name.as_str()).collect();
        assert_eq!((names, rest.next_after), (vec!["https://api"], None), "{name}");
        // Replace and delete answer NotFound for what is not there.
        let mut changed = object(ObjectKind::ResourceServer, &p, "b", "new");
        changed.modified_ms = 9;
        store.replace_object(&changed).await.unwrap();
        let got = store
            .get_object(ObjectKind::ResourceServer, &p, "b")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (got.body.as_str(), got.created_ms, got.modified_ms),
            ("new", 5, 9),
            "{name}"
        );
        let missing = store
            .replace_object(&object(ObjectKind::IdentityProvider, &p, "b", "x"))
            .await;
        assert!(matches!(missing, Err(StoreError::NotFound)), "{name}: {missing:?}");
        store.delete_object(ObjectKind::ResourceServer, &p, "b").await.unwrap();
        let gone = store.delete_object(ObjectKind::ResourceServer, &p, "b").await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{name}: {gone:?}");
        // A pool's objects go with it; another pool's stay.
        store.delete_pool(&p).await.unwrap();
        assert_eq!(
            store.get_object(ObjectKind::Domain, &p, "myapp").await.unwrap(),
            None,
            "{name}"
        );
        let other = store
            .list_objects(ObjectKind::ResourceServer, "us-east-1_other", None, 10)
            .await
            .unwrap();
        assert_eq!(other.items.len(), 3, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_object_kind_round_trips_a_large_body_is_kept_whole_and_compare_and_set() {
    for (name, store, _dir) in engines().await {
        let (p, _) = seed(store.as_ref()).await;
        for kind in ObjectKind::ALL {
            let o = ObjectRecord {
                kind,
                pool_id: p.clone(),
                name: "same-name".into(),
                body: kind.as_str().into(),
                created_ms: 1,
                modified_ms: 1,
            };
            store.create_object(&o).await.unwrap();
            let got = store.get_object(kind, &p, "same-name").await.unwrap();
            assert_eq!(got, Some(o), "{name}: {}", kind.as_str());
        }
        // A branding style with its images: a few megabytes of JSON.
        let body = format!("{{\"bytes\":\"{}\"}}", "QUJD".repeat(1_000_000));
        let big = ObjectRecord {
            kind: ObjectKind::ManagedLoginBranding,
            pool_id: p.clone(),
            name: "client".into(),
            body,
            created_ms: 2,
            modified_ms: 2,
        };
        store.create_object(&big).await.unwrap();
        let got = store
            .get_object(ObjectKind::ManagedLoginBranding, &p, "client")
            .await
            .unwrap();
        assert_eq!(got, Some(big.clone()), "{name}");
        // Compare-and-set: written only over the object read.
        let mut first = big.clone();
        first.body = "first".into();
        first.modified_ms = 3;
        store.replace_object_if(&first, &big).await.unwrap();
        let mut late = big.clone();
        late.body = "late".into();
        let lost = store.replace_object_if(&late, &big).await;
        assert!(
            matches!(lost, Err(StoreError::Conflict(VERSION_CONFLICT))),
            "{name}: {lost:?}"
        );
        // The same body at another date is another write too.
        let mut same_body = first.clone();
        same_body.modified_ms = 1;
        let lost = store.replace_object_if(&late, &same_body).await;
        assert!(
            matches!(lost, Err(StoreError::Conflict(VERSION_CONFLICT))),
            "{name}: {lost:?}"
        );
        let kept = store
            .get_object(ObjectKind::ManagedLoginBranding, &p, "client")
            .await
            .unwrap();
        assert_eq!(kept, Some(first.clone()), "{name}");
        store
            .delete_object(ObjectKind::ManagedLoginBranding, &p, "client")
            .await
            .unwrap();
        let gone = store.replace_object_if(&late, &first).await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{name}: {gone:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn objects_compare_and_set_and_global_ones_list_across_pools() {
    for (name, store, _dir) in engines().await {
        let (p, _) = seed(store.as_ref()).await;
        store.create_pool(&pool("us-east-1_other")).await.unwrap();
        let object = |kind: ObjectKind, pool_id: &str, n: &str, body: &str| ObjectRecord {
            kind,
            pool_id: pool_id.into(),
            name: n.into(),
            body: body.into(),
            created_ms: 5,
            modified_ms: 5,
        };
        store
            .create_object(&object(ObjectKind::ImportJob, &p, "import-a", "v1"))
            .await
            .unwrap();
        // Written only over the body read; a stale writer is told so and writes nothing.
        store
            .replace_object_if(
                &object(ObjectKind::ImportJob, &p, "import-a", "v2"),
                &object(ObjectKind::ImportJob, &p, "import-a", "v1"),
            )
            .await
            .unwrap();
        let stale = store
            .replace_object_if(
                &object(ObjectKind::ImportJob, &p, "import-a", "v3"),
                &object(ObjectKind::ImportJob, &p, "import-a", "v1"),
            )
            .await;
        assert!(
            matches!(stale, Err(StoreError::Conflict(VERSION_CONFLICT))),
            "{name}: {stale:?}"
        );
        let got = store
            .get_object(ObjectKind::ImportJob, &p, "import-a")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.body, "v2", "{name}");
        let gone = store
            .replace_object_if(
                &object(ObjectKind::ImportJob, &p, "import-b", "v2"),
                &object(ObjectKind::ImportJob, &p, "import-b", "v1"),
            )
            .await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{name}: {gone:?}");
        // Import runs are unique across pools and listed whatever their pool, by name.
        for (pool_id, n) in [(p.as_str(), "b"), ("us-east-1_other", "a"), (p.as_str(), "c")] {
            store
                .create_object(&object(ObjectKind::ImportRun, pool_id, n, "{}"))
                .await
                .unwrap();
        }
        let taken = store.create_object(&object(ObjectKind::ImportRun, &p, "a", "{}")).await;
        assert!(matches!(taken, Err(StoreError::Conflict(_))), "{name}: {taken:?}");
        let first = store.list_global_objects(ObjectKind::ImportRun, None, 2).await.unwrap();
        let names: Vec<_> = first
            .items
            .iter()
            .map(|o| (o.pool_id.as_str(), o.name.as_str()))
            .collect();
        assert_eq!(names, [("us-east-1_other", "a"), (p.as_str(), "b")], "{name}");
        let rest = store
            .list_global_objects(ObjectKind::ImportRun, first.next_after.as_deref(), 2)
            .await
            .unwrap();
        let names: Vec<_> = rest.items.iter().map(|o| o.name.as_str()).collect();
        assert_eq!((names, rest.next_after), (vec!["c"], None), "{name}");
        store.delete_pool("us-east-1_other").await.unwrap();
        let left = store
            .list_global_objects(ObjectKind::ImportRun, None, 10)
            .await
            .unwrap();
        assert_eq!(left.items.len(), 2, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn auth_events_page_newest_first_and_go_with_their_user() {
    for (name, store, _dir) in engines().await {
        let (p, k) = seed(store.as_ref()).await;
        let event = |id: &str, at: i64, expires: i64| AuthEventRecord {
            pool_id: p.clone(),
            username_key: k.clone(),
            event_id: id.into(),
            created_ms: at,
            body: format!("{{\"id\":\"{id}\"}}"),
            expires_ms: expires,
        };
        // Two events in one millisecond are ordered by id (descending, like the time).
        for (id, at) in [("e1", 10), ("e2", 20), ("e3b", 30), ("e3a", 30), ("e4", 40)] {
            store.put_auth_event(&event(id, at, 1_000)).await.unwrap();
        }
        let dup = store.put_auth_event(&event("e1", 50, 1_000)).await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{name}: {dup:?}");
        let mut orphan = event("e9", 50, 1_000);
        orphan.username_key = "nobody".into();
        let orphan = store.put_auth_event(&orphan).await;
        assert!(matches!(orphan, Err(StoreError::NotFound)), "{name}: {orphan:?}");
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let cursor = after.as_deref().and_then(|a| a.split_once(':'));
            let cursor = cursor.map(|(ms, id)| (ms.parse::<i64>().unwrap(), id));
            let page = store.list_auth_events(&p, &k, cursor, 2).await.unwrap();
            seen.extend(page.items.iter().map(|e| e.event_id.clone()));
            match page.next_after {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, ["e4", "e3b", "e3a", "e2", "e1"], "{name}");
        // Read, replace (the body only), NotFound for what is not there.
        let mut e2 = store.get_auth_event(&p, &k, "e2").await.unwrap().unwrap();
        assert_eq!(e2, event("e2", 20, 1_000), "{name}");
        assert_eq!(store.get_auth_event(&p, "bob", "e2").await.unwrap(), None, "{name}");
        e2.body = "{}".into();
        store.replace_auth_event(&e2).await.unwrap();
        assert_eq!(
            store.get_auth_event(&p, &k, "e2").await.unwrap().unwrap().body,
            "{}",
            "{name}"
        );
        let missing = store.replace_auth_event(&event("e7", 1, 1)).await;
        assert!(matches!(missing, Err(StoreError::NotFound)), "{name}: {missing:?}");
        // Expired events are pruned; a deleted user's events go with the user.
        store.put_auth_event(&event("old", 5, 100)).await.unwrap();
        store.prune_expired(500, 100).await.unwrap();
        assert_eq!(store.get_auth_event(&p, &k, "old").await.unwrap(), None, "{name}");
        assert!(store.get_auth_event(&p, &k, "e1").await.unwrap().is_some(), "{name}");
        store.delete_user(&p, &k).await.unwrap();
        let left = store.list_auth_events(&p, &k, None, 10).await.unwrap();
        assert!(left.items.is_empty(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_import_batch_and_its_job_commit_together() {
    for (name, store, _dir) in engines().await {
        let (p, _) = seed(store.as_ref()).await;
        let job = ObjectRecord {
            kind: ObjectKind::ImportJob,
            pool_id: p.clone(),
            name: "import-j".into(),
            body: "0".into(),
            created_ms: 5,
            modified_ms: 5,
        };
        store.create_object(&job).await.unwrap();
        store
            .create_user(&user(&p, "bob", "00000000-0000-4000-8000-00000000000b", "bob@x.com"))
            .await
            .unwrap();
        let count = |outcomes: &[userpool_store::ImportOutcome]| {
            outcomes
                .iter()
                .filter(|o| **o == userpool_store::ImportOutcome::Created)
                .count()
                .to_string()
        };
        let batch = [
            user(&p, "carol", "00000000-0000-4000-8000-00000000000c", "carol@x.com"),
            // The username is taken: left out, the others go on.
            user(&p, "bob", "00000000-0000-4000-8000-00000000000d", "other@x.com"),
            // Another user has the email alias.
            user(&p, "dave", "00000000-0000-4000-8000-00000000000e", "bob@x.com"),
            user(&p, "erin", "00000000-0000-4000-8000-00000000000f", "erin@x.com"),
            // A clash inside the batch itself.
            user(&p, "carol", "00000000-0000-4000-8000-000000000010", "carol2@x.com"),
        ];
        let outcomes = store.import_users(&batch, &job, "0", &count).await.unwrap();
        use userpool_store::ImportOutcome::{AliasExists, Created, UsernameExists};
        assert_eq!(
            outcomes,
            [Created, UsernameExists, AliasExists, Created, UsernameExists],
            "{name}"
        );
        let got = store
            .get_object(ObjectKind::ImportJob, &p, "import-j")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.body, "2", "{name}");
        assert!(store.get_user(&p, "erin").await.unwrap().is_some(), "{name}");
        assert!(store.get_user(&p, "dave").await.unwrap().is_none(), "{name}");
        assert!(
            store
                .find_user_by_alias(&p, "email:carol2@x.com")
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert_eq!(
            store
                .find_user_by_alias(&p, "email:bob@x.com")
                .await
                .unwrap()
                .unwrap()
                .username_key,
            "bob",
            "{name}"
        );
        // The job changed since it was read: nothing of the batch is written.
        let late = [user(&p, "frank", "00000000-0000-4000-8000-000000000011", "frank@x.com")];
        let lost = store.import_users(&late, &job, "0", &count).await;
        assert!(
            matches!(lost, Err(StoreError::Conflict(VERSION_CONFLICT))),
            "{name}: {lost:?}"
        );
        assert!(store.get_user(&p, "frank").await.unwrap().is_none(), "{name}");
        assert!(
            store
                .find_user_by_alias(&p, "email:frank@x.com")
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        store
            .delete_object(ObjectKind::ImportJob, &p, "import-j")
            .await
            .unwrap();
        let gone = store.import_users(&late, &job, "2", &count).await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{name}: {gone:?}");
        assert!(store.get_user(&p, "frank").await.unwrap().is_none(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_members_messages_and_keys() {
    for (name, store, _dir) in engines().await {
        let (p, k) = seed(store.as_ref()).await;
        let group = |n: &str| GroupRecord {
            pool_id: p.clone(),
            name: n.into(),
            description: None,
            role_arn: None,
            precedence: Some(3),
            created_ms: 1,
            modified_ms: 1,
        };
        for g in ["b", "a", "c"] {
            store.create_group(&group(g)).await.unwrap();
        }
        assert!(
            matches!(store.create_group(&group("a")).await, Err(StoreError::Conflict(_))),
            "{name}"
        );
        let mut g = group("none");
        g.pool_id = "us-east-1_none".into();
        assert!(
            matches!(store.create_group(&g).await, Err(StoreError::NotFound)),
            "{name}"
        );
        let page = store.list_groups(&p, None, 2).await.unwrap();
        assert_eq!(page.next_after.as_deref(), Some("b"), "{name}");
        let mut a = store.get_group(&p, "a").await.unwrap().unwrap();
        a.description = Some("d".into());
        a.precedence = None;
        store.update_group(&a).await.unwrap();
        assert_eq!(store.get_group(&p, "a").await.unwrap(), Some(a.clone()), "{name}");
        store.add_to_group(&p, "a", &k).await.unwrap();
        store.add_to_group(&p, "a", &k).await.unwrap();
        store.add_to_group(&p, "c", &k).await.unwrap();
        assert!(
            matches!(store.add_to_group(&p, "zz", &k).await, Err(StoreError::NotFound)),
            "{name}"
        );
        let of_user = store.groups_of_user(&p, &k, None, 10).await.unwrap();
        assert_eq!(
            of_user.items.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["a", "c"],
            "{name}"
        );
        assert_eq!(
            store.users_in_group(&p, "a", None, 10).await.unwrap().items.len(),
            1,
            "{name}"
        );
        store.remove_from_group(&p, "a", &k).await.unwrap();
        store.remove_from_group(&p, "a", &k).await.unwrap();
        store.delete_group(&p, "c").await.unwrap();
        assert!(
            store.groups_of_user(&p, &k, None, 10).await.unwrap().items.is_empty(),
            "{name}"
        );
        assert!(
            matches!(store.delete_group(&p, "c").await, Err(StoreError::NotFound)),
            "{name}"
        );

        // The outbox numbers messages in the order they were sent.
        let message = |who: &str| MessageRecord {
            id: 0,
            pool_id: p.clone(),
            username_key: who.into(),
            username: who.into(),
            channel: "EMAIL".into(),
            destination: "a@x.y".into(),
            subject: Some("s".into()),
            sealed_body: vec![1, 2],
            kind: "signup".into(),
            created_ms: 1,
            expires_ms: 100,
        };
        let first = store.put_message(&message(&k)).await.unwrap();
        let second = store.put_message(&message("other")).await.unwrap();
        let third = store.put_message(&message(&k)).await.unwrap();
        assert!(first < second && second < third, "{name}");
        let mine = store.list_messages(&p, Some(&k), 0, 10).await.unwrap();
        assert_eq!(mine.iter().map(|m| m.id).collect::<Vec<_>>(), [first, third], "{name}");
        assert_eq!(mine[0].sealed_body, vec![1, 2], "{name}");
        assert_eq!(
            store.list_messages(&p, None, first, 1).await.unwrap()[0].id,
            second,
            "{name}"
        );
        // A user's messages go with the user.
        store.delete_user(&p, &k).await.unwrap();
        let left = store.list_messages(&p, None, 0, 10).await.unwrap();
        assert_eq!(left.iter().map(|m| m.id).collect::<Vec<_>>(), [second], "{name}");

        let key = |kid: &str, created_ms: i64| SigningKeyRecord {
            pool_id: p.clone(),
            kid: kid.into(),
            token_use: "id".into(),
            sealed_private: vec![1],
            public_n: vec![2],
            public_e: vec![1, 0, 1],
            created_ms,
        };
        store.put_signing_key(&key("k2", 5)).await.unwrap();
        store.put_signing_key(&key("k1", 7)).await.unwrap();
        assert!(
            matches!(store.put_signing_key(&key("k1", 7)).await, Err(StoreError::Conflict(_))),
            "{name}"
        );
        let keys = store.signing_keys(&p).await.unwrap();
        assert_eq!(
            keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            ["k2", "k1"],
            "{name}"
        );
    }
}

/// PostgreSQL only: several nodes starting at once on one (empty) schema migrate it once,
/// and a restart applies nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_nodes_starting_together_migrate_once() {
    let Some(url) = std::env::var("USERPOOL_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        return;
    };
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let schema = format!("migrate_{}_{nanos}", std::process::id());
    let mut nodes = Vec::new();
    for _ in 0..4 {
        let (url, schema) = (url.clone(), schema.clone());
        nodes.push(tokio::spawn(async move {
            PostgresStore::connect_in_schema(&url, Some(&schema)).await.unwrap()
        }));
    }
    let mut stores = Vec::new();
    for n in nodes {
        stores.push(n.await.unwrap());
    }
    // Each sees the others' writes: one database.
    stores[0].create_pool(&pool("us-east-1_shared")).await.unwrap();
    for s in &stores {
        assert!(s.get_pool("us-east-1_shared").await.unwrap().is_some());
    }
    drop(stores);
    let again = PostgresStore::connect_in_schema(&url, Some(&schema)).await.unwrap();
    assert_eq!(again.list_pools(None, 10).await.unwrap().items.len(), 1);
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let applied: i64 = client
        .query_one(&format!("SELECT count(*) FROM {schema}.schema_migrations"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, userpool_store::postgres::MIGRATION_COUNT);
    assert!(matches!(
        PostgresStore::connect_in_schema(&url, Some("no-such\"schema")).await,
        Err(StoreError::Backend(_))
    ));
}
