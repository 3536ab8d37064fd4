//! Sealing: authenticated encryption of the secrets Tollgate must be able to read back
//! (end users' provider keys in the vault, connection credentials, webhook signing
//! secrets). API keys and passwords are hashed instead and never come here.
//!
//! XChaCha20-Poly1305 (DESIGN §5): a 24-byte random nonce per seal, so nonces never
//! need a counter and never repeat in practice. A sealed value is text, portable to
//! every store:
//!
//! ```text
//! tgs1.<key id: 8 hex>.<base64url, no padding: nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes)>
//! ```
//!
//! - The **key id** is the first 4 bytes of SHA-256 over the master key: it names the
//!   key that sealed a value without revealing anything about it, so values sealed
//!   before a rotation still open with the previous key.
//! - The **associated data** binds a ciphertext to its place (`b"vault:<row id>"`):
//!   a value copied into another row, or another table, fails to open.
//!
//! Master keys come from `[secrets] master_key` (current) and
//! `[secrets] previous_master_keys` (still accepted for opening), each 32 bytes as 64
//! hex digits or standard base64; without them, from `<data dir>/tollgate.master_key`,
//! generated with owner-only permissions on first use. That file holds one key per
//! line, current first. Rotation: [`rotate_key_file`] (or a new `master_key` with the
//! old one moved to `previous_master_keys`), then every store re-seals the rows for
//! which [`Sealer::needs_reseal`] holds, then the previous keys are retired.
//!
//! Must not: log, display or return a plaintext or a key; every plaintext leaves as
//! [`Secret`].

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

const PREFIX: &str = "tgs1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// Why a master key or a sealed value was refused. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("a master key must be 32 bytes, written as 64 hex digits or standard base64")]
    BadKey,
    #[error("not a sealed value (expected `tgs1.<key id>.<data>`)")]
    Malformed,
    #[error(
        "sealed under master key {0}, which is not configured; restore it to [secrets] previous_master_keys or the key file"
    )]
    UnknownKey(String),
    #[error("the sealed value does not open: it was altered, or belongs to another record")]
    Tampered,
    #[error("master key file {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the master keys come from (`[secrets]`).
#[derive(Debug, Clone)]
pub enum MasterKeySource {
    /// `master_key` and `previous_master_keys`, as configured.
    Configured {
        current: Secret<String>,
        previous: Vec<Secret<String>>,
    },
    /// The generated key file (created on first use).
    File(PathBuf),
}

struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl MasterKey {
    fn parse(text: &str) -> Result<MasterKey, SealError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| SealError::BadKey)?
        } else {
            STANDARD.decode(text).map_err(|_| SealError::BadKey)?
        };
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Ok(MasterKey {
            id,
            cipher: XChaCha20Poly1305::new(&Key::from(bytes)),
        })
    }
}

/// Seals and opens secrets under the current master key; opens with previous ones.
pub struct Sealer {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Sealer {
    /// Loads the keys from `source`, creating the key file on first use.
    pub fn load(source: &MasterKeySource) -> Result<Sealer, SealError> {
        match source {
            MasterKeySource::Configured { current, previous } => Ok(Sealer {
                current: MasterKey::parse(current.expose())?,
                previous: previous
                    .iter()
                    .map(|k| MasterKey::parse(k.expose()))
                    .collect::<Result<_, _>>()?,
            }),
            MasterKeySource::File(path) => {
                let lines = read_or_create_key_file(path)?;
                Sealer::from_lines(&lines)
            }
        }
    }

    fn from_lines(lines: &[String]) -> Result<Sealer, SealError> {
        let mut keys = lines.iter().map(|l| MasterKey::parse(l));
        let current = keys.next().ok_or(SealError::BadKey)??;
        Ok(Sealer {
            current,
            previous: keys.collect::<Result<_, _>>()?,
        })
    }

    /// A sealer with one fresh random key, for tests and throwaway setups.
    pub fn ephemeral() -> Sealer {
        #[allow(clippy::expect_used, reason = "64 hex digits always parse")]
        let current = MasterKey::parse(&random_key_hex()).expect("a fresh key parses");
        Sealer {
            current,
            previous: Vec::new(),
        }
    }

