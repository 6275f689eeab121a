//! App clients: CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient,
//! ListUserPoolClients, DeleteUserPoolClient.
//!
//! A client's configuration is kept as its `UserPoolClientType` JSON (without the secret)
//! in the store's `settings`; the secret is sealed in its own column. [`Client`] is a
//! client as the user-facing operations see it (its flows, validities, secret hash).

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ids;
use crate::ops::{token, user_pools};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use userpool_model::types::AuthFlowType;
use userpool_model::types::{
    AnalyticsConfigurationType, CreateUserPoolClientRequest, CreateUserPoolClientResponse, DeleteUserPoolClientRequest,
    DescribeUserPoolClientRequest, DescribeUserPoolClientResponse, ExplicitAuthFlowsType, ListUserPoolClientsRequest,
    ListUserPoolClientsResponse, OAuthFlowType, PreventUserExistenceErrorTypes, RefreshTokenRotationType,
    TimeUnitsType, TokenValidityUnitsType, UpdateUserPoolClientRequest, UpdateUserPoolClientResponse,
    UserPoolClientDescription, UserPoolClientType, UserPoolType,
};
use userpool_model::Timestamp;
use userpool_store::{ClientRecord, StoreError};

/// How long a challenge may stay unanswered: Cognito's default AuthSessionValidity is 3
/// minutes; the client's setting (3..15) is used when it has one.
pub const DEFAULT_SESSION_TTL_MS: i64 = 3 * 60 * 1000;

/// An app client with its settings and (opened) secret.
pub struct Client {
    /// The stored record.
    pub record: ClientRecord,
    /// Its configuration.
    pub settings: UserPoolClientType,
    /// The client secret in clear, if it has one.
    pub secret: Option<String>,
    /// Its further secrets (AddUserPoolClientSecret), in clear: each works as `secret` does.
    pub more_secrets: Vec<String>,
}

impl Client {
    /// The client id.
    pub fn id(&self) -> &str {
        &self.record.client_id
    }

    fn flows(&self) -> Vec<ExplicitAuthFlowsType> {
        self.settings.explicit_auth_flows.clone().unwrap_or_else(|| {
            // "If you don't specify a value for ExplicitAuthFlows, your app client supports
            // ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_SRP_AUTH, and ALLOW_CUSTOM_AUTH."
            vec![
                ExplicitAuthFlowsType::AllowRefreshTokenAuth,
                ExplicitAuthFlowsType::AllowUserSrpAuth,
                ExplicitAuthFlowsType::AllowCustomAuth,
            ]
        })
    }

    /// Whether the client allows a flow (new `ALLOW_*` names and the legacy ones).
    pub fn allows(&self, flow: AuthFlowType) -> bool {
        use ExplicitAuthFlowsType as E;
        let flows = self.flows();
        let has = |f: E| flows.contains(&f);
        let legacy_only = !flows.iter().any(|f| f.as_str().starts_with("ALLOW_"));
        match flow {
            AuthFlowType::UserPasswordAuth => has(E::AllowUserPasswordAuth) || has(E::UserPasswordAuth),
            AuthFlowType::AdminUserPasswordAuth | AuthFlowType::AdminNoSrpAuth => {
                has(E::AllowAdminUserPasswordAuth) || has(E::AdminNoSrpAuth)
            }
            AuthFlowType::UserSrpAuth => has(E::AllowUserSrpAuth) || legacy_only,
            AuthFlowType::RefreshTokenAuth | AuthFlowType::RefreshToken => has(E::AllowRefreshTokenAuth) || legacy_only,
            AuthFlowType::CustomAuth => has(E::AllowCustomAuth) || has(E::CustomAuthFlowOnly),
            AuthFlowType::UserAuth => has(E::AllowUserAuth),
        }
    }

