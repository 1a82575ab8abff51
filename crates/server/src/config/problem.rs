//! Problems found in a config or registry file, and a parse that finds all of
//! them at once.
//!
//! serde stops at the first error, but an operator fixing a file wants the
//! whole list. So [`parse_all`] deserializes, records the error, cuts the
//! offending key (or array element) out of the parsed tree and tries again,
//! until the rest deserializes. Every config key has a default, so a cut key
//! never hides the keys after it.

use serde::de::DeserializeOwned;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

/// One thing wrong with a file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// What is wrong, for people.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// A file's text and name, to turn byte offsets into problems.
pub(crate) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// The 1-based line holding byte `offset`.
    pub fn line_at(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    pub fn problem(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Problem {
        Problem {
            file: self.file.to_path_buf(),
            line: span.map(|s| self.line_at(s.start)),
            message: message.into(),
        }
    }
}

/// The outcome of [`parse_all`].
pub(crate) struct Parsed<'i, T> {
    /// What deserialized once every bad key was cut out; `None` only when the
    /// file is not TOML at all. Trust it only when `problems` is empty.
    pub value: Option<T>,
    /// The tree `value` came from (bad keys cut out), for looking up where a
    /// value was written.
    pub root: DeTable<'i>,
    /// The tree as written.
    pub original: DeTable<'i>,
    pub problems: Vec<Problem>,
}

/// Deserializes `src` into `T`, collecting every problem.
pub(crate) fn parse_all<'i, T: DeserializeOwned>(src: &Source<'i>) -> Parsed<'i, T> {
    let (root, syntax) = DeTable::parse_recoverable(src.text);
    let root = root.into_inner();
    if !syntax.is_empty() {
        // A recovered tree can miss whole tables, so checking its content
        // would report problems that are not there.
        let problems = syntax
            .iter()
            .map(|e| src.problem(e.span(), e.message()))
            .collect();
        return Parsed {
            value: None,
            original: root.clone(),
            root,
            problems,
        };
    }
    let original = root.clone();
    let mut root = root;
    let mut problems = Vec::new();
    let mut cuts: Vec<Cut> = Vec::new();
    let whole = 0..src.text.len();
    // Each failed round removes at least one node, so this ends well within
    // the number of nodes.
    for _ in 0..=count_nodes(&root) {
        match T::deserialize(toml::de::Deserializer::from(Spanned::new(
            whole.clone(),
            root.clone(),
        ))) {
            Ok(value) => {
                return Parsed {
                    value: Some(value),
                    root,
                    original,
                    problems,
                }
            }
            Err(e) => {
                let Some(span) = e.span() else {
                    problems.push(src.problem(None, e.message()));
                    break;
                };
                // Cutting a required key makes its table report it missing;
                // that is the same problem again, not a new one.
                let echo = cuts.iter().any(|cut| {
                    cut.table == span && e.message() == format!("missing field `{}`", cut.key)
                });
                if !echo {
                    problems.push(src.problem(Some(span.clone()), e.message()));
                }
                match cut_at(&mut root, &whole, &span) {
                    Some(cut) => cuts.push(cut),
                    None => break,
                }
            }
        }
    }
    Parsed {
        value: None,
        root,
        original,
        problems,
    }
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// A key cut out of the table spanning `table`.
struct Cut {
    table: Range<usize>,
    key: String,
}

/// Removes the innermost key or array element whose span covers `span`.
fn cut_at(table: &mut DeTable<'_>, table_span: &Range<usize>, span: &Range<usize>) -> Option<Cut> {
    let keys: Vec<_> = table.keys().cloned().collect();
    for key in keys {
        let Some(value) = table.get_mut(&key) else {
            continue;
        };
        let value_span = value.span();
        let inside = match value.get_mut() {
            DeValue::Table(inner) => cut_at(inner, &value_span, span),
            DeValue::Array(items) => cut_in_array(items, span),
            _ => None,
        };
        if inside.is_some() {
            return inside;
        }
        if covers(&key.span(), span) || covers(&value_span, span) {
            table.remove(&key);
            return Some(Cut {
                table: table_span.clone(),
                key: key.into_inner().into_owned(),
            });
        }
    }
    None
}

