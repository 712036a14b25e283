//! User queries and rules: role needs team or agency; disabling revokes sessions.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::dto::{UserInput, UserListParams, UserView};
use crate::audit::{self, Actor, Event};
use crate::auth::{Principal, hash_password};
use crate::db::{Db, update_if_version};
use crate::entities::{agencies, refresh_tokens, teams, users};
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, MergePatch, Page, PageParams, cursor_for};
use crate::validate::Checks;
use crate::vocab::{AuditAction, Role};

/// A user's fields after every check.
struct Valid {
    email: String,
    name: String,
    role: Role,
    team: Option<String>,
    agency: Option<String>,
    active: bool,
}

async fn check(db: &impl ConnectionTrait, input: &UserInput) -> AppResult<Valid> {
    let mut c = Checks::new();
    let email = c.email("/email", Some(&input.email)).unwrap_or_default().to_lowercase();
    if email.is_empty() {
        c.fail("/email", "required", "must not be empty");
    }
    let name = c.required_text("/name", &input.name, 200);
    let team = input.team.as_deref().map(|t| c.team_code("/team", t));
    let agency = input.agency.as_deref().map(|a| c.agency_code("/agency", a));
    match input.role {
        Role::Caseworker | Role::Supervisor if team.is_none() => {
            c.fail("/team", "required", "caseworkers and supervisors belong to a team");
        }
        Role::AgencyLiaison if agency.is_none() => c.fail("/agency", "required", "agency liaisons belong to an agency"),
        _ => {}
    }
    c.finish()?;
    if let Some(t) = &team
        && teams::Entity::find().filter(teams::Column::Code.eq(t.as_str())).one(db).await?.is_none()
    {
        return Err(AppError::invalid_field("/team", "unknown_team", format!("no team has code {t}")));
    }
    if let Some(a) = &agency
        && agencies::Entity::find().filter(agencies::Column::Code.eq(a.as_str())).one(db).await?.is_none()
    {
        return Err(AppError::invalid_field("/agency", "unknown_agency", format!("no agency has code {a}")));
    }
    Ok(Valid { email, name, role: input.role, team, agency, active: input.active.unwrap_or(true) })
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<users::Model> {
    users::Entity::find_by_id(id).one(db).await?.ok_or_else(|| AppError::not_found(format!("no user {id}")))
}

pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> AppResult<Option<users::Model>> {
    Ok(users::Entity::find().filter(users::Column::Email.eq(email.trim().to_lowercase())).one(db).await?)
}

pub async fn list(db: &impl ConnectionTrait, p: &UserListParams) -> AppResult<Page<UserView>> {
    let page = PageParams { limit: p.limit, cursor: p.cursor.clone() };
    let limit = page.limit()?;
    let mut q = users::Entity::find().order_by_asc(users::Column::Id).limit(limit + 1);
    if let Some(after) = page.after()? {
        q = q.filter(users::Column::Id.gt(after));
    }
    if let Some(role) = p.role {
        q = q.filter(users::Column::Role.eq(role));
    }
    if let Some(team) = &p.team {
        q = q.filter(users::Column::TeamCode.eq(team.trim().to_lowercase()));
    }
    if let Some(active) = p.active {
        q = q.filter(users::Column::Active.eq(active));
    }
    Ok(Page::from_rows(q.all(db).await?, limit, |r| cursor_for(r.id), UserView::from))
}

/// Creates a user (the caller is an admin, or the command line acting as one).
pub async fn create(db: &Db, actor: &Actor, input: &UserInput, now: DateTime<Utc>) -> AppResult<users::Model> {
    let password_hash = match &input.password {
        Some(p) => Some(hash_off_thread(p.clone(), "/password").await?),
        None => None,
    };
    let tx = db.begin_write().await?;
    let v = check(&tx, input).await?;
    if find_by_email(&tx, &v.email).await?.is_some() {
        return Err(AppError::conflict("user-exists", format!("a user with email {} already exists", v.email)));
    }
    let model = users::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(v.email),
        name: Set(v.name),
        role: Set(v.role),
        team_code: Set(v.team),
        agency_code: Set(v.agency),
        password_hash: Set(password_hash),
        active: Set(v.active),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
    };
    let created = users::Entity::insert(model).exec_with_returning(&tx).await?;
    let event = Event::new(AuditAction::Admin, "user")
        .resource(created.id)
        .fields(["email", "name", "role", "team", "agency", "active"]);
    audit::record(&tx, actor, now, event).await?;
    tx.commit().await?;
    Ok(created)
}

pub async fn patch(
    db: &Db,
    user: &Principal,
    id: Uuid,
    if_match: &IfMatch,
    patch: &MergePatch,
    now: DateTime<Utc>,
) -> AppResult<users::Model> {
    let tx = db.begin_write().await?;
    let current = get(&tx, id).await?;
    let version = if_match.require(current.version)?;
    patch.refuse(&[("password", "set passwords at /users/{id}/password")])?;
    let input: UserInput =
        patch.apply(serde_json::to_value(UserInput::from(&current)).map_err(anyhow::Error::from)?)?;
    let v = check(&tx, &input).await?;
    if v.email != current.email && find_by_email(&tx, &v.email).await?.is_some() {
        return Err(AppError::conflict("user-exists", format!("a user with email {} already exists", v.email)));
    }
    let fields: Vec<&str> = patch.0.keys().map(String::as_str).collect();
    let changes = users::ActiveModel {
        email: Set(v.email),
        name: Set(v.name),
        role: Set(v.role),
        team_code: Set(v.team),
        agency_code: Set(v.agency),
        active: Set(v.active),
        version: Set(version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    update_if_version::<users::Entity>(&tx, changes, (users::Column::Id, id), (users::Column::Version, version))
        .await?;
    if !v.active || input.role != current.role {
        revoke_sessions(&tx, id, now).await?;
    }
    audit::record(&tx, &Actor::from(user), now, Event::new(AuditAction::Admin, "user").resource(id).fields(fields))
        .await?;
    let updated = get(&tx, id).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Sets a user's password and ends their sessions.
pub async fn set_password(db: &Db, actor: &Actor, id: Uuid, password: &str, now: DateTime<Utc>) -> AppResult<()> {
    let hash = hash_off_thread(password.to_owned(), "/password").await?;
    let tx = db.begin_write().await?;
    let user = get(&tx, id).await?;
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .col_expr(users::Column::Version, Expr::value(user.version + 1))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id))
        .exec(&tx)
        .await?;
    revoke_sessions(&tx, id, now).await?;
    audit::record(&tx, actor, now, Event::new(AuditAction::Admin, "user").resource(id).fields(["password"])).await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes every refresh token of a user.
pub async fn revoke_sessions(db: &impl ConnectionTrait, user_id: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(now))
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Argon2 takes tens of milliseconds of CPU: keep it off the request threads.
pub async fn hash_off_thread(password: String, pointer: &'static str) -> AppResult<String> {
    tokio::task::spawn_blocking(move || hash_password(&password, pointer))
        .await
        .map_err(|e| AppError::internal(e.into()))?
}
