//! Parse stage: YAML text → a tree of [`Node`]s that remember where they were
//! written (file, line, column), built from yaml-rust2's event parser.
//!
//! This stage resolves anchors and aliases, applies merge keys (`<<`),
//! rejects duplicate keys, keeps custom tags (`!reset`, `!override`) and types
//! plain scalars by the YAML 1.2 core schema while keeping their text.

use crate::error::{LoadError, LoadErrorKind, Location};
use std::collections::HashMap;
use std::sync::Arc;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// How a scalar was typed when it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Null,
    Bool,
    Int,
    Float,
    Str,
}

/// A YAML value with positions.
#[derive(Debug, Clone)]
pub enum Value {
    /// A scalar: its text as written (after interpolation for strings) and its type.
    Scalar(String, ScalarKind),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// One key of a mapping.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub key_loc: Location,
    pub value: Node,
}

/// A YAML node: value, where it starts, and its tag (`!reset`, `!override`, …).
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub loc: Location,
    pub tag: Option<String>,
}

impl Node {
    pub fn new(value: Value, loc: Location) -> Node {
        Node {
            value,
            loc,
            tag: None,
        }
    }

    pub fn str(text: impl Into<String>, loc: Location) -> Node {
        Node::new(Value::Scalar(text.into(), ScalarKind::Str), loc)
    }

    pub fn null(loc: Location) -> Node {
        Node::new(Value::Scalar(String::new(), ScalarKind::Null), loc)
    }

    pub fn map(entries: Vec<Entry>, loc: Location) -> Node {
        Node::new(Value::Map(entries), loc)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Scalar(_, ScalarKind::Null))
    }

    pub fn as_map(&self) -> Option<&Vec<Entry>> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Vec<Entry>> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value under `key` when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|e| e.key == key)
            .map(|e| &e.value)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut()?
            .iter_mut()
            .find(|e| e.key == key)
            .map(|e| &mut e.value)
    }

    /// A short description of the value for error messages (`a list`, `the number 5`).
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Seq(_) => "a list".into(),
            Value::Map(_) => "a mapping".into(),
            Value::Scalar(_, ScalarKind::Null) => "null".into(),
            Value::Scalar(t, ScalarKind::Bool) => format!("the boolean {t}"),
            Value::Scalar(t, ScalarKind::Int | ScalarKind::Float) => format!("the number {t}"),
            Value::Scalar(t, ScalarKind::Str) => format!("the string {t:?}"),
        }
    }

    /// What kind of value this is (`a string`, `a list`), without its text:
    /// for files whose contents must not be echoed.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
            Value::Scalar(_, ScalarKind::Null) => "null",
            Value::Scalar(_, ScalarKind::Bool) => "a boolean",
            Value::Scalar(_, ScalarKind::Int | ScalarKind::Float) => "a number",
            Value::Scalar(_, ScalarKind::Str) => "a string",
        }
    }

    /// Equal values, ignoring positions and tags.
    pub fn same(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (Value::Scalar(a, ka), Value::Scalar(b, kb)) => a == b && ka == kb,
            (Value::Seq(a), Value::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same(y))
            }
            (Value::Map(a), Value::Map(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|e| b.iter().any(|f| f.key == e.key && f.value.same(&e.value)))
            }
            _ => false,
        }
    }
}

/// Types a plain scalar by the YAML 1.2 core schema.
fn resolve_plain(text: &str) -> ScalarKind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return ScalarKind::Bool,
        ".inf" | ".Inf" | ".INF" | "-.inf" | "+.inf" | "-.Inf" | "+.Inf" | ".nan" | ".NaN"
        | ".NAN" => return ScalarKind::Float,
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return ScalarKind::Int;
    }
    if let Some(h) = text.strip_prefix("0x") {
        if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return ScalarKind::Int;
        }
    }
    if let Some(o) = text.strip_prefix("0o") {
        if !o.is_empty() && o.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return ScalarKind::Int;
        }
    }
    if is_float(digits) {
        return ScalarKind::Float;
    }
    ScalarKind::Str
}

fn is_float(s: &str) -> bool {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => all_digits(int) && all_digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && all_digits(int) && exp.is_some(),
    };
    let exp_ok = match exp {
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && all_digits(e)
        }
        None => true,
    };
    mantissa_ok && exp_ok
}

