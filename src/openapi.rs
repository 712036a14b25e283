//! The OpenAPI 3.1 document: declared by the handlers, completed here with the error responses
//! every operation shares (so no operation can forget one), and rendered as committed YAML.
use utoipa::openapi::Required;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::error::{PROBLEM_JSON, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Care Hub API",
        description = "One record per victim of crime across police, CPS, courts, witness care, probation and \
support services. Errors are RFC 9457 problem documents; updates need If-Match; lists are cursor-paginated.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "victims", description = "The single victim record and its agency references"),
        (name = "cases", description = "Cases (crimes) and the victims they involve"),
        (name = "agencies", description = "Agencies as reference data"),
        (name = "teams", description = "Caseworker teams"),
        (name = "auth", description = "Sign-in, tokens and the caller's own account"),
        (name = "users", description = "User administration"),
        (name = "audit", description = "The append-only, hash-chained audit trail"),
        (name = "retention", description = "Retention policies, legal hold and anonymisation"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The error responses, by status, with when each applies.
const STANDARD_RESPONSES: &[(&str, &str, &str)] = &[
    ("400", "BadRequest", "Malformed JSON, or a path or query parameter that does not parse"),
    ("401", "Unauthorized", "Missing, invalid or expired bearer token"),
    ("403", "Forbidden", "The caller's role may not do this"),
    ("404", "NotFound", "No such resource, or not one the caller may see"),
    ("409", "Conflict", "The change conflicts with the current state (see `code`)"),
    ("412", "PreconditionFailed", "If-Match does not match the current version"),
    ("413", "PayloadTooLarge", "The body exceeds the configured size limit"),
    ("415", "UnsupportedMediaType", "The body is not JSON"),
    ("422", "ValidationFailed", "Fields are invalid; `errors` lists each with a JSON Pointer"),
    ("428", "PreconditionRequired", "If-Match is required for this change"),
    ("429", "TooManyRequests", "The token's request limit is used up; see Retry-After"),
    ("503", "Unavailable", "The database is unreachable or the request timed out; retry later"),
];

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
        .build()
}

/// The complete document: handlers' declarations plus shared error responses.
#[must_use]
pub fn finish(mut doc: OpenApiDoc) -> OpenApiDoc {
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, description) in STANDARD_RESPONSES {
        components.responses.insert((*name).to_owned(), RefOr::T(problem_response(description)));
    }
    for (path, item) in &mut doc.paths.paths {
        let ops = [
            (&mut item.get, "get"),
            (&mut item.put, "put"),
            (&mut item.post, "post"),
            (&mut item.patch, "patch"),
            (&mut item.delete, "delete"),
        ];
        for (op, method) in ops {
            if let Some(op) = op.as_mut() {
                add_reason_header(path, method, op);
                add_standard_responses(path, method, op);
            }
        }
    }
    doc
}

/// Reads of victim data take an optional reason: required of admins, and what lets a supervisor
/// open another team's record.
fn add_reason_header(path: &str, method: &str, op: &mut Operation) {
    let victim_data =
        path.starts_with("/api/v1/victims") || path.starts_with("/api/v1/cases") || path == "/api/v1/audit";
    if method != "get" || !victim_data {
        return;
    }
    let param = ParameterBuilder::new()
        .name("X-Access-Reason")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Why you open this record: required of admins; lets a supervisor open another team's record (flagged for review). Recorded in the audit trail.",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(500))))
        .build();
    op.parameters.get_or_insert_with(Vec::new).push(RefOr::T(param));
}

fn add_standard_responses(path: &str, method: &str, op: &mut Operation) {
    let api = path.starts_with("/api/");
    let params = op.parameters.as_deref().unwrap_or(&[]);
    let has = |place: ParameterIn| params.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place));
    let mut statuses: Vec<&str> = Vec::new();
    if api {
        statuses.extend(["401", "403", "429", "503"]);
    }
    if has(ParameterIn::Path) {
        statuses.extend(["400", "404"]);
    }
    if has(ParameterIn::Query) {
        statuses.push("400");
    }
    if op.request_body.is_some() {
        statuses.extend(["400", "413", "415", "422"]);
    }
    if method == "patch" || method == "put" {
        statuses.extend(["412", "428"]);
    }
    for status in statuses {
        let name = STANDARD_RESPONSES.iter().find(|(s, _, _)| *s == status).map(|(_, n, _)| *n).expect("listed");
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

/// The schema of a JSON merge patch of `input`: the same fields, none required, minus `exclude`.
#[must_use]
pub fn merge_patch_schema(input: RefOr<Schema>, exclude: &[&str], example: serde_json::Value) -> RefOr<Schema> {
    match input {
        RefOr::T(Schema::Object(mut obj)) => {
            obj.required.clear();
            for field in exclude {
                obj.properties.shift_remove(*field);
            }
            obj.description =
                Some("A JSON merge patch (RFC 7396): only the fields to change; null clears a field.".into());
            obj.example = None;
            obj.examples = vec![example];
            RefOr::T(Schema::Object(obj))
        }
        other => other,
    }
}

/// The committed form of the document (`api-spec/openapi.yaml`).
pub fn to_yaml(doc: &OpenApiDoc) -> anyhow::Result<String> {
    Ok(doc.to_yaml()?)
}
