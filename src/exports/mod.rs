//! Exports of row-level data for analysts: the pseudonymised linked-journey extract.
pub mod encode;
pub mod linked;
mod routes;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::linked_journeys))
}
