//! Withdrawal as a first-class record: reasons, evidence, whether the hub confirmed it with the
//! victim, a supervisor's review; and flags on "victim does not support" outcomes nobody evidenced.
mod dto;
mod routes;
pub mod service;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list, routes::create))
        .routes(routes!(routes::review))
        .routes(routes!(routes::flags))
}
