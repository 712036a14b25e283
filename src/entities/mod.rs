//! sea-orm entities, kept in step with `migrations/` (the migrations are the source of truth).
pub mod agencies;
pub mod agency_references;
pub mod case_victims;
pub mod cases;
pub mod teams;
pub mod victim_merges;
pub mod victims;
