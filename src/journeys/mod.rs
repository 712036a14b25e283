//! Linked journeys: agency events (idempotent per source, corrections, a linkage queue for those
//! that match no case), and each victim's journey per case derived from them.
mod dto;
mod routes;
pub mod service;
pub mod stages;

pub use dto::{BatchInput, EventInput};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::post_events))
        .routes(routes!(routes::case_journey))
        .routes(routes!(routes::linkage_exceptions))
        .routes(routes!(routes::resolve_exception))
        .routes(routes!(routes::stages))
        .routes(routes!(routes::outcome_codes))
}