    /// The id of the key new values are sealed under (safe to log).
    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext`, bound to `aad` (the record it belongs to).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from(nonce_bytes);
        #[allow(
            clippy::expect_used,
            reason = "XChaCha20-Poly1305 encryption fails only past 256 GiB per message"
        )]
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("encryption of a small secret cannot fail");
        let mut data = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        data.extend_from_slice(&nonce_bytes);
        data.extend_from_slice(&ciphertext);
        format!(
            "{PREFIX}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(data)
        )
    }

    /// Opens a value sealed by [`Sealer::seal`] with the same `aad`, under the current
    /// or a previous key.
    pub fn open(&self, aad: &[u8], sealed: &str) -> Result<Secret<Vec<u8>>, SealError> {
        let (key_id, data) = split(sealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let data = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| SealError::Malformed)?;
        if data.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Malformed);
        }
        let (nonce, ciphertext) = data.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Malformed)?;
        key.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Secret::new)
            .map_err(|_| SealError::Tampered)
    }

    /// Opens a sealed UTF-8 string (a provider key, a token).
    pub fn open_string(&self, aad: &[u8], sealed: &str) -> Result<Secret<String>, SealError> {
        let bytes = self.open(aad, sealed)?;
        String::from_utf8(bytes.expose().clone())
            .map(Secret::new)
            .map_err(|_| SealError::Tampered)
    }

    /// True when `sealed` was sealed under another key than the current one: a store
    /// re-seals such rows after a rotation (open, then [`Sealer::seal`]).
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        split(sealed).is_ok_and(|(id, _)| id != self.current.id)
    }

    /// Opens `sealed` and seals it again under the current key; `None` when it already is.
    pub fn reseal(&self, aad: &[u8], sealed: &str) -> Result<Option<String>, SealError> {
        if !self.needs_reseal(sealed) {
            return Ok(None);
        }
        let plain = self.open(aad, sealed)?;
        Ok(Some(self.seal(aad, plain.expose())))
    }
}

fn split(sealed: &str) -> Result<(&str, &str), SealError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(PREFIX), Some(id), Some(data)) if id.len() == 8 => Ok((id, data)),
        _ => Err(SealError::Malformed),
    }
}

fn random_key_hex() -> String {
    let key: [u8; 32] = rand::random();
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn key_file_error(path: &Path) -> impl Fn(std::io::Error) -> SealError + '_ {
    move |source| SealError::KeyFile {
        path: path.to_owned(),
        source,
    }
}

fn read_or_create_key_file(path: &Path) -> Result<Vec<String>, SealError> {
    let err = key_file_error(path);
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(&err)?;
    }
    match owner_only().write(true).create_new(true).open(path) {
        Ok(mut f) => {
            let key = random_key_hex();
            f.write_all(format!("{key}\n").as_bytes()).map_err(&err)?;
            f.sync_all().map_err(&err)?;
            Ok(vec![key])
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(&err)?;
            let lines: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            if lines.is_empty() {
                return Err(err(std::io::Error::other(
                    "the file is empty; restore it from backup (sealed secrets cannot be opened without it)",
                )));
            }
            Ok(lines)
        }
        Err(e) => Err(err(e)),
    }
}

fn owner_only() -> std::fs::OpenOptions {
    #[allow(unused_mut, reason = "the mode is set on unix only")]
    let mut opts = std::fs::OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Puts a fresh key first in the key file, keeping the old ones as previous keys, and
/// returns the new key's id. Atomic: written to a temporary file beside it, then renamed.
pub fn rotate_key_file(path: &Path) -> Result<String, SealError> {
    let mut lines = read_or_create_key_file(path)?;
    let key = random_key_hex();
    let id = MasterKey::parse(&key)?.id;
    lines.insert(0, key);
    write_key_file(path, &lines)?;
    Ok(id)
}

/// Keeps only the current key in the key file (after every store re-sealed).
pub fn retire_previous_keys(path: &Path) -> Result<usize, SealError> {
    let lines = read_or_create_key_file(path)?;
    let retired = lines.len().saturating_sub(1);
    write_key_file(path, &lines[..1])?;
    Ok(retired)
}

fn write_key_file(path: &Path, lines: &[String]) -> Result<(), SealError> {
    let err = key_file_error(path);
    let tmp = path.with_extension("rotating");
    let _ = std::fs::remove_file(&tmp);
    let mut f = owner_only()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(&err)?;
    let mut text = lines.join("\n");
    text.push('\n');
    f.write_all(text.as_bytes()).map_err(&err)?;
    f.sync_all().map_err(&err)?;
    std::fs::rename(&tmp, path).map_err(&err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(current: &str, previous: &[&str]) -> MasterKeySource {
        MasterKeySource::Configured {
            current: Secret::new(current.to_owned()),
            previous: previous
                .iter()
                .map(|k| Secret::new((*k).to_owned()))
                .collect(),
        }
    }

    const K1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_sealed_value_opens_with_its_aad_only() {
        let s = Sealer::load(&configured(K1, &[])).unwrap();
        let sealed = s.seal(b"vault:1", b"sk-secret");
        assert!(sealed.starts_with(&format!("tgs1.{}.", s.current_key_id())));
        assert!(!sealed.contains("sk-secret"));
        assert_eq!(s.open(b"vault:1", &sealed).unwrap().expose(), b"sk-secret");
        assert!(matches!(
            s.open(b"vault:2", &sealed),
            Err(SealError::Tampered)
        ));
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let s = Sealer::ephemeral();
        assert_ne!(s.seal(b"a", b"x"), s.seal(b"a", b"x"));
    }

    #[test]
    fn a_flipped_bit_is_refused() {
        let s = Sealer::ephemeral();
        let sealed = s.seal(b"a", b"secret value");
        let (head, data) = sealed.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(data).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert!(matches!(s.open(b"a", &forged), Err(SealError::Tampered)));
        assert!(matches!(s.open(b"a", "tgs1.zz"), Err(SealError::Malformed)));
        assert!(matches!(
            s.open(b"a", "plain text"),
            Err(SealError::Malformed)
        ));
    }

    #[test]
    fn base64_and_hex_keys_are_the_same_key() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let a = Sealer::load(&configured(K1, &[])).unwrap();
        let b = Sealer::load(&configured(&STANDARD.encode(&bytes), &[])).unwrap();
        assert_eq!(a.current_key_id(), b.current_key_id());
        assert_eq!(b.open(b"x", &a.seal(b"x", b"v")).unwrap().expose(), b"v");
        assert!(matches!(
            Sealer::load(&configured("short", &[])),
            Err(SealError::BadKey)
        ));
    }

    #[test]
    fn rotation_opens_old_values_and_reseals_them() {
        let old = Sealer::load(&configured(K1, &[])).unwrap();
        let sealed = old.seal(b"row", b"token");
        let k2 = random_key_hex();
        let new = Sealer::load(&configured(&k2, &[K1])).unwrap();
        assert!(new.needs_reseal(&sealed));
        let resealed = new.reseal(b"row", &sealed).unwrap().unwrap();
        assert!(!new.needs_reseal(&resealed));
        assert_eq!(new.reseal(b"row", &resealed).unwrap(), None);
        assert_eq!(new.open(b"row", &resealed).unwrap().expose(), b"token");
        let only_new = Sealer::load(&configured(&k2, &[])).unwrap();
        assert!(matches!(
            only_new.open(b"row", &sealed),
            Err(SealError::UnknownKey(id)) if id == old.current_key_id()
        ));
    }

    #[test]
    fn the_key_file_is_created_once_private_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/tollgate.master_key");
        let source = MasterKeySource::File(path.clone());
        let a = Sealer::load(&source).unwrap();
        let sealed = a.seal(b"r", b"v");
        let b = Sealer::load(&source).unwrap();
        assert_eq!(a.current_key_id(), b.current_key_id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let new_id = rotate_key_file(&path).unwrap();
        let c = Sealer::load(&source).unwrap();
        assert_eq!(c.current_key_id(), new_id);
        assert!(c.needs_reseal(&sealed));
        let resealed = c.reseal(b"r", &sealed).unwrap().unwrap();
        assert_eq!(retire_previous_keys(&path).unwrap(), 1);
        let d = Sealer::load(&source).unwrap();
        assert_eq!(d.open(b"r", &resealed).unwrap().expose(), b"v");
        assert!(d.open(b"r", &sealed).is_err());
    }

    #[test]
    fn debug_shows_key_ids_only() {
        let s = Sealer::load(&configured(K1, &[])).unwrap();
        let text = format!("{s:?}");
        assert!(text.contains(s.current_key_id()));
        assert!(!text.contains("0001020304"));
    }
}
