//! `tollgate users list|show|disable|enable|delete`: the same operations as
//! `/admin/users`, straight on the database. Running gateways see a disable or a
//! delete within `[keys] revocation_poll_ms` (their user-state poller).

use anyhow::Context;
use clap::Subcommand;
use time::OffsetDateTime;

use tollgate::Config;
use tollgate::store::{Store, UserRecord};

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// List end users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one user.
    Show { id: String },
    /// Disable a user: their login tokens stop working.
    Disable { id: String },
    /// Enable a disabled user.
    Enable { id: String },
    /// Delete a user and every key in their vault.
    Delete { id: String },
}

pub async fn run(config: Config, cmd: UsersCommand) -> anyhow::Result<()> {
    let store = Store::open(&config.storage.url)
        .await
        .with_context(|| format!("cannot open {}", config.storage.url))?;
    let result = dispatch(&store, cmd).await;
    store.close().await;
    result
}

async fn dispatch(store: &Store, cmd: UsersCommand) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let missing =
        |id: &str| anyhow::anyhow!("no user with id `{id}`; `tollgate users list` shows them");
    let show = |u: &UserRecord| -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(&u.public_view())?);
        Ok(())
    };
    let live = |u: Option<UserRecord>| u.filter(|u| u.deleted_at.is_none());
    match cmd {
        UsersCommand::List { json } => {
            let users = store.list_users().await?;
            if json {
                let list: Vec<_> = users.iter().map(UserRecord::public_view).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for u in &users {
                    let status = if u.disabled_at.is_some() {
                        "disabled"
                    } else {
                        "active"
                    };
                    println!("{}  {:8}  {}", u.id, status, u.email);
                }
            }
            Ok(())
        }
        UsersCommand::Show { id } => {
            show(&live(store.user(&id).await?).ok_or_else(|| missing(&id))?)
        }
        UsersCommand::Disable { id } => {
            if !store.set_user_disabled(&id, true, now).await? {
                return Err(missing(&id));
            }
            show(&live(store.user(&id).await?).ok_or_else(|| missing(&id))?)
        }
        UsersCommand::Enable { id } => {
            if !store.set_user_disabled(&id, false, now).await? {
                return Err(missing(&id));
            }
            show(&live(store.user(&id).await?).ok_or_else(|| missing(&id))?)
        }
        UsersCommand::Delete { id } => {
            if !store.delete_user(&id, now).await? {
                return Err(missing(&id));
            }
            eprintln!("deleted user {id} and the keys in their vault");
            Ok(())
        }
    }
}
