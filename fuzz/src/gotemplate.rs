//! `--format` templates: wharf-gotemplate's parser and executor, with small
//! limits so that a slow template shows as a limit error, not a hang.

use serde_json::json;
use wharf_gotemplate::{Error, Limits, Template};

/// Parse `data` as a template and run it on a row like `inspect`'s.
pub fn run(data: &[u8]) {
    let Some(source) = crate::text(data) else {
        return;
    };
    let limits = Limits {
        max_depth: 32,
        max_output: 64 * 1024,
        max_steps: 100_000,
    };
    let lines = source.split('\n').count();
    let check = |e: &Error| {
        assert!(
            (1..=lines).contains(&e.line()),
            "error on line {} of a {lines}-line template: {e}",
            e.line()
        );
        assert!(e.column() >= 1, "column 0 in {e}");
    };
    let template = match Template::parse_with(source, limits) {
        Ok(t) => t,
        Err(e) => return check(&e),
    };
    let data = json!({
        "Name": "/web", "Id": "4f2a", "Count": 3, "Ratio": 0.5, "Empty": "",
        "State": {"Status": "running", "Pid": 42, "Running": true},
        "Config": {"Env": ["A=1", "B=2"], "Labels": {"k": "v"}},
        "Mounts": [{"Source": "/srv", "Destination": "/data"}],
        "Labels": "a=1,b=2", "Nothing": null,
    });
    for strict in [false, true] {
        let t = if strict {
            template.clone().with_strict_fields()
        } else {
            template.clone()
        };
        match t.execute(&data) {
            Ok(out) => assert!(
                out.len() <= limits.max_output,
                "{} bytes written",
                out.len()
            ),
            Err(e) => check(&e),
        }
    }
}
