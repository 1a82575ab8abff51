use super::*;
use crate::config::RegistryEntry;
use crate::control::EndpointRole;
use proptest::prelude::*;

const NOW: u64 = 1_750_000_000;

fn keys() -> Keys {
    Keys::new(b"a test secret of decent length")
}

fn endpoint_claims(code: &str) -> Claims {
    Claims::new(
        Role::Endpoint,
        Some(EndpointCode::from(code)),
        Some("hop-2025-01".into()),
        Duration::from_secs(3600),
        NOW,
    )
}

/// base64url without padding, as JWT segments are written.
fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn payload(claims: &Claims) -> String {
    b64(&serde_json::to_vec(claims).expect("json"))
}

#[test]
fn a_minted_token_verifies_to_the_same_claims() {
    let claims = endpoint_claims("30").with_key(Some("k1".into()));
    let token = keys().mint(&claims).expect("mint");
    assert_eq!(keys().verify_at(&token, NOW + 10).expect("verify"), claims);
    for role in [Role::Chair, Role::Technician, Role::Viewer] {
        let claims = Claims::new(role, None, None, Duration::from_secs(60), NOW);
        let token = keys().mint(&claims).expect("mint");
        assert_eq!(keys().verify_at(&token, NOW).expect("verify").role, role);
    }
}

#[test]
fn a_token_is_refused_from_its_expiry_on() {
    let token = keys().mint(&endpoint_claims("30")).expect("mint");
    assert!(keys().verify_at(&token, NOW + 3599).is_ok());
    assert!(matches!(
        keys().verify_at(&token, NOW + 3600),
        Err(AuthError::Expired)
    ));
    let old = Claims::new(Role::Chair, None, None, Duration::from_secs(60), 1_000);
    let token = keys().mint(&old).expect("mint");
    assert!(matches!(keys().verify(&token), Err(AuthError::Expired)));
}

#[test]
fn another_secret_or_an_altered_payload_breaks_the_signature() {
    let forged = Keys::new(b"someone else's secret!!").mint(&endpoint_claims("30"));
    let forged = forged.expect("mint");
    assert!(matches!(
        keys().verify_at(&forged, NOW),
        Err(AuthError::BadSignature)
    ));

    let token = keys().mint(&endpoint_claims("30")).expect("mint");
    let parts: Vec<&str> = token.split('.').collect();
    let promoted = Claims::new(Role::Chair, None, None, Duration::from_secs(3600), NOW);
    let altered = format!("{}.{}.{}", parts[0], payload(&promoted), parts[2]);
    assert!(matches!(
        keys().verify_at(&altered, NOW),
        Err(AuthError::BadSignature)
    ));
}

#[test]
fn only_hs256_is_accepted() {
    let claims = Claims::new(Role::Chair, None, None, Duration::from_secs(3600), NOW);
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        payload(&claims)
    );
    assert!(matches!(
        keys().verify_at(&unsigned, NOW),
        Err(AuthError::WrongAlgorithm)
    ));
    let hs384 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS384),
        &claims,
        &EncodingKey::from_secret(b"a test secret of decent length"),
    )
    .expect("encode");
    assert!(matches!(
        keys().verify_at(&hs384, NOW),
        Err(AuthError::WrongAlgorithm)
    ));
}

#[test]
fn garbage_is_malformed() {
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    for token in [
        "",
        ".",
        "..",
        "a.b.c",
        "Bearer x",
        "🙂.🙂.🙂",
        &format!("{header}.e30.sig"),
        &format!("{header}.!!!.x"),
        &"a".repeat(10_000),
    ] {
        let result = keys().verify_at(token, NOW);
        assert!(
            matches!(result, Err(AuthError::Malformed | AuthError::BadSignature)),
            "{token:.40}: {result:?}"
        );
    }
}

proptest! {
    #[test]
    fn no_string_verifies_or_panics(token in ".{0,200}") {
        prop_assert!(keys().verify_at(&token, NOW).is_err());
    }
}

#[test]
fn endpoint_codes_go_on_endpoint_tokens_only() {
    let ttl = Duration::from_secs(60);
    let bare = Claims::new(Role::Endpoint, None, None, ttl, NOW);
    assert!(matches!(keys().mint(&bare), Err(AuthError::Invalid(_))));
    let chair = Claims::new(Role::Chair, Some("00".into()), None, ttl, NOW);
    assert!(matches!(keys().mint(&chair), Err(AuthError::Invalid(_))));
}

#[test]
fn roles_parse_and_print() {
    for role in [Role::Chair, Role::Endpoint, Role::Technician, Role::Viewer] {
        assert_eq!(role.to_string().parse::<Role>().expect("parse"), role);
        let json = serde_json::to_string(&role).expect("json");
        assert_eq!(json, format!("\"{role}\""));
    }
    assert!("admin".parse::<Role>().is_err());
}

#[test]
fn sessions_and_link_keys_scope_a_token() {
    let claims = endpoint_claims("30").with_key(Some("k1".into()));
    assert!(claims.allows_session("hop-2025-01"));
    assert!(!claims.allows_session("other"));
    let entry = |key: &str| RegistryEntry {
        code: "30".into(),
        name: "Hải Dương".into(),
        role: EndpointRole::Provincial,
        kind: None,
        formed_from: Vec::new(),
        link_key: Some(key.into()),
    };
    let central = RegistryEntry {
        code: "00".into(),
        name: "Trụ sở Chính phủ".into(),
        role: EndpointRole::Central,
        kind: None,
        formed_from: Vec::new(),
        link_key: None,
    };
    let current = Registry::from_entries(vec![central.clone(), entry("k1")]).expect("ok");
    assert!(claims.check_registry(&current).is_ok());
    let rotated = Registry::from_entries(vec![central.clone(), entry("k2")]).expect("ok");
    assert!(matches!(
        claims.check_registry(&rotated),
        Err(AuthError::Revoked)
    ));
    let gone = Registry::from_entries(vec![central]).expect("ok");
    assert!(claims.check_registry(&gone).is_err());
}

#[test]
fn a_renewed_token_keeps_its_claims_and_lifetime_from_now() {
    let old = endpoint_claims("30").with_key(Some("k".into()));
    let max = Duration::from_secs(12 * 3600);
    let new = old.renewed(NOW + 3000, max);
    assert_eq!((new.iat, new.exp), (NOW + 3000, NOW + 3000 + 3600));
    assert_eq!(
        (new.role, &new.endpoint, &new.session, &new.key),
        (old.role, &old.endpoint, &old.session, &old.key)
    );
    // A long-lived link renews to the cap, not to its own lifetime.
    let long = Claims::new(
        Role::Chair,
        None,
        None,
        Duration::from_secs(30 * 86400),
        NOW,
    );
    assert_eq!(long.renewed(NOW, max).exp, NOW + 12 * 3600);
    // Claims whose expiry precedes their issue renew to nothing.
    let odd = Claims {
        iat: NOW,
        exp: NOW - 1,
        ..long
    };
    assert_eq!(odd.renewed(NOW, max).exp, NOW);
}