    fn validity_secs(
        &self,
        value: Option<i32>,
        unit: Option<TimeUnitsType>,
        default_unit: TimeUnitsType,
        default: i64,
    ) -> i64 {
        let unit = unit.unwrap_or(default_unit);
        let mult = match unit {
            TimeUnitsType::Seconds => 1,
            TimeUnitsType::Minutes => 60,
            TimeUnitsType::Hours => 3600,
            TimeUnitsType::Days => 86_400,
        };
        value.map_or(default, |v| i64::from(v) * mult)
    }

    /// Access token lifetime, seconds (default one hour).
    pub fn access_validity(&self) -> i64 {
        let units = self.settings.token_validity_units.clone().unwrap_or_default();
        self.validity_secs(
            self.settings.access_token_validity,
            units.access_token,
            TimeUnitsType::Hours,
            3600,
        )
    }

    /// ID token lifetime, seconds (default one hour).
    pub fn id_validity(&self) -> i64 {
        let units = self.settings.token_validity_units.clone().unwrap_or_default();
        self.validity_secs(
            self.settings.id_token_validity,
            units.id_token,
            TimeUnitsType::Hours,
            3600,
        )
    }

    /// Refresh token lifetime, seconds (default 30 days).
    pub fn refresh_validity(&self) -> i64 {
        let units = self.settings.token_validity_units.clone().unwrap_or_default();
        self.validity_secs(
            self.settings.refresh_token_validity,
            units.refresh_token,
            TimeUnitsType::Days,
            30 * 86_400,
        )
    }

    /// How long a challenge session lives, ms.
    pub fn session_ttl_ms(&self) -> i64 {
        self.settings
            .auth_session_validity
            .map_or(DEFAULT_SESSION_TTL_MS, |m| i64::from(m) * 60_000)
    }

    /// Every secret of the client.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.secret.iter().chain(self.more_secrets.iter()).map(String::as_str)
    }

    /// Whether `given` is one of the client's secrets (constant time for each).
    pub fn secret_matches(&self, given: &str) -> bool {
        self.secrets().fold(false, |hit, s| {
            userpool_sigv4::ct_eq(s.as_bytes(), given.as_bytes()) | hit
        })
    }

    /// PreventUserExistenceErrors = ENABLED.
    pub fn hides_users(&self) -> bool {
        self.settings.prevent_user_existence_errors == Some(PreventUserExistenceErrorTypes::Enabled)
    }
}

/// The client a request names (any pool), or ResourceNotFoundException.
pub async fn find_client(ctx: &Ctx, client_id: &str) -> OpResult<Client> {
    let record = ctx
        .store()
        .find_client(client_id)
        .await?
        .ok_or_else(|| CognitoError::client_not_found(client_id))?;
    let settings = client_view(ctx, &record)?;
    let secret = settings.client_secret.clone();
    let more_secrets = crate::ops::client_secrets::further_secrets(ctx, &record).await?;
    Ok(Client {
        record,
        settings,
        secret,
        more_secrets,
    })
}

/// Checks SECRET_HASH for clients with a secret. `names` are the usernames the hash may
/// have been computed with (what the user typed, the internal username).
pub fn check_secret_hash(client: &Client, names: &[&str], given: Option<&str>) -> OpResult<()> {
    if client.secret.is_none() {
        return Ok(());
    }
    let Some(given) = given else {
        return Err(CognitoError::not_authorized(format!(
            "Client {} is configured for secret but secret was not received",
            client.id()
        )));
    };
    let given = STANDARD.decode(given.as_bytes()).unwrap_or_default();
    let ok = client.secrets().any(|secret| {
        names
            .iter()
            .any(|n| userpool_srp::signature_matches(&userpool_srp::secret_hash(secret, n, client.id()), &given))
    });
    if ok {
        Ok(())
    } else {
        Err(CognitoError::not_authorized(format!(
            "Unable to verify secret hash for client {}",
            client.id()
        )))
    }
}

