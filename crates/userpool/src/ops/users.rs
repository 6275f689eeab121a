//! Users as an administrator sees them: AdminCreateUser, AdminGetUser, AdminDeleteUser,
//! AdminSetUserPassword, AdminUpdateUserAttributes, AdminDeleteUserAttributes,
//! AdminEnableUser, AdminDisableUser, AdminResetUserPassword, AdminConfirmSignUp, ListUsers;
//! and the pieces every user-facing area shares: the pool's username rules, resolving a
//! `Username` (username, alias or sub), attribute checks against the schema.

use crate::app::Ctx;
use crate::codes;
use crate::error::{CognitoError, OpResult};
use crate::ops::{token, user_pools};
use crate::passwords;
use userpool_model::types::{
    AdminConfirmSignUpRequest, AdminConfirmSignUpResponse, AdminCreateUserRequest, AdminCreateUserResponse,
    AdminDeleteUserAttributesRequest, AdminDeleteUserAttributesResponse, AdminDeleteUserRequest,
    AdminDisableUserRequest, AdminDisableUserResponse, AdminEnableUserRequest, AdminEnableUserResponse,
    AdminGetUserRequest, AdminGetUserResponse, AdminResetUserPasswordRequest, AdminResetUserPasswordResponse,
    AdminSetUserPasswordRequest, AdminSetUserPasswordResponse, AdminUpdateUserAttributesRequest,
    AdminUpdateUserAttributesResponse, AliasAttributeType, AttributeDataType, AttributeType, ListUsersRequest,
    ListUsersResponse, MessageActionType, UserPoolType, UserStatusType, UserType, UsernameAttributeType,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{Lookups, PoolRecord, StoreError, UserFilter, UserRecord};

/// A pool with the rules that govern its users (shared with the pool cache).
#[derive(Clone)]
pub struct Pool {
    shared: std::sync::Arc<(PoolRecord, UserPoolType)>,
}

impl Pool {
    /// A pool from its record and decoded settings.
    pub fn from_parts(record: PoolRecord, settings: UserPoolType) -> Pool {
        Pool {
            shared: std::sync::Arc::new((record, settings)),
        }
    }

    /// The stored record.
    pub fn record(&self) -> &PoolRecord {
        &self.shared.0
    }

    /// Its configuration.
    pub fn settings(&self) -> &UserPoolType {
        &self.shared.1
    }

    /// The pool id.
    pub fn id(&self) -> &str {
        &self.shared.0.id
    }

    /// `UsernameConfiguration.CaseSensitive` (absent: case-sensitive, as for API-made pools).
    pub fn case_sensitive(&self) -> bool {
        self.settings()
            .username_configuration
            .as_ref()
            .is_none_or(|c| c.case_sensitive)
    }

    /// The lookup key of a username.
    pub fn username_key(&self, name: &str) -> String {
        if self.case_sensitive() {
            name.to_string()
        } else {
            name.to_lowercase()
        }
    }

    /// The attributes (email, phone number) users sign in with in place of a username.
    pub fn username_attributes(&self) -> &[UsernameAttributeType] {
        self.settings().username_attributes.as_deref().unwrap_or_default()
    }

    fn alias_attributes(&self) -> &[AliasAttributeType] {
        self.settings().alias_attributes.as_deref().unwrap_or_default()
    }

    /// Whether users sign in with email or phone as their username (the real username is
    /// then the `sub`).
    pub fn email_or_phone_usernames(&self) -> bool {
        !self.username_attributes().is_empty()
    }

    /// The alias lookup keys of a user's attributes, as this pool defines aliases.
    pub fn alias_keys(&self, attributes: &[(String, String)]) -> Vec<String> {
        let get = |n: &str| attributes.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let verified = |n: &str| get(&format!("{n}_verified")).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let mut keys = Vec::new();
        for attr in ["email", "phone_number"] {
            let as_username = self.username_attributes().iter().any(|u| u.as_str() == attr);
            let as_alias = self.alias_attributes().iter().any(|a| a.as_str() == attr);
            // A username attribute always identifies its user; an alias only once verified.
            if let Some(v) = get(attr).filter(|_| as_username || (as_alias && verified(attr))) {
                keys.push(alias_key(attr, v));
            }
        }
        if self.alias_attributes().contains(&AliasAttributeType::PreferredUsername) {
            if let Some(v) = get("preferred_username") {
                keys.push(alias_key("preferred_username", v));
            }
        }
        keys
    }

    /// The attribute names of the schema.
    pub fn schema_attribute(&self, name: &str) -> Option<&userpool_model::types::SchemaAttributeType> {
        self.settings()
            .schema_attributes
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
    }

    /// The pool's MFA factor settings (SetUserPoolMfaConfig).
    pub fn mfa(&self) -> user_pools::PoolMfa {
        user_pools::pool_mfa(self.record())
    }

    /// The password policy.
    pub fn password_policy(&self) -> userpool_model::types::PasswordPolicyType {
        self.settings()
            .policies
            .as_ref()
            .and_then(|p| p.password_policy.clone())
            .unwrap_or_default()
    }
}

/// The lookup key of an alias value: emails and preferred usernames compare
/// case-insensitively, phone numbers exactly.
pub fn alias_key(attr: &str, value: &str) -> String {
    if attr == "phone_number" {
        format!("{attr}:{value}")
    } else {
        format!("{attr}:{}", value.to_lowercase())
    }
}

/// The attributes ListUsers can filter on, besides `username`, `sub`, `status` and
/// `cognito:user_status` (which are columns of their own).
pub const SEARCHABLE: &[&str] = &[
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
];

/// Loads a pool with its rules.
pub async fn load(ctx: &Ctx, pool_id: &str) -> OpResult<Pool> {
    Ok(Pool {
        shared: user_pools::load_pool_shared(ctx, pool_id).await?,
    })
}

/// "User does not exist." (UserNotFoundException)
pub fn user_not_found() -> CognitoError {
    CognitoError::new(ErrorCode::UserNotFoundException, "User does not exist.")
}

/// Finds the user a `Username` names: the username itself, an alias, or the `sub`.
pub async fn find(ctx: &Ctx, pool: &Pool, name: &str) -> OpResult<Option<UserRecord>> {
    if let Some(u) = ctx.store().get_user(pool.id(), &pool.username_key(name)).await? {
        return Ok(Some(u));
    }
    for attr in ["email", "phone_number", "preferred_username"] {
        if let Some(u) = ctx
            .store()
            .find_user_by_alias(pool.id(), &alias_key(attr, name))
            .await?
        {
            return Ok(Some(u));
        }
    }
    if uuid::Uuid::parse_str(name).is_ok() {
        return Ok(ctx.store().find_user_by_sub(pool.id(), name).await?);
    }
    Ok(None)
}

/// As [`find`], or UserNotFoundException.
pub async fn resolve(ctx: &Ctx, pool: &Pool, name: &str) -> OpResult<UserRecord> {
    find(ctx, pool, name).await?.ok_or_else(user_not_found)
}

/// The value of one of a user's attributes.
pub fn attr<'a>(user: &'a UserRecord, name: &str) -> Option<&'a str> {
    user.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn schema_error(name: &str, what: &str) -> CognitoError {
    CognitoError::invalid_parameter(format!("Attributes did not conform to the schema: {name}: {what}"))
}

