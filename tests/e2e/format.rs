//! `--format` through the binary: bare Go templates, `table TEMPLATE`,
//! `json`, inspect templates and a bad template.

use crate::harness::sandboxed;

const TWO_SERVICES: &str = "services:\n  web:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n    labels:\n      tier: front\n  db:\n    image: busybox\n    command: [\"sleep\", \"600\"]\n";

#[test]
fn ps_and_listings_follow_the_format_flag() {
    sandboxed("format::ps_and_listings_follow_the_format_flag", |s| {
        s.import_busybox();
        let dir = s.project("fmt", TWO_SERVICES);
        s.ok(&dir, &["up", "-d"]);

        let names = s.ok(&dir, &["ps", "--format", "{{.Names}}"]);
        let mut lines: Vec<&str> = names.lines().collect();
        lines.sort();
        assert_eq!(lines, ["fmt-db-1", "fmt-web-1"], "{names}");

        let labels = s.ok(
            &dir,
            &["ps", "--format", r#"{{.Service}}={{.Label "tier"}}"#, "web"],
        );
        assert_eq!(labels, "web=front\n");

        let table = s.ok(&dir, &["ps", "--format", r"table {{.Name}}\t{{.State}}"]);
        let mut rows = table.lines();
        assert_eq!(rows.next(), Some("NAME        STATE"), "{table}");
        let mut rest: Vec<&str> = rows.collect();
        rest.sort();
        assert_eq!(
            rest,
            ["fmt-db-1    running", "fmt-web-1   running"],
            "{table}"
        );

        let json = s.ok(&dir, &["ps", "--format", "json"]);
        for line in json.lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(row["State"], "running", "{json}");
        }

        let images = s.ok(
            &dir,
            &["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        );
        assert!(images.lines().any(|l| l == "busybox:latest"), "{images}");

        let networks = s.ok(
            &dir,
            &["network", "ls", "--format", "{{.Name}} {{.Driver}}"],
        );
        assert!(
            networks.lines().any(|l| l == "fmt_default bridge"),
            "{networks}"
        );
        let inspected = s.ok(
            &dir,
            &[
                "network",
                "inspect",
                "--format",
                "{{.Name}}/{{.Driver}}",
                "fmt_default",
            ],
        );
        assert_eq!(inspected, "fmt_default/bridge\n");
        s.ok(&dir, &["down", "-t", "0"]);
    });
}

#[test]
fn a_bad_template_names_the_flag_and_column() {
    sandboxed("format::a_bad_template_names_the_flag_and_column", |s| {
        let dir = s.project("bad", TWO_SERVICES);
        let err = s.fails(&dir, &["ps", "--format", "{{.Names}} {{nope .ID}}"]);
        assert!(err.contains("invalid --format template"), "{err}");
        assert!(err.contains("column 14"), "{err}");
        assert!(err.contains("function \"nope\" not defined"), "{err}");
        // As with docker, a row's fields are checked when a row is printed.
        s.ok(&dir, &["volume", "create", "v1"]);
        let err = s.fails(&dir, &["volume", "ls", "--format", "{{.Nmes}}"]);
        assert!(err.contains("can't evaluate field Nmes"), "{err}");
        let err = s.fails(&dir, &["volume", "ls", "--format", "{{if .Name}}"]);
        assert!(err.contains("{{if}} has no {{end}}"), "{err}");
    });
}
