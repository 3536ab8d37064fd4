//! `tollgate keys …`: key administration straight on the database.
//!
//! A running gateway notices changes made here within about a second (its key
//! cache polls for changed keys), so `revoke` takes effect without a restart.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use tollgate::Config;
use tollgate::key_service::{self, KeySpec};
use tollgate::keys::{KeyEnv, KeyHasher, KeyKind};
use tollgate::store::{KeyRecord, Store};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key. The plaintext is printed once and never stored.
    Create(CreateArgs),
    /// List keys (never shows secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one key by id or kid.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id or kid; running gateways refuse it within seconds.
    Revoke {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[arg(long, default_value = "default")]
    name: String,
    /// live, stg or dev.
    #[arg(long, default_value = "live")]
    env: String,
    /// sk (API key) or mk (management key).
    #[arg(long, default_value = "sk")]
    kind: String,
    /// Lifetime such as 30d, 12h or 90m; the key never expires without it.
    #[arg(long)]
    expires_in: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(config: Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.storage.url)
        .await
        .with_context(|| format!("cannot open {}", config.storage.url))?;
    let result = match cmd {
        KeysCommand::Create(args) => create(&config, &store, args).await,
        KeysCommand::List { json } => {
            let keys = store.list_keys().await?;
            if json {
                let list: Vec<_> = keys.iter().map(key_json).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<36}  {:<12}  {:<4}  {:<2}  {:<8}  name",
                    "id", "kid", "env", "kd", "status"
                );
                for k in &keys {
                    println!(
                        "{:<36}  {:<12}  {:<4}  {:<2}  {:<8}  {}",
                        k.id,
                        k.kid,
                        k.env,
                        k.kind,
                        k.status(OffsetDateTime::now_utc()).as_str(),
                        k.name
                    );
                }
            }
            Ok(())
        }
        KeysCommand::Show { id, json } => {
            let key = store
                .find_key(&id)
                .await?
                .with_context(|| no_such_key(&id))?;
            print_key(&key, json)
        }
        KeysCommand::Revoke { id, json } => {
            let key = store
                .revoke_key(&id, OffsetDateTime::now_utc())
                .await?
                .with_context(|| no_such_key(&id))?;
            if !json {
                eprintln!("revoked; running gateways refuse this key within a few seconds");
            }
            print_key(&key, json)
        }
    };
    store.close().await;
    result
}

async fn create(config: &Config, store: &Store, args: CreateArgs) -> anyhow::Result<()> {
    let env: KeyEnv = args
        .env
        .parse()
        .map_err(|_| anyhow::anyhow!("--env {:?}: use live, stg or dev", args.env))?;
    let kind: KeyKind = args
        .kind
        .parse()
        .map_err(|_| anyhow::anyhow!("--kind {:?}: use sk or mk", args.kind))?;
    let expires_at = match &args.expires_in {
        None => None,
        Some(text) => {
            let d = humantime::parse_duration(text).with_context(|| {
                format!("--expires-in {text:?}: use a duration such as 30d, 12h or 90m")
            })?;
            if d.is_zero() {
                bail!("--expires-in must be longer than zero");
            }
            Some(OffsetDateTime::now_utc() + d)
        }
    };
    let hasher = KeyHasher::new(&config.keys.load_pepper()?);
    let issued = key_service::issue(
        store,
        &hasher,
        &config.keys.prefix,
        KeySpec {
            name: args.name,
            env,
            kind,
            account_id: "default".into(),
            expires_at,
        },
    )
    .await?;
    if args.json {
        let mut v = key_json(&issued.record);
        v["key"] = issued.key.expose().into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{}", issued.key.expose());
        eprintln!(
            "created key {} (kid {}). This is the only time the key is shown: store it now.",
            issued.record.id, issued.record.kid
        );
    }
    Ok(())
}

fn print_key(key: &KeyRecord, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&key_json(key))?);
    } else {
        let v = key_json(key);
        for (k, val) in v.as_object().into_iter().flatten() {
            println!(
                "{k:<13} {}",
                val.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| val.to_string())
            );
        }
    }
    Ok(())
}

fn key_json(k: &KeyRecord) -> serde_json::Value {
    let ts = |t: Option<OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
    json!({
        "id": k.id,
        "kid": k.kid.as_str(),
        "name": k.name,
        "env": k.env.as_str(),
        "kind": k.kind.as_str(),
        "account_id": k.account_id,
        "status": k.status(OffsetDateTime::now_utc()).as_str(),
        "created_at": ts(Some(k.created_at)),
        "expires_at": ts(k.expires_at),
        "revoked_at": ts(k.revoked_at),
        "last_used_at": ts(k.last_used_at),
    })
}

fn no_such_key(id: &str) -> String {
    format!("no key with id or kid {id:?}; `tollgate keys list` shows them")
}