/// Checks attributes a caller sets against the schema (existence, mutability, type,
/// length); `creating` allows immutable attributes to be set once.
pub fn check_attributes(pool: &Pool, attrs: &[AttributeType], creating: bool) -> OpResult<()> {
    for a in attrs {
        let name = a.name.as_str();
        let Some(schema) = pool.schema_attribute(name) else {
            return Err(schema_error(name, "Attribute does not exist in the schema."));
        };
        if name == "sub" {
            return Err(CognitoError::invalid_parameter(
                "Cannot modify the non-mutable attribute sub",
            ));
        }
        if !creating && schema.mutable == Some(false) {
            // The real service's words (observed): "user.custom:role: Attribute cannot be updated."
            return Err(CognitoError::invalid_parameter(format!(
                "user.{name}: Attribute cannot be updated."
            )));
        }
        let value = a.value.as_deref().unwrap_or_default();
        match schema.attribute_data_type {
            // Booleans compare case-insensitively ("True" is accepted, and kept as sent).
            Some(AttributeDataType::Boolean)
                if !(value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")) =>
            {
                return Err(schema_error(name, "Attribute value must be a boolean (true or false)."));
            }
            Some(AttributeDataType::Number) if value.parse::<f64>().is_err() => {
                return Err(schema_error(name, "Number must be a valid number."));
            }
            _ => {}
        }
        if let Some(c) = &schema.string_attribute_constraints {
            let len = value.chars().count();
            let min = c
                .min_length
                .as_deref()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let max = c
                .max_length
                .as_deref()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(2048);
            if len < min || len > max {
                return Err(schema_error(
                    name,
                    &format!("String must be between {min} and {max} characters."),
                ));
            }
        }
        if name == "email" && !value.is_empty() && !is_email(value) {
            return Err(CognitoError::invalid_parameter("Invalid email address format."));
        }
        if name == "phone_number" && !value.is_empty() && !is_phone(value) {
            return Err(CognitoError::invalid_parameter("Invalid phone number format."));
        }
    }
    Ok(())
}

/// Required schema attributes missing from a new user's attributes.
pub fn check_required(pool: &Pool, attrs: &[(String, String)]) -> OpResult<()> {
    for s in pool.settings().schema_attributes.as_deref().unwrap_or_default() {
        let Some(name) = s.name.as_deref() else { continue };
        if name != "sub" && s.required == Some(true) && !attrs.iter().any(|(n, v)| n == name && !v.is_empty()) {
            return Err(schema_error(name, "The attribute is required"));
        }
    }
    Ok(())
}

/// A plausible email: one `@`, something either side, a dot in the domain.
pub fn is_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !domain.contains('@') && !v.contains(' '),
        None => false,
    }
}

