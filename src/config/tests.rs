use super::*;

fn load_toml(toml: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(&path, toml).unwrap();
    Config::load(Some(&path))
}

#[test]
fn defaults_validate() {
    let cfg = Config::from_raw(RawConfig::default(), PathBuf::from("/tmp/x")).unwrap();
    assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(cfg.server.max_body_bytes, 26_214_400);
    assert_eq!(cfg.storage.url, "sqlite:///tmp/x/tollgate.db");
    assert_eq!(cfg.keys.prefix, "tg");
    assert_eq!(
        cfg.provider(ProviderKind::OpenAi).base_url,
        "https://api.openai.com/v1"
    );
}

#[test]
fn unknown_key_is_named() {
    let err = load_toml("[server]\nlisten = \"127.0.0.1:1\"\nlistn = 3\n").unwrap_err();
    assert!(err.to_string().contains("listn"), "{err}");
}

#[test]
fn bad_value_names_key_value_and_file() {
    let err = load_toml("[server]\nlisten = \"not-an-addr\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("server.listen"), "{msg}");
    assert!(msg.contains("not-an-addr"), "{msg}");
    assert!(msg.contains("t.toml"), "{msg}");
}

#[test]
fn wrong_type_is_an_error() {
    let err = load_toml("[server]\nmax_body_bytes = \"lots\"\n").unwrap_err();
    assert!(err.to_string().contains("max_body_bytes"), "{err}");
}

#[test]
#[allow(
    clippy::result_large_err,
    reason = "figment::Jail's closure must return figment::Error"
)]
fn env_overrides_file_and_plain_tollgate_vars_are_not_config() {
    // figment's Jail sets the variables (no `unsafe` here: the crate forbids it),
    // serializes jailed tests and restores the environment and cwd afterwards.
    figment::Jail::expect_with(|jail| {
        jail.set_env("TOLLGATE_UPSTREAM__IDLE_TIMEOUT_MS", "4096");
        jail.set_env("TOLLGATE_SOME_SECRET", "not-a-config-key");
        jail.create_file("t.toml", "[upstream]\nidle_timeout_ms = 2048\n")?;
        let cfg = Config::load(Some(Path::new("t.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(
            cfg.upstream.idle_timeout,
            std::time::Duration::from_millis(4096)
        );
        Ok(())
    });
}

#[test]
fn prefix_with_underscore_is_refused() {
    let err = load_toml("[keys]\nprefix = \"my_co\"\n").unwrap_err();
    assert!(err.to_string().contains("keys.prefix"), "{err}");
}

#[test]
fn the_auth_failure_brake_defaults_on_and_can_be_set_or_turned_off() {
    use crate::policy::rate_limit::{Period, Quota};
    let cfg = load_toml("").unwrap();
    assert_eq!(
        cfg.keys.auth_failures,
        Some(Quota {
            requests: 20,
            period: Period::Minute,
            burst: 20
        })
    );
    let cfg =
        load_toml("[keys]\nauth_failure_limit = 5\nauth_failure_period = \"hour\"\n").unwrap();
    assert_eq!(
        cfg.keys.auth_failures.map(|q| (q.requests, q.period)),
        Some((5, Period::Hour))
    );
    let cfg = load_toml("[keys]\nauth_failure_limit = 0\n").unwrap();
    assert_eq!(cfg.keys.auth_failures, None);
    let err = load_toml("[keys]\nauth_failure_period = \"fortnight\"\n").unwrap_err();
    assert!(
        err.to_string().contains("keys.auth_failure_period"),
        "{err}"
    );
}

#[test]
fn unset_env_reference_means_no_key_and_a_warning() {
    let raw = RawConfig {
        providers: RawProviders {
            openai: RawProvider {
                base_url: "http://127.0.0.1:1/v1".into(),
                api_key: "${TOLLGATE_TEST_SURELY_UNSET_VAR}".into(),
                ..RawProvider::default()
            },
            ..RawProviders::default()
        },
        ..RawConfig::default()
    };
    let cfg = Config::from_raw(raw, PathBuf::from(".")).unwrap();
    assert!(cfg.provider(ProviderKind::OpenAi).api_key.is_none());
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.contains("TOLLGATE_TEST_SURELY_UNSET_VAR"))
    );
}