/// What CreateUserPoolClient sets and UpdateUserPoolClient replaces (a member left out of
/// an update is reset to its default, as Cognito documents).
struct Settings {
    refresh_token_validity: Option<i32>,
    access_token_validity: Option<i32>,
    id_token_validity: Option<i32>,
    token_validity_units: Option<TokenValidityUnitsType>,
    read_attributes: Option<Vec<String>>,
    write_attributes: Option<Vec<String>>,
    explicit_auth_flows: Option<Vec<ExplicitAuthFlowsType>>,
    supported_identity_providers: Option<Vec<String>>,
    callback_urls: Option<Vec<String>>,
    logout_urls: Option<Vec<String>>,
    default_redirect_uri: Option<String>,
    allowed_oauth_flows: Option<Vec<OAuthFlowType>>,
    allowed_oauth_scopes: Option<Vec<String>>,
    allowed_oauth_flows_user_pool_client: Option<bool>,
    analytics_configuration: Option<AnalyticsConfigurationType>,
    prevent_user_existence_errors: Option<PreventUserExistenceErrorTypes>,
    enable_token_revocation: Option<bool>,
    enable_propagate_additional_user_context_data: Option<bool>,
    auth_session_validity: Option<i32>,
    refresh_token_rotation: Option<RefreshTokenRotationType>,
}

fn unit_seconds(unit: TimeUnitsType) -> i64 {
    match unit {
        TimeUnitsType::Seconds => 1,
        TimeUnitsType::Minutes => 60,
        TimeUnitsType::Hours => 3600,
        TimeUnitsType::Days => 86_400,
    }
}

/// Checks a validity against Cognito's documented bounds (seconds, inclusive).
fn check_validity(what: &str, value: Option<i32>, unit: TimeUnitsType, min: i64, max: i64) -> OpResult<()> {
    if let Some(v) = value {
        let secs = i64::from(v) * unit_seconds(unit);
        if secs < min || secs > max {
            return Err(CognitoError::invalid_parameter(format!(
                "Invalid range for token validity: {what} must be between {min} and {max} seconds."
            )));
        }
    }
    Ok(())
}

/// The attribute names a client may name in Read/WriteAttributes: the pool's schema; a
/// write list can name neither `sub`, a developer-only attribute nor the verification
/// flags (no client may write those), and must name every required attribute (the
/// developer guide: "your app client must have write access to required attributes").
fn check_attributes(pool: &UserPoolType, names: Option<&[String]>, write: bool, create: bool) -> OpResult<()> {
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return Ok(());
    };
    let schema = pool.schema_attributes.as_deref().unwrap_or_default();
    let known = names.iter().all(|n| {
        schema.iter().any(|s| s.name.as_deref() == Some(n.as_str()))
            && !(write && (n == "sub" || n.starts_with("dev:") || n.ends_with("_verified")))
    });
    let required_writable = !write
        || schema
            .iter()
            .filter(|s| s.required == Some(true))
            .filter_map(|s| s.name.as_deref())
            .filter(|n| *n != "sub")
            .all(|n| names.iter().any(|w| w == n));
    if known && required_writable {
        return Ok(());
    }
    let verb = if create { "creating" } else { "updating" };
    let which = if write { "write" } else { "read" };
    Err(CognitoError::invalid_parameter(format!(
        "Invalid {which} attributes specified while {verb} a client"
    )))
}

