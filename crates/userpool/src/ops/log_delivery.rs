//! Log export: GetLogDeliveryConfiguration, SetLogDeliveryConfiguration, and the delivery
//! of the logs they configure.
//!
//! Rules (the API reference of `LogConfigurationType`, "Exporting logs from Amazon Cognito
//! user pools"):
//! - at most two configurations (the model), one per event source;
//! - `userNotification` (message-delivery errors) goes at `ERROR` to a CloudWatch Logs log
//!   group only;
//! - `userAuthEvents` (threat protection's user activity) goes at `INFO` to one of a log
//!   group, an S3 bucket or a Firehose stream, and only from a pool on the Plus feature
//!   plan (`FeatureUnavailableInTierException` otherwise);
//! - each configuration names exactly one destination, by an ARN of its service:
//!   `arn:<partition>:logs:<region>:<account>:log-group:<name>[:*]`,
//!   `arn:<partition>:s3:::<bucket>`, `arn:<partition>:firehose:<region>:<account>:deliverystream/<name>`;
//! - an empty list turns log export off; a pool that never set one answers an empty list.
//!
//! Inferred where Cognito is silent: the messages of the refusals; the account and region
//! in an ARN are not compared with the pool's (userpool has no IAM to reach them).
//!
//! **Delivery here.** There is no CloudWatch, S3 or Firehose: each log event is one JSON
//! line in the shape of Cognito's exported logs (`eventTimestamp`, `eventSource`
//! (`USER_AUTH_EVENTS` / `USER_NOTIFICATION`), `logLevel`, `message`, `logSourceId`),
//! written to the tracing target `userpool::log_delivery` and, with `--log-delivery-dir
//! DIR`, appended to `DIR/<destination ARN, every character but [A-Za-z0-9._-] as _>.jsonl`.
//! `userAuthEvents` are the auth events of `ops::auth_events` (their `message` is the event
//! as AdminListUserAuthEvents shows it, with the user, pool and client); `userNotification`
//! events are the messages the outbox could not mail through `--smtp-url` (an `ERROR`,
//! the only level Cognito exports for them). A failed write is logged and never fails the
//! request that caused it.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{domains, users};
use serde_json::Value;
use std::io::Write as _;
use userpool_model::types::{
    EventSourceName, GetLogDeliveryConfigurationRequest, GetLogDeliveryConfigurationResponse, LogConfigurationType,
    LogDeliveryConfigurationType, LogLevel, SetLogDeliveryConfigurationRequest, SetLogDeliveryConfigurationResponse,
    UserPoolTierType,
};
use userpool_model::ErrorCode;
use userpool_store::{ObjectKind, ObjectRecord, StoreError};

/// The one object of a pool.
const NAME: &str = "ALL";

/// The destination ARN of a configuration, and whether there is exactly one.
fn destinations(c: &LogConfigurationType) -> Vec<(&'static str, Option<&str>)> {
    let mut out = Vec::new();
    if let Some(cw) = &c.cloud_watch_logs_configuration {
        out.push(("logs", cw.log_group_arn.as_deref()));
    }
    if let Some(s3) = &c.s3_configuration {
        out.push(("s3", s3.bucket_arn.as_deref()));
    }
    if let Some(f) = &c.firehose_configuration {
        out.push(("firehose", f.stream_arn.as_deref()));
    }
    out
}

/// Whether `arn` names a resource of `service` in the form Cognito delivers to.
fn arn_fits(service: &str, arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, svc, region, account, resource] = parts.as_slice() else {
        return false;
    };
    if *scheme != "arn" || partition.is_empty() || *svc != service || resource.is_empty() {
        return false;
    }
    let digits = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    match service {
        "s3" => region.is_empty() && account.is_empty() && !resource.contains('/'),
        "logs" => {
            !region.is_empty()
                && digits(account)
                && resource
                    .strip_prefix("log-group:")
                    .map(|n| n.strip_suffix(":*").unwrap_or(n))
                    .is_some_and(|n| !n.is_empty() && !n.contains(':'))
        }
        "firehose" => {
            !region.is_empty()
                && digits(account)
                && resource.strip_prefix("deliverystream/").is_some_and(|n| !n.is_empty())
        }
        _ => false,
    }
}

