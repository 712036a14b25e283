//! Who may see and change which victim's data. One place for the rules every area applies
//! object by object (DOMAIN.md §6; issue "Access control"):
//! - caseworkers: their team's victims, read and write;
//! - supervisors: the same, and with a recorded reason any record read-only ("break glass",
//!   flagged for review);
//! - agency liaisons: victims and cases linked to their agency, a minimal view, no changes;
//! - admins: any record read-only, and only with a recorded reason; no changes to victim data;
//! - analysts: no victim records at all (reports only).
//!
//! A record the caller may not see answers 404, so its existence does not leak. Contact details
//! are shown only to the victim's own team.
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use crate::vocab::Role;

/// How the caller sees a record they may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The victim's own team: everything.
    Team,
    /// A supervisor from another team with a recorded reason: no contact details; flagged.
    BreakGlass,
    /// An admin with a recorded reason: no contact details.
    Admin,
    /// A liaison of a linked agency: the minimal view.
    Agency,
}

impl Access {
    /// Whether contact details and restrictions are shown.
    #[must_use]
    pub fn sees_contact(self) -> bool {
        self == Access::Team
    }
}

/// Roles that may read victims' data in some form.
pub const READERS: &[Role] = &[Role::Caseworker, Role::Supervisor, Role::Admin, Role::AgencyLiaison];

fn hidden(what: &str) -> AppError {
    AppError::not_found(format!("no {what}"))
}

/// Refuses, before anything is looked up, callers whose role never reads victim records this way:
/// analysts, and admins who gave no reason.
pub fn may_read_records(user: &Principal) -> AppResult<()> {
    match user.role {
        Role::Analyst => Err(AppError::forbidden("analysts see reports and pseudonymised extracts, not records")),
        Role::Admin if user.meta.reason.is_none() => Err(AppError::forbidden(
            "admins read victim data only with a recorded reason: send it in the X-Access-Reason header",
        )),
        _ => Ok(()),
    }
}

/// Refuses, before anything is looked up, callers whose role never changes victim records.
pub fn may_write_records(user: &Principal) -> AppResult<()> {
    match user.role {
        Role::Caseworker | Role::Supervisor => Ok(()),
        _ => write_access(user, "", "record"),
    }
}

/// How `user` may read a record held by `team`; `agency_linked` says whether it is linked to the
/// caller's agency (only asked of liaisons).
pub fn read_access(user: &Principal, team: &str, agency_linked: bool, what: &str) -> AppResult<Access> {
    let reason = user.meta.reason.is_some();
    match user.role {
        Role::Caseworker | Role::Supervisor if user.team() == Some(team) => Ok(Access::Team),
        Role::Supervisor if reason => Ok(Access::BreakGlass),
        Role::Admin if reason => Ok(Access::Admin),
        Role::Admin => Err(AppError::forbidden(
            "admins read victim data only with a recorded reason: send it in the X-Access-Reason header",
        )),
        Role::AgencyLiaison if agency_linked => Ok(Access::Agency),
        Role::Caseworker | Role::Supervisor | Role::AgencyLiaison => Err(hidden(what)),
        Role::Analyst => Err(AppError::forbidden("analysts see reports and pseudonymised extracts, not records")),
    }
}

/// Whether `user` may change a record held by `team`: only that team's caseworkers and supervisors.
pub fn write_access(user: &Principal, team: &str, what: &str) -> AppResult<()> {
    match user.role {
        Role::Caseworker | Role::Supervisor if user.team() == Some(team) => Ok(()),
        Role::Caseworker | Role::Supervisor => Err(hidden(what)),
        Role::Admin => Err(AppError::forbidden("admins do not change victims' records")),
        Role::AgencyLiaison => Err(AppError::forbidden("agency liaisons do not change victims' records")),
        Role::Analyst => Err(AppError::forbidden("analysts see reports and pseudonymised extracts, not records")),
    }
}