fn tag_name(tag: &Tag) -> String {
    if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

enum Frame {
    Seq {
        node: Node,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        node: Node,
        anchor: usize,
        entries: Vec<Entry>,
        /// The key read, waiting for its value; `true` when it is a merge key `<<`.
        key: Option<(String, Location, bool)>,
        merges: Vec<Node>,
        /// Where the first key was written (block mappings report their start late).
        first_key: Option<Location>,
        keys: KeyIndex,
    },
}

impl Frame {
    fn anchor(&self) -> usize {
        match self {
            Frame::Seq { anchor, .. } | Frame::Map { anchor, .. } => *anchor,
        }
    }
}

/// The keys of a mapping being read, so that finding a duplicate stays linear
/// in the size of the mapping: small mappings are scanned, large ones hashed.
#[derive(Default)]
struct KeyIndex {
    hashed: Option<HashMap<String, usize>>,
}

impl KeyIndex {
    /// Mappings up to this many keys are scanned rather than hashed.
    const SCAN: usize = 16;

    /// The position in `entries` of `key`, when it is there.
    fn find(&self, entries: &[Entry], key: &str) -> Option<usize> {
        match &self.hashed {
            Some(h) => h.get(key).copied(),
            None => entries.iter().position(|e| e.key == key),
        }
    }

    /// Records that `entries` just got its last entry.
    fn pushed(&mut self, entries: &[Entry]) {
        match &mut self.hashed {
            Some(h) => {
                if let Some(e) = entries.last() {
                    h.insert(e.key.clone(), entries.len() - 1);
                }
            }
            None if entries.len() > Self::SCAN => {
                self.hashed = Some(
                    entries
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (e.key.clone(), i))
                        .collect(),
                );
            }
            None => {}
        }
    }
}

struct Builder {
    file: Arc<str>,
    stack: Vec<Frame>,
    /// Anchored nodes with their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes copied by aliases so far (bounded: see [`MAX_ALIAS_NODES`]).
    alias_nodes: usize,
    docs: Vec<Node>,
}

impl Builder {
    fn loc(&self, m: &Marker) -> Location {
        Location {
            file: self.file.clone(),
            line: m.line() as u32,
            column: m.col() as u32 + 1,
        }
    }

    /// Refuses a collection nested deeper than [`MAX_DEPTH`]: the later
    /// stages walk the tree recursively, and a stack overflow is no error.
    fn check_depth(&self, loc: &Location) -> Result<(), LoadError> {
        if self.stack.len() < MAX_DEPTH {
            return Ok(());
        }
        Err(LoadError::at(
            LoadErrorKind::Yaml,
            loc.clone(),
            "",
            format!("lists and mappings are nested more than {MAX_DEPTH} levels deep"),
        ))
    }

    fn path(&self) -> String {
        Self::path_of(&self.stack)
    }

    fn path_of(frames: &[Frame]) -> String {
        let mut out = String::new();
        for f in frames {
            match f {
                Frame::Seq { items, .. } => out.push_str(&format!("[{}]", items.len())),
                Frame::Map {
                    key: Some((k, _, _)),
                    ..
                } => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Frame::Map { .. } => {}
            }
        }
        out
    }

