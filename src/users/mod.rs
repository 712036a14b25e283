//! People who use the hub: created and changed by admins (or `care-hub user add`).
pub mod dto;
mod routes;
pub mod service;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::get, routes::patch))
        .routes(routes!(routes::set_password))
}
