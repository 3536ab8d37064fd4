//! Schemas of the management API's responses.
//!
//! The admin handlers build their bodies from the store's `public_view`s, one
//! place per kind of record; these types describe those bodies for the document
//! and are checked against the real responses by the schemathesis run
//! (`tests/api/schemathesis.rs`, check `response_schema_conformance`). The
//! request bodies are the handlers' own types (`http::admin::…`).

use serde::Serialize;
use utoipa::ToSchema;

/// A rate limit: `requests` per `period`, up to `burst` at once.
#[derive(Serialize, ToSchema)]
pub struct RateLimit {
    #[schema(minimum = 1)]
    pub requests: u32,
    #[schema(value_type = Period)]
    pub period: String,
    /// Defaults to `requests` when left out of a request.
    pub burst: Option<u32>,
}

/// `second`, `minute`, `hour` or `day`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Second,
    Minute,
    Hour,
    Day,
}

/// A key as the management API shows it: never its secret.
#[derive(Serialize, ToSchema)]
pub struct Key {
    /// Always `api_key`.
    pub object: String,
    pub id: String,
    /// The public key id inside the key text.
    pub kid: String,
    pub name: String,
    /// `live`, `stg` or `dev`.
    pub env: String,
    /// `sk` (API key) or `mk` (management key).
    pub kind: String,
    pub account_id: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub scopes: Vec<String>,
    #[schema(required)]
    pub rate_limit: Option<RateLimit>,
    #[schema(required)]
    pub max_concurrency: Option<u32>,
    pub ip_allowlist: Vec<String>,
    pub allowed_models: Vec<String>,
    pub allowed_providers: Vec<String>,
    pub key_type: String,
    pub markup_bps: u32,
    #[schema(required)]
    pub created_at: Option<String>,
    #[schema(required)]
    pub expires_at: Option<String>,
    #[schema(required)]
    pub revoked_at: Option<String>,
    #[schema(required)]
    pub last_used_at: Option<String>,
    /// Set after a rotation while the old secret still works.
    #[schema(required)]
    pub previous_secret_valid_until: Option<String>,
}

/// A key just created or rotated: the record and, this once, its plaintext.
#[derive(Serialize, ToSchema)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub record: Key,
    /// The key itself; shown only in this response.
    pub key: String,
}

#[derive(Serialize, ToSchema)]
pub struct KeyList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Key>,
}

/// An account, with its billing once it has any.
#[derive(Serialize, ToSchema)]
pub struct Account {
    /// Always `account`.
    pub object: String,
    pub id: String,
    pub name: String,
    /// `active` or `disabled`.
    pub status: String,
    #[schema(required)]
    pub created_at: Option<String>,
    #[schema(required)]
    pub disabled_at: Option<String>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// `prepaid` or `postpaid`.
    pub billing_mode: Option<String>,
    /// Exact decimal in the account currency.
    pub balance: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<Account>,
}

/// One audited balance change.
#[derive(Serialize, ToSchema)]
pub struct AccountCredit {
    /// Always `account_credit`.
    pub object: String,
    pub id: String,
    pub amount: String,
    pub balance_after: String,
    /// The kid of the management key that made it, or `cli`.
    pub actor: String,
    pub note: String,
    #[schema(required)]
    pub created_at: Option<String>,
}

/// Alert thresholds (`null`: none; a money threshold not set means that alert is off).
#[derive(Serialize, ToSchema)]
pub struct AlertThresholdValues {
    pub auth_failures: Option<u32>,
    pub auth_failures_window_secs: Option<u64>,
    pub new_ip_days: Option<u32>,
    pub rate_limit_near_pct: Option<u32>,
    /// Micro-units of the account's currency.
    pub balance_low_micro: Option<i64>,
    /// Micro-units of the account's currency, per UTC day.
    pub spend_daily_micro: Option<i64>,
}

