//! The executor: walks the tree with a dot and a stack of variables, writing
//! into a bounded string.

use crate::error::Located;
use crate::funcs;
use crate::parse::{Arg, ArgKind, Branch, Command, Node, Pipeline};
use crate::value::{format_v, Val};
use crate::Limits;
use serde_json::Value;

enum Flow {
    Normal,
    Break,
    Continue,
}

struct Exec {
    variables: Vec<(String, Val)>,
    out: String,
    limits: Limits,
    steps: u64,
    strict_fields: bool,
}

pub(crate) fn execute(
    nodes: &[Node],
    data: &Value,
    limits: Limits,
    strict_fields: bool,
) -> Result<String, Located> {
    let root = Val::Json(data.clone());
    let mut exec = Exec {
        variables: vec![("$".to_string(), root.clone())],
        out: String::new(),
        limits,
        steps: 0,
        strict_fields,
    };
    exec.walk(nodes, &root)?;
    Ok(exec.out)
}

impl Exec {
    fn step(&mut self, offset: usize) -> Result<(), Located> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(Located::exec(
                offset,
                format!(
                    "the template took more than {} steps",
                    self.limits.max_steps
                ),
            ));
        }
        Ok(())
    }

    fn write(&mut self, text: &str, offset: usize) -> Result<(), Located> {
        if self.out.len() + text.len() > self.limits.max_output {
            return Err(Located::exec(
                offset,
                format!("the output is longer than {} bytes", self.limits.max_output),
            ));
        }
        self.out.push_str(text);
        Ok(())
    }

    fn walk(&mut self, nodes: &[Node], dot: &Val) -> Result<Flow, Located> {
        for node in nodes {
            let flow = match node {
                Node::Text(text) => {
                    self.step(0)?;
                    self.write(text, 0)?;
                    Flow::Normal
                }
                Node::Action(pipeline) => {
                    self.step(pipeline.offset)?;
                    let value = self.pipeline(pipeline, dot)?;
                    if pipeline.variables.is_empty() {
                        self.write(&format_v(&value), pipeline.offset)?;
                    } else {
                        self.bind(pipeline, value);
                    }
                    Flow::Normal
                }
                Node::If(branch) => self.conditional(branch, dot, false)?,
                Node::With(branch) => self.conditional(branch, dot, true)?,
                Node::Range(branch) => self.range(branch, dot)?,
                Node::Break => Flow::Break,
                Node::Continue => Flow::Continue,
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn conditional(&mut self, branch: &Branch, dot: &Val, with: bool) -> Result<Flow, Located> {
        self.step(branch.pipeline.offset)?;
        let scope = self.variables.len();
        let value = self.pipeline(&branch.pipeline, dot)?;
        let truthy = value.truthy();
        self.bind(&branch.pipeline, value.clone());
        let flow = match (truthy, with) {
            (true, true) => self.walk(&branch.body, &value)?,
            (true, false) => self.walk(&branch.body, dot)?,
            (false, _) => self.walk(&branch.otherwise, dot)?,
        };
        self.variables.truncate(scope);
        Ok(flow)
    }

    fn range(&mut self, branch: &Branch, dot: &Val) -> Result<Flow, Located> {
        let offset = branch.pipeline.offset;
        self.step(offset)?;
        let value = self.pipeline(&branch.pipeline, dot)?;
        let items: Vec<(Value, Value)> = match value.into_json() {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v))
                .collect(),
            Value::Object(map) => {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries
                    .into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect()
            }
            // Counted, not collected: `range 1000000000` must not allocate.
            Value::Number(n) if n.as_i64().is_some() => {
                let count = n.as_i64().unwrap_or(0).max(0);
                if count == 0 {
                    return self.walk(&branch.otherwise, dot);
                }
                for i in 0..count {
                    if self.iteration(branch, Value::from(i), Value::from(i))? {
                        break;
                    }
                }
                return Ok(Flow::Normal);
            }
            Value::Null => Vec::new(),
            other => {
                let shown = format_v(&Val::Json(other));
                return Err(Located::exec(
                    offset,
                    format!("range can't iterate over {shown}"),
                ));
            }
        };
        if items.is_empty() {
            return self.walk(&branch.otherwise, dot);
        }
        for (key, item) in items {
            if self.iteration(branch, key, item)? {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    /// One pass of a range's body; true when it ended with `{{break}}`.
    fn iteration(&mut self, branch: &Branch, key: Value, item: Value) -> Result<bool, Located> {
        self.step(branch.pipeline.offset)?;
        let scope = self.variables.len();
        let item = Val::Json(item);
        match branch.pipeline.variables.as_slice() {
            [] => {}
            [element] => self.variables.push((element.clone(), item.clone())),
            [index, element, ..] => {
                self.variables.push((index.clone(), Val::Json(key)));
                self.variables.push((element.clone(), item.clone()));
            }
        }
        let flow = self.walk(&branch.body, &item)?;
        self.variables.truncate(scope);
        Ok(matches!(flow, Flow::Break))
    }

    fn bind(&mut self, pipeline: &Pipeline, value: Val) {
        let Some(name) = pipeline.variables.first() else {
            return;
        };
        if pipeline.assign {
            if let Some(slot) = self.variables.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = value;
            }
        } else {
            self.variables.push((name.clone(), value));
        }
    }

    fn pipeline(&mut self, pipeline: &Pipeline, dot: &Val) -> Result<Val, Located> {
        let mut value = None;
        for command in &pipeline.commands {
            value = Some(self.command(command, dot, value)?);
        }
        Ok(value.unwrap_or(Val::Missing))
    }

    fn command(
        &mut self,
        command: &Command,
        dot: &Val,
        piped: Option<Val>,
    ) -> Result<Val, Located> {
        let first = &command.args[0];
        let rest = &command.args[1..];
        if let ArgKind::Function(name) = &first.kind {
            return self.call(name, first.offset, rest, dot, piped);
        }
        if rest.is_empty() && piped.is_none() {
            return self.arg(first, dot);
        }
        // Arguments after a field make it a method call: `.Label "KEY"`.
        let Some((method, receiver_fields)) = first.fields.split_last() else {
            return Err(Located::exec(
                first.offset,
                "can't give an argument to a non-function",
            ));
        };
        let receiver = Arg {
            offset: first.offset,
            kind: first.kind.clone(),
            fields: receiver_fields.to_vec(),
        };
        let receiver = self.arg(&receiver, dot)?;
        let mut args = Vec::new();
        for arg in rest {
            args.push(self.arg(arg, dot)?);
        }
        args.extend(piped);
        method_call(&receiver, method, &args).map_err(|m| Located::exec(first.offset, m))
    }

    fn call(
        &mut self,
        name: &str,
        offset: usize,
        rest: &[Arg],
        dot: &Val,
        piped: Option<Val>,
    ) -> Result<Val, Located> {
        if name == "and" || name == "or" {
            if rest.is_empty() && piped.is_none() {
                return Err(Located::exec(
                    offset,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Val::Missing;
            for arg in rest {
                last = self.arg(arg, dot)?;
                if last.truthy() == (name == "or") {
                    return Ok(last);
                }
            }
            return Ok(piped.unwrap_or(last));
        }
        let mut args = Vec::with_capacity(rest.len() + 1);
        for arg in rest {
            args.push(self.arg(arg, dot)?);
        }
        args.extend(piped);
        let value = funcs::call(name, args).map_err(|m| Located::exec(offset, m))?;
        // A value may not outgrow the output: `printf "%s%s" $x $x` in a
        // loop would double it each time.
        if let Value::String(text) = value.json() {
            if text.len() > self.limits.max_output {
                return Err(Located::exec(
                    offset,
                    format!(
                        "{name} made a value longer than {} bytes",
                        self.limits.max_output
                    ),
                ));
            }
        }
        Ok(value)
    }

    fn arg(&mut self, arg: &Arg, dot: &Val) -> Result<Val, Located> {
        let mut value = match &arg.kind {
            ArgKind::Dot => dot.clone(),
            ArgKind::Variable(name) => {
                let found = self.variables.iter().rev().find(|(n, _)| n == name);
                found.map(|(_, v)| v.clone()).ok_or_else(|| {
                    Located::exec(arg.offset, format!("undefined variable {name}"))
                })?
            }
            ArgKind::Constant(value) => Val::Json(value.clone()),
            ArgKind::Nil => Val::Json(Value::Null),
            ArgKind::Function(name) => self.call(name, arg.offset, &[], dot, None)?,
            ArgKind::Pipeline(pipeline) => {
                let value = self.pipeline(pipeline, dot)?;
                self.bind(pipeline, value.clone());
                value
            }
        };
        let mut path = String::new();
        for name in &arg.fields {
            path.push('.');
            path.push_str(name);
            value = match value.json() {
                Value::Object(map) => match map.get(name) {
                    Some(field) => Val::Json(field.clone()),
                    None if self.strict_fields => {
                        return Err(Located::exec(
                            arg.offset,
                            format!("can't evaluate field {name}: no such field"),
                        ))
                    }
                    None => Val::Missing,
                },
                Value::Null => {
                    return Err(Located::exec(
                        arg.offset,
                        format!(
                            "nil pointer evaluating {path}: the value before .{name} is {}",
                            value.type_name()
                        ),
                    ))
                }
                _ => {
                    return Err(Located::exec(
                        arg.offset,
                        format!("can't evaluate field {name} in type {}", value.type_name()),
                    ))
                }
            };
        }
        Ok(value)
    }
}

/// Methods docker's formatters offer on a listing's row.
fn method_call(receiver: &Val, method: &str, args: &[Val]) -> Result<Val, String> {
    match method {
        "Label" => {
            let [key] = args else {
                return Err(format!(
                    "wrong number of args for Label: want 1 got {}",
                    args.len()
                ));
            };
            let Value::String(key) = key.json() else {
                return Err(format!(
                    "wrong type for Label's key: expected string, got {}",
                    key.type_name()
                ));
            };
            let labels = match receiver.json() {
                Value::Object(map) => map.get("Labels"),
                _ => None,
            };
            let value = match labels {
                Some(Value::Object(labels)) => {
                    labels.get(key).map(|v| format_v(&Val::Json(v.clone())))
                }
                Some(Value::String(joined)) => joined
                    .split(',')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.to_string()),
                _ => None,
            };
            Ok(Val::str(value.unwrap_or_default()))
        }
        other => Err(format!(
            "can't give arguments to .{other}: it is a field, not a method"
        )),
    }
}
