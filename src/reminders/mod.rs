//! Chasing updates: the due scan (escalations and daily digests queued in the outbox), and the
//! dispatcher that sends them over SMTP exactly once per outbox row, or at worst twice for the one
//! message in flight when a dispatcher dies (SMTP has no idempotency).
pub mod dispatch;
mod dto;
pub mod outbox;
mod routes;
pub mod scan;

pub use dto::{OutboxView, ScanReport};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_outbox))
        .routes(routes!(routes::retry))
        .routes(routes!(routes::run))
}
