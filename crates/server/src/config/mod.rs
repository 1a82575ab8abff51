//! The server configuration and the endpoint registries.
//!
//! - [`Config`]: `config/diemcau.toml`, every key optional, unknown keys
//!   refused.
//! - [`Registry`]: `config/endpoints-63.toml` or `endpoints-34.toml`, the sites
//!   that can join.
//! - [`check`]: every problem in both, with file and line, for
//!   `diemcau check-config`.
//!
//! Both files are compiled into the binary too, so `diemcau serve` runs on a
//! fresh machine with no files at all.

mod problem;
mod registry;
mod settings;
mod validate;

pub use problem::Problem;
pub use registry::{Registry, RegistryEntry};
pub use settings::{
    Config, IceServer, Limits, LogConfig, LogFormat, MediaConfig, SessionDefaults, TlsConfig,
    TurnConfig,
};
pub use validate::warnings;

use problem::{parse_all, span_of, Source};
use std::path::{Path, PathBuf};

/// The config compiled into the binary: the shipped file, defaults only.
const EMBEDDED: &str = include_str!("../../../../config/diemcau.toml");

/// Where `serve` looks for a config file when none is named.
pub const DEFAULT_PATH: &str = "config/diemcau.toml";

/// Why a config or registry could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read but has problems; never empty.
    #[error("{}", summary(.0))]
    Invalid(Vec<Problem>),
}

fn summary(problems: &[Problem]) -> String {
    match problems {
        [] => "invalid configuration".to_string(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!(
            "{first} (and {} more; run `diemcau check-config` for the list)",
            rest.len()
        ),
    }
}

impl Config {
    /// Reads and checks a config file. `registry`, `secret_file` and the
    /// `[tls]` files are resolved against the file's directory, so a config and its registry
    /// can be moved together.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let parse = parse_config(path, &text);
        match parse.config {
            Some(config) if parse.problems.is_empty() => Ok(config),
            _ => Err(ConfigError::Invalid(parse.problems)),
        }
    }

    /// The defaults compiled into the binary; pairs with [`Registry::embedded`].
    pub fn embedded() -> Config {
        match toml::from_str(EMBEDDED) {
            Ok(config) => config,
            // The file is part of the source and a test loads it, so this
            // cannot happen in a built binary.
            Err(e) => panic!("the compiled-in config is invalid: {e}"),
        }
    }
}

/// A config file's text, read as far as it goes.
struct ConfigParse {
    /// What could be read; `None` when the file is not TOML.
    config: Option<Config>,
    /// Sorted by line, those without one last.
    problems: Vec<Problem>,
    /// Where `registry` is set, to place problems with the registry file.
    registry_line: Option<usize>,
}

impl ConfigParse {
    /// Whether the `registry` key is usable: if not, checking the file it
    /// names would only add noise.
    fn registry_ok(&self) -> bool {
        self.registry_line
            .is_none_or(|line| !self.problems.iter().any(|p| p.line == Some(line)))
    }
}

fn parse_config(path: &Path, text: &str) -> ConfigParse {
    let src = Source { file: path, text };
    let parsed = parse_all::<Config>(&src);
    let mut problems = parsed.problems;
    let registry_line = span_of(&parsed.original, &["registry"]).map(|s| src.line_at(s.start));
    let config = parsed.value.map(|mut config| {
        problems.extend(validate::config_problems(&config, &parsed.root, &src));
        let dir = path.parent().unwrap_or(Path::new(""));
        config.registry = dir.join(&config.registry);
        config.secret_file = config.secret_file.map(|f| dir.join(f));
        config.tls.cert_file = config.tls.cert_file.map(|f| dir.join(f));
        config.tls.key_file = config.tls.key_file.map(|f| dir.join(f));
        config
    });
    problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    ConfigParse {
        config,
        problems,
        registry_line,
    }
}

/// Loads the config the way `serve` does: an explicit path, else
/// `config/diemcau.toml` if it exists, else the embedded defaults (config and
/// registry).
pub fn load_effective(path: Option<&Path>) -> Result<(Config, Registry), ConfigError> {
    let path = match path {
        Some(path) => path,
        None if Path::new(DEFAULT_PATH).exists() => Path::new(DEFAULT_PATH),
        None => return Ok((Config::embedded(), Registry::embedded())),
    };
    let config = Config::load(path)?;
    let registry = Registry::load(&config.registry)?;
    Ok((config, registry))
}

/// Every problem in a config file and the registry it names; empty when both
/// are good.
pub fn check(path: &Path) -> Vec<Problem> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            return vec![Problem {
                file: path.to_path_buf(),
                line: None,
                message: format!("cannot read the config file: {e}"),
            }]
        }
    };
    let parse = parse_config(path, &text);
    let registry_ok = parse.registry_ok();
    let mut problems = parse.problems;
    let Some(config) = parse.config.filter(|_| registry_ok) else {
        return problems;
    };
    match std::fs::read_to_string(&config.registry) {
        Ok(text) => problems.extend(registry::parse(&config.registry, &text).1),
        Err(e) => problems.push(Problem {
            file: path.to_path_buf(),
            line: parse.registry_line,
            message: format!(
                "registry file {} cannot be read: {e}",
                config.registry.display()
            ),
        }),
    }
    problems
}

#[cfg(test)]
mod tests;
