//! `GET /usage?from=&to=`: the caller's own usage (scope `analytics`), by vendor
//! and by model, from the hourly rollups. A user's rows carry their id as kid and
//! `user:<id>` as account, so the rollup filters are the user filter.
//!
//! `from` and `to` are RFC 3339 times or dates (`2025-01-31`; a `to` date counts
//! that whole day). Default: the 30 days before now.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, OffsetDateTime, Time};

use super::LoggedIn;
use crate::error::ApiError;
use crate::http::extract::ApiQuery;
use crate::http::openapi::users as doc;
use crate::keys::Scope;
use crate::state::AppState;
use crate::store::{GroupBy, UsageQuery, UsageTotals, records_from_ms, records_ms};
use crate::vault::Vendor;

/// The window when `from` is not given.
const DEFAULT_SPAN: Duration = Duration::days(30);

#[utoipa::path(get, path = "/usage", operation_id = "user_usage", tag = "users",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD; default: 30 days before `to`"),
        ("to" = Option<String>, Query, description = "RFC 3339 or YYYY-MM-DD (that whole day); default: now"),
    ),
    responses((status = 200, description = "The caller's usage", body = doc::UserUsage),
        doc::UserErrors))]
pub async fn report(
    State(state): State<AppState>,
    who: LoggedIn,
    ApiQuery(params): ApiQuery<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if !who.principal.key.policy.scopes.contains(Scope::Analytics) {
        return Err(ApiError::MissingScope(Scope::Analytics));
    }
    if let Some(unknown) = params.keys().find(|k| *k != "from" && *k != "to") {
        return Err(ApiError::invalid_field(
            "query",
            format!("unknown parameter `{unknown}`; use from, to"),
        ));
    }
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let now = OffsetDateTime::now_utc();
    let to = get("to")
        .map(|v| parse_bound("to", v, true))
        .transpose()?
        .unwrap_or(now);
    let from = match get("from") {
        Some(v) => parse_bound("from", v, false)?,
        None => to - DEFAULT_SPAN,
    };
    let user = who.user();
    let query = |group_by| UsageQuery {
        from_ms: records_ms(from),
        to_ms: records_ms(to),
        account_id: Some(crate::users::user_account_id(&user.id)),
        kid: Some(user.id.clone()),
        group_by,
    };
    let by_vendor = query(GroupBy::Provider);
    by_vendor
        .validate()
        .map_err(|e| ApiError::invalid_field("from", e.to_string()))?;
    let by_model = query(GroupBy::Model);
    let store = state.store();
    let (vendors, models) = tokio::try_join!(
        store.usage_report(&by_vendor),
        store.usage_report(&by_model)
    )
    .map_err(ApiError::internal)?;
    let catalog = state.catalog();
    let vendor_of_provider = |p: &str| {
        p.parse()
            .ok()
            .and_then(Vendor::of_provider)
            .map_or_else(|| p.to_owned(), |v| v.as_str().to_owned())
    };
    let by_vendor: Vec<Value> = vendors
        .groups
        .iter()
        .map(|(provider, t)| {
            let mut v = totals(t);
            v["vendor"] = vendor_of_provider(provider).into();
            v
        })
        .collect();
    let by_model: Vec<Value> = models
        .groups
        .iter()
        .map(|(model, t)| {
            let mut v = totals(t);
            v["model"] = model.as_str().into();
            v["vendor"] = catalog
                .resolve(model, |_| true)
                .map(|r| vendor_of_provider(r.provider.as_str()))
                .into();
            v
        })
        .collect();
    Ok(Json(json!({
        "object": "usage",
        "user_id": user.id,
        "from": rfc3339(vendors.from_ms),
        "to": rfc3339(vendors.to_ms),
        "totals": totals(&vendors.totals),
        "by_vendor": by_vendor,
        "by_model": by_model,
    })))
}

fn totals(t: &UsageTotals) -> Value {
    json!({
        "requests": t.requests,
        "successes": t.requests.saturating_sub(t.errors),
        "failures": t.errors,
        "attempts_failed": t.attempts_failed,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "total_tokens": t.input_tokens.saturating_add(t.output_tokens),
        // The known costs; requests of unknown cost are counted, never priced at 0.
        "cost_usd": crate::metering::money::MicroUnits(t.cost_micro_usd).to_decimal_string(),
        "cost_unknown_requests": t.cost_unknown_requests,
    })
}

fn rfc3339(ms: i64) -> String {
    records_from_ms(ms)
        .format(&Rfc3339)
        .unwrap_or_else(|_| ms.to_string())
}

/// An RFC 3339 time, or a date: its start (`from`), or the start of the next day
/// (`to`, so the date is included whole).
fn parse_bound(param: &'static str, v: &str, end: bool) -> Result<OffsetDateTime, ApiError> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&v.replace(' ', "+"), &Rfc3339))
    {
        return Ok(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(v, &format).map_err(|_| {
        ApiError::invalid_field(
            param,
            format!("`{param}` must be an RFC 3339 time or a date such as 2025-01-31, not {v:?}"),
        )
    })?;
    let start = date.with_time(Time::MIDNIGHT).assume_utc();
    Ok(if end {
        start + Duration::days(1)
    } else {
        start
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn bounds_take_times_and_dates() {
        assert_eq!(
            parse_bound("from", "2025-01-31", false).unwrap(),
            datetime!(2025-01-31 00:00 UTC)
        );
        assert_eq!(
            parse_bound("to", "2025-01-31", true).unwrap(),
            datetime!(2025-02-01 00:00 UTC)
        );
        assert_eq!(
            parse_bound("to", "2025-01-31T10:00:00Z", true).unwrap(),
            datetime!(2025-01-31 10:00 UTC)
        );
        assert!(parse_bound("from", "yesterday", false).is_err());
    }
}
