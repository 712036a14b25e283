//! Retention: how long each class of record is kept, legal hold, and the job that anonymises
//! closed victim records past their time, keeping what aggregate reporting needs.
pub mod dto;
mod routes;
pub mod service;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_policies))
        .routes(routes!(routes::get_policy, routes::patch_policy))
        .routes(routes!(routes::run))
        .routes(routes!(routes::get_hold, routes::place_hold, routes::lift_hold))
}
