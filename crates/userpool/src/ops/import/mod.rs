//! Bulk user import from a CSV file: GetCSVHeader, CreateUserImportJob,
//! StartUserImportJob, StopUserImportJob, DescribeUserImportJob, ListUserImportJobs; the
//! import itself runs in the background ([`runner`]), the file's rules are [`rows`], and
//! the upload is `web::import` (the job's PreSignedUrl).
//!
//! From the developer guide and the API reference:
//! - a job is `Created` with a PreSignedUrl valid for 15 minutes, to which the CSV file is
//!   `PUT` (`curl -T file -H "x-amz-server-side-encryption:aws:kms" <url>`); a job not
//!   started within a day is `Expired` and its data deleted;
//! - StartUserImportJob makes it `Pending`, then `InProgress` while users are imported,
//!   then `Succeeded`, or `Failed` when the file cannot be read ("Amazon Cognito is unable
//!   to parse the .csv file") or "Too many users have failed or been skipped during the
//!   import."; StopUserImportJob makes it `Stopping`, then `Stopped` ("The Import Job was
//!   stopped by the developer."), and it cannot be started again;
//! - a user that cannot be imported is `FailedUsers` and the job goes on; a user that
//!   already exists is `SkippedUsers` ("[SKIPPED] Line Number 5956 - The user already
//!   exists."); Cognito writes a line per user to CloudWatch Logs, userpool logs it with
//!   `tracing` (target `userpool::import`);
//! - jobs are listed newest first; imported users are `RESET_REQUIRED`, their creation
//!   date the moment of their import.
//!
//! Decided where the documentation is silent:
//! - the JobId is `import-` and ten letters and digits, the first seven counting down
//!   from the creation instant, so the store's name order is newest first;
//! - the PreSignedUrl is `<public URL>/_userpool/import/<poolId>/<jobId>?X-Amz-…`, signed
//!   with an HMAC of the data key (`Sealer::derive`) over the pool, job, date and
//!   lifetime, so nothing of it is stored; it must be sent with the
//!   `x-amz-server-side-encryption: aws:kms` header it signs, as S3's does; the file is
//!   sealed at rest; a new upload replaces the last one until the job starts; one upload
//!   at a time: the first marks the job (compare-and-set, the mark held a minute and
//!   renewed while the file arrives), a concurrent one is refused with S3's
//!   `409 OperationAborted`;
//! - StartUserImportJob before any upload is accepted, and the job fails ("The CSV file
//!   has not been uploaded."); on a pool without auto-verified attributes it is refused
//!   (the guide: "the import job will not start"), as is a job not `Created`;
//! - StopUserImportJob of a `Pending` job stops it at once; of an `InProgress` one it
//!   answers once the job has stopped, or `Stopping` after two seconds;
//! - "too many": the job fails when the failed and skipped users outnumber the imported
//!   ones (the guide's samples: 0 imported of 5, 14 of 46);
//! - any number of jobs may run at once.
//!
//! Several nodes: a job lives only in the store. A started job carries a lease (its
//! node, a random id of the run, i.e. of the one task running it, and an expiry a minute
//! ahead, `--import-lease-seconds`, renewed by every batch and, while the file is read
//! before the import or rows are skipped, every third of a lease); every write of the job is
//! a compare-and-set of its whole record, so a task that lost its lease, or a job stopped
//! meanwhile, writes nothing: a task whose batch loses the compare-and-set to another run
//! stops (the lease holder carries on), it never retries that batch. A node never takes
//! over a job it is running itself (it keeps the set of the jobs its tasks run). Each batch of users is committed in one transaction with the
//! job's counters and the number of rows done, so a job resumed elsewhere goes on from the
//! next row with exact counts. Every node looks every half lease (and at start) for jobs
//! whose lease has expired and takes them over ([`runner::supervise`]); on SQLite, where
//! one process owns the file, a starting node takes over every unfinished job at once.

pub mod rows;
pub mod runner;

