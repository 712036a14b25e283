//! Service recovery: issue categories, service issues with owners and SLA targets, and each
//! issue's action log.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IssueCategories {
    Table,
    Code,
    Name,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ServiceIssues {
    Table,
    Id,
    VictimId,
    CaseId,
    TeamCode,
    Category,
    Description,
    RaisedByKind,
    RaisedBy,
    OwnerAgency,
    OwnerPerson,
    Severity,
    WithdrawalRisk,
    CodeRight,
    OpenedAt,
    TargetOn,
    Status,
    ResolutionOutcome,
    VictimStayedEngaged,
    ComplaintReference,
    ComplaintAckDue,
    SourceKey,
    EscalatedAt,
    ResolvedAt,
    ClosedAt,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ServiceIssueActions {
    Table,
    Id,
    IssueId,
    Kind,
    Note,
    FromStatus,
    ToStatus,
    At,
    By,
}

#[derive(DeriveIden)]
enum Victims {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
}

const CATEGORIES: &[(&str, &str)] = &[
    ("no_update", "No update"),
    ("wrong_or_changed_information", "Wrong or changed information (e.g. trial date)"),
    ("case_status_misinformation", "Case status misinformation"),
    ("interpreter_or_communication_need_not_met", "Interpreter or communication need not met"),
    ("needs_assessment_or_special_measures_not_done", "Needs assessment or special measures not done"),
    ("support_referral_not_made", "Support referral not made"),
    ("safety_concern", "Safety concern"),
    ("property_or_expenses", "Property or expenses"),
    ("poor_treatment_or_disbelief", "Poor treatment or disbelief"),
    ("court_date_changed_or_trial_ineffective", "Court date changed or trial ineffective"),
    ("victims_code_deadline_missed", "Victims' Code deadline missed"),
    ("other", "Other"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(IssueCategories::Table)
                .col(ColumnDef::new(IssueCategories::Code).string_len(60).not_null().primary_key())
                .col(ColumnDef::new(IssueCategories::Name).string_len(200).not_null())
                .col(ColumnDef::new(IssueCategories::Active).boolean().not_null())
                .col(ColumnDef::new(IssueCategories::CreatedAt).timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
        for (code, name) in CATEGORIES {
            m.exec_stmt(
                Query::insert()
                    .into_table(IssueCategories::Table)
                    .columns([
                        IssueCategories::Code,
                        IssueCategories::Name,
                        IssueCategories::Active,
                        IssueCategories::CreatedAt,
                    ])
                    .values_panic([
                        (*code).into(),
                        (*name).into(),
                        true.into(),
                        Expr::cust("'2026-11-22T00:00:00+00:00'"),
                    ])
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(ServiceIssues::Table)
                .col(ColumnDef::new(ServiceIssues::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(ServiceIssues::VictimId).uuid().not_null())
                .col(ColumnDef::new(ServiceIssues::CaseId).uuid().null())
                .col(ColumnDef::new(ServiceIssues::TeamCode).string_len(40).not_null())
                .col(ColumnDef::new(ServiceIssues::Category).string_len(60).not_null())
                .col(ColumnDef::new(ServiceIssues::Description).text().not_null())
                .col(ColumnDef::new(ServiceIssues::RaisedByKind).string_len(20).not_null())
                .col(ColumnDef::new(ServiceIssues::RaisedBy).string_len(254).not_null())
                .col(ColumnDef::new(ServiceIssues::OwnerAgency).string_len(32).null())
                .col(ColumnDef::new(ServiceIssues::OwnerPerson).string_len(200).null())
                .col(ColumnDef::new(ServiceIssues::Severity).string_len(20).not_null())
                .col(ColumnDef::new(ServiceIssues::WithdrawalRisk).boolean().not_null())
                .col(ColumnDef::new(ServiceIssues::CodeRight).integer().null())
                .col(ColumnDef::new(ServiceIssues::OpenedAt).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(ServiceIssues::TargetOn).date().not_null())
                .col(ColumnDef::new(ServiceIssues::Status).string_len(20).not_null())
                .col(ColumnDef::new(ServiceIssues::ResolutionOutcome).string_len(20).null())
                .col(ColumnDef::new(ServiceIssues::VictimStayedEngaged).boolean().null())
                .col(ColumnDef::new(ServiceIssues::ComplaintReference).string_len(100).null())
                .col(ColumnDef::new(ServiceIssues::ComplaintAckDue).date().null())
                .col(ColumnDef::new(ServiceIssues::SourceKey).string_len(200).null().unique_key())
                .col(ColumnDef::new(ServiceIssues::EscalatedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(ServiceIssues::ResolvedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(ServiceIssues::ClosedAt).timestamp_with_time_zone().null())
                .col(ColumnDef::new(ServiceIssues::Version).integer().not_null())
                .col(ColumnDef::new(ServiceIssues::UpdatedAt).timestamp_with_time_zone().not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(ServiceIssues::Table, ServiceIssues::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .foreign_key(
                    ForeignKey::create().from(ServiceIssues::Table, ServiceIssues::CaseId).to(Cases::Table, Cases::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(ServiceIssues::Table, ServiceIssues::Category)
                        .to(IssueCategories::Table, IssueCategories::Code),
                )
                .to_owned(),
        )
        .await?;
        for (name, cols) in [
            ("ix_service_issues_status", vec![ServiceIssues::Status, ServiceIssues::TargetOn]),
            ("ix_service_issues_team", vec![ServiceIssues::TeamCode, ServiceIssues::Status]),
            ("ix_service_issues_victim", vec![ServiceIssues::VictimId]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(ServiceIssues::Table);
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }
        m.create_table(
            Table::create()
                .table(ServiceIssueActions::Table)
                .col(ColumnDef::new(ServiceIssueActions::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(ServiceIssueActions::IssueId).uuid().not_null())
                .col(ColumnDef::new(ServiceIssueActions::Kind).string_len(30).not_null())
                .col(ColumnDef::new(ServiceIssueActions::Note).text().null())
                .col(ColumnDef::new(ServiceIssueActions::FromStatus).string_len(20).null())
                .col(ColumnDef::new(ServiceIssueActions::ToStatus).string_len(20).null())
                .col(ColumnDef::new(ServiceIssueActions::At).timestamp_with_time_zone().not_null())
                .col(ColumnDef::new(ServiceIssueActions::By).string_len(254).not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(ServiceIssueActions::Table, ServiceIssueActions::IssueId)
                        .to(ServiceIssues::Table, ServiceIssues::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_service_issue_actions_issue")
                .table(ServiceIssueActions::Table)
                .col(ServiceIssueActions::IssueId)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ServiceIssueActions::Table.into_iden(),
            ServiceIssues::Table.into_iden(),
            IssueCategories::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
