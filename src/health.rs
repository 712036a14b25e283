//! Liveness and readiness probes for orchestrators and load balancers.
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::db::NotReady;
use crate::error::{AppError, AppResult, Problem};

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "Up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The service can reach its database, store changes, and take traffic. 503 `unavailable` when
/// the database does not answer; 503 `storage-unavailable` when it answers but cannot store
/// changes (SQLite: a read-only or nearly full file system).
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database is not reachable, or cannot store changes", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> AppResult<Json<Health>> {
    match state.db.readiness().await {
        Ok(()) => Ok(Json(Health { status: "ready" })),
        Err(NotReady::Unreachable) => Err(AppError::unavailable("the database is not reachable")),
        Err(NotReady::Storage(why)) => {
            tracing::warn!(reason = %why, "not ready: the database cannot store changes");
            let mut e = AppError::storage_unavailable();
            e.detail = format!("{why}; nothing can be stored until an operator frees or remounts it");
            Err(e)
        }
    }
}