#[test]
fn models_and_aliases_parse_from_toml() {
    let cfg = load_toml(
        r#"
[[models]]
id = "my-model"
provider = "openai"
input_usd_per_mtok = 1.5
output_usd_per_mtok = 2.0

[[aliases]]
id = "smart"
openai = "gpt-4o"
"#,
    )
    .unwrap();
    assert_eq!(cfg.models[0].id, "my-model");
    // Validated into the catalog's own terms: a provider and integer micro-USD,
    // the cached price defaulting to the input price.
    assert_eq!(cfg.models[0].provider, ProviderKind::OpenAi);
    assert_eq!(
        (
            cfg.models[0].input_micro_usd_per_mtok,
            cfg.models[0].output_micro_usd_per_mtok,
            cfg.models[0].cached_input_micro_usd_per_mtok
        ),
        (1_500_000, 2_000_000, 1_500_000)
    );
    assert_eq!(
        cfg.aliases[0].targets[0],
        (ProviderKind::OpenAi, "gpt-4o".to_owned())
    );
}

#[test]
fn bad_provider_in_model_is_named() {
    let err = load_toml("[[models]]\nid = \"m\"\nprovider = \"azure\"\n").unwrap_err();
    assert!(err.to_string().contains("models[0].provider"), "{err}");
}

#[test]
fn absurd_model_prices_are_refused_by_name() {
    for (field, v) in [
        ("input_usd_per_mtok", "1e30"),
        ("output_usd_per_mtok", "-1.0"),
        ("cached_input_usd_per_mtok", "nan"),
    ] {
        let toml = format!("[[models]]\nid = \"m\"\nprovider = \"openai\"\n{field} = {v}\n");
        let err = load_toml(&toml).unwrap_err().to_string();
        assert!(err.contains(&format!("models[0].{field}")), "{err}");
    }
}

#[test]
fn the_readme_config_example_is_valid() {
    let readme = include_str!("../../README.md");
    let start = readme.find("```toml\n").expect("README has a TOML example") + 8;
    let end = start + readme[start..].find("```").unwrap();
    let cfg = load_toml(&readme[start..end]).unwrap_or_else(|e| panic!("README example: {e}"));
    assert_eq!(cfg.aliases[0].id, "tollgate-chat-smart");
    assert!(
        cfg.exchange_rates
            .rate(&crate::metering::money::Currency::parse("TRY").unwrap())
            .is_ok()
    );
}

#[test]
fn pepper_file_is_created_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/tollgate.pepper");
    let a = read_or_create_pepper(&path).unwrap();
    let b = read_or_create_pepper(&path).unwrap();
    assert_eq!(a.expose(), b.expose());
    assert_eq!(a.expose().len(), 64);
}

#[test]
fn env_models_name_real_environments() {
    let cfg = load_toml("[keys.env_models]\ndev = [\"gpt-4o-mini\"]\n").unwrap();
    assert_eq!(
        cfg.keys.env_models[&KeyEnv::Dev],
        vec!["gpt-4o-mini".to_string()]
    );
    let err = load_toml("[keys.env_models]\nprod = [\"gpt-4o\"]\n").unwrap_err();
    assert!(err.to_string().contains("keys.env_models.prod"), "{err}");
}

