//! `tollgate keys …`: key administration straight on the database, the same
//! operations as `/admin/keys`.
//!
//! A running gateway notices changes made here within about a second (its key
//! cache polls for changed keys), so `revoke` takes effect without a restart.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use tollgate::Config;
use tollgate::cluster::{Cluster, KeyChange};
use tollgate::key_service::{self, DEFAULT_ROTATION_GRACE, KeySpec};
use tollgate::keys::{KeyEnv, KeyHasher, KeyKind, KeyPolicy, ScopeSet};
use tollgate::policy::IpAllowlist;
use tollgate::policy::rate_limit::{Period, Quota};
use tollgate::routing::ProviderKind;
use tollgate::store::{KeyFilter, KeyRecord, KeyUpdate, Store};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a key. The plaintext is printed once and never stored.
    Create(CreateArgs),
    /// List keys (never shows secrets).
    List(ListArgs),
    /// Show one key by id or kid.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a key's name, expiry or policy.
    Update(UpdateArgs),
    /// Issue a new secret for the same key; the old one works for --grace (default 24h).
    Rotate {
        id: String,
        /// How long the old secret keeps working, e.g. 24h, 30m, 0s.
        #[arg(long)]
        grace: Option<String>,
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
    /// The owning account. A management key of an account other than `default`
    /// manages that account only, unless --scopes includes admin:global.
    #[arg(long, default_value = "default")]
    account: String,
    /// Lifetime such as 30d, 12h or 90m; the key never expires without it.
    #[arg(long)]
    expires_in: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    id: String,
    #[arg(long)]
    name: Option<String>,
    /// New lifetime from now (30d, 12h…), or `never`.
    #[arg(long)]
    expires_in: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug, Default)]
pub struct PolicyArgs {
    /// Comma-separated scopes (chat, completions, embeddings, images, audio,
    /// connections, email, analytics, admin; admin:global gives a management key
    /// of an account reach over every account).
    #[arg(long)]
    scopes: Option<String>,
    /// REQUESTS/PERIOD, e.g. 100/minute (period: second, minute, hour, day), or `none`.
    #[arg(long)]
    rate_limit: Option<String>,
    /// Requests allowed at once on top of the steady rate (default: REQUESTS).
    #[arg(long)]
    burst: Option<u32>,
    /// Most requests in flight at once, or `none`.
    #[arg(long)]
    max_concurrency: Option<String>,
    /// Comma-separated IPs/CIDRs allowed to use the key; empty string clears.
    #[arg(long)]
    ip_allow: Option<String>,
    /// Comma-separated model ids (or provider/*); empty string clears.
    #[arg(long)]
    allowed_models: Option<String>,
    /// Comma-separated providers; empty string clears.
    #[arg(long)]
    allowed_providers: Option<String>,
    /// Billing category: user, project, partner_project or partner_customer.
    #[arg(long)]
    key_type: Option<String>,
    /// Markup in basis points (5000 = 50 %), or `default` for the key type's.
    #[arg(long)]
    markup_bps: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(long)]
    env: Option<String>,
    #[arg(long)]
    kind: Option<String>,
    /// active, expired or revoked.
    #[arg(long)]
    status: Option<String>,
    /// Substring of the name.
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    account: Option<String>,
    #[arg(long)]
    json: bool,
}

pub async fn run(config: Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.storage.url).await.with_context(|| {
        format!(
            "cannot open {}",
            tollgate::config::redact_url(&config.storage.url)
        )
    })?;
    let result = dispatch(&config, &store, cmd).await;
    store.close().await;
    result
}

