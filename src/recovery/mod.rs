//! Service recovery: the problems that make victims give up, logged with an owner, a target date
//! from their severity (working days), an explicit workflow, an action log, automatic opening from
//! missed deadlines and overdue updates, and escalation when the target passes.
mod dto;
mod routes;
pub mod service;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::get, routes::patch))
        .routes(routes!(routes::transition))
        .routes(routes!(routes::add_action))
        .routes(routes!(routes::categories, routes::create_category))
        .routes(routes!(routes::report))
}
