//! `tollgate accounts …`: the same operations as `/admin/accounts`, on the database.

use anyhow::Context;
use clap::Subcommand;
use time::OffsetDateTime;

use tollgate::Config;
use tollgate::metering::money::{Currency, MicroUnits};
use tollgate::store::{Account, BillingMode, Store};

#[derive(Subcommand, Debug)]
pub enum AccountsCommand {
    /// Create an account.
    Create {
        #[arg(long)]
        name: String,
        /// Optional id (letters, digits, - and _); a UUID otherwise.
        #[arg(long)]
        id: Option<String>,
    },
    /// List accounts.
    List,
    /// Show one account.
    Show { id: String },
    /// Disable an account: all its keys answer 401 account_disabled.
    Disable { id: String },
    /// Enable a disabled account.
    Enable { id: String },
    /// Add funds (a decimal amount in the account currency; negative corrects).
    /// Running gateways see the new balance within seconds.
    Credit {
        id: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Set the account's currency and/or billing mode (prepaid or postpaid).
    Billing {
        id: String,
        #[arg(long)]
        currency: Option<String>,
        #[arg(long)]
        mode: Option<String>,
    },
}

pub async fn run(config: Config, cmd: AccountsCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.storage.url).await.with_context(|| {
        format!(
            "cannot open {}",
            tollgate::config::redact_url(&config.storage.url)
        )
    })?;
    let result = dispatch(&store, cmd).await;
    store.close().await;
    result
}

async fn dispatch(store: &Store, cmd: AccountsCommand) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let show = |a: &Account| -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(&a.public_view())?);
        Ok(())
    };
    match cmd {
        AccountsCommand::Create { name, id } => {
            tollgate::key_service::check_name(&name).map_err(|e| anyhow::anyhow!("--name: {e}"))?;
            let account = Account {
                id: id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                name,
                created_at: now,
                disabled_at: None,
            };
            store.create_account(&account).await?;
            show(&account)
        }
        AccountsCommand::List => {
            let list: Vec<_> = store
                .list_accounts()
                .await?
                .iter()
                .map(Account::public_view)
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(())
        }
        AccountsCommand::Show { id } => show(&find(store, &id).await?),
        AccountsCommand::Disable { id } => {
            find(store, &id).await?;
            store.set_account_disabled(&id, true, now).await?;
            show(&find(store, &id).await?)
        }
        AccountsCommand::Credit { id, amount, note } => {
            let amount = MicroUnits::parse_decimal(&amount)
                .map_err(|e| anyhow::anyhow!("--amount {amount:?}: {e}"))?;
            let balance = store
                .credit_account(&id, amount.0, "cli", &note, now)
                .await
                .map_err(|e| match e {
                    tollgate::store::StoreError::OutOfRange(why) => {
                        anyhow::anyhow!("--amount {}: {why}", amount.to_decimal_string())
                    }
                    e => e.into(),
                })?
                .with_context(|| format!("no account with id {id:?}"))?;
            println!("{}", MicroUnits(balance).to_decimal_string());
            Ok(())
        }
        AccountsCommand::Billing { id, currency, mode } => {
            let mode = mode
                .as_deref()
                .map(|m| {
                    m.parse::<BillingMode>()
                        .map_err(|_| anyhow::anyhow!("--mode {m:?}: use prepaid or postpaid"))
                })
                .transpose()?;
            if let Some(c) = &currency {
                Currency::parse(c).map_err(|e| anyhow::anyhow!("--currency {c:?}: {e}"))?;
            }
            find(store, &id).await?;
            store
                .set_account_billing(&id, currency.as_deref(), mode)
                .await?;
            show(&find(store, &id).await?)
        }
        AccountsCommand::Enable { id } => {
            find(store, &id).await?;
            store.set_account_disabled(&id, false, now).await?;
            show(&find(store, &id).await?)
        }
    }
}

async fn find(store: &Store, id: &str) -> anyhow::Result<Account> {
    store
        .account(id)
        .await?
        .with_context(|| format!("no account with id {id:?}; `tollgate accounts list` shows them"))
}
