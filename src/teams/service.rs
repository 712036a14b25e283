//! Team queries and rules.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::dto::{TeamInput, TeamView};
use crate::audit::{self, Actor, Event};
use crate::db::{Db, update_if_version};
use crate::entities::teams;
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, MergePatch, Page, PageParams, cursor_for};
use crate::validate::Checks;
use crate::vocab::AuditAction;

pub async fn list(db: &impl ConnectionTrait, page: &PageParams) -> AppResult<Page<TeamView>> {
    let limit = page.limit()?;
    let mut q = teams::Entity::find().order_by_asc(teams::Column::Id).limit(limit + 1);
    if let Some(after) = page.after()? {
        q = q.filter(teams::Column::Id.gt(after));
    }
    Ok(Page::from_rows(q.all(db).await?, limit, |r| cursor_for(r.id), TeamView::from))
}

pub async fn find(db: &impl ConnectionTrait, code: &str) -> AppResult<Option<teams::Model>> {
    Ok(teams::Entity::find().filter(teams::Column::Code.eq(code.trim().to_lowercase())).one(db).await?)
}

pub async fn get(db: &impl ConnectionTrait, code: &str) -> AppResult<teams::Model> {
    find(db, code).await?.ok_or_else(|| AppError::not_found(format!("no team has code {code}")))
}

fn check(input: &TeamInput) -> AppResult<TeamInput> {
    let mut c = Checks::new();
    let code = c.team_code("/code", &input.code);
    let name = c.required_text("/name", &input.name, 200);
    c.finish()?;
    Ok(TeamInput { code, name, active: Some(input.active.unwrap_or(true)) })
}

pub async fn create(db: &Db, actor: &Actor, input: &TeamInput, now: DateTime<Utc>) -> AppResult<teams::Model> {
    let input = check(input)?;
    let tx = db.begin_write().await?;
    if find(&tx, &input.code).await?.is_some() {
        return Err(AppError::conflict("team-exists", format!("a team with code {} already exists", input.code)));
    }
    let model = teams::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(input.code),
        name: Set(input.name),
        active: Set(input.active.unwrap_or(true)),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let created = teams::Entity::insert(model).exec_with_returning(&tx).await?;
    let event = Event::new(AuditAction::Admin, "team").resource(&created.code).fields(["code", "name", "active"]);
    audit::record(&tx, actor, now, event).await?;
    tx.commit().await?;
    Ok(created)
}

pub async fn patch(
    db: &Db,
    actor: &Actor,
    code: &str,
    if_match: &IfMatch,
    patch: &MergePatch,
    now: DateTime<Utc>,
) -> AppResult<teams::Model> {
    let tx = db.begin_write().await?;
    let current = get(&tx, code).await?;
    let version = if_match.require(current.version)?;
    patch.refuse(&[("code", "a team's code cannot change; create a new team instead")])?;
    let input = check(&patch.apply(serde_json::to_value(TeamInput::from(&current)).map_err(anyhow::Error::from)?)?)?;
    let changes = teams::ActiveModel {
        name: Set(input.name),
        active: Set(input.active.unwrap_or(true)),
        version: Set(version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    update_if_version::<teams::Entity>(
        &tx,
        changes,
        (teams::Column::Id, current.id),
        (teams::Column::Version, version),
    )
    .await?;
    let event = Event::new(AuditAction::Admin, "team").resource(&current.code).fields(patch.0.keys().cloned());
    audit::record(&tx, actor, now, event).await?;
    let updated = get(&tx, code).await?;
    tx.commit().await?;
    Ok(updated)
}
