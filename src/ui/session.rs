//! Dashboard sessions, in memory: an opaque random id (the cookie) maps to the
//! management key's kid (never its secret), a per-session CSRF token, and the
//! times that bound it (idle and absolute expiry, from `[ui]`). Ids are 256-bit random values
//! (nothing to guess); the CSRF token is compared in constant time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use subtle::ConstantTimeEq;

use crate::keys::KeyId;

/// Sessions held at once; signing in past it drops the oldest.
const CAPACITY: usize = 10_000;

/// The cookie value: 32 random bytes, base64url.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// What a live session knows.
#[derive(Clone)]
pub struct Session {
    /// The management key that signed in; re-checked on every request.
    pub kid: KeyId,
    /// Sent back in `X-CSRF-Token` on every mutation.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

/// The session table. Cloning shares it.
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<SessionId, Session>>>,
    idle: Duration,
    max: Duration,
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    /// A table whose sessions end after `idle` without use or `max` after
    /// sign-in (`[ui] idle_timeout_secs`, `session_ttl_secs`).
    pub fn new(idle: Duration, max: Duration) -> Self {
        Sessions {
            inner: Arc::default(),
            idle,
            max,
        }
    }

    /// The configured idle and absolute lifetimes.
    pub fn lifetimes(&self) -> (Duration, Duration) {
        (self.idle, self.max)
    }

    /// A new session for `kid`, signed in at `now`.
    pub fn create(&self, kid: KeyId, now: Instant) -> (SessionId, Session) {
        let id = SessionId(random_token());
        let session = Session {
            kid,
            csrf: random_token(),
            created: now,
            last_seen: now,
        };
        let mut map = self.inner.lock();
        self.sweep(&mut map, now);
        if map.len() >= CAPACITY
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session for cookie value `id` at `now` (touching it), or `None`
    /// when unknown or expired (an expired one is removed).
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let key = SessionId(id.to_owned());
        let mut map = self.inner.lock();
        let live = map.get(&key).is_some_and(|s| self.alive(s, now));
        if !live {
            map.remove(&key);
            return None;
        }
        let session = map.get_mut(&key)?;
        session.last_seen = now;
        Some(session.clone())
    }

    /// Signs out: the cookie value stops working at once.
    pub fn remove(&self, id: &str) {
        self.inner.lock().remove(&SessionId(id.to_owned()));
    }

    /// Ends every session of `kid` (its key was revoked or changed kind).
    pub fn remove_kid(&self, kid: &KeyId) {
        self.inner.lock().retain(|_, s| &s.kid != kid);
    }

    pub fn len(&self) -> usize {
        self.inner.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn alive(&self, s: &Session, now: Instant) -> bool {
        now.saturating_duration_since(s.last_seen) < self.idle
            && now.saturating_duration_since(s.created) < self.max
    }

    fn sweep(&self, map: &mut HashMap<SessionId, Session>, now: Instant) {
        map.retain(|_, s| self.alive(s, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kid() -> KeyId {
        KeyId::parse("abcdefgh1234").unwrap()
    }

    #[test]
    fn a_session_ends_after_its_idle_time_without_use() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let t0 = Instant::now();
        let (id, _) = sessions.create(kid(), t0);
        assert!(
            sessions
                .get(id.as_str(), t0 + Duration::from_secs(59))
                .is_some()
        );
        // Used at 59 s: idle counts from there.
        assert!(
            sessions
                .get(id.as_str(), t0 + Duration::from_secs(118))
                .is_some()
        );
        assert!(
            sessions
                .get(id.as_str(), t0 + Duration::from_secs(178))
                .is_none()
        );
        // Gone for good, not just refused once.
        assert!(sessions.is_empty());
        assert!(sessions.get(id.as_str(), t0).is_none());
    }

    #[test]
    fn a_busy_session_still_ends_at_its_absolute_lifetime() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(150));
        let t0 = Instant::now();
        let (id, _) = sessions.create(kid(), t0);
        for s in [50, 100, 149] {
            assert!(
                sessions
                    .get(id.as_str(), t0 + Duration::from_secs(s))
                    .is_some()
            );
        }
        assert!(
            sessions
                .get(id.as_str(), t0 + Duration::from_secs(150))
                .is_none()
        );
    }

    #[test]
    fn ids_and_csrf_tokens_are_random_and_distinct_and_checked_whole() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let now = Instant::now();
        let (a, sa) = sessions.create(kid(), now);
        let (b, sb) = sessions.create(kid(), now);
        assert_ne!(a.as_str(), b.as_str());
        assert_ne!(sa.csrf, sb.csrf);
        assert_ne!(a.as_str(), sa.csrf);
        assert_eq!(a.as_str().len(), 43, "32 bytes, base64url");
        assert!(sa.csrf_matches(&sa.csrf.clone()));
        assert!(!sa.csrf_matches(&sb.csrf));
        assert!(!sa.csrf_matches(&sa.csrf[..42]));
        assert!(!sa.csrf_matches(""));
        sessions.remove(a.as_str());
        assert!(sessions.get(a.as_str(), now).is_none());
        assert!(sessions.get(b.as_str(), now).is_some());
        sessions.remove_kid(&kid());
        assert!(sessions.get(b.as_str(), now).is_none());
    }

    #[test]
    fn debug_output_never_shows_the_id_or_the_csrf_token() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(600));
        let (id, s) = sessions.create(kid(), Instant::now());
        let shown = format!("{id:?} {s:?}");
        assert!(
            !shown.contains(id.as_str()) && !shown.contains(&s.csrf),
            "{shown}"
        );
    }
}
