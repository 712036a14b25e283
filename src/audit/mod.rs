//! The audit trail: every read and change of victim data, every sign-in and every admin change,
//! append-only and hash-chained; who looked at a victim, and proof nobody rewrote the answer.
mod chain;
mod routes;
pub mod service;
mod sink;

pub use chain::{Actor, Break, Event, GENESIS, Verification, append, digest, record, verify};
pub use sink::AuditSink;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::list)).routes(routes!(routes::verify))
}