fn build(pool: &UserPoolType, s: Settings, create: bool) -> OpResult<UserPoolClientType> {
    let units = s.token_validity_units.clone().unwrap_or_default();
    check_validity(
        "AccessTokenValidity",
        s.access_token_validity,
        units.access_token.unwrap_or(TimeUnitsType::Hours),
        300,
        86_400,
    )?;
    check_validity(
        "IdTokenValidity",
        s.id_token_validity,
        units.id_token.unwrap_or(TimeUnitsType::Hours),
        300,
        86_400,
    )?;
    check_validity(
        "RefreshTokenValidity",
        s.refresh_token_validity.filter(|v| *v != 0),
        units.refresh_token.unwrap_or(TimeUnitsType::Days),
        3_600,
        315_360_000,
    )?;
    check_attributes(pool, s.read_attributes.as_deref(), false, create)?;
    check_attributes(pool, s.write_attributes.as_deref(), true, create)?;
    if let Some(v) = s.auth_session_validity {
        if !(3..=15).contains(&v) {
            return Err(CognitoError::invalid_parameter(
                "AuthSessionValidity must be between 3 and 15 minutes.",
            ));
        }
    }
    Ok(UserPoolClientType {
        // "You can't set RefreshTokenValidity to 0. If you do, Amazon Cognito overrides the
        // value with the default value of 30 days."
        refresh_token_validity: Some(s.refresh_token_validity.filter(|v| *v != 0).unwrap_or(30)),
        access_token_validity: s.access_token_validity,
        id_token_validity: s.id_token_validity,
        token_validity_units: Some(units),
        read_attributes: s.read_attributes,
        write_attributes: s.write_attributes,
        explicit_auth_flows: s.explicit_auth_flows,
        supported_identity_providers: s.supported_identity_providers,
        callback_urls: s.callback_urls,
        logout_urls: s.logout_urls,
        default_redirect_uri: s.default_redirect_uri,
        allowed_oauth_flows: s.allowed_oauth_flows,
        allowed_oauth_scopes: s.allowed_oauth_scopes,
        allowed_oauth_flows_user_pool_client: Some(s.allowed_oauth_flows_user_pool_client.unwrap_or(false)),
        analytics_configuration: s.analytics_configuration,
        prevent_user_existence_errors: s.prevent_user_existence_errors,
        enable_token_revocation: Some(s.enable_token_revocation.unwrap_or(true)),
        enable_propagate_additional_user_context_data: Some(
            s.enable_propagate_additional_user_context_data.unwrap_or(false),
        ),
        auth_session_validity: Some(s.auth_session_validity.unwrap_or(3)),
        refresh_token_rotation: s.refresh_token_rotation,
        ..UserPoolClientType::default()
    })
}

/// The built-in OAuth scopes.
pub const BUILT_IN_SCOPES: [&str; 5] = ["phone", "email", "openid", "profile", "aws.cognito.signin.user.admin"];

/// A callback or sign-out URL Cognito takes: https, an app's own scheme, or plain http to
/// the loopback host (`localhost`, `127.0.0.1`, `[::1]`, any port); never a fragment.
fn check_redirect_url(url: &str) -> OpResult<()> {
    if url.contains('#') {
        return Err(CognitoError::invalid_parameter(format!("{url} cannot use fragment")));
    }
    // The scheme compares without case (`HTTP://` is http); `http:` without `//` too.
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http:") && !lower.starts_with("http://") {
        return Err(CognitoError::invalid_parameter(format!(
            "{url} cannot use the HTTP protocol."
        )));
    }
    if let Some(rest) = lower.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host = host
            .rsplit_once(':')
            .filter(|(h, p)| !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let host = host.map_or(rest.split(['/', '?']).next().unwrap_or_default(), |(h, _)| h);
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err(CognitoError::invalid_parameter(format!(
                "{url} cannot use the HTTP protocol."
            )));
        }
    }
    Ok(())
}

