//! The template language against Go's documented `text/template` behaviour
//! and docker's template functions.

use serde_json::{json, Value};
use wharf_gotemplate::{Error, Limits, Template};

fn run(template: &str, data: &Value) -> String {
    Template::parse(template)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
        .execute(data)
        .unwrap_or_else(|e| panic!("{template}: {e}"))
}

fn container() -> Value {
    json!({
        "Id": "4f2a",
        "Name": "/web",
        "State": {"Status": "running", "Pid": 42, "Running": true, "ExitCode": 0},
        "Config": {"Env": ["A=1", "B=2"], "Labels": {"com.example": "yes"}},
        "Mounts": [{"Source": "/srv", "Destination": "/data"}, {"Source": "v1", "Destination": "/v"}],
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}, "back": {"IPAddress": "10.0.0.3"}}},
        "HostConfig": {"Memory": 268435456, "CpuQuota": 1.5},
        "Labels": "a=1,com.docker.compose.service=web",
    })
}

#[test]
fn fields_and_nested_fields_print_their_values() {
    let c = container();
    assert_eq!(run("{{.State.Status}}", &c), "running");
    assert_eq!(
        run("{{.State.Pid}} {{.HostConfig.Memory}}", &c),
        "42 268435456"
    );
    assert_eq!(run("{{.HostConfig.CpuQuota}}", &c), "1.5");
    assert_eq!(run("{{.Config.Env}}", &c), "[A=1 B=2]");
    assert_eq!(run("{{.Config.Labels}}", &c), "map[com.example:yes]");
    assert_eq!(run("{{.Nope}}", &c), "<no value>");
    assert_eq!(run("x{{/* a comment */}}y", &c), "xy");
}

