//! Request and response shapes for users.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::entities::users;
use crate::error::REDACTED;
use crate::vocab::Role;

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "email": "sam.caseworker@hub.example",
    "name": "Sam Caseworker",
    "role": "caseworker",
    "team": "east-hub",
    "password": "correct horse battery staple"
}))]
pub struct UserInput {
    #[schema(pattern = r"^\s*[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\s*$", max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub role: Role,
    /// Team code: required for caseworkers and supervisors.
    #[schema(pattern = r"^\s*[A-Za-z0-9][A-Za-z0-9-]{1,39}\s*$")]
    pub team: Option<String>,
    /// Agency code: required for agency liaisons.
    pub agency: Option<String>,
    /// Only when creating: an initial password (12 to 128 characters). Without one the user
    /// cannot sign in until one is set.
    #[serde(skip_serializing)]
    #[schema(write_only, min_length = 12, max_length = 128)]
    pub password: Option<String>,
    /// False disables the user: sign-in is refused and their refresh tokens are revoked.
    pub active: Option<bool>,
}

pub struct UserPatch;

impl utoipa::__dev::ComposeSchema for UserPatch {
    fn compose(
        _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::merge_patch_schema(
            UserInput::schema(),
            &["password"],
            serde_json::json!({"role": "supervisor"}),
        )
    }
}

impl ToSchema for UserPatch {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <UserInput as ToSchema>::schemas(schemas);
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub team: Option<String>,
    pub agency: Option<String>,
    pub active: bool,
    /// Whether a password is set (sign-in with the built-in issuer).
    pub has_password: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<users::Model> for UserView {
    fn from(m: users::Model) -> Self {
        UserView {
            id: m.id,
            email: m.email,
            name: m.name,
            role: m.role,
            team: m.team_code,
            agency: m.agency_code,
            active: m.active,
            has_password: m.password_hash.is_some(),
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
            last_login_at: m.last_login_at,
        }
    }
}

impl From<&users::Model> for UserInput {
    fn from(m: &users::Model) -> Self {
        UserInput {
            email: m.email.clone(),
            name: m.name.clone(),
            role: m.role,
            team: m.team_code.clone(),
            agency: m.agency_code.clone(),
            password: None,
            active: Some(m.active),
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListParams {
    pub role: Option<Role>,
    pub team: Option<String>,
    pub active: Option<bool>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// A new password set by an admin (`POST /users/{id}/password`).
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "a new passphrase of four words"}))]
pub struct NewPassword {
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
}

// Passwords never appear in Debug output, so a stray `?value` in a log cannot leak them.
impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewPassword").field("password", &REDACTED).finish()
    }
}

impl std::fmt::Debug for UserInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserInput")
            .field("email", &self.email)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("team", &self.team)
            .field("agency", &self.agency)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .field("active", &self.active)
            .finish()
    }
}
