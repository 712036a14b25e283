//! The per-token request limit: a token bucket per token, in this replica's memory.
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, StatusCode, header};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::{AppError, AppResult};

pub struct RateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
}

impl RateLimiter {
    /// `per_minute` requests per token per minute, all of which may come at once; 0 turns it off.
    #[must_use]
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            limiter: NonZeroU32::new(per_minute).map(|n| governor::RateLimiter::keyed(Quota::per_minute(n))),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request for `token_id`; 429 with `Retry-After` when its bucket is empty.
    pub fn check(&self, token_id: &str) -> AppResult<()> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        // Forget tokens not seen for a while, now and then, so memory stays bounded.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(&token_id.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!("this token has used its requests for now; retry in {secs} s"),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(secs.max(1)))
        })
    }
}
