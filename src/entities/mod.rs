//! sea-orm entities, kept in step with `migrations/` (the migrations are the source of truth).
pub mod agencies;
pub mod agency_references;
pub mod audit_events;
pub mod audit_head;
pub mod case_victims;
pub mod cases;
pub mod login_throttle;
pub mod refresh_tokens;
pub mod retention_policies;
pub mod teams;
pub mod users;
pub mod victim_merges;
pub mod victims;
