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
    CodeRecord, DeviceRecord, PasswordSpend, PoolRecord, Store, StoreError, UserRecord, VERSION_CONFLICT,
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