#[test]
fn docker_inspect_templates_work() {
    let c = container();
    assert_eq!(
        run("{{json .Config.Labels}}", &c),
        r#"{"com.example":"yes"}"#
    );
    assert_eq!(
        run("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", &c),
        "/srv:/data v1:/v "
    );
    assert_eq!(
        run(
            r#"{{(index .NetworkSettings.Networks "bridge").IPAddress}}"#,
            &c
        ),
        "172.17.0.2"
    );
    assert_eq!(
        run(r#"{{index .NetworkSettings.Networks "bridge"}}"#, &c),
        "map[IPAddress:172.17.0.2]"
    );
    assert_eq!(
        run("{{range $name, $net := .NetworkSettings.Networks}}{{$name}}={{$net.IPAddress}};{{end}}", &c),
        "back=10.0.0.3;bridge=172.17.0.2;"
    );
    assert_eq!(
        run("{{range $i, $m := .Mounts}}{{$i}}{{$m.Source}}{{end}}", &c),
        "0/srv1v1"
    );
    assert_eq!(
        run("{{range $m := .Mounts}}{{$m.Destination}}{{end}}", &c),
        "/data/v"
    );
}

#[test]
fn conditionals_follow_go_truth() {
    let data =
        json!({"zero": 0, "empty": "", "list": [], "map": {}, "one": 1, "s": "x", "t": true});
    for falsy in ["zero", "empty", "list", "map", "missing"] {
        assert_eq!(
            run(
                &format!("{{{{if .{falsy}}}}}yes{{{{else}}}}no{{{{end}}}}"),
                &data
            ),
            "no",
            "{falsy}"
        );
    }
    for truthy in ["one", "s", "t"] {
        assert_eq!(
            run(
                &format!("{{{{if .{truthy}}}}}yes{{{{else}}}}no{{{{end}}}}"),
                &data
            ),
            "yes",
            "{truthy}"
        );
    }
    assert_eq!(
        run("{{if .zero}}a{{else if .s}}b{{else}}c{{end}}", &data),
        "b"
    );
    assert_eq!(
        run("{{if .zero}}a{{else if .empty}}b{{else}}c{{end}}", &data),
        "c"
    );
    assert_eq!(run("{{with .s}}[{{.}}]{{else}}none{{end}}", &data), "[x]");
    assert_eq!(
        run("{{with .missing}}[{{.}}]{{else}}none{{end}}", &data),
        "none"
    );
    assert_eq!(run("{{range .list}}x{{else}}empty{{end}}", &data), "empty");
    assert_eq!(run("{{if and .one .s}}{{or .zero .s}}{{end}}", &data), "x");
    assert_eq!(
        run(
            "{{and .one .zero .s}}|{{or .zero .empty}}|{{not .zero}}",
            &data
        ),
        "0||true"
    );
}

#[test]
fn and_stops_at_the_first_empty_argument() {
    // The second argument would fail: Go evaluates `and` lazily since 1.18.
    assert_eq!(run("{{and .a (index .a 5)}}", &json!({"a": []})), "[]");
}

#[test]
fn variables_pipelines_and_trimming() {
    let data = json!({"name": "web", "n": 3, "words": ["b", "a"]});
    assert_eq!(
        run("{{$x := .name}}{{$x}}-{{$x = \"db\"}}{{$x}}", &data),
        "web-db"
    );
    assert_eq!(run("{{.name | printf \"%s!\"}}", &data), "web!");
    assert_eq!(run("{{.name | upper | printf \"%q\"}}", &data), "\"WEB\"");
    assert_eq!(run("a  {{- .name -}}  \n b", &data), "awebb");
    assert_eq!(run("{{-3}}", &data), "-3");
    assert_eq!(
        run(
            "{{range $i, $w := .words}}{{if $i}},{{end}}{{$w}}{{end}}",
            &data
        ),
        "b,a"
    );
    assert_eq!(
        run(
            "{{range .words}}{{if eq . \"a\"}}{{break}}{{end}}{{.}}{{end}}",
            &data
        ),
        "b"
    );
    assert_eq!(
        run(
            "{{range .words}}{{if eq . \"b\"}}{{continue}}{{end}}{{.}}{{end}}",
            &data
        ),
        "a"
    );
    assert_eq!(run("{{range .n}}{{.}}{{end}}", &data), "012");
    assert_eq!(run("{{range .words}}{{$.name}}{{end}}", &data), "webweb");
}

#[test]
fn builtins_behave_as_go_documents() {
    let data = json!({"s": "hello", "l": [1, 2, 3], "m": {"k": "v"}, "f": 2.5});
    assert_eq!(run("{{len .s}} {{len .l}} {{len .m}}", &data), "5 3 1");
    assert_eq!(
        run(
            "{{index .l 1}} {{index .m \"k\"}} {{index .m \"x\"}}",
            &data
        ),
        "2 v <no value>"
    );
    assert_eq!(run("{{slice .s 1 3}} {{slice .l 1}}", &data), "el [2 3]");
    assert_eq!(
        run(
            "{{printf \"%5s|%-5s|%05d|%.2f|%x|%v|%t\" \"a\" \"b\" 42 .f 255 .l true}}",
            &data
        ),
        "    a|b    |00042|2.50|ff|[1 2 3]|true"
    );
    assert_eq!(
        run("{{printf \"%d\" \"x\"}} {{printf \"%s\"}}", &data),
        "%!d(string=x) %!s(MISSING)"
    );
    assert_eq!(run("{{print 1 2 \"a\" \"b\" 3}}", &data), "1 2ab3");
    assert_eq!(run("{{println \"a\" 1}}", &data), "a 1\n");
    assert_eq!(run("{{eq 1 1}} {{eq \"a\" \"b\" \"a\"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}}", &data), "true true true true true true false");
    assert_eq!(run("{{eq .f 2.5}}", &data), "true");
}

#[test]
fn docker_functions_behave_as_dockers_cli() {
    let data = json!({"s": "Hello World", "l": ["a", "b"], "e": "", "c": "a,b,c"});
    assert_eq!(run("{{join .l \", \"}}", &data), "a, b");
    assert_eq!(
        run("{{split .c \",\"}} {{len (split .c \",\")}}", &data),
        "[a b c] 3"
    );
    assert_eq!(
        run(
            "{{lower .s}} {{upper .s}} {{title \"hello wide-world\"}}",
            &data
        ),
        "hello world HELLO WORLD Hello Wide-World"
    );
    assert_eq!(
        run("[{{pad .s 2 1}}][{{pad .e 2 1}}]", &data),
        "[  Hello World ][]"
    );
    assert_eq!(
        run("{{truncate .s 5}}|{{truncate .s 50}}", &data),
        "Hello|Hello World"
    );
    assert_eq!(
        run("{{json .}}", &json!({"b": [1], "a": "<&>"})),
        r#"{"a":"<&>","b":[1]}"#
    );
}

#[test]
fn label_reads_a_label_as_docker_ps_offers_it() {
    let c = container();
    assert_eq!(run(r#"{{.Label "com.docker.compose.service"}}"#, &c), "web");
    assert_eq!(run(r#"{{.Label "absent"}}"#, &c), "");
    let with_map = json!({"Labels": {"x": "1"}});
    assert_eq!(run(r#"{{.Label "x"}}"#, &with_map), "1");
}

fn parse_error(template: &str) -> Error {
    match Template::parse(template) {
        Err(e) => e,
        Ok(_) => panic!("{template} parsed"),
    }
}

fn exec_error(template: &str, data: &Value) -> Error {
    match Template::parse(template)
        .unwrap_or_else(|e| panic!("{e}"))
        .execute(data)
    {
        Err(e) => e,
        Ok(out) => panic!("{template} gave {out:?}"),
    }
}

#[test]
fn errors_name_the_line_and_column() {
    let e = parse_error("{{.Names}} {{nope .X}}");
    assert_eq!((e.line(), e.column()), (1, 14));
    assert!(
        e.to_string().contains("function \"nope\" not defined"),
        "{e}"
    );

    let e = parse_error("{{if .A}}x");
    assert!(e.message().contains("no {{end}}"), "{e}");
    assert_eq!(e.column(), 3);

    let e = parse_error("{{.A");
    assert!(e.message().contains("unclosed action"), "{e}");
    let e = parse_error("a\n {{end}}");
    assert_eq!((e.line(), e.column()), (2, 4));
    assert!(parse_error("{{$x}}")
        .message()
        .contains("undefined variable $x"));
    assert!(parse_error("{{break}}").message().contains("outside"));
    assert!(parse_error("{{template \"x\"}}")
        .message()
        .contains("not supported"));
    assert!(parse_error("{{\"abc}}").message().contains("unterminated"));
    assert!(parse_error("{{.A | }}").message().contains("missing value"));

    let e = exec_error("{{ .A.B.C }}", &json!({"A": {"B": "x"}}));
    assert_eq!(e.column(), 4);
    assert!(
        e.message()
            .contains("can't evaluate field C in type string"),
        "{e}"
    );
    let e = exec_error("{{index .L 3}}", &json!({"L": [1]}));
    assert!(e.message().contains("out of range"), "{e}");
    let e = exec_error("{{lt 1 \"a\"}}", &json!({}));
    assert!(e.message().contains("incompatible types"), "{e}");
    let e = exec_error("{{range .S}}{{end}}", &json!({"S": "abc"}));
    assert!(e.message().contains("can't iterate"), "{e}");
}

#[test]
fn hostile_templates_hit_the_limits() {
    let deep = "{{if 1}}".repeat(100) + &"{{end}}".repeat(100);
    assert!(parse_error(&deep).message().contains("nesting"));
    let parens = "{{".to_string() + &"(".repeat(100) + "1" + &")".repeat(100) + "}}";
    assert!(parse_error(&parens).message().contains("nesting"));

    let limits = Limits {
        max_output: 1000,
        ..Limits::default()
    };
    let t = Template::parse_with("{{range 10000}}xxxxxxxxxx{{end}}", limits).unwrap();
    assert!(t
        .execute(&json!({}))
        .unwrap_err()
        .message()
        .contains("longer than 1000 bytes"));
    let t = Template::parse("{{range 1000000000000}}{{end}}").unwrap();
    assert!(t
        .execute(&json!({}))
        .unwrap_err()
        .message()
        .contains("steps"));
    let t = Template::parse("{{range 100000}}{{range 100000}}{{end}}{{end}}").unwrap();
    assert!(t
        .execute(&json!({}))
        .unwrap_err()
        .message()
        .contains("steps"));
    let t = Template::parse("{{range 1000000000000}}{{if $.x}}{{end}}{{end}}").unwrap();
    assert!(t
        .execute(&json!({}))
        .unwrap_err()
        .message()
        .contains("steps"));
    let doubling = r#"{{$x := "ab"}}{{range 100}}{{$x = printf "%s%s" $x $x}}{{end}}{{len $x}}"#;
    let e = Template::parse(doubling)
        .unwrap()
        .execute(&json!({}))
        .unwrap_err();
    assert!(
        e.message().contains("printf made a value longer than"),
        "{e}"
    );
    let t = Template::parse("{{printf \"%999999999d\" 1}}").unwrap();
    assert!(t
        .execute(&json!({}))
        .unwrap_err()
        .message()
        .contains("width"));
    let t = Template::parse("{{pad \"x\" 99999999 0}}").unwrap();
    assert!(t.execute(&json!({})).is_err());
}

#[test]
fn strict_fields_reject_a_field_the_row_does_not_have() {
    let t = Template::parse("{{.Names}} {{.Nmes}}")
        .unwrap()
        .with_strict_fields();
    let e = t.execute(&json!({"Names": "web"})).unwrap_err();
    assert_eq!(e.column(), 14);
    assert!(e.message().contains("can't evaluate field Nmes"), "{e}");
    assert_eq!(run("{{.Nmes}}", &json!({})), "<no value>");
}
