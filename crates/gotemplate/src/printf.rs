//! Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %x %X %o %b
//! %c %f %e %g %t %%`, with flags `-+ 0#`, width and precision. Mismatches
//! print as Go prints them (`%!d(string=x)`, `%!d(MISSING)`).

use crate::funcs::MAX_WIDTH;
use crate::value::{format_float, format_v, Val};
use serde_json::Value;

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

pub(crate) fn sprintf(format: &str, args: &[Val]) -> Result<String, String> {
    let mut out = String::new();
    let mut next_arg = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = true,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        spec.width = number(&mut chars)?;
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(number(&mut chars)?.unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next_arg) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next_arg += 1;
        let text = match convert(verb, &spec, arg) {
            Some(text) => text,
            None => {
                out.push_str(&format!("%!{verb}({}={})", arg.type_name(), format_v(arg)));
                continue;
            }
        };
        out.push_str(&pad(
            text,
            &spec,
            matches!(verb, 'd' | 'f' | 'e' | 'g' | 'x' | 'X' | 'o' | 'b'),
        ));
    }
    if next_arg < args.len() {
        let extra: Vec<String> = args[next_arg..]
            .iter()
            .map(|a| format!("{}={}", a.type_name(), format_v(a)))
            .collect();
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    Ok(out)
}

fn number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Option<usize>, String> {
    let mut value: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        chars.next();
        let v = value.unwrap_or(0) * 10 + d as usize;
        if v > MAX_WIDTH {
            return Err(format!(
                "error calling printf: width or precision above {MAX_WIDTH}"
            ));
        }
        value = Some(v);
    }
    Ok(value)
}

fn pad(text: String, spec: &Spec, numeric: bool) -> String {
    let len = text.chars().count();
    let Some(width) = spec.width.filter(|w| *w > len) else {
        return text;
    };
    let fill = width - len;
    if spec.minus {
        return text + &" ".repeat(fill);
    }
    if spec.zero && numeric {
        let (sign, digits) = match text.strip_prefix(['-', '+']) {
            Some(rest) => (&text[..1], rest),
            None => ("", text.as_str()),
        };
        return format!("{sign}{}{digits}", "0".repeat(fill));
    }
    " ".repeat(fill) + &text
}

fn signed(text: String, negative: bool, spec: &Spec) -> String {
    if negative {
        format!("-{text}")
    } else if spec.plus {
        format!("+{text}")
    } else if spec.space {
        format!(" {text}")
    } else {
        text
    }
}

fn convert(verb: char, spec: &Spec, arg: &Val) -> Option<String> {
    let value = arg.json();
    Some(match verb {
        'v' => format_v(arg),
        's' => {
            let text = format_v(arg);
            match spec.precision {
                Some(p) => text.chars().take(p).collect(),
                None => text,
            }
        }
        'q' => match value {
            Value::String(s) => quote(s),
            Value::Number(_) => {
                format!("'{}'", char::from_u32(u32::try_from(arg.as_int()?).ok()?)?)
            }
            _ => return None,
        },
        't' => match value {
            Value::Bool(b) => b.to_string(),
            _ => return None,
        },
        'd' | 'x' | 'X' | 'o' | 'b' | 'c' => {
            if let (Value::String(s), 'x' | 'X') = (value, verb) {
                let hex: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                return Some(if verb == 'X' { hex.to_uppercase() } else { hex });
            }
            let i = arg
                .as_int()
                .filter(|_| value.as_i64().is_some() || value.as_u64().is_some())?;
            let magnitude = i.unsigned_abs();
            let digits = match verb {
                'd' => magnitude.to_string(),
                'x' => format!("{}{magnitude:x}", if spec.sharp { "0x" } else { "" }),
                'X' => format!("{}{magnitude:X}", if spec.sharp { "0X" } else { "" }),
                'o' => format!("{}{magnitude:o}", if spec.sharp { "0" } else { "" }),
                'b' => format!("{magnitude:b}"),
                _ => return char::from_u32(u32::try_from(i).ok()?).map(String::from),
            };
            signed(digits, i < 0, spec)
        }
        'f' | 'F' | 'e' | 'g' => {
            let f = value.as_f64()?;
            let text = match verb {
                'f' | 'F' => format!("{:.*}", spec.precision.unwrap_or(6), f.abs()),
                'e' => go_exponent(&format!("{:.*e}", spec.precision.unwrap_or(6), f.abs())),
                _ => match spec.precision {
                    Some(p) => go_exponent(&format!("{:.*e}", p.saturating_sub(1), f.abs())),
                    None => format_float(f.abs()),
                },
            };
            signed(text, f.is_sign_negative() && f != 0.0, spec)
        }
        _ => return None,
    })
}

/// Rust writes `1.5e3`; Go writes `1.5e+03`.
fn go_exponent(text: &str) -> String {
    match text.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exponent),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text.to_string(),
    }
}

/// Go's `strconv.Quote` for the characters that matter in a terminal.
fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let code = c as u32;
                if code < 0x80 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else {
                    out.push_str(&format!("\\u{code:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
