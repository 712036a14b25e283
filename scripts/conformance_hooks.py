"""schemathesis hooks for scripts/conformance.sh.

The spec says what JSON Schema can say. A few rules of the API it cannot: a hub reference's check
symbol, a cursor being one the service issued, `from` not after `to`, an agency reference's format
depending on its type in a query, text fields being trimmed and free of control characters, and
codes that must name existing reference data. Positive test cases (data the fuzzer claims is
valid) are made to follow those rules here, so that "valid data was refused" means a real mismatch
between the spec and the service. Negative cases are left alone: the service must refuse them.
Each rule below names the code that enforces it.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import random
import re
import urllib.request

import schemathesis
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

# src/victims/hub_ref.rs: Crockford base32, Damm check symbol over GF(32).
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _times2(x: int) -> int:
    y = x << 1
    return y if y & 0x20 == 0 else (y ^ 0x25) & 0x1F


def hub_ref(digits: list[int]) -> str:
    check = 0
    for d in digits:
        check = _times2(check) ^ d
    return "VCH-" + "".join(ALPHABET[d] for d in digits) + ALPHABET[_times2(check)]


def _api(path: str, role: str) -> dict:
    base = os.environ["CONFORMANCE_URL"]
    token = json.loads(os.environ["CONFORMANCE_TOKENS"])[role]
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


# Reference data and records that exist when the run starts, so valid inputs can name them.
_existing: dict[str, list[str]] = {}


def existing(kind: str) -> list[str]:
    if kind not in _existing:
        if kind == "hub_refs":
            values = [
                v["hub_ref"]
                for role in ("caseworker-a", "caseworker-b")
                for v in _api("/api/v1/victims?limit=20", role)["items"]
            ]
        elif kind == "agencies":
            values = [a["code"] for a in _api("/api/v1/agencies?limit=200", "admin")["items"]]
        elif kind == "categories":
            values = [c["code"] for c in _api("/api/v1/service-issue-categories", "caseworker-a")]
        elif kind == "triggers":
            values = sorted({r["trigger_event"] for r in _api("/api/v1/obligation-rules", "admin") if r["active"]})
        else:
            raise KeyError(kind)
        _existing[kind] = values
    return _existing[kind]


# A well-formed hub reference: most name nobody (404), some name a record that exists.
schemathesis.openapi.format(
    "hub-ref",
    st.one_of(
        st.lists(st.integers(0, 31), min_size=10, max_size=10).map(hub_ref),
        st.integers(0, 10_000).map(lambda i: existing("hub_refs")[i % len(existing("hub_refs"))]),
    ),
)

# src/validate.rs check_text: control characters other than tab and newline are refused; text that
# is blank once trimmed is absent, and refused where the field is required.
_CONTROL = {chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]} - {"\t", "\n"}


def _clean_text(value: object) -> object:
    if isinstance(value, str):
        cleaned = "".join(c for c in value if c not in _CONTROL)
        return cleaned if cleaned.strip() else "x" + cleaned
    if isinstance(value, list):
        return [_clean_text(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean_text(v) for k, v in value.items()}
    return value


def _instant(value: str) -> datetime.datetime | None:
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


# src/agencies/references.rs normalise_value, for a `type` and `value` given side by side.
def _reference_value(ref_type: str) -> str:
    digits = lambda n: "".join(random.choice("0123456789") for _ in range(n))  # noqa: E731
    if ref_type == "cps_urn":
        return digits(2) + "AB" + digits(7)
    if ref_type == "ccrn":
        return f"{digits(2)}/{digits(4)}/{digits(6)}R"
    return "REF-" + digits(6)


# Fields naming a time that has happened, which the service refuses in the future
# (`validate::Checks::not_future` and the journey rules).
_PAST = {"date_reported", "offence_date", "occurred_at", "received_at", "withdrawn_on", "assessed_on", "date_of_birth", "on"}
# Pairs the service keeps in order: (earlier, later).
_ORDERED = [("offence_date", "date_reported"), ("occurred_at", "received_at")]
# Fields naming another record, which must exist (422 naming the field otherwise, as a foreign key).
_HUB_REF_FIELDS = {"victim", "hub_ref", "duplicate"}
_AGENCY_FIELDS = {"agency", "owner_agency", "source_agency", "urn_agency", "parent"}


def _fix_body(value: object, today: datetime.date) -> object:
    if isinstance(value, list):
        return [_fix_body(v, today) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _fix_body(v, today) for k, v in value.items()}
    for key, v in out.items():
        if key in _PAST and isinstance(v, str):
            moment = _instant(v)
            if moment is not None and moment.date() > today:
                out[key] = v.replace(v[:4], str(today.year - 1), 1) if len(v) >= 4 else v
        if key in _HUB_REF_FIELDS and isinstance(v, str):
            out[key] = random.choice(existing("hub_refs"))
        if key in _AGENCY_FIELDS and isinstance(v, str):
            out[key] = random.choice(existing("agencies"))
        if key == "area" and isinstance(v, str):
            out[key] = random.choice([a for a in existing("agencies") if "POLICE" in a])
    for earlier, later in _ORDERED:
        a, b = out.get(earlier), out.get(later)
        if isinstance(a, str) and isinstance(b, str):
            ta, tb = _instant(a), _instant(b)
            if ta and tb and ta > tb:
                out[earlier], out[later] = b, a
    # src/obligations/service.rs: enhanced rights never allow longer than the standard.
    std, enh = out.get("working_days_standard"), out.get("working_days_enhanced")
    if isinstance(std, int) and isinstance(enh, int) and enh > std:
        out["working_days_enhanced"] = std
    return out


def _cursor_ok(value: object, size: int) -> bool:
    if not isinstance(value, str):
        return False
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return False
    return len(raw) == size and base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == value


@schemathesis.hook
def map_case(context, case):
    # Examples from the spec are positive cases too.
    meta = case.meta
    if meta is not None and meta.generation.mode != GenerationMode.POSITIVE:
        return case
    path = case.operation.path
    query = case.query if isinstance(case.query, dict) else None
    if query:
        # src/http.rs PageParams: a cursor is `next_cursor` of an earlier page (16 bytes, or 8
        # for the audit trail's sequence numbers); an arbitrary string is refused.
        size = 8 if path == "/api/v1/audit" else 16
        if "cursor" in query and not _cursor_ok(query["cursor"], size):
            query["cursor"] = base64.urlsafe_b64encode(random.randbytes(size)).rstrip(b"=").decode()
        # Reports and the audit trail: `from` must not be after `to` (which defaults to today).
        if isinstance(query.get("from"), str) and (moment := _instant(query["from"])) and moment.date() > datetime.date.today():
            query["from"] = "2020" + query["from"][4:]
        start, end = query.get("from"), query.get("to")
        if isinstance(start, str) and isinstance(end, str):
            a, b = _instant(start), _instant(end)
            if a and b and a > b:
                query["from"], query["to"] = end, start
        if path.endswith("/lookup") and isinstance(query.get("type"), str):
            query["value"] = _reference_value(query["type"])
        for name, value in list(query.items()):
            if isinstance(value, str) and name not in ("cursor", "from", "to"):
                query[name] = _clean_text(value)
    if isinstance(case.body, dict):
        body = _fix_body(_clean_text(case.body), datetime.date.today())
        if path == "/api/v1/service-issues" and case.method.upper() == "POST" and existing("categories"):
            # src/recovery/service.rs: the category is one of GET /api/v1/service-issue-categories.
            body["category"] = random.choice(existing("categories"))
        if path.endswith("/key-events") and existing("triggers"):
            # src/obligations/service.rs: the event is the trigger of an active rule.
            body["event"] = random.choice(existing("triggers"))
        case.body = body
    return case


# Rules about the state of other records, which no schema of one request can state: the service
# answers 422 naming the field and a code saying which rule (src/error.rs, `errors[].code`). A
# positive case refused only for such reasons is not a spec mismatch; one refused for anything
# else (a format, a type, a length, a required field) still fails the run.
SEMANTIC_CODES = {
    # names a record or code that does not exist, is inactive, or the caller may not see
    "not_found",
    "unknown_agency",
    "unknown_team",
    "unknown_stage",
    "unknown_category",
    "inactive_agency",
    "inactive_team",
    "not_linked",
    "not_open",
    "unknown_outcome",
    # the same reference twice once normalised (case and spaces aside); exact repeats are
    # excluded by the spec's uniqueItems
    "duplicate",
    "own_parent",
    # times against today or against other stored times
    "in_future",
    "in_past",
    "too_early",
    "not_reached",
    "before_event",
    "before_report",
    "after_report",
    # state and workflow
    "not_allowed",
    "longer_than_standard",
    "wrong_password",
}


# Requirements that depend on another field's value (JSON Schema could state them with if/then,
# which utoipa does not generate): (field pointer, code, the rule).
CONDITIONAL = [
    (re.compile(r"^/agency$"), "required", "agency liaisons belong to an agency (users)"),
    (re.compile(r"^/team$"), "required", "caseworkers and supervisors belong to a team (users)"),
    (re.compile(r"^/resolution$"), "required", "resolving an issue records its outcome (service issues)"),
    (re.compile(r"^/closed_on$"), "invalid_value", "only a closed case has closed_on (cases)"),
    (re.compile(r"^/events/\d+/case$"), "invalid_value", "a case is named by case_id or by agency, type and value"),
    (re.compile(r"^/events/\d+/reason_code$"), "invalid_value", "only a TRIAL_INEFFECTIVE event carries a reason code"),
]


def _semantic(error: dict) -> bool:
    code, field = error.get("code"), error.get("field", "")
    return code in SEMANTIC_CODES or any(p.match(field) and code == c for p, c, _ in CONDITIONAL)


# The team each team-scoped identity of scripts/conformance.sh works in.
TEAMS = {"caseworker-a": "gen-hub", "supervisor-a": "gen-hub", "caseworker-b": "north-hub"}


def _owned_by_another_team(hub_ref: str, identity: str | None) -> bool:
    """The record exists and a caseworker of a team other than `identity`'s can read it."""
    for other, team in TEAMS.items():
        if other == identity or team == TEAMS.get(identity or ""):
            continue
        try:
            _api(f"/api/v1/victims/{hub_ref}", other)
            return True
        except (OSError, ValueError):
            continue
    return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    name = type(failure).__name__
    # In the escalating run each operation is sent as its own identity, so a record one team's
    # caseworker created may be used next by another team's, who must get 404 (src/auth/access.rs).
    # Only that case is dropped: the record exists and the other team can read it.
    if name == "EnsureResourceAvailability" and case.auth_identity in TEAMS:
        hub_ref = (case.path_parameters or {}).get("ref")
        if hub_ref and _owned_by_another_team(hub_ref, case.auth_identity):
            return False
    # GET .../legal-hold reports the hold's state, {"held": false} once it is lifted: the
    # use-after-free check's DELETE-then-GET expects 404 of a state that is not a resource.
    if name == "UseAfterFree" and response.request.url.rstrip("/").endswith("/legal-hold"):
        return False
    if name != "RejectedPositiveData" or response.status_code != 422:
        return True
    try:
        errors = json.loads(response.content)["errors"]
    except (ValueError, KeyError, TypeError):
        return True
    return not errors or not all(_semantic(e) for e in errors)