fn cut_in_array(items: &mut DeArray<'_>, span: &Range<usize>) -> Option<Cut> {
    for i in 0..items.len() {
        let Some(item) = items.get_mut(i) else {
            break;
        };
        let item_span = item.span();
        if let DeValue::Table(inner) = item.get_mut() {
            if let Some(cut) = cut_at(inner, &item_span, span) {
                return Some(cut);
            }
        }
        if covers(&item_span, span) {
            // DeArray has no remove; rebuild it without the element.
            let mut kept = DeArray::new();
            for (j, item) in items.iter().enumerate() {
                if j != i {
                    kept.push(item.clone());
                }
            }
            *items = kept;
            return Some(Cut {
                table: item_span,
                key: String::new(),
            });
        }
    }
    None
}

fn count_nodes(table: &DeTable<'_>) -> usize {
    table.values().map(|v| 1 + count_value(v.get_ref())).sum()
}

fn count_value(value: &DeValue<'_>) -> usize {
    match value {
        DeValue::Table(t) => count_nodes(t),
        DeValue::Array(items) => items.iter().map(|v| 1 + count_value(v.get_ref())).sum(),
        _ => 0,
    }
}

/// Where the value at `path` was written. A segment indexes an array when the
/// node there is one (`["endpoint", "3", "code"]`).
pub(crate) fn span_of(table: &DeTable<'_>, path: &[&str]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    let value = table.get(*first)?;
    span_in_value(value, rest)
}

fn span_in_value(value: &Spanned<DeValue<'_>>, path: &[&str]) -> Option<Range<usize>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value.span());
    };
    match value.get_ref() {
        DeValue::Table(t) => span_in_value(t.get(*first)?, rest),
        DeValue::Array(items) => {
            let index: usize = first.parse().ok()?;
            span_in_value(items.get(index)?, rest)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    // The fields exist to be deserialized; only their problems are read.
    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[serde(default)]
        port: u16,
    }

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[serde(default)]
        name: String,
        #[serde(default)]
        items: Vec<Item>,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        id: u32,
    }

    fn parse(text: &str) -> (Option<Outer>, Vec<Option<usize>>) {
        let src = Source {
            file: Path::new("t.toml"),
            text,
        };
        let parsed: Parsed<'_, Outer> = parse_all(&src);
        (
            parsed.value,
            parsed.problems.iter().map(|p| p.line).collect(),
        )
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "name = 3\nbogus = 1\n[inner]\nport = 70000\nother = true\n\
                    [[items]]\nid = 1\n[[items]]\nid = \"x\"\n[[items]]\n";
        let (value, mut lines) = parse(text);
        lines.sort();
        assert_eq!(
            lines,
            vec![Some(1), Some(2), Some(4), Some(5), Some(9), Some(10)]
        );
        let value = value.expect("what is left deserializes");
        assert_eq!(value.items.len(), 1);
    }

    #[test]
    fn syntax_errors_stop_before_content_checks() {
        let (value, lines) = parse("name = \"a\"\nitems = [\n");
        assert!(value.is_none());
        assert!(!lines.is_empty());
    }

    #[test]
    fn a_clean_file_has_no_problems() {
        let (value, lines) = parse("name = \"a\"\n[[items]]\nid = 4\n");
        assert!(lines.is_empty());
        assert_eq!(value.map(|v| v.items.len()), Some(1));
    }

    #[test]
    fn span_of_follows_tables_and_arrays() {
        let text = "a = 1\n[[items]]\nid = 1\n[[items]]\nid = 2\n";
        let (root, _) = DeTable::parse_recoverable(text);
        let src = Source {
            file: Path::new("t"),
            text,
        };
        let span = span_of(root.get_ref(), &["items", "1", "id"]);
        assert_eq!(span.map(|s| src.line_at(s.start)), Some(5));
        assert_eq!(span_of(root.get_ref(), &["items", "2", "id"]), None);
    }
}
