//! Dispatch: one `match` from [`Operation`] to its handler. Each handler is a plain async
//! function `(ctx, <Op>Request) -> Result<<Op>Response, CognitoError>` in its area file,
//! named `snake_case(<Op>)` with `/// <Op>` as its doc line.

pub mod access;
pub mod app_clients;
pub mod auth_events;
pub mod branding;
pub mod client_secrets;
pub mod devices;
pub mod domains;
pub mod groups;
pub mod identity_providers;
pub mod import;
pub mod log_delivery;
pub mod mfa;
pub mod passkeys;
pub mod permissions;
pub mod self_service;
pub mod sign_in;
pub mod signing_certificate;
pub mod terms;
pub mod threat_protection;
pub mod ui;
pub mod user_pools;
pub mod users;

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use userpool_model::{ErrorCode, Operation};

/// Builds the typed request from a body that validation has already checked.
fn decode<T: DeserializeOwned>(body: Value) -> OpResult<T> {
    serde_json::from_value(body).map_err(|e| CognitoError::new(ErrorCode::SerializationException, e.to_string()))
}

fn encode<T: Serialize>(resp: &T) -> OpResult<Option<Vec<u8>>> {
    serde_json::to_vec(resp).map(Some).map_err(|e| {
        tracing::error!(error = %e, "IE0002 response did not serialise");
        CognitoError::internal()
    })
}

/// `call!(ctx, body, handler)`: decode → handler → encode (operations with an output).
/// `call!(ctx, body, handler, empty)`: the same for operations whose answer is an empty body.
macro_rules! call {
    ($ctx:expr, $body:expr, $handler:path) => {
        encode(&$handler($ctx, decode($body)?).await?)
    };
    ($ctx:expr, $body:expr, $handler:path, empty) => {
        $handler($ctx, decode($body)?).await.map(|()| None)
    };
}

