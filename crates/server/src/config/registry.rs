//! Endpoint registries: the sites that can join a session.
//!
//! A registry is configuration, not code, so the same server serves the
//! 63-province layout and the 34-unit layout of 2025 (`config/endpoints-*.toml`).

use super::problem::{parse_all, span_of, Problem, Source};
use super::ConfigError;
use crate::control::{EndpointCode, EndpointInfo, EndpointRole};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// The registry compiled into the binary, used when no config file exists.
const EMBEDDED: &str = include_str!("../../../../config/endpoints-63.toml");

/// The endpoints of one registry file, sorted by code; codes are unique and
/// exactly one endpoint is central.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registry {
    /// Sorted by code.
    pub endpoints: Vec<RegistryEntry>,
}

/// One site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    /// Stable code: the administrative code, or a site code.
    pub code: EndpointCode,
    /// Display name with diacritics.
    pub name: String,
    /// Central (the chair's room) or provincial.
    pub role: EndpointRole,
    /// `city` or `province`, for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The former provinces a merged unit was formed from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formed_from: Vec<String>,
    /// Minted into the endpoint's join links; changing it invalidates them.
    /// Never serialized: it must not leak through the API.
    #[serde(default, skip_serializing)]
    pub link_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    endpoint: Vec<RegistryEntry>,
}

impl Registry {
    /// Reads and checks a registry file.
    pub fn load(path: &Path) -> Result<Registry, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let (registry, problems) = parse(path, &text);
        match registry {
            Some(registry) if problems.is_empty() => Ok(registry),
            _ => Err(ConfigError::Invalid(problems)),
        }
    }

    /// The 63-province registry compiled into the binary.
    pub fn embedded() -> Registry {
        let (registry, problems) = parse(Path::new("config/endpoints-63.toml"), EMBEDDED);
        match registry {
            Some(registry) if problems.is_empty() => registry,
            // The file is part of the source and a test loads it, so this
            // cannot happen in a built binary.
            _ => panic!("the compiled-in registry is invalid: {problems:?}"),
        }
    }

    /// Builds a registry from entries, with the same checks as a file.
    pub fn from_entries(mut endpoints: Vec<RegistryEntry>) -> Result<Registry, ConfigError> {
        let src = Source {
            file: Path::new("<entries>"),
            text: "",
        };
        let problems = entry_problems(&endpoints, |_, _| None, &src);
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(problems));
        }
        endpoints.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(Registry { endpoints })
    }

    /// The endpoint with this code.
    pub fn get(&self, code: &EndpointCode) -> Option<&RegistryEntry> {
        self.endpoints
            .binary_search_by(|e| e.code.cmp(code))
            .ok()
            .and_then(|i| self.endpoints.get(i))
    }

    /// The chair's site.
    pub fn central(&self) -> &RegistryEntry {
        self.endpoints
            .iter()
            .find(|e| e.role == EndpointRole::Central)
            // Every constructor checks for exactly one central endpoint.
            .expect("a registry has a central endpoint")
    }

    /// Every site but the central one, by code.
    pub fn provincial(&self) -> impl Iterator<Item = &RegistryEntry> {
        self.endpoints
            .iter()
            .filter(|e| e.role == EndpointRole::Provincial)
    }

    /// The endpoints as a session records them.
    pub fn endpoint_infos(&self) -> Vec<EndpointInfo> {
        self.endpoints
            .iter()
            .map(|e| EndpointInfo {
                code: e.code.clone(),
                name: e.name.clone(),
                role: e.role,
            })
            .collect()
    }
}

/// Parses a registry; the registry is `Some` when the file's shape was
/// readable, even if `problems` are found in its content.
pub(crate) fn parse(file: &Path, text: &str) -> (Option<Registry>, Vec<Problem>) {
    let src = Source { file, text };
    let parsed = parse_all::<RegistryFile>(&src);
    let mut problems = parsed.problems;
    let Some(file) = parsed.value else {
        return (None, problems);
    };
    let root = &parsed.root;
    let place = |i: usize, key: &str| span_of(root, &["endpoint", i.to_string().as_str(), key]);
    problems.extend(entry_problems(&file.endpoint, place, &src));
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    let mut endpoints = file.endpoint;
    endpoints.sort_by(|a, b| a.code.cmp(&b.code));
    (Some(Registry { endpoints }), problems)
}

/// Codes go into URLs and file names, so they are kept to a safe alphabet.
fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 32
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Every problem in `entries`; `line(i, key)` says where entry `i`'s `key`
/// was written, when it was written in a file.
fn entry_problems(
    entries: &[RegistryEntry],
    line: impl Fn(usize, &str) -> Option<Range<usize>>,
    src: &Source<'_>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut first_seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut centrals = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let code = entry.code.as_str();
        if !valid_code(code) {
            out.push(src.problem(
                line(i, "code"),
                format!("endpoint code `{code}` must be 1 to 32 letters, digits, '-' or '_'"),
            ));
        }
        if let Some(&first) = first_seen.get(code) {
            let first_line = line(first, "code").map(|s| src.line_at(s.start));
            let at = first_line
                .map(|l| format!(" (first at line {l})"))
                .unwrap_or_default();
            out.push(src.problem(
                line(i, "code"),
                format!("duplicate endpoint code `{code}`{at}"),
            ));
        } else {
            first_seen.insert(code, i);
        }
        if entry.name.trim().is_empty() {
            out.push(src.problem(
                line(i, "name"),
                format!("endpoint `{code}` has an empty name"),
            ));
        }
        if entry.link_key.as_deref().is_some_and(|k| k.is_empty()) {
            out.push(src.problem(
                line(i, "link_key"),
                format!("endpoint `{code}` has an empty link_key; leave it out instead"),
            ));
        }
        if entry.role == EndpointRole::Central {
            centrals.push(i);
        }
    }
    match centrals.as_slice() {
        [] => out.push(src.problem(
            None,
            "no central endpoint: exactly one endpoint needs role = \"central\"",
        )),
        [_] => {}
        [first, rest @ ..] => {
            let first_code = entries[*first].code.as_str();
            for &i in rest {
                out.push(src.problem(
                    line(i, "role"),
                    format!(
                        "more than one central endpoint: `{}` and `{first_code}`",
                        entries[i].code
                    ),
                ));
            }
        }
    }
    out
}
