//! Certificates for HTTPS on private networks (`diemcau cert`).
//!
//! A provincial meeting room opens its join link from another machine, and
//! a browser gives a page camera and microphone only on a secure origin.
//! Government networks are often private: no public CA will certify the
//! bridge's address there. So the bridge can make its own:
//!
//! - a self-signed server certificate (each browser accepts it once), or
//! - a small internal CA and a server certificate it signs: the operator
//!   installs `ca.crt` once on every room's machine, and every later server
//!   certificate from that CA is trusted without a warning.
//!
//! Keys are ECDSA P-256. Validity runs from the start of this year for
//! `years` (the server) and ten years (the CA).

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// No name or address to certify.
    #[error("name at least one DNS name or IP address the server is reached at (--name)")]
    NoNames,
    /// A name that is neither an IP address nor a valid DNS name.
    #[error("cannot certify `{name}`: {detail}")]
    BadName {
        /// The name as given.
        name: String,
        /// What rcgen said.
        detail: String,
    },
    /// Key generation or signing failed.
    #[error("cannot make the certificate: {0}")]
    Generate(String),
}

/// PEM files to write: (file name, contents, private?).
#[derive(Debug)]
pub struct Made {
    /// Each file in the order it should be written.
    pub files: Vec<(&'static str, String, bool)>,
}

/// A server certificate for `names` (DNS names or IP addresses), valid for
/// `years`; signed by a new internal CA when `with_ca`, else self-signed.
pub fn make(names: &[String], with_ca: bool, years: u16) -> Result<Made, CertError> {
    if names.is_empty() {
        return Err(CertError::NoNames);
    }
    for name in names {
        if name.parse::<std::net::IpAddr>().is_err() && !is_dns_name(name) {
            return Err(CertError::BadName {
                name: name.clone(),
                detail: "neither an IP address nor a DNS name (letters, digits, hyphens, dots)"
                    .into(),
            });
        }
    }
    let generate = |e: rcgen::Error| CertError::Generate(e.to_string());
    let year = current_year();
    let mut server = CertificateParams::new(names.to_vec()).map_err(generate)?;
    server.distinguished_name = name_of(&names[0]);
    server.not_before = date_time_ymd(year, 1, 1);
    server.not_after = date_time_ymd(year + i32::from(years.max(1)), 1, 1);
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let server_key = KeyPair::generate().map_err(generate)?;

    if !with_ca {
        let cert = server.self_signed(&server_key).map_err(generate)?;
        return Ok(Made {
            files: vec![
                ("server.crt", cert.pem(), false),
                ("server.key", server_key.serialize_pem(), true),
            ],
        });
    }

    let mut ca = CertificateParams::default();
    ca.distinguished_name = name_of("diemcau internal CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = date_time_ymd(year, 1, 1);
    ca.not_after = date_time_ymd(year + 10, 1, 1);
    let ca_key = KeyPair::generate().map_err(generate)?;
    let ca_cert = ca.self_signed(&ca_key).map_err(generate)?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = Issuer::new(ca, ca_key);
    let cert = server.signed_by(&server_key, &issuer).map_err(generate)?;
    Ok(Made {
        files: vec![
            ("ca.crt", ca_cert.pem(), false),
            ("ca.key", ca_key_pem, true),
            // The chain a server sends: its own certificate, then the CA's.
            (
                "server.crt",
                format!("{}{}", cert.pem(), ca_cert.pem()),
                false,
            ),
            ("server.key", server_key.serialize_pem(), true),
        ],
    })
}

/// A host name a browser will match: labels of letters, digits and inner
/// hyphens, joined by dots; a leading `*.` for a wildcard.
fn is_dns_name(name: &str) -> bool {
    let host = name.strip_prefix("*.").unwrap_or(name);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn name_of(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "diemcau");
    dn
}

/// This year, from the clock (civil-from-days, proleptic Gregorian).
fn current_year() -> i32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    year_of_day(i64::try_from(secs / 86_400).unwrap_or(0))
}

fn year_of_day(days: i64) -> i32 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    i32::try_from(year).unwrap_or(2026)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_since_the_epoch_give_the_civil_year() {
        assert_eq!(year_of_day(0), 1970);
        assert_eq!(year_of_day(20_788), 2026); // 2026-12-01
        assert_eq!(year_of_day(20_453), 2025); // 2025-12-31
        assert_eq!(year_of_day(20_454), 2026); // 2026-01-01
    }

    #[test]
    fn a_self_signed_pair_and_a_ca_chain() {
        let names = vec!["hop.example.vn".to_string(), "10.20.30.40".to_string()];
        let single = make(&names, false, 2).expect("self-signed");
        let files: Vec<&str> = single.files.iter().map(|f| f.0).collect();
        assert_eq!(files, ["server.crt", "server.key"]);
        assert!(single.files[0].1.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(single.files[1].1.contains("PRIVATE KEY"));
        assert!(single.files[1].2, "the key is private");

        let chain = make(&names, true, 2).expect("with a CA");
        let files: Vec<&str> = chain.files.iter().map(|f| f.0).collect();
        assert_eq!(files, ["ca.crt", "ca.key", "server.crt", "server.key"]);
        assert_eq!(chain.files[2].1.matches("BEGIN CERTIFICATE").count(), 2);
    }

    #[test]
    fn names_are_checked() {
        assert!(matches!(make(&[], false, 1), Err(CertError::NoNames)));
        for bad in ["bad name with spaces", "-x.vn", "a..vn", "", "ví-dụ.vn"] {
            assert!(
                matches!(
                    make(&[bad.to_string()], false, 1),
                    Err(CertError::BadName { .. })
                ),
                "{bad}"
            );
        }
        assert!(make(&["*.hop.example.vn".to_string()], false, 1).is_ok());
    }
}
