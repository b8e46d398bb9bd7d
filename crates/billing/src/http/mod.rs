//! HTTP: the axum router, the OpenAPI document and the docs page.
//!
//! Routes are registered through utoipa-axum, so a handler is in the OpenAPI
//! document exactly when it is routed; the role test walks that document.

use axum::extract::DefaultBodyLimit;
use axum::middleware::map_response;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::app::AppState;

pub mod api;
pub mod cookies;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod headers;
pub mod openapi_errors;
pub mod pages;
pub mod ui;

/// Largest request body accepted.
const BODY_LIMIT: usize = 256 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "nextpanel-bill",
        description = "Billing and hosting-account provisioning for NextPanel servers. \
            Authenticate with `POST /api/v1/auth/login` (or an API key) and send `Authorization: Bearer <token>`. \
            Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`. Money is integer minor units plus an ISO-4217 currency."
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Login, tokens, registration"),
        (name = "me", description = "The caller's own profile and licenses"),
        (name = "customers", description = "Customer records (admin)"),
        (name = "plans", description = "Hosting plans"),
        (name = "licenses", description = "Licenses (admin), and license validation for NextPanel servers (HMAC-signed)"),
        (name = "api-keys", description = "API keys for automation (admin)"),
        (name = "users", description = "Admins and staff (admin)"),
        (name = "audit", description = "Audit log (admin, staff)"),
        (name = "servers", description = "NextPanel servers and their health (admin)"),
        (name = "accounts", description = "Hosting accounts: provisioning and lifecycle (admin)"),
        (name = "jobs", description = "The durable job queue (admin)"),
        (name = "emails", description = "The email outbox (admin)"),
        (name = "invoices", description = "Invoices, payments (Stripe Checkout, manual) and the billing run"),
        (name = "reports", description = "MRR, revenue, new and cancelled services, overdue, server utilisation"),
        (name = "tax", description = "Tax rates, whether prices include tax, and the tax report"),
    )
)]
struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// All routes with their OpenAPI description.
pub fn api_routes() -> OpenApiRouter<AppState> {
    use api::{
        accounts, api_keys, audit, auth, coupons, customers, documents, emails, health, invoices,
        jobs, license_check, licenses, me, payment_methods, plan_changes, plans, reconciliations,
        refunds, reports, servers, sessions, tax, two_factor, users, webhooks,
    };
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(auth::login))
        .routes(routes!(auth::second_factor))
        .routes(routes!(two_factor::status))
        .routes(routes!(two_factor::setup))
        .routes(routes!(two_factor::enable))
        .routes(routes!(two_factor::disable))
        .routes(routes!(two_factor::recovery_codes))
        .routes(routes!(two_factor::reset))
        .routes(routes!(two_factor::settings, two_factor::update_settings))
        .routes(routes!(sessions::mine))
        .routes(routes!(sessions::end_mine))
        .routes(routes!(sessions::of_user, sessions::end_all))
        .routes(routes!(sessions::end_one))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::register))
        .routes(routes!(me::get, me::update))
        .routes(routes!(me::list_licenses))
        .routes(routes!(me::get_license))
        .routes(routes!(me::reveal_credentials))
        .routes(routes!(me::imported_history))
        .routes(routes!(customers::create, customers::list))
        .routes(routes!(customers::get, customers::update))
        .routes(routes!(customers::deactivate))
        .routes(routes!(customers::activate))
        .routes(routes!(customers::imported_history))
        .routes(routes!(customers::issue_license, customers::list_licenses))
        .routes(routes!(plans::list, plans::create))
        .routes(routes!(plans::get, plans::update))
        .routes(routes!(licenses::list))
        .routes(routes!(license_check::validate))
        .routes(routes!(license_check::usage))
        .routes(routes!(licenses::get, licenses::update))
        .routes(routes!(licenses::cancel))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(users::create, users::list))
        .routes(routes!(audit::list))
        .routes(routes!(servers::test))
        .routes(routes!(servers::create, servers::list))
        .routes(routes!(servers::status))
        .routes(routes!(servers::get, servers::update, servers::delete))
        .routes(routes!(servers::disable))
        .routes(routes!(servers::enable))
        .routes(routes!(servers::check))
        .routes(routes!(reconciliations::reconcile))
        .routes(routes!(reconciliations::list))
        .routes(routes!(reconciliations::get))
        .routes(routes!(servers::metrics))
        .routes(routes!(accounts::provision))
        .routes(routes!(accounts::list))
        .routes(routes!(accounts::counts))
        .routes(routes!(accounts::get, accounts::terminate))
        .routes(routes!(accounts::suspend))
        .routes(routes!(accounts::unsuspend))
        .routes(routes!(accounts::change_plan))
        .routes(routes!(accounts::password))
        .routes(routes!(accounts::retry))
        .routes(routes!(accounts::stats))
        .routes(routes!(accounts::poll_usage))
        .routes(routes!(accounts::mine))
        .routes(routes!(accounts::mine_one))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::retry))
        .routes(routes!(emails::list))
        .routes(routes!(emails::resend))
        .routes(routes!(emails::request_reset))
        .routes(routes!(emails::confirm_reset))
        .routes(routes!(invoices::list))
        .routes(routes!(invoices::get))
        .routes(routes!(invoices::void))
        .routes(routes!(invoices::mark_paid))
        .routes(routes!(invoices::checkout))
        .routes(routes!(invoices::order_for))
        .routes(routes!(invoices::order))
        .routes(routes!(invoices::list_mine))
        .routes(routes!(invoices::get_mine))
        .routes(routes!(invoices::checkout_mine))
        .routes(routes!(invoices::run))
        .routes(routes!(payment_methods::mine, payment_methods::remove))
        .routes(routes!(payment_methods::checkout))
        .routes(routes!(payment_methods::autopay))
        .routes(routes!(payment_methods::of_customer))
        .routes(routes!(refunds::refund))
        .routes(routes!(refunds::credit_notes))
        .routes(routes!(refunds::my_credit_notes))
        .routes(routes!(refunds::disputes))
        .routes(routes!(tax::list, tax::create))
        .routes(routes!(tax::update, tax::delete))
        .routes(routes!(tax::settings, tax::update_settings))
        .routes(routes!(tax::report))
        .routes(routes!(tax::report_csv))
        .routes(routes!(documents::invoice_pdf))
        .routes(routes!(documents::invoice_html))
        .routes(routes!(documents::my_invoice_pdf))
        .routes(routes!(documents::my_invoice_html))
        .routes(routes!(documents::credit_note_pdf))
        .routes(routes!(documents::my_credit_note_pdf))
        .routes(routes!(
            plan_changes::request_mine,
            plan_changes::cancel_mine
        ))
        .routes(routes!(plan_changes::list_mine))
        .routes(routes!(plan_changes::request, plan_changes::cancel))
        .routes(routes!(plan_changes::list))
        .routes(routes!(plan_changes::my_credit))
        .routes(routes!(plan_changes::credit, plan_changes::adjust_credit))
        .routes(routes!(reports::report))
        .routes(routes!(coupons::list, coupons::create))
        .routes(routes!(coupons::update))
        .routes(routes!(webhooks::stripe))
}

/// The OpenAPI document, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_routes().into_openapi();
    openapi_errors::complete(&mut doc);
    doc
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, mut openapi) = api_routes().split_for_parts();
    openapi_errors::complete(&mut openapi);
    api.merge(SwaggerUi::new("/docs").url("/api/openapi.json", openapi))
        .route("/checkout/complete", axum::routing::get(pages::complete))
        .route("/checkout/cancelled", axum::routing::get(pages::cancelled))
        .route("/", axum::routing::get(ui::root))
        .route("/favicon.ico", axum::routing::get(ui::favicon))
        .route("/ui", axum::routing::get(ui::root))
        .route("/ui/", axum::routing::get(ui::index))
        .route("/ui/{*path}", axum::routing::get(ui::file))
        .fallback(envelope::not_found)
        .layer(map_response(envelope::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            headers::secure,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<axum::body::Body>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(NewRequestId))
        .with_state(state)
}

/// A random id for a request that came without `X-Request-Id`: every log line of the
/// request carries it, and the answer names it.
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let bytes: [u8; 8] = crate::service::random_bytes().ok()?;
        axum::http::HeaderValue::from_str(&hex::encode(bytes))
            .ok()
            .map(RequestId::new)
    }
}
