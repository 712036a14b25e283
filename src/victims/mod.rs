//! The single victim record: create, search, read, update, merge, and its agency references.
pub mod dto;
pub mod export;
pub mod hub_ref;
pub mod merge;
pub mod read;
mod routes;
pub mod rules;
pub mod search;
pub mod service;
pub mod show;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::search, routes::create))
        .routes(routes!(routes::lookup))
        .routes(routes!(routes::get, routes::patch))
        .routes(routes!(routes::merge))
        .routes(routes!(routes::subject_access_export))
        .routes(routes!(routes::add_reference))
        .routes(routes!(routes::get_reference, routes::delete_reference))
}
