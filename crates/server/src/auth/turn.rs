//! TURN credentials minted per client (the "TURN REST API" scheme that
//! coturn's `use-auth-secret` checks).
//!
//! A provincial LAN that blocks UDP reaches the bridge only through a TURN
//! relay. Handing every page one fixed TURN password would let anyone who
//! reads a page's memory use the relay forever; instead the bridge shares
//! a secret with the TURN server and mints, for each client, a user name
//! `<expiry>:<who>` and a password `base64(HMAC-SHA1(secret, user name))`.
//! The TURN server recomputes the password and refuses the name once its
//! expiry (Unix seconds) has passed.

use crate::config::{IceServer, TurnConfig};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// What clients are told about STUN and TURN: the fixed servers from the
/// config, and a relay with credentials minted for each client.
#[derive(Debug, Clone, Default)]
pub struct IceServers {
    fixed: Vec<IceServer>,
    turn: Option<TurnConfig>,
}

impl IceServers {
    /// From the `[media]` table.
    pub fn new(fixed: Vec<IceServer>, turn: Option<TurnConfig>) -> IceServers {
        IceServers { fixed, turn }
    }

    /// The servers for one client, `who` naming it in the relay's logs
    /// (a role or a site's code), at `now` (Unix seconds).
    pub fn for_client(&self, who: &str, now: u64) -> Vec<IceServer> {
        let mut out = self.fixed.clone();
        if let Some(turn) = &self.turn {
            let (username, credential) = mint(&turn.secret, who, now + u64::from(turn.ttl_secs));
            out.push(IceServer {
                urls: turn.urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        out
    }
}

/// A user name good until `expires` (Unix seconds) and its password.
pub fn mint(secret: &str, who: &str, expires: u64) -> (String, String) {
    // A colon would end the expiry field early for the TURN server.
    let who: String = who.chars().filter(|c| *c != ':').collect();
    let username = format!("{expires}:{who}");
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(username.as_bytes());
    let credential = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    (username, credential)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked against a value computed independently:
    /// `printf 1433895918:chair | openssl dgst -sha1 -hmac north -binary | base64`.
    #[test]
    fn the_password_is_the_hmac_of_the_user_name() {
        let (user, pass) = mint("north", "chair", 1_433_895_918);
        assert_eq!(user, "1433895918:chair");
        assert_eq!(pass, "I4k4xWIaJsH4uBDlUwIjR2xlPY4=");
    }

    #[test]
    fn each_client_gets_its_own_expiring_name_beside_the_fixed_servers() {
        let fixed = IceServer {
            urls: vec!["stun:stun.example.vn:3478".into()],
            username: None,
            credential: None,
        };
        let turn = TurnConfig {
            urls: vec!["turn:turn.example.vn:3478?transport=tcp".into()],
            secret: "s3cret".into(),
            ttl_secs: 600,
        };
        let servers = IceServers::new(vec![fixed.clone()], Some(turn));
        let list = servers.for_client("endpoint:30", 1_000);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0], fixed);
        assert_eq!(list[1].username.as_deref(), Some("1600:endpoint30"));
        assert_ne!(
            list[1].credential,
            servers.for_client("chair", 1_000)[1].credential
        );
        assert_eq!(IceServers::new(vec![], None).for_client("x", 0), vec![]);
    }
}