use crate::app::{App, Ctx};
use crate::error::{CognitoError, OpResult};
use crate::ops::{token, users};
use serde::{Deserialize, Serialize};
use userpool_model::types::{
    CreateUserImportJobRequest, CreateUserImportJobResponse, DescribeUserImportJobRequest,
    DescribeUserImportJobResponse, GetCSVHeaderRequest, GetCSVHeaderResponse, ListUserImportJobsRequest,
    ListUserImportJobsResponse, StartUserImportJobRequest, StartUserImportJobResponse, StopUserImportJobRequest,
    StopUserImportJobResponse, UserImportJobStatusType as Status, UserImportJobType,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{ObjectKind, ObjectRecord, StoreError};

/// How long a PreSignedUrl is valid (15 minutes, the developer guide's).
pub const URL_TTL_S: i64 = 900;
/// A job not started this long after its creation is `Expired` (the guide: 24-48 hours).
pub const EXPIRY_MS: i64 = 86_400_000;
/// The largest file accepted (the guide: 100 MB).
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;

/// "Import Job Completed Successfully."
pub const SUCCEEDED: &str = "Import Job Completed Successfully.";
/// "The Import Job was stopped by the developer."
pub const STOPPED: &str = "The Import Job was stopped by the developer.";
/// "Too many users have failed or been skipped during the import."
pub const TOO_MANY: &str = "Too many users have failed or been skipped during the import.";
/// Started before any file was uploaded.
pub const NO_FILE: &str = "The CSV file has not been uploaded.";

/// An uploaded file: its pieces are the `ImportData` objects `<jobId>/<id>/<n>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// The upload's id (a new upload does not overwrite the pieces of the last one).
    pub id: String,
    /// How many pieces.
    pub pieces: u32,
    /// Its size.
    pub bytes: u64,
}

/// An upload being received (`web::import`): at most one at a time per job, on any node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploading {
    /// The upload's id ([`Upload::id`] once attached).
    pub id: String,
    /// Until when it holds the job (renewed while the file arrives), epoch ms.
    pub until_ms: i64,
}

/// The node running a job, which run of it, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// [`App::node_id`] of the node.
    pub owner: String,
    /// The run (one task on that node: random, new at each start or take-over): a task
    /// goes on only while the lease names its run, so two tasks never both write.
    #[serde(default)]
    pub run: String,
    /// When another node may take the job over, epoch ms.
    pub until_ms: i64,
}

/// A job as stored: the wire record (without its PreSignedUrl, which is computed) and
/// what the import needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The answer's fields.
    #[serde(flatten)]
    pub wire: UserImportJobType,
    /// The file, once uploaded.
    #[serde(rename = "userpool:Upload", default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<Upload>,
    /// The upload being received, if any.
    #[serde(rename = "userpool:Uploading", default, skip_serializing_if = "Option::is_none")]
    pub uploading: Option<Uploading>,
    /// The data rows done (imported, skipped or failed): where a resumed job goes on.
    #[serde(rename = "userpool:RowsDone", default)]
    pub rows_done: u64,
    /// Who runs it (from StartUserImportJob until it ends).
    #[serde(rename = "userpool:Lease", default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

impl Job {
    /// Its status as stored.
    pub fn status(&self) -> Status {
        self.wire.status.unwrap_or(Status::Created)
    }

    /// Its status at `now_ms`: a `Created` job past its day is `Expired` (before the
    /// nodes' sweep writes so).
    pub fn status_at(&self, now_ms: i64) -> Status {
        match self.status() {
            Status::Created if self.expired(now_ms) => Status::Expired,
            s => s,
        }
    }

    /// Whether a `Created` job is past its day.
    pub fn expired(&self, now_ms: i64) -> bool {
        now_ms > self.created_ms().saturating_add(EXPIRY_MS)
    }

    /// CreationDate, epoch ms.
    pub fn created_ms(&self) -> i64 {
        self.wire.creation_date.map_or(0, Timestamp::millis)
    }

    /// JobId.
    pub fn id(&self) -> &str {
        self.wire.job_id.as_deref().unwrap_or_default()
    }