    /// A node is complete: remember its anchor and hand it to its parent.
    fn complete(&mut self, node: Node, anchor: usize, plain_key: bool) -> Result<(), LoadError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size(&node)));
        }
        // Paths are built only for errors (this runs for every node).
        let problem = match self.stack.last_mut() {
            None => {
                self.docs.push(node);
                None
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                None
            }
            Some(Frame::Map {
                key,
                entries,
                merges,
                first_key,
                keys,
                ..
            }) => match key.take() {
                None => match &node.value {
                    Value::Scalar(t, kind) if *kind != ScalarKind::Str => Some((
                        node.loc,
                        format!(
                            "mapping key {t} is {}, not a string: quote it (\"{t}\")",
                            match kind {
                                ScalarKind::Null => "null",
                                ScalarKind::Bool => "a boolean",
                                _ => "a number",
                            }
                        ),
                        false,
                    )),
                    Value::Scalar(t, _) => {
                        if first_key.is_none() {
                            *first_key = Some(node.loc.clone());
                        }
                        let merge = plain_key && t == "<<";
                        *key = Some((t.clone(), node.loc, merge));
                        None
                    }
                    _ => Some((node.loc, "mapping keys must be strings".to_string(), false)),
                },
                Some((_, _, true)) => {
                    merges.push(node);
                    None
                }
                Some((k, key_loc, false)) => {
                    if let Some(prev) = keys.find(entries, &k) {
                        let line = entries[prev].key_loc.line;
                        Some((
                            key_loc,
                            format!("mapping key {k:?} already defined at line {line}"),
                            true,
                        ))
                    } else {
                        entries.push(Entry {
                            key: k,
                            key_loc,
                            value: node,
                        });
                        keys.pushed(entries);
                        None
                    }
                }
            },
        };
        match problem {
            Some((loc, msg, at_parent)) => {
                let path = if at_parent {
                    Self::path_of(&self.stack[..self.stack.len().saturating_sub(1)])
                } else {
                    self.path()
                };
                Err(LoadError::at(LoadErrorKind::Yaml, loc, path, msg))
            }
            None => Ok(()),
        }
    }

    fn end_map(&mut self) -> Result<(), LoadError> {
        let path = self.path();
        let Some(Frame::Map {
            mut node,
            anchor,
            mut entries,
            merges,
            first_key,
            mut keys,
            ..
        }) = self.stack.pop()
        else {
            return Ok(());
        };
        // Explicit keys win over merged ones; earlier merge sources win over later.
        for source in merges {
            let sources = match source.value {
                Value::Seq(items) => items,
                _ => vec![source],
            };
            for s in sources {
                let Value::Map(extra) = s.value else {
                    let msg = format!(
                        "merge key << takes a mapping or a list of mappings, not {}",
                        s.describe()
                    );
                    let path = if path.is_empty() {
                        "<<".to_string()
                    } else {
                        format!("{path}.<<")
                    };
                    return Err(LoadError::at(LoadErrorKind::Yaml, s.loc, path, msg));
                };
                for e in extra {
                    if keys.find(&entries, &e.key).is_none() {
                        entries.push(e);
                        keys.pushed(&entries);
                    }
                }
            }
        }
        if let Some(k) = first_key {
            if (k.line, k.column) < (node.loc.line, node.loc.column) {
                node.loc = k;
            }
        }
        node.value = Value::Map(entries);
        self.complete(node, anchor, false)
    }
}

/// How deep lists and mappings may nest: far more than any Compose file
/// needs, and little enough for the recursive stages after parsing.
pub const MAX_DEPTH: usize = 200;

/// How many nodes aliases may copy in one text: enough for any real Compose
/// file, and a bound on "billion laughs" documents whose aliases nest. Text
/// counts too, a node for every [`ALIAS_BYTES_PER_NODE`] bytes, so copies of
/// long strings are bounded as well (to about 64 MB).
pub const MAX_ALIAS_NODES: usize = 1_000_000;

/// Bytes of scalar text an alias copy counts as one node.
pub const ALIAS_BYTES_PER_NODE: usize = 64;

/// What copying `n` costs: its nodes and its text (see [`MAX_ALIAS_NODES`]).
fn size(n: &Node) -> usize {
    1 + match &n.value {
        Value::Scalar(t, _) => t.len() / ALIAS_BYTES_PER_NODE,
        Value::Seq(items) => items.iter().map(size).sum(),
        Value::Map(entries) => entries
            .iter()
            .map(|e| 1 + e.key.len() / ALIAS_BYTES_PER_NODE + size(&e.value))
            .sum(),
    }
}

