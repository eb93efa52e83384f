//! Dockerfile word processing: quotes, the escape character (`\` or `` ` ``) and
//! variable substitution (`$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`,
//! `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`, `${VAR?message}`), as docker
//! applies them to the instructions that support substitution (not RUN, CMD or
//! ENTRYPOINT, whose shell does it).

/// A word that cannot be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordError {
    /// A quote opened and never closed.
    #[error("unterminated {kind} quote in {text:?}")]
    UnterminatedQuote {
        /// `single` or `double`.
        kind: &'static str,
        text: String,
    },
    /// `${` without a name.
    #[error("bad variable reference: ${{ must be followed by a name")]
    MissingName,
    /// `${NAME` without its `}`.
    #[error("unterminated ${{{name} in a variable reference")]
    UnterminatedReference { name: String },
    /// A modifier other than `:-`, `:+`, `:?`, `-`, `+`, `?`.
    #[error("unsupported modifier in ${{{name}{modifier}}}; use :-, :+, :?, -, + or ?")]
    UnsupportedModifier { name: String, modifier: String },
    /// `${NAME:?message}` or `${NAME?message}` of a variable that is unset (or
    /// empty); the message is the Dockerfile's own.
    #[error("{name}: {message}")]
    Required { name: String, message: String },
}

/// Looks a variable up; `None` when it is not set.
pub type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A lexer for one Dockerfile (its escape character).
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    /// `\` (default) or `` ` `` (`# escape=`` ` ``).
    pub escape: char,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer { escape: '\\' }
    }
}

impl Lexer {
    /// The whole text as one word: quotes removed, escapes and variables processed,
    /// whitespace kept.
    pub fn word(&self, s: &str, vars: Vars<'_>) -> Result<String, WordError> {
        Ok(self.process(s, vars, false)?.concat())
    }

    /// Split at unquoted whitespace into processed words.
    pub fn words(&self, s: &str, vars: Vars<'_>) -> Result<Vec<String>, WordError> {
        self.process(s, vars, true)
    }