fn check(pool: &users::Pool, configs: &[LogConfigurationType]) -> OpResult<()> {
    let mut seen = Vec::new();
    for c in configs {
        if seen.contains(&c.event_source) {
            return Err(CognitoError::invalid_parameter(format!(
                "Only one log configuration per event source is allowed: {} is configured twice.",
                c.event_source.as_str()
            )));
        }
        seen.push(c.event_source);
        let dest = destinations(c);
        let [(service, arn)] = dest.as_slice() else {
            return Err(CognitoError::invalid_parameter(
                "A log configuration must have exactly one of CloudWatchLogsConfiguration, S3Configuration or FirehoseConfiguration.",
            ));
        };
        let what = match *service {
            "logs" => "LogGroupArn",
            "s3" => "BucketArn",
            _ => "StreamArn",
        };
        let Some(arn) = arn.filter(|a| !a.is_empty()) else {
            return Err(CognitoError::invalid_parameter(format!("{what} is required.")));
        };
        if !arn_fits(service, arn) {
            let kind = match *service {
                "logs" => "a CloudWatch Logs log group",
                "s3" => "an Amazon S3 bucket",
                _ => "an Amazon Data Firehose stream",
            };
            return Err(CognitoError::invalid_parameter(format!(
                "{what} {arn} is not the ARN of {kind}."
            )));
        }
        match c.event_source {
            EventSourceName::Usernotification => {
                if c.log_level != LogLevel::Error {
                    return Err(CognitoError::invalid_parameter(
                        "userNotification logs are delivered at the ERROR log level only.",
                    ));
                }
                if *service != "logs" {
                    return Err(CognitoError::invalid_parameter(
                        "userNotification logs can be delivered to a CloudWatch Logs log group only.",
                    ));
                }
            }
            EventSourceName::Userauthevents => {
                if c.log_level != LogLevel::Info {
                    return Err(CognitoError::invalid_parameter(
                        "userAuthEvents logs are delivered at the INFO log level only.",
                    ));
                }
                let tier = pool.settings().user_pool_tier.unwrap_or(UserPoolTierType::Essentials);
                if tier != UserPoolTierType::Plus {
                    return Err(CognitoError::new(
                        ErrorCode::FeatureUnavailableInTierException,
                        format!(
                            "The following features are not available for the {} pricing tier configured: Threat Protection log export",
                            tier.as_str()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

async fn stored(ctx: &Ctx, pool_id: &str) -> OpResult<Option<(ObjectRecord, Vec<LogConfigurationType>)>> {
    match ctx.store().get_object(ObjectKind::LogDelivery, pool_id, NAME).await? {
        Some(o) => {
            let configs: Vec<LogConfigurationType> = domains::decode(&o)?;
            Ok(Some((o, configs)))
        }
        None => Ok(None),
    }
}

/// GetLogDeliveryConfiguration
pub async fn get_log_delivery_configuration(
    ctx: &Ctx,
    req: GetLogDeliveryConfigurationRequest,
) -> OpResult<GetLogDeliveryConfigurationResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let configs = stored(ctx, &req.user_pool_id)
        .await?
        .map(|(_, c)| c)
        .unwrap_or_default();
    Ok(GetLogDeliveryConfigurationResponse {
        log_delivery_configuration: Some(LogDeliveryConfigurationType {
            user_pool_id: req.user_pool_id,
            log_configurations: configs,
        }),
    })
}

/// SetLogDeliveryConfiguration
pub async fn set_log_delivery_configuration(
    ctx: &Ctx,
    req: SetLogDeliveryConfigurationRequest,
) -> OpResult<SetLogDeliveryConfigurationResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    check(&pool, &req.log_configurations)?;
    let body = domains::encode(&req.log_configurations)?;
    let not_found = |e: StoreError| match e {
        StoreError::NotFound => CognitoError::pool_not_found(&req.user_pool_id),
        other => other.into(),
    };
    match stored(ctx, &req.user_pool_id).await? {
        Some((mut o, _)) => {
            o.body = body;
            o.modified_ms = ctx.now_ms;
            ctx.store().replace_object(&o).await.map_err(not_found)?;
        }
        None => {
            let o = ObjectRecord {
                kind: ObjectKind::LogDelivery,
                pool_id: req.user_pool_id.clone(),
                name: NAME.into(),
                body,
                created_ms: ctx.now_ms,
                modified_ms: ctx.now_ms,
            };
            match ctx.store().create_object(&o).await {
                Ok(()) => {}
                // A concurrent first Set: the last write wins, as for every configuration.
                Err(StoreError::Conflict(_)) => ctx.store().replace_object(&o).await.map_err(not_found)?,
                Err(e) => return Err(not_found(e)),
            }
        }
    }
    Ok(SetLogDeliveryConfigurationResponse {
        log_delivery_configuration: Some(LogDeliveryConfigurationType {
            user_pool_id: req.user_pool_id,
            log_configurations: req.log_configurations,
        }),
    })
}

/// Where a pool's log events of one source go: the destination ARNs and the directory.
#[derive(Debug, Clone)]
pub struct Sink {
    pool_id: String,
    source: EventSourceName,
    destinations: Vec<String>,
    dir: Option<std::path::PathBuf>,
}

/// The sink of `pool_id`'s `source` events at `level`, if any configuration takes them
/// (a configuration at INFO takes ERROR events too). Never fails: a store error is
/// logged and means no sink.
pub async fn sink(ctx: &Ctx, pool_id: &str, source: EventSourceName, level: LogLevel) -> Option<Sink> {
    let configs = match stored(ctx, pool_id).await {
        Ok(Some((_, c))) => c,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(pool = %pool_id, error = %e.message, "LD0001 the log delivery configuration could not be read");
            return None;
        }
    };
    let destinations: Vec<String> = configs
        .iter()
        .filter(|c| c.event_source == source && (c.log_level == LogLevel::Info || level == LogLevel::Error))
        .flat_map(|c| {
            destinations(c)
                .into_iter()
                .filter_map(|(_, arn)| arn.map(str::to_string))
        })
        .collect();
    if destinations.is_empty() {
        return None;
    }
    Some(Sink {
        pool_id: pool_id.to_string(),
        source,
        destinations,
        dir: ctx.app.config.log_delivery_dir.clone(),
    })
}

/// A destination ARN as a file name.
pub fn file_name(arn: &str) -> String {
    let safe: String = arn
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.jsonl")
}

impl Sink {
    /// Writes one log event (`message` at `level`, at `now_ms`) to every destination: the
    /// tracing target at once, the files of `--log-delivery-dir` on a blocking thread
    /// (awaited, so a request's lines are written in order, and a slow disk holds no
    /// runtime thread).
    pub async fn write(&self, now_ms: i64, level: LogLevel, message: Value) {
        let line = serde_json::json!({
            "eventTimestamp": now_ms.to_string(),
            "eventSource": match self.source {
                EventSourceName::Userauthevents => "USER_AUTH_EVENTS",
                EventSourceName::Usernotification => "USER_NOTIFICATION",
            },
            "logLevel": level.as_str(),
            "message": message,
            "logSourceId": { "userPoolId": self.pool_id },
        })
        .to_string();
        for arn in &self.destinations {
            match level {
                LogLevel::Error => {
                    tracing::error!(target: "userpool::log_delivery", destination = %arn, "{line}");
                }
                LogLevel::Info => tracing::info!(target: "userpool::log_delivery", destination = %arn, "{line}"),
            }
        }
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let paths: Vec<std::path::PathBuf> = self.destinations.iter().map(|arn| dir.join(file_name(arn))).collect();
        let append = move || {
            for path in paths {
                let written = std::fs::create_dir_all(&dir).and_then(|()| {
                    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
                    // One write per line, so concurrent appends do not interleave.
                    f.write_all(format!("{line}\n").as_bytes())
                });
                if let Err(e) = written {
                    tracing::warn!(path = %path.display(), error = %e, "LD0002 a delivered log event could not be written");
                }
            }
        };
        if let Err(e) = tokio::task::spawn_blocking(append).await {
            tracing::warn!(error = %e, "LD0003 writing delivered log events failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn lines_are_appended_off_the_runtime_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let arn = "arn:aws:logs:us-east-1:123456789012:log-group:g".to_string();
        let sink = Sink {
            pool_id: "us-east-1_x".into(),
            source: EventSourceName::Userauthevents,
            destinations: vec![arn.clone()],
            dir: Some(dir.path().join("logs")),
        };
        for n in 0..3 {
            sink.write(1_700_000_000_000 + n, LogLevel::Info, serde_json::json!({ "n": n }))
                .await;
        }
        let text = std::fs::read_to_string(dir.path().join("logs").join(file_name(&arn))).unwrap();
        let ns: Vec<i64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["message"]["n"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert_eq!(ns, [0, 1, 2]);
    }

    #[test]
    fn arns_of_each_service() {
        assert!(arn_fits(
            "logs",
            "arn:aws:logs:us-east-1:123456789012:log-group:cognito"
        ));
        assert!(arn_fits(
            "logs",
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/x:*"
        ));
        assert!(!arn_fits("logs", "arn:aws:logs:us-east-1:123456789012:group:cognito"));
        assert!(!arn_fits("logs", "arn:aws:s3:::bucket"));
        assert!(arn_fits("s3", "arn:aws:s3:::my-bucket"));
        assert!(!arn_fits("s3", "arn:aws:s3:us-east-1:123456789012:my-bucket"));
        assert!(arn_fits(
            "firehose",
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/s"
        ));
        assert!(!arn_fits(
            "firehose",
            "arn:aws:firehose:us-east-1:123456789012:stream/s"
        ));
    }

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(
            file_name("arn:aws:logs:us-east-1:123456789012:log-group:/aws/x:*"),
            "arn_aws_logs_us-east-1_123456789012_log-group__aws_x__.jsonl"
        );
    }
}
