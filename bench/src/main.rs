//! `userpool-bench`: the load harness (issue 5). One run starts userpool (release, fresh
//! data file), userpool on PostgreSQL (one node, and three nodes on one database; a fresh
//! database per scenario, `--postgres`), moto (`moto_server`), cognito-local, fakecloud
//! and a fixed-JSON ceiling, each on its own loopback ports; builds each scenario's state
//! through the API; drives it with the compiled load generator at 16 connections
//! (SigV4-signed, as userpool verifies; spread over a target's nodes); and writes a
//! markdown report (bench/results/latest.md and the README's benchmark section), naming
//! what bounds each figure where the measurements show it.
//!
//! Scenarios S1 to S9 are the `scenario!` calls (and the S7 and S9 blocks) in `main`; the
//! big S6 pools, S8 (USER_AUTH sign-in with an email code read from userpool's outbox) and
//! S9 (AdminGetUser while a job imports 100,000 users from a CSV file uploaded to its
//! pre-signed URL) run on userpool's columns only, the peers' cells saying so.
//!
//! `bash bench/run.sh` is the documented entry point (it builds and installs the peers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    reason = "a benchmark harness: failing loudly is right, and rates are floats"
)]

mod client;
mod load;
mod pg;
mod srp;
mod totp;

use client::Conn;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONNS: usize = 16;
const PASSWORD: &str = "Passw0rd!Bench";
/// Usernames are email addresses: cognito-local insists on them, and every target accepts them.
const ALICE: &str = "alice@example.com";

struct Options {
    secs: u64,
    soak_secs: u64,
    big_users: u64,
    userpool: PathBuf,
    moto: Option<String>,
    cognito_local: Option<String>,
    fakecloud: Option<String>,
    /// A PostgreSQL server URL (a database on it to connect to, e.g. `postgres`); the
    /// `userpool-pg` targets are skipped without it.
    postgres: Option<String>,
    readme: Option<PathBuf>,
    out: PathBuf,
    /// Scenario labels to run ("S1,S2,S6"); empty runs them all. For quick looks while
    /// profiling; a full run leaves it empty.
    only: Vec<String>,
}

impl Options {
    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| scenario.starts_with(s.as_str()))
    }
}

/// A running target: one process, or several nodes on one database (`addrs[i]` is
/// `children[i]`'s); setup calls go to the first.
struct Target {
    name: &'static str,
    addrs: Vec<SocketAddr>,
    children: Vec<Child>,
    _dir: Option<PathBuf>,
    /// The PostgreSQL server and the database the nodes use.
    pg: Option<(Arc<pg::Server>, String)>,
}

impl Drop for Target {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Target {
    fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

/// A column of the report: a target that runs the whole time, or userpool on PostgreSQL,
/// started on a fresh database for each scenario and stopped after it.
enum Slot {
    Running(Target),
    Pg { name: &'static str, nodes: usize },
}

impl Slot {
    fn name(&self) -> &'static str {
        match self {
            Slot::Running(t) => t.name,
            Slot::Pg { name, .. } => name,
        }
    }
}

/// A slot's target for one scenario.
enum Held<'a> {
    Borrowed(&'a Target),
    Owned(Target),
}

impl std::ops::Deref for Held<'_> {
    type Target = Target;
    fn deref(&self) -> &Target {
        match self {
            Held::Borrowed(t) => t,
            Held::Owned(t) => t,
        }
    }
}

/// Userpool on PostgreSQL: a fresh database, `nodes` processes on it (loopback ports,
/// one data key, one public URL, as behind a load balancer).
async fn start_pg(
    name: &'static str,
    nodes: usize,
    o: &Options,
    server: &Arc<pg::Server>,
    key: &Path,
) -> Result<Target, String> {
    let (db, url) = server.create_db().await;
    let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let mut t = Target {
        name,
        addrs: Vec::new(),
        children: Vec::new(),
        _dir: None,
        pg: Some((server.clone(), db)),
    };
    for port in ports {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut cmd = Command::new(&o.userpool);
        cmd.args([
            "serve",
            "--listen",
            &addr.to_string(),
            "--database",
            &url,
            "--public-url",
            &public,
        ])
        .arg("--data-key-file")
        .arg(key)
        .env("USERPOOL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let spawned = cmd.spawn();
        let started = match spawned {
            Ok(child) => {
                t.children.push(child);
                t.addrs.push(addr);
                // One at a time: the first applies the migrations.
                wait_port(addr, 60)
            }
            Err(_) => false,
        };
        if !started {
            retire(Held::Owned(t)).await;
            return Err(format!("{name}: a node did not start"));
        }
    }
    Ok(t)
}

/// Brings a slot's target up for a scenario.
async fn up<'a>(slot: &'a Slot, o: &Options, server: Option<&Arc<pg::Server>>, key: &Path) -> Result<Held<'a>, String> {
    match slot {
        Slot::Running(t) => Ok(Held::Borrowed(t)),
        Slot::Pg { name, nodes } => {
            let server = server.ok_or("no --postgres")?;
            start_pg(name, *nodes, o, server, key).await.map(Held::Owned)
        }
    }
}

