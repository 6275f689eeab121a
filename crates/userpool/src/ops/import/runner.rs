//! Running user import jobs in the background: one tokio task per running job, which
//! reads the sealed file piece by piece on a blocking thread (the `csv` crate's streaming
//! reader), checks each row ([`rows::check_row`]) and creates the users in batches of
//! [`BATCH`], each batch one transaction with the job's counters
//! ([`userpool_store::Store::import_users`]); and the sweep every node runs
//! ([`supervise`]) that takes over jobs whose node is gone and expires the ones never
//! started. The rules are in the module doc of [`crate::ops::import`].

use super::{clean_up, decode, is_final, load, rows, write, Job, Lease, Upload, NO_FILE, STOPPED, SUCCEEDED, TOO_MANY};
use crate::app::{App, Ctx};
use crate::error::OpResult;
use crate::ops::users::{self, Pool};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use userpool_model::types::UserImportJobStatusType as Status;
use userpool_store::{ImportOutcome, ObjectKind, ObjectRecord, StoreError};

/// Users per transaction: small enough that the store's writer is never held long
/// (other requests write between two batches), large enough that the commits are few.
pub const BATCH: usize = 100;
/// A file's pieces (before sealing).
pub const PIECE_BYTES: usize = 1024 * 1024;

/// A context for work no request asked for, at the current instant.
fn ctx(app: &Arc<App>) -> Ctx {
    Ctx::internal(app, crate::clock::now_ms(), "")
}

/// A new run's id (random).
pub fn new_run() -> String {
    crate::ids::uuid().simple().to_string()
}

/// A job a task of this process runs: in [`App::import_runs`] while this lives.
pub struct Running {
    app: Arc<App>,
    key: String,
}

