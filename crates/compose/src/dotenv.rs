//! `.env` and `env_file` parsing (dotenv syntax).
//!
//! One `KEY=VALUE` a line; blank lines and `#` comments; an optional `export `
//! prefix; unquoted values end at ` #`; single quotes are literal; double
//! quotes take `\n \t \r \\ \" \$` escapes; both quotes may span lines.
//! Unquoted and double-quoted values expand `$VAR` / `${VAR…}` from earlier
//! lines first, then from the given lookup. `KEY` alone takes the lookup's value.

use crate::error::{LoadError, LoadErrorKind, Location};
use crate::interpolate::{substitute, Unset};
use std::sync::Arc;

/// Parses `text`; returns the variables in order (a later duplicate overrides).
pub fn parse(
    text: &str,
    file: Arc<str>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, LoadError> {
    Ok(parse_with_lines(text, file, lookup)?
        .into_iter()
        .map(|(k, v, _)| (k, v))
        .collect())
}

/// The most the values of one file may hold once expanded: `A=$A$A` on every
/// line doubles `A`, so a few hundred bytes would otherwise take all memory.
const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// [`parse`], with the line each variable was set on.
pub fn parse_with_lines(
    text: &str,
    file: Arc<str>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String, u32)>, LoadError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<(String, String, u32)> = Vec::new();
    let mut i = 0;
    let mut line = 1u32;
    let mut expanded = 0usize;
    let err = |line: u32, msg: String| {
        LoadError::at(
            LoadErrorKind::EnvFile,
            Location {
                file: file.clone(),
                line,
                column: 0,
            },
            "",
            msg,
        )
    };
    let at_eol = |c: Option<&char>| matches!(c, None | Some('\n') | Some('\r'));
    while i < chars.len() {
        // Leading blanks, blank lines and comments.
        match chars[i] {
            '\n' => {
                line += 1;
                i += 1;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let start_line = line;
        let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
        if rest.starts_with("export") && rest[6..].starts_with([' ', '\t']) {
            i += 7;
            while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
                i += 1;
            }
        }
        let key_start = i;
        while i < chars.len() && !matches!(chars[i], '=' | ' ' | '\t' | '\n' | '\r') {
            i += 1;
        }
        let key: String = chars[key_start..i].iter().collect();
        let valid = key
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            return Err(err(
                start_line,
                // The text is not quoted: the file may not be the user's (`env_file: /etc/shadow`).
                "invalid variable name: names are letters, digits, '_', '.' and '-', not starting with a digit".to_string(),
            ));
        }
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        if at_eol(chars.get(i)) {
            // `KEY` alone: inherit it when set.
            if let Some(v) = lookup(&key) {
                out.push((key, v, start_line));
            }
            continue;
        }
        if chars[i] != '=' {
            return Err(err(
                start_line,
                "expected '=' after the variable name: write KEY=VALUE".to_string(),
            ));
        }
        i += 1;
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t') {
            i += 1;
        }
        let known = |name: &str| {
            out.iter()
                .rev()
                .find(|(k, _, _)| k == name)
                .map(|(_, v, _)| v.clone())
                .or_else(|| lookup(name))
        };
        let mut unset = Unset::default();
        let value = match chars.get(i) {
            Some('\'') => {
                i += 1;
                let s = i;
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(err(
                        start_line,
                        format!("the single-quoted value of {key:?} is not closed"),
                    ));
                }
                let v: String = chars[s..i].iter().collect();
                i += 1;
                v
            }
            Some('"') => {
                i += 1;
                // Escapes first; an escaped `$` becomes `$$` so expansion keeps it.
                let mut raw = String::new();
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(err(
                                start_line,
                                format!("the double-quoted value of {key:?} is not closed"),
                            ))
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            match chars.get(i + 1) {
                                Some('n') => raw.push('\n'),
                                Some('t') => raw.push('\t'),
                                Some('r') => raw.push('\r'),
                                Some('$') => raw.push_str("$$"),
                                Some(&c @ ('"' | '\\')) => raw.push(c),
                                Some(&c) => {
                                    raw.push('\\');
                                    raw.push(c);
                                }
                                None => raw.push('\\'),
                            }
                            i += 2;
                        }
                        Some(&c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            raw.push(c);
                            i += 1;
                        }
                    }
                }
                substitute(&raw, &known, &mut unset)
                    .map_err(|e| err(start_line, format!("{key}: {e}")))?
            }
            _ => {
                let s = i;
                while !at_eol(chars.get(i)) {
                    if chars[i] == '#' && i > s && chars[i - 1].is_whitespace() {
                        break;
                    }
                    i += 1;
                }
                let raw: String = chars[s..i].iter().collect();
                while !at_eol(chars.get(i)) {
                    i += 1;
                }
                substitute(raw.trim_end(), &known, &mut unset)
                    .map_err(|e| err(start_line, format!("{key}: {e}")))?
            }
        };
        // After a quoted value: only blanks and a comment.
        while i < chars.len() && (chars[i] == ' ' || chars[i] == '\t' || chars[i] == '\r') {
            i += 1;
        }
        match chars.get(i) {
            None | Some('\n') => {}
            Some('#') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            Some(_) => {
                return Err(err(
                    line,
                    format!("unexpected text after the quoted value of {key:?}"),
                ))
            }
        }
        expanded += value.len();
        if expanded > MAX_EXPANDED_BYTES {
            return Err(err(
                start_line,
                format!(
                    "the values grow past {} MiB through ${{…}} expansion (at {key:?}): a variable that refers to itself several times doubles with every line; write the values out",
                    MAX_EXPANDED_BYTES >> 20
                ),
            ));
        }
        out.retain(|(k, _, _)| *k != key);
        out.push((key, value, start_line));
    }
    Ok(out)
}