    /// Ends the job: its status, CompletionDate and CompletionMessage; the lease is let go.
    pub fn finish(&mut self, status: Status, message: &str, now_ms: i64) {
        self.wire.status = Some(status);
        self.wire.completion_date = Some(Timestamp(now_ms));
        self.wire.completion_message = Some(message.to_string());
        self.lease = None;
    }
}

/// Whether a status is final.
pub fn is_final(s: Status) -> bool {
    matches!(
        s,
        Status::Succeeded | Status::Failed | Status::Stopped | Status::Expired
    )
}

/// A stored job's body.
pub fn encode(job: &Job) -> OpResult<String> {
    serde_json::to_string(job).map_err(|e| {
        tracing::error!(error = %e, "IE0003 import job did not serialise");
        CognitoError::internal()
    })
}

/// A stored job.
pub fn decode(o: &ObjectRecord) -> OpResult<Job> {
    serde_json::from_str(&o.body).map_err(|e| {
        tracing::error!(error = %e, job = %o.name, "IE0004 stored import job did not parse");
        CognitoError::internal()
    })
}

/// The name of a job's marker (`ImportRun`): `<poolId>/<jobId>`.
pub fn run_name(pool_id: &str, job_id: &str) -> String {
    format!("{pool_id}/{job_id}")
}

/// "Import job <id> does not exist." (ResourceNotFoundException)
fn job_not_found(job_id: &str) -> CognitoError {
    CognitoError::not_found(format!("Import job {job_id} does not exist."))
}

/// A pool's job: its record and decoded body (the pool checked first).
pub async fn find(ctx: &Ctx, pool_id: &str, job_id: &str) -> OpResult<(ObjectRecord, Job)> {
    users::load(ctx, pool_id).await?;
    load(ctx, pool_id, job_id).await?.ok_or_else(|| job_not_found(job_id))
}

/// A job, if it exists.
pub async fn load(ctx: &Ctx, pool_id: &str, job_id: &str) -> OpResult<Option<(ObjectRecord, Job)>> {
    match ctx.store().get_object(ObjectKind::ImportJob, pool_id, job_id).await? {
        Some(o) => {
            let job = decode(&o)?;
            Ok(Some((o, job)))
        }
        None => Ok(None),
    }
}

/// Writes `job` over `o` if `o` is still what is stored (compare-and-set): `Ok(Some)` the
/// record as written, `Ok(None)` when another write came first (re-read and decide
/// again), ResourceNotFoundException when the job is gone.
pub async fn write(ctx: &Ctx, o: &ObjectRecord, job: &Job) -> OpResult<Option<ObjectRecord>> {
    let next = ObjectRecord {
        body: encode(job)?,
        modified_ms: ctx.now_ms,
        ..o.clone()
    };
    match ctx.store().replace_object_if(&next, o).await {
        Ok(()) => Ok(Some(next)),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(StoreError::NotFound) => Err(job_not_found(job.id())),
        Err(e) => Err(e.into()),
    }
}

