//! Database schema for Care Hub. Migrations are the source of truth and never edited once merged.
pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_access_audit;
mod m20261122_000003_contact;
mod m20261122_000004_journeys;
mod m20261122_000005_service_recovery;
mod m20261122_000006_due_scan_index;
mod m20261123_000007_unlinked_events_index;
mod m20261123_000008_journey_report_fields;
mod m20261124_000009_outbox_attachment;
mod m20261124_000010_journey_flow_index;
mod m20261124_000011_withdrawal_flags_victim_index;
mod m20261202_000012_journey_changes;
mod m20261202_000013_trial_reasons;
mod m20261202_000014_victim_changes;
mod m20261203_000015_change_log_keys;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_access_audit::Migration),
            Box::new(m20261122_000003_contact::Migration),
            Box::new(m20261122_000004_journeys::Migration),
            Box::new(m20261122_000005_service_recovery::Migration),
            Box::new(m20261122_000006_due_scan_index::Migration),
            Box::new(m20261123_000007_unlinked_events_index::Migration),
            Box::new(m20261123_000008_journey_report_fields::Migration),
            Box::new(m20261124_000009_outbox_attachment::Migration),
            Box::new(m20261124_000010_journey_flow_index::Migration),
            Box::new(m20261124_000011_withdrawal_flags_victim_index::Migration),
            Box::new(m20261202_000012_journey_changes::Migration),
            Box::new(m20261202_000013_trial_reasons::Migration),
            Box::new(m20261202_000014_victim_changes::Migration),
            Box::new(m20261203_000015_change_log_keys::Migration),
        ]
    }
}
