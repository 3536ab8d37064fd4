//! `GET /admin/usage` and `GET /admin/keys/{id}/usage`: usage analytics (scope
//! `analytics`) read from the hourly rollups, plus the busiest client IPs from the
//! raw events still within retention.
//!
//! A global management key (`admin::Reach::Global`) may look at any account; every
//! other key, an account's own management key included, sees only its own account:
//! naming another one is a 403, and another account's key is "not found". Money
//! leaves here as exact decimal strings, never floats.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::extract::{ApiQuery, PathId};
use crate::keys::Scope;
use crate::state::AppState;
use crate::store::{GroupBy, UsageQuery, UsageReport, UsageTotals, records_from_ms, records_ms};

/// The window when `from` is not given: the day before `to`.
const DEFAULT_SPAN: Duration = Duration::hours(24);
/// How many client IPs a report lists.
const TOP_CLIENT_IPS: u32 = 10;

const REPORT_PARAMS: &[&str] = &["from", "to", "group_by", "account_id", "kid"];
const KEY_REPORT_PARAMS: &[&str] = &["from", "to", "group_by"];

/// `GET /admin/usage?from=&to=&group_by=&account_id=&kid=`
#[utoipa::path(get, path = "/admin/usage", operation_id = "usage_report", tag = "analytics",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339; default: a day before `to`"),
        ("to" = Option<String>, Query, description = "RFC 3339; default: now"),
        ("group_by" = Option<String>, Query, description = "none, key, model, provider, status, hour or day"),
        ("account_id" = Option<String>, Query, description = "Another account than the caller's needs a global management key (403)"),
        ("kid" = Option<String>, Query, description = "One key's usage"),
    ),
    responses((status = 200, description = "The report", body = crate::http::openapi::admin::UsageReport),
        crate::http::openapi::errors::AdminErrors))]
pub async fn report(
    State(state): State<AppState>,
    principal: Principal,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = ReportParams::parse(&params, REPORT_PARAMS, OffsetDateTime::now_utc())?;
    let account_id = visible_account(
        is_global(&principal),
        &principal.key.account_id,
        params.account_id,
    )?;
    let q = UsageQuery {
        from_ms: params.from_ms,
        to_ms: params.to_ms,
        account_id,
        kid: params.kid,
        group_by: params.group_by,
    };
    respond(&state, &q).await
}

/// `GET /admin/keys/{id}/usage?from=&to=&group_by=`, the key by id or kid.
#[utoipa::path(get, path = "/admin/keys/{id}/usage", operation_id = "key_usage_report", tag = "analytics",
    params(
        ("id" = String, Path, description = "Key id or kid"),
        ("from" = Option<String>, Query, description = "RFC 3339; default: a day before `to`"),
        ("to" = Option<String>, Query, description = "RFC 3339; default: now"),
        ("group_by" = Option<String>, Query, description = "none, key, model, provider, status, hour or day"),
    ),
    responses((status = 200, description = "The report", body = crate::http::openapi::admin::UsageReport),
        crate::http::openapi::errors::AdminErrors))]
pub async fn key_report(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = ReportParams::parse(&params, KEY_REPORT_PARAMS, OffsetDateTime::now_utc())?;
    let key = state
        .store()
        .find_key(&id)
        .await
        .map_err(ApiError::internal)?
        .filter(|k| super::Reach::of(&principal).sees_key(k))
        .ok_or_else(|| ApiError::key_not_found(&id))?;
    let q = UsageQuery {
        from_ms: params.from_ms,
        to_ms: params.to_ms,
        account_id: None,
        kid: Some(key.kid.as_str().to_owned()),
        group_by: params.group_by,
    };
    respond(&state, &q).await
}

async fn respond(state: &AppState, q: &UsageQuery) -> Result<Json<Value>, ApiError> {
    let store = state.store();
    let (report, ips) = tokio::try_join!(
        store.usage_report(q),
        store.top_client_ips(q, TOP_CLIENT_IPS)
    )
    .map_err(ApiError::internal)?;
    Ok(Json(report_body(q, &report, &ips)))
}