impl Running {
    /// Claims a job for a task of this process; `None` when one already runs it.
    pub fn claim(app: &Arc<App>, pool_id: &str, job_id: &str) -> Option<Running> {
        let key = super::run_name(pool_id, job_id);
        let mut runs = app
            .import_runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        runs.insert(key.clone()).then(|| Running { app: app.clone(), key })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.app
            .import_runs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// Runs a job leased to this node under `run`, in the background, unless a task of this
/// process already runs it.
pub fn spawn(app: Arc<App>, pool_id: String, job_id: String, run: String) {
    match Running::claim(&app, &pool_id, &job_id) {
        Some(running) => spawn_claimed(running, pool_id, job_id, run),
        None => tracing::warn!(pool = %pool_id, job = %job_id, "user import job already running on this node"),
    }
}

fn spawn_claimed(running: Running, pool_id: String, job_id: String, run: String) {
    tokio::spawn(async move {
        let app = running.app.clone();
        if let Err(e) = drive(&app, &pool_id, &job_id, &run).await {
            tracing::warn!(pool = %pool_id, job = %job_id, error = %e,
                "user import job interrupted; it is taken over once its lease expires");
        }
        drop(running);
    });
}

/// Whether the job's lease is this run's (of this node).
fn mine(app: &App, run: &str, job: &Job) -> bool {
    job.lease
        .as_ref()
        .is_some_and(|l| l.owner == app.node_id && l.run == run)
}

/// A lease for this node's `run` from now.
fn lease(c: &Ctx, run: &str) -> Lease {
    Lease {
        owner: c.app.node_id.clone(),
        run: run.to_string(),
        until_ms: c.now_ms.saturating_add(c.app.config.import_lease_ms),
    }
}

/// How often a run renews its lease while no batch does (reading the file before the
/// import, skipping the rows done): every third of a lease.
fn renew_every(app: &App) -> Duration {
    Duration::from_millis(u64::try_from(app.config.import_lease_ms / 3).unwrap_or(20_000).max(100))
}

/// A ticker for [`renew`], its first tick a third of a lease from now.
fn renew_ticker(app: &App) -> tokio::time::Interval {
    let every = renew_every(app);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Extends this run's lease (compare-and-set, re-read when another write came first).
/// The job as written, or `None` when this run is to stop: the lease is another's or
/// let go, the job ended or is gone.
async fn renew(app: &Arc<App>, run: &str, mut o: ObjectRecord, mut job: Job) -> OpResult<Loaded> {
    for _ in 0..16 {
        if !mine(app, run, &job) || is_final(job.status()) {
            return Ok(None);
        }
        let c = ctx(app);
        job.lease = Some(lease(&c, run));
        match write(&c, &o, &job).await {
            Ok(Some(next)) => return Ok(Some((next, job))),
            Ok(None) => match reload(app, o.pool_id.as_str(), job.id().to_string().as_str()).await? {
                Some((next_o, next_job)) => (o, job) = (next_o, next_job),
                None => return Ok(None),
            },
            Err(e) if e.code == userpool_model::ErrorCode::ResourceNotFoundException => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    Err(crate::error::CognitoError::internal())
}

/// Sets a flag when dropped: tells a reading thread its reader is gone.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A job's record and body, re-read; `None` when it is gone (with its pool).
type Loaded = Option<(ObjectRecord, Job)>;

/// Takes a leased job from where it is to its end, unless another write takes it from
/// this node (its lease) or ends it first (StopUserImportJob).
async fn drive(app: &Arc<App>, pool_id: &str, job_id: &str, run: &str) -> OpResult<()> {
    let Some((mut o, mut job)) = load(&ctx(app), pool_id, job_id).await? else {
        return Ok(());
    };
    let pool = match users::load(&ctx(app), pool_id).await {
        Ok(p) => p,
        // Deleted with its pool: nothing is left to do.
        Err(e) if e.code == userpool_model::ErrorCode::ResourceNotFoundException => return Ok(()),
        Err(e) => return Err(e),
    };
    loop {
        if !mine(app, run, &job) {
            return Ok(());
        }
        match job.status() {
            Status::Pending => {
                let checked = match job.upload.clone() {
                    None => Err(Unreadable::File(NO_FILE.into())),
                    Some(u) => {
                        // Reading a big file takes a while: the lease is renewed meanwhile.
                        let stop = Arc::new(AtomicBool::new(false));
                        let _stop = StopOnDrop(stop.clone());
                        let scanning = scan(app, &pool, job_id, &u, stop);
                        tokio::pin!(scanning);
                        let mut tick = renew_ticker(app);
                        loop {
                            tokio::select! {
                                r = &mut scanning => break r,
                                _ = tick.tick() => match renew(app, run, o.clone(), job.clone()).await? {
                                    Some((next_o, next_job)) => (o, job) = (next_o, next_job),
                                    None => return Ok(()),
                                },
                            }
                        }
                    }
                };
                let c = ctx(app);
                match checked {
                    Ok(rows) => {
                        tracing::info!(pool = %pool_id, job = %job_id, rows, "importing users");
                        job.wire.status = Some(Status::Inprogress);
                        job.lease = Some(lease(&c, run));
                    }
                    Err(Unreadable::File(message)) => job.finish(Status::Failed, &message, c.now_ms),
                    Err(Unreadable::Store(e)) => return Err(e.into()),
                }
                match write(&c, &o, &job).await? {
                    Some(_) if is_final(job.status()) => {
                        tracing::info!(pool = %pool_id, job = %job_id, message = ?job.wire.completion_message,
                            "user import job failed");
                        return clean_up(&c, pool_id, job_id).await;
                    }
                    Some(next) => o = next,
                    None => match reload(app, pool_id, job_id).await? {
                        Some((next_o, next_job)) => (o, job) = (next_o, next_job),
                        None => return Ok(()),
                    },
                }
            }
            Status::Inprogress => return import(app, run, &pool, o, job).await,
            Status::Stopping => return end(app, run, pool_id, o, job, Status::Stopped, STOPPED).await,
            _ => return clean_up(&ctx(app), pool_id, job_id).await,
        }
    }
}

async fn reload(app: &Arc<App>, pool_id: &str, job_id: &str) -> OpResult<Loaded> {
    load(&ctx(app), pool_id, job_id).await
}

/// Why a file could not be read: the file itself (the job fails with this message), or
/// the store (the run stops; the job is taken over later).
#[derive(Debug, thiserror::Error)]
enum Unreadable {
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Store(StoreError),
}

/// The file's pieces as one stream, each fetched and opened when the reader needs it
/// (on a blocking thread: the store is reached through the runtime's handle).
struct Pieces {
    app: Arc<App>,
    handle: tokio::runtime::Handle,
    pool_id: String,
    prefix: String,
    next: u32,
    count: u32,
    piece: Vec<u8>,
    at: usize,
    /// Bytes handed to the CSV reader so far.
    fed: u64,
    /// Where the record being read begins (the end of the last one), and its line.
    mark: u64,
    mark_line: u64,
}

/// The CSV reader's buffer.
const READ_BUFFER: usize = 64 * 1024;
/// The most bytes a record may take in the file: a row of [`rows::MAX_ROW_CHARS`]
/// characters takes at most four bytes a character (quotes and separators included).
/// A longer record fails the file as soon as the reader has read that much of it, so
/// that no record larger than this is ever held whole.
const MAX_RECORD_BYTES: u64 = 4 * rows::MAX_ROW_CHARS as u64 + 1024;

impl Pieces {
    fn new(app: &Arc<App>, pool_id: &str, job_id: &str, upload: &Upload) -> Pieces {
        Pieces {
            app: app.clone(),
            handle: tokio::runtime::Handle::current(),
            pool_id: pool_id.to_string(),
            prefix: format!("{job_id}/{}/", upload.id),
            next: 0,
            count: upload.pieces,
            piece: Vec::new(),
            at: 0,
            fed: 0,
            mark: 0,
            mark_line: 1,
        }
    }

    fn fetch(&mut self) -> Result<(), Unreadable> {
        let name = format!("{}{:06}", self.prefix, self.next);
        let bad = || Unreadable::File("The CSV file could not be read.".into());
        let o = self
            .handle
            .block_on(self.app.store.get_object(ObjectKind::ImportData, &self.pool_id, &name))
            .map_err(Unreadable::Store)?
            .ok_or_else(bad)?;
        let sealed = STANDARD.decode(o.body.as_bytes()).map_err(|_| bad())?;
        self.piece = self.app.sealer.open(&sealed).ok_or_else(bad)?;
        self.at = 0;
        self.next += 1;
        Ok(())
    }
}

impl std::io::Read for Pieces {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.piece.len() {
            if self.next >= self.count {
                return Ok(0);
            }
            self.fetch().map_err(std::io::Error::other)?;
        }
        // The reader holds at most its buffer beyond the record it is building.
        if self.fed.saturating_sub(self.mark) > MAX_RECORD_BYTES + READ_BUFFER as u64 {
            return Err(std::io::Error::other(Unreadable::File(format!(
                "The row at line {} of the CSV file is longer than {} characters.",
                self.mark_line,
                rows::MAX_ROW_CHARS
            ))));
        }
        let mut rest = self.piece.get(self.at..).unwrap_or_default();
        let n = rest.read(out)?;
        self.at += n;
        self.fed = self.fed.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        Ok(n)
    }
}

/// The reason inside a `csv` error that came from [`Pieces`].
fn unreadable(e: csv::Error) -> Unreadable {
    if let csv::ErrorKind::Io(io) = e.kind() {
        if let Some(u) = io.get_ref().and_then(|inner| inner.downcast_ref::<Unreadable>()) {
            return match u {
                Unreadable::File(m) => Unreadable::File(m.clone()),
                Unreadable::Store(s) => Unreadable::Store(StoreError::Backend(s.to_string())),
            };
        }
    }
    Unreadable::File("The CSV file could not be read.".into())
}

fn csv_reader(pieces: Pieces) -> csv::Reader<Pieces> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(READ_BUFFER)
        .from_reader(pieces)
}

/// The next record, its size checked while it is read ([`MAX_RECORD_BYTES`]).
fn next_record(reader: &mut csv::Reader<Pieces>, record: &mut csv::ByteRecord) -> csv::Result<bool> {
    let more = reader.read_byte_record(record)?;
    let (end, line) = (reader.position().byte(), reader.position().line());
    let pieces = reader.get_mut();
    pieces.mark = end;
    pieces.mark_line = line;
    Ok(more)
}

/// The header of a file (its first record) as text.
fn header_of(reader: &mut csv::Reader<Pieces>) -> Result<Vec<String>, Unreadable> {
    let mut record = csv::ByteRecord::new();
    if !next_record(reader, &mut record).map_err(unreadable)? {
        return Err(Unreadable::File("The CSV file is empty.".into()));
    }
    record
        .iter()
        .map(|f| String::from_utf8(f.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|_| Unreadable::File("The CSV header is not valid UTF-8.".into()))
}

/// Reads the whole file once before the import starts: the header must be the pool's
/// and the rows at most [`rows::MAX_ROWS`]. Answers how many rows.
/// Gives up (its answer unused) once `stop` is set.
async fn scan(
    app: &Arc<App>,
    pool: &Pool,
    job_id: &str,
    upload: &Upload,
    stop: Arc<AtomicBool>,
) -> Result<u64, Unreadable> {
    let pieces = Pieces::new(app, pool.id(), job_id, upload);
    let pool = pool.clone();
    let work = move || -> Result<u64, Unreadable> {
        let mut reader = csv_reader(pieces);
        let header = header_of(&mut reader)?;
        rows::Columns::check(&pool, &header).map_err(Unreadable::File)?;
        let mut record = csv::ByteRecord::new();
        let mut n = 0u64;
        while next_record(&mut reader, &mut record).map_err(unreadable)? {
            if stop.load(Ordering::Relaxed) {
                return Err(Unreadable::File("The import stopped.".into()));
            }
            n += 1;
            if n > rows::MAX_ROWS {
                return Err(Unreadable::File(format!(
                    "The CSV file has more than {} rows.",
                    rows::MAX_ROWS
                )));
            }
        }
        Ok(n)
    };
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| Err(Unreadable::File("The CSV file could not be read.".into())))
}

/// A data row as read: its line in the file and its values (or why it has none).
struct Row {
    line: u64,
    values: Result<Vec<String>, String>,
}

/// What the reading thread hands the import.
enum Reading {
    Header(Vec<String>),
    Rows(Vec<Row>),
    Failed(Unreadable),
}

/// Reads the file on a blocking thread: the header, then the rows after the first
/// `skip`, in batches; stops when the import stops listening.
fn read_rows(pieces: Pieces, skip: u64, tx: &mpsc::Sender<Reading>) {
    let mut reader = csv_reader(pieces);
    let header = match header_of(&mut reader) {
        Ok(h) => h,
        Err(e) => {
            let _ = tx.blocking_send(Reading::Failed(e));
            return;
        }
    };
    if tx.blocking_send(Reading::Header(header)).is_err() {
        return;
    }
    let mut record = csv::ByteRecord::new();
    let mut index = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        match next_record(&mut reader, &mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let _ = tx.blocking_send(Reading::Failed(unreadable(e)));
                return;
            }
        }
        index += 1;
        if index <= skip {
            continue;
        }
        let values = record
            .iter()
            .map(|f| String::from_utf8(f.to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| "The row is not valid UTF-8.".to_string());
        batch.push(Row {
            line: record.position().map_or(0, csv::Position::line),
            values,
        });
        if batch.len() >= BATCH && tx.blocking_send(Reading::Rows(std::mem::take(&mut batch))).is_err() {
            return;
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Reading::Rows(batch));
    }
}

/// What happened to one row of a batch, for its log line.
enum Fate {
    Imported,
    Skipped,
    Failed(String),
}

/// Adds a batch to the job's counts: its rows, done; the users the store created,
/// found existing or refused. With email or phone as the username, a user whose
/// address another holds is the same user: skipped.
fn tally(job: &mut Job, outcomes: &[ImportOutcome], refused: usize, rows: usize, alias_is_user: bool) {
    let count =
        |f: &dyn Fn(&ImportOutcome) -> bool| i64::try_from(outcomes.iter().filter(|o| f(o)).count()).unwrap_or(0);
    let created = count(&|o| *o == ImportOutcome::Created);
    let existing = count(&|o| *o == ImportOutcome::UsernameExists);
    let aliases = count(&|o| *o == ImportOutcome::AliasExists);
    let refused = i64::try_from(refused).unwrap_or(0);
    let add = |v: &mut Option<i64>, n: i64| *v = Some(v.unwrap_or(0).saturating_add(n));
    add(&mut job.wire.imported_users, created);
    if alias_is_user {
        add(&mut job.wire.skipped_users, existing + aliases);
        add(&mut job.wire.failed_users, refused);
    } else {
        add(&mut job.wire.skipped_users, existing);
        add(&mut job.wire.failed_users, refused + aliases);
    }
    job.rows_done = job.rows_done.saturating_add(u64::try_from(rows).unwrap_or(0));
}

/// Imports the rows not done yet, batch by batch, then ends the job.
async fn import(app: &Arc<App>, run: &str, pool: &Pool, mut o: ObjectRecord, mut job: Job) -> OpResult<()> {
    let (pool_id, job_id) = (pool.id().to_string(), job.id().to_string());
    let Some(upload) = job.upload.clone() else {
        return end(app, run, &pool_id, o, job, Status::Failed, NO_FILE).await;
    };
    let (tx, mut rx) = mpsc::channel(2);
    let pieces = Pieces::new(app, &pool_id, &job_id, &upload);
    let skip = job.rows_done;
    let reading = tokio::task::spawn_blocking(move || read_rows(pieces, skip, &tx));
    let mut columns = None;
    // Every batch renews the lease; between two (a resumed job skipping the rows done)
    // the ticker does.
    let mut tick = renew_ticker(app);
    loop {
        let read = tokio::select! {
            read = rx.recv() => match read {
                Some(read) => read,
                None => break,
            },
            _ = tick.tick() => match renew(app, run, o.clone(), job.clone()).await? {
                Some((next_o, next_job)) => {
                    (o, job) = (next_o, next_job);
                    continue;
                }
                None => return Ok(()),
            },
        };
        let batch = match read {
            Reading::Header(h) => match rows::Columns::check(pool, &h) {
                Ok(c) => {
                    columns = Some(c);
                    continue;
                }
                // The pool's attributes changed since the job started.
                Err(message) => return end(app, run, &pool_id, o, job, Status::Failed, &message).await,
            },
            Reading::Rows(b) => b,
            Reading::Failed(Unreadable::File(message)) => {
                return end(app, run, &pool_id, o, job, Status::Failed, &message).await
            }
            Reading::Failed(Unreadable::Store(e)) => return Err(e.into()),
        };
        let Some(columns) = columns.as_ref() else { continue };
        match import_batch(app, run, pool, columns, o, job, batch).await? {
            Some((next_o, next_job)) => (o, job) = (next_o, next_job),
            None => return Ok(()),
        }
        tick.reset();
        tokio::task::yield_now().await;
    }
    if reading.await.is_err() {
        // The reading thread panicked: the rows it did not hand over are not done. The
        // job stays leased; it is taken over when the lease expires.
        tracing::error!(pool = %pool_id, job = %job_id, "IE0006 reading an import file panicked");
        return Err(crate::error::CognitoError::internal());
    }
    let imported = job.wire.imported_users.unwrap_or(0);
    let others = job.wire.skipped_users.unwrap_or(0) + job.wire.failed_users.unwrap_or(0);
    if others > imported {
        end(app, run, &pool_id, o, job, Status::Failed, TOO_MANY).await
    } else {
        end(app, run, &pool_id, o, job, Status::Succeeded, SUCCEEDED).await
    }
}

/// One batch: its rows checked, its users created with the job's new counts in one
/// transaction, then logged. The job as written, or `None` when this run is to stop
/// (the job was stopped, taken over or deleted; whoever did so carries on). A batch that
/// loses its compare-and-set is retried only while the job is still this run's with the
/// same rows done (a stop, say); otherwise this run stops and never writes that batch.
#[allow(clippy::too_many_arguments)]
async fn import_batch(
    app: &Arc<App>,
    run: &str,
    pool: &Pool,
    columns: &rows::Columns,
    mut o: ObjectRecord,
    mut job: Job,
    batch: Vec<Row>,
) -> OpResult<Option<(ObjectRecord, Job)>> {
    let (pool_id, job_id) = (pool.id().to_string(), job.id().to_string());
    let c = ctx(app);
    let mut users = Vec::with_capacity(batch.len());
    let mut user_lines = Vec::with_capacity(batch.len());
    let mut refused = Vec::new();
    for row in &batch {
        let checked = row
            .values
            .clone()
            .and_then(|values| rows::check_row(pool, columns, values, c.now_ms));
        match checked {
            Ok(user) => {
                users.push(user);
                user_lines.push(row.line);
            }
            Err(why) => refused.push((row.line, why)),
        }
    }
    let alias_is_user = pool.email_or_phone_usernames();
    loop {
        if !mine(app, run, &job) || is_final(job.status()) {
            return Ok(None);
        }
        if job.status() == Status::Stopping {
            end(app, run, &pool_id, o, job, Status::Stopped, STOPPED).await?;
            return Ok(None);
        }
        let c = ctx(app);
        let base = job.clone();
        let renewed = lease(&c, run);
        let (refused_n, rows_n) = (refused.len(), batch.len());
        let body = move |outcomes: &[ImportOutcome]| {
            let mut next = base.clone();
            tally(&mut next, outcomes, refused_n, rows_n, alias_is_user);
            next.lease = Some(renewed.clone());
            // A job is plain strings and numbers: it always serialises.
            serde_json::to_string(&next).unwrap_or_default()
        };
        let target = ObjectRecord {
            modified_ms: c.now_ms,
            ..o.clone()
        };
        match app.store.import_users(&users, &target, &o.body, &body).await {
            Ok(outcomes) => {
                o = ObjectRecord {
                    body: body(&outcomes),
                    ..target
                };
                job = decode(&o)?;
                log_batch(&pool_id, &job_id, &user_lines, &outcomes, &refused, alias_is_user);
                return Ok(Some((o, job)));
            }
            // Nothing of the batch was written. Retried only against the same progress
            // of this run (the job stopped meanwhile, say): a batch another task wrote
            // is never written twice.
            Err(StoreError::Conflict(_)) => match reload(app, &pool_id, &job_id).await? {
                Some((next_o, next_job)) if mine(app, run, &next_job) && next_job.rows_done == job.rows_done => {
                    (o, job) = (next_o, next_job);
                }
                _ => return Ok(None),
            },
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The log lines Cognito writes to CloudWatch Logs, one per row (no user data).
fn log_batch(
    pool_id: &str,
    job_id: &str,
    user_lines: &[u64],
    outcomes: &[ImportOutcome],
    refused: &[(u64, String)],
    alias_is_user: bool,
) {
    let mut fates: Vec<(u64, Fate)> = user_lines
        .iter()
        .zip(outcomes)
        .map(|(line, o)| {
            let fate = match o {
                ImportOutcome::Created => Fate::Imported,
                ImportOutcome::UsernameExists => Fate::Skipped,
                ImportOutcome::AliasExists if alias_is_user => Fate::Skipped,
                ImportOutcome::AliasExists => Fate::Failed(
                    "An account with the given email, phone number or preferred username already exists.".into(),
                ),
            };
            (*line, fate)
        })
        .chain(refused.iter().map(|(line, why)| (*line, Fate::Failed(why.clone()))))
        .collect();
    fates.sort_by_key(|(line, _)| *line);
    for (line, fate) in fates {
        match fate {
            Fate::Imported => tracing::debug!(target: "userpool::import", pool = %pool_id, job = %job_id,
                "[SUCCEEDED] Line Number {line} - The import succeeded."),
            Fate::Skipped => tracing::info!(target: "userpool::import", pool = %pool_id, job = %job_id,
                "[SKIPPED] Line Number {line} - The user already exists."),
            Fate::Failed(why) => tracing::info!(target: "userpool::import", pool = %pool_id, job = %job_id,
                "[FAILED] Line Number {line} - {why}"),
        }
    }
}

/// Ends a job this node runs with `status` (or `Stopped`, if it was stopped meanwhile),
/// then deletes its file and marker. Does nothing once the lease is another's.
async fn end(
    app: &Arc<App>,
    run: &str,
    pool_id: &str,
    mut o: ObjectRecord,
    mut job: Job,
    status: Status,
    message: &str,
) -> OpResult<()> {
    let job_id = job.id().to_string();
    loop {
        if !mine(app, run, &job) || is_final(job.status()) {
            return Ok(());
        }
        let c = ctx(app);
        let (status, message) = if job.status() == Status::Stopping {
            (Status::Stopped, STOPPED)
        } else {
            (status, message)
        };
        job.finish(status, message, c.now_ms);
        if write(&c, &o, &job).await?.is_some() {
            tracing::info!(pool = %pool_id, job = %job_id, status = status.as_str(), message,
                imported = job.wire.imported_users, skipped = job.wire.skipped_users, failed = job.wire.failed_users,
                "user import job ended");
            return clean_up(&c, pool_id, &job_id).await;
        }
        match reload(app, pool_id, &job_id).await? {
            Some((next_o, next_job)) => (o, job) = (next_o, next_job),
            None => return Ok(()),
        }
    }
}

/// Every node: at start and every half lease (30 seconds at most), takes over the running jobs whose lease
/// has expired, expires the jobs never started, and deletes what finished jobs left.
/// `exclusive`: this process is the store's only user (SQLite), so at start every lease
/// is a dead process's. A job a task of this process runs is never taken over (its
/// lease may lapse while the task waits on a slow store; the task goes on).
pub async fn supervise(app: Arc<App>, exclusive: bool) {
    let half = u64::try_from(app.config.import_lease_ms / 2).unwrap_or(30_000);
    let mut tick = tokio::time::interval(Duration::from_millis(half.clamp(500, 30_000)));
    let mut take_all = exclusive;
    loop {
        tick.tick().await;
        if let Err(e) = sweep(&app, take_all).await {
            tracing::warn!(error = %e, "sweeping user import jobs failed; retrying later");
        }
        take_all = false;
    }
}

async fn sweep(app: &Arc<App>, take_all: bool) -> OpResult<()> {
    let mut after: Option<String> = None;
    loop {
        let page = app
            .store
            .list_global_objects(ObjectKind::ImportRun, after.as_deref(), 100)
            .await?;
        for marker in &page.items {
            if let Some((pool_id, job_id)) = marker.name.split_once('/') {
                look_after(app, marker, pool_id, job_id, take_all).await?;
            }
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => return Ok(()),
        }
    }
}

async fn look_after(
    app: &Arc<App>,
    marker: &ObjectRecord,
    pool_id: &str,
    job_id: &str,
    take_all: bool,
) -> OpResult<()> {
    let c = ctx(app);
    let Some((o, mut job)) = load(&c, pool_id, job_id).await? else {
        // CreateUserImportJob writes the marker just before its job: an orphan is one
        // older than a minute.
        if marker.created_ms < c.now_ms.saturating_sub(60_000) {
            match app.store.delete_object(ObjectKind::ImportRun, "", &marker.name).await {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(());
    };
    match job.status() {
        Status::Created if job.expired(c.now_ms) => {
            job.wire.status = Some(Status::Expired);
            if write(&c, &o, &job).await?.is_some() {
                tracing::info!(pool = %pool_id, job = %job_id, "user import job expired");
                clean_up(&c, pool_id, job_id).await?;
            }
        }
        Status::Created => {}
        Status::Pending | Status::Inprogress | Status::Stopping => {
            let lapsed = job.lease.as_ref().is_none_or(|l| l.until_ms < c.now_ms);
            if !(lapsed || take_all) {
                return Ok(());
            }
            // Claimed before the write, so that no task of this process starts it meanwhile.
            let Some(running) = Running::claim(app, pool_id, job_id) else {
                return Ok(());
            };
            let run = new_run();
            job.lease = Some(lease(&c, &run));
            if write(&c, &o, &job).await?.is_some() {
                tracing::info!(pool = %pool_id, job = %job_id, status = job.status().as_str(),
                    "taking over a user import job whose node is gone");
                spawn_claimed(running, pool_id.to_string(), job_id.to_string(), run);
            }
        }
        _ => clean_up(&c, pool_id, job_id).await?,
    }
    Ok(())
}
