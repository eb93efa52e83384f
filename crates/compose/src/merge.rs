//! Merge stage: lays each override file's (canonical) tree onto the base.
//!
//! Mappings merge key by key, recursively; sequences are appended without
//! duplicates; scalars are replaced. The exceptions are a table keyed by YAML
//! path pattern. `!reset` on a value removes the key; `!override` replaces the
//! value whole. After merging no tags remain.

use crate::canonical::matches;
use crate::yaml::{Node, Value};

/// How the values at a path combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The override replaces the base.
    Replace,
    /// Sequences of mappings merged by the value of this key (later wins, in place).
    ByKey(&'static str),
    /// Mappings merge when both name the same driver (or one names none);
    /// otherwise the override replaces the base.
    Logging,
    /// A null override (a bare name) keeps the base's mapping; a mapping
    /// merges into it or replaces a null.
    NullKeepsBase,
}

const RULES: &[(&str, Rule)] = &[
    ("services.*.command", Rule::Replace),
    ("services.*.entrypoint", Rule::Replace),
    ("services.*.healthcheck.test", Rule::Replace),
    ("services.*.volumes", Rule::ByKey("target")),
    ("services.*.env_file", Rule::ByKey("path")),
    ("services.*.devices", Rule::ByKey("target")),
    ("services.*.secrets", Rule::ByKey("target")),
    ("services.*.configs", Rule::ByKey("source")),
    ("services.*.build.secrets", Rule::ByKey("source")),
    ("services.*.logging", Rule::Logging),
    ("services.*.networks.*", Rule::NullKeepsBase),
    ("services.*.models.*", Rule::NullKeepsBase),
    ("networks.*.ipam.config", Rule::ByKey("subnet")),
];

const RESET: &str = "!reset";
const OVERRIDE: &str = "!override";

fn rule(segs: &[String]) -> Option<Rule> {
    RULES
        .iter()
        .find(|(p, _)| matches(p, segs))
        .map(|(_, r)| *r)
}

/// Merges `over` onto `base` (both whole documents).
pub fn merge(base: &mut Node, over: Node) {
    merge_at(base, over, &mut Vec::new());
}

/// Merges the service `over` onto `base` (for `extends`), with the rules of `services.NAME`.
pub fn merge_service(base: &mut Node, name: &str, over: Node) {
    merge_at(
        base,
        over,
        &mut vec!["services".to_string(), name.to_string()],
    );
}

/// Removes `!reset` entries and drops tags; for the first file of a merge.
pub fn finalize(node: &mut Node) {
    node.tag = None;
    match &mut node.value {
        Value::Map(entries) => {
            entries.retain(|e| e.value.tag.as_deref() != Some(RESET));
            for e in entries {
                finalize(&mut e.value);
            }
        }
        Value::Seq(items) => {
            items.retain(|i| i.tag.as_deref() != Some(RESET));
            for i in items {
                finalize(i);
            }
        }
        Value::Scalar(..) => {}
    }
}

fn key_of<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    node.get(key)
}

fn merge_at(base: &mut Node, mut over: Node, segs: &mut Vec<String>) {
    if over.tag.as_deref() == Some(OVERRIDE) {
        finalize(&mut over);
        *base = over;
        return;
    }
    let mut rule = rule(segs);
    if rule == Some(Rule::Logging) {
        let driver = |n: &Node| n.get("driver").filter(|d| !d.is_null()).cloned();
        rule = match (driver(base), driver(&over)) {
            (Some(a), Some(b)) if !a.same(&b) => Some(Rule::Replace),
            _ => None,
        };
    }
    if rule == Some(Rule::NullKeepsBase) && over.is_null() && !base.is_null() {
        return;
    }
    match (rule, &mut base.value, over.value) {
        (Some(Rule::Replace), _, value) => {
            over.value = value;
            finalize(&mut over);
            *base = over;
        }
        (Some(Rule::ByKey(k)), Value::Seq(items), Value::Seq(new)) => {
            for mut n in new {
                finalize(&mut n);
                let existing = key_of(&n, k).and_then(|kv| {
                    items
                        .iter()
                        .position(|i| key_of(i, k).is_some_and(|ik| ik.same(kv)))
                });
                match existing {
                    Some(pos) => items[pos] = n,
                    None => items.push(n),
                }
            }
        }
        (_, Value::Map(entries), Value::Map(new)) => {
            for e in new {
                if e.value.tag.as_deref() == Some(RESET) {
                    entries.retain(|x| x.key != e.key);
                    continue;
                }
                match entries.iter_mut().find(|x| x.key == e.key) {
                    Some(existing) => {
                        segs.push(e.key.clone());
                        merge_at(&mut existing.value, e.value, segs);
                        segs.pop();
                    }
                    None => {
                        let mut e = e;
                        finalize(&mut e.value);
                        entries.push(e);
                    }
                }
            }
        }
        (_, Value::Seq(items), Value::Seq(new)) => {
            for mut n in new {
                if n.tag.as_deref() == Some(RESET) {
                    continue;
                }
                finalize(&mut n);
                if !items.iter().any(|i| i.same(&n)) {
                    items.push(n);
                }
            }
        }
        (_, _, value) => {
            over.value = value;
            finalize(&mut over);
            *base = over;
        }
    }
}