fn is_global(principal: &Principal) -> bool {
    crate::key_service::is_global_admin(&principal.key)
}

/// The account a report may cover: anything (or everything) for a management key,
/// only the caller's own account otherwise.
fn visible_account(
    admin: bool,
    own: &str,
    requested: Option<String>,
) -> Result<Option<String>, ApiError> {
    match requested {
        _ if admin => Ok(requested),
        Some(other) if other != own => Err(ApiError::MissingScope(Scope::AdminGlobal)),
        _ => Ok(Some(own.to_owned())),
    }
}

/// The query string, validated.
#[derive(Debug, PartialEq, Eq)]
struct ReportParams {
    from_ms: i64,
    to_ms: i64,
    group_by: GroupBy,
    account_id: Option<String>,
    kid: Option<String>,
}

impl ReportParams {
    fn parse(
        params: &HashMap<String, String>,
        allowed: &[&str],
        now: OffsetDateTime,
    ) -> Result<ReportParams, ApiError> {
        if let Some(unknown) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ApiError::invalid_field(
                "query",
                format!("unknown parameter `{unknown}`; use {}", allowed.join(", ")),
            ));
        }
        // An empty value (`?kid=`) counts as absent, as HTML forms send it.
        let get = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .filter(|v| !v.is_empty())
        };
        let to = get("to")
            .map(|v| parse_time("to", v))
            .transpose()?
            .unwrap_or(now);
        let from = match get("from") {
            Some(v) => parse_time("from", v)?,
            None => to - DEFAULT_SPAN,
        };
        let group_by = match get("group_by") {
            Some(v) => v.parse().map_err(|_| {
                let names: Vec<_> = GroupBy::ALL.iter().map(|g| g.as_str()).collect();
                ApiError::invalid_field(
                    "group_by",
                    format!("group_by must be one of {}", names.join(", ")),
                )
            })?,
            None => GroupBy::None,
        };
        let q = UsageQuery {
            from_ms: records_ms(from),
            to_ms: records_ms(to),
            account_id: get("account_id").map(str::to_owned),
            kid: get("kid").map(str::to_owned),
            group_by,
        };
        q.validate()
            .map_err(|e| ApiError::invalid_field("from", e.to_string()))?;
        Ok(ReportParams {
            from_ms: q.from_ms,
            to_ms: q.to_ms,
            group_by: q.group_by,
            account_id: q.account_id,
            kid: q.kid,
        })
    }
}

fn parse_time(param: &'static str, v: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(v, &Rfc3339)
        // An unencoded `+` in an offset (`+03:00`) arrives as a space.
        .or_else(|_| OffsetDateTime::parse(&v.replace(' ', "+"), &Rfc3339))
        .map_err(|_| {
            ApiError::invalid_field(
                param,
                format!(
                    "`{param}` must be an RFC 3339 time such as 2025-01-31T00:00:00Z, not {v:?}"
                ),
            )
        })
}

fn report_body(q: &UsageQuery, report: &UsageReport, ips: &[(String, u64)]) -> Value {
    let groups: Vec<Value> = report
        .groups
        .iter()
        .map(|(key, totals)| {
            let mut group = totals_body(totals);
            group["key"] = key.as_str().into();
            group
        })
        .collect();
    let ips: Vec<Value> = ips
        .iter()
        .map(|(ip, requests)| json!({"ip": ip, "requests": requests}))
        .collect();
    json!({
        "object": "usage_report",
        // The window actually covered: the request's, widened to whole hours.
        "from": rfc3339_ms(report.from_ms),
        "to": rfc3339_ms(report.to_ms),
        "group_by": q.group_by.as_str(),
        "account_id": q.account_id,
        "kid": q.kid,
        "totals": totals_body(&report.totals),
        "groups": groups,
        "top_client_ips": ips,
    })
}

