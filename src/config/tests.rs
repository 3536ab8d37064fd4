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
    assert_eq!(cfg.aliases[0].openai.as_deref(), Some("gpt-4o"));
}

#[test]
fn bad_provider_in_model_is_named() {
    let err = load_toml("[[models]]\nid = \"m\"\nprovider = \"azure\"\n").unwrap_err();
    assert!(err.to_string().contains("models[0].provider"), "{err}");
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
