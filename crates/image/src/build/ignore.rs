//! `.dockerignore` and path globs: Go `filepath.Match` patterns per path component
//! (`*`, `?`, `[a-z]`, `[^a]`, `\` escapes) plus `**` for any number of
//! directories; `!` re-includes; the last matching rule wins; a rule that matches a
//! directory matches everything below it.

/// The rules of a `.dockerignore` file.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    rules: Vec<(bool, Vec<String>)>,
}

impl Ignore {
    /// Parse the file's text.
    pub fn parse(text: &str) -> Ignore {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, pat) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let comps = clean(pat);
            if comps.is_empty() {
                continue;
            }
            rules.push((negate, comps));
        }
        Ignore { rules }
    }

    /// Whether there are no rules at all (nothing is excluded).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether there are `!` exceptions (an ignored directory may then hold included files).
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|(n, _)| *n)
    }

    /// Whether `rel` (relative to the context, `/`-separated) is excluded.
    pub fn is_ignored(&self, rel: &str) -> bool {
        if self.rules.is_empty() {
            return false;
        }
        let path = clean(rel);
        if path.is_empty() {
            return false;
        }
        let mut ignored = false;
        for (negate, pat) in &self.rules {
            let hit = (1..=path.len()).any(|n| match_path(pat, &path[..n]));
            if hit {
                ignored = !negate;
            }
        }
        ignored
    }
}

/// Split a path into its normal components (`.` dropped, `..` pops, `/` ignored).
pub fn clean(p: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

/// Whether the pattern components match the path components (`**` spans any number).
pub fn match_path(pat: &[String], path: &[String]) -> bool {
    match pat.first() {
        None => path.is_empty(),
        Some(p) if p == "**" => (0..=path.len()).any(|skip| match_path(&pat[1..], &path[skip..])),
        Some(p) => {
            !path.is_empty() && match_component(p, &path[0]) && match_path(&pat[1..], &path[1..])
        }
    }
}

/// Whether a pattern has glob characters.
pub fn has_glob(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Go `filepath.Match` for one component.
pub fn match_component(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = name.chars().collect();
    matches(&p, &s)
}

fn matches(p: &[char], s: &[char]) -> bool {
    let Some(&c) = p.first() else {
        return s.is_empty();
    };
    match c {
        '*' => (0..=s.len()).any(|k| matches(&p[1..], &s[k..])),
        '?' => !s.is_empty() && matches(&p[1..], &s[1..]),
        '[' => {
            let Some(&ch) = s.first() else {
                return false;
            };
            let mut i = 1;
            let negate = matches!(p.get(i), Some('^' | '!'));
            if negate {
                i += 1;
            }
            let mut hit = false;
            let mut first = true;
            while i < p.len() && (p[i] != ']' || first) {
                first = false;
                let mut lo = p[i];
                if lo == '\\' && i + 1 < p.len() {
                    i += 1;
                    lo = p[i];
                }
                let mut hi = lo;
                if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&c| c != ']') {
                    hi = p[i + 2];
                    i += 2;
                }
                if lo <= ch && ch <= hi {
                    hit = true;
                }
                i += 1;
            }
            if i >= p.len() {
                return false; // unterminated class matches nothing
            }
            hit != negate && matches(&p[i + 1..], &s[1..])
        }
        '\\' if p.len() > 1 => !s.is_empty() && s[0] == p[1] && matches(&p[2..], &s[1..]),
        c => !s.is_empty() && s[0] == c && matches(&p[1..], &s[1..]),
    }
}