fn totals_body(t: &UsageTotals) -> Value {
    let error_rate = match t.requests {
        0 => 0.0,
        n => t.errors as f64 / n as f64,
    };
    json!({
        "requests": t.requests,
        "errors": t.errors,
        "error_rate": error_rate,
        "auth_failures": t.auth_failures,
        "attempts_failed": t.attempts_failed,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cached_tokens": t.cached_tokens,
        // The known costs; requests of unknown cost are counted, never priced at 0.
        "cost_usd": micro_to_decimal(t.cost_micro_usd),
        "cost_unknown_requests": t.cost_unknown_requests,
        // Charges are never added across currencies: `charges` has one sum per
        // currency, and `charge` is that sum only when there is a single currency.
        "charge": match t.charges.len() {
            0 => Some(micro_to_decimal(0)),
            1 => Some(micro_to_decimal(t.charge_micro)),
            _ => None,
        },
        "charges": t
            .charges
            .iter()
            .map(|(currency, micro)| (currency.clone(), Value::from(micro_to_decimal(*micro))))
            .collect::<serde_json::Map<_, _>>(),
        "avg_latency_ms": t.avg_latency_ms,
    })
}

fn rfc3339_ms(ms: i64) -> String {
    records_from_ms(ms)
        .format(&Rfc3339)
        .unwrap_or_else(|_| ms.to_string())
}

