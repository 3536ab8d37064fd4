//! `tollgate demo`: the gateway and the mock upstream in one process, on a SQLite
//! file of its own (`tollgate-demo.db`), with a fresh demo key and ready snippets.

use anyhow::Context;

use tollgate::config::{RawConfig, RawProvider, RawStorage};
use tollgate::key_service::{self, KeySpec};
use tollgate::keys::{KeyEnv, KeyHasher, KeyKind};
use tollgate::mock_upstream::MockUpstream;
use tollgate::{App, Config};

pub async fn run(listen: &str) -> anyhow::Result<()> {
    let mock_listener = super::bind("127.0.0.1:0").await?;
    let mock_addr = mock_listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = MockUpstream::new().serve(mock_listener).await {
            tracing::error!(error = %e, "mock upstream stopped");
        }
    });

    let data_dir = tollgate::config::data_dir();
    let mut raw = RawConfig::default();
    raw.server.listen = listen.to_owned();
    raw.storage = RawStorage {
        url: format!("sqlite://{}", data_dir.join("tollgate-demo.db").display()),
        ..RawStorage::default()
    };
    // Every provider the mock speaks points at it, so any catalog model works.
    raw.providers.openai = RawProvider {
        base_url: format!("http://{mock_addr}/v1"),
        api_key: "demo-upstream-key".into(),
        ..RawProvider::default()
    };
    raw.providers.anthropic.base_url = format!("http://{mock_addr}");
    raw.providers.anthropic.api_key = "demo-upstream-key".into();
    raw.providers.gemini.base_url = format!("http://{mock_addr}");
    raw.providers.gemini.api_key = "demo-upstream-key".into();
    let config = Config::from_raw(raw, data_dir).context("demo configuration")?;

    let app = App::build(config.clone())
        .await
        .context("cannot start the gateway")?;
    let hasher = KeyHasher::new(&config.keys.load_pepper()?);
    let issued = key_service::issue(
        app.state().store(),
        &hasher,
        &config.keys.prefix,
        KeySpec {
            name: "demo".into(),
            env: KeyEnv::Dev,
            kind: KeyKind::Sk,
            account_id: "default".into(),
            expires_at: None,
            policy: None,
        },
    )
    .await?;
    // Before anything is printed: from then on SIGTERM drains, never kills.
    let shutdown = super::shutdown_signal();
    let listener = super::bind(listen).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let key = issued.key.expose();
    println!(
        r#"Tollgate demo: gateway on {base}, mock upstream on http://{mock_addr}
Demo key (shown once): {key}

Try it:

  curl {base}/v1/chat/completions \
    -H "Authorization: Bearer {key}" \
    -H "Content-Type: application/json" \
    -d '{{"model":"gpt-4o-mini","messages":[{{"role":"user","content":"Hello!"}}]}}'

  # Python (pip install openai)
  from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key="{key}")
  reply = client.chat.completions.create(model="gpt-4o-mini",
      messages=[{{"role": "user", "content": "Hello!"}}])
  print(reply.choices[0].message.content)

Stop with Ctrl-C."#
    );
    app.serve(listener, shutdown).await.context("server failed")
}