/// Parses every document of a YAML text. An empty text gives no documents.
pub fn parse(text: &str, file: Arc<str>) -> Result<Vec<Node>, LoadError> {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        docs: Vec::new(),
    };
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            let loc = b.loc(e.marker());
            LoadError::at(LoadErrorKind::Yaml, loc, "", e.info().to_string())
        })?;
        let loc = b.loc(&mark);
        match event {
            Event::StreamEnd => break,
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart => b.anchors.clear(),
            Event::Alias(id) => {
                let Some(n) = b.anchors.get(&id).map(|(_, n)| *n) else {
                    let msg = if b.stack.iter().any(|f| f.anchor() == id) {
                        "this alias refers to the node that contains it (a cycle): an alias can only repeat a node that is complete"
                    } else {
                        "alias to an unknown anchor"
                    };
                    return Err(LoadError::at(LoadErrorKind::Yaml, loc, b.path(), msg));
                };
                b.alias_nodes = b.alias_nodes.saturating_add(n);
                if b.alias_nodes > MAX_ALIAS_NODES {
                    return Err(LoadError::at(
                        LoadErrorKind::Yaml,
                        loc,
                        b.path(),
                        format!("aliases expand to more than {MAX_ALIAS_NODES} nodes: the document nests aliases too deeply (a \"billion laughs\" document?)"),
                    ));
                }
                let node = b.anchors.get(&id).map(|(node, _)| node.clone());
                if let Some(node) = node {
                    b.complete(node, 0, false)?;
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.as_ref().map(tag_name);
                let kind = match tag.as_deref() {
                    Some("!!str") => ScalarKind::Str,
                    Some("!!null") => ScalarKind::Null,
                    Some("!!bool") => ScalarKind::Bool,
                    Some("!!int") => ScalarKind::Int,
                    Some("!!float") => ScalarKind::Float,
                    _ if style == TScalarStyle::Plain => resolve_plain(&text),
                    _ => ScalarKind::Str,
                };
                let plain = style == TScalarStyle::Plain;
                let mut node = Node::new(Value::Scalar(text, kind), loc);
                node.tag = tag.filter(|t| !t.starts_with("!!"));
                b.complete(node, anchor, plain)?;
            }
            Event::SequenceStart(anchor, tag) => {
                b.check_depth(&loc)?;
                let mut node = Node::new(Value::Seq(Vec::new()), loc);
                node.tag = tag.as_ref().map(tag_name).filter(|t| !t.starts_with("!!"));
                b.stack.push(Frame::Seq {
                    node,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    mut node,
                    anchor,
                    items,
                }) = b.stack.pop()
                {
                    node.value = Value::Seq(items);
                    b.complete(node, anchor, false)?;
                }
            }
            Event::MappingStart(anchor, tag) => {
                b.check_depth(&loc)?;
                let mut node = Node::new(Value::Map(Vec::new()), loc);
                node.tag = tag.as_ref().map(tag_name).filter(|t| !t.starts_with("!!"));
                b.stack.push(Frame::Map {
                    node,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    merges: Vec::new(),
                    first_key: None,
                    keys: KeyIndex::default(),
                });
            }
            Event::MappingEnd => b.end_map()?,
        }
    }
    Ok(b.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        parse(text, Arc::from("t.yaml")).unwrap().remove(0)
    }

    #[test]
    fn positions_of_keys_and_values() {
        let n = one("services:\n  web:\n    image: x\n    ports: [80]\n");
        let web = n.get("services").unwrap().get("web").unwrap();
        let image = web.get("image").unwrap();
        assert_eq!((image.loc.line, image.loc.column), (3, 12));
        let e = &web.as_map().unwrap()[1];
        assert_eq!((e.key_loc.line, e.key_loc.column), (4, 5));
        assert_eq!((e.value.loc.line, e.value.loc.column), (4, 12));
    }

    #[test]
    fn positions_of_block_collections() {
        let n = one("a:\n  - x: 1\n    y: 2\n  - b\nc:\n  k: v\n");
        let a = n.get("a").unwrap();
        assert_eq!((a.loc.line, a.loc.column), (2, 3));
        let Value::Seq(items) = &a.value else {
            panic!()
        };
        assert_eq!((items[0].loc.line, items[0].loc.column), (2, 5));
        let c = n.get("c").unwrap();
        assert_eq!((c.loc.line, c.loc.column), (6, 3));
        let f = one("a: {k: v}\nb: [1]\n");
        let a = f.get("a").unwrap();
        assert_eq!((a.loc.line, a.loc.column), (1, 4));
        let b = f.get("b").unwrap();
        assert_eq!((b.loc.line, b.loc.column), (2, 4));
    }

    #[test]
    fn plain_scalars_are_typed() {
        for (t, k) in [
            ("5", ScalarKind::Int),
            ("-5", ScalarKind::Int),
            ("0.5", ScalarKind::Float),
            (".5", ScalarKind::Float),
            ("1e3", ScalarKind::Float),
            ("true", ScalarKind::Bool),
            ("~", ScalarKind::Null),
            ("64M", ScalarKind::Str),
            ("80:80", ScalarKind::Str),
            ("1.2.3", ScalarKind::Str),
        ] {
            assert_eq!(resolve_plain(t), k, "{t}");
        }
        let n = one("a: '5'\nb: !!str 6\n");
        assert!(matches!(
            n.get("a").unwrap().value,
            Value::Scalar(_, ScalarKind::Str)
        ));
        assert!(matches!(
            n.get("b").unwrap().value,
            Value::Scalar(_, ScalarKind::Str)
        ));
    }
}
