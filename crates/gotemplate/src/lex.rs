//! The lexer: text between actions, and the tokens inside `{{ }}`, each with
//! its byte offset and whether whitespace came before it (`.A.B` is one
//! field chain, `.A .B` two arguments).

use crate::error::Located;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    Open,
    Close,
    Comment,
    Field(String),
    Dot,
    Var(String),
    Ident(String),
    Str(String),
    Number(String),
    Char(char),
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    Comma,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub offset: usize,
    pub spaced: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `{{-` and `-}}` trim only when the dash is separated by whitespace from
/// the action's contents, as in Go (`{{-3}}` is the number -3).
fn trim_marker_after_open(rest: &str) -> bool {
    let mut chars = rest.chars();
    chars.next() == Some('-') && chars.next().is_some_and(is_space)
}

pub(crate) fn lex(source: &str) -> Result<Vec<Token>, Located> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    let mut trim_next_text = false;
    while pos < source.len() {
        let rest = &source[pos..];
        let text_end = rest.find("{{").map_or(source.len(), |i| pos + i);
        let mut text = &source[pos..text_end];
        if trim_next_text {
            text = text.trim_start_matches(is_space);
        }
        if text_end == source.len() {
            if !text.is_empty() {
                tokens.push(text_token(text, pos));
            }
            break;
        }
        let open = text_end;
        let mut inner = open + 2;
        if trim_marker_after_open(&source[inner..]) {
            text = text.trim_end_matches(is_space);
            inner += 2;
        }
        if !text.is_empty() {
            tokens.push(text_token(text, pos));
        }
        tokens.push(Token {
            tok: Tok::Open,
            offset: open,
            spaced: false,
        });
        let (end, trim) = lex_action(source, inner, &mut tokens)?;
        trim_next_text = trim;
        pos = end;
    }
    Ok(tokens)
}

fn text_token(text: &str, offset: usize) -> Token {
    Token {
        tok: Tok::Text(text.to_string()),
        offset,
        spaced: false,
    }
}

/// Lexes one action from `start` (just inside `{{`); returns the offset after
/// `}}` and whether it ended with `-}}`.
fn lex_action(
    source: &str,
    start: usize,
    tokens: &mut Vec<Token>,
) -> Result<(usize, bool), Located> {
    let mut pos = start;
    let mut spaced = true;
    loop {
        let rest = &source[pos..];
        let Some(c) = rest.chars().next() else {
            return Err(Located::parse(
                start.saturating_sub(2),
                "unclosed action: add }}",
            ));
        };
        if is_space(c) {
            if rest.len() >= 4 && rest[1..].starts_with("-}}") {
                tokens.push(close(pos));
                return Ok((pos + 4, true));
            }
            pos += c.len_utf8();
            spaced = true;
            continue;
        }
        if rest.starts_with("}}") {
            tokens.push(close(pos));
            return Ok((pos + 2, false));
        }
        if rest.starts_with("/*") {
            let Some(end) = rest.find("*/") else {
                return Err(Located::parse(pos, "unclosed comment: add */"));
            };
            tokens.push(Token {
                tok: Tok::Comment,
                offset: pos,
                spaced,
            });
            pos += end + 2;
            spaced = true;
            continue;
        }
        let (tok, len) = lex_token(rest, pos)?;
        tokens.push(Token {
            tok,
            offset: pos,
            spaced,
        });
        pos += len;
        spaced = false;
    }
}

fn close(offset: usize) -> Token {
    Token {
        tok: Tok::Close,
        offset,
        spaced: true,
    }
}

fn ident_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(s.len(), |(i, _)| i)
}