/// Runs `op` on a validated body; the answer is the JSON body, or `None` for an empty one.
pub async fn dispatch(ctx: &Ctx, op: Operation, body: Value) -> OpResult<Option<Vec<u8>>> {
    use Operation as O;
    match op {
        O::CreateUserPool => call!(ctx, body, user_pools::create_user_pool),
        O::DescribeUserPool => call!(ctx, body, user_pools::describe_user_pool),
        O::UpdateUserPool => call!(ctx, body, user_pools::update_user_pool),
        O::ListUserPools => call!(ctx, body, user_pools::list_user_pools),
        O::DeleteUserPool => call!(ctx, body, user_pools::delete_user_pool, empty),
        O::AddCustomAttributes => call!(ctx, body, user_pools::add_custom_attributes),
        O::CreateUserPoolClient => call!(ctx, body, app_clients::create_user_pool_client),
        O::DescribeUserPoolClient => call!(ctx, body, app_clients::describe_user_pool_client),
        O::UpdateUserPoolClient => call!(ctx, body, app_clients::update_user_pool_client),
        O::ListUserPoolClients => call!(ctx, body, app_clients::list_user_pool_clients),
        O::DeleteUserPoolClient => call!(ctx, body, app_clients::delete_user_pool_client, empty),
        O::AdminCreateUser => call!(ctx, body, users::admin_create_user),
        O::AdminGetUser => call!(ctx, body, users::admin_get_user),
        O::AdminDeleteUser => call!(ctx, body, users::admin_delete_user, empty),
        O::AdminSetUserPassword => call!(ctx, body, users::admin_set_user_password),
        O::AdminUpdateUserAttributes => call!(ctx, body, users::admin_update_user_attributes),
        O::AdminDeleteUserAttributes => call!(ctx, body, users::admin_delete_user_attributes),
        O::AdminEnableUser => call!(ctx, body, users::admin_enable_user),
        O::AdminDisableUser => call!(ctx, body, users::admin_disable_user),
        O::AdminResetUserPassword => call!(ctx, body, users::admin_reset_user_password),
        O::AdminConfirmSignUp => call!(ctx, body, users::admin_confirm_sign_up),
        O::ListUsers => call!(ctx, body, users::list_users),
        O::SignUp => call!(ctx, body, self_service::sign_up),
        O::ConfirmSignUp => call!(ctx, body, self_service::confirm_sign_up),
        O::ResendConfirmationCode => call!(ctx, body, self_service::resend_confirmation_code),
        O::ForgotPassword => call!(ctx, body, self_service::forgot_password),
        O::ConfirmForgotPassword => call!(ctx, body, self_service::confirm_forgot_password),
        O::GetUserAttributeVerificationCode => call!(ctx, body, self_service::get_user_attribute_verification_code),
        O::VerifyUserAttribute => call!(ctx, body, self_service::verify_user_attribute),
        O::InitiateAuth => call!(ctx, body, sign_in::initiate_auth),
        O::AdminInitiateAuth => call!(ctx, body, sign_in::admin_initiate_auth),
        O::RespondToAuthChallenge => call!(ctx, body, sign_in::respond_to_auth_challenge),
        O::AdminRespondToAuthChallenge => call!(ctx, body, sign_in::admin_respond_to_auth_challenge),
        O::GetUser => call!(ctx, body, access::get_user),
        O::UpdateUserAttributes => call!(ctx, body, access::update_user_attributes),
        O::DeleteUserAttributes => call!(ctx, body, access::delete_user_attributes),
        O::ChangePassword => call!(ctx, body, access::change_password),
        O::DeleteUser => call!(ctx, body, access::delete_user, empty),
        O::GlobalSignOut => call!(ctx, body, access::global_sign_out),
        O::AdminUserGlobalSignOut => call!(ctx, body, access::admin_user_global_sign_out),
        O::RevokeToken => call!(ctx, body, access::revoke_token),
        O::ConfirmDevice => call!(ctx, body, devices::confirm_device),
        O::GetDevice => call!(ctx, body, devices::get_device),
        O::ListDevices => call!(ctx, body, devices::list_devices),
        O::UpdateDeviceStatus => call!(ctx, body, devices::update_device_status),
        O::ForgetDevice => call!(ctx, body, devices::forget_device, empty),
        O::AdminGetDevice => call!(ctx, body, devices::admin_get_device),
        O::AdminListDevices => call!(ctx, body, devices::admin_list_devices),
        O::AdminUpdateDeviceStatus => call!(ctx, body, devices::admin_update_device_status),
        O::AdminForgetDevice => call!(ctx, body, devices::admin_forget_device, empty),
        O::CreateGroup => call!(ctx, body, groups::create_group),
        O::GetGroup => call!(ctx, body, groups::get_group),
        O::UpdateGroup => call!(ctx, body, groups::update_group),
        O::DeleteGroup => call!(ctx, body, groups::delete_group, empty),
        O::ListGroups => call!(ctx, body, groups::list_groups),
        O::AdminAddUserToGroup => call!(ctx, body, groups::admin_add_user_to_group, empty),
        O::AdminRemoveUserFromGroup => call!(ctx, body, groups::admin_remove_user_from_group, empty),
        O::AdminListGroupsForUser => call!(ctx, body, groups::admin_list_groups_for_user),
        O::ListUsersInGroup => call!(ctx, body, groups::list_users_in_group),
        O::SetUserPoolMfaConfig => call!(ctx, body, mfa::set_user_pool_mfa_config),
        O::GetUserPoolMfaConfig => call!(ctx, body, mfa::get_user_pool_mfa_config),
        O::SetUserMFAPreference => call!(ctx, body, mfa::set_user_mfa_preference),
        O::AdminSetUserMFAPreference => call!(ctx, body, mfa::admin_set_user_mfa_preference),
        O::SetUserSettings => call!(ctx, body, mfa::set_user_settings),
        O::AdminSetUserSettings => call!(ctx, body, mfa::admin_set_user_settings),
        O::AssociateSoftwareToken => call!(ctx, body, mfa::associate_software_token),
        O::VerifySoftwareToken => call!(ctx, body, mfa::verify_software_token),
        O::CreateUserPoolDomain => call!(ctx, body, domains::create_user_pool_domain),
        O::DescribeUserPoolDomain => call!(ctx, body, domains::describe_user_pool_domain),
        O::UpdateUserPoolDomain => call!(ctx, body, domains::update_user_pool_domain),
        O::DeleteUserPoolDomain => call!(ctx, body, domains::delete_user_pool_domain),
        O::CreateResourceServer => call!(ctx, body, domains::create_resource_server),
        O::DescribeResourceServer => call!(ctx, body, domains::describe_resource_server),
        O::UpdateResourceServer => call!(ctx, body, domains::update_resource_server),
        O::DeleteResourceServer => call!(ctx, body, domains::delete_resource_server, empty),
        O::ListResourceServers => call!(ctx, body, domains::list_resource_servers),
        O::CreateIdentityProvider => call!(ctx, body, identity_providers::create_identity_provider),
        O::DescribeIdentityProvider => call!(ctx, body, identity_providers::describe_identity_provider),
        O::UpdateIdentityProvider => call!(ctx, body, identity_providers::update_identity_provider),
        O::DeleteIdentityProvider => call!(ctx, body, identity_providers::delete_identity_provider, empty),
        O::ListIdentityProviders => call!(ctx, body, identity_providers::list_identity_providers),
        O::GetIdentityProviderByIdentifier => call!(ctx, body, identity_providers::get_identity_provider_by_identifier),
        O::AdminLinkProviderForUser => call!(ctx, body, identity_providers::admin_link_provider_for_user),
        O::AdminDisableProviderForUser => call!(ctx, body, identity_providers::admin_disable_provider_for_user),
        O::TagResource => call!(ctx, body, user_pools::tag_resource),
        O::UntagResource => call!(ctx, body, user_pools::untag_resource),
        O::ListTagsForResource => call!(ctx, body, user_pools::list_tags_for_resource),
        O::CreateTerms => call!(ctx, body, terms::create_terms),
        O::DescribeTerms => call!(ctx, body, terms::describe_terms),
        O::ListTerms => call!(ctx, body, terms::list_terms),
        O::UpdateTerms => call!(ctx, body, terms::update_terms),
        O::DeleteTerms => call!(ctx, body, terms::delete_terms, empty),
        O::AddUserPoolClientSecret => call!(ctx, body, client_secrets::add_user_pool_client_secret),
        O::ListUserPoolClientSecrets => call!(ctx, body, client_secrets::list_user_pool_client_secrets),
        O::DeleteUserPoolClientSecret => call!(ctx, body, client_secrets::delete_user_pool_client_secret),
        O::SetUICustomization => call!(ctx, body, ui::set_ui_customization),
        O::GetUICustomization => call!(ctx, body, ui::get_ui_customization),
        O::GetTokensFromRefreshToken => call!(ctx, body, sign_in::get_tokens_from_refresh_token),
        O::GetUserAuthFactors => call!(ctx, body, sign_in::get_user_auth_factors),
        O::StartWebAuthnRegistration => call!(ctx, body, passkeys::start_web_authn_registration),
        O::CompleteWebAuthnRegistration => call!(ctx, body, passkeys::complete_web_authn_registration),
        O::ListWebAuthnCredentials => call!(ctx, body, passkeys::list_web_authn_credentials),
        O::DeleteWebAuthnCredential => call!(ctx, body, passkeys::delete_web_authn_credential),
        O::GetSigningCertificate => call!(ctx, body, signing_certificate::get_signing_certificate),
        O::CreateManagedLoginBranding => call!(ctx, body, branding::create_managed_login_branding),
        O::DescribeManagedLoginBranding => call!(ctx, body, branding::describe_managed_login_branding),
        O::DescribeManagedLoginBrandingByClient => {
            call!(ctx, body, branding::describe_managed_login_branding_by_client)
        }
        O::UpdateManagedLoginBranding => call!(ctx, body, branding::update_managed_login_branding),
        O::DeleteManagedLoginBranding => call!(ctx, body, branding::delete_managed_login_branding, empty),
        O::SetRiskConfiguration => call!(ctx, body, threat_protection::set_risk_configuration),
        O::DescribeRiskConfiguration => call!(ctx, body, threat_protection::describe_risk_configuration),
        O::AdminListUserAuthEvents => call!(ctx, body, auth_events::admin_list_user_auth_events),
        O::AdminUpdateAuthEventFeedback => call!(ctx, body, auth_events::admin_update_auth_event_feedback),
        O::UpdateAuthEventFeedback => call!(ctx, body, auth_events::update_auth_event_feedback),
        O::GetLogDeliveryConfiguration => call!(ctx, body, log_delivery::get_log_delivery_configuration),
        O::SetLogDeliveryConfiguration => call!(ctx, body, log_delivery::set_log_delivery_configuration),
        O::GetCSVHeader => call!(ctx, body, import::get_csv_header),
        O::CreateUserImportJob => call!(ctx, body, import::create_user_import_job),
        O::StartUserImportJob => call!(ctx, body, import::start_user_import_job),
        O::StopUserImportJob => call!(ctx, body, import::stop_user_import_job),
        O::DescribeUserImportJob => call!(ctx, body, import::describe_user_import_job),
        O::ListUserImportJobs => call!(ctx, body, import::list_user_import_jobs),
    }
}

