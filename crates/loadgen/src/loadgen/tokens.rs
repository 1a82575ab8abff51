//! The tokens a run publishes and views with, read from a CSV file.
//!
//! The generator mints nothing: it takes what the server's own CLI printed
//! (`diemcau invite --format csv`, plus `diemcau token` rows for the chair
//! and a viewer), so it holds no signing secret. The file needs a header;
//! columns are found by name, in any order:
//!
//! - `token`, or a `link`/`url` column whose fragment or query has
//!   `token=` (`diemcau invite` puts it in the fragment: `…#token=…`);
//! - `code` (or `endpoint`): the endpoint code, for endpoint rows;
//! - `role` (optional): `chair` or `central` marks the chair's token,
//!   `viewer` or `technician` a WHEP viewer's; anything else, or no role,
//!   is an endpoint when the row has a code.

use crate::error::LoadError;
use std::path::Path;

/// Tokens for one run.
#[derive(Debug, Default, Clone)]
pub struct Tokens {
    /// Publishes the chair over WHIP; also runs the session over REST.
    pub chair: Option<String>,
    /// Receives the programme over WHEP.
    pub viewer: Option<String>,
    /// (endpoint code, token), in file order.
    pub endpoints: Vec<(String, String)>,
}

impl Tokens {
    /// Reads a tokens file.
    pub fn load(path: &Path) -> Result<Tokens, LoadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadError::Setup(format!("{}: {e}", path.display())))?;
        Tokens::parse(&text).map_err(|e| LoadError::Setup(format!("{}: {e}", path.display())))
    }

    fn parse(text: &str) -> Result<Tokens, String> {
        let text = text.trim_start_matches('\u{feff}');
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = fields(lines.next().ok_or("empty file")?)
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let col = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
        let token_col = col(&["token", "jwt"]);
        let link_col = col(&["link", "url", "join_link", "join_url"]);
        let code_col = col(&["code", "endpoint", "endpoint_code"]);
        let role_col = col(&["role"]);
        if token_col.is_none() && link_col.is_none() {
            return Err("no `token` or `link` column in the header".into());
        }
        let mut tokens = Tokens::default();
        for (n, line) in lines.enumerate() {
            let f = fields(line);
            let get = |c: Option<usize>| c.and_then(|i| f.get(i)).map(|s| s.trim().to_string());
            let token = get(token_col)
                .filter(|t| !t.is_empty())
                .or_else(|| get(link_col).and_then(|l| token_in_link(&l)))
                .ok_or_else(|| format!("row {}: no token", n + 2))?;
            let role = get(role_col).unwrap_or_default().to_ascii_lowercase();
            let code = get(code_col).filter(|c| !c.is_empty());
            match (role.as_str(), code) {
                ("chair" | "central", _) => tokens.chair = Some(token),
                ("viewer" | "technician", _) => tokens.viewer = Some(token),
                (_, Some(code)) => tokens.endpoints.push((code, token)),
                (_, None) => return Err(format!("row {}: neither a role nor a code", n + 2)),
            }
        }
        Ok(tokens)
    }
}

/// The `token=` parameter of a link, in its fragment (diemcau's invites:
/// `…/endpoint#token=…`, kept out of server logs) or its query.
fn token_in_link(link: &str) -> Option<String> {
    let (before, fragment) = match link.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (link, None),
    };
    let query = before.split_once('?').map(|(_, q)| q);
    fragment
        .into_iter()
        .chain(query)
        .flat_map(|part| part.split('&'))
        .find_map(|kv| kv.strip_prefix("token="))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// One CSV line's fields (RFC 4180: quotes, doubled quotes inside).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    out.push(field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Roles, codes, links and quoted names are read as documented.
    #[test]
    fn invite_style_files_parse() {
        let text = "\u{feff}code,name,role,link\n\
            ,Chủ trì,chair,http://127.0.0.1:8080/chair?token=CH\n\
            30,\"Hải Dương, tỉnh\",provincial,http://127.0.0.1:8080/endpoint?token=E30&x=1\n\
            01,Hà Nội,provincial,http://127.0.0.1:8080/endpoint?token=E01\n\
            ,viewer,viewer,http://127.0.0.1:8080/?token=V\n";
        let t = Tokens::parse(text);
        let t = t.as_ref().ok();
        assert_eq!(t.and_then(|t| t.chair.as_deref()), Some("CH"));
        assert_eq!(t.and_then(|t| t.viewer.as_deref()), Some("V"));
        let codes: Vec<&str> = t
            .map(|t| t.endpoints.iter().map(|(c, _)| c.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(codes, ["30", "01"]);
    }

    /// `diemcau invite --format csv`: tokens in the links' fragments, the
    /// chair on the central code, a technician without a code.
    #[test]
    fn diemcau_invites_parse() {
        let text = "\u{feff}role,code,name,link\r\n\
            chair,00,Trụ sở Chính phủ,http://127.0.0.1:8080/chair#token=CH\r\n\
            technician,,Kỹ thuật,http://127.0.0.1:8080/monitor#token=T\r\n\
            endpoint,01,Hà Nội,http://127.0.0.1:8080/endpoint#token=E01\r\n\
            endpoint,02,Hà Giang,http://127.0.0.1:8080/endpoint?x=1#a=b&token=E02\r\n";
        let t = Tokens::parse(text);
        let t = t.as_ref().ok();
        assert_eq!(t.and_then(|t| t.chair.as_deref()), Some("CH"));
        assert_eq!(t.and_then(|t| t.viewer.as_deref()), Some("T"));
        let endpoints: Vec<(&str, &str)> = t
            .map(|t| {
                t.endpoints
                    .iter()
                    .map(|(c, k)| (c.as_str(), k.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(endpoints, [("01", "E01"), ("02", "E02")]);
    }

    /// A file without a token column is refused with a reason.
    #[test]
    fn files_without_tokens_are_refused() {
        assert!(Tokens::parse("code,name\n30,x\n").is_err());
        assert!(Tokens::parse("role,token\n,abc\n").is_err());
    }
}
