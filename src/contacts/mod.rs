//! Keeping a victim informed: the contact log, the agreed contact plan, and each victim's
//! schedule of routine updates (next due = last reached update + agreed interval).
mod dto;
mod routes;
pub mod schedule;
pub mod service;

pub use dto::{ContactRecordInput, ContactRecordView, DueItem, DueKind, PlanInput, PlanView};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_contacts, routes::record_contact))
        .routes(routes!(routes::get_plan, routes::put_plan))
        .routes(routes!(routes::due_work))
}
