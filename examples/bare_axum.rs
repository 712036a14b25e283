//! The reference line for benchmarks: a bare axum server answering a JSON body of about the size
//! of a victim record, on the same machine, with the same release profile.
//! Run: `cargo run --release --example bare_axum -- 127.0.0.1:18090`.
use axum::{Json, Router, routing::get};
use serde_json::{Value, json};

async fn record() -> Json<Value> {
    Json(json!({
        "hub_ref": "VCH-0123456789A", "version": 3, "victim_type": "direct",
        "given_name": "Amira", "family_name": "Ashdown", "preferred_name": null, "date_of_birth": "1960-01-01",
        "contact": {"phone": "07700 900100", "email": "amira@example.org", "address": null,
            "preferred_channel": "phone", "restrictions": "Do not leave voicemail"},
        "language": "en", "interpreter_needed": false, "communication_needs": null, "ethnicity": null,
        "sex": "female", "disability": null, "enhanced_rights": false, "enhanced_reasons": [],
        "needs_assessment": null, "assigned_caseworker": "north-hub-caseworker-1", "team": "north-hub",
        "agency_references": [], "cases": [{"id": "01a2046f-6db0-74d9-9ae5-821a0a0dbdd2", "role": "victim",
            "offence_group": "violence_with_injury", "date_reported": "2026-11-12", "status": "open"}],
        "merged_refs": [], "created_at": "2026-11-22T18:05:41.162653Z", "updated_at": "2026-11-22T18:05:41.162653Z"
    }))
}

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18090".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, Router::new().route("/json", get(record))).await.expect("serve");
}
