//! Caseworker teams: the unit that owns victims' records.
pub mod dto;
mod routes;
pub mod service;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::list, routes::create)).routes(routes!(routes::get, routes::patch))
}
