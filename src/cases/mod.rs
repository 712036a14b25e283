//! Cases (crimes) the hub follows, the victims each involves and the agency references on them.
pub mod dto;
mod routes;
pub mod service;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::create))
        .routes(routes!(routes::lookup))
        .routes(routes!(routes::get, routes::patch))
        .routes(routes!(routes::link_victim))
        .routes(routes!(routes::get_link, routes::unlink_victim))
        .routes(routes!(routes::add_reference))
        .routes(routes!(routes::get_reference, routes::delete_reference))
}
