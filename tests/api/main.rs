//! HTTP integration tests: the real router on a real database (SQLite, and PostgreSQL when
//! `CARE_HUB_TEST_POSTGRES_URL` is set). One file per area.
mod common;

mod agencies_teams;
mod auth;
mod bad_input;
mod cases;
mod health;
mod merge;
mod openapi;
mod schema;
mod victims;
