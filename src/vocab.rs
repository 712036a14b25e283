//! Controlled vocabularies the hub records (DOMAIN.md §1, §4): one enum serves the API, the
//! OpenAPI schema and the database column, stored as its snake_case name.
use sea_orm::sea_query::StringLen;

/// Declares a vocabulary enum stored and sent as snake_case text.
macro_rules! vocab {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            sea_orm::EnumIter, sea_orm::DeriveActiveEnum,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)", rename_all = "snake_case")]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The stored and serialised name.
            #[must_use]
            pub fn as_str(self) -> String {
                sea_orm::ActiveEnum::to_value(&self)
            }
        }
    };
}

vocab! {
    /// Who the person is in Victims' Code terms (DOMAIN.md §1).
    VictimType {
        Direct,
        BereavedCloseRelative,
        ParentGuardianOfChild,
        NominatedFamilySpokesperson,
        /// A named point of contact for a business (businesses are not victims under the Code).
        BusinessContact,
    }
}

vocab! {
    /// How a victim is contacted, or was contacted.
    Channel { Phone, Email, Letter, Sms, Visit, InPerson, Video }
}

vocab! {
    /// Self-defined ethnicity: the 19 ONS 2021 categories plus not stated (DOMAIN.md §4.1). Never inferred.
    Ethnicity {
        /// White: English, Welsh, Scottish, Northern Irish or British
        WhiteBritish,
        WhiteIrish,
        WhiteGypsyOrIrishTraveller,
        WhiteRoma,
        WhiteOther,
        MixedWhiteAndBlackCaribbean,
        MixedWhiteAndBlackAfrican,
        MixedWhiteAndAsian,
        MixedOther,
        AsianIndian,
        AsianPakistani,
        AsianBangladeshi,
        AsianChinese,
        AsianOther,
        BlackCaribbean,
        BlackAfrican,
        BlackOther,
        OtherArab,
        OtherAny,
        NotStated,
    }
}

vocab! {
    /// Sex as recorded (separate from gender identity).
    Sex { Female, Male, NotStated }
}

vocab! {
    /// Self-declared disability (Equality Act definition); separate from vulnerability.
    Disability { Yes, No, NotStated }
}

vocab! {
    /// Why a victim has enhanced rights under the Victims' Code (DOMAIN.md §1.2).
    EnhancedReason {
        MostSeriousCrime,
        PersistentlyTargeted,
        Vulnerable,
        Intimidated,
        #[serde(rename = "under_18")]
        #[sea_orm(string_value = "under_18")]
        Under18,
        Bereaved,
    }
}

vocab! {
    /// Kinds of agency the hub links to.
    AgencyKind { PoliceForce, PoliceBcu, CpsArea, Court, WitnessCareUnit, Probation, SupportService, Other }
}

vocab! {
    /// Kinds of reference an agency gives a victim or case (DOMAIN.md §5).
    RefType {
        CrimeReference,
        /// The 11-character URN shared by police, CPS and HMCTS.
        CpsUrn,
        CourtCaseNumber,
        /// Court Case Reference Number, `YY/CCCC/NNNNNNC`.
        Ccrn,
        IncidentNumber,
        WitnessCareReference,
        ProbationReference,
        SupportServiceReference,
        Other,
    }
}

vocab! {
    /// Home Office offence groups and sub-groups used for reporting.
    OffenceGroup {
        Homicide,
        ViolenceWithInjury,
        ViolenceWithoutInjury,
        StalkingAndHarassment,
        DeathOrSeriousInjuryByUnlawfulDriving,
        Rape,
        OtherSexualOffences,
        Robbery,
        Burglary,
        VehicleOffences,
        TheftFromThePerson,
        BicycleTheft,
        Shoplifting,
        OtherTheft,
        CriminalDamage,
        Arson,
        DrugOffences,
        PossessionOfWeapons,
        PublicOrderOffences,
        MiscellaneousCrimesAgainstSociety,
        Fraud,
    }
}

vocab! {
    /// Priority and crime-type flags on a case (DOMAIN.md §4.3).
    PriorityFlag {
        DomesticAbuse,
        Rape,
        SeriousSexualOffence,
        Vawg,
        HateCrime,
        Stalking,
        Harassment,
        ChildAbuse,
        ModernSlaveryTrafficking,
        HonourBasedAbuse,
        HomicideBereaved,
        Terrorism,
        AsbPersistent,
    }
}

vocab! {
    /// Victim–suspect relationship (Home Office Homicide Index categories, DOMAIN.md §4.2).
    Relationship {
        PartnerExPartner,
        Parent,
        SonDaughter,
        OtherFamily,
        FriendAcquaintance,
        Stranger,
        Other,
        NotKnown,
        NoSuspect,
    }
}

