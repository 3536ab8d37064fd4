//! `tollgate secrets rotate`: a new master key for sealed secrets, and every
//! sealed row re-sealed under it.
//!
//! With the key file (no `[secrets] master_key`): a new key is put first in the
//! file (the old ones stay as previous keys, so a running gateway can still open
//! everything), every vault row is re-sealed under it, then the old keys are
//! retired from the file. Restart running gateways afterwards: they hold the old
//! key in memory. With a configured `master_key`: rows are re-sealed under the
//! configured current key (put the new key in `master_key` and the old one in
//! `previous_master_keys` first), then the operator removes `previous_master_keys`.

use anyhow::Context;
use clap::Subcommand;

use tollgate::Config;
use tollgate::seal::{MasterKeySource, Sealer, retire_previous_keys, rotate_key_file};
use tollgate::store::Store;

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Rotate the master key (key file) or re-seal under the configured one.
    Rotate,
}

pub async fn run(config: Config, cmd: SecretsCommand) -> anyhow::Result<()> {
    match cmd {
        SecretsCommand::Rotate => rotate(&config).await,
    }
}

async fn rotate(config: &Config) -> anyhow::Result<()> {
    let store = Store::open(&config.storage.url)
        .await
        .with_context(|| format!("cannot open {}", config.storage.url))?;
    let result = async {
        let source = &config.secrets.master_keys;
        let file = match source {
            MasterKeySource::File(path) => {
                let id = rotate_key_file(path).context("cannot rotate the master key file")?;
                eprintln!("new master key {id} put first in {}", path.display());
                Some(path)
            }
            MasterKeySource::Configured { .. } => None,
        };
        let sealer = Sealer::load(source).context("cannot load the master keys")?;
        let resealed = store
            .reseal_all(&sealer)
            .await
            .context("re-sealing the vault failed; nothing was changed, the old keys still open every row")?;
        eprintln!(
            "re-sealed {resealed} vault key(s) under master key {}",
            sealer.current_key_id()
        );
        match file {
            Some(path) => {
                let retired = retire_previous_keys(path).context("cannot retire the old keys")?;
                eprintln!(
                    "retired {retired} previous key(s); back up {} now, and restart running gateways",
                    path.display()
                );
            }
            None => eprintln!(
                "every row is sealed under the configured [secrets] master_key; remove [secrets] previous_master_keys and restart"
            ),
        }
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result
}
