//! Foundation: teams, agencies, the victim record, cases and their agency references.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    Code,
    Name,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
    Code,
    Name,
    Kind,
    ParentCode,
    LiaisonEmail,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Victims {
    Table,
    Id,
    HubRef,
    MergedIntoId,
    VictimType,
    GivenName,
    FamilyName,
    PreferredName,
    NameKey,
    SearchName,
    DateOfBirth,
    Phone,
    Email,
    AddressLine1,
    AddressLine2,
    AddressTown,
    AddressPostcode,
    PreferredChannel,
    ContactRestrictions,
    Language,
    InterpreterNeeded,
    CommunicationNeeds,
    Ethnicity,
    Sex,
    Disability,
    EnhancedRights,
    EnhancedReasons,
    NeedsAssessedOn,
    NeedsAssessedBy,
    IdentifiedNeeds,
    AssignedCaseworker,
    TeamCode,
    Version,
    CreatedAt,
    CreatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    OffenceGroup,
    OffenceDescription,
    PriorityFlags,
    AreaCode,
    DateReported,
    OffenceDate,
    Relationship,
    LocationType,
    Status,
    ClosedOn,
    Version,
    CreatedAt,
    CreatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CaseVictims {
    Table,
    CaseId,
    VictimId,
    Role,
    LinkedAt,
    LinkedBy,
}

#[derive(DeriveIden)]
enum AgencyReferences {
    Table,
    Id,
    VictimId,
    CaseId,
    AgencyCode,
    RefType,
    Value,
    CreatedAt,
    CreatedBy,
}

#[derive(DeriveIden)]
enum VictimMerges {
    Table,
    Id,
    SurvivorId,
    MergedId,
    Reason,
    MergedAt,
    MergedBy,
}

fn ts(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Teams::Table)
                .col(ColumnDef::new(Teams::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Teams::Code).string_len(40).not_null().unique_key())
                .col(ColumnDef::new(Teams::Name).string_len(200).not_null())
                .col(ColumnDef::new(Teams::Active).boolean().not_null())
                .col(ColumnDef::new(Teams::Version).integer().not_null())
                .col(ts(Teams::CreatedAt))
                .col(ts(Teams::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Agencies::Table)
                .col(ColumnDef::new(Agencies::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Agencies::Code).string_len(32).not_null().unique_key())
                .col(ColumnDef::new(Agencies::Name).string_len(200).not_null())
                .col(ColumnDef::new(Agencies::Kind).string_len(40).not_null())
                .col(ColumnDef::new(Agencies::ParentCode).string_len(32).null())
                .col(ColumnDef::new(Agencies::LiaisonEmail).string_len(254).null())
                .col(ColumnDef::new(Agencies::Active).boolean().not_null())
                .col(ColumnDef::new(Agencies::Version).integer().not_null())
                .col(ts(Agencies::CreatedAt))
                .col(ts(Agencies::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Agencies::Table, Agencies::ParentCode)
                        .to(Agencies::Table, Agencies::Code),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Victims::Table)
                .col(ColumnDef::new(Victims::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Victims::HubRef).string_len(20).not_null().unique_key())
                .col(ColumnDef::new(Victims::MergedIntoId).uuid().null())
                .col(ColumnDef::new(Victims::VictimType).string_len(40).not_null())
                .col(ColumnDef::new(Victims::GivenName).string_len(100).not_null())
                .col(ColumnDef::new(Victims::FamilyName).string_len(100).not_null())
                .col(ColumnDef::new(Victims::PreferredName).string_len(100).null())
                .col(ColumnDef::new(Victims::NameKey).string_len(210).not_null())
                .col(ColumnDef::new(Victims::SearchName).string_len(320).not_null())
                .col(ColumnDef::new(Victims::DateOfBirth).date().null())
                .col(ColumnDef::new(Victims::Phone).string_len(32).null())
                .col(ColumnDef::new(Victims::Email).string_len(254).null())
                .col(ColumnDef::new(Victims::AddressLine1).string_len(200).null())
                .col(ColumnDef::new(Victims::AddressLine2).string_len(200).null())
                .col(ColumnDef::new(Victims::AddressTown).string_len(100).null())
                .col(ColumnDef::new(Victims::AddressPostcode).string_len(12).null())
                .col(ColumnDef::new(Victims::PreferredChannel).string_len(20).null())
                .col(ColumnDef::new(Victims::ContactRestrictions).text().null())
                .col(ColumnDef::new(Victims::Language).string_len(35).null())
                .col(ColumnDef::new(Victims::InterpreterNeeded).boolean().not_null())
                .col(ColumnDef::new(Victims::CommunicationNeeds).text().null())
                .col(ColumnDef::new(Victims::Ethnicity).string_len(60).null())
                .col(ColumnDef::new(Victims::Sex).string_len(20).null())
                .col(ColumnDef::new(Victims::Disability).string_len(20).null())
                .col(ColumnDef::new(Victims::EnhancedRights).boolean().not_null())
                .col(ColumnDef::new(Victims::EnhancedReasons).json_binary().not_null())
                .col(ColumnDef::new(Victims::NeedsAssessedOn).date().null())
                .col(ColumnDef::new(Victims::NeedsAssessedBy).string_len(200).null())
                .col(ColumnDef::new(Victims::IdentifiedNeeds).json_binary().not_null())
                .col(ColumnDef::new(Victims::AssignedCaseworker).string_len(200).null())
                .col(ColumnDef::new(Victims::TeamCode).string_len(40).not_null())
                .col(ColumnDef::new(Victims::Version).integer().not_null())
                .col(ts(Victims::CreatedAt))
                .col(ColumnDef::new(Victims::CreatedBy).string_len(200).not_null())
                .col(ts(Victims::UpdatedAt))
                .foreign_key(
                    ForeignKey::create().from(Victims::Table, Victims::MergedIntoId).to(Victims::Table, Victims::Id),
                )
                .foreign_key(ForeignKey::create().from(Victims::Table, Victims::TeamCode).to(Teams::Table, Teams::Code))
                .to_owned(),
        )
        .await?;
        // Caseload lists page by id within a team; duplicate detection matches name key + date of birth.
        for (name, cols) in [
            ("ix_victims_team", vec![Victims::TeamCode, Victims::Id]),
            ("ix_victims_name_key_dob", vec![Victims::NameKey, Victims::DateOfBirth]),
            ("ix_victims_dob", vec![Victims::DateOfBirth]),
            ("ix_victims_merged_into", vec![Victims::MergedIntoId, Victims::Id]),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Victims::Table);
            for c in cols {
                idx.col(c);
            }
            m.create_index(idx).await?;
        }

        m.create_table(
            Table::create()
                .table(Cases::Table)
                .col(ColumnDef::new(Cases::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Cases::OffenceGroup).string_len(60).not_null())
                .col(ColumnDef::new(Cases::OffenceDescription).string_len(500).null())
                .col(ColumnDef::new(Cases::PriorityFlags).json_binary().not_null())
                .col(ColumnDef::new(Cases::AreaCode).string_len(32).null())
                .col(ColumnDef::new(Cases::DateReported).date().not_null())
                .col(ColumnDef::new(Cases::OffenceDate).date().null())
                .col(ColumnDef::new(Cases::Relationship).string_len(40).null())
                .col(ColumnDef::new(Cases::LocationType).string_len(40).null())
                .col(ColumnDef::new(Cases::Status).string_len(20).not_null())
                .col(ColumnDef::new(Cases::ClosedOn).date().null())
                .col(ColumnDef::new(Cases::Version).integer().not_null())
                .col(ts(Cases::CreatedAt))
                .col(ColumnDef::new(Cases::CreatedBy).string_len(200).not_null())
                .col(ts(Cases::UpdatedAt))
                .foreign_key(
                    ForeignKey::create().from(Cases::Table, Cases::AreaCode).to(Agencies::Table, Agencies::Code),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CaseVictims::Table)
                .col(ColumnDef::new(CaseVictims::CaseId).uuid().not_null())
                .col(ColumnDef::new(CaseVictims::VictimId).uuid().not_null())
                .col(ColumnDef::new(CaseVictims::Role).string_len(40).not_null())
                .col(ts(CaseVictims::LinkedAt))
                .col(ColumnDef::new(CaseVictims::LinkedBy).string_len(200).not_null())
                .primary_key(Index::create().col(CaseVictims::CaseId).col(CaseVictims::VictimId))
                .foreign_key(
                    ForeignKey::create().from(CaseVictims::Table, CaseVictims::CaseId).to(Cases::Table, Cases::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(CaseVictims::Table, CaseVictims::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_case_victims_victim")
                .table(CaseVictims::Table)
                .col(CaseVictims::VictimId)
                .col(CaseVictims::CaseId)
                .to_owned(),
        )
        .await?;

        // One table for victim and case references: a reference value identifies exactly one
        // record in the whole hub, whichever kind it belongs to.
        m.create_table(
            Table::create()
                .table(AgencyReferences::Table)
                .col(ColumnDef::new(AgencyReferences::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(AgencyReferences::VictimId).uuid().null())
                .col(ColumnDef::new(AgencyReferences::CaseId).uuid().null())
                .col(ColumnDef::new(AgencyReferences::AgencyCode).string_len(32).not_null())
                .col(ColumnDef::new(AgencyReferences::RefType).string_len(40).not_null())
                .col(ColumnDef::new(AgencyReferences::Value).string_len(64).not_null())
                .col(ts(AgencyReferences::CreatedAt))
                .col(ColumnDef::new(AgencyReferences::CreatedBy).string_len(200).not_null())
                .check(Expr::cust("(victim_id IS NULL) <> (case_id IS NULL)"))
                .foreign_key(
                    ForeignKey::create()
                        .from(AgencyReferences::Table, AgencyReferences::VictimId)
                        .to(Victims::Table, Victims::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AgencyReferences::Table, AgencyReferences::CaseId)
                        .to(Cases::Table, Cases::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(AgencyReferences::Table, AgencyReferences::AgencyCode)
                        .to(Agencies::Table, Agencies::Code),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_agency_references_value")
                .table(AgencyReferences::Table)
                .col(AgencyReferences::AgencyCode)
                .col(AgencyReferences::RefType)
                .col(AgencyReferences::Value)
                .unique()
                .to_owned(),
        )
        .await?;
        // Owner then id, so a record's references come out in order without sorting.
        for (name, col) in [
            ("ix_agency_references_victim", AgencyReferences::VictimId),
            ("ix_agency_references_case", AgencyReferences::CaseId),
        ] {
            m.create_index(
                Index::create().name(name).table(AgencyReferences::Table).col(col).col(AgencyReferences::Id).to_owned(),
            )
            .await?;
        }

        m.create_table(
            Table::create()
                .table(VictimMerges::Table)
                .col(ColumnDef::new(VictimMerges::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(VictimMerges::SurvivorId).uuid().not_null())
                .col(ColumnDef::new(VictimMerges::MergedId).uuid().not_null().unique_key())
                .col(ColumnDef::new(VictimMerges::Reason).text().not_null())
                .col(ts(VictimMerges::MergedAt))
                .col(ColumnDef::new(VictimMerges::MergedBy).string_len(200).not_null())
                .foreign_key(
                    ForeignKey::create()
                        .from(VictimMerges::Table, VictimMerges::SurvivorId)
                        .to(Victims::Table, Victims::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(VictimMerges::Table, VictimMerges::MergedId)
                        .to(Victims::Table, Victims::Id),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            VictimMerges::Table.into_iden(),
            AgencyReferences::Table.into_iden(),
            CaseVictims::Table.into_iden(),
            Cases::Table.into_iden(),
            Victims::Table.into_iden(),
            Agencies::Table.into_iden(),
            Teams::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