fn lex_token(rest: &str, pos: usize) -> Result<(Tok, usize), Located> {
    let mut chars = rest.chars();
    let c = chars.next().unwrap_or_default();
    let next = chars.next();
    Ok(match c {
        '|' => (Tok::Pipe, 1),
        '(' => (Tok::LeftParen, 1),
        ')' => (Tok::RightParen, 1),
        ',' => (Tok::Comma, 1),
        '=' => (Tok::Assign, 1),
        ':' if next == Some('=') => (Tok::Declare, 2),
        '"' => lex_quoted(rest, pos)?,
        '`' => match rest[1..].find('`') {
            Some(end) => (Tok::Str(rest[1..1 + end].to_string()), end + 2),
            None => return Err(Located::parse(pos, "unterminated raw string: add `")),
        },
        '\'' => lex_char(rest, pos)?,
        '$' => {
            let len = 1 + ident_len(&rest[1..]);
            (Tok::Var(rest[..len].to_string()), len)
        }
        '.' if next.is_some_and(|n| n.is_ascii_digit()) => lex_number(rest),
        '.' if next.is_some_and(|n| n.is_alphabetic() || n == '_') => {
            let len = 1 + ident_len(&rest[1..]);
            (Tok::Field(rest[1..len].to_string()), len)
        }
        '.' => (Tok::Dot, 1),
        '0'..='9' => lex_number(rest),
        '-' | '+' if next.is_some_and(|n| n.is_ascii_digit() || n == '.') => lex_number(rest),
        c if c.is_alphabetic() || c == '_' => {
            let len = ident_len(rest);
            (Tok::Ident(rest[..len].to_string()), len)
        }
        other => {
            return Err(Located::parse(
                pos,
                format!("unexpected {other:?} in action"),
            ))
        }
    })
}

fn lex_number(rest: &str) -> (Tok, usize) {
    let bytes = rest.as_bytes();
    let mut len = 1;
    while len < bytes.len() {
        let b = bytes[len];
        let after_exponent = matches!(bytes[len - 1], b'e' | b'E' | b'p' | b'P');
        if b.is_ascii_alphanumeric()
            || b == b'.'
            || b == b'_'
            || (after_exponent && (b == b'+' || b == b'-'))
        {
            len += 1;
        } else {
            break;
        }
    }
    (Tok::Number(rest[..len].to_string()), len)
}

fn lex_quoted(rest: &str, pos: usize) -> Result<(Tok, usize), Located> {
    let mut out = String::new();
    let mut chars = rest.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Tok::Str(out), i + 1)),
            '\n' => break,
            '\\' => {
                let Some((j, e)) = chars.next() else { break };
                let escaped = match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '\\' => '\\',
                    '"' => '"',
                    '\'' => '\'',
                    '0' => '\0',
                    'a' => '\x07',
                    'b' => '\x08',
                    'f' => '\x0c',
                    'v' => '\x0b',
                    'x' | 'u' | 'U' => {
                        let digits = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex = rest.get(j + 1..j + 1 + digits).unwrap_or("");
                        let code = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                        let Some(code) = code.filter(|_| hex.len() == digits) else {
                            return Err(Located::parse(
                                pos + j - 1,
                                format!("bad escape \\{e}{hex} in string"),
                            ));
                        };
                        for _ in 0..digits {
                            chars.next();
                        }
                        code
                    }
                    other => {
                        return Err(Located::parse(
                            pos + j - 1,
                            format!("unknown escape \\{other} in string"),
                        ))
                    }
                };
                out.push(escaped);
            }
            c => out.push(c),
        }
    }
    Err(Located::parse(pos, "unterminated quoted string: add \""))
}

fn lex_char(rest: &str, pos: usize) -> Result<(Tok, usize), Located> {
    let mut chars = rest.char_indices().skip(1);
    let bad = || {
        Located::parse(
            pos,
            "bad character constant: write one character between single quotes",
        )
    };
    let (_, c) = chars.next().ok_or_else(bad)?;
    let value = if c == '\\' {
        match chars.next().ok_or_else(bad)?.1 {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '\\' => '\\',
            '\'' => '\'',
            '0' => '\0',
            _ => return Err(bad()),
        }
    } else {
        c
    };
    match chars.next() {
        Some((i, '\'')) => Ok((Tok::Char(value), i + 1)),
        _ => Err(bad()),
    }
}