/// An account's alert settings: its overrides (`null`: the `[alerts]` default)
/// and the thresholds in force.
#[derive(Serialize, ToSchema)]
pub struct AccountAlerts {
    /// Always `account_alerts`.
    pub object: String,
    pub account_id: String,
    /// `[alerts] enabled`: whether the evaluators run at all.
    pub enabled: bool,
    pub overrides: AlertThresholdValues,
    pub effective: AlertThresholdValues,
}

#[derive(Serialize, ToSchema)]
pub struct AccountCreditList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<AccountCredit>,
}

/// Totals over a window (or one group of it).
#[derive(Serialize, ToSchema)]
pub struct UsageTotals {
    /// Client requests: each counts once, however many upstream tries it took.
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub auth_failures: u64,
    /// Upstream tries that failed before another try (not in `requests`).
    pub attempts_failed: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    /// Provider cost of the requests whose cost is known, exact decimal USD.
    pub cost_usd: String,
    /// Requests whose cost is unknown (a model without a price), not in `cost_usd`.
    pub cost_unknown_requests: u64,
    /// What was charged, exact decimal in the account currency.
    pub charge: String,
    pub avg_latency_ms: u64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageGroup {
    /// The group's value (model, day, status, …).
    pub key: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

#[derive(Serialize, ToSchema)]
pub struct ClientIp {
    pub ip: String,
    pub requests: u64,
}

/// `GET /admin/usage` and `GET /admin/keys/{id}/usage`.
#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    /// Always `usage_report`.
    pub object: String,
    /// The window covered, widened to whole hours.
    pub from: String,
    pub to: String,
    pub group_by: String,
    #[schema(required)]
    pub account_id: Option<String>,
    #[schema(required)]
    pub kid: Option<String>,
    pub totals: UsageTotals,
    pub groups: Vec<UsageGroup>,
    pub top_client_ips: Vec<ClientIp>,
}

/// A scope name (DESIGN §1.4).
#[derive(Serialize, ToSchema)]
pub enum ScopeName {
    #[serde(rename = "chat")]
    Chat,
    #[serde(rename = "completions")]
    Completions,
    #[serde(rename = "embeddings")]
    Embeddings,
    #[serde(rename = "images")]
    Images,
    #[serde(rename = "audio")]
    Audio,
    #[serde(rename = "connections")]
    Connections,
    #[serde(rename = "email")]
    Email,
    #[serde(rename = "analytics")]
    Analytics,
    #[serde(rename = "admin")]
    Admin,
    /// A management key's reach over every account.
    #[serde(rename = "admin:global")]
    AdminGlobal,
}

/// A permission name of the Bastio seed's key JSON (our scope names work too).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PermissionName {
    ChatCompletions,
    Completions,
    Embeddings,
    Images,
    Audio,
    Analytics,
    Admin,
}

/// An environment, case-insensitive: `live`/`Production`, `stg`/`Staging`,
/// `dev`/`Development`.
#[derive(Serialize, ToSchema)]
pub enum Environment {
    #[serde(rename = "live")]
    Live,
    #[serde(rename = "stg")]
    Stg,
    #[serde(rename = "dev")]
    Dev,
    #[serde(rename = "Production")]
    Production,
    #[serde(rename = "Staging")]
    Staging,
    #[serde(rename = "Development")]
    Development,
}

/// `sk` (API key) or `mk` (management key).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    Sk,
    Mk,
}

/// The billing category of a key (DESIGN §4).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    User,
    Project,
    PartnerProject,
    PartnerCustomer,
}

/// `prepaid` or `postpaid`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BillingMode {
    Prepaid,
    Postpaid,
}

/// `POST /admin/keys/{id}/revoke`: the same as `DELETE /admin/keys/{id}`
/// (one handler, two routes; a function carries one operation).
#[utoipa::path(post, path = "/admin/keys/{id}/revoke", operation_id = "revoke_key_post", tag = "admin",
    params(("id" = String, Path, description = "Key id or kid")),
    responses(
        (status = 200, description = "The revoked key", body = Key),
        super::errors::AdminErrors,
    ))]
pub fn revoke_key_post() {}