/// Deletes what a finished job no longer needs: its file and its marker.
pub async fn clean_up(ctx: &Ctx, pool_id: &str, job_id: &str) -> OpResult<()> {
    delete_pieces(ctx, pool_id, &format!("{job_id}/")).await?;
    match ctx
        .store()
        .delete_object(ObjectKind::ImportRun, "", &run_name(pool_id, job_id))
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the file pieces whose names begin with `prefix` (`<jobId>/` or
/// `<jobId>/<uploadId>/`).
pub async fn delete_pieces(ctx: &Ctx, pool_id: &str, prefix: &str) -> OpResult<()> {
    loop {
        let page = ctx
            .store()
            .list_objects(ObjectKind::ImportData, pool_id, Some(prefix), 100)
            .await?;
        let mine: Vec<&ObjectRecord> = page.items.iter().filter(|o| o.name.starts_with(prefix)).collect();
        if mine.is_empty() {
            return Ok(());
        }
        for o in mine {
            match ctx
                .store()
                .delete_object(ObjectKind::ImportData, pool_id, &o.name)
                .await
            {
                Ok(()) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// The digits of JobIds, in byte order.
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `import-` and ten base-62 digits: seven counting down from `now_ms` (62^7 ms reach
/// the year 2081), so that newer jobs sort first, and three random ones.
fn job_id(now_ms: i64) -> String {
    use rand::Rng as _;
    const SPAN: i64 = 3_521_614_606_208; // 62^7
    let mut n = SPAN.saturating_sub(1).saturating_sub(now_ms.clamp(0, SPAN - 1));
    let mut digits = [b'0'; 7];
    for d in digits.iter_mut().rev() {
        let i = usize::try_from(n % 62).unwrap_or(0);
        *d = BASE62.get(i).copied().unwrap_or(b'0');
        n /= 62;
    }
    let mut rng = rand::thread_rng();
    let mut id = String::from("import-");
    id.extend(digits.iter().map(|b| char::from(*b)));
    for _ in 0..3 {
        id.push(char::from(BASE62.get(rng.gen_range(0..62)).copied().unwrap_or(b'0')));
    }
    id
}

/// The HMAC that authorises a job's upload: only holders of the data key can make it,
/// and it covers the pool, the job, the URL's date and its lifetime.
pub fn upload_signature(app: &App, pool_id: &str, job_id: &str, amz_date: &str, expires_s: i64) -> String {
    let label = format!("userpool import upload v1\n{pool_id}\n{job_id}\n{amz_date}\n{expires_s}");
    hex::encode(app.sealer.derive(label.as_bytes()))
}

/// A job's PreSignedUrl, as S3 forms a pre-signed PUT (its query names what it signs).
pub fn presigned_url(app: &App, pool_id: &str, job_id: &str, created_ms: i64) -> String {
    let date = userpool_sigv4::format_amz_date(created_ms.div_euclid(1000));
    let signature = upload_signature(app, pool_id, job_id, &date, URL_TTL_S);
    format!(
        "{}/_userpool/import/{pool_id}/{job_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}\
         &X-Amz-Expires={URL_TTL_S}&X-Amz-SignedHeaders=host%3Bx-amz-server-side-encryption\
         &X-Amz-Signature={signature}",
        app.config.public_url
    )
}

/// A job as the API answers it.
pub fn view(ctx: &Ctx, pool_id: &str, job: &Job) -> UserImportJobType {
    let mut wire = job.wire.clone();
    wire.status = Some(job.status_at(ctx.now_ms));
    wire.pre_signed_url = Some(presigned_url(&ctx.app, pool_id, job.id(), job.created_ms()));
    wire
}

/// A role ARN as IAM writes one: `arn:<partition>:iam::<account>:role/<path and name>`.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if !partition.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|r| !r.is_empty())
    )
}

/// GetCSVHeader
pub async fn get_csv_header(ctx: &Ctx, req: GetCSVHeaderRequest) -> OpResult<GetCSVHeaderResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    Ok(GetCSVHeaderResponse {
        user_pool_id: Some(pool.id().to_string()),
        csv_header: Some(rows::header(&pool)),
    })
}

/// CreateUserImportJob
pub async fn create_user_import_job(
    ctx: &Ctx,
    req: CreateUserImportJobRequest,
) -> OpResult<CreateUserImportJobResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    if !is_role_arn(&req.cloud_watch_logs_role_arn) {
        return Err(CognitoError::invalid_parameter(format!(
            "{} is not a valid IAM role ARN for CloudWatchLogsRoleArn.",
            req.cloud_watch_logs_role_arn
        )));
    }
    for _ in 0..8 {
        let id = job_id(ctx.now_ms);
        let job = Job {
            wire: UserImportJobType {
                job_name: Some(req.job_name.clone()),
                job_id: Some(id.clone()),
                user_pool_id: Some(pool.id().to_string()),
                creation_date: Some(Timestamp(ctx.now_ms)),
                status: Some(Status::Created),
                cloud_watch_logs_role_arn: Some(req.cloud_watch_logs_role_arn.clone()),
                imported_users: Some(0),
                skipped_users: Some(0),
                failed_users: Some(0),
                ..UserImportJobType::default()
            },
            ..Job::default()
        };
        let object = |kind: ObjectKind, name: String, body: String| ObjectRecord {
            kind,
            pool_id: pool.id().to_string(),
            name,
            body,
            created_ms: ctx.now_ms,
            modified_ms: ctx.now_ms,
        };
        // The marker first: a job never exists without one (a marker without its job is
        // swept away).
        let marker = object(ObjectKind::ImportRun, run_name(pool.id(), &id), "{}".into());
        match ctx.store().create_object(&marker).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => continue,
            Err(StoreError::NotFound) => return Err(CognitoError::pool_not_found(pool.id())),
            Err(e) => return Err(e.into()),
        }
        match ctx
            .store()
            .create_object(&object(ObjectKind::ImportJob, id.clone(), encode(&job)?))
            .await
        {
            Ok(()) => {
                tracing::info!(pool = %pool.id(), job = %id, "created user import job");
                return Ok(CreateUserImportJobResponse {
                    user_import_job: Some(view(ctx, pool.id(), &job)),
                });
            }
            Err(e) => {
                let _ = ctx.store().delete_object(ObjectKind::ImportRun, "", &marker.name).await;
                match e {
                    StoreError::Conflict(_) => continue,
                    StoreError::NotFound => return Err(CognitoError::pool_not_found(pool.id())),
                    e => return Err(e.into()),
                }
            }
        }
    }
    tracing::error!(pool = %pool.id(), "IE0005 no free import job id after 8 draws");
    Err(CognitoError::internal())
}

/// DescribeUserImportJob
pub async fn describe_user_import_job(
    ctx: &Ctx,
    req: DescribeUserImportJobRequest,
) -> OpResult<DescribeUserImportJobResponse> {
    let (_, job) = find(ctx, &req.user_pool_id, &req.job_id).await?;
    Ok(DescribeUserImportJobResponse {
        user_import_job: Some(view(ctx, &req.user_pool_id, &job)),
    })
}

/// ListUserImportJobs: newest first.
pub async fn list_user_import_jobs(ctx: &Ctx, req: ListUserImportJobsRequest) -> OpResult<ListUserImportJobsResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let (limit, after) = token::page(Some(req.max_results), req.pagination_token.as_deref())?;
    let page = ctx
        .store()
        .list_objects(ObjectKind::ImportJob, &req.user_pool_id, after.as_deref(), limit)
        .await?;
    let jobs = page
        .items
        .iter()
        .map(|o| Ok(view(ctx, &req.user_pool_id, &decode(o)?)))
        .collect::<OpResult<Vec<_>>>()?;
    Ok(ListUserImportJobsResponse {
        user_import_jobs: Some(jobs),
        pagination_token: page.next_after.as_deref().map(token::encode),
    })
}

/// PreconditionNotMetException for a job in the wrong state.
fn wrong_state(job_id: &str, verb: &str, status: Status) -> CognitoError {
    CognitoError::new(
        ErrorCode::PreconditionNotMetException,
        format!(
            "Import job {job_id} cannot be {verb}: its status is {}.",
            status.as_str()
        ),
    )
}

/// How many times a job write that lost to another is re-decided.
const WRITE_ATTEMPTS: usize = 16;

/// StartUserImportJob: `Pending`, leased to this node, whose runner starts at once.
pub async fn start_user_import_job(ctx: &Ctx, req: StartUserImportJobRequest) -> OpResult<StartUserImportJobResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    if pool
        .settings()
        .auto_verified_attributes
        .as_ref()
        .is_none_or(|a| a.is_empty())
    {
        return Err(CognitoError::new(
            ErrorCode::PreconditionNotMetException,
            "The user pool has no auto-verified attributes: imported users could not reset their passwords.",
        ));
    }
    for _ in 0..WRITE_ATTEMPTS {
        let (o, mut job) = find(ctx, &req.user_pool_id, &req.job_id).await?;
        let status = job.status_at(ctx.now_ms);
        if status != Status::Created {
            return Err(wrong_state(&req.job_id, "started", status));
        }
        job.wire.status = Some(Status::Pending);
        job.wire.start_date = Some(Timestamp(ctx.now_ms));
        let run = runner::new_run();
        job.lease = Some(Lease {
            owner: ctx.app.node_id.clone(),
            run: run.clone(),
            until_ms: ctx.now_ms.saturating_add(ctx.app.config.import_lease_ms),
        });
        if write(ctx, &o, &job).await?.is_some() {
            tracing::info!(pool = %req.user_pool_id, job = %req.job_id, "started user import job");
            runner::spawn(ctx.app.clone(), req.user_pool_id.clone(), req.job_id.clone(), run);
            return Ok(StartUserImportJobResponse {
                user_import_job: Some(view(ctx, &req.user_pool_id, &job)),
            });
        }
    }
    Err(busy())
}

