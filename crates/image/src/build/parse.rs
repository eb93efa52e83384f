//! The Dockerfile parser: parser directives (`# syntax=`, `# escape=`), comments,
//! line continuations, heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`), instruction flags,
//! and the split into global `ARG`s and stages. Arguments are kept as written;
//! variables are substituted by the builder, which knows their values.

use super::error::BuildError;
use super::words::{json_array, Lexer};

/// A Dockerfile instruction keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// `FROM`
    From,
    /// `RUN`
    Run,
    /// `CMD`
    Cmd,
    /// `ENTRYPOINT`
    Entrypoint,
    /// `ENV`
    Env,
    /// `ARG`
    Arg,
    /// `LABEL`
    Label,
    /// `MAINTAINER`
    Maintainer,
    /// `EXPOSE`
    Expose,
    /// `VOLUME`
    Volume,
    /// `USER`
    User,
    /// `WORKDIR`
    Workdir,
    /// `COPY`
    Copy,
    /// `ADD`
    Add,
    /// `HEALTHCHECK`
    Healthcheck,
    /// `STOPSIGNAL`
    Stopsignal,
    /// `SHELL`
    Shell,
    /// `ONBUILD`
    Onbuild,
}

const KEYWORDS: [(&str, Keyword); 18] = [
    ("FROM", Keyword::From),
    ("RUN", Keyword::Run),
    ("CMD", Keyword::Cmd),
    ("ENTRYPOINT", Keyword::Entrypoint),
    ("ENV", Keyword::Env),
    ("ARG", Keyword::Arg),
    ("LABEL", Keyword::Label),
    ("MAINTAINER", Keyword::Maintainer),
    ("EXPOSE", Keyword::Expose),
    ("VOLUME", Keyword::Volume),
    ("USER", Keyword::User),
    ("WORKDIR", Keyword::Workdir),
    ("COPY", Keyword::Copy),
    ("ADD", Keyword::Add),
    ("HEALTHCHECK", Keyword::Healthcheck),
    ("STOPSIGNAL", Keyword::Stopsignal),
    ("SHELL", Keyword::Shell),
    ("ONBUILD", Keyword::Onbuild),
];

impl Keyword {
    /// The keyword as written in Dockerfiles (upper case).
    pub fn name(self) -> &'static str {
        KEYWORDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }

    fn parse(word: &str) -> Option<Keyword> {
        let upper = word.to_ascii_uppercase();
        KEYWORDS.iter().find(|(n, _)| *n == upper).map(|(_, k)| *k)
    }

    /// The flags the instruction accepts, and those docker has but wharf does not yet.
    fn flags(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            Keyword::From => (&["platform"], &[]),
            Keyword::Run => (&["network", "mount"], &["security"]),
            Keyword::Copy => (&["from", "chown", "chmod", "link"], &["parents", "exclude"]),
            Keyword::Add => (
                &["chown", "chmod", "link", "checksum"],
                &["keep-git-dir", "exclude"],
            ),
            Keyword::Healthcheck => (
                &[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ],
                &[],
            ),
            _ => (&[], &[]),
        }
    }
}

/// `--name=value` (or `--name`) before an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Name without dashes.
    pub name: String,
    /// Value after `=`.
    pub value: Option<String>,
}

/// A heredoc attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word.
    pub name: String,
    /// The lines between the instruction and the delimiter, each ending in `\n`.
    pub body: String,
    /// False when the delimiter was quoted (no variable substitution).
    pub expand: bool,
}

/// One instruction as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Line (1-based) where the instruction starts.
    pub line: usize,
    /// What it is.
    pub keyword: Keyword,
    /// Flags in order.
    pub flags: Vec<Flag>,
    /// The arguments after the flags, continuations joined, as written.
    pub args: String,
    /// Heredocs, in the order their delimiters appear in `args`.
    pub heredocs: Vec<Heredoc>,
}

impl Instruction {
    /// The value of flag `name` (the last one given).
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|f| f.name == name)
            .map(|f| f.value.as_deref().unwrap_or(""))
    }

    /// Every value of flag `name`, in order (`RUN --mount` may be given many times).
    pub fn flag_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.flags
            .iter()
            .filter(move |f| f.name == name)
            .map(|f| f.value.as_deref().unwrap_or(""))
    }

    /// `KEYWORD [--flags] args` (heredoc bodies included): the text cache keys hash.
    pub fn text(&self) -> String {
        let mut s = self.keyword.name().to_string();
        for f in &self.flags {
            s.push_str(" --");
            s.push_str(&f.name);
            if let Some(v) = &f.value {
                s.push('=');
                s.push_str(v);
            }
        }
        s.push(' ');
        s.push_str(&self.args);
        for h in &self.heredocs {
            s.push('\n');
            s.push_str(&h.body);
            s.push_str(&h.name);
        }
        s
    }
}

