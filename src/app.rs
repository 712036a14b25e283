//! The application: shared state, the router every area merges into, and `serve`.
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::audit::AuditSink;
use crate::auth::{RateLimiter, TokenService};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::Db;
use crate::error::AppError;
use crate::http::REQUEST_ID;
use crate::openapi::{self, ApiDoc};

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
const ACCESS_REASON_HEADER: HeaderName = HeaderName::from_static("x-access-reason");
/// A year, once the deployment has opted in: browsers then refuse plain HTTP to this host.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: Arc<TokenService>,
    pub clock: Arc<dyn Clock>,
    pub audit: AuditSink,
    pub rate_limiter: Arc<RateLimiter>,
    /// Email, when `CARE_HUB_SMTP_URL` is set.
    pub mailer: Option<crate::mail::Mailer>,
    /// Wakes the dispatcher when something was queued.
    pub dispatch_nudge: Arc<tokio::sync::Notify>,
    /// The attrition reports' in-memory journeys.
    pub facts: Arc<crate::reports::facts::FactCache>,
}

impl AppState {
    /// Builds the state and starts the audit writer on the current runtime.
    pub fn new(config: Config, db: Db, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let tokens = Arc::new(TokenService::new(&config.jwt, config.jwt_secret_bytes())?);
        let rate_limiter = Arc::new(RateLimiter::new(config.rate_limit_per_minute));
        let audit = AuditSink::start(db.clone(), config.unsafe_skip_read_audit);
        let mailer = config.mailer()?;
        Ok(AppState {
            db,
            config: Arc::new(config),
            tokens,
            clock,
            audit,
            rate_limiter,
            mailer,
            dispatch_nudge: Arc::new(tokio::sync::Notify::new()),
            facts: Arc::default(),
        })
    }
}

/// Every area's routes, with the OpenAPI document they declare.
fn areas() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::health::router())
        .merge(crate::auth::router())
        .merge(crate::users::router())
        .merge(crate::audit::router())
        .merge(crate::retention::router())
        .merge(crate::victims::router())
        .merge(crate::cases::router())
        .merge(crate::agencies::router())
        .merge(crate::teams::router())
        .merge(crate::contacts::router())
        .merge(crate::obligations::router())
        .merge(crate::reminders::router())
        .merge(crate::reports::router())
        .merge(crate::journeys::router())
        .merge(crate::withdrawals::router())
        .merge(crate::recovery::router())
        .merge(crate::exports::router())
}

/// The OpenAPI document, as served at `/openapi.json` and committed as `api-spec/openapi.yaml`.
#[must_use]
pub fn openapi_doc() -> utoipa::openapi::OpenApi {
    openapi::finish(areas().split_for_parts().1)
}

/// The complete HTTP application.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = areas().split_for_parts();
    let doc = openapi::finish(doc);
    let timeout = state.config.request_timeout;
    let body_limit = state.config.max_body_bytes;
    let cors = cors_layer(&state.config.cors_origins);
    let hsts = state.config.hsts.then_some(HSTS);
    let app = routes
        .merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .fallback(|| async { AppError::not_found("no such endpoint; the API is described at /docs") })
        .method_not_allowed_fallback(|| async {
            AppError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this endpoint does not accept that method",
            )
        })
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(move |req, next| time_limit(timeout, req, next)))
        .layer(CatchPanicLayer::custom(|_| AppError::internal(anyhow::anyhow!("handler panicked")).into_response()))
        .layer(middleware::from_fn(scope_request_id))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID_HEADER))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(&REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid));
    // Outside everything else, so preflights, problems, timeouts and panics carry them too.
    let app = match cors {
        Some(cors) => app.layer(cors).layer(middleware::map_response(drop_cors_for_other_origins)),
        None => app,
    };
    security_headers(app, hsts)
}

/// Headers for a JSON API holding special-category data: nothing sniffed, framed, referred,
/// cached or scripted. The Swagger UI at /docs is the one HTML page: it loads its scripts from
/// this origin (none inline) and sets inline styles.
fn security_headers(app: Router, hsts: Option<HeaderValue>) -> Router {
    let csp = |response: &Response| {
        let docs = response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
        Some(HeaderValue::from_static(if docs {
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
        } else {
            "default-src 'none'; frame-ancestors 'none'"
        }))
    };
    app.layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, csp))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, move |_: &Response| hsts.clone()))
}

/// tower-http lists the allowed methods and headers to any origin; one it did not allow gets no
/// CORS headers at all.
async fn drop_cors_for_other_origins(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        for name in [
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            header::ACCESS_CONTROL_MAX_AGE,
        ] {
            headers.remove(name);
        }
    }
    response
}

/// CORS for the configured browser origins only; `None` (no CORS headers at all) when there are none.
fn cors_layer(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                ACCESS_REASON_HEADER,
                REQUEST_ID_HEADER,
            ])
            .expose_headers([
                header::ETAG,
                header::LOCATION,
                header::CONTENT_LOCATION,
                header::RETRY_AFTER,
                REQUEST_ID_HEADER,
            ])
            .max_age(Duration::from_mins(10)),
    )
}

/// Makes the request id available to problem documents.
async fn scope_request_id(req: Request, next: Next) -> Response {
    let id = req.headers().get(&REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    REQUEST_ID.scope(id, next.run(req)).await
}

/// Answers 503 when a request runs past the configured limit; its transaction is rolled back.
async fn time_limit(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => AppError::unavailable("the request took too long and was abandoned; nothing was changed")
            .with_header(axum::http::header::RETRY_AFTER, HeaderValue::from_static("5"))
            .into_response(),
    }
}

/// Runs the service until SIGTERM or Ctrl-C, then drains in-flight requests.
pub async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let db = Db::connect(&config)
        .await
        .with_context(|| format!("cannot connect to CARE_HUB_DATABASE_URL={}", config.database_url_redacted()))?;
    db.migrate().await.context("cannot apply database migrations")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if demo {
        let seeded = crate::demo::seed(&db, &config.reminders, clock.now()).await.context("cannot load demo data")?;
        tracing::info!(victims = seeded, "demo data loaded (synthetic people only)");
    }
    if config.jwt.generated {
        tracing::warn!(
            path = %config.data_dir.join("jwt-secret").display(),
            "CARE_HUB_JWT_SECRET is not set: using a generated development secret; set it in production"
        );
    }
    if config.unsafe_skip_read_audit {
        tracing::error!(
            "CARE_HUB_UNSAFE_SKIP_READ_AUDIT is set: reads of victim data are NOT audited. For benchmarks only; never in service"
        );
    }
    if config.smtp_url.is_none() {
        tracing::info!("CARE_HUB_SMTP_URL is not set: email is disabled");
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on CARE_HUB_BIND={}", config.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        database = %config.database_url_redacted(),
        "Care Hub listening on http://{addr} — API docs at http://{addr}/docs; get a token with: care-hub token --sub <you> --role caseworker --team {}",
        if demo { crate::demo::DEMO_TEAM } else { "<team>" }
    );
    let state = AppState::new(config, db.clone(), clock)?;
    // The reports' in-memory journeys are read in the background, so the first report call
    // does not wait for every journey.
    let warm = state.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match warm.facts.current(&warm.db).await {
            Ok(facts) => tracing::info!(
                journeys = facts.len(),
                ms = started.elapsed().as_millis() as u64,
                "report journeys loaded"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot load the report journeys yet; the first report call will"),
        }
    });
    let mut scheduler = crate::jobs::start(state.clone()).await.context("cannot start the job scheduler")?;
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    let _ = scheduler.shutdown().await;
    tracing::info!("shut down cleanly");
    db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
