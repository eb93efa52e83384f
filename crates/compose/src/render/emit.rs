//! The writers of an [`Out`] tree: YAML as docker compose's encoder writes
//! it (block style, two-space indent, its quoting rules) and JSON as its JSON
//! encoder does (HTML-safe escapes, two-space indent).

use super::Out;
use std::fmt::Write as _;

// ---------------------------------------------------------------- YAML

/// YAML in the style of docker compose's encoder: block style, two-space
/// indent, sequences indented under their key, no line folding.
pub fn to_yaml(v: &Out) -> String {
    let mut out = String::new();
    match v {
        Out::Map(m) if !m.is_empty() => write_map(&mut out, m, 0, false),
        Out::Seq(s) if !s.is_empty() => write_seq(&mut out, s, 0),
        other => {
            out.push_str(&scalar(other, 0, false));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, m: &[(String, Out)], indent: usize, first_inline: bool) {
    for (i, (k, v)) in m.iter().enumerate() {
        if !(i == 0 && first_inline) {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&yaml_string(k, indent, true));
        out.push(':');
        match v {
            Out::Map(inner) if !inner.is_empty() => {
                out.push('\n');
                write_map(out, inner, indent + 2, false);
            }
            Out::Seq(items) if !items.is_empty() => {
                out.push('\n');
                write_seq(out, items, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other, indent, false));
                out.push('\n');
            }
        }
    }
}

fn write_seq(out: &mut String, items: &[Out], indent: usize) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            Out::Map(inner) if !inner.is_empty() => {
                out.push(' ');
                write_map(out, inner, indent + 2, true);
            }
            Out::Seq(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other, indent, false));
                out.push('\n');
            }
        }
    }
}

/// A scalar (or an empty collection) as it follows `key: ` or `- `;
/// multi-line strings become literal blocks indented under `indent`.
fn scalar(v: &Out, indent: usize, key: bool) -> String {
    match v {
        Out::Null => "null".into(),
        Out::Bool(b) => b.to_string(),
        Out::Int(i) => i.to_string(),
        Out::Float(f) => f.clone(),
        Out::Str(s) => yaml_string(s, indent, key),
        Out::Seq(_) => "[]".into(),
        Out::Map(_) => "{}".into(),
    }
}

/// Whether a character is printable in the YAML emitter's sense.
fn printable(c: char) -> bool {
    let c = c as u32;
    c == 0x0A
        || (0x20..=0x7E).contains(&c)
        || (0xA0..=0xD7FF).contains(&c)
        || ((0xE000..=0xFFFD).contains(&c) && c != 0xFEFF)
}

fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// What the emitter's scalar analysis allows for `s` (block context).
struct Analysis {
    plain: bool,
    single: bool,
    block: bool,
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            plain: false,
            single: true,
            block: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let mut special = false;
    let mut line_breaks = false;
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_ws = true;
    let blankz = |i: usize| {
        chars
            .get(i)
            .is_none_or(|c| *c == ' ' || *c == '\t' || is_break(*c))
    };
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_ws = blankz(i + 1);
        let first = i == 0;
        let last = i + 1 == chars.len();
        if first {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if (c == '?' || c == ':') && followed_by_ws {
                block_indicators = true;
            }
            if c == '-' && followed_by_ws {
                block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_ws {
                block_indicators = true;
            }
            if c == '#' && preceded_by_ws {
                block_indicators = true;
            }
        }
        if !printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if first {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if first {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_break = true;
            previous_space = false;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = c == ' ' || c == '\t' || is_break(c);
    }
    let mut a = Analysis {
        plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.plain = false;
        a.single = false;
    }
    if space_break || special {
        a.plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks || block_indicators {
        a.plain = false;
    }
    a
}

/// Whether a plain scalar would be read back as something else than a string.
fn resolves_to_non_string(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return true;
    };
    if matches!(
        s,
        "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    ) || matches!(
        s,
        ".nan"
            | ".NaN"
            | ".NAN"
            | ".inf"
            | ".Inf"
            | ".INF"
            | "+.inf"
            | "+.Inf"
            | "+.INF"
            | "-.inf"
            | "-.Inf"
            | "-.INF"
    ) {
        return true;
    }
    if matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    ) {
        return true;
    }
    if first == '.' {
        return s.parse::<f64>().is_ok() && s.len() > 1;
    }
    if !(first.is_ascii_digit() || first == '+' || first == '-') {
        return false;
    }
    if is_timestamp(s) || is_base60(s) {
        return true;
    }
    let plain: String = s.chars().filter(|c| *c != '_').collect();
    go_int(&plain) || yaml_float(&plain)
}

/// Go's `strconv.ParseInt(s, 0, 64)` (or ParseUint) accepting `s`.
fn go_int(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (digits, radix) =
        if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (h, 16)
        } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (b, 2)
        } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (o, 8)
        } else if body.len() > 1 && body.starts_with('0') {
            (&body[1..], 8)
        } else {
            (body, 10)
        };
    !digits.is_empty() && u64::from_str_radix(digits, radix).is_ok()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn yaml_float(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mant, exp) = match b.find(['e', 'E']) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    let mant_ok = match mant.split_once('.') {
        Some(("", f)) => digits(f),
        Some((i, f)) => digits(i) && (f.is_empty() || digits(f)),
        None => digits(mant),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mant_ok && exp_ok
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (main, frac) = match b.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (b, None),
    };
    if frac.is_some_and(|f| !f.bytes().all(|c| c.is_ascii_digit() || c == b'_')) {
        return false;
    }
    let mut parts = main.split(':');
    let head = parts.next().unwrap_or("");
    if !head.starts_with(|c: char| c.is_ascii_digit())
        || !head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    {
        return false;
    }
    let mut n = 0;
    for p in parts {
        n += 1;
        let ok = match p.as_bytes() {
            [d] => d.is_ascii_digit(),
            [a, d] => (b'0'..=b'5').contains(a) && d.is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    n > 0
}

/// A YAML timestamp: `2001-12-14`, `2001-12-14T21:59:43.10-05:00`, `2001-12-14 21:59:43`.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let rest = &s[5..];
    let (date, time) = match rest.find(['T', 't', ' ']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let Some((mo, d)) = date.split_once('-') else {
        return false;
    };
    let num = |x: &str, max: u32| {
        (1..=2).contains(&x.len())
            && x.bytes().all(|c| c.is_ascii_digit())
            && x.parse::<u32>().is_ok_and(|v| v >= 1 && v <= max)
    };
    if !num(mo, 12) || !num(d, 31) {
        return false;
    }
    match time {
        None => true,
        Some(t) => {
            let t = t.trim_end_matches('Z');
            let t = match t.rfind(['+', '-']) {
                Some(i) if i > 0 => &t[..i],
                _ => t,
            };
            let t = t.split('.').next().unwrap_or("");
            let parts: Vec<&str> = t.split(':').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()))
        }
    }
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{85}' => out.push_str("\\N"),
            '\u{a0}' => out.push_str("\\_"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if !printable(c) || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xFF {
                    let _ = write!(out, "\\x{n:02X}");
                } else if n <= 0xFFFF {
                    let _ = write!(out, "\\u{n:04X}");
                } else {
                    let _ = write!(out, "\\U{n:08X}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn literal(s: &str, indent: usize) -> String {
    let mut out = String::from("|");
    if s.starts_with([' ', '\n']) {
        out.push('2');
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    match trailing {
        0 => out.push('-'),
        1 if s.len() > 1 => {}
        _ => out.push('+'),
    }
    let pad = " ".repeat(indent + 2);
    let lines: Vec<&str> = s.split('\n').collect();
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        if i == last {
            if !line.is_empty() {
                out.push('\n');
                out.push_str(&pad);
                out.push_str(line);
            }
            break;
        }
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    // The caller writes the final newline.
    out
}

/// A string as docker compose's YAML encoder quotes it.
pub fn yaml_string(s: &str, indent: usize, key: bool) -> String {
    let a = analyze(s);
    if s.contains('\n') {
        return if a.block && !key {
            literal(s, indent)
        } else {
            double_quoted(s)
        };
    }
    if resolves_to_non_string(s) {
        return double_quoted(s);
    }
    if a.plain {
        s.to_string()
    } else if a.single {
        single_quoted(s)
    } else {
        double_quoted(s)
    }
}

// ---------------------------------------------------------------- JSON

/// JSON as docker compose's encoder writes it: two-space indent, `<`, `>`
/// and `&` escaped, no final newline.
pub fn to_json(v: &Out) -> String {
    let mut out = String::new();
    write_json(&mut out, v, 0);
    out
}

fn write_json(out: &mut String, v: &Out, indent: usize) {
    match v {
        Out::Null => out.push_str("null"),
        Out::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Out::Int(i) => out.push_str(&i.to_string()),
        Out::Float(f) => out.push_str(f),
        Out::Str(s) => json_string(out, s),
        Out::Seq(items) if items.is_empty() => out.push_str("[]"),
        Out::Map(items) if items.is_empty() => out.push_str("{}"),
        Out::Seq(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 2));
                write_json(out, item, indent + 2);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        Out::Map(items) => {
            out.push_str("{\n");
            for (i, (k, item)) in items.iter().enumerate() {
                out.push_str(&" ".repeat(indent + 2));
                json_string(out, k);
                out.push_str(": ");
                write_json(out, item, indent + 2);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_quoting_matches_docker_compose() {
        for (s, want) in [
            ("&x", "'&x'"),
            ("@x", "'@x'"),
            ("a: b", "'a: b'"),
            ("a,b", "a,b"),
            ("2001-12-14", "\"2001-12-14\""),
            ("say \"hi\"", "say \"hi\""),
            ("", "\"\""),
            ("x:", "'x:'"),
            ("=x", "=x"),
            ("1.5", "\"1.5\""),
            ("<a>&", "<a>&"),
            ("-x", "-x"),
            ("0x1F", "\"0x1F\""),
            ("0755", "\"0755\""),
            ("?x", "?x"),
            ("it's", "it's"),
            (" lead", "' lead'"),
            ("*x", "'*x'"),
            ("a\tb", "\"a\\tb\""),
            ("~", "\"~\""),
            ("trail ", "'trail '"),
            ("true", "\"true\""),
            ("héllo", "héllo"),
            ("yes", "\"yes\""),
            ("y", "\"y\""),
            ("a #b", "'a #b'"),
            ("0,1", "0,1"),
            ("no", "\"no\""),
            ("12:30", "\"12:30\""),
            ("8080:80", "8080:80"),
            ("1_000", "\"1_000\""),
            ("08", "\"08\""),
            ("$$HOME", "$$HOME"),
        ] {
            assert_eq!(yaml_string(s, 0, false), want, "{s:?}");
        }
        assert_eq!(
            yaml_string("line1\nline2\n", 6, false),
            "|\n        line1\n        line2"
        );
        assert_eq!(
            yaml_string("line1\nline2", 6, false),
            "|-\n        line1\n        line2"
        );
    }
}