/// One `FROM` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageDef {
    /// Position among the stages (0-based): what `--from=N` names.
    pub index: usize,
    /// `AS name` (lower case), if given.
    pub name: Option<String>,
    /// The base as written (variables not yet substituted).
    pub base: String,
    /// `--platform`, as written.
    pub platform: Option<String>,
    /// The `FROM` line.
    pub line: usize,
    /// The instructions after `FROM`.
    pub instructions: Vec<Instruction>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The file name shown in errors.
    pub file: String,
    /// The escape character (`# escape=`).
    pub escape: char,
    /// `# syntax=`, if given (accepted, not used: wharf's parser is built in).
    pub syntax: Option<String>,
    /// `ARG`s before the first `FROM`.
    pub global_args: Vec<Instruction>,
    /// The stages, in order.
    pub stages: Vec<StageDef>,
}

impl Dockerfile {
    /// The lexer for this file's escape character.
    pub fn lexer(&self) -> Lexer {
        Lexer {
            escape: self.escape,
        }
    }

    /// The stage named `name` (case-insensitive) or with index `name`.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(i) = self
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Some(i);
        }
        name.parse::<usize>()
            .ok()
            .filter(|i| *i < self.stages.len())
    }
}

/// Parse `text`; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, BuildError> {
    let err = |line: usize, message: String| BuildError::Dockerfile {
        file: file.to_string(),
        line,
        message,
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut syntax = None;
    let mut i = 0;
    // Parser directives: only at the very top, each at most once.
    let mut seen = Vec::new();
    while i < lines.len() {
        let Some((key, value)) = directive(lines[i]) else {
            break;
        };
        if seen.contains(&key) {
            return Err(err(
                i + 1,
                format!("the parser directive {key:?} is given twice; keep one"),
            ));
        }
        match key.as_str() {
            "escape" => {
                escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(err(
                            i + 1,
                            format!("invalid escape character {other:?}; use \\ or `"),
                        ))
                    }
                }
            }
            "syntax" => syntax = Some(value),
            "check" => {}
            _ => break, // an unknown directive is a comment and ends the directives
        }
        seen.push(key);
        i += 1;
    }

    let mut instructions = Vec::new();
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut logical = String::new();
        loop {
            let l = lines[i];
            i += 1;
            let t = l.trim_end();
            if let Some(body) = t.strip_suffix(escape) {
                logical.push_str(body);
                // Comment and empty lines inside a continuation are skipped.
                while i < lines.len() {
                    let next = lines[i].trim_start();
                    if next.is_empty() || next.starts_with('#') {
                        i += 1;
                    } else {
                        break;
                    }
                }
                if i >= lines.len() {
                    break;
                }
            } else {
                logical.push_str(l);
                break;
            }
        }
        let logical = logical.trim();
        let (word, rest) = match logical.find(char::is_whitespace) {
            Some(p) => (&logical[..p], logical[p..].trim_start()),
            None => (logical, ""),
        };
        let Some(keyword) = Keyword::parse(word) else {
            return Err(err(
                start,
                format!(
                    "unknown instruction {:?}; the instructions are {}",
                    word,
                    KEYWORDS.map(|(n, _)| n).join(", ")
                ),
            ));
        };
        let (flags, args) = split_flags(keyword, rest).map_err(|m| err(start, m))?;
        let mut heredocs = Vec::new();
        if matches!(keyword, Keyword::Run | Keyword::Copy | Keyword::Add)
            && json_array(&args).is_none()
        {
            for (name, strip_tabs, expand) in heredoc_markers(&args) {
                let mut body = String::new();
                loop {
                    let Some(l) = lines.get(i) else {
                        return Err(err(
                            start,
                            format!(
                                "the heredoc <<{name} is not terminated; end it with a line holding only {name}"
                            ),
                        ));
                    };
                    i += 1;
                    let l = if strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if l == name {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                heredocs.push(Heredoc { name, body, expand });
            }
        }
        if args.is_empty() && heredocs.is_empty() && keyword != Keyword::Healthcheck {
            return Err(err(start, format!("{} needs arguments", keyword.name())));
        }
        instructions.push(Instruction {
            line: start,
            keyword,
            flags,
            args,
            heredocs,
        });
    }

    let mut global_args = Vec::new();
    let mut stages: Vec<StageDef> = Vec::new();
    let lexer = Lexer { escape };
    for inst in instructions {
        if inst.keyword == Keyword::From {
            let words = lexer.raw_words(&inst.args);
            let (base, name) = match words.as_slice() {
                [base] => (base.clone(), None),
                [base, as_, name] if as_.eq_ignore_ascii_case("as") => {
                    let name = name.to_ascii_lowercase();
                    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                    if !valid {
                        return Err(err(
                            inst.line,
                            format!(
                                "invalid stage name {name:?}: start with a letter, then letters, digits, '-', '_' or '.'"
                            ),
                        ));
                    }
                    if stages
                        .iter()
                        .any(|s| s.name.as_deref() == Some(name.as_str()))
                    {
                        return Err(err(
                            inst.line,
                            format!(
                                "the stage name {name:?} is used twice; stage names must be unique"
                            ),
                        ));
                    }
                    (base.clone(), Some(name))
                }
                _ => {
                    return Err(err(
                        inst.line,
                        "FROM takes an image and an optional \"AS name\": FROM IMAGE [AS NAME]"
                            .into(),
                    ))
                }
            };
            stages.push(StageDef {
                index: stages.len(),
                name,
                base,
                platform: inst.flag("platform").map(str::to_string),
                line: inst.line,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push(inst);
        } else if inst.keyword == Keyword::Arg {
            global_args.push(inst);
        } else {
            return Err(err(
                inst.line,
                format!(
                    "{} comes before the first FROM; only ARG may precede FROM",
                    inst.keyword.name()
                ),
            ));
        }
    }
    if stages.is_empty() {
        return Err(err(
            lines.len().max(1),
            "the Dockerfile has no FROM instruction; start it with FROM IMAGE (or FROM scratch)"
                .into(),
        ));
    }
    Ok(Dockerfile {
        file: file.to_string(),
        escape,
        syntax,
        global_args,
        stages,
    })
}

/// `# key=value` at the top of the file.
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim().to_ascii_lowercase();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some((key, value.trim().to_string()))
}

fn split_flags(keyword: Keyword, rest: &str) -> Result<(Vec<Flag>, String), String> {
    let (allowed, later) = keyword.flags();
    let mut flags = Vec::new();
    let mut rest = rest;
    if allowed.is_empty() && later.is_empty() {
        return Ok((flags, rest.to_string()));
    }
    while let Some(after) = rest.strip_prefix("--") {
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let token = &after[..end];
        rest = after[end..].trim_start();
        let (name, value) = match token.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (token, None),
        };
        if later.contains(&name) {
            return Err(format!(
                "{} --{name} is not supported by wharf yet; remove it",
                keyword.name()
            ));
        }
        if !allowed.contains(&name) {
            return Err(format!(
                "unknown flag --{name} for {}; it accepts {}",
                keyword.name(),
                allowed
                    .iter()
                    .map(|a| format!("--{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if value.is_none() && name != "link" {
            return Err(format!(
                "{} --{name} needs a value: --{name}=VALUE",
                keyword.name()
            ));
        }
        flags.push(Flag {
            name: name.to_string(),
            value,
        });
    }
    Ok((flags, rest.to_string()))
}

/// Heredoc markers in `args` outside quotes: (name, strip leading tabs, expand).
fn heredoc_markers(args: &str) -> Vec<(String, bool, bool)> {
    let b: Vec<char> = args.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == '<' && b.get(i + 1) == Some(&'<') && b.get(i + 2) != Some(&'<') {
            let mut j = i + 2;
            let strip = b.get(j) == Some(&'-');
            if strip {
                j += 1;
            }
            let q = match b.get(j) {
                Some(&q @ ('"' | '\'')) => {
                    j += 1;
                    Some(q)
                }
                _ => None,
            };
            let start = j;
            while b
                .get(j)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                j += 1;
            }
            let name: String = b[start..j].iter().collect();
            let closed = match q {
                Some(q) if b.get(j) == Some(&q) => {
                    j += 1;
                    true
                }
                Some(_) => false,
                None => true,
            };
            if !name.is_empty()
                && closed
                && name.chars().next().is_some_and(|c| !c.is_ascii_digit())
            {
                out.push((name, strip, q.is_none()));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}
