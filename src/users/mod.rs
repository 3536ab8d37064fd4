//! End users: people who register with an email and a password, log in for a JWT,
//! and call every gateway endpoint with it as an end-user [`Principal`].
//!
//! - `email`: the address, parsed and lower-cased once.
//! - `password`: argon2id on a blocking thread; a dummy hash for unknown emails.
//! - `token`: JWT HS256 issue and verify.
//! - `brake`: the login brake (10 failures per 15 minutes per email and per network).
//!
//! [`Users::authenticate`] is the hot path: verify the signature (no I/O), check the
//! jti denylist (memory), then the user's state from a cache (memory on a hit). The
//! cache is invalidated at once by this process's disable/delete, and by a poller
//! for changes made elsewhere (the CLI, another instance), like the key cache. The
//! denylist is loaded from the store at start and kept current by the same poller.
//!
//! Must not: log or return a password, a hash or a token.

pub mod brake;
pub mod email;
pub mod password;
pub mod token;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::auth::{AuthError, Braked, Caller, EndUser, Principal};
use crate::config::Config;
use crate::domain::gcra::Quota;
use crate::keys::{KeyEnv, KeyId, KeyKind, KeyPolicy, Scope, ScopeSet, SecretHash};
use crate::secret::Secret;
use crate::store::{KeyRecord, Store, StoreError, UserRecord};

pub use brake::LoginBrake;
pub use email::{Email, InvalidEmail};
pub use token::{Claims, Tokens, looks_like_jwt};

/// What an end user may call: the gateway families and their own usage.
pub const USER_SCOPES: [Scope; 6] = [
    Scope::Chat,
    Scope::Completions,
    Scope::Embeddings,
    Scope::Images,
    Scope::Audio,
    Scope::Analytics,
];

/// The account id an end user's principal and usage rows carry: never a real
/// account (those ids are chosen by operators or UUIDs), so account-wide views of
/// real accounts never include users, and a user's own view is only theirs.
pub fn user_account_id(user_id: &str) -> String {
    format!("user:{user_id}")
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error(
        "`password` must be at least {} characters and at most {} bytes",
        password::MIN_PASSWORD_CHARS,
        password::MAX_PASSWORD_BYTES
    )]
    BadPassword,
    #[error("an account with this email already exists; log in with POST /auth/login")]
    EmailTaken,
    /// One answer for a wrong password and an unknown email.
    #[error("the email or password is not correct")]
    BadCredentials,
    #[error("this user account is disabled; ask the operator to enable it")]
    Disabled,
    #[error("too many failed logins")]
    Braked(Braked),
    #[error("no user with id `{0}`")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error(transparent)]
    Token(#[from] token::TokenError),
}

/// A logged-in session, as register and login answer it.
#[derive(Debug)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub token: Secret<String>,
    pub expires_in: u64,
}

/// A user's state as the hot path needs it.
#[derive(Clone)]
enum UserState {
    /// Active, with the principal record built once.
    Active {
        email: Arc<str>,
        record: Arc<KeyRecord>,
    },
    Disabled,
    Gone,
}

/// The end-user service. Cheap to clone.
#[derive(Clone)]
pub struct Users(Arc<Inner>);

struct Inner {
    store: Store,
    tokens: Tokens,
    rate_limit: Quota,
    brake: LoginBrake,
    states: moka::future::Cache<String, UserState>,
    /// Revoked jtis, each kept at most one token lifetime (longer than any token
    /// it denies has left).
    denied: moka::sync::Cache<String, ()>,
    dummy: tokio::sync::OnceCell<String>,
}

/// Users whose state is cached at once.
const STATE_CAPACITY: u64 = 100_000;
/// Revoked tokens remembered at once.
const DENIED_CAPACITY: u64 = 1_000_000;

