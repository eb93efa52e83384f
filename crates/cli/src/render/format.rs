//! `--format` as docker's CLI reads it: `table` (the command's own table),
//! `table TEMPLATE` (a header row, then one aligned row per object), `json`
//! (one JSON object per line) or a bare Go template (one line per object, no
//! header). `\t` and `\n` written in the flag are a tab and a newline.

use super::table;
use anyhow::{bail, Result};
use serde_json::{Map, Value};
use wharf_gotemplate::Template;

/// What a listing's `--format` asked for.
#[derive(Debug)]
pub enum Format {
    /// `table` or nothing: the command's default table.
    Default,
    Json,
    Table(Template),
    Lines(Template),
}

/// A listing's fields and the headers docker's table shows for them
/// (`("Names", "NAMES")`).
pub type Headers = [(&'static str, &'static str)];

impl Format {
    /// Reads a listing's `--format`; a field the listing does not have is an
    /// error when the template runs, as with docker.
    pub fn parse(flag: &str, text: &str) -> Result<Format> {
        Ok(match text.trim() {
            "" | "table" => Format::Default,
            "json" => Format::Json,
            _ => match table_template(text) {
                Some(rest) => Format::Table(parse_template(flag, rest)?.with_strict_fields()),
                None => Format::Lines(parse_template(flag, text)?.with_strict_fields()),
            },
        })
    }
}

/// The template after `table`: docker takes any format that starts with the
/// word as a table (`table{{.ID}}` too).
fn table_template(text: &str) -> Option<&str> {
    text.trim_start().strip_prefix("table")
}

/// Parses a template given in `flag`, turning docker's `\t` and `\n`
/// escapes into the characters, with an error that points at the column.
pub fn parse_template(flag: &str, text: &str) -> Result<Template> {
    let source = text.trim().replace("\\t", "\t").replace("\\n", "\n");
    Template::parse(&source).map_err(|e| template_error(flag, &source, &e))
}

fn template_error(flag: &str, source: &str, error: &wharf_gotemplate::Error) -> anyhow::Error {
    let line = source.lines().nth(error.line() - 1).unwrap_or("");
    let caret = " ".repeat(error.column() - 1) + "^";
    anyhow::anyhow!(
        "invalid {flag} template: line {}, column {}: {}\n  {line}\n  {caret}\nwrite a Go template such as '{{{{.Names}}}}' or 'table {{{{.Names}}}}\\t{{{{.Status}}}}', or use table or json",
        error.line(),
        error.column(),
        error.message()
    )
}

/// Writes `rows` as `format` asks; `default_table` draws the command's own
/// table for [`Format::Default`].
pub fn render(
    format: &Format,
    flag: &str,
    headers: &Headers,
    rows: &[Value],
    default_table: impl FnOnce() -> String,
) -> Result<String> {
    let run = |template: &Template, row: &Value| {
        template
            .execute(row)
            .map_err(|e| template_error(flag, template.source(), &e))
    };
    Ok(match format {
        Format::Default => default_table(),
        Format::Json => rows.iter().map(|row| format!("{row}\n")).collect(),
        Format::Lines(template) => {
            let mut out = String::new();
            for row in rows {
                out.push_str(&run(template, row)?);
                out.push('\n');
            }
            out
        }
        Format::Table(template) => {
            let header: Map<String, Value> = headers
                .iter()
                .map(|(field, title)| (field.to_string(), Value::String(title.to_string())))
                .collect();
            let mut text = run(template, &Value::Object(header))?;
            text.push('\n');
            for row in rows {
                text.push_str(&run(template, row)?);
                text.push('\n');
            }
            table::align(&text)
        }
    })
}

/// `inspect --format`: nothing or `json` for the JSON array, a template to
/// run on each object (fields it lacks print `<no value>`, as docker's do).
pub fn inspect(flag: &str, format: Option<&str>, objects: &[Value]) -> Result<String> {
    match format.map(str::trim) {
        None | Some("") | Some("json") => Ok(serde_json::to_string_pretty(objects)? + "\n"),
        Some(text) => {
            let template = parse_template(flag, text)?;
            let mut out = String::new();
            for object in objects {
                let line = template
                    .execute(object)
                    .map_err(|e| template_error(flag, template.source(), &e))?;
                out.push_str(&line);
                out.push('\n');
            }
            Ok(out)
        }
    }
}

/// Rejects a format the command cannot show, naming the choices.
pub fn only_table_or_json(flag: &str, text: &str) -> Result<()> {
    if !matches!(text.trim(), "table" | "json" | "") {
        bail!("unsupported {flag} {text:?}: use table or json");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEADERS: &Headers = &[("Names", "NAMES"), ("Status", "STATUS")];

    fn rows() -> Vec<Value> {
        vec![
            json!({"Names": "web", "Status": "Up 2 seconds"}),
            json!({"Names": "a-much-longer-name", "Status": "Exited (0)"}),
        ]
    }

    fn render_text(format: &str) -> Result<String> {
        let parsed = Format::parse("--format", format)?;
        render(&parsed, "--format", HEADERS, &rows(), || "default\n".into())
    }

    #[test]
    fn a_bare_template_prints_one_line_per_row() {
        assert_eq!(
            render_text("{{.Names}}").unwrap(),
            "web\na-much-longer-name\n"
        );
        assert_eq!(
            render_text("{{.Names}}\\t{{.Status}}").unwrap(),
            "web\tUp 2 seconds\na-much-longer-name\tExited (0)\n"
        );
    }

    #[test]
    fn a_table_template_has_headers_and_aligned_columns() {
        assert_eq!(
            render_text("table {{.Names}}\\t{{.Status}}").unwrap(),
            "NAMES                STATUS\nweb                  Up 2 seconds\na-much-longer-name   Exited (0)\n"
        );
    }

    #[test]
    fn table_may_touch_its_template() {
        assert_eq!(
            render_text("table{{.Names}}").unwrap(),
            "NAMES\nweb\na-much-longer-name\n"
        );
    }

    #[test]
    fn json_and_table_keep_their_meaning() {
        assert_eq!(render_text("table").unwrap(), "default\n");
        let json = render_text("json").unwrap();
        assert_eq!(json.lines().count(), 2);
        assert_eq!(
            serde_json::from_str::<Value>(json.lines().next().unwrap()).unwrap()["Names"],
            "web"
        );
    }

    #[test]
    fn bad_templates_name_the_flag_and_column() {
        let e = render_text("{{.Names}} {{nope}}").unwrap_err().to_string();
        assert!(
            e.contains("invalid --format template: line 1, column 14"),
            "{e}"
        );
        assert!(e.contains("function \"nope\" not defined"), "{e}");
        let e = render_text("table {{.Nmes}}").unwrap_err().to_string();
        assert!(e.contains("can't evaluate field Nmes"), "{e}");
    }

    #[test]
    fn inspect_runs_the_template_on_each_object() {
        let objects = [json!({"Name": "a", "Scope": "local"}), json!({"Name": "b"})];
        let out = inspect("--format", Some("{{.Name}} {{.Scope}}"), &objects).unwrap();
        assert_eq!(out, "a local\nb <no value>\n");
        let all = inspect("--format", None, &objects).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&all).unwrap()[1]["Name"], "b");
    }
}
