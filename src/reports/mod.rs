//! Reports: aggregates only. Analysts see small numbers suppressed.
pub mod compliance;
mod routes;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::contact_compliance))
}
