//! `.dockerignore` patterns: compiled from the text before the first NUL byte,
//! then matched against each NUL-separated path after it (and a few fixed ones).

use wharf_image::build::ignore::{self, Ignore};

/// Compile the patterns and match the paths.
pub fn run(data: &[u8]) {
    let mut parts = data.split(|b| *b == 0);
    let Some(patterns) = parts.next().and_then(crate::text) else {
        return;
    };
    let rules = Ignore::parse(patterns);
    let _ = rules.is_empty();
    let _ = rules.has_exceptions();
    let fixed = ["Dockerfile", "src/main.rs", ".git/config", "a/b/c/d/e/f"];
    for path in parts.filter_map(crate::text).chain(fixed) {
        let _ = rules.is_ignored(path);
        for line in patterns.lines() {
            let _ = ignore::match_component(line, path);
            let _ = ignore::has_glob(line);
        }
    }
}