impl Users {
    pub fn new(store: Store, config: &Config, secret: &Secret<Vec<u8>>) -> Users {
        let ttl = config.auth.jwt_ttl;
        Users(Arc::new(Inner {
            store,
            tokens: Tokens::new(secret, ttl),
            rate_limit: config.auth.user_rate_limit,
            brake: LoginBrake::new(),
            states: moka::future::Cache::builder()
                .max_capacity(STATE_CAPACITY)
                // A backstop behind the poller: a change it missed still shows.
                .time_to_live(config.keys.cache_ttl.max(Duration::from_secs(1)))
                .build(),
            denied: moka::sync::Cache::builder()
                .max_capacity(DENIED_CAPACITY)
                .time_to_live(ttl)
                .build(),
            dummy: tokio::sync::OnceCell::new(),
        }))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    pub fn ttl(&self) -> Duration {
        self.0.tokens.ttl()
    }

    /// Loads the denylist and starts the poller that keeps the state cache and the
    /// denylist current with changes made by other processes.
    pub async fn spawn_background(
        &self,
        every: Duration,
    ) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        let now = OffsetDateTime::now_utc();
        for (jti, _) in self.0.store.revoked_tokens_since(0, now).await? {
            self.0.denied.insert(jti, ());
        }
        let users = self.clone();
        let mut since = crate::store::records_ms(now);
        Ok(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(50)));
            loop {
                tick.tick().await;
                // Overlap a little: a change committed while we polled is seen next time.
                let started = crate::store::records_ms(OffsetDateTime::now_utc()) - 1_000;
                let store = &users.0.store;
                match store.users_changed_since(since).await {
                    Ok(ids) => {
                        for id in ids {
                            users.0.states.invalidate(&id).await;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "user change poll failed");
                        continue;
                    }
                }
                match store
                    .revoked_tokens_since(since, OffsetDateTime::now_utc())
                    .await
                {
                    Ok(revoked) => {
                        for (jti, _) in revoked {
                            users.0.denied.insert(jti, ());
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "revoked token poll failed");
                        continue;
                    }
                }
                since = started;
            }
        }))
    }

    /// `POST /auth/register`.
    pub async fn register(&self, email: &str, password: String) -> Result<Session, UserError> {
        let email = Email::parse(email)?;
        check_password(&password)?;
        let hash = password::hash(Secret::new(password)).await?;
        let now = OffsetDateTime::now_utc();
        let user = UserRecord {
            id: new_user_id(),
            email: email.as_str().to_owned(),
            password_hash: hash,
            created_at: now,
            updated_at: now,
            disabled_at: None,
            deleted_at: None,
        };
        match self.0.store.create_user(&user).await {
            Err(StoreError::Conflict(_)) => return Err(UserError::EmailTaken),
            other => other?,
        }
        tracing::info!(user = %user.id, "user registered");
        self.session(&user.id, &user.email, now)
    }

    /// `POST /auth/login`: one answer ([`UserError::BadCredentials`]) for a wrong
    /// password and an unknown email, at the same cost (a dummy hash is checked).
    pub async fn login(
        &self,
        email: &str,
        password: String,
        client: IpAddr,
    ) -> Result<Session, UserError> {
        let normalised = email.trim().to_lowercase();
        let attempt = self
            .0
            .brake
            .attempt(&normalised, client)
            .map_err(UserError::Braked)?;
        let found = match Email::parse(&normalised) {
            Ok(e) => self.0.store.user_by_email(e.as_str()).await?,
            Err(_) => None,
        };
        let hash = match &found {
            Some(u) => u.password_hash.clone(),
            None => self.dummy_hash().await?,
        };
        let too_long = password.len() > password::MAX_PASSWORD_BYTES;
        let matched = !too_long && password::verify(Secret::new(password), hash).await?;
        let user = match found {
            Some(u) if matched => u,
            _ => {
                drop(attempt);
                return Err(UserError::BadCredentials);
            }
        };
        attempt.refund();
        if user.disabled_at.is_some() {
            return Err(UserError::Disabled);
        }
        self.session(&user.id, &user.email, OffsetDateTime::now_utc())
    }

    /// `POST /auth/logout`: denies the principal's token until it expires.
    pub async fn logout(&self, user: &EndUser) -> Result<(), UserError> {
        self.0
            .store
            .revoke_token(&user.jti, user.expires_at, OffsetDateTime::now_utc())
            .await?;
        self.0.denied.insert(user.jti.clone(), ());
        Ok(())
    }

    /// A presented login token → the end-user principal. In memory on a cache hit.
    pub async fn authenticate(&self, presented: &str) -> Result<Principal, AuthError> {
        let claims = self
            .0
            .tokens
            .verify(presented)
            .ok_or(AuthError::InvalidToken)?;
        if self.0.denied.contains_key(&claims.jti) {
            return Err(AuthError::InvalidToken);
        }
        let state = self
            .0
            .states
            .try_get_with(claims.sub.clone(), self.load_state(&claims.sub))
            .await
            .map_err(|e| AuthError::Store(StoreError::Lookup(e)))?;
        match state {
            UserState::Active { email, record } => Ok(Principal {
                key: record,
                caller: Caller::User(Arc::new(EndUser {
                    id: claims.sub,
                    email: email.to_string(),
                    jti: claims.jti,
                    expires_at: OffsetDateTime::from_unix_timestamp(claims.exp)
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                })),
            }),
            UserState::Disabled => Err(AuthError::AccountDisabled),
            UserState::Gone => Err(AuthError::InvalidToken),
        }
    }

    async fn load_state(&self, id: &str) -> Result<UserState, StoreError> {
        let Some(user) = self.0.store.user(id).await? else {
            return Ok(UserState::Gone);
        };
        if user.deleted_at.is_some() {
            return Ok(UserState::Gone);
        }
        if user.disabled_at.is_some() {
            return Ok(UserState::Disabled);
        }
        let Some(record) = self.principal_record(&user) else {
            return Ok(UserState::Gone);
        };
        Ok(UserState::Active {
            email: user.email.as_str().into(),
            record: Arc::new(record),
        })
    }

    /// The key-shaped record policy and metering read for an end user.
    fn principal_record(&self, user: &UserRecord) -> Option<KeyRecord> {
        let kid = KeyId::parse(&user.id).ok()?;
        let mut policy = KeyPolicy::default_for(KeyKind::Sk);
        policy.scopes = USER_SCOPES.into_iter().collect::<ScopeSet>();
        policy.rate_limit = Some(self.0.rate_limit);
        // The user pays the provider: nothing is marked up.
        policy.markup_bps = Some(0);
        Some(KeyRecord {
            id: user.id.clone(),
            kid,
            account_id: user_account_id(&user.id),
            account_disabled: false,
            name: user.email.clone(),
            env: KeyEnv::Live,
            kind: KeyKind::Sk,
            secret_hash: SecretHash([0; 32]),
            prev_secret_hash: None,
            prev_secret_expires_at: None,
            policy,
            created_at: user.created_at,
            updated_at: user.updated_at,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
        })
    }

    /// Disables or enables a user; their tokens stop (or start) working at once here.
    pub async fn set_disabled(&self, id: &str, disabled: bool) -> Result<UserRecord, UserError> {
        if !self
            .0
            .store
            .set_user_disabled(id, disabled, OffsetDateTime::now_utc())
            .await?
        {
            return Err(UserError::NotFound(id.to_owned()));
        }
        self.0.states.invalidate(id).await;
        self.show(id).await
    }

    /// Deletes a user and their vault keys; their tokens stop working at once here.
    pub async fn delete(&self, id: &str) -> Result<(), UserError> {
        let deleted = self
            .0
            .store
            .delete_user(id, OffsetDateTime::now_utc())
            .await?;
        self.0.states.invalidate(id).await;
        if !deleted {
            return Err(UserError::NotFound(id.to_owned()));
        }
        tracing::info!(user = %id, "user deleted");
        Ok(())
    }

    pub async fn show(&self, id: &str) -> Result<UserRecord, UserError> {
        match self.0.store.user(id).await? {
            Some(u) if u.deleted_at.is_none() => Ok(u),
            _ => Err(UserError::NotFound(id.to_owned())),
        }
    }

    pub async fn list(&self) -> Result<Vec<UserRecord>, UserError> {
        Ok(self.0.store.list_users().await?)
    }

    fn session(&self, id: &str, email: &str, now: OffsetDateTime) -> Result<Session, UserError> {
        let (token, _) = self.0.tokens.issue(id, now)?;
        Ok(Session {
            user_id: id.to_owned(),
            email: email.to_owned(),
            token: Secret::new(token),
            expires_in: self.0.tokens.ttl().as_secs(),
        })
    }

    async fn dummy_hash(&self) -> Result<String, UserError> {
        Ok(self
            .0
            .dummy
            .get_or_try_init(password::dummy_hash)
            .await?
            .clone())
    }
}

fn check_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < password::MIN_PASSWORD_CHARS
        || password.len() > password::MAX_PASSWORD_BYTES
    {
        return Err(UserError::BadPassword);
    }
    Ok(())
}

/// A user id: 12 base62 characters, the shape of a key's kid, so the principal's
/// kid (rate-limit bucket, usage rows) is the user id itself.
fn new_user_id() -> String {
    use rand::Rng;
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..crate::keys::format::KID_LEN)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect()
}
