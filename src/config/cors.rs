//! `[server] cors_allow_origins`: which browser origins may call the gateway.

use axum::http::HeaderValue;

/// The validated origin list. `None` (the default, an empty list) adds no CORS
/// headers at all; `Any` is `["*"]`; `List` holds exact origins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    #[default]
    None,
    Any,
    List(Vec<HeaderValue>),
}

impl CorsOrigins {
    /// Reads the configured list; an error is `(value, what to do)`.
    pub fn parse(origins: &[String]) -> Result<CorsOrigins, (String, String)> {
        if origins.is_empty() {
            return Ok(CorsOrigins::None);
        }
        if origins.iter().any(|o| o == "*") {
            if origins.len() > 1 {
                return Err((
                    origins.join(", "),
                    "\"*\" allows every origin; list it alone or list exact origins".into(),
                ));
            }
            return Ok(CorsOrigins::Any);
        }
        let mut list = Vec::with_capacity(origins.len());
        for o in origins {
            let bad = |why: &str| {
                (
                    o.clone(),
                    format!(
                        "{why}; write an origin like \"https://app.example\" or \"http://localhost:3000\""
                    ),
                )
            };
            let rest = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"))
                .ok_or_else(|| bad("an origin starts with https:// or http://"))?;
            if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) || o.ends_with('/') {
                return Err(bad("an origin has a host and no path"));
            }
            list.push(HeaderValue::from_str(o).map_err(|_| bad("not a valid header value"))?);
        }
        Ok(CorsOrigins::List(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<CorsOrigins, (String, String)> {
        CorsOrigins::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn origins_are_exact_or_a_lone_star() {
        assert_eq!(parse(&[]).unwrap(), CorsOrigins::None);
        assert_eq!(parse(&["*"]).unwrap(), CorsOrigins::Any);
        assert_eq!(
            parse(&["https://app.example", "http://localhost:3000"]).unwrap(),
            CorsOrigins::List(vec![
                HeaderValue::from_static("https://app.example"),
                HeaderValue::from_static("http://localhost:3000"),
            ])
        );
        assert!(parse(&["*", "https://a.example"]).is_err());
        assert!(parse(&["app.example"]).unwrap_err().1.contains("https://"));
        assert!(parse(&["https://app.example/"]).is_err());
        assert!(parse(&["https://app.example/path"]).is_err());
    }
}
