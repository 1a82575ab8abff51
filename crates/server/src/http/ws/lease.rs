//! The token a socket was opened with.
//!
//! The token is checked when the socket is upgraded, but the socket lives
//! on for hours; without this, a token that has expired (or a link that
//! was meant to work for one meeting) would keep its rights for as long as
//! the connection lasts, while REST already answers 401. So the socket is
//! held to its token's expiry and closed then, unless the page renews the
//! token first (`refresh`), which it may only do while the token is valid.

use crate::auth::{Claims, Keys};
use crate::http::AppError;
use std::time::Duration;

/// The longest a renewed token lasts, whatever the original's lifetime
/// (an 8-hour console link renews to 8 hours, a 30-day one to 12).
pub(super) const MAX_RENEWED: Duration = Duration::from_secs(12 * 3600);

/// The claims of the socket's current token.
#[derive(Debug)]
pub(super) struct Lease {
    claims: Claims,
}

impl Lease {
    pub(super) fn new(claims: Claims) -> Lease {
        Lease { claims }
    }

    /// When the current token expires, seconds since the UNIX epoch.
    pub(super) fn expires_at(&self) -> u64 {
        self.claims.exp
    }

    /// Whether the token has expired at `now_ms` (milliseconds since the
    /// UNIX epoch), by the same rule as [`Keys::verify_at`]: from `exp` on.
    pub(super) fn expired(&self, now_ms: u64) -> bool {
        now_ms / 1000 >= self.claims.exp
    }

    /// How long the token has left at `now_ms`.
    pub(super) fn remaining(&self, now_ms: u64) -> Duration {
        Duration::from_millis(self.claims.exp.saturating_mul(1000).saturating_sub(now_ms))
    }

    /// Mints the same claims with a fresh expiry, and from now on holds the
    /// socket to that one. Refused once the current token has expired: a
    /// lapsed token must not be revived.
    pub(super) fn renew(&mut self, keys: &Keys, now_ms: u64) -> Result<String, AppError> {
        if self.expired(now_ms) {
            return Err(expired());
        }
        let claims = self.claims.renewed(now_ms / 1000, MAX_RENEWED);
        let token = keys.mint(&claims).map_err(|e| {
            tracing::error!(error = %e, "a renewed token could not be signed");
            AppError::internal()
        })?;
        self.claims = claims;
        Ok(token)
    }
}

/// The error a socket gets when its token has run out.
pub(super) fn expired() -> AppError {
    AppError::unauthorized(
        "token_expired",
        "the token has expired; connect again with a new one",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    const NOW: u64 = 1_750_000_000;

    fn lease(ttl: u64) -> Lease {
        Lease::new(Claims::new(
            Role::Chair,
            None,
            Some("s".into()),
            Duration::from_secs(ttl),
            NOW,
        ))
    }

    #[test]
    fn a_lease_expires_at_its_tokens_expiry() {
        let l = lease(3);
        assert!(!l.expired(NOW * 1000 + 2999));
        assert!(l.expired((NOW + 3) * 1000));
        assert_eq!(l.remaining(NOW * 1000 + 500), Duration::from_millis(2500));
        assert_eq!(l.remaining((NOW + 9) * 1000), Duration::ZERO);
    }

    #[test]
    fn renewing_moves_the_expiry_and_keeps_the_claims() {
        let keys = Keys::new(b"lease test secret");
        let mut l = lease(3);
        let token = l
            .renew(&keys, (NOW + 2) * 1000)
            .expect("renewed while valid");
        assert_eq!(l.expires_at(), NOW + 5);
        let claims = keys
            .verify_at(&token, NOW + 4)
            .expect("the new token verifies");
        assert_eq!(
            (claims.role, claims.session.as_deref()),
            (Role::Chair, Some("s"))
        );
        // Past the (new) expiry, nothing is renewed and the lease is unchanged.
        let err = l.renew(&keys, (NOW + 5) * 1000).expect_err("expired");
        assert_eq!(err.code, "token_expired");
        assert_eq!(l.expires_at(), NOW + 5);
    }
}
