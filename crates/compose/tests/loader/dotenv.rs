//! `.env` parsing and its place in the environment.

use super::Proj;
use std::sync::Arc;
use wharf_compose::dotenv::parse;

fn parse_ok(text: &str) -> Vec<(String, String)> {
    let lookup = |k: &str| (k == "SHELLVAR").then(|| "from-shell".to_string());
    parse(text, Arc::from(".env"), &lookup).unwrap()
}

fn parse_err(text: &str) -> String {
    let lookup = |_: &str| None;
    parse(text, Arc::from(".env"), &lookup)
        .unwrap_err()
        .to_string()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn syntax_table() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("A=1", &[("A", "1")]),
        ("# comment\n\nA=1\n", &[("A", "1")]),
        ("export A=1", &[("A", "1")]),
        ("A = spaced  ", &[("A", "spaced")]),
        ("A=x # comment", &[("A", "x")]),
        ("A=x#notcomment", &[("A", "x#notcomment")]),
        ("A='lit $SHELLVAR \\n'", &[("A", "lit $SHELLVAR \\n")]),
        ("A=\"a\\nb\\t\\\"q\\\" \\$x\"", &[("A", "a\nb\t\"q\" $x")]),
        ("A=\"two\nlines\"", &[("A", "two\nlines")]),
        ("A=\"x\" # c", &[("A", "x")]),
        ("A=", &[("A", "")]),
        (
            "A=1\nB=${A}2\nC=\"$B-$SHELLVAR\"",
            &[("A", "1"), ("B", "12"), ("C", "12-from-shell")],
        ),
        ("B=${NOPE:-dflt}", &[("B", "dflt")]),
        ("A=1\nA=2", &[("A", "2")]),
        ("SHELLVAR", &[("SHELLVAR", "from-shell")]),
        ("UNSETVAR", &[]),
        ("dotted.name-x=1", &[("dotted.name-x", "1")]),
        ("A=1\r\nB=2\r\n", &[("A", "1"), ("B", "2")]),
    ];
    for (text, want) in cases {
        assert_eq!(parse_ok(text), pairs(want), "text {text:?}");
    }
}

#[test]
fn errors_name_file_and_line() {
    let cases: &[(&str, &str)] = &[
        ("A=1\n1BAD=2", ".env:2: invalid variable name: names are letters, digits, '_', '.' and '-', not starting with a digit"),
        ("A=1\nB x", ".env:2: expected '=' after the variable name: write KEY=VALUE"),
        ("\nA=\"open\n", ".env:2: the double-quoted value of \"A\" is not closed"),
        ("A='open", ".env:1: the single-quoted value of \"A\" is not closed"),
        ("A=\"x\" y", ".env:1: unexpected text after the quoted value of \"A\""),
        ("A=${", ".env:1: A: invalid interpolation syntax at character 1: \"${\" is not closed: write $$ for a literal $"),
    ];
    for (text, want) in cases {
        assert_eq!(parse_err(text), *want, "text {text:?}");
    }
}

#[test]
fn shell_wins_over_dotenv() {
    let p = Proj::with("services:\n  a:\n    image: ${IMG}:${TAG}\n");
    p.file(".env", "IMG=fromdotenv\nTAG=1.0\n");
    let p = p.env("TAG", "2.0");
    assert_eq!(
        p.load().unwrap().services["a"].image.as_deref(),
        Some("fromdotenv:2.0")
    );
}

#[test]
fn env_files_option_replaces_dotenv() {
    let p = Proj::with("services:\n  a:\n    image: ${IMG}\n");
    p.file(".env", "IMG=dotenv\n");
    p.file("one.env", "IMG=one\n");
    p.file("two.env", "X=2\nIMG=two-$X\n");
    let project = p
        .load_with(|o| o.env_files = vec!["one.env".into(), "two.env".into()])
        .unwrap();
    assert_eq!(project.services["a"].image.as_deref(), Some("two-2"));
    let err = p
        .load_with(|o| o.env_files = vec!["missing.env".into()])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("missing.env: cannot read the env file"),
        "{err}"
    );
}

#[test]
fn dotenv_error_is_reported_by_load() {
    let p = Proj::with("services:\n  a:\n    image: x\n");
    p.file(".env", "OK=1\n-bad=1\n");
    assert_eq!(
        p.load().unwrap_err().to_string(),
        ".env:2: invalid variable name: names are letters, digits, '_', '.' and '-', not starting with a digit"
    );
}

#[test]
fn service_env_file_then_environment() {
    let p = Proj::with(
        r#"services:
  a:
    image: x
    env_file:
      - common.env
      - path: ./missing.env
        required: false
      - conf/extra.env
    environment:
      FROM_FILE: overridden
      FROM_SHELL:
      NOT_SET:
      DROPPED:
"#,
    );
    p.file(
        "common.env",
        "FROM_FILE=file\nKEEP=1\nDROPPED=x\nREF=${SHELLY}-ref\n",
    );
    p.file("conf/extra.env", "EXTRA='quoted # not comment'\n");
    let p = p.env("FROM_SHELL", "shell").env("SHELLY", "sh");
    let env = p.load().unwrap().services["a"].environment.clone();
    let got: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        got,
        [
            "EXTRA=quoted # not comment",
            "FROM_FILE=overridden",
            "FROM_SHELL=shell",
            "KEEP=1",
            "REF=sh-ref"
        ]
    );
}

#[test]
fn missing_required_env_file() {
    let p = Proj::with("services:\n  a:\n    image: x\n    env_file: web.env\n");
    let err = p.load().unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "compose.yaml:4:15: services.a.env_file[0]: cannot read env file {}: ",
            p.path("web.env").display()
        )),
        "{err}"
    );
}

#[test]
fn env_file_long_form_raw_and_optional() {
    let p = Proj::with(
        "services:\n  a:\n    image: x\n    env_file:\n      - path: ./raw.env\n        format: raw\n      - path: ./missing.env\n        required: false\n      - ./plain.env\n",
    );
    p.file("raw.env", "Q=\"kept\" $X\n# comment\nP='x'\n");
    p.file("plain.env", "R=\"unquoted\"\n");
    let project = p.load().unwrap();
    let env = &project.services["a"].environment;
    assert_eq!(env["Q"], "\"kept\" $X");
    assert_eq!(env["P"], "'x'");
    assert_eq!(env["R"], "unquoted");
}

#[test]
fn regression_self_doubling_values_are_bounded_not_an_out_of_memory() {
    let mut text = String::from("A=ab\n");
    for _ in 0..40 {
        text.push_str("A=\"$A$A\"\n");
    }
    let err = parse_err(&text);
    assert!(err.contains("grow past 16 MiB"), "{err}");
    assert!(err.contains(".env:"), "{err}");
    // Doubling that stays small is still expanded.
    let small = parse_ok("A=ab\nA=\"$A$A\"\nA=\"$A$A\"\n");
    assert_eq!(small, pairs(&[("A", "abababab")]));
}
