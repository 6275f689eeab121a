//! Groups: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups, AdminAddUserToGroup,
//! AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup. A user's groups go
//! into `cognito:groups` of their tokens, lowest precedence first.

use crate::app::Ctx;
use crate::error::{CognitoError, OpResult};
use crate::ops::{token, users};
use userpool_model::types::{
    AdminAddUserToGroupRequest, AdminListGroupsForUserRequest, AdminListGroupsForUserResponse,
    AdminRemoveUserFromGroupRequest, CreateGroupRequest, CreateGroupResponse, DeleteGroupRequest, GetGroupRequest,
    GetGroupResponse, GroupType, ListGroupsRequest, ListGroupsResponse, ListUsersInGroupRequest,
    ListUsersInGroupResponse, UpdateGroupRequest, UpdateGroupResponse,
};
use userpool_model::{ErrorCode, Timestamp};
use userpool_store::{GroupRecord, StoreError, UserRecord};

fn group_not_found() -> CognitoError {
    CognitoError::not_found("Group not found.")
}

fn group_type(g: &GroupRecord) -> GroupType {
    GroupType {
        group_name: Some(g.name.clone()),
        user_pool_id: Some(g.pool_id.clone()),
        description: g.description.clone(),
        role_arn: g.role_arn.clone(),
        precedence: g.precedence.and_then(|p| i32::try_from(p).ok()),
        last_modified_date: Some(Timestamp(g.modified_ms)),
        creation_date: Some(Timestamp(g.created_ms)),
    }
}

async fn load_group(ctx: &Ctx, pool_id: &str, name: &str) -> OpResult<GroupRecord> {
    ctx.store().get_group(pool_id, name).await?.ok_or_else(group_not_found)
}

/// The names for `cognito:groups`: by precedence (groups without one last), then name.
pub async fn token_groups(ctx: &Ctx, user: &UserRecord) -> OpResult<Vec<String>> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ctx
            .store()
            .groups_of_user(&user.pool_id, &user.username_key, after.as_deref(), 60)
            .await?;
        all.extend(page.items);
        match page.next_after {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    all.sort_by(|a, b| (a.precedence.unwrap_or(i64::MAX), &a.name).cmp(&(b.precedence.unwrap_or(i64::MAX), &b.name)));
    Ok(all.into_iter().map(|g| g.name).collect())
}

/// CreateGroup
pub async fn create_group(ctx: &Ctx, req: CreateGroupRequest) -> OpResult<CreateGroupResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let g = GroupRecord {
        pool_id: req.user_pool_id.clone(),
        name: req.group_name.clone(),
        description: req.description,
        role_arn: req.role_arn,
        precedence: req.precedence.map(i64::from),
        created_ms: ctx.now_ms,
        modified_ms: ctx.now_ms,
    };
    ctx.store().create_group(&g).await.map_err(|e| match e {
        StoreError::Conflict(_) => CognitoError::new(
            ErrorCode::GroupExistsException,
            format!("A group with the name {} already exists.", req.group_name),
        ),
        StoreError::NotFound => CognitoError::pool_not_found(&req.user_pool_id),
        other => other.into(),
    })?;
    Ok(CreateGroupResponse {
        group: Some(group_type(&g)),
    })
}

/// GetGroup
pub async fn get_group(ctx: &Ctx, req: GetGroupRequest) -> OpResult<GetGroupResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    Ok(GetGroupResponse {
        group: Some(group_type(&load_group(ctx, &req.user_pool_id, &req.group_name).await?)),
    })
}

/// UpdateGroup
pub async fn update_group(ctx: &Ctx, req: UpdateGroupRequest) -> OpResult<UpdateGroupResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let mut g = load_group(ctx, &req.user_pool_id, &req.group_name).await?;
    // Members left out are kept (UpdateGroup changes what it names).
    if req.description.is_some() {
        g.description = req.description;
    }
    if req.role_arn.is_some() {
        g.role_arn = req.role_arn;
    }
    if let Some(p) = req.precedence {
        g.precedence = Some(i64::from(p));
    }
    g.modified_ms = ctx.now_ms;
    ctx.store().update_group(&g).await.map_err(|e| match e {
        StoreError::NotFound => group_not_found(),
        other => other.into(),
    })?;
    Ok(UpdateGroupResponse {
        group: Some(group_type(&g)),
    })
}

/// DeleteGroup
pub async fn delete_group(ctx: &Ctx, req: DeleteGroupRequest) -> OpResult<()> {
    users::load(ctx, &req.user_pool_id).await?;
    ctx.store()
        .delete_group(&req.user_pool_id, &req.group_name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => group_not_found(),
            other => other.into(),
        })
}

/// ListGroups
pub async fn list_groups(ctx: &Ctx, req: ListGroupsRequest) -> OpResult<ListGroupsResponse> {
    users::load(ctx, &req.user_pool_id).await?;
    let (limit, after) = token::page(req.limit, req.next_token.as_deref())?;
    let p = ctx
        .store()
        .list_groups(&req.user_pool_id, after.as_deref(), limit)
        .await?;
    Ok(ListGroupsResponse {
        groups: Some(p.items.iter().map(group_type).collect()),
        next_token: p.next_after.as_deref().map(token::encode),
    })
}

/// AdminAddUserToGroup
pub async fn admin_add_user_to_group(ctx: &Ctx, req: AdminAddUserToGroupRequest) -> OpResult<()> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    load_group(ctx, pool.id(), &req.group_name).await?;
    ctx.store()
        .add_to_group(pool.id(), &req.group_name, &user.username_key)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => group_not_found(),
            other => other.into(),
        })
}

/// AdminRemoveUserFromGroup
pub async fn admin_remove_user_from_group(ctx: &Ctx, req: AdminRemoveUserFromGroupRequest) -> OpResult<()> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    load_group(ctx, pool.id(), &req.group_name).await?;
    ctx.store()
        .remove_from_group(pool.id(), &req.group_name, &user.username_key)
        .await?;
    Ok(())
}

/// AdminListGroupsForUser
pub async fn admin_list_groups_for_user(
    ctx: &Ctx,
    req: AdminListGroupsForUserRequest,
) -> OpResult<AdminListGroupsForUserResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    let user = users::resolve(ctx, &pool, &req.username).await?;
    let (limit, after) = token::page(req.limit, req.next_token.as_deref())?;
    let p = ctx
        .store()
        .groups_of_user(pool.id(), &user.username_key, after.as_deref(), limit)
        .await?;
    Ok(AdminListGroupsForUserResponse {
        groups: Some(p.items.iter().map(group_type).collect()),
        next_token: p.next_after.as_deref().map(token::encode),
    })
}

/// ListUsersInGroup
pub async fn list_users_in_group(ctx: &Ctx, req: ListUsersInGroupRequest) -> OpResult<ListUsersInGroupResponse> {
    let pool = users::load(ctx, &req.user_pool_id).await?;
    load_group(ctx, pool.id(), &req.group_name).await?;
    let (limit, after) = token::page(req.limit, req.next_token.as_deref())?;
    let p = ctx
        .store()
        .users_in_group(pool.id(), &req.group_name, after.as_deref(), limit)
        .await?;
    Ok(ListUsersInGroupResponse {
        users: Some(p.items.iter().map(|u| users::user_type(u, None)).collect()),
        next_token: p.next_after.as_deref().map(token::encode),
    })
}
