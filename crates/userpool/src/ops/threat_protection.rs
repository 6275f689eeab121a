//! Threat protection's configuration: SetRiskConfiguration, DescribeRiskConfiguration; and
//! what a pool must be to turn threat protection on.
//!
//! Rules (the API reference; a live probe of the service where noted):
//! - threat protection is on when `UserPoolAddOns.AdvancedSecurityMode` is `AUDIT` or
//!   `ENFORCED`. CreateUserPool and UpdateUserPool refuse it on the Essentials feature
//!   plan with Cognito's `FeatureUnavailableInTierException` "The following features need
//!   to be disabled for the ESSENTIALS pricing tier configured: Threat Protection"; the
//!   Plus plan has it, and Lite pools keep it (the plan older pools were moved to with it);
//! - a risk configuration is set and read on any pool, whatever its plan or mode: the
//!   live service accepts SetRiskConfiguration on Lite and Essentials pools and reads it
//!   back (a third-party probe, recorded in the README); the plan and the mode decide what
//!   threat protection does, not what it is configured to do;
//! - a configuration belongs to the pool (no ClientId) or to one of its clients; a
//!   request with only UserPoolId (and ClientId) resets it: the pool's to the defaults, a
//!   client's to the pool's;
//! - DescribeRiskConfiguration with a ClientId answers the client's own configuration
//!   with its ClientId; a client without one answers the pool's, without a ClientId (the
//!   shape's rule: "When this parameter isn't present, the risk configuration applies to
//!   all user pool app clients that don't have client-level settings");
//! - IP ranges are CIDR blocks, IPv4 or IPv6 (`192.0.2.0/24`, `2001:db8::/32`).
//!
//! Inferred where Cognito is silent: an action that notifies needs a NotifyConfiguration,
//! whose SourceArn names an Amazon SES identity; the messages of these refusals.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{app_clients, domains, users};
use userpool_model::types::{
    AccountTakeoverRiskConfigurationType, AdvancedSecurityModeType, DescribeRiskConfigurationRequest,
    DescribeRiskConfigurationResponse, RiskConfigurationType, SetRiskConfigurationRequest,
    SetRiskConfigurationResponse, UserPoolTierType, UserPoolType,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{ObjectKind, ObjectRecord, StoreError};

/// The name of the pool's own configuration.
const POOL: &str = "ALL";

/// Whether threat protection is on (AdvancedSecurityMode AUDIT or ENFORCED).
pub fn enabled(pool: &UserPoolType) -> bool {
    pool.user_pool_add_ons
        .as_ref()
        .is_some_and(|a| a.advanced_security_mode != AdvancedSecurityModeType::Off)
}

/// CreateUserPool / UpdateUserPool: threat protection is not for the Essentials plan.
pub fn check_tier(pool: &UserPoolType) -> OpResult<()> {
    if enabled(pool) && pool.user_pool_tier == Some(UserPoolTierType::Essentials) {
        return Err(CognitoError::new(
            ErrorCode::FeatureUnavailableInTierException,
            "The following features need to be disabled for the ESSENTIALS pricing tier configured: Threat Protection",
        ));
    }
    Ok(())
}

/// `UserPoolAddOnNotEnabledException`: the operations of the event history need threat
/// protection on.
pub fn require_enabled(pool: &users::Pool) -> OpResult<()> {
    if enabled(pool.settings()) {
        Ok(())
    } else {
        Err(CognitoError::new(
            ErrorCode::UserPoolAddOnNotEnabledException,
            "Advanced security features are not enabled for this user pool.",
        ))
    }
}

/// Whether `s` is a CIDR block.
fn is_cidr(s: &str) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else {
        return false;
    };
    let canonical = !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && !(prefix.len() > 1 && prefix.starts_with('0'));
    let Some(prefix) = prefix.parse::<u8>().ok().filter(|_| canonical) else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(std::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

fn check_account_takeover(c: &AccountTakeoverRiskConfigurationType) -> OpResult<()> {
    let notifies = [&c.actions.low_action, &c.actions.medium_action, &c.actions.high_action]
        .into_iter()
        .flatten()
        .any(|a| a.notify);
    match &c.notify_configuration {
        None if notifies => Err(CognitoError::invalid_parameter(
            "NotifyConfiguration is required when an account takeover action notifies the user.",
        )),
        Some(n) if n.source_arn.split(':').nth(2) != Some("ses") || !n.source_arn.contains(":identity/") => {
            Err(CognitoError::invalid_parameter(format!(
                "SourceArn {} is not the ARN of an Amazon SES identity.",
                n.source_arn
            )))
        }
        _ => Ok(()),
    }
}

fn check(req: &SetRiskConfigurationRequest) -> OpResult<()> {
    if let Some(e) = &req.risk_exception_configuration {
        for list in [&e.blocked_ip_range_list, &e.skipped_ip_range_list]
            .into_iter()
            .flatten()
        {
            if let Some(bad) = list.iter().find(|r| !is_cidr(r)) {
                return Err(CognitoError::invalid_parameter(format!(
                    "{bad} is not a valid IP range in CIDR notation."
                )));
            }
        }
    }
    if let Some(c) = &req.account_takeover_risk_configuration {
        check_account_takeover(c)?;
    }
    Ok(())
}

/// The pool (and client) a request names: the client must be one of the pool's.
async fn target(ctx: &Ctx, pool_id: &str, client_id: Option<&str>) -> OpResult<String> {
    users::load(ctx, pool_id).await?;
    match client_id {
        Some(id) => {
            let client = app_clients::find_client(ctx, id).await?;
            if client.record.pool_id != pool_id {
                return Err(CognitoError::client_not_found(id));
            }
            Ok(id.to_string())
        }
        None => Ok(POOL.to_string()),
    }
}

/// A stored configuration as Describe shows it.
fn view(o: &ObjectRecord) -> OpResult<RiskConfigurationType> {
    let mut c: RiskConfigurationType = domains::decode(o)?;
    c.last_modified_date = Some(Timestamp(o.modified_ms));
    Ok(c)
}

/// The configuration that applies to sign-ins with `client_id`: the client's own, else
/// the pool's; `None` when neither is set.
pub async fn effective(ctx: &Ctx, pool_id: &str, client_id: Option<&str>) -> OpResult<Option<RiskConfigurationType>> {
    if let Some(id) = client_id {
        if let Some(o) = ctx
            .store()
            .get_object(ObjectKind::RiskConfiguration, pool_id, id)
            .await?
        {
            return view(&o).map(Some);
        }
    }
    match ctx
        .store()
        .get_object(ObjectKind::RiskConfiguration, pool_id, POOL)
        .await?
    {
        Some(o) => view(&o).map(Some),
        None => Ok(None),
    }
}

/// SetRiskConfiguration
pub async fn set_risk_configuration(
    ctx: &Ctx,
    req: SetRiskConfigurationRequest,
) -> OpResult<SetRiskConfigurationResponse> {
    let name = target(ctx, &req.user_pool_id, req.client_id.as_deref()).await?;
    check(&req)?;
    let config = RiskConfigurationType {
        user_pool_id: Some(req.user_pool_id.clone()),
        client_id: req.client_id.clone(),
        compromised_credentials_risk_configuration: req.compromised_credentials_risk_configuration,
        account_takeover_risk_configuration: req.account_takeover_risk_configuration,
        risk_exception_configuration: req.risk_exception_configuration,
        last_modified_date: None,
    };
    let reset = config.compromised_credentials_risk_configuration.is_none()
        && config.account_takeover_risk_configuration.is_none()
        && config.risk_exception_configuration.is_none();
    let store = ctx.store();
    if reset {
        match store
            .delete_object(ObjectKind::RiskConfiguration, &req.user_pool_id, &name)
            .await
        {
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    } else {
        let o = ObjectRecord {
            kind: ObjectKind::RiskConfiguration,
            pool_id: req.user_pool_id.clone(),
            name,
            body: domains::encode(&config)?,
            created_ms: ctx.now_ms,
            modified_ms: ctx.now_ms,
        };
        // Last write wins, whichever of two first writes comes second.
        match store.replace_object(&o).await {
            Ok(()) => {}
            Err(StoreError::NotFound) => match store.create_object(&o).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => store.replace_object(&o).await?,
                Err(StoreError::NotFound) => return Err(CognitoError::pool_not_found(&req.user_pool_id)),
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    Ok(SetRiskConfigurationResponse {
        risk_configuration: RiskConfigurationType {
            last_modified_date: Some(Timestamp(ctx.now_ms)),
            ..config
        },
    })
}

/// DescribeRiskConfiguration
pub async fn describe_risk_configuration(
    ctx: &Ctx,
    req: DescribeRiskConfigurationRequest,
) -> OpResult<DescribeRiskConfigurationResponse> {
    target(ctx, &req.user_pool_id, req.client_id.as_deref()).await?;
    let config = effective(ctx, &req.user_pool_id, req.client_id.as_deref())
        .await?
        .unwrap_or_else(|| RiskConfigurationType {
            user_pool_id: Some(req.user_pool_id.clone()),
            ..RiskConfigurationType::default()
        });
    Ok(DescribeRiskConfigurationResponse {
        risk_configuration: config,
    })
}

/// DeleteUserPoolClient: the client's configuration goes with it.
pub async fn forget_client(ctx: &Ctx, pool_id: &str, client_id: &str) -> OpResult<()> {
    match ctx
        .store()
        .delete_object(ObjectKind::RiskConfiguration, pool_id, client_id)
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_blocks() {
        for ok in ["192.0.2.0/24", "10.0.0.1/32", "0.0.0.0/0", "2001:db8::/32", "::1/128"] {
            assert!(is_cidr(ok), "{ok}");
        }
        for bad in [
            "192.0.2.0",
            "192.0.2.0/33",
            "2001:db8::/129",
            "x/8",
            "1.2.3.4/08",
            "1.2.3.4/",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }
}
