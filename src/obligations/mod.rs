//! Victims' Code obligations: deadline rules (admin-editable), the obligations a triggering event
//! creates ("inform the victim of X by D", D in working days on the bank-holiday calendar), and
//! the calendar itself.
mod dto;
pub mod holidays;
mod routes;
pub mod service;

pub use dto::{KeyEventInput, ObligationView, RuleView};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::list_rules, routes::create_rule))
        .routes(routes!(routes::get_rule, routes::patch_rule))
        .routes(routes!(routes::record_key_event))
        .routes(routes!(routes::list_obligations))
        .routes(routes!(routes::list_holidays, routes::replace_holidays))
}