    /// Split at unquoted whitespace without processing anything (quotes, escapes and
    /// `$` stay as written), for `KEY=value` lists that are processed per part.
    pub fn raw_words(&self, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match quote {
                Some(q) => {
                    cur.push(c);
                    if c == self.escape && q == '"' {
                        if let Some(n) = chars.next() {
                            cur.push(n);
                        }
                    } else if c == q {
                        quote = None;
                    }
                }
                None if c.is_whitespace() => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
                None => {
                    cur.push(c);
                    if c == self.escape {
                        if let Some(n) = chars.next() {
                            cur.push(n);
                        }
                    } else if c == '"' || c == '\'' {
                        quote = Some(c);
                    }
                }
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    fn process(&self, s: &str, vars: Vars<'_>, split: bool) -> Result<Vec<String>, WordError> {
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            if split && c.is_whitespace() {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
                continue;
            }
            in_word = true;
            if c == self.escape {
                match chars.get(i) {
                    Some(&n) => {
                        cur.push(n);
                        i += 1;
                    }
                    None => cur.push(c),
                }
            } else if c == '\'' {
                loop {
                    match chars.get(i) {
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&c) => {
                            cur.push(c);
                            i += 1;
                        }
                        None => {
                            return Err(WordError::UnterminatedQuote {
                                kind: "single",
                                text: s.to_string(),
                            })
                        }
                    }
                }
            } else if c == '"' {
                loop {
                    match chars.get(i) {
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&e) if e == self.escape => match chars.get(i + 1) {
                            Some(&n) if n == '"' || n == '$' || n == self.escape => {
                                cur.push(n);
                                i += 2;
                            }
                            _ => {
                                cur.push(e);
                                i += 1;
                            }
                        },
                        Some('$') => {
                            i += 1;
                            i = self.expand(&chars, i, vars, &mut cur)?;
                        }
                        Some(&c) => {
                            cur.push(c);
                            i += 1;
                        }
                        None => {
                            return Err(WordError::UnterminatedQuote {
                                kind: "double",
                                text: s.to_string(),
                            })
                        }
                    }
                }
            } else if c == '$' {
                i = self.expand(&chars, i, vars, &mut cur)?;
            } else {
                cur.push(c);
            }
        }
        if in_word {
            words.push(cur);
        }
        Ok(words)
    }

    /// Expand the variable reference after a `$` at `chars[i..]`; returns the index
    /// after it.
    fn expand(
        &self,
        chars: &[char],
        mut i: usize,
        vars: Vars<'_>,
        out: &mut String,
    ) -> Result<usize, WordError> {
        let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
        match chars.get(i) {
            Some('{') => {
                i += 1;
                let start = i;
                while chars.get(i).is_some_and(|&c| is_name(c)) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if name.is_empty() {
                    return Err(WordError::MissingName);
                }
                // The modifier word runs to the matching '}' (nested ${} allowed).
                let mod_start = i;
                let mut depth = 0usize;
                loop {
                    match chars.get(i) {
                        None => return Err(WordError::UnterminatedReference { name }),
                        Some('}') if depth == 0 => break,
                        Some('}') => depth -= 1,
                        Some('{') if i > 0 && chars[i - 1] == '$' => depth += 1,
                        Some(&e) if e == self.escape => i += 1,
                        _ => {}
                    }
                    i += 1;
                }
                let modifier: String = chars[mod_start..i].iter().collect();
                i += 1; // '}'
                let value = vars(&name);
                let (op, word) = if modifier.is_empty() {
                    ("", String::new())
                } else if let Some(rest) = modifier.strip_prefix(':') {
                    let op = rest.chars().next().unwrap_or(' ');
                    (
                        match op {
                            '-' => ":-",
                            '+' => ":+",
                            '?' => ":?",
                            _ => return Err(WordError::UnsupportedModifier { name, modifier }),
                        },
                        rest[1..].to_string(),
                    )
                } else {
                    let op = modifier.chars().next().unwrap_or(' ');
                    (
                        match op {
                            '-' => "-",
                            '+' => "+",
                            '?' => "?",
                            _ => return Err(WordError::UnsupportedModifier { name, modifier }),
                        },
                        modifier[1..].to_string(),
                    )
                };
                let word = || self.word(&word, vars);
                let set = value.is_some();
                let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
                match op {
                    "" => out.push_str(value.as_deref().unwrap_or("")),
                    ":-" if non_empty => out.push_str(value.as_deref().unwrap_or("")),
                    ":-" => out.push_str(&word()?),
                    "-" if set => out.push_str(value.as_deref().unwrap_or("")),
                    "-" => out.push_str(&word()?),
                    ":+" if non_empty => out.push_str(&word()?),
                    "+" if set => out.push_str(&word()?),
                    ":+" | "+" => {}
                    ":?" if !non_empty => {
                        let m = word()?;
                        return Err(WordError::Required {
                            name,
                            message: if m.is_empty() {
                                "is not set or empty".into()
                            } else {
                                m
                            },
                        });
                    }
                    "?" if !set => {
                        let m = word()?;
                        return Err(WordError::Required {
                            name,
                            message: if m.is_empty() { "is not set".into() } else { m },
                        });
                    }
                    _ => out.push_str(value.as_deref().unwrap_or("")),
                }
                Ok(i)
            }
            Some(&c) if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while chars.get(i).is_some_and(|&c| is_name(c)) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                out.push_str(&vars(&name).unwrap_or_default());
                Ok(i)
            }
            _ => {
                out.push('$');
                Ok(i)
            }
        }
    }
}

/// `["a", "b"]`: a JSON array of strings (exec form), or `None` for shell form.
pub fn json_array(rest: &str) -> Option<Vec<String>> {
    let t = rest.trim();
    if t.starts_with('[') {
        serde_json::from_str::<Vec<String>>(t).ok()
    } else {
        None
    }
}
