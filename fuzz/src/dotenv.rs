//! `.env` and `env_file` files: the Compose crate's dotenv reader.

use std::sync::Arc;

/// Parse `data` as a `.env` file with a small environment to expand from.
pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let lookup = |key: &str| match key {
        "HOME" => Some("/home/user".to_string()),
        "A" => Some("1".to_string()),
        _ => None,
    };
    if let Ok(vars) = wharf_compose::dotenv::parse_with_lines(text, Arc::from(".env"), &lookup) {
        let lines = text.lines().count().max(1) as u32;
        for (key, _, line) in &vars {
            assert!(!key.is_empty(), "an empty variable name was accepted");
            assert!(
                (1..=lines + 1).contains(line),
                "variable {key:?} set on line {line} of a {lines}-line file"
            );
        }
    }
}