/// Stops a scenario's own target and drops its database.
async fn retire(held: Held<'_>) {
    if let Held::Owned(mut t) = held {
        let pg = t.pg.take();
        drop(t);
        if let Some((server, db)) = pg {
            server.drop_db(&db).await;
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(addr: SocketAddr, secs: u64) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn start(name: &'static str, mut cmd: Command, port: u16, dir: Option<PathBuf>) -> Option<Target> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
    let t = Target {
        name,
        addrs: vec![addr],
        children: vec![child],
        _dir: dir,
        pg: None,
    };
    if wait_port(addr, 60) {
        Some(t)
    } else {
        eprintln!("{name} did not start");
        None
    }
}

/// One cell of the report: a measurement, or why the target cannot do the scenario.
enum Cell {
    Done {
        stats: load::Stats,
        /// CPU seconds and peak RSS of the target's processes, summed over its nodes.
        cpu: f64,
        rss_kib: u64,
        note: String,
        env: Box<Env>,
    },
    Cannot(String),
}

/// What else the machine did during a measurement: the ground for naming its bound.
struct Env {
    cores: usize,
    /// The machine's busy share of all cores' time.
    busy: f64,
    /// The load generator's (this process's) CPU seconds.
    gen_cpu: f64,
    nodes: usize,
    pg: Option<pg::Use>,
}

struct Row {
    scenario: String,
    cells: Vec<(&'static str, Cell)>,
}

async fn connect(t: &Target) -> Conn {
    Conn::connect(t.addrs[0]).await.expect("connect")
}

async fn new_pool(c: &mut Conn, devices: bool) -> Result<String, String> {
    let mut body = json!({"PoolName": format!("bench-{}", uuid::Uuid::new_v4().simple())});
    if devices {
        body["DeviceConfiguration"] =
            json!({"ChallengeRequiredOnNewDevice": true, "DeviceOnlyRememberedOnUserPrompt": false});
    }
    let r = c.ok("CreateUserPool", &body).await?;
    r["UserPool"]["Id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no pool id: {r}"))
}

async fn new_client(c: &mut Conn, pool: &str) -> Result<String, String> {
    let r = c
        .ok(
            "CreateUserPoolClient",
            &json!({"UserPoolId": pool, "ClientName": "bench", "ExplicitAuthFlows": [
                "ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"]}),
        )
        .await?;
    r["UserPoolClient"]["ClientId"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no client id: {r}"))
}

async fn new_user(c: &mut Conn, pool: &str, name: &str, password: bool) -> Result<(), String> {
    c.ok(
        "AdminCreateUser",
        &json!({"UserPoolId": pool, "Username": name, "MessageAction": "SUPPRESS",
                "UserAttributes": [{"Name": "email", "Value": name}]}),
    )
    .await?;
    if password {
        c.ok(
            "AdminSetUserPassword",
            &json!({"UserPoolId": pool, "Username": name, "Password": PASSWORD, "Permanent": true}),
        )
        .await?;
    }
    Ok(())
}

/// Creates `n` users with the load generator (the fast way to build big pools).
async fn bulk_users(t: &Target, pool: &str, prefix: &str, n: u64, limit: Duration) -> Result<(), String> {
    let pool = pool.to_string();
    let prefix = prefix.to_string();
    let s = load::run(&t.addrs, CONNS, limit, n, move |mut c, i| {
        let (pool, prefix) = (pool.clone(), prefix.clone());
        async move {
            let r = c
                .ok(
                    "AdminCreateUser",
                    &json!({"UserPoolId": pool, "Username": format!("{prefix}{i}@example.com"), "MessageAction": "SUPPRESS",
                            "UserAttributes": [{"Name": "email", "Value": format!("{prefix}{i}@example.com")}]}),
                )
                .await
                .map(|_| ());
            (c, r)
        }
    })
    .await;
    if s.ok >= n {
        Ok(())
    } else {
        Err(format!(
            "setup: only {} of {n} users created in {:.0} s{}",
            s.ok,
            s.elapsed.as_secs_f64(),
            s.first_error.map(|e| format!(" ({e})")).unwrap_or_default()
        ))
    }
}

/// SRP sign-in from the client side; the AuthenticationResult.
async fn srp_sign_in(
    c: &mut Conn,
    pool: &str,
    client: &str,
    user: &str,
    device: Option<&(String, String, String)>,
) -> Result<Value, String> {
    let ch = srp::start();
    let mut params = json!({"USERNAME": user, "SRP_A": userpool_srp::to_hex(&ch.big_a)});
    if let Some((key, _, _)) = device {
        params["DEVICE_KEY"] = json!(key);
    }
    let r = c
        .ok(
            "InitiateAuth",
            &json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": client, "AuthParameters": params}),
        )
        .await?;
    if r["ChallengeName"] != "PASSWORD_VERIFIER" {
        return Err(format!("no PASSWORD_VERIFIER: {r}"));
    }
    let pool_name = pool.split_once('_').map(|(_, n)| n).unwrap_or(pool);
    let p = &r["ChallengeParameters"];
    let uid = p["USER_ID_FOR_SRP"].as_str().unwrap_or(user).to_string();
    let extra: Vec<(&str, &str)> = device
        .map(|(k, _, _)| vec![("DEVICE_KEY", k.as_str())])
        .unwrap_or_default();
    let answer = srp::answer(&ch, p, pool_name, &uid, PASSWORD, &extra)?;
    let r = c
        .ok(
            "RespondToAuthChallenge",
            &json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": client, "ChallengeResponses": answer}),
        )
        .await?;
    if let Some(device) = device {
        if r["ChallengeName"] != "DEVICE_SRP_AUTH" {
            return Err(format!("no DEVICE_SRP_AUTH: {r}"));
        }
        return device_srp(c, client, &uid, &r["Session"], device).await;
    }
    if r["AuthenticationResult"]["AccessToken"].is_string() {
        Ok(r["AuthenticationResult"].clone())
    } else {
        Err(format!("no tokens: {r}"))
    }
}

/// Answers a DEVICE_SRP_AUTH challenge (its `session`) with `device` (key, group key,
/// device secret): DEVICE_SRP_AUTH, then DEVICE_PASSWORD_VERIFIER; the AuthenticationResult.
async fn device_srp(
    c: &mut Conn,
    client: &str,
    uid: &str,
    session: &Value,
    (key, group, secret): &(String, String, String),
) -> Result<Value, String> {
    let ch = srp::start();
    let r = c
        .ok(
            "RespondToAuthChallenge",
            &json!({"ChallengeName": "DEVICE_SRP_AUTH", "ClientId": client, "Session": session,
            "ChallengeResponses": {"USERNAME": uid, "DEVICE_KEY": key, "SRP_A": userpool_srp::to_hex(&ch.big_a)}}),
        )
        .await?;
    if r["ChallengeName"] != "DEVICE_PASSWORD_VERIFIER" {
        return Err(format!("no DEVICE_PASSWORD_VERIFIER: {r}"));
    }
    let answer = srp::answer(
        &ch,
        &r["ChallengeParameters"],
        group,
        key,
        secret,
        &[("DEVICE_KEY", key.as_str())],
    )?;
    let r = c
        .ok(
            "RespondToAuthChallenge",
            &json!({"ChallengeName": "DEVICE_PASSWORD_VERIFIER", "ClientId": client,
            "Session": r["Session"], "ChallengeResponses": answer}),
        )
        .await?;
    Ok(r["AuthenticationResult"].clone())
}

/// A confirmed, remembered device of `user`: (key, group key, device secret).
async fn confirmed_device(
    c: &mut Conn,
    pool: &str,
    client: &str,
    user: &str,
) -> Result<(String, String, String), String> {
    let res = srp_sign_in(c, pool, client, user, None).await?;
    let key = res["NewDeviceMetadata"]["DeviceKey"]
        .as_str()
        .ok_or("no NewDeviceMetadata issued at sign-in")?
        .to_string();
    let group = res["NewDeviceMetadata"]["DeviceGroupKey"]
        .as_str()
        .ok_or("no DeviceGroupKey")?
        .to_string();
    let (secret, cfg) = srp::device_verifier(&group, &key);
    c.ok("ConfirmDevice", &json!({"AccessToken": res["AccessToken"], "DeviceKey": key, "DeviceSecretVerifierConfig": cfg, "DeviceName": "bench"}))
        .await?;
    c.ok(
        "UpdateDeviceStatus",
        &json!({"AccessToken": res["AccessToken"], "DeviceKey": key, "DeviceRememberedStatus": "remembered"}),
    )
    .await?;
    Ok((key, group, secret))
}

/// Runs a request loop against `t`, with the target's CPU and peak RSS (summed over its
/// nodes), the machine's busy share, the load generator's CPU and, on PostgreSQL, the
/// server's CPU, commits and WAL and its backends' sampled states.
async fn measure<F, Fut>(t: &Target, secs: u64, max: u64, note: String, f: F) -> Cell
where
    F: Fn(Conn, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Conn, Result<(), String>)> + Send,
{
    let cpu_of = |pids: &[u32]| pids.iter().map(|p| load::proc_cpu_secs(*p)).sum::<f64>();
    let pids = t.pids();
    if let Some((server, _)) = &t.pg {
        server.checkpoint().await;
    }
    let pg_before = match &t.pg {
        Some((server, _)) => Some(server.counters().await),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = t.pg.as_ref().map(|(server, db)| server.sample(db, stop.clone()));
    let me = std::process::id();
    let (gen0, ticks0, cpu0) = (load::proc_cpu_secs(me), load::machine_ticks(), cpu_of(&pids));
    let stats = load::run(&t.addrs, CONNS, Duration::from_secs(secs), max, f).await;
    let (gen1, ticks1, cpu1) = (load::proc_cpu_secs(me), load::machine_ticks(), cpu_of(&pids));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let waits = match sampler {
        Some(h) => h.await.unwrap_or_default(),
        None => pg::Waits::default(),
    };
    let pg = match (&t.pg, pg_before) {
        (Some((server, _)), Some(before)) => {
            let after = server.counters().await;
            Some(server.since(&before, &after, waits))
        }
        _ => None,
    };
    let hwm = pids.iter().map(|p| load::proc_rss_kib(*p).1).sum();
    let busy = (ticks1.0 - ticks0.0) as f64 / (ticks1.1 - ticks0.1).max(1) as f64;
    Cell::Done {
        stats,
        cpu: cpu1 - cpu0,
        rss_kib: hwm,
        note,
        env: Box::new(Env {
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            busy,
            gen_cpu: gen1 - gen0,
            nodes: pids.len(),
            pg,
        }),
    }
}

/// One loop iteration's future.
type Step = std::pin::Pin<Box<dyn std::future::Future<Output = (Conn, Result<(), String>)> + Send>>;

/// A loop that sends one fixed request.
fn simple(op: &'static str, body: Value) -> impl Fn(Conn, u64) -> Step + Clone + Send + Sync + 'static {
    move |mut c: Conn, _i: u64| {
        let body = body.clone();
        Box::pin(async move {
            let r = c.ok(op, &body).await.map(|_| ());
            (c, r)
        })
    }
}

async fn s1_admin_get_device(t: &Target, o: &Options) -> Cell {
    let mut c = connect(t).await;
    let setup = async {
        let pool = new_pool(&mut c, true).await?;
        let client = new_client(&mut c, &pool).await?;
        new_user(&mut c, &pool, ALICE, true).await?;
        let (key, _, _) = confirmed_device(&mut c, &pool, &client, ALICE).await?;
        c.ok(
            "AdminGetDevice",
            &json!({"UserPoolId": pool, "Username": ALICE, "DeviceKey": key}),
        )
        .await?;
        Ok::<_, String>((pool, key))
    };
    match setup.await {
        Err(e) => Cell::Cannot(e),
        Ok((pool, key)) => {
            measure(
                t,
                o.secs,
                u64::MAX,
                String::new(),
                simple(
                    "AdminGetDevice",
                    json!({"UserPoolId": pool, "Username": ALICE, "DeviceKey": key}),
                ),
            )
            .await
        }
    }
}

async fn s2_admin_get_user(t: &Target, o: &Options, users: u64, label: &str, build_limit: Duration) -> Cell {
    let mut c = connect(t).await;
    let pool = match new_pool(&mut c, false).await {
        Ok(p) => p,
        Err(e) => return Cell::Cannot(e),
    };
    let started = Instant::now();
    if let Err(e) = bulk_users(t, &pool, "user", users, build_limit).await {
        return Cell::Cannot(e);
    }
    let setup_secs = started.elapsed().as_secs_f64();
    measure(
        t,
        o.secs,
        u64::MAX,
        format!("{label}: {users} users built in {setup_secs:.0} s"),
        move |mut c: Conn, i: u64| {
            let pool = pool.clone();
            async move {
                let r = random_get_user(&mut c, &pool, users, i).await;
                (c, r)
            }
        },
    )
    .await
}

async fn s3_password_sign_in(t: &Target, o: &Options) -> Cell {
    let mut c = connect(t).await;
    let setup = async {
        let pool = new_pool(&mut c, false).await?;
        let client = new_client(&mut c, &pool).await?;
        new_user(&mut c, &pool, ALICE, true).await?;
        Ok::<_, String>(client)
    };
    match setup.await {
        Err(e) => Cell::Cannot(e),
        Ok(client) => {
            let body = json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client, "AuthParameters": {"USERNAME": ALICE, "PASSWORD": PASSWORD}});
            measure(t, o.secs, u64::MAX, String::new(), move |mut c: Conn, _i| {
                let body = body.clone();
                async move {
                    let r = match c.ok("InitiateAuth", &body).await {
                        Ok(v) if v["AuthenticationResult"]["AccessToken"].is_string() => Ok(()),
                        Ok(v) => Err(format!("no tokens: {v}")),
                        Err(e) => Err(e),
                    };
                    (c, r)
                }
            })
            .await
        }
    }
}

async fn s4_srp_sign_in(t: &Target, o: &Options) -> Cell {
    let mut c = connect(t).await;
    let setup = async {
        let pool = new_pool(&mut c, false).await?;
        let client = new_client(&mut c, &pool).await?;
        new_user(&mut c, &pool, ALICE, true).await?;
        srp_sign_in(&mut c, &pool, &client, ALICE, None).await?;
        // A wrong password must not yield tokens; a peer that gives them fakes SRP.
        let ch = srp::start();
        let r = c
            .ok(
                "InitiateAuth",
                &json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": client,
            "AuthParameters": {"USERNAME": ALICE, "SRP_A": userpool_srp::to_hex(&ch.big_a)}}),
            )
            .await?;
        let pool_name = pool.split_once('_').map(|(_, n)| n).unwrap_or(&pool).to_string();
        let uid = r["ChallengeParameters"]["USER_ID_FOR_SRP"]
            .as_str()
            .unwrap_or(ALICE)
            .to_string();
        let bad = srp::answer(&ch, &r["ChallengeParameters"], &pool_name, &uid, "WrongPassw0rd!", &[])?;
        let wrong = c
            .call(
                "RespondToAuthChallenge",
                &json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": client, "ChallengeResponses": bad}),
            )
            .await?;
        let fakes = wrong.status == 200;
        Ok::<_, String>((pool, client, fakes))
    };
    match setup.await {
        Err(e) => Cell::Cannot(e),
        Ok((pool, client, fakes)) => {
            let note = if fakes {
                "gives tokens for a wrong password".to_string()
            } else {
                String::new()
            };
            measure(t, o.secs, u64::MAX, note, move |mut c: Conn, _i| {
                let (pool, client) = (pool.clone(), client.clone());
                async move {
                    let r = srp_sign_in(&mut c, &pool, &client, ALICE, None).await.map(|_| ());
                    (c, r)
                }
            })
            .await
        }
    }
}

async fn s5_admin_create_user(t: &Target, o: &Options) -> Cell {
    let mut c = connect(t).await;
    let pool = match new_pool(&mut c, false).await {
        Ok(p) => p,
        Err(e) => return Cell::Cannot(e),
    };
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let (p2, a2) = (pool.clone(), acked.clone());
    let cell = measure(t, o.secs, u64::MAX, String::new(), move |mut c: Conn, i: u64| {
        let (pool, acked) = (p2.clone(), a2.clone());
        async move {
            let r = c
                .ok(
                    "AdminCreateUser",
                    &json!({"UserPoolId": pool, "Username": format!("new{i}@example.com"), "MessageAction": "SUPPRESS"}),
                )
                .await
                .map(|_| ());
            if r.is_ok() {
                acked.lock().unwrap().push(i);
            }
            (c, r)
        }
    })
    .await;
    // Every acknowledged user must be there.
    let acked: Vec<u64> = acked.lock().unwrap().clone();
    let n = acked.len() as u64;
    let list = std::sync::Arc::new(acked);
    let (p3, l3) = (pool.clone(), list.clone());
    let check = load::run(
        &t.addrs,
        CONNS,
        Duration::from_secs(600),
        n,
        move |mut c: Conn, i: u64| {
            let (pool, list) = (p3.clone(), l3.clone());
            async move {
                let id = list[usize::try_from(i).unwrap()];
                let r = c
                    .ok(
                        "AdminGetUser",
                        &json!({"UserPoolId": pool, "Username": format!("new{id}@example.com")}),
                    )
                    .await
                    .map(|_| ());
                (c, r)
            }
        },
    )
    .await;
    let mut cell = cell;
    if let Cell::Done { note, .. } = &mut cell {
        *note = format!("{} of {n} acknowledged users found afterwards", check.ok);
    }
    cell
}

async fn s6_list_users_filter(t: &Target, o: &Options) -> Cell {
    let mut c = connect(t).await;
    let pool = match new_pool(&mut c, false).await {
        Ok(p) => p,
        Err(e) => return Cell::Cannot(e),
    };
    if let Err(e) = bulk_users(t, &pool, "user", 10_000, Duration::from_secs(120)).await {
        return Cell::Cannot(e);
    }
    measure(
        t,
        o.secs,
        u64::MAX,
        "10,000 users".into(),
        move |mut c: Conn, i: u64| {
            let pool = pool.clone();
            async move {
                let prefix = format!("user{}", (i % 9) + 1);
                let r = c
                    .ok(
                        "ListUsers",
                        &json!({"UserPoolId": pool, "Filter": format!("email ^= \"{prefix}\""), "Limit": 10}),
                    )
                    .await
                    .map(|_| ());
                (c, r)
            }
        },
    )
    .await
}

/// S7a's users per second of the run. A TOTP code is accepted once per 30-s step per
/// user, so every new-device sign-in within one step needs its own user: the pool holds
/// `min(secs, 31) * S7_USERS_PER_SEC` users (this machine signs in 600 to 1,100 a second,
/// and builds about 700 a second). When every user has spent the current step, S7a ends early
/// (no stall, no errors) and says so.
const S7_USERS_PER_SEC: u64 = 1200;
/// S7b's users, one remembered device each: more than the connections, so no two
/// connections sign in the same user at once.
const S7_DEVICES: usize = 4 * CONNS;
const S7A: &str = "S7a MFA sign-in, new device (TOTP + ConfirmDevice)";
const S7B: &str = "S7b MFA sign-in, remembered device (DEVICE_SRP_AUTH)";

/// A pool for S7: device tracking that replaces MFA on a remembered device
/// (ChallengeRequiredOnNewDevice, every device remembered), MFA OPTIONAL with TOTP.
async fn mfa_pool(c: &mut Conn) -> Result<(String, String), String> {
    let pool = new_pool(c, true).await?;
    c.ok(
        "SetUserPoolMfaConfig",
        &json!({"UserPoolId": pool, "MfaConfiguration": "OPTIONAL",
                "SoftwareTokenMfaConfiguration": {"Enabled": true}}),
    )
    .await?;
    let client = new_client(c, &pool).await?;
    Ok((pool, client))
}

/// A user with TOTP set up and preferred, as an app does it: USER_PASSWORD_AUTH,
/// AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference. The secret and the
/// step VerifySoftwareToken used (the user's next code must be of a later step).
async fn totp_user(c: &mut Conn, pool: &str, client: &str, name: &str) -> Result<(Vec<u8>, i64), String> {
    new_user(c, pool, name, true).await?;
    let r = c
        .ok(
            "InitiateAuth",
            &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                    "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD}}),
        )
        .await?;
    let access = r["AuthenticationResult"]["AccessToken"]
        .as_str()
        .ok_or_else(|| format!("set-up sign-in gave no tokens: {r}"))?
        .to_string();
    let r = c.ok("AssociateSoftwareToken", &json!({"AccessToken": access})).await?;
    let text = r["SecretCode"].as_str().ok_or_else(|| format!("no SecretCode: {r}"))?;
    let secret = totp::base32_decode(text).ok_or_else(|| format!("SecretCode {text:?} is not base32"))?;
    // The previous step's code (one step of skew is accepted), so the current step is left
    // for the measured sign-in; at a step boundary that can be two steps back, then the
    // current one is used.
    let mut step = totp::step_now() - 1;
    let mut r = c
        .call(
            "VerifySoftwareToken",
            &json!({"AccessToken": access, "UserCode": totp::code(&secret, step), "FriendlyDeviceName": "bench"}),
        )
        .await?;
    if r.status != 200 {
        step = totp::step_now();
        r = c
            .call(
                "VerifySoftwareToken",
                &json!({"AccessToken": access, "UserCode": totp::code(&secret, step), "FriendlyDeviceName": "bench"}),
            )
            .await?;
    }
    if r.status != 200 || r.body["Status"] != "SUCCESS" {
        return Err(format!("VerifySoftwareToken: {} {}", r.status, r.body));
    }
    c.ok(
        "SetUserMFAPreference",
        &json!({"AccessToken": access, "SoftwareTokenMfaSettings": {"Enabled": true, "PreferredMfa": true}}),
    )
    .await?;
    Ok((secret, step))
}

/// Waits (set-up only) until the current step is later than `used`; the step.
async fn fresh_step(used: i64) -> i64 {
    loop {
        let step = totp::step_now();
        if step > used {
            return step;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// S7a's sign-in on a new device: USER_PASSWORD_AUTH, SOFTWARE_TOKEN_MFA answered with the
/// code of `step`, tokens with NewDeviceMetadata, ConfirmDevice. The device: (key, group
/// key, device secret).
async fn mfa_new_device_sign_in(
    c: &mut Conn,
    client: &str,
    name: &str,
    secret: &[u8],
    step: i64,
) -> Result<(String, String, String), String> {
    let r = c
        .ok(
            "InitiateAuth",
            &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                    "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD}}),
        )
        .await?;
    if r["ChallengeName"] != "SOFTWARE_TOKEN_MFA" {
        return Err(format!("no SOFTWARE_TOKEN_MFA challenge: {r}"));
    }
    let uid = r["ChallengeParameters"]["USER_ID_FOR_SRP"]
        .as_str()
        .unwrap_or(name)
        .to_string();
    let r = c
        .ok(
            "RespondToAuthChallenge",
            &json!({"ChallengeName": "SOFTWARE_TOKEN_MFA", "ClientId": client, "Session": r["Session"],
                    "ChallengeResponses": {"USERNAME": uid, "SOFTWARE_TOKEN_MFA_CODE": totp::code(secret, step)}}),
        )
        .await?;
    let res = &r["AuthenticationResult"];
    if !res["AccessToken"].is_string() {
        return Err(format!("no tokens after SOFTWARE_TOKEN_MFA: {r}"));
    }
    let meta = &res["NewDeviceMetadata"];
    let (Some(key), Some(group)) = (meta["DeviceKey"].as_str(), meta["DeviceGroupKey"].as_str()) else {
        return Err("no NewDeviceMetadata after SOFTWARE_TOKEN_MFA: no device tracking".into());
    };
    let (device_secret, cfg) = srp::device_verifier(group, key);
    let r = c
        .ok(
            "ConfirmDevice",
            &json!({"AccessToken": res["AccessToken"], "DeviceKey": key,
                    "DeviceSecretVerifierConfig": cfg, "DeviceName": "bench"}),
        )
        .await?;
    if r["UserConfirmationNecessary"] == true {
        return Err(format!("ConfirmDevice asks the user to confirm: {r}"));
    }
    Ok((key.to_string(), group.to_string(), device_secret))
}

/// S7b's sign-in: USER_PASSWORD_AUTH presenting a remembered device, which replaces MFA:
/// DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER, tokens.
async fn remembered_device_sign_in(
    c: &mut Conn,
    client: &str,
    name: &str,
    device: &(String, String, String),
) -> Result<(), String> {
    let r = c
        .ok(
            "InitiateAuth",
            &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                    "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD, "DEVICE_KEY": device.0}}),
        )
        .await?;
    if r["ChallengeName"] != "DEVICE_SRP_AUTH" {
        return Err(format!("remembered device: no DEVICE_SRP_AUTH: {r}"));
    }
    let uid = r["ChallengeParameters"]["USERNAME"]
        .as_str()
        .unwrap_or(name)
        .to_string();
    let res = device_srp(c, client, &uid, &r["Session"], device).await?;
    if res["AccessToken"].is_string() && res["NewDeviceMetadata"].is_null() {
        Ok(())
    } else {
        Err(format!("remembered device: unexpected result {res}"))
    }
}

/// The user at the front of a scenario's rotation, taken if it can sign in now (`ready`);
/// when it cannot, neither can the others behind it (they are in least-recently-used order).
fn take_front_if<T>(queue: &std::sync::Mutex<std::collections::VecDeque<T>>, ready: impl Fn(&T) -> bool) -> Option<T> {
    let mut q = queue.lock().unwrap();
    let u = q.pop_front()?;
    if ready(&u) {
        Some(u)
    } else {
        q.push_front(u);
        None
    }
}

/// S7: MFA sign-ins in one pool. (a) a user's sign-in on a new device, with its TOTP code
/// and ConfirmDevice; every user does it at most once per 30-s step (the server's rule), so
/// the connections rotate through a large pool of users. (b) the sign-in with a remembered
/// device, which replaces MFA and can repeat freely: 64 users, one device each.
async fn s7_mfa_sign_in(t: &Target, o: &Options, want_a: bool, want_b: bool) -> (Cell, Cell) {
    let mut c = connect(t).await;
    let setup = async {
        let (pool, client) = mfa_pool(&mut c).await?;
        // S7b's devices; the first user also checks that a wrong code is refused (as S4
        // checks the password), and is the only one when S7b is not run.
        let mut devices = Vec::new();
        let mut fakes = false;
        for j in 0..if want_b { S7_DEVICES } else { 1 } {
            let name = format!("mfa-device{j}@example.com");
            let (secret, used) = totp_user(&mut c, &pool, &client, &name).await?;
            let step = fresh_step(used).await;
            if j == 0 {
                let r = c
                    .ok(
                        "InitiateAuth",
                        &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                                "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD}}),
                    )
                    .await?;
                if r["ChallengeName"] != "SOFTWARE_TOKEN_MFA" {
                    return Err(format!("no SOFTWARE_TOKEN_MFA challenge: {r}"));
                }
                let valid: Vec<String> = (step - 2..=step + 2).map(|s| totp::code(&secret, s)).collect();
                let wrong = (0..)
                    .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
                    .find(|w| !valid.contains(w))
                    .unwrap_or_default();
                let r = c
                    .call(
                        "RespondToAuthChallenge",
                        &json!({"ChallengeName": "SOFTWARE_TOKEN_MFA", "ClientId": client, "Session": r["Session"],
                                "ChallengeResponses": {"USERNAME": name, "SOFTWARE_TOKEN_MFA_CODE": wrong}}),
                    )
                    .await?;
                fakes = r.status == 200;
            }
            let device = mfa_new_device_sign_in(&mut c, &client, &name, &secret, step)
                .await
                .map_err(|e| {
                    if fakes {
                        format!("{e}; it accepts a wrong TOTP code")
                    } else {
                        e
                    }
                })?;
            // The device now replaces MFA (checked once here, measured in S7b).
            remembered_device_sign_in(&mut c, &client, &name, &device).await?;
            devices.push((name, device));
        }
        // S7a's users.
        let users = if want_a {
            let n = o.secs.clamp(1, 31) * S7_USERS_PER_SEC;
            let built = std::sync::Arc::new(std::sync::Mutex::new(Vec::with_capacity(
                usize::try_from(n).unwrap_or(0),
            )));
            let (p2, c2, b2) = (pool.clone(), client.clone(), built.clone());
            let started = Instant::now();
            let s = load::run(
                &t.addrs,
                CONNS,
                Duration::from_secs(600),
                n,
                move |mut c: Conn, i: u64| {
                    let (pool, client, built) = (p2.clone(), c2.clone(), b2.clone());
                    async move {
                        let name = format!("mfa{i}@example.com");
                        let r = totp_user(&mut c, &pool, &client, &name).await.map(|(secret, used)| {
                            built.lock().unwrap().push((name, secret, used));
                        });
                        (c, r)
                    }
                },
            )
            .await;
            if s.ok < n {
                return Err(format!(
                    "setup: only {} of {n} TOTP users built in {:.0} s{}",
                    s.ok,
                    s.elapsed.as_secs_f64(),
                    s.first_error.map(|e| format!(" ({e})")).unwrap_or_default()
                ));
            }
            eprintln!(
                "  S7a: {n} TOTP users built in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            let users = std::mem::take(&mut *built.lock().unwrap());
            users
        } else {
            Vec::new()
        };
        Ok::<_, String>((client, devices, users, fakes))
    };
    let (client, devices, mut users, fakes) = match setup.await {
        Ok(v) => v,
        Err(e) => return (Cell::Cannot(e.clone()), Cell::Cannot(e)),
    };
    let fake_note = if fakes { "accepts a wrong TOTP code" } else { "" };
    let cell_a = if want_a {
        let n = users.len();
        // Least recently used first: (name, secret, last step used). The queue stays in
        // step order (a sign-in puts its user at the back with the current step), so when
        // the front user has spent the current step, every user has.
        users.sort_by_key(|u| u.2);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(
            users.into_iter().collect::<std::collections::VecDeque<_>>(),
        ));
        let client = client.clone();
        let note = [
            format!("{n} TOTP users, each signing in once per 30-s step"),
            fake_note.to_string(),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
        let cell = measure(t, o.secs, u64::MAX, note, move |mut c: Conn, _i: u64| {
            let (queue, client) = (queue.clone(), client.clone());
            async move {
                let step = totp::step_now();
                let next = take_front_if(&queue, |u| u.2 < step);
                let Some((name, secret, _)) = next else {
                    // Every user has spent this step: the run ends here.
                    return (c, Err(load::STOP.to_string()));
                };
                let r = mfa_new_device_sign_in(&mut c, &client, &name, &secret, step)
                    .await
                    .map(|_| ());
                queue.lock().unwrap().push_back((name, secret, step));
                (c, r)
            }
        })
        .await;
        let mut cell = cell;
        if let Cell::Done { stats, note, .. } = &mut cell {
            if stats.elapsed.as_secs_f64() < o.secs as f64 - 0.5 {
                let _ = write!(
                    note,
                    "; ended after {:.1} s: every user had spent the current step",
                    stats.elapsed.as_secs_f64()
                );
            }
        }
        cell
    } else {
        Cell::Cannot("not run".into())
    };
    let cell_b = if want_b {
        // Each device is signed in by one connection at a time (a second password step of
        // the same device replaces the first, whose device step then fails, as it should):
        // an iteration takes the first free device from `i % n` on.
        let in_use: Arc<Vec<AtomicBool>> = Arc::new(devices.iter().map(|_| AtomicBool::new(false)).collect());
        let devices = std::sync::Arc::new(devices);
        let note = format!("{} users, one remembered device each", devices.len());
        measure(t, o.secs, u64::MAX, note, move |mut c: Conn, i: u64| {
            let (devices, client, in_use) = (devices.clone(), client.clone(), in_use.clone());
            async move {
                use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
                let n = devices.len();
                let start = usize::try_from(i).unwrap_or(0) % n;
                let Some(k) = (0..n)
                    .map(|d| (start + d) % n)
                    .find(|k| in_use[*k].compare_exchange(false, true, AcqRel, Acquire).is_ok())
                else {
                    return (c, Err("every device is in use".to_string()));
                };
                let (name, device) = &devices[k];
                let r = remembered_device_sign_in(&mut c, &client, name, device).await;
                in_use[k].store(false, Release);
                (c, r)
            }
        })
        .await
    } else {
        Cell::Cannot("not run".into())
    };
    (cell_a, cell_b)
}

/// S8's users per second of the run: a user may be sent [`CODES_PER_USER`] sign-in codes
/// an hour, so the pool holds `min(secs, 60) * S8_USERS_PER_SEC` users, enough for 2,000
/// sign-ins a second (this machine does a few hundred). When every user has had their
/// codes, S8 ends early (no errors) and says so.
const S8_USERS_PER_SEC: u64 = 200;
/// Codes a user may request per purpose in an hour: `limits::CODE_REQUESTS_PER_WINDOW` of
/// crates/userpool/src/limits.rs (an eleventh is `LimitExceededException`).
const CODES_PER_USER: u32 = 10;
const S8: &str = "S8 USER_AUTH EMAIL_OTP sign-in (3 requests)";

/// The usernames of the harness are letters, digits, `.` and `@`: `@` is the one a query
/// needs encoded.
fn query_value(v: &str) -> String {
    v.replace('@', "%40")
}

/// The newest EMAIL_OTP sign-in code of `name` in the pool's outbox, among the messages
/// after `after` (`GET /_userpool/outbox/<poolId>?username=…&after=…`, SigV4-signed): the
/// code and the message's id.
async fn outbox_otp(c: &mut Conn, pool: &str, name: &str, after: i64) -> Result<(String, i64), String> {
    let r = c
        .get_signed(
            &format!("/_userpool/outbox/{pool}"),
            &format!("username={}&after={after}", query_value(name)),
        )
        .await?;
    if r.status != 200 {
        return Err(format!("outbox: {} {}", r.status, r.body));
    }
    let m = r
        .body
        .as_array()
        .and_then(|ms| ms.iter().rev().find(|m| m["kind"] == "otp:EMAIL_OTP"))
        .ok_or_else(|| format!("no otp:EMAIL_OTP message for {name} after {after}: {}", r.body))?;
    let body = m["body"].as_str().unwrap_or_default();
    // The eight-digit code in the message's text ("Your authentication code is 12345678. ").
    let code = body
        .split(|ch: char| !ch.is_ascii_digit())
        .find(|w| w.len() == 8)
        .ok_or_else(|| format!("no eight-digit code in {body:?}"))?;
    Ok((code.to_string(), m["id"].as_i64().unwrap_or(after)))
}

/// S8's sign-in: InitiateAuth USER_AUTH preferring EMAIL_OTP, the code from the outbox,
/// RespondToAuthChallenge EMAIL_OTP; the outbox id of the code used. With `wrong`, a wrong
/// code is tried first and must be refused.
async fn email_otp_sign_in(
    c: &mut Conn,
    pool: &str,
    client: &str,
    name: &str,
    after: i64,
    wrong: bool,
) -> Result<i64, String> {
    let r = c
        .ok(
            "InitiateAuth",
            &json!({"AuthFlow": "USER_AUTH", "ClientId": client,
                    "AuthParameters": {"USERNAME": name, "PREFERRED_CHALLENGE": "EMAIL_OTP"}}),
        )
        .await?;
    if r["ChallengeName"] != "EMAIL_OTP" || !r["Session"].is_string() {
        return Err(format!("no EMAIL_OTP challenge: {r}"));
    }
    let session = r["Session"].clone();
    let (code, id) = outbox_otp(c, pool, name, after).await?;
    if wrong {
        let bad = format!("{:08}", (code.parse::<u64>().unwrap_or(0) + 1) % 100_000_000);
        let r = c
            .call(
                "RespondToAuthChallenge",
                &json!({"ChallengeName": "EMAIL_OTP", "ClientId": client, "Session": session,
                        "ChallengeResponses": {"USERNAME": name, "EMAIL_OTP_CODE": bad}}),
            )
            .await?;
        if r.status == 200 {
            return Err("a wrong EMAIL_OTP code gave tokens".into());
        }
    }
    let r = c
        .ok(
            "RespondToAuthChallenge",
            &json!({"ChallengeName": "EMAIL_OTP", "ClientId": client, "Session": session,
                    "ChallengeResponses": {"USERNAME": name, "EMAIL_OTP_CODE": code}}),
        )
        .await?;
    if r["AuthenticationResult"]["AccessToken"].is_string() {
        Ok(id)
    } else {
        Err(format!("no tokens after EMAIL_OTP: {r}"))
    }
}

/// S8: passwordless sign-in with an email code. A pool allowing PASSWORD and EMAIL_OTP as
/// first factors, a client with ALLOW_USER_AUTH, confirmed users with a verified email.
/// Users rotate least recently used first, so no two connections sign in one user at once
/// (a user has one live code) and no user is sent more than [`CODES_PER_USER`] codes.
async fn s8_email_otp_sign_in(t: &Target, o: &Options) -> Cell {
    let mut c = connect(t).await;
    let n = o.secs.clamp(1, 60) * S8_USERS_PER_SEC;
    let setup = async {
        let r = c
            .ok(
                "CreateUserPool",
                &json!({"PoolName": format!("bench-{}", uuid::Uuid::new_v4().simple()),
                        "Policies": {"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}}}),
            )
            .await?;
        let pool = r["UserPool"]["Id"]
            .as_str()
            .ok_or_else(|| format!("no pool id: {r}"))?
            .to_string();
        let r = c
            .ok(
                "CreateUserPoolClient",
                &json!({"UserPoolId": pool, "ClientName": "bench",
                        "ExplicitAuthFlows": ["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
            )
            .await?;
        let client = r["UserPoolClient"]["ClientId"]
            .as_str()
            .ok_or_else(|| format!("no client id: {r}"))?
            .to_string();
        let started = Instant::now();
        let p2 = pool.clone();
        let s = load::run(
            &t.addrs,
            CONNS,
            Duration::from_secs(600),
            n,
            move |mut c: Conn, i: u64| {
                let pool = p2.clone();
                async move {
                    let name = format!("otp{i}@example.com");
                    let r = async {
                        c.ok(
                            "AdminCreateUser",
                            &json!({"UserPoolId": pool, "Username": name, "MessageAction": "SUPPRESS",
                                "UserAttributes": [{"Name": "email", "Value": name},
                                                   {"Name": "email_verified", "Value": "true"}]}),
                        )
                        .await?;
                        // Confirmed (EMAIL_OTP is offered to CONFIRMED and UNCONFIRMED users).
                        c.ok(
                            "AdminSetUserPassword",
                            &json!({"UserPoolId": pool, "Username": name, "Password": PASSWORD, "Permanent": true}),
                        )
                        .await
                        .map(|_| ())
                    }
                    .await;
                    (c, r)
                }
            },
        )
        .await;
        if s.ok < n {
            return Err(format!(
                "setup: only {} of {n} users built in {:.0} s{}",
                s.ok,
                s.elapsed.as_secs_f64(),
                s.first_error.map(|e| format!(" ({e})")).unwrap_or_default()
            ));
        }
        eprintln!("  S8: {n} users built in {:.0} s", started.elapsed().as_secs_f64());
        // One sign-in before the measurement, which also checks that a wrong code is refused.
        let first = email_otp_sign_in(&mut c, &pool, &client, "otp0@example.com", 0, true).await?;
        Ok::<_, String>((pool, client, first))
    };
    let (pool, client, first) = match setup.await {
        Ok(v) => v,
        Err(e) => return Cell::Cannot(e),
    };
    // (name, codes sent so far, outbox id of the newest one), fewest codes first; a
    // sign-in puts its user at the back, so the front has had the fewest.
    let mut queue: std::collections::VecDeque<(String, u32, i64)> =
        (1..n).map(|i| (format!("otp{i}@example.com"), 0, 0)).collect();
    queue.push_back(("otp0@example.com".to_string(), 1, first));
    let queue = Arc::new(std::sync::Mutex::new(queue));
    let note = format!(
        "a sign-in is 3 requests: InitiateAuth, the outbox read (signed GET), RespondToAuthChallenge; \
         {n} users, each sent at most {CODES_PER_USER} codes (the per-user limit an hour)"
    );
    let cell = measure(t, o.secs, u64::MAX, note, move |mut c: Conn, _i: u64| {
        let (queue, pool, client) = (queue.clone(), pool.clone(), client.clone());
        async move {
            let next = take_front_if(&queue, |u| u.1 < CODES_PER_USER);
            let Some((name, sent, after)) = next else {
                // Every user has had their codes: the run ends here.
                return (c, Err(load::STOP.to_string()));
            };
            let r = email_otp_sign_in(&mut c, &pool, &client, &name, after, false).await;
            let last = r.as_ref().map_or(after, |id| *id);
            queue.lock().unwrap().push_back((name, sent + 1, last));
            (c, r.map(|_| ()))
        }
    })
    .await;
    let mut cell = cell;
    if let Cell::Done { stats, note, .. } = &mut cell {
        if stats.elapsed.as_secs_f64() < o.secs as f64 - 0.5 {
            let _ = write!(
                note,
                "; ended after {:.1} s: every user had been sent {CODES_PER_USER} codes",
                stats.elapsed.as_secs_f64()
            );
        }
    }
    cell
}

/// S9's import: 100,000 users in one CSV file.
const S9_IMPORT_USERS: u64 = 100_000;
/// S9's users created before the import, read at random (S2's 100).
const S9_USERS: u64 = 100;
const S9A: &str = "S9a AdminGetUser (random of 100), no import running";
const S9B: &str = "S9b AdminGetUser (random of 100) during a 100,000-user import";

/// One AdminGetUser of a pseudo-random one of `users` (`user{n}@example.com`, as
/// [`bulk_users`] names them; a multiplicative hash of the iteration).
async fn random_get_user(c: &mut Conn, pool: &str, users: u64, i: u64) -> Result<(), String> {
    let n = (i.wrapping_mul(2_654_435_761) >> 7) % users;
    c.ok(
        "AdminGetUser",
        &json!({"UserPoolId": pool, "Username": format!("user{n}@example.com")}),
    )
    .await
    .map(|_| ())
}

/// The CSV file of S9: GetCSVHeader's columns; `imp{i}`, its email (verified), MFA off,
/// the rest empty.
fn import_csv(header: &[String], users: u64) -> Vec<u8> {
    let mut out = header.join(",");
    out.push('\n');
    for i in 0..users {
        let row: Vec<String> = header
            .iter()
            .map(|h| match h.as_str() {
                "cognito:username" => format!("imp{i}"),
                "email" => format!("imp{i}@example.com"),
                "email_verified" => "true".into(),
                "cognito:mfa_enabled" => "false".into(),
                _ => String::new(),
            })
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

/// S9: AdminGetUser on a pool of 100 users (a) as it is, (b) while a job imports 100,000
/// users into it; the import's duration and rate go into (b)'s note. The file is uploaded
/// to the job's PreSignedUrl as the developer guide does it (`PUT` with
/// `x-amz-server-side-encryption: aws:kms`); (b) runs until the job ends or the scenario's
/// time is up, and the job is then polled (DescribeUserImportJob) until it ends.
async fn s9_import(t: &Target, o: &Options, want_a: bool, want_b: bool) -> (Cell, Cell) {
    let mut c = connect(t).await;
    let setup = async {
        let r = c
            .ok(
                "CreateUserPool",
                &json!({"PoolName": format!("bench-{}", uuid::Uuid::new_v4().simple()),
                        "AutoVerifiedAttributes": ["email"]}),
            )
            .await?;
        let pool = r["UserPool"]["Id"]
            .as_str()
            .ok_or_else(|| format!("no pool id: {r}"))?
            .to_string();
        bulk_users(t, &pool, "user", S9_USERS, Duration::from_secs(120)).await?;
        let r = c.ok("GetCSVHeader", &json!({"UserPoolId": pool})).await?;
        let header: Vec<String> = r["CSVHeader"]
            .as_array()
            .ok_or_else(|| format!("no CSVHeader: {r}"))?
            .iter()
            .filter_map(|h| h.as_str().map(str::to_string))
            .collect();
        let csv = import_csv(&header, S9_IMPORT_USERS);
        let r = c
            .ok(
                "CreateUserImportJob",
                &json!({"UserPoolId": pool, "JobName": "bench",
                        "CloudWatchLogsRoleArn": "arn:aws:iam::123456789012:role/CognitoImport"}),
            )
            .await?;
        let job = &r["UserImportJob"];
        let (Some(job_id), Some(url)) = (job["JobId"].as_str(), job["PreSignedUrl"].as_str()) else {
            return Err(format!("no JobId / PreSignedUrl: {r}"));
        };
        // The URL names the server's public URL; the harness sends its path and query to
        // the target (one connection, as `curl -T` does).
        let uri = url
            .find("/_userpool/import/")
            .map(|i| &url[i..])
            .ok_or_else(|| format!("PreSignedUrl {url} is not userpool's"))?;
        let size = csv.len();
        let started = Instant::now();
        let (status, text) = c
            .put(
                uri,
                &[
                    ("x-amz-server-side-encryption", "aws:kms"),
                    ("content-type", "text/csv"),
                ],
                bytes::Bytes::from(csv),
            )
            .await?;
        if status != 200 {
            return Err(format!("upload: {status} {text}"));
        }
        let upload = format!(
            "{:.1} MB uploaded in {:.1} s",
            size as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        eprintln!("  S9: {upload}");
        Ok::<_, String>((pool, job_id.to_string(), upload))
    };
    let (pool, job_id, upload) = match setup.await {
        Ok(v) => v,
        Err(e) => return (Cell::Cannot(e.clone()), Cell::Cannot(e)),
    };
    let reads = |pool: String, done: Arc<AtomicBool>| {
        move |mut c: Conn, i: u64| {
            let (pool, done) = (pool.clone(), done.clone());
            async move {
                if done.load(std::sync::atomic::Ordering::Relaxed) {
                    return (c, Err(load::STOP.to_string()));
                }
                let r = random_get_user(&mut c, &pool, S9_USERS, i).await;
                (c, r)
            }
        }
    };
    let cell_a = if want_a {
        let note = format!("S9: {S9_USERS} users; a job's file of {S9_IMPORT_USERS} users uploaded, not started");
        measure(
            t,
            o.secs,
            u64::MAX,
            note,
            reads(pool.clone(), Arc::new(AtomicBool::new(false))),
        )
        .await
    } else {
        Cell::Cannot("not run".into())
    };
    if !want_b {
        return (cell_a, Cell::Cannot("not run".into()));
    }
    if let Err(e) = c
        .ok("StartUserImportJob", &json!({"UserPoolId": pool, "JobId": job_id}))
        .await
    {
        return (cell_a, Cell::Cannot(e));
    }
    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    // The job polled every 100 ms on a connection of its own, until it ends (30 minutes at most).
    let poller = {
        let (pool, job_id, done, addr) = (pool.clone(), job_id.clone(), done.clone(), t.addrs[0]);
        tokio::spawn(async move {
            let mut c = Conn::connect(addr).await.map_err(|e| e.to_string())?;
            let body = json!({"UserPoolId": pool, "JobId": job_id});
            loop {
                let r = c.ok("DescribeUserImportJob", &body).await;
                let job = match r {
                    Ok(r) => r["UserImportJob"].clone(),
                    Err(e) => {
                        done.store(true, std::sync::atomic::Ordering::Relaxed);
                        return Err(e);
                    }
                };
                let status = job["Status"].as_str().unwrap_or_default();
                if matches!(status, "Succeeded" | "Failed" | "Stopped" | "Expired") {
                    done.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Ok((started.elapsed(), job));
                }
                if started.elapsed() > Duration::from_secs(1800) {
                    done.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Err(format!("the import did not end in 30 minutes: {job}"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut cell_b = measure(t, o.secs, u64::MAX, String::new(), reads(pool.clone(), done.clone())).await;
    let measured = started.elapsed().as_secs_f64();
    let outcome = poller.await.map_err(|e| e.to_string()).and_then(|r| r);
    let import = match &outcome {
        Ok((took, job)) => {
            let imported = job["ImportedUsers"].as_u64().unwrap_or(0);
            let secs = took.as_secs_f64();
            let mut s = format!(
                "the import: {} in {secs:.1} s, {:.0} users/s ({imported} imported, {} skipped, {} failed)",
                job["Status"].as_str().unwrap_or("?"),
                imported as f64 / secs.max(1e-9),
                job["SkippedUsers"].as_u64().unwrap_or(0),
                job["FailedUsers"].as_u64().unwrap_or(0),
            );
            if job["Status"] != "Succeeded" {
                let _ = write!(s, ": {}", job["CompletionMessage"].as_str().unwrap_or_default());
            }
            if secs <= measured + 0.2 {
                let _ = write!(s, "; AdminGetUser measured over the whole import");
            } else {
                let _ = write!(s, "; AdminGetUser measured over its first {measured:.1} s");
            }
            s
        }
        Err(e) => format!("the import: {e}"),
    };
    eprintln!("  S9: {import}");
    if let Cell::Done { note, .. } = &mut cell_b {
        *note = format!("{import}; {upload}");
    }
    (cell_a, cell_b)
}

/// The mixed soak on userpool: sign-ins, device reads and writes, admin reads, with RSS
/// and p99 sampled every 30 s.
async fn soak(t: &Target, secs: u64) -> Result<String, String> {
    let mut c = connect(t).await;
    let pool = new_pool(&mut c, true).await?;
    let client = new_client(&mut c, &pool).await?;
    new_user(&mut c, &pool, ALICE, true).await?;
    let (key, _, _) = confirmed_device(&mut c, &pool, &client, ALICE).await?;
    let mut out = String::from("| minute | req/s | p99 ms | errors | RSS MiB |\n|---|---|---|---|---|\n");
    let windows = secs.div_ceil(30);
    for w in 0..windows {
        let (pool, client, key) = (pool.clone(), client.clone(), key.clone());
        let s = load::run(
            &t.addrs,
            CONNS,
            Duration::from_secs(30.min(secs - w * 30)),
            u64::MAX,
            move |mut c: Conn, i: u64| {
                let (pool, client, key) = (pool.clone(), client.clone(), key.clone());
                async move {
                    let r = match i % 10 {
                        0 => c
                            .ok(
                                "InitiateAuth",
                                &json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client,
                        "AuthParameters": {"USERNAME": ALICE, "PASSWORD": PASSWORD, "DEVICE_KEY": key}}),
                            )
                            .await
                            .map(|_| ()),
                        1 => c
                            .ok(
                                "AdminUpdateDeviceStatus",
                                &json!({"UserPoolId": pool, "Username": ALICE, "DeviceKey": key,
                        "DeviceRememberedStatus": if i % 20 == 1 { "remembered" } else { "not_remembered" }}),
                            )
                            .await
                            .map(|_| ()),
                        2..=5 => c
                            .ok(
                                "AdminGetDevice",
                                &json!({"UserPoolId": pool, "Username": ALICE, "DeviceKey": key}),
                            )
                            .await
                            .map(|_| ()),
                        _ => c
                            .ok("AdminGetUser", &json!({"UserPoolId": pool, "Username": ALICE}))
                            .await
                            .map(|_| ()),
                    };
                    (c, r)
                }
            },
        )
        .await;
        let rss: u64 = t.pids().iter().map(|p| load::proc_rss_kib(*p).0).sum();
        let _ = writeln!(
            out,
            "| {:.1} | {:.0} | {:.2} | {} | {:.1} |",
            (w + 1) as f64 / 2.0,
            s.rate(),
            s.p99_ms(),
            s.errors,
            rss as f64 / 1024.0
        );
    }
    Ok(out)
}

fn fmt_cell(cell: &Cell) -> String {
    match cell {
        Cell::Done {
            stats,
            cpu,
            rss_kib,
            note,
            env,
        } => {
            let mut s = format!(
                "{:.0}/s · p50 {:.2} ms · p99 {:.2} ms · err {} · CPU {:.1} s · RSS {:.0} MiB",
                stats.rate(),
                stats.p50_ms(),
                stats.p99_ms(),
                stats.errors,
                cpu,
                *rss_kib as f64 / 1024.0
            );
            if stats.ok > 0 && stats.errors > 0 {
                if let Some(e) = &stats.first_error {
                    let _ = write!(s, " (first error: {})", e.chars().take(80).collect::<String>());
                }
            }
            if stats.ok == 0 {
                s = format!(
                    "cannot: {}",
                    stats
                        .first_error
                        .clone()
                        .unwrap_or_default()
                        .chars()
                        .take(100)
                        .collect::<String>()
                );
            }
            if !note.is_empty() {
                let _ = write!(s, " · {note}");
            }
            if stats.ok > 0 {
                let _ = write!(s, " · {}", bound(stats, *cpu, env));
            }
            s
        }
        Cell::Cannot(why) => format!(
            "cannot: {}",
            why.chars().take(100).collect::<String>().replace('|', "/")
        ),
    }
}

/// What the machine did during a cell's measurement, and what bounds the figure where
/// that shows: every core busy (CPU: whose?), PostgreSQL's backends mostly waiting for one
/// thing (the WAL flush of a commit, a row lock), or the server on one core only.
fn bound(stats: &load::Stats, cpu: f64, env: &Env) -> String {
    let secs = stats.elapsed.as_secs_f64().max(1e-9);
    let pct = |x: f64| 100.0 * x / (secs * env.cores as f64);
    let mut out = String::new();
    let mut split = format!("server {:.0}%", pct(cpu));
    let mut top_wait = None;
    if let Some(pg) = &env.pg {
        let ops = stats.ok.max(1) as f64;
        let _ = write!(
            out,
            "PostgreSQL CPU {:.1} s, {:.2} commits/op, WAL {:.1} KiB/op",
            pg.cpu,
            pg.commits as f64 / ops,
            pg.wal_bytes as f64 / 1024.0 / ops
        );
        let shares = pg.waits.busy_shares();
        if !shares.is_empty() {
            let list: Vec<String> = shares
                .iter()
                .take(3)
                .map(|(what, share)| format!("{what} {:.0}%", 100.0 * share))
                .collect();
            let _ = write!(
                out,
                "; its backends {:.1} busy on average: {}",
                pg.waits.mean_busy(),
                list.join(", ")
            );
        }
        // The largest wait that is PostgreSQL's own (not its CPU, not userpool's time).
        top_wait = shares
            .into_iter()
            .find(|(what, _)| what != "on CPU" && what != "waiting for userpool")
            .filter(|(_, share)| *share >= 0.3);
        let _ = write!(split, ", PostgreSQL {:.0}%", pct(pg.cpu));
        out.push_str(" · ");
    }
    let _ = write!(split, ", load generator {:.0}%", pct(env.gen_cpu));
    let busy = 100.0 * env.busy;
    let cores = if env.cores == 2 {
        "both cores".to_string()
    } else {
        format!("all {} cores", env.cores)
    };
    let per_core = cpu / secs;
    // The machine's busy time not in the server, PostgreSQL or the load generator: other
    // processes (a disturbed measurement) and the kernel's work outside them.
    let others = 100.0 * env.busy - pct(cpu) - pct(env.gen_cpu) - env.pg.as_ref().map_or(0.0, |p| pct(p.cpu));
    if others >= 5.0 {
        let _ = write!(split, ", others {others:.0}%");
    }
    if env.busy >= 0.9 && others >= 25.0 {
        let _ = write!(
            out,
            "bound: CPU, {cores} busy, {others:.0}% by other processes: a disturbed figure ({split})"
        );
    } else if env.busy >= 0.9 {
        let _ = write!(out, "bound: CPU, {cores} busy ({split})");
    } else if let Some((what, share)) = top_wait {
        let why = if what.starts_with("WAL") {
            "PostgreSQL commit (WAL fsync per commit)".to_string()
        } else if what == "row lock" {
            "PostgreSQL row lock (writers of one row wait for each other's commit)".to_string()
        } else {
            format!("PostgreSQL {what}")
        };
        let _ = write!(
            out,
            "bound: {why}, {:.0}% of busy backend samples; cores {busy:.0}% busy ({split})",
            100.0 * share
        );
    } else if env.nodes == 1 && (0.85..=1.15).contains(&per_core) {
        let _ = write!(
            out,
            "bound: one core, the server's work on one thread ({:.0}% of a core); cores {busy:.0}% busy ({split})",
            100.0 * per_core
        );
    } else {
        let _ = write!(out, "cores {busy:.0}% busy ({split})");
    }
    out
}

fn rate(cell: &Cell) -> Option<f64> {
    match cell {
        Cell::Done { stats, .. } if stats.ok > 0 => Some(stats.rate()),
        _ => None,
    }
}

/// The ceiling's rate: the S1 request shape against the fixed-JSON server.
async fn ceiling_rate(ceiling: &Target, o: &Options) -> f64 {
    load::run(
        &ceiling.addrs,
        CONNS,
        Duration::from_secs(o.secs),
        u64::MAX,
        simple(
            "AdminGetDevice",
            json!({"UserPoolId": "us-east-1_abc", "Username": ALICE, "DeviceKey": "us-east-1_00000000-0000-4000-8000-000000000000"}),
        ),
    )
    .await
    .rate()
}

/// userpool's own columns (SQLite and PostgreSQL); the others are its peers.
fn is_userpool(name: &str) -> bool {
    name.starts_with("userpool")
}

fn report(
    rows: &[Row],
    (ceil_before, ceil_after): (f64, f64),
    soak: &str,
    o: &Options,
    (load_before, load_after): (&str, &str),
    postgres: Option<&str>,
) -> String {
    let ceiling = Some(ceil_before.max(ceil_after));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Run of {} on this machine ({} cores; `userpool-bench`, {CONNS} connections, {} s per scenario, load generator on the same machine). Load average before: {load_before}; after: {load_after}.\n",
        std::process::Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        o.secs
    );
    if let Some(c) = ceiling {
        let _ = writeln!(
            out,
            "Ceiling (a trivial hyper server answering fixed JSON to the S1 request): **{c:.0} req/s**, the higher of \
             {ceil_before:.0}/s before the scenarios and {ceil_after:.0}/s after them.\n"
        );
    }
    if let Some(pg) = postgres {
        let _ = writeln!(
            out,
            "userpool-pg is userpool on one node on {pg} (on this machine); userpool-pg×3 is \
             three nodes on one database, connection i to node i % 3. Each starts on a fresh database for each \
             scenario (CHECKPOINT before each measurement, so none pays for its set-up's writes). Their CPU and \
             RSS are summed over the nodes; \"PostgreSQL CPU\" is the server's (postmaster and all its processes), \
             commits are write transactions, and the backends' states are sampled every 20 ms.\n"
        );
    }
    let _ = writeln!(
        out,
        "Each cell: the rate of ops (a request; a whole sign-in in S4, S7 and S8), latencies, errors, the target's \
         CPU and peak RSS, then what bounds the figure where the measurements show it: \"bound: CPU\" when every \
         core was busy (with each process's share of the machine: server, PostgreSQL, load generator), a \
         PostgreSQL wait when most busy backends were waiting for it, one core when a server used just one.\n"
    );
    let names: Vec<&str> = rows
        .first()
        .map(|r| r.cells.iter().map(|(n, _)| *n).collect())
        .unwrap_or_default();
    let on_pg = names.iter().any(|n| is_userpool(n) && *n != "userpool");
    let _ = writeln!(
        out,
        "| scenario | {} | userpool vs ceiling |{} userpool vs peers |",
        names.join(" | "),
        if on_pg { " PostgreSQL vs SQLite |" } else { "" }
    );
    let _ = writeln!(
        out,
        "|---|{}---|{}---|",
        "---|".repeat(names.len()),
        if on_pg { "---|" } else { "" }
    );
    for r in rows {
        let cells: Vec<String> = r.cells.iter().map(|(_, c)| fmt_cell(c)).collect();
        let up = r.cells.first().and_then(|(_, c)| rate(c));
        let vs_ceiling = match (up, ceiling) {
            (Some(u), Some(c)) => format!("{:.0}%", 100.0 * u / c),
            _ => "–".into(),
        };
        // userpool (SQLite) against the other emulators; its PostgreSQL columns against it.
        let vs_peers: Vec<String> = r
            .cells
            .iter()
            .filter(|(n, _)| !is_userpool(n))
            .map(|(n, c)| match (up, rate(c)) {
                (Some(u), Some(p)) => format!("{:.1}x {n}", u / p),
                _ => format!("– {n}"),
            })
            .collect();
        let vs_sqlite = if on_pg {
            let v: Vec<String> = r
                .cells
                .iter()
                .skip(1)
                .filter(|(n, _)| is_userpool(n))
                .map(|(n, c)| match (up, rate(c)) {
                    (Some(u), Some(p)) => format!("{n} {:.0}%", 100.0 * p / u),
                    _ => format!("{n} –"),
                })
                .collect();
            format!(" {} |", v.join(", "))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {vs_ceiling} |{vs_sqlite} {} |",
            r.scenario,
            cells.join(" | "),
            vs_peers.join(", ")
        );
    }
    if !soak.is_empty() {
        let _ = writeln!(out, "\nMixed soak on userpool ({} s; 10% password sign-ins with the device, 10% device status writes, 40% AdminGetDevice, 40% AdminGetUser):\n\n{soak}", o.soak_secs);
    }
    out
}

fn parse_options() -> Options {
    let mut o = Options {
        secs: 10,
        soak_secs: 600,
        big_users: 100_000,
        userpool: PathBuf::from("target/release/userpool"),
        moto: None,
        cognito_local: None,
        fakecloud: None,
        postgres: None,
        readme: None,
        out: PathBuf::from("bench/results/latest.md"),
        only: Vec::new(),
    };
    let mut args = std::env::args().skip(2);
    while let Some(a) = args.next() {
        let mut v = || args.next().expect("flag value");
        match a.as_str() {
            "--secs" => o.secs = v().parse().expect("--secs"),
            "--soak-secs" => o.soak_secs = v().parse().expect("--soak-secs"),
            "--big-users" => o.big_users = v().parse().expect("--big-users"),
            "--userpool" => o.userpool = v().into(),
            "--moto" => o.moto = Some(v()),
            "--cognito-local" => o.cognito_local = Some(v()),
            "--fakecloud" => o.fakecloud = Some(v()),
            "--postgres" => o.postgres = Some(v()),
            "--readme" => o.readme = Some(v().into()),
            "--no-readme" => o.readme = None,
            "--out" => o.out = v().into(),
            "--only" => o.only = v().split(',').map(str::to_string).collect(),
            other => panic!("unknown flag {other}"),
        }
    }
    o
}

async fn ceiling(port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
    let body = bytes::Bytes::from_static(br#"{"Device":{"DeviceKey":"us-east-1_00000000-0000-4000-8000-000000000000","DeviceAttributes":[{"Name":"device_status","Value":"valid"}],"DeviceCreateDate":1715100742.022,"DeviceLastModifiedDate":1715100742.022,"DeviceLastAuthenticatedDate":1715100742.0}}"#);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |_req: http::Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move {
                    let mut r = http::Response::new(http_body_util::Full::new(body));
                    r.headers_mut().insert(
                        "content-type",
                        http::HeaderValue::from_static("application/x-amz-json-1.1"),
                    );
                    Ok::<_, std::convert::Infallible>(r)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode == "ceiling" {
        let port = std::env::args().nth(2).and_then(|p| p.parse().ok()).expect("port");
        ceiling(port).await;
        return;
    }
    assert_eq!(
        mode, "run",
        "usage: userpool-bench run [--secs N] [--soak-secs N] [--big-users N] ..."
    );
    let o = parse_options();
    let load_before = load::loadavg();
    let tmp = std::env::temp_dir().join(format!("userpool-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();

    let mut targets: Vec<Slot> = Vec::new();
    let port = free_port();
    let mut cmd = Command::new(&o.userpool);
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(tmp.join("userpool.db"));
    cmd.env("USERPOOL_LOG", "warn");
    targets.push(Slot::Running(
        start("userpool", cmd, port, None).expect("userpool starts"),
    ));
    // userpool on PostgreSQL: started per scenario (a fresh database each time); every
    // node seals with this one data key.
    let pg_server = match &o.postgres {
        Some(url) => Some(Arc::new(pg::Server::connect(url).await)),
        None => None,
    };
    let key = tmp.join("pg-data.key");
    if let Some(server) = &pg_server {
        eprintln!("{}", server.describe);
        if !server.has_cpu() {
            eprintln!("the PostgreSQL server is not on this machine: its CPU is not measured");
        }
        std::fs::write(&key, rand::random::<[u8; 32]>()).unwrap();
        targets.push(Slot::Pg {
            name: "userpool-pg",
            nodes: 1,
        });
        targets.push(Slot::Pg {
            name: "userpool-pg×3",
            nodes: 3,
        });
    }
    if let Some(moto) = &o.moto {
        let port = free_port();
        let mut cmd = Command::new(moto);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        if let Some(t) = start("moto", cmd, port, None) {
            targets.push(Slot::Running(t));
        }
    }
    if let Some(cl) = &o.cognito_local {
        let port = free_port();
        let dir = tmp.join("cognito-local");
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("node");
        cmd.arg(cl)
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1");
        if let Some(t) = start("cognito-local", cmd, port, Some(dir)) {
            targets.push(Slot::Running(t));
        }
    }
    if let Some(fc) = &o.fakecloud {
        // In memory (its default storage mode), in a directory of its own.
        let port = free_port();
        let dir = tmp.join("fakecloud");
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new(fc);
        cmd.args(["--addr", &format!("127.0.0.1:{port}"), "--log-level", "warn"])
            .current_dir(&dir);
        if let Some(t) = start("fakecloud", cmd, port, Some(dir)) {
            targets.push(Slot::Running(t));
        }
    }
    let cport = free_port();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["ceiling", &cport.to_string()]);
    let ceiling_target = start("ceiling", cmd, cport, None).expect("ceiling starts");

    // The ceiling is measured before and after the scenarios (this machine's speed drifts
    // by 10-20% over a run); the ratios use the higher of the two.
    let ceil_before = ceiling_rate(&ceiling_target, &o).await;
    let mut rows = Vec::new();
    // Runs a scenario on every target (`$only`: those it is run on; the others get
    // "not run: $why").
    macro_rules! scenario {
        ($name:expr, |$t:ident| $body:expr) => {
            scenario!($name, |_n| true, "", |$t| $body)
        };
        ($name:expr, $only:expr, $why:expr, |$t:ident| $body:expr) => {{
            if o.wants(&$name) {
                let mut cells = Vec::new();
                for slot in &targets {
                    if !($only)(slot.name()) {
                        cells.push((slot.name(), Cell::Cannot(format!("not run: {}", $why))));
                        continue;
                    }
                    eprintln!("{} on {}", $name, slot.name());
                    let cell = match up(slot, &o, pg_server.as_ref(), &key).await {
                        Err(e) => Cell::Cannot(e),
                        Ok(held) => {
                            let cell = {
                                let $t: &Target = &held;
                                $body
                            };
                            retire(held).await;
                            cell
                        }
                    };
                    eprintln!("  {}", fmt_cell(&cell));
                    cells.push((slot.name(), cell));
                }
                rows.push(Row {
                    scenario: $name.to_string(),
                    cells,
                });
            }
        }};
    }
    scenario!("S1 AdminGetDevice (confirmed device)", |t| s1_admin_get_device(t, &o)
        .await);
    scenario!("S2 AdminGetUser (random of 100)", |t| s2_admin_get_user(
        t,
        &o,
        100,
        "S2",
        Duration::from_secs(120)
    )
    .await);
    scenario!("S3 InitiateAuth USER_PASSWORD_AUTH", |t| s3_password_sign_in(t, &o)
        .await);
    scenario!("S4 full SRP sign-in (2 requests)", |t| s4_srp_sign_in(t, &o).await);
    scenario!("S5 AdminCreateUser (unique names)", |t| s5_admin_create_user(t, &o)
        .await);
    scenario!("S6 ListUsers email ^= (10,000 users)", |t| s6_list_users_filter(t, &o)
        .await);
    let big = o.big_users;
    for users in [10_000, big] {
        // userpool only (SQLite and PostgreSQL), so the big pool may take its time to build
        // (1,000,000 users: ~5 min on SQLite).
        scenario!(
            format!("S6 AdminGetUser at {users} users"),
            is_userpool,
            "the pool would take too long to build",
            |t| s2_admin_get_user(t, &o, users, "S6", Duration::from_secs(900)).await
        );
    }
    let (want_a, want_b) = (o.wants(S7A), o.wants(S7B));
    if want_a || want_b {
        let (mut cells_a, mut cells_b) = (Vec::new(), Vec::new());
        for slot in &targets {
            eprintln!("S7 MFA sign-in on {}", slot.name());
            let (a, b) = match up(slot, &o, pg_server.as_ref(), &key).await {
                Err(e) => (Cell::Cannot(e.clone()), Cell::Cannot(e)),
                Ok(held) => {
                    let cells = s7_mfa_sign_in(&held, &o, want_a, want_b).await;
                    retire(held).await;
                    cells
                }
            };
            eprintln!("  S7a: {}\n  S7b: {}", fmt_cell(&a), fmt_cell(&b));
            cells_a.push((slot.name(), a));
            cells_b.push((slot.name(), b));
        }
        for (want, name, cells) in [(want_a, S7A, cells_a), (want_b, S7B, cells_b)] {
            if want {
                rows.push(Row {
                    scenario: name.to_string(),
                    cells,
                });
            }
        }
    }
    scenario!(
        S8,
        is_userpool,
        "userpool only (the codes are read from its outbox)",
        |t| s8_email_otp_sign_in(t, &o).await
    );
    let (want_9a, want_9b) = (o.wants(S9A), o.wants(S9B));
    if want_9a || want_9b {
        let (mut cells_a, mut cells_b) = (Vec::new(), Vec::new());
        for slot in &targets {
            let (a, b) = if is_userpool(slot.name()) {
                eprintln!("S9 AdminGetUser during an import on {}", slot.name());
                match up(slot, &o, pg_server.as_ref(), &key).await {
                    Err(e) => (Cell::Cannot(e.clone()), Cell::Cannot(e)),
                    Ok(held) => {
                        let cells = s9_import(&held, &o, want_9a, want_9b).await;
                        retire(held).await;
                        cells
                    }
                }
            } else {
                let why = "not run: userpool only (the file goes to its pre-signed URL)";
                (Cell::Cannot(why.into()), Cell::Cannot(why.into()))
            };
            eprintln!("  S9a: {}\n  S9b: {}", fmt_cell(&a), fmt_cell(&b));
            cells_a.push((slot.name(), a));
            cells_b.push((slot.name(), b));
        }
        for (want, name, cells) in [(want_9a, S9A, cells_a), (want_9b, S9B, cells_b)] {
            if want {
                rows.push(Row {
                    scenario: name.to_string(),
                    cells,
                });
            }
        }
    }
    let ceil_after = ceiling_rate(&ceiling_target, &o).await;
    eprintln!("ceiling: {ceil_before:.0}/s before, {ceil_after:.0}/s after");
    let soak_table = match &targets[0] {
        Slot::Running(t) if o.soak_secs > 0 && o.wants("soak") => soak(t, o.soak_secs)
            .await
            .unwrap_or_else(|e| format!("soak failed: {e}")),
        _ => String::new(),
    };
    // The server CPU per sign-in of the sign-in scenarios (S4, S7, S8).
    for row in rows
        .iter_mut()
        .filter(|r| ["S4", "S7", "S8"].iter().any(|p| r.scenario.starts_with(p)))
    {
        for (_, cell) in &mut row.cells {
            if let Cell::Done {
                stats, cpu, note, env, ..
            } = cell
            {
                if stats.ok > 0 {
                    let per = 1000.0 * *cpu / stats.ok as f64;
                    let pg = env.pg.as_ref().map_or(String::new(), |pg| {
                        format!(" + PostgreSQL {:.2} ms", 1000.0 * pg.cpu / stats.ok as f64)
                    });
                    *note = if note.is_empty() {
                        format!("server CPU {per:.2} ms/sign-in{pg}")
                    } else {
                        format!("server CPU {per:.2} ms/sign-in{pg}; {note}")
                    };
                }
            }
        }
    }
    let load_after = load::loadavg();
    let md = report(
        &rows,
        (ceil_before, ceil_after),
        &soak_table,
        &o,
        (&load_before, &load_after),
        pg_server.as_ref().map(|s| s.describe.as_str()),
    );
    if let Some(dir) = o.out.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(&o.out, &md).unwrap();
    println!("{md}");
    if let Some(readme) = &o.readme {
        let text = std::fs::read_to_string(readme).unwrap();
        let (a, b) = ("<!-- bench:start -->\n", "<!-- bench:end -->");
        if let (Some(i), Some(j)) = (text.find(a), text.find(b)) {
            let updated = format!("{}{md}{}", &text[..i + a.len()], &text[j..]);
            std::fs::write(readme, updated).unwrap();
        }
    }
    drop(ceiling_target);
    drop(targets);
    let _ = std::fs::remove_dir_all(&tmp);
}
