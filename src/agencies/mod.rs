//! Agencies as reference data, and the references they give victims and cases.
pub mod dto;
pub mod references;
mod routes;
pub mod service;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::list, routes::create)).routes(routes!(routes::get, routes::patch))
}
