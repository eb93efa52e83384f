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
/// A mismatch after a `**` only moves that `**` on, never back into an earlier one,
/// so the work is at most the pattern's length times the path's, not exponential in
/// the number of `**`.
pub fn match_path(pat: &[String], path: &[String]) -> bool {
    wildcard(
        pat.len(),
        path.len(),
        |p| pat[p] == "**",
        |p, s| match_component(&pat[p], &path[s]).then_some(p + 1),
    )
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

/// One component against a `filepath.Match` pattern; like [`match_path`], a `*`
/// that fails only moves itself on.
fn matches(p: &[char], s: &[char]) -> bool {
    wildcard(p.len(), s.len(), |i| p[i] == '*', |i, at| one(p, i, s[at]))
}

/// The classic wildcard matcher over a pattern of `pat_len` tokens and a subject of
/// `len` items: `is_star(i)` says token `i` matches any run of items, `step(i, at)`
/// whether the single-item token at `i` matches item `at`, and where the next
/// token starts. Remembers only the last star and how far it has reached.
fn wildcard(
    pat_len: usize,
    len: usize,
    is_star: impl Fn(usize) -> bool,
    step: impl Fn(usize, usize) -> Option<usize>,
) -> bool {
    let (mut p, mut at) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while at < len {
        if p < pat_len && is_star(p) {
            p += 1;
            star = Some((p, at));
            continue;
        }
        if let Some(next) = (p < pat_len).then(|| step(p, at)).flatten() {
            p = next;
            at += 1;
            continue;
        }
        match star {
            Some((after_star, reached)) => {
                p = after_star;
                at = reached + 1;
                star = Some((after_star, reached + 1));
            }
            None => return false,
        }
    }
    (p..pat_len).all(is_star)
}

/// Whether the single-character token at `p[i]` (`?`, a class, an escape or a
/// literal) matches `ch`, and where the next token starts.
fn one(p: &[char], i: usize, ch: char) -> Option<usize> {
    match p[i] {
        '?' => Some(i + 1),
        '[' => {
            let mut i = i + 1;
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
            // An unterminated class matches nothing.
            (i < p.len() && hit != negate).then_some(i + 1)
        }
        '\\' if i + 1 < p.len() => (p[i + 1] == ch).then_some(i + 2),
        c => (c == ch).then_some(i + 1),
    }
}
