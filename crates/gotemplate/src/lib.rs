//! Go's `text/template` over `serde_json` values, as docker's `--format` flags
//! accept it: fields (`.State.Status`), pipelines, `if`/`else if`/`else`,
//! `with`, `range` (with `$i, $v :=`), variables, `{{-`/`-}}` trimming, Go's
//! builtins and docker's own functions (`json join split title lower upper pad
//! truncate`), and `.Label "KEY"` as `docker ps` offers it.
//!
//! `define`, `template` and `block` are refused: a `--format` has one template.
//! Nesting, output size and work are bounded ([`Limits`]) so that a hostile
//! template cannot exhaust memory or time. Errors carry the line and column in
//! the template.

mod error;
mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
mod value;

pub use error::Error;

use serde_json::Value;

/// Bounds on parsing and executing one template.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting of control structures and parentheses.
    pub max_depth: usize,
    /// Most bytes one execution may write.
    pub max_output: usize,
    /// Most steps (nodes walked, loop iterations) one execution may take.
    pub max_steps: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_output: 4 << 20,
            max_steps: 10_000_000,
        }
    }
}

/// A parsed template, ready to execute against any number of values.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    nodes: Vec<parse::Node>,
    limits: Limits,
    strict_fields: bool,
}

impl Template {
    /// Parses `source` with the default [`Limits`].
    pub fn parse(source: &str) -> Result<Template, Error> {
        Template::parse_with(source, Limits::default())
    }

    pub fn parse_with(source: &str, limits: Limits) -> Result<Template, Error> {
        let tokens = lex::lex(source).map_err(|e| e.locate(source))?;
        let nodes = parse::parse(tokens, limits.max_depth).map_err(|e| e.locate(source))?;
        Ok(Template {
            source: source.to_string(),
            nodes,
            limits,
            strict_fields: false,
        })
    }

    /// Makes a field the data does not have an error instead of `<no value>`,
    /// as docker's listings (typed rows in Go) report a misspelt field.
    pub fn with_strict_fields(mut self) -> Template {
        self.strict_fields = true;
        self
    }

    /// Runs the template with `data` as dot and returns what it wrote.
    pub fn execute(&self, data: &Value) -> Result<String, Error> {
        exec::execute(&self.nodes, data, self.limits, self.strict_fields)
            .map_err(|e| e.locate(&self.source))
    }

    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Formats a value as Go's `fmt` prints it with `%v` (`[a b]`, `map[k:v]`,
/// `<no value>` for nothing).
pub fn go_string(value: &Value) -> String {
    value::format_v(&value::Val::Json(value.clone()))
}