/// E.164: `+` and 2..15 digits.
pub fn is_phone(v: &str) -> bool {
    v.strip_prefix('+')
        .is_some_and(|d| (2..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Sets attributes on a list, replacing existing values, keeping order; linear in the
/// attributes sent and held (names are looked up in a map, not by a scan per attribute).
pub fn set_attributes(list: &mut Vec<(String, String)>, attrs: &[AttributeType]) {
    let sent: std::collections::HashSet<&str> = attrs.iter().map(|a| a.name.as_str()).collect();
    let mut at: std::collections::HashMap<String, usize> =
        list.iter().enumerate().map(|(i, (n, _))| (n.clone(), i)).collect();
    for a in attrs {
        let value = a.value.clone().unwrap_or_default();
        match at.get(&a.name).and_then(|i| list.get_mut(*i)) {
            Some(slot) => slot.1 = value,
            None => {
                at.insert(a.name.clone(), list.len());
                list.push((a.name.clone(), value));
            }
        }
    }
    // Changing email / phone clears its verification unless set in the same call.
    for (attr, flag) in [("email", "email_verified"), ("phone_number", "phone_number_verified")] {
        if sent.contains(attr) && !sent.contains(flag) {
            if let Some(slot) = at.get(flag).and_then(|i| list.get_mut(*i)) {
                slot.1 = "false".into();
            }
        }
    }
}

/// Recomputes the aliases and search values of a user after a change.
pub fn refresh_lookups(pool: &Pool, user: &mut UserRecord) {
    let aliases = pool.alias_keys(&user.attributes);
    let mut search = vec![("username".to_string(), user.username.clone())];
    for (n, v) in &user.attributes {
        if SEARCHABLE.contains(&n.as_str()) {
            search.push((n.clone(), v.clone()));
        }
    }
    user.lookups = Some(Lookups { aliases, search });
}

/// Maps the store's conflicts on a user write to Cognito's exceptions.
pub fn write_error(e: StoreError, pool: &Pool) -> CognitoError {
    match e {
        StoreError::Conflict("alias") => CognitoError::new(
            ErrorCode::AliasExistsException,
            "An account with the given email already exists.",
        ),
        StoreError::Conflict(_) => CognitoError::new(ErrorCode::UsernameExistsException, "User account already exists"),
        StoreError::NotFound => CognitoError::pool_not_found(pool.id()),
        other => other.into(),
    }
}

/// How many times a change that lost to a concurrent write is re-applied.
const WRITE_ATTEMPTS: usize = 16;

/// Applies `change` to `user` and writes it with the store's compare-and-set; when another
/// write to the user came first, re-reads the user and applies `change` again, so the
/// change lands on top of every write acknowledged before it (the concurrent-write rule
/// of `userpool_store::Store`). `change` sees the current row each time and may refuse
/// (its error is returned, nothing written). A change of `email` or `phone_number` voids
/// the codes sent to the old address ([`codes::void_changed_verifications`]), whichever
/// operation made it. The user as written and what `change` gave.
pub async fn modify<T>(
    ctx: &Ctx,
    pool: &Pool,
    mut user: UserRecord,
    mut change: impl FnMut(&mut UserRecord) -> OpResult<T>,
) -> OpResult<(UserRecord, T)> {
    for _ in 0..WRITE_ATTEMPTS {
        let before = user.attributes.clone();
        let out = change(&mut user)?;
        match ctx.store().update_user(&user).await {
            Ok(()) => {
                user.version += 1;
                codes::void_changed_verifications(ctx, &user, &before).await?;
                return Ok((user, out));
            }
            Err(StoreError::Conflict(userpool_store::VERSION_CONFLICT)) => {
                user = ctx
                    .store()
                    .get_user(pool.id(), &user.username_key)
                    .await?
                    .ok_or_else(user_not_found)?;
            }
            Err(StoreError::NotFound) => return Err(user_not_found()),
            Err(e) => return Err(write_error(e, pool)),
        }
    }
    tracing::warn!(pool = %pool.id(), username = %user.username, "ST0007 user write lost to concurrent writes every time");
    Err(CognitoError::new(
        ErrorCode::TooManyRequestsException,
        "Too many concurrent changes to this user; try again.",
    ))
}

/// The attributes as the wire lists them.
pub fn wire_attributes(user: &UserRecord) -> Vec<AttributeType> {
    user.attributes
        .iter()
        .map(|(n, v)| AttributeType {
            name: n.clone(),
            value: Some(v.clone()),
        })
        .collect()
}

/// The wire status of a stored one.
pub fn status(user: &UserRecord) -> UserStatusType {
    serde_json::from_value(serde_json::Value::String(user.status.clone())).unwrap_or(UserStatusType::Unknown)
}

/// `UserType`, as AdminCreateUser and ListUsers return it.
pub fn user_type(user: &UserRecord, only: Option<&[String]>) -> UserType {
    let mut attributes = wire_attributes(user);
    if let Some(names) = only {
        attributes.retain(|a| names.contains(&a.name));
    }
    UserType {
        username: Some(user.username.clone()),
        attributes: Some(attributes),
        user_create_date: Some(Timestamp(user.created_ms)),
        user_last_modified_date: Some(Timestamp(user.modified_ms)),
        enabled: Some(user.enabled),
        user_status: Some(status(user)),
        mfa_options: None,
    }
}

/// (username, sub, attributes) of a new user.
pub type NewIdentity = (String, String, Vec<(String, String)>);

/// The username and initial attributes of a new user, by the pool's username rules.
pub fn new_identity(pool: &Pool, given: &str, attrs: &[AttributeType]) -> OpResult<NewIdentity> {
    let sub = crate::ids::uuid().to_string();
    let mut attributes = vec![("sub".to_string(), sub.clone())];
    let mut list: Vec<AttributeType> = attrs.to_vec();
    let username = if pool.email_or_phone_usernames() {
        let allows = |a: UsernameAttributeType| pool.username_attributes().contains(&a);
        let attr = if allows(UsernameAttributeType::Email) && is_email(given) {
            "email"
        } else if allows(UsernameAttributeType::PhoneNumber) && is_phone(given) {
            "phone_number"
        } else {
            let msg = match (
                allows(UsernameAttributeType::Email),
                allows(UsernameAttributeType::PhoneNumber),
            ) {
                (true, true) => "Username should be either an email or a phone number.",
                (true, false) => "Username should be an email.",
                _ => "Username should be a phone number.",
            };
            return Err(CognitoError::invalid_parameter(msg));
        };
        if !list.iter().any(|a| a.name == attr) {
            list.push(AttributeType {
                name: attr.into(),
                value: Some(given.to_string()),
            });
        }
        // With email or phone as the username, the real username is the sub.
        sub.clone()
    } else {
        if is_email(given) && pool.alias_attributes().contains(&AliasAttributeType::Email) {
            return Err(CognitoError::invalid_parameter(
                "Username cannot be of email format, since user pool is configured for email alias.",
            ));
        }
        given.to_string()
    };
    set_attributes(&mut attributes, &list);
    Ok((username, sub, attributes))
}

/// A new user of `pool` (AdminCreateUser, SignUp): enabled, its password set now (`None`:
/// a password nobody was given, see [`admin_create_user`]), its lookup entries computed.
pub fn new_user(pool: &Pool, identity: NewIdentity, status: &str, password: Option<&str>, now_ms: i64) -> UserRecord {
    let (username, sub, attributes) = identity;
    let mut user = UserRecord {
        pool_id: pool.id().to_string(),
        username_key: pool.username_key(&username),
        username,
        sub,
        status: status.into(),
        enabled: true,
        created_ms: now_ms,
        modified_ms: now_ms,
        attributes,
        password: None,
        password_set_ms: 0,
        failed_attempts: 0,
        locked_until_ms: 0,
        tokens_valid_after_ms: 0,
        version: 0,
        mfa: String::new(),
        lookups: None,
    };
    match password {
        Some(password) => set_password(pool, &mut user, password, now_ms),
        None => user.password_set_ms = now_ms,
    }
    refresh_lookups(pool, &mut user);
    user
}

/// Replaces a user's password verifier (the password itself is never kept).
pub fn set_password(pool: &Pool, user: &mut UserRecord, password: &str, now_ms: i64) {
    user.password = Some(passwords::make_verifier(pool.id(), &user.username, password));
    user.password_set_ms = now_ms;
    user.modified_ms = now_ms;
}

/// AdminCreateUser
pub async fn admin_create_user(ctx: &Ctx, req: AdminCreateUserRequest) -> OpResult<AdminCreateUserResponse> {
    let ctx = &ctx.with_client(None, req.client_metadata.clone());
    let pool = load(ctx, &req.user_pool_id).await?;
    let attrs = req.user_attributes.unwrap_or_default();
    check_attributes(&pool, &attrs, true)?;
    let policy = pool.password_policy();
    // "The default value is SMS."; a medium the user has no address for sends nothing.
    let mediums = req
        .desired_delivery_mediums
        .clone()
        .unwrap_or_else(|| vec![userpool_model::types::DeliveryMediumType::Sms]);
    if req.message_action == Some(MessageActionType::Resend) {
        let user = resolve(ctx, &pool, &req.username).await?;
        let temp = req
            .temporary_password
            .unwrap_or_else(|| passwords::generate_temporary(&policy));
        passwords::check_policy(&policy, &temp)?;
        let (user, ()) = modify(ctx, &pool, user, |user| {
            if user.status != "FORCE_CHANGE_PASSWORD" {
                return Err(CognitoError::new(
                    ErrorCode::UnsupportedUserStateException,
                    "User is not in FORCE_CHANGE_PASSWORD state.",
                ));
            }
            set_password(&pool, user, &temp, ctx.now_ms);
            Ok(())
        })
        .await?;
        codes::keep_temporary_password(ctx, &user, &temp, temporary_ttl_ms(&policy), &mediums).await?;
        return Ok(AdminCreateUserResponse {
            user: Some(user_type(&user, None)),
        });
    }
    let (username, sub, attributes) = new_identity(&pool, &req.username, &attrs)?;
    check_required(&pool, &attributes)?;
    crate::triggers::sign_up::pre_sign_up(
        ctx,
        &pool,
        crate::triggers::sign_up::Source::AdminCreateUser,
        &username,
        &attributes,
        crate::triggers::sign_up::validation_data(req.validation_data.as_deref()).as_ref(),
    )
    .await?;
    let suppress = req.message_action == Some(MessageActionType::Suppress);
    // A temporary password generated here and never sent is one nobody can sign in with:
    // Cognito's user is stuck until an admin sets a password. userpool keeps no verifier for
    // it (the SRP `g^x` is most of a create's work); every sign-in check treats the user as
    // having a password that never matches (sign_in::password, sign_in::srp).
    let temp = match req.temporary_password {
        Some(t) => {
            passwords::check_policy(&policy, &t)?;
            Some(t)
        }
        None if suppress => None,
        None => Some(passwords::generate_temporary(&policy)),
    };
    let user = new_user(
        &pool,
        (username, sub, attributes),
        "FORCE_CHANGE_PASSWORD",
        temp.as_deref(),
        ctx.now_ms,
    );
    if req.force_alias_creation == Some(true) {
        take_aliases(ctx, &pool, &user).await?;
    }
    ctx.store()
        .create_user(&user)
        .await
        .map_err(|e| write_error(e, &pool))?;
    if let (false, Some(temp)) = (suppress, &temp) {
        codes::keep_temporary_password(ctx, &user, temp, temporary_ttl_ms(&policy), &mediums).await?;
    }
    tracing::info!(pool = %pool.id(), username = %user.username, "created user");
    Ok(AdminCreateUserResponse {
        user: Some(user_type(&user, None)),
    })
}

/// ForceAliasCreation: moves the aliases of `user` away from whoever holds them now.
async fn take_aliases(ctx: &Ctx, pool: &Pool, user: &UserRecord) -> OpResult<()> {
    let aliases = user.lookups.as_ref().map(|l| l.aliases.clone()).unwrap_or_default();
    for key in &aliases {
        if let Some(other) = ctx.store().find_user_by_alias(pool.id(), key).await? {
            if other.username_key == user.username_key {
                continue;
            }
            modify(ctx, pool, other, |other| {
                if let Some((attr, _)) = key.split_once(':') {
                    if let Some(slot) = other
                        .attributes
                        .iter_mut()
                        .find(|(n, _)| n == &format!("{attr}_verified"))
                    {
                        slot.1 = "false".into();
                    }
                }
                refresh_lookups(pool, other);
                if let Some(l) = other.lookups.as_mut() {
                    l.aliases.retain(|k| k != key);
                }
                Ok(())
            })
            .await?;
        }
    }
    Ok(())
}

/// The lifetime of a temporary password.
pub fn temporary_ttl_ms(policy: &userpool_model::types::PasswordPolicyType) -> i64 {
    i64::from(policy.temporary_password_validity_days.unwrap_or(7)) * 86_400_000
}

/// AdminGetUser
pub async fn admin_get_user(ctx: &Ctx, req: AdminGetUserRequest) -> OpResult<AdminGetUserResponse> {
    let pool = load(ctx, &req.user_pool_id).await?;
    let user = resolve(ctx, &pool, &req.username).await?;
    let (user_mfa_setting_list, preferred_mfa_setting) = crate::ops::mfa::wire_settings(&user);
    Ok(AdminGetUserResponse {
        username: user.username.clone(),
        user_attributes: Some(wire_attributes(&user)),
        user_create_date: Some(Timestamp(user.created_ms)),
        user_last_modified_date: Some(Timestamp(user.modified_ms)),
        enabled: Some(user.enabled),
        user_status: Some(status(&user)),
        mfa_options: crate::ops::mfa::wire_options(&user),
        preferred_mfa_setting,
        user_mfa_setting_list,
    })
}

/// AdminDeleteUser
pub async fn admin_delete_user(ctx: &Ctx, req: AdminDeleteUserRequest) -> OpResult<()> {
    let pool = load(ctx, &req.user_pool_id).await?;
    let user = resolve(ctx, &pool, &req.username).await?;
    match ctx.store().delete_user(pool.id(), &user.username_key).await {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    // The user's passkeys go with the user (kept by sub, which no new user reuses).
    crate::ops::passkeys::forget_user(ctx, pool.id(), &user.sub).await
}

/// AdminSetUserPassword
pub async fn admin_set_user_password(
    ctx: &Ctx,
    req: AdminSetUserPasswordRequest,
) -> OpResult<AdminSetUserPasswordResponse> {
    let pool = load(ctx, &req.user_pool_id).await?;
    let user = resolve(ctx, &pool, &req.username).await?;
    passwords::check_policy(&pool.password_policy(), &req.password)?;
    let verifier = passwords::make_verifier(pool.id(), &user.username, &req.password);
    let (user, ()) = modify(ctx, &pool, user, |user| {
        user.password = Some(verifier.clone());
        user.password_set_ms = ctx.now_ms;
        user.modified_ms = ctx.now_ms;
        // "If the password is permanent, the user status is set to Confirmed"; otherwise
        // the user must change it at the next sign-in.
        user.status = if req.permanent == Some(true) {
            "CONFIRMED"
        } else {
            "FORCE_CHANGE_PASSWORD"
        }
        .into();
        Ok(())
    })
    .await?;
    ctx.store()
        .clear_password_failures(pool.id(), &user.username_key)
        .await?;
    Ok(AdminSetUserPasswordResponse {})
}

/// AdminUpdateUserAttributes
pub async fn admin_update_user_attributes(
    ctx: &Ctx,
    req: AdminUpdateUserAttributesRequest,
) -> OpResult<AdminUpdateUserAttributesResponse> {
    let pool = load(ctx, &req.user_pool_id).await?;
    let user = resolve(ctx, &pool, &req.username).await?;
    check_attributes(&pool, &req.user_attributes, false)?;
    modify(ctx, &pool, user, |user| {
        set_attributes(&mut user.attributes, &req.user_attributes);
        user.modified_ms = ctx.now_ms;
        refresh_lookups(&pool, user);
        Ok(())
    })
    .await?;
    Ok(AdminUpdateUserAttributesResponse {})
}

/// Removes attributes by name, refusing required and immutable ones.
pub fn delete_attributes(pool: &Pool, user: &mut UserRecord, names: &[String]) -> OpResult<()> {
    for name in names {
        let Some(schema) = pool.schema_attribute(name) else {
            return Err(schema_error(name, "Attribute does not exist in the schema."));
        };
        if schema.required == Some(true) || schema.mutable == Some(false) {
            return Err(CognitoError::invalid_parameter(format!(
                "Attributes did not conform to the schema: {name}: The attribute is required"
            )));
        }
        user.attributes.retain(|(n, _)| n != name);
    }
    Ok(())
}

/// AdminDeleteUserAttributes
pub async fn admin_delete_user_attributes(
    ctx: &Ctx,
    req: AdminDeleteUserAttributesRequest,
) -> OpResult<AdminDeleteUserAttributesResponse> {
    let pool = load(ctx, &req.user_pool_id).await?;
    let user = resolve(ctx, &pool, &req.username).await?;
    modify(ctx, &pool, user, |user| {
        delete_attributes(&pool, user, &req.user_attribute_names)?;
        user.modified_ms = ctx.now_ms;
        refresh_lookups(&pool, user);
        Ok(())
    })
    .await?;
    Ok(AdminDeleteUserAttributesResponse {})
}

async fn set_enabled(ctx: &Ctx, pool_id: &str, username: &str, enabled: bool) -> OpResult<()> {
    let pool = load(ctx, pool_id).await?;
    let user = resolve(ctx, &pool, username).await?;
    modify(ctx, &pool, user, |user| {
        user.enabled = enabled;
        user.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    Ok(())
}

/// AdminEnableUser
pub async fn admin_enable_user(ctx: &Ctx, req: AdminEnableUserRequest) -> OpResult<AdminEnableUserResponse> {
    set_enabled(ctx, &req.user_pool_id, &req.username, true).await?;
    Ok(AdminEnableUserResponse {})
}

/// AdminDisableUser
pub async fn admin_disable_user(ctx: &Ctx, req: AdminDisableUserRequest) -> OpResult<AdminDisableUserResponse> {
    set_enabled(ctx, &req.user_pool_id, &req.username, false).await?;
    Ok(AdminDisableUserResponse {})
}

/// AdminResetUserPassword
pub async fn admin_reset_user_password(
    ctx: &Ctx,
    req: AdminResetUserPasswordRequest,
) -> OpResult<AdminResetUserPasswordResponse> {
    let ctx = &ctx.with_client(None, req.client_metadata.clone());
    let pool = load(ctx, &req.user_pool_id).await?;
    let user = resolve(ctx, &pool, &req.username).await?;
    let Some(details) = codes::delivery(&user, None) else {
        return Err(CognitoError::invalid_parameter(
            "Cannot reset password for the user as there is no registered/verified email or phone_number",
        ));
    };
    let (user, ()) = modify(ctx, &pool, user, |user| {
        user.status = "RESET_REQUIRED".into();
        user.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    codes::issue(ctx, &user, "forgot_password", Some(&details), "ForgotPassword").await?;
    Ok(AdminResetUserPasswordResponse {})
}

/// AdminConfirmSignUp
pub async fn admin_confirm_sign_up(ctx: &Ctx, req: AdminConfirmSignUpRequest) -> OpResult<AdminConfirmSignUpResponse> {
    let ctx = &ctx.with_client(None, req.client_metadata.clone());
    let pool = load(ctx, &req.user_pool_id).await?;
    let user = resolve(ctx, &pool, &req.username).await?;
    let (user, ()) = modify(ctx, &pool, user, |user| {
        if user.status != "UNCONFIRMED" {
            return Err(CognitoError::new(
                ErrorCode::NotAuthorizedException,
                format!("User cannot be confirmed. Current status is {}", user.status),
            ));
        }
        user.status = "CONFIRMED".into();
        user.modified_ms = ctx.now_ms;
        Ok(())
    })
    .await?;
    crate::triggers::sign_up::post_confirmation(
        ctx,
        &pool,
        &user,
        crate::triggers::NO_CLIENT,
        crate::triggers::sign_up::Confirmed::SignUp,
    )
    .await?;
    Ok(AdminConfirmSignUpResponse {})
}

/// Parses a ListUsers filter: `attr = "value"`, `attr ^= "value"` (the attribute may be
/// quoted), or empty. The attribute and operator are read before the value, so a value
/// may hold `=`, `^=` or escaped quotes.
pub fn parse_filter(filter: &str) -> OpResult<Option<UserFilter>> {
    let f = filter.trim();
    if f.is_empty() {
        return Ok(None);
    }
    let invalid = || CognitoError::invalid_parameter("Error while parsing filter.");
    let (attr, rest) = match f.strip_prefix('"') {
        Some(quoted) => quoted.split_once('"').ok_or_else(invalid)?,
        None => {
            let end = f
                .find(|c: char| c.is_whitespace() || c == '=' || c == '^')
                .ok_or_else(invalid)?;
            (f.get(..end).ok_or_else(invalid)?, f.get(end..).ok_or_else(invalid)?)
        }
    };
    let rest = rest.trim_start();
    let (prefix, rest) = if let Some(r) = rest.strip_prefix("^=") {
        (true, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (false, r)
    } else {
        return Err(invalid());
    };
    let value = rest
        .trim()
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(invalid)?;
    let value = value.replace("\\\"", "\"");
    let allowed = ["username", "sub", "cognito:user_status", "status"];
    if !allowed.contains(&attr) && !SEARCHABLE.contains(&attr) {
        return Err(CognitoError::invalid_parameter(format!(
            "Invalid search attribute: {attr}"
        )));
    }
    Ok(Some(UserFilter {
        attribute: attr.to_string(),
        value,
        prefix,
    }))
}

/// ListUsers
pub async fn list_users(ctx: &Ctx, req: ListUsersRequest) -> OpResult<ListUsersResponse> {
    let pool = load(ctx, &req.user_pool_id).await?;
    let filter = parse_filter(req.filter.as_deref().unwrap_or_default())?;
    let (limit, after) = token::page(req.limit, req.pagination_token.as_deref())?;
    let page = ctx
        .store()
        .list_users(pool.id(), filter.as_ref(), after.as_deref(), limit)
        .await?;
    let only = req.attributes_to_get.as_deref();
    Ok(ListUsersResponse {
        users: Some(page.items.iter().map(|u| user_type(u, only)).collect()),
        pagination_token: page.next_after.as_deref().map(token::encode),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(
            parse_filter("email ^= \"al\"").unwrap(),
            Some(UserFilter {
                attribute: "email".into(),
                value: "al".into(),
                prefix: true
            })
        );
        assert_eq!(
            parse_filter("\"cognito:user_status\" = \"CONFIRMED\"")
                .unwrap()
                .unwrap()
                .attribute,
            "cognito:user_status"
        );
        assert!(parse_filter("").unwrap().is_none());
        assert!(parse_filter("custom:x = \"1\"").is_err());
        assert!(parse_filter("email ~ \"x\"").is_err());
        // The operator is read before the value: a value may hold `^=` and `=`.
        assert_eq!(parse_filter("email = \"a^=b\"").unwrap().unwrap().value, "a^=b");
        let f = parse_filter("username=\"^=\"").unwrap().unwrap();
        assert_eq!(
            (f.attribute.as_str(), f.value.as_str(), f.prefix),
            ("username", "^=", false)
        );
    }
}
