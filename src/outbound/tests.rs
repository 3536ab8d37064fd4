use super::*;

const STRICT: AddressPolicy = AddressPolicy {
    allow_http: false,
    allow_private: false,
};

#[test]
fn url_checks_need_https_no_credentials_and_a_public_literal() {
    assert!(STRICT.check_url("https://api.example.com/v1").is_ok());
    assert!(STRICT.check_url("https://8.8.8.8").is_ok());
    assert!(STRICT.check_url("https://[2606:4700::1111]/").is_ok());
    for (url, want) in [
        ("not a url", OutboundError::NotAUrl),
        ("http://api.example.com", OutboundError::HttpNotAllowed),
        ("ftp://api.example.com", OutboundError::BadScheme),
        ("file:///etc/passwd", OutboundError::BadScheme),
        ("https://u:p@api.example.com", OutboundError::Credentials),
    ] {
        assert_eq!(STRICT.check_url(url).unwrap_err(), want, "{url}");
    }
    for url in [
        "https://127.0.0.1:8443",
        "https://2130706433/",
        "https://0x7f.1/",
        "https://[::1]/",
        "https://[::127.0.0.1]/",
        "https://[::ffff:169.254.169.254]/",
        "https://[64:ff9b::7f00:1]/",
        "https://[64:ff9b:1::1]/",
        "https://[2002:7f00:1::]/",
        "https://[fec0::1]/",
        "https://198.18.0.1/",
        "https://192.0.0.1/",
        "https://240.0.0.1/",
    ] {
        assert!(
            matches!(STRICT.check_url(url), Err(OutboundError::Refused { .. })),
            "{url}"
        );
    }
}

#[test]
fn the_two_switches_open_exactly_what_they_name() {
    let http = AddressPolicy {
        allow_http: true,
        allow_private: false,
    };
    assert!(http.check_url("http://api.example.com").is_ok());
    assert!(http.check_url("http://127.0.0.1:9").is_err());
    let private = AddressPolicy {
        allow_http: false,
        allow_private: true,
    };
    assert!(private.check_url("https://127.0.0.1:9").is_ok());
    assert!(private.check_url("http://127.0.0.1:9").is_err());
}

#[test]
fn a_refusal_says_which_block() {
    let err = STRICT.check_url("https://198.18.0.1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "198.18.0.1 is an internal or reserved address: Benchmarking (RFC 2544)"
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_unless_private_is_allowed() {
    let url = STRICT.check_url("https://localhost:8443").unwrap();
    assert!(matches!(
        STRICT.check_resolved(&url).await,
        Err(OutboundError::ResolvesToRefused { .. })
    ));
    let private = AddressPolicy {
        allow_http: false,
        allow_private: true,
    };
    assert!(private.check_resolved(&url).await.is_ok());
}

#[tokio::test]
async fn the_resolver_drops_refused_answers() {
    use reqwest::dns::Resolve;
    let name: reqwest::dns::Name = "localhost".parse().unwrap();
    assert!(STRICT.resolver().resolve(name).await.is_err());
    let lax = AddressPolicy {
        allow_http: false,
        allow_private: true,
    };
    let name: reqwest::dns::Name = "localhost".parse().unwrap();
    let addrs: Vec<SocketAddr> = lax.resolver().resolve(name).await.unwrap().collect();
    assert!(addrs.iter().any(|a| a.ip().is_loopback()), "{addrs:?}");
}
