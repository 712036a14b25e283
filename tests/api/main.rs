//! HTTP integration tests: the real router on a real database (SQLite, and PostgreSQL when
//! `CARE_HUB_TEST_POSTGRES_URL` is set). One file per area.
mod common;

mod external_idp;

mod access;
mod agencies_teams;
mod audit;
mod auth;
mod bad_input;
mod board;
mod bulk;
mod cases;
mod contacts;
mod datetimes;
mod exports;
mod faults;
mod health;
mod import;
mod journeys;
mod mail;
mod matrix;
mod merge;
mod openapi;
mod recovery;
mod reminders;
mod reports;
mod schema;
mod security;
mod signin;
mod victims;