async fn dispatch(config: &Config, store: &Store, cmd: KeysCommand) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    match cmd {
        KeysCommand::Create(args) => create(config, store, args).await,
        KeysCommand::List(args) => {
            let filter = KeyFilter {
                env: args.env.as_deref().map(parse_env).transpose()?,
                kind: args.kind.as_deref().map(parse_kind).transpose()?,
                status: args
                    .status
                    .as_deref()
                    .map(|s| {
                        s.parse()
                            .map_err(|_| anyhow!("--status {s:?}: use active, expired or revoked"))
                    })
                    .transpose()?,
                name: args.name,
                account_id: args.account,
            };
            let keys = store.list_keys(&filter, now).await?;
            if args.json {
                let list: Vec<_> = keys.iter().map(|k| k.public_view(now)).collect();
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
                        k.status(now).as_str(),
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
        KeysCommand::Update(args) => {
            let current = store
                .find_key(&args.id)
                .await?
                .with_context(|| no_such_key(&args.id))?;
            if let Some(name) = &args.name {
                key_service::check_name(name).map_err(|e| anyhow!("--name: {e}"))?;
            }
            let mut policy = current.policy.clone();
            let changed = args.policy.apply(&mut policy)?;
            let expires_at = match args.expires_in.as_deref() {
                None => None,
                Some("never") => Some(None),
                Some(text) => Some(Some(now + parse_duration("--expires-in", text)?)),
            };
            let record = key_service::update(
                store,
                &args.id,
                KeyUpdate {
                    name: args.name,
                    policy: changed.then_some(policy),
                    expires_at,
                },
            )
            .await?;
            broadcast(config, KeyChange::Key(record.kid.as_str().to_owned())).await;
            print_key(&record, args.json)
        }
        KeysCommand::Rotate { id, grace, json } => {
            let grace = match grace {
                Some(text) => parse_duration("--grace", &text)?,
                None => DEFAULT_ROTATION_GRACE,
            };
            let hasher = KeyHasher::new(&config.keys.load_pepper()?);
            let issued =
                key_service::rotate(store, &hasher, &config.keys.prefix, &id, grace).await?;
            broadcast(
                config,
                KeyChange::Key(issued.record.kid.as_str().to_owned()),
            )
            .await;
            print_issued(&issued.record, issued.key.expose(), json, "rotated")
        }
        KeysCommand::Revoke { id, json } => {
            let key = key_service::revoke(store, &id).await?;
            broadcast(config, KeyChange::Key(key.kid.as_str().to_owned())).await;
            if !json {
                eprintln!("revoked; running gateways refuse this key within a few seconds");
            }
            print_key(&key, json)
        }
    }
}

/// With `[redis]`, tells the running gateways at once (they also see the change by
/// polling the database within about `[keys] revocation_poll_ms`, so a failure here
/// only warns).
async fn broadcast(config: &Config, change: KeyChange) {
    let Some(redis) = &config.redis else {
        return;
    };
    let sent = match Cluster::open(redis.url.expose(), tollgate::cluster::KEY_PREFIX) {
        Ok(cluster) => cluster.publish_key_change(&change).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        eprintln!(
            "warning: could not broadcast the change over Redis ({e}); gateways will see it at their next database poll"
        );
    }
}

async fn create(config: &Config, store: &Store, args: CreateArgs) -> anyhow::Result<()> {
    key_service::check_name(&args.name).map_err(|e| anyhow!("--name: {e}"))?;
    let env = parse_env(&args.env)?;
    let kind = parse_kind(&args.kind)?;
    let expires_at = args
        .expires_in
        .as_deref()
        .map(|t| parse_duration("--expires-in", t).map(|d| OffsetDateTime::now_utc() + d))
        .transpose()?;
    let mut policy = KeyPolicy::default_for(kind);
    args.policy.apply(&mut policy)?;
    let hasher = KeyHasher::new(&config.keys.load_pepper()?);
    let issued = key_service::issue(
        store,
        &hasher,
        &config.keys.prefix,
        KeySpec {
            name: args.name,
            env,
            kind,
            account_id: args.account,
            expires_at,
            policy: Some(policy),
        },
    )
    .await?;
    print_issued(&issued.record, issued.key.expose(), args.json, "created")
}

impl PolicyArgs {
    /// Applies the given flags to `policy`; true if anything changed.
    fn apply(&self, policy: &mut KeyPolicy) -> anyhow::Result<bool> {
        let mut changed = false;
        if let Some(s) = &self.scopes {
            policy.scopes = split(s)
                .map(|n| n.parse().map_err(|e| anyhow!("--scopes: {e}")))
                .collect::<anyhow::Result<ScopeSet>>()?;
            changed = true;
        }
        match self.rate_limit.as_deref() {
            None if self.burst.is_some() => match &mut policy.rate_limit {
                Some(q) => {
                    q.burst = self.burst.unwrap_or(q.burst);
                    changed = true;
                }
                None => bail!("--burst needs a --rate-limit"),
            },
            None => {}
            Some("none") => {
                policy.rate_limit = None;
                changed = true;
            }
            Some(text) => {
                let (n, period) = text.split_once('/').ok_or_else(|| {
                    anyhow!("--rate-limit {text:?}: write REQUESTS/PERIOD, e.g. 100/minute")
                })?;
                let requests: u32 = n
                    .parse()
                    .map_err(|_| anyhow!("--rate-limit {text:?}: {n:?} is not a number"))?;
                let period: Period = period.parse().map_err(|_| {
                    anyhow!("--rate-limit {text:?}: period must be second, minute, hour or day")
                })?;
                policy.rate_limit = Some(Quota {
                    requests,
                    period,
                    burst: self.burst.unwrap_or(requests),
                });
                changed = true;
            }
        }
        match self.max_concurrency.as_deref() {
            None => {}
            Some("none") => {
                policy.max_concurrency = None;
                changed = true;
            }
            Some(n) => {
                policy.max_concurrency = Some(n.parse().map_err(|_| {
                    anyhow!("--max-concurrency {n:?}: a number of requests, or none")
                })?);
                changed = true;
            }
        }
        if let Some(list) = &self.ip_allow {
            let entries: Vec<String> = split(list).map(str::to_owned).collect();
            policy.ip_allowlist =
                IpAllowlist::parse(&entries).map_err(|e| anyhow!("--ip-allow: {e}"))?;
            changed = true;
        }
        if let Some(list) = &self.allowed_models {
            policy.allowed_models = split(list).map(str::to_owned).collect();
            changed = true;
        }
        if let Some(list) = &self.allowed_providers {
            policy.allowed_providers = split(list)
                .map(|p| {
                    p.parse::<ProviderKind>()
                        .map_err(|_| anyhow!("--allowed-providers: {p:?} is not openai, anthropic, gemini or deepgram"))
                })
                .collect::<anyhow::Result<_>>()?;
            changed = true;
        }
        if let Some(t) = &self.key_type {
            policy.key_type = t.parse().map_err(|e| anyhow!("--key-type: {e}"))?;
            changed = true;
        }
        match self.markup_bps.as_deref() {
            None => {}
            Some("default") => {
                policy.markup_bps = None;
                changed = true;
            }
            Some(n) => {
                policy.markup_bps = Some(n.parse().map_err(|_| {
                    anyhow!("--markup-bps {n:?}: basis points (5000 = 50 %), or default")
                })?);
                changed = true;
            }
        }
        Ok(changed)
    }
}

fn split(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_env(s: &str) -> anyhow::Result<KeyEnv> {
    s.parse()
        .map_err(|_| anyhow!("--env {s:?}: use live, stg or dev"))
}

fn parse_kind(s: &str) -> anyhow::Result<KeyKind> {
    s.parse().map_err(|_| anyhow!("--kind {s:?}: use sk or mk"))
}

/// A span from now, refused past 100 years: adding more to a date would leave the
/// calendar's range (a panic before this check).
fn parse_duration(flag: &str, text: &str) -> anyhow::Result<Duration> {
    const MAX: Duration = Duration::from_secs(100 * 365 * 86_400);
    let d = humantime::parse_duration(text)
        .with_context(|| format!("{flag} {text:?}: use a duration such as 30d, 12h or 90m"))?;
    if d > MAX {
        anyhow::bail!("{flag} {text:?}: must be at most 100 years");
    }
    Ok(d)
}

fn print_issued(record: &KeyRecord, key: &str, json: bool, what: &str) -> anyhow::Result<()> {
    if json {
        let mut v = record.public_view(OffsetDateTime::now_utc());
        v["key"] = key.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{key}");
        eprintln!(
            "{what} key {} (kid {}). This is the only time the key is shown: store it now.",
            record.id, record.kid
        );
    }
    Ok(())
}

fn print_key(key: &KeyRecord, json: bool) -> anyhow::Result<()> {
    let v = key.public_view(OffsetDateTime::now_utc());
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (k, val) in v.as_object().into_iter().flatten() {
            let text = val
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| val.to_string());
            println!("{k:<28} {text}");
        }
    }
    Ok(())
}

fn no_such_key(id: &str) -> String {
    format!("no key with id or kid {id:?}; `tollgate keys list` shows them")
}