/// Micro-units as an exact decimal with six places: `1234` → `"0.001234"`,
/// `-1_500_000` → `"-1.500000"` (the one formatting rule, `metering::money`).
pub fn micro_to_decimal(micro: i64) -> String {
    crate::metering::money::MicroUnits(micro).to_decimal_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<ReportParams, ApiError> {
        ReportParams::parse(
            &params(pairs),
            REPORT_PARAMS,
            datetime!(2025-02-01 12:00 UTC),
        )
    }

    fn rejected_param(result: Result<ReportParams, ApiError>) -> String {
        let err = result.expect_err("should be rejected");
        let parts = err.parts();
        assert_eq!(parts.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(parts.code, "invalid_field");
        parts.param.expect("names the parameter").into_owned()
    }

    #[test]
    fn micro_to_decimal_is_exact() {
        assert_eq!(micro_to_decimal(0), "0.000000");
        assert_eq!(micro_to_decimal(1_234), "0.001234");
        assert_eq!(micro_to_decimal(1_500_000), "1.500000");
        assert_eq!(micro_to_decimal(42_000_001), "42.000001");
        assert_eq!(micro_to_decimal(-1), "-0.000001");
        assert_eq!(micro_to_decimal(-1_500_000), "-1.500000");
        assert_eq!(micro_to_decimal(i64::MAX), "9223372036854.775807");
        assert_eq!(micro_to_decimal(i64::MIN), "-9223372036854.775808");
    }

    #[test]
    fn defaults_are_the_last_day_ungrouped() {
        let p = parse(&[]).unwrap();
        assert_eq!(p.to_ms, records_ms(datetime!(2025-02-01 12:00 UTC)));
        assert_eq!(p.from_ms, records_ms(datetime!(2025-01-31 12:00 UTC)));
        assert_eq!(p.group_by, GroupBy::None);
        assert_eq!((p.account_id, p.kid), (None, None));
    }

    #[test]
    fn parses_times_group_and_filters() {
        let p = parse(&[
            ("from", "2025-01-01T00:00:00Z"),
            ("to", "2025-01-02T03:00:00+03:00"),
            ("group_by", "day"),
            ("account_id", "acme"),
            ("kid", ""),
        ])
        .unwrap();
        assert_eq!(p.from_ms, records_ms(datetime!(2025-01-01 00:00 UTC)));
        assert_eq!(p.to_ms, records_ms(datetime!(2025-01-02 00:00 UTC)));
        assert_eq!(p.group_by, GroupBy::Day);
        assert_eq!(p.account_id.as_deref(), Some("acme"));
        assert_eq!(p.kid, None);
        // `+` decoded to a space by the query string parser.
        let p = parse(&[("to", "2025-01-02T03:00:00 03:00")]).unwrap();
        assert_eq!(p.to_ms, records_ms(datetime!(2025-01-02 00:00 UTC)));
    }

    #[test]
    fn bad_values_name_the_parameter() {
        assert_eq!(rejected_param(parse(&[("from", "yesterday")])), "from");
        assert_eq!(rejected_param(parse(&[("to", "1738400000")])), "to");
        assert_eq!(rejected_param(parse(&[("group_by", "week")])), "group_by");
        assert_eq!(rejected_param(parse(&[("limit", "5")])), "query");
        let same = [
            ("from", "2025-01-01T00:00:00Z"),
            ("to", "2025-01-01T00:00:00Z"),
        ];
        assert_eq!(rejected_param(parse(&same)), "from");
        let reversed = [
            ("from", "2025-01-02T00:00:00Z"),
            ("to", "2025-01-01T00:00:00Z"),
        ];
        assert_eq!(rejected_param(parse(&reversed)), "from");
        // `from` alone must still lie before the default `to` (now).
        assert_eq!(
            rejected_param(parse(&[("from", "2030-01-01T00:00:00Z")])),
            "from"
        );
    }

    #[test]
    fn key_route_takes_no_account_or_kid() {
        let p = params(&[("kid", "abc")]);
        let result = ReportParams::parse(&p, KEY_REPORT_PARAMS, OffsetDateTime::now_utc());
        assert_eq!(rejected_param(result), "query");
    }

    #[test]
    fn only_management_keys_see_other_accounts() {
        assert_eq!(visible_account(true, "mgmt", None).unwrap(), None);
        assert_eq!(
            visible_account(true, "mgmt", Some("acme".into())).unwrap(),
            Some("acme".into())
        );
        assert_eq!(
            visible_account(false, "acme", None).unwrap(),
            Some("acme".into())
        );
        assert_eq!(
            visible_account(false, "acme", Some("acme".into())).unwrap(),
            Some("acme".into())
        );
        let err = visible_account(false, "acme", Some("other".into())).unwrap_err();
        assert!(matches!(err, ApiError::MissingScope(Scope::AdminGlobal)));
        assert_eq!(err.parts().status, axum::http::StatusCode::FORBIDDEN);
    }

    #[test]
    fn body_has_totals_groups_and_ips() {
        let totals = UsageTotals {
            requests: 4,
            errors: 1,
            auth_failures: 1,
            attempts_failed: 2,
            cost_unknown_requests: 1,
            input_tokens: 10,
            output_tokens: 20,
            cached_tokens: 5,
            cost_micro_usd: 1_234,
            charge_micro: 1_851,
            charges: [("USD".to_owned(), 1_851)].into(),
            latency_ms_sum: 400,
            avg_latency_ms: 100,
        };
        let report = UsageReport {
            from_ms: records_ms(datetime!(2025-01-01 00:00 UTC)),
            to_ms: records_ms(datetime!(2025-01-02 00:00 UTC)),
            totals: totals.clone(),
            groups: vec![("gpt-4o".into(), totals)],
        };
        let q = UsageQuery {
            from_ms: report.from_ms,
            to_ms: report.to_ms,
            account_id: Some("acme".into()),
            kid: None,
            group_by: GroupBy::Model,
        };
        let body = report_body(&q, &report, &[("10.0.0.1".into(), 3)]);
        assert_eq!(body["object"], "usage_report");
        assert_eq!(body["from"], "2025-01-01T00:00:00Z");
        assert_eq!(body["to"], "2025-01-02T00:00:00Z");
        assert_eq!(body["group_by"], "model");
        assert_eq!(body["totals"]["error_rate"], 0.25);
        assert_eq!(body["totals"]["cost_usd"], "0.001234");
        assert_eq!(body["totals"]["cost_unknown_requests"], 1);
        assert_eq!(body["totals"]["attempts_failed"], 2);
        assert_eq!(body["totals"]["charge"], "0.001851");
        assert_eq!(body["totals"]["charges"], json!({"USD": "0.001851"}));
        assert_eq!(body["totals"]["avg_latency_ms"], 100);
        assert_eq!(body["groups"][0]["key"], "gpt-4o");
        assert_eq!(body["groups"][0]["requests"], 4);
        assert_eq!(
            body["top_client_ips"],
            json!([{"ip": "10.0.0.1", "requests": 3}])
        );
        let empty = totals_body(&UsageTotals::default());
        assert_eq!(empty["error_rate"], 0.0);
    }
}
