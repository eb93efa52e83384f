//! Files that are not what the loader expects: not UTF-8, a directory,
//! names docker refuses, files the user did not write, nesting aliases and
//! keys that are not strings. Each is a clear error with a position.

use super::{error_of, Proj};
use wharf_compose::LoadErrorKind;

#[test]
fn a_file_that_is_not_utf8_is_a_content_error_at_the_bad_byte() {
    let p = Proj::new();
    std::fs::write(
        p.path("compose.yaml"),
        b"services:\n  web:\n    image: caf\xe9\n",
    )
    .unwrap();
    let e = p.load().unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::Yaml, "{e}");
    assert_eq!(
        e.to_string(),
        "compose.yaml:3:15: the file is not UTF-8 text: the byte at offset 31 (line 3, column 15) is not valid UTF-8; save the file as UTF-8"
    );
}

#[test]
fn an_env_file_that_is_not_utf8_names_its_line() {
    let p = Proj::with("services:\n  web:\n    image: x\n");
    std::fs::write(p.path(".env"), b"A=1\nB=\xff\n").unwrap();
    let e = p.load().unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::EnvFile);
    assert!(
        e.to_string().starts_with(".env:2:3: the file is not UTF-8"),
        "{e}"
    );
}

#[test]
fn a_compose_file_that_is_a_directory_says_so() {
    let p = Proj::new();
    std::fs::create_dir(p.path("compose.yaml")).unwrap();
    let e = p.load().unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::Files);
    assert!(e.to_string().contains("is a directory, not a file"), "{e}");
    let e = p
        .load_with(|o| o.files = vec!["compose.yaml".into()])
        .unwrap_err();
    assert!(e.to_string().contains("is a directory, not a file"), "{e}");
}

#[test]
fn service_names_outside_dockers_characters_are_refused() {
    for name in ["a/b", "\"..\"", "\".\"", "\"web app\"", "\"\""] {
        let e = error_of(&format!("services:\n  {name}:\n    image: x\n"));
        assert!(
            e.starts_with("compose.yaml:2:3: services: invalid service name"),
            "{name}: {e}"
        );
    }
    // What docker compose accepts.
    super::load_yaml("services:\n  Web_1.a-b:\n    image: x\n");
}

#[test]
fn container_names_outside_dockers_characters_are_refused() {
    for name in ["a/b", "..", "-web", "x", "web app"] {
        let e = error_of(&format!(
            "services:\n  web:\n    image: x\n    container_name: \"{name}\"\n"
        ));
        assert!(
            e.starts_with("compose.yaml:4:21: services.web.container_name: invalid container name"),
            "{name}: {e}"
        );
    }
    super::load_yaml("services:\n  web:\n    image: x\n    container_name: my.web_1-a\n");
}

#[test]
fn errors_do_not_echo_a_file_the_user_did_not_write() {
    let secret = "root:$6$s3cr3tHASH:19000:0:99999:7:::\n";
    let p = Proj::with("services:\n  web:\n    image: x\n    env_file: shadow\n");
    p.file("shadow", secret);
    let e = p.load().unwrap_err().to_string();
    assert!(e.contains("shadow:1"), "{e}");
    assert!(!e.contains("s3cr3t") && !e.contains("root"), "{e}");

    let p = Proj::with("include:\n  - shadow\nservices:\n  web:\n    image: x\n");
    p.file("shadow", secret);
    let e = p.load().unwrap_err().to_string();
    assert!(e.contains("shadow:1"), "{e}");
    assert!(!e.contains("s3cr3t") && !e.contains("root"), "{e}");

    // What /proc/self/environ holds.
    let p = Proj::with("include:\n  - environ\nservices:\n  web:\n    image: x\n");
    p.file("environ", "HOME=/root\0TOKEN=s3cr3t\0");
    let e = p.load().unwrap_err().to_string();
    assert!(e.contains("environ:1"), "{e}");
    assert!(!e.contains("s3cr3t") && !e.contains("HOME"), "{e}");
}

#[test]
fn a_billion_laughs_document_is_refused() {
    let mut y = String::from(
        "x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
        let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
        let refs = vec![format!("*{prev}"); 9].join(",");
        y.push_str(&format!("x-{name}: &{name} [{refs}]\n"));
    }
    y.push_str("services:\n  web:\n    image: x\n");
    let e = Proj::with(&y).load().unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::Yaml);
    assert!(e.to_string().contains("aliases expand to more than"), "{e}");
}

#[test]
fn long_strings_copied_by_aliases_are_bounded_too() {
    let long = "x".repeat(64 * 1024);
    let mut y = format!("x-a: &a \"{long}\"\n");
    let refs = vec!["*a"; 2000].join(",");
    y.push_str(&format!("x-b: [{refs}]\nservices:\n  web:\n    image: x\n"));
    let e = Proj::with(&y).load().unwrap_err();
    assert!(e.to_string().contains("aliases expand to more than"), "{e}");
}

#[test]
fn an_alias_inside_its_own_anchor_is_a_cycle() {
    let e = error_of("x-a: &a\n  b: *a\nservices:\n  web:\n    image: x\n");
    assert!(
        e.starts_with(
            "compose.yaml:2:6: x-a.b: this alias refers to the node that contains it (a cycle)"
        ),
        "{e}"
    );
}

#[test]
fn mapping_keys_that_are_not_strings_are_refused() {
    assert_eq!(
        error_of("services:\n  123:\n    image: x\n"),
        "compose.yaml:2:3: services: mapping key 123 is a number, not a string: quote it (\"123\")"
    );
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    environment:\n      1: one\n"),
        "compose.yaml:5:7: services.web.environment: mapping key 1 is a number, not a string: quote it (\"1\")"
    );
    super::load_yaml("services:\n  \"123\":\n    image: x\n");
}

#[test]
fn deep_nesting_is_refused_before_it_can_overflow_the_stack() {
    let deep = format!(
        "x-deep: {}{}\nservices:\n  web:\n    image: x\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let e = Proj::with(&deep).load().unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::Yaml);
    // yaml-rust2's scanner has a limit of its own for flow collections,
    // which it may reach first.
    let text = e.to_string();
    assert!(
        text.starts_with("compose.yaml:1:")
            && (text.contains("nested more than 200 levels deep")
                || text.contains("recursion limit exceeded")),
        "{e}"
    );
    let block: String = (0..300)
        .map(|i| format!("{}- \n", "  ".repeat(i)))
        .collect();
    let e = Proj::with(&format!(
        "x-deep:\n{block}services:\n  web:\n    image: x\n"
    ))
    .load()
    .unwrap_err();
    assert!(
        e.to_string().contains("nested more than 200 levels deep")
            || e.to_string().contains("recursion limit exceeded"),
        "{e}"
    );
    // Real files nest a few levels; 100 is fine.
    super::load_yaml(&format!(
        "x-deep: {}{}\nservices:\n  web:\n    image: x\n",
        "[".repeat(100),
        "]".repeat(100)
    ));
}