vocab! {
    /// Where the offence happened.
    LocationType {
        PrivateResidence,
        Hotel,
        PublicStreet,
        PublicTransport,
        LicensedPremises,
        Workplace,
        Education,
        Online,
        Other,
        NotKnown,
    }
}

vocab! {
    /// Whether a case is still open with the hub.
    CaseStatus { Open, Closed }
}

vocab! {
    /// The part a person plays in a case.
    CaseRole { Victim, BereavedRelative, Representative, Witness }
}

vocab! {
    /// Roles a caller can hold (claim `role`).
    Role { Caseworker, Supervisor, AgencyLiaison, Analyst, Admin }
}

vocab! {
    /// What an audited action did (DPA 2018 s.62 logging: collection, alteration, consultation,
    /// disclosure, combination, erasure; plus sign-in and administration).
    AuditAction {
        Create,
        Read,
        Update,
        Delete,
        Merge,
        Export,
        Anonymise,
        SignIn,
        SignOut,
        Refresh,
        Admin,
    }
}

vocab! {
    /// How an audited action ended.
    AuditOutcome { Success, Failure }
}

vocab! {
    /// Who started a contact.
    ContactDirection { Outbound, Inbound }
}

vocab! {
    /// How a contact or attempt ended. Only `reached` counts as an update.
    ContactOutcome { Reached, AttemptedNoAnswer, LeftMessage, UnsafeToContact }
}

vocab! {
    /// What a contact was for.
    ContactKind { RoutineUpdate, KeyDecision, NeedsReview, Other }
}

vocab! {
    /// Whether routine updates are being chased for a victim.
    ContactState {
        Active,
        /// Contact is unsafe; suspended until a review date.
        Suspended,
        /// The victim opted out of routine updates.
        OptedOut,
        /// Every case the victim is on is closed (or the record was merged or anonymised).
        Closed,
    }
}

vocab! {
    /// Where a victim's next routine update stands today.
    UpdateStatus { OnTrack, DueSoon, Overdue, Suspended, OptedOut, Closed }
}

vocab! {
    /// A Victims' Code obligation to inform the victim.
    ObligationStatus {
        Open,
        /// A reached contact discharged it (on time or late).
        Discharged,
        /// Not owed: the victim opted out of these updates.
        Waived,
        /// The triggering event was retracted.
        Cancelled,
    }
}

vocab! {
    /// When a deadline's clock starts: at the event, or when the responsible agency received it.
    ClockStarts { Event, Receipt }
}

vocab! {
    /// Where a notification is in the outbox.
    OutboxStatus {
        Pending,
        /// Claimed by a dispatcher until its lease runs out.
        Sending,
        Sent,
        /// Parked after too many attempts or a permanent refusal; an admin can retry it.
        Failed,
    }
}

vocab! {
    /// Where an agency event stands.
    EventStatus {
        /// Attached to a case and counted in its journeys.
        Linked,
        /// Matched no case: waiting in the linkage queue.
        Unlinked,
        /// Withdrawn by its agency.
        Retracted,
        /// Replaced by a corrected event.
        Superseded,
    }
}

vocab! {
    /// Why a victim withdrew support (themes from the MOPAC attrition review; DOMAIN.md §3.1).
    WithdrawalReason {
        FearOfSuspectOrReprisal,
        PressureOrCoercion,
        LackOfUpdates,
        Delay,
        NotBelievedOrPoorlyTreated,
        IntrusiveRequestsForPersonalData,
        ReconciledWithSuspect,
        WantedItOnRecordOnly,
        PracticalBarriers,
        Wellbeing,
        SupportNotInPlace,
        Other,
    }
}

vocab! {
    /// What shows the victim withdrew.
    EvidenceType { WithdrawalStatement, BodyWornVideo, RecordedCall, EmailOrLetterFromVictim }
}

vocab! {
    /// A supervisor's review of a withdrawal record.
    WithdrawalStatus { Pending, Approved, Rejected }
}

vocab! {
    /// How bad a service problem is; sets its target date.
    Severity { Critical, High, Medium, Low }
}

vocab! {
    /// Where a service issue is in its workflow.
    IssueStatus { Open, InProgress, Escalated, Resolved, Closed }
}

vocab! {
    /// How a service issue ended.
    IssueOutcome { Resolved, PartlyResolved, NotResolved }
}

vocab! {
    /// Who raised a service issue.
    RaisedBy { Victim, Caseworker, Agency, Automatic }
}

vocab! {
    /// What an action on a service issue was.
    IssueActionKind { Note, ContactMade, AgencyChased }
}