/// Cognito's checks of a client's OAuth settings, in the order it makes them.
async fn check_oauth(ctx: &Ctx, pool_id: &str, c: &UserPoolClientType, has_secret: bool) -> OpResult<()> {
    use userpool_model::ErrorCode;
    let flows = c.allowed_oauth_flows.as_deref().unwrap_or_default();
    let scopes = c.allowed_oauth_scopes.as_deref().unwrap_or_default();
    let callbacks = c.callback_urls.as_deref().unwrap_or_default();
    let flow_error = |m: &str| CognitoError::new(ErrorCode::InvalidOAuthFlowException, m);
    if c.allowed_oauth_flows_user_pool_client == Some(true) && (flows.is_empty() || scopes.is_empty()) {
        return Err(CognitoError::invalid_parameter(
            "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows.",
        ));
    }
    let machine = flows.contains(&OAuthFlowType::ClientCredentials);
    let browser = flows
        .iter()
        .any(|f| matches!(f, OAuthFlowType::Code | OAuthFlowType::Implicit));
    if machine && browser {
        return Err(flow_error(
            "client_credentials flow can not be selected along with code flow or implicit flow.",
        ));
    }
    if machine && !has_secret {
        return Err(flow_error(
            "client_credentials flow can not be selected if client does not have a client secret.",
        ));
    }
    if browser && callbacks.is_empty() {
        return Err(flow_error(
            "CallbackUrls can not be empty when code flow or implicit flow is selected",
        ));
    }
    for url in callbacks.iter().chain(c.logout_urls.as_deref().unwrap_or_default()) {
        check_redirect_url(url)?;
    }
    if let Some(d) = &c.default_redirect_uri {
        if !callbacks.contains(d) {
            return Err(CognitoError::invalid_parameter(format!(
                "The default redirect URI {d} is not in the callback URIs list."
            )));
        }
    }
    let servers = crate::ops::domains::resource_servers(ctx, pool_id).await?;
    for scope in scopes {
        if BUILT_IN_SCOPES.contains(&scope.as_str()) {
            if machine {
                return Err(flow_error(&format!(
                    "{scope} is not supported with client_credentials flow"
                )));
            }
            continue;
        }
        let known = servers.iter().any(|rs| {
            let id = rs.identifier.as_deref().unwrap_or_default();
            scope
                .strip_prefix(id)
                .and_then(|r| r.strip_prefix('/'))
                .is_some_and(|name| {
                    rs.scopes
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .any(|s| s.scope_name == name)
                })
        });
        if !known {
            return Err(CognitoError::new(
                ErrorCode::ScopeDoesNotExistException,
                format!("Invalid scope requested: {scope}"),
            ));
        }
    }
    for provider in c.supported_identity_providers.as_deref().unwrap_or_default() {
        let exists = provider == "COGNITO"
            || ctx
                .store()
                .get_object(userpool_store::ObjectKind::IdentityProvider, pool_id, provider)
                .await?
                .is_some();
        if !exists {
            return Err(CognitoError::invalid_parameter(format!(
                "The provider {provider} does not exist for User Pool {pool_id}"
            )));
        }
    }
    Ok(())
}

fn encode_settings(client: &UserPoolClientType) -> OpResult<String> {
    let mut stored = client.clone();
    stored.client_secret = None;
    stored.client_id = None;
    stored.user_pool_id = None;
    stored.client_name = None;
    stored.creation_date = None;
    stored.last_modified_date = None;
    serde_json::to_string(&stored).map_err(|e| {
        tracing::error!(error = %e, "IE0005 client settings do not encode");
        CognitoError::internal()
    })
}

/// A client as DescribeUserPoolClient shows it, secret opened.
pub fn client_view(ctx: &Ctx, record: &ClientRecord) -> OpResult<UserPoolClientType> {
    let mut client: UserPoolClientType = serde_json::from_str(&record.settings).map_err(|e| {
        tracing::error!(client = %record.client_id, error = %e, "IE0006 stored client settings do not decode");
        CognitoError::internal()
    })?;
    client.client_id = Some(record.client_id.clone());
    client.user_pool_id = Some(record.pool_id.clone());
    client.client_name = Some(record.name.clone());
    client.creation_date = Some(Timestamp(record.created_ms));
    client.last_modified_date = Some(Timestamp(record.modified_ms));
    client.client_secret = match &record.sealed_secret {
        Some(sealed) => Some(open_secret(ctx, record, sealed)?),
        None => None,
    };
    Ok(client)
}