fn busy() -> CognitoError {
    CognitoError::new(
        ErrorCode::TooManyRequestsException,
        "Too many concurrent changes to this import job; try again.",
    )
}

/// StopUserImportJob
pub async fn stop_user_import_job(ctx: &Ctx, req: StopUserImportJobRequest) -> OpResult<StopUserImportJobResponse> {
    let pool_id = &req.user_pool_id;
    for _ in 0..WRITE_ATTEMPTS {
        let (o, mut job) = find(ctx, pool_id, &req.job_id).await?;
        match job.status_at(ctx.now_ms) {
            // Nothing imported yet: stopped at once (a runner preparing it finds it so).
            Status::Pending => {
                job.finish(Status::Stopped, STOPPED, ctx.now_ms);
                if write(ctx, &o, &job).await?.is_some() {
                    clean_up(ctx, pool_id, &req.job_id).await?;
                    return Ok(StopUserImportJobResponse {
                        user_import_job: Some(view(ctx, pool_id, &job)),
                    });
                }
            }
            Status::Inprogress => {
                job.wire.status = Some(Status::Stopping);
                if write(ctx, &o, &job).await?.is_some() {
                    tracing::info!(pool = %pool_id, job = %req.job_id, "stopping user import job");
                    return Ok(StopUserImportJobResponse {
                        user_import_job: Some(wait_for_stop(ctx, pool_id, &req.job_id, job).await),
                    });
                }
            }
            Status::Stopping => {
                return Ok(StopUserImportJobResponse {
                    user_import_job: Some(view(ctx, pool_id, &job)),
                })
            }
            status => return Err(wrong_state(&req.job_id, "stopped", status)),
        }
    }
    Err(busy())
}

/// The job once its runner has stopped it (it does so between two batches), or as it is
/// after two seconds.
async fn wait_for_stop(ctx: &Ctx, pool_id: &str, job_id: &str, mut job: Job) -> UserImportJobType {
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        match load(ctx, pool_id, job_id).await {
            Ok(Some((_, now))) => {
                job = now;
                if is_final(job.status()) {
                    break;
                }
            }
            _ => break,
        }
    }
    view(ctx, pool_id, &job)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_have_cognitos_form_and_sort_newest_first() {
        let older = job_id(1_700_000_000_000);
        let newer = job_id(1_700_000_000_001);
        for id in [&older, &newer] {
            assert_eq!(id.len(), "import-".len() + 10, "{id}");
            assert!(id
                .strip_prefix("import-")
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric()));
        }
        assert!(newer < older, "{newer} {older}");
        assert!(job_id(i64::MAX).starts_with("import-0000000"));
    }

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/CognitoImport"));
        assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/path/To"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/bob"));
        assert!(!is_role_arn("arn:aws:s3:::bucket"));
        assert!(!is_role_arn("arn:aws:iam::1234:role/x"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
    }
}
