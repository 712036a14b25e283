//! The OpenAPI 3.1 document: declared by the handlers, completed here with the error responses
//! every operation shares (so no operation can forget one), and rendered as committed YAML.
use utoipa::openapi::Required;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type};
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
                type_parameters(op);
                add_reason_header(path, method, op);
                add_standard_responses(path, method, op);
            }
        }
    }
    if let Some(components) = doc.components.as_mut() {
        // Each priority flag is listed once (`cases::service`); utoipa's attributes cannot say so.
        if let Some(RefOr::T(Schema::Object(case))) = components.schemas.get_mut("CaseInput")
            && let Some(RefOr::T(Schema::Array(flags))) = case.properties.get_mut("priority_flags")
        {
            flags.unique_items = true;
        }
        if let Some(RefOr::T(Schema::Object(reference))) = components.schemas.get("NewAgencyReference") {
            let by_type = reference_by_type(reference);
            components.schemas.insert("NewAgencyReference".to_owned(), by_type);
        }
    }
    doc
}

/// A hub reference as the service accepts it: `VCH`, then eleven Crockford base32 symbols in any
/// case (O reads as 0, I and L as 1), spaces or hyphens between groups. The eleventh symbol is a
/// check symbol, which no pattern can express: a reference that fails it is answered 400 (or 422
/// in a body) as mistyped.
pub const HUB_REF_PATTERN: &str = "^[Vv][Cc][Hh][- ]*(?:[0-9A-TV-Za-tv-z][- ]*){11}$";

/// The schema of a hub reference (`#[schema(schema_with = hub_ref_schema)]` on input fields).
#[must_use]
pub fn hub_ref_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("hub-ref".into())))
        .pattern(Some(HUB_REF_PATTERN))
        .description(Some("A hub reference such as VCH-01234567890 (its last symbol is a check symbol)"))
        .build()
}

/// Path and query parameters every area names the same way get their precise schema here:
/// `ref` (and a `hub_ref` or `victim` query) is a hub reference, `id` and `ref_id` are UUIDs,
/// `If-Match` an entity tag.
/// Filtering by a victim the caller may not see is answered 404.
fn type_parameters(op: &mut Operation) {
    let mut by_victim = false;
    for param in op.parameters.iter_mut().flatten() {
        let RefOr::T(param) = param else { continue };
        let name = param.name.as_str();
        match (&param.parameter_in, name) {
            (ParameterIn::Path, "ref") => param.schema = Some(hub_ref_schema().into()),
            (ParameterIn::Query, "hub_ref" | "victim") => {
                param.schema = Some(hub_ref_schema().into());
                by_victim = true;
            }
            // An entity tag (RFC 9110 §8.8.3); `*` is refused (428) as it would defeat the check.
            (ParameterIn::Header, "If-Match") => {
                param.schema =
                    Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some("^(W/)?\"[^\"]*\"$")).into());
            }
            (ParameterIn::Path, "id" | "ref_id") => {
                param.schema = Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                        .into(),
                );
            }
            _ => {}
        }
    }
    if by_victim {
        op.responses
            .responses
            .entry("404".to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name("NotFound")));
    }
}

/// An agency reference's value format depends on its type (`agencies::references::normalise_value`):
/// one schema per kind of type, so a value is described exactly. ASCII spaces are dropped and
/// letters taken in either case before the check.
fn reference_by_type(reference: &Object) -> RefOr<Schema> {
    const WS: &str = "[ \\t\\n\\f\\r]*";
    let sym = |class: &str, n: &str| format!("(?:{class}{WS}){{{n}}}");
    let urn = format!("^{WS}{}{}{}$", sym("[0-9]", "2"), sym("[A-Za-z0-9]", "2"), sym("[0-9]", "7"));
    let ccrn = format!(
        "^{WS}{}/{WS}{}/{WS}{}[A-HJ-NP-RT-Za-hj-np-rt-z]{WS}$",
        sym("[0-9]", "2"),
        sym("[0-9]", "4"),
        sym("[0-9]", "6")
    );
    let generic = format!("^{WS}[A-Za-z0-9]{WS}{}$", sym("[A-Za-z0-9/._-]", "0,63"));
    let generic_types = [
        "crime_reference",
        "court_case_number",
        "incident_number",
        "witness_care_reference",
        "probation_reference",
        "support_service_reference",
        "other",
    ];
    let variant = |types: &[&str], pattern: String| {
        let mut obj = reference.clone();
        obj.properties.insert(
            "type".to_owned(),
            ObjectBuilder::new().schema_type(Type::String).enum_values(Some(types.iter().copied())).into(),
        );
        if let Some(RefOr::T(Schema::Object(value))) = obj.properties.get_mut("value") {
            // The pattern bounds the symbols; spaces around and between them are dropped, so the
            // raw text has no length limit of its own.
            value.pattern = Some(pattern);
            value.min_length = None;
            value.max_length = None;
        }
        obj.example = None;
        obj.examples = Vec::new();
        obj
    };
    let mut one_of = OneOfBuilder::new()
        .item(variant(&["cps_urn"], urn))
        .item(variant(&["ccrn"], ccrn))
        .item(variant(&generic_types, generic))
        .description(reference.description.clone())
        .build();
    one_of.examples = reference.example.clone().into_iter().chain(reference.examples.clone()).collect();
    RefOr::T(Schema::OneOf(one_of))
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
            "Why you open this record: required of admins; lets a supervisor open another team's record (flagged for review). Recorded in the audit trail (its first 500 characters).",
        ))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
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
