//! Agency queries and rules.
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use super::dto::{AgencyInput, AgencyListParams, AgencyView};
use crate::audit::{self, Actor, Event};
use crate::db::{Db, update_if_version};
use crate::entities::agencies;
use crate::error::{AppError, AppResult};
use crate::http::{IfMatch, MergePatch, Page, PageParams, cursor_for};
use crate::validate::Checks;
use crate::vocab::AuditAction;

pub async fn list(db: &impl ConnectionTrait, params: &AgencyListParams) -> AppResult<Page<AgencyView>> {
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() };
    let limit = page.limit()?;
    let mut q = agencies::Entity::find().order_by_asc(agencies::Column::Id).limit(limit + 1);
    if let Some(after) = page.after()? {
        q = q.filter(agencies::Column::Id.gt(after));
    }
    if let Some(kind) = params.kind {
        q = q.filter(agencies::Column::Kind.eq(kind));
    }
    if let Some(parent) = &params.parent {
        q = q.filter(agencies::Column::ParentCode.eq(parent.trim().to_uppercase()));
    }
    if let Some(active) = params.active {
        q = q.filter(agencies::Column::Active.eq(active));
    }
    let rows = q.all(db).await?;
    Ok(Page::from_rows(rows, limit, |r| cursor_for(r.id), AgencyView::from))
}

pub async fn get(db: &impl ConnectionTrait, code: &str) -> AppResult<agencies::Model> {
    agencies::Entity::find()
        .filter(agencies::Column::Code.eq(code.trim().to_uppercase()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no agency has code {code}")))
}

/// An agency a body field names, which must exist and be active: 422 at `pointer` otherwise.
pub async fn require_active(db: &impl ConnectionTrait, code: &str, pointer: &str) -> AppResult<agencies::Model> {
    match agencies::Entity::find().filter(agencies::Column::Code.eq(code)).one(db).await? {
        Some(a) if a.active => Ok(a),
        Some(_) => Err(AppError::invalid_field(pointer, "inactive_agency", format!("agency {code} is inactive"))),
        None => Err(AppError::invalid_field(pointer, "unknown_agency", format!("no agency has code {code}"))),
    }
}

/// Checks an agency's fields; `own_code` is set when editing an existing agency.
async fn check(db: &impl ConnectionTrait, input: &AgencyInput, own_code: Option<&str>) -> AppResult<AgencyInput> {
    let mut c = Checks::new();
    let code = c.agency_code("/code", &input.code);
    let name = c.required_text("/name", &input.name, 200);
    let liaison_email = c.email("/liaison_email", input.liaison_email.as_deref());
    let parent = input.parent.as_deref().map(|p| c.agency_code("/parent", p));
    c.finish()?;
    if let Some(parent) = &parent {
        if *parent == code {
            return Err(AppError::invalid_field("/parent", "own_parent", "an agency cannot be its own parent"));
        }
        let parent_row = agencies::Entity::find().filter(agencies::Column::Code.eq(parent.as_str())).one(db).await?;
        let Some(mut ancestor) = parent_row else {
            return Err(AppError::invalid_field("/parent", "unknown_agency", format!("no agency has code {parent}")));
        };
        // Walk up from the new parent: meeting this agency again would make a cycle.
        if let Some(own) = own_code {
            while let Some(next) = ancestor.parent_code.clone() {
                if next == own {
                    return Err(AppError::invalid_field(
                        "/parent",
                        "cycle",
                        "the parent chain would loop back to this agency",
                    ));
                }
                match agencies::Entity::find().filter(agencies::Column::Code.eq(next)).one(db).await? {
                    Some(a) => ancestor = a,
                    None => break,
                }
            }
        }
    }
    Ok(AgencyInput { code, name, kind: input.kind, parent, liaison_email, active: Some(input.active.unwrap_or(true)) })
}

pub async fn create(db: &Db, actor: &Actor, input: AgencyInput, now: DateTime<Utc>) -> AppResult<agencies::Model> {
    let tx = db.begin_write().await?;
    let input = check(&tx, &input, None).await?;
    if agencies::Entity::find().filter(agencies::Column::Code.eq(input.code.as_str())).one(&tx).await?.is_some() {
        return Err(AppError::conflict("agency-exists", format!("an agency with code {} already exists", input.code)));
    }
    let model = agencies::ActiveModel {
        id: Set(Uuid::now_v7()),
        code: Set(input.code),
        name: Set(input.name),
        kind: Set(input.kind),
        parent_code: Set(input.parent),
        liaison_email: Set(input.liaison_email),
        active: Set(input.active.unwrap_or(true)),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let created = agencies::Entity::insert(model).exec_with_returning(&tx).await?;
    let event = Event::new(AuditAction::Admin, "agency").resource(&created.code).fields([
        "code",
        "name",
        "kind",
        "parent",
        "liaison_email",
        "active",
    ]);
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
) -> AppResult<agencies::Model> {
    let tx = db.begin_write().await?;
    let current = get(&tx, code).await?;
    let version = if_match.require(current.version)?;
    patch.refuse(&[("code", "an agency's code cannot change; create a new agency instead")])?;
    let input: AgencyInput =
        patch.apply(serde_json::to_value(AgencyInput::from(&current)).map_err(anyhow::Error::from)?)?;
    let input = check(&tx, &input, Some(&current.code)).await?;
    let changes = agencies::ActiveModel {
        name: Set(input.name),
        kind: Set(input.kind),
        parent_code: Set(input.parent),
        liaison_email: Set(input.liaison_email),
        active: Set(input.active.unwrap_or(true)),
        version: Set(version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    update_if_version::<agencies::Entity>(
        &tx,
        changes,
        (agencies::Column::Id, current.id),
        (agencies::Column::Version, version),
    )
    .await?;
    let event = Event::new(AuditAction::Admin, "agency").resource(&current.code).fields(patch.0.keys().cloned());
    audit::record(&tx, actor, now, event).await?;
    let updated = get(&tx, code).await?;
    tx.commit().await?;
    Ok(updated)
}
