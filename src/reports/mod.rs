//! Reports: aggregates only. Analysts see small numbers suppressed.
pub mod attrition;
pub mod board;
pub mod compliance;
pub mod compliance_summary;
pub mod facts;
mod routes;
pub mod sdc;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::contact_compliance))
        .routes(routes!(routes::attrition_flow))
        .routes(routes!(routes::attrition_rates))
        .routes(routes!(routes::timeliness))
        .routes(routes!(routes::trials))
        .routes(routes!(routes::compliance))
        .routes(routes!(routes::board_pack))
}