#[test]
fn listener_limits_have_defaults_and_reject_zero() {
    let cfg = Config::from_raw(RawConfig::default(), PathBuf::from("/tmp/x")).unwrap();
    assert_eq!(cfg.server.header_read_timeout, Duration::from_secs(10));
    assert_eq!(cfg.server.max_connections, 10_000);
    assert_eq!(cfg.server.max_uri_bytes, 8192);
    assert!(cfg.metrics.listen.is_none() && cfg.metrics.bearer_token.is_none());
    for (toml, key) in [
        (
            "[server]\nheader_read_timeout_ms = 0\n",
            "server.header_read_timeout_ms",
        ),
        ("[server]\nmax_connections = 0\n", "server.max_connections"),
        (
            "[server]\nmax_header_bytes = 10\n",
            "server.max_header_bytes",
        ),
        ("[metrics]\nlisten = \"nowhere\"\n", "metrics.listen"),
    ] {
        let err = load_toml(toml).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
}

#[test]
fn a_metrics_token_naming_an_unset_variable_stops_startup() {
    // Fail closed: an unset variable must not leave /metrics open.
    let err = load_toml("[metrics]\nbearer_token = \"${TOLLGATE_TEST_UNSET_METRICS_TOKEN}\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("metrics.bearer_token"), "{err}");
    assert!(err.contains("[redacted]"), "{err}");
    let cfg =
        load_toml("[metrics]\nbearer_token = \"literal-token\"\nlisten = \"127.0.0.1:9100\"\n")
            .unwrap();
    assert_eq!(
        cfg.metrics
            .bearer_token
            .as_ref()
            .map(|t| t.expose().as_str()),
        Some("literal-token")
    );
    assert_eq!(cfg.metrics.listen.unwrap().port(), 9100);
}

#[test]
fn master_keys_come_from_the_key_file_unless_configured_and_bad_ones_stop_startup() {
    let cfg = Config::from_raw(RawConfig::default(), PathBuf::from("/tmp/x")).unwrap();
    assert!(matches!(
        &cfg.secrets.master_keys,
        crate::seal::MasterKeySource::File(p) if p == &PathBuf::from("/tmp/x/tollgate.master_key")
    ));
    let key = "ab".repeat(32);
    let cfg = load_toml(&format!("[secrets]\nmaster_key = \"{key}\"\n")).unwrap();
    assert!(matches!(
        cfg.secrets.master_keys,
        crate::seal::MasterKeySource::Configured { .. }
    ));
    let err = load_toml("[secrets]\nmaster_key = \"too-short-secret\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("secrets.master_key"), "{msg}");
    assert!(
        !msg.contains("too-short-secret"),
        "the key itself is never echoed: {msg}"
    );
    let err = load_toml(&format!("[secrets]\nprevious_master_keys = [\"{key}\"]\n")).unwrap_err();
    assert!(err.to_string().contains("secrets.master_key"), "{err}");
}

#[test]
fn storage_urls_and_pool_settings() {
    let cfg = load_toml(
        "[storage]\nurl = \"postgres://tg:pw@db:5432/tollgate\"\nmax_connections = 4\n\
         connect_timeout_ms = 1500\n",
    )
    .unwrap();
    assert_eq!(cfg.storage.url, "postgres://tg:pw@db:5432/tollgate");
    assert_eq!(cfg.storage.max_connections, 4);
    assert_eq!(cfg.storage.connect_timeout, Duration::from_millis(1500));
    // The spill file of a database server is local, in the data directory.
    assert!(cfg.usage.spill_path.ends_with("tollgate.usage-spill"));

    let err = load_toml("[storage]\nurl = \"mysql://tg:hunter2@db/tollgate\"\n").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("storage.url") && msg.contains("postgres://"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");

    let err = load_toml("[storage]\nmax_connections = 0\n").unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
}

#[test]
fn alert_thresholds_have_defaults_and_bad_ones_are_named() {
    let cfg = Config::from_raw(RawConfig::default(), PathBuf::from("/tmp/x")).unwrap();
    let d = cfg.alerts.defaults;
    assert!(cfg.alerts.enabled);
    assert_eq!(d.auth_failures, 10);
    assert_eq!(d.auth_failures_window.as_secs(), 300);
    assert_eq!(d.new_ip_days, 30);
    assert_eq!(d.rate_limit_near_pct, 80);
    assert_eq!((d.balance_low_micro, d.spend_daily_micro), (None, None));
    let cfg = load_toml("[alerts]\nauth_failures = 3\nspend_daily_micro = 5\n").unwrap();
    assert_eq!(cfg.alerts.defaults.auth_failures, 3);
    assert_eq!(cfg.alerts.defaults.spend_daily_micro, Some(5));
    for (toml, key) in [
        (
            "[alerts]\nrate_limit_near_pct = 101\n",
            "alerts.rate_limit_near_pct",
        ),
        ("[alerts]\nauth_failures = 0\n", "alerts.auth_failures"),
        (
            "[alerts]\nbalance_low_micro = -1\n",
            "alerts.balance_low_micro",
        ),
        ("[alerts]\nqueue_capacity = 0\n", "alerts.queue_capacity"),
    ] {
        let err = load_toml(toml).unwrap_err().to_string();
        assert!(err.contains(key) && err.contains("t.toml"), "{toml}: {err}");
    }
}

#[test]
fn base_urls_the_upstream_client_cannot_call_stop_startup() {
    for (toml, problem) in [
        (
            "[providers.openai]\nbase_url = \"ftp://example.com/v1\"\n",
            "scheme must be http or https",
        ),
        (
            "[providers.openai]\nbase_url = \"https://user:hunter2secret@example.com/v1\"\n",
            "must not carry credentials",
        ),
        (
            "[[providers.openai.deployments]]\nname = \"b\"\nbase_url = \"https://user:hunter2secret@example.com/v1\"\napi_key = \"sk-x\"\n",
            "must not carry credentials",
        ),
    ] {
        let msg = load_toml(toml).unwrap_err().to_string();
        assert!(msg.contains("base_url"), "{msg}");
        assert!(msg.contains(problem), "{msg}");
        assert!(
            !msg.contains("hunter2secret"),
            "the password is redacted: {msg}"
        );
    }
}

#[test]
fn worker_threads_default_to_the_runtime_and_are_bounded() {
    let cfg = Config::from_raw(RawConfig::default(), PathBuf::from("/tmp/x")).unwrap();
    assert_eq!(cfg.server.worker_threads, None);
    let cfg = load_toml("[server]\nworker_threads = 1\n").unwrap();
    assert_eq!(cfg.server.worker_threads.map(|n| n.get()), Some(1));
    let err = load_toml("[server]\nworker_threads = 5000\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("server.worker_threads"), "{err}");
}