fn open_secret(ctx: &Ctx, record: &ClientRecord, sealed: &[u8]) -> OpResult<String> {
    ctx.app
        .sealer
        .open(sealed)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            tracing::error!(client = %record.client_id, "IE0007 client secret does not open with this data key");
            CognitoError::internal()
        })
}

/// The client record, or Cognito's ResourceNotFoundException (pool first, then client).
pub async fn load_client(ctx: &Ctx, pool_id: &str, client_id: &str) -> OpResult<ClientRecord> {
    match ctx.store().get_client(pool_id, client_id).await? {
        Some(c) => Ok(c),
        None => {
            if ctx.store().get_pool(pool_id).await?.is_none() {
                Err(CognitoError::pool_not_found(pool_id))
            } else {
                Err(CognitoError::client_not_found(client_id))
            }
        }
    }
}

/// CreateUserPoolClient
pub async fn create_user_pool_client(
    ctx: &Ctx,
    req: CreateUserPoolClientRequest,
) -> OpResult<CreateUserPoolClientResponse> {
    let (_, pool) = user_pools::load_pool(ctx, &req.user_pool_id).await?;
    let client = build(
        &pool,
        Settings {
            refresh_token_validity: req.refresh_token_validity,
            access_token_validity: req.access_token_validity,
            id_token_validity: req.id_token_validity,
            token_validity_units: req.token_validity_units,
            read_attributes: req.read_attributes,
            write_attributes: req.write_attributes,
            explicit_auth_flows: req.explicit_auth_flows,
            supported_identity_providers: req.supported_identity_providers,
            callback_urls: req.callback_urls,
            logout_urls: req.logout_urls,
            default_redirect_uri: req.default_redirect_uri,
            allowed_oauth_flows: req.allowed_oauth_flows,
            allowed_oauth_scopes: req.allowed_oauth_scopes,
            allowed_oauth_flows_user_pool_client: req.allowed_oauth_flows_user_pool_client,
            analytics_configuration: req.analytics_configuration,
            prevent_user_existence_errors: req.prevent_user_existence_errors,
            enable_token_revocation: req.enable_token_revocation,
            enable_propagate_additional_user_context_data: req.enable_propagate_additional_user_context_data,
            auth_session_validity: req.auth_session_validity,
            refresh_token_rotation: req.refresh_token_rotation,
        },
        true,
    )?;
    let secret = match (req.client_secret, req.generate_secret.unwrap_or(false)) {
        (Some(given), _) => Some(given),
        (None, true) => Some(ids::client_secret()),
        (None, false) => None,
    };
    check_oauth(ctx, &req.user_pool_id, &client, secret.is_some()).await?;
    let settings = encode_settings(&client)?;
    for _ in 0..5 {
        let record = ClientRecord {
            client_id: ids::client_id(),
            pool_id: req.user_pool_id.clone(),
            name: req.client_name.clone(),
            created_ms: ctx.now_ms,
            modified_ms: ctx.now_ms,
            sealed_secret: secret.as_deref().map(|s| ctx.app.sealer.seal(s.as_bytes())),
            settings: settings.clone(),
        };
        match ctx.store().create_client(&record).await {
            Ok(()) => {
                tracing::info!(pool = %record.pool_id, client = %record.client_id, "created app client");
                return Ok(CreateUserPoolClientResponse {
                    user_pool_client: Some(client_view(ctx, &record)?),
                });
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(StoreError::NotFound) => return Err(CognitoError::pool_not_found(&req.user_pool_id)),
            Err(e) => return Err(e.into()),
        }
    }
    Err(CognitoError::internal())
}

/// DescribeUserPoolClient
pub async fn describe_user_pool_client(
    ctx: &Ctx,
    req: DescribeUserPoolClientRequest,
) -> OpResult<DescribeUserPoolClientResponse> {
    let record = load_client(ctx, &req.user_pool_id, &req.client_id).await?;
    Ok(DescribeUserPoolClientResponse {
        user_pool_client: Some(client_view(ctx, &record)?),
    })
}

/// UpdateUserPoolClient
pub async fn update_user_pool_client(
    ctx: &Ctx,
    req: UpdateUserPoolClientRequest,
) -> OpResult<UpdateUserPoolClientResponse> {
    let (_, pool) = user_pools::load_pool(ctx, &req.user_pool_id).await?;
    let mut record = load_client(ctx, &req.user_pool_id, &req.client_id).await?;
    let client = build(
        &pool,
        Settings {
            refresh_token_validity: req.refresh_token_validity,
            access_token_validity: req.access_token_validity,
            id_token_validity: req.id_token_validity,
            token_validity_units: req.token_validity_units,
            read_attributes: req.read_attributes,
            write_attributes: req.write_attributes,
            explicit_auth_flows: req.explicit_auth_flows,
            supported_identity_providers: req.supported_identity_providers,
            callback_urls: req.callback_urls,
            logout_urls: req.logout_urls,
            default_redirect_uri: req.default_redirect_uri,
            allowed_oauth_flows: req.allowed_oauth_flows,
            allowed_oauth_scopes: req.allowed_oauth_scopes,
            allowed_oauth_flows_user_pool_client: req.allowed_oauth_flows_user_pool_client,
            analytics_configuration: req.analytics_configuration,
            prevent_user_existence_errors: req.prevent_user_existence_errors,
            enable_token_revocation: req.enable_token_revocation,
            enable_propagate_additional_user_context_data: req.enable_propagate_additional_user_context_data,
            auth_session_validity: req.auth_session_validity,
            refresh_token_rotation: req.refresh_token_rotation,
        },
        false,
    )?;
    check_oauth(ctx, &req.user_pool_id, &client, record.sealed_secret.is_some()).await?;
    if let Some(name) = req.client_name {
        record.name = name;
    }
    record.settings = encode_settings(&client)?;
    record.modified_ms = ctx.now_ms;
    ctx.store().update_client(&record).await.map_err(|e| match e {
        StoreError::NotFound => CognitoError::client_not_found(&record.client_id),
        other => other.into(),
    })?;
    Ok(UpdateUserPoolClientResponse {
        user_pool_client: Some(client_view(ctx, &record)?),
    })
}

/// ListUserPoolClients
pub async fn list_user_pool_clients(
    ctx: &Ctx,
    req: ListUserPoolClientsRequest,
) -> OpResult<ListUserPoolClientsResponse> {
    user_pools::load_pool(ctx, &req.user_pool_id).await?;
    let after = match req.next_token.as_deref() {
        Some(t) => Some(token::decode(t).ok_or_else(|| CognitoError::invalid_parameter("Invalid pagination token."))?),
        None => None,
    };
    let limit = usize::try_from(req.max_results.unwrap_or(60)).unwrap_or(60);
    let page = ctx
        .store()
        .list_clients(&req.user_pool_id, after.as_deref(), limit)
        .await?;
    Ok(ListUserPoolClientsResponse {
        user_pool_clients: Some(
            page.items
                .iter()
                .map(|c| UserPoolClientDescription {
                    client_id: Some(c.client_id.clone()),
                    user_pool_id: Some(c.pool_id.clone()),
                    client_name: Some(c.name.clone()),
                })
                .collect(),
        ),
        next_token: page.next_after.as_deref().map(token::encode),
    })
}

/// DeleteUserPoolClient
pub async fn delete_user_pool_client(ctx: &Ctx, req: DeleteUserPoolClientRequest) -> OpResult<()> {
    load_client(ctx, &req.user_pool_id, &req.client_id).await?;
    ctx.store()
        .delete_client(&req.user_pool_id, &req.client_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => CognitoError::client_not_found(&req.client_id),
            other => other.into(),
        })?;
    // Its managed login branding style goes with it.
    crate::ops::branding::forget_client(ctx, &req.user_pool_id, &req.client_id).await;
    crate::ops::threat_protection::forget_client(ctx, &req.user_pool_id, &req.client_id).await
}