/// Opaque pagination tokens: the key to resume after, base64url-encoded. (A token carries
/// no secret; a forged one only starts a page at another key of the caller's own pool.)
pub mod token {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;

    /// The token for resuming after `key`.
    pub fn encode(key: &str) -> String {
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    }

    /// A request's page: its size (`Limit` absent or 0: the default 60) and the key to
    /// resume after; a token that is not ours is InvalidParameterException.
    pub fn page(limit: Option<i32>, next: Option<&str>) -> crate::error::OpResult<(usize, Option<String>)> {
        let limit = match limit {
            None | Some(0) => 60,
            Some(n) => usize::try_from(n).unwrap_or(60),
        };
        let after = match next {
            Some(t) => Some(
                decode(t).ok_or_else(|| crate::error::CognitoError::invalid_parameter("Invalid pagination token."))?,
            ),
            None => None,
        };
        Ok((limit, after))
    }

    /// The key a token names, if it is one of ours.
    pub fn decode(token: &str) -> Option<String> {
        URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    }
}

/// The README's table of operations, from the model. Every one is implemented: [`dispatch`]
/// matches every [`Operation`] with no fallback arm, so an operation the model gains
/// without a handler does not compile.
pub fn operations_table() -> String {
    let n = Operation::ALL.len();
    let mut out = format!(
        "{n} of {n} operations implemented: `ops::dispatch` matches every operation of the model \
         with no fallback arm, so one without a handler does not compile.\n\n\
         | Operation | Auth | Implemented |\n|---|---|---|\n"
    );
    for op in Operation::ALL {
        let auth = match op.auth() {
            userpool_model::Auth::SigV4 => "SigV4 + IAM",
            userpool_model::Auth::None => "none (token / session)",
        };
        out.push_str(&format!("| {} | {auth} | yes |\n", op.name()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's table is what the code implements (`UPDATE_README=1` rewrites it).
    #[test]
    fn readme_operations_table_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (start, end) = ("<!-- operations:start -->\n", "<!-- operations:end -->");
        let a = readme.find(start).unwrap() + start.len();
        let b = readme.find(end).unwrap();
        let table = operations_table();
        if std::env::var_os("UPDATE_README").is_some() {
            let updated = format!("{}{table}{}", &readme[..a], &readme[b..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            assert_eq!(
                &readme[a..b],
                table,
                "run UPDATE_README=1 cargo test -p userpool readme"
            );
        }
    }
}
