//! The parser: tokens into a tree of text, actions and control structures.
//! Function names are checked here, as Go does, so a misspelt one fails
//! before any output is written.

use crate::error::Located;
use crate::funcs;
use crate::lex::{Tok, Token};
use serde_json::Value;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipeline),
    If(Branch),
    With(Branch),
    Range(Branch),
    Break,
    Continue,
}

/// `{{if|with|range PIPELINE}}body{{else}}otherwise{{end}}`.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub pipeline: Pipeline,
    pub body: Vec<Node>,
    pub otherwise: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub offset: usize,
    /// Variables declared (`:=`) or assigned (`=`) with the pipeline's value.
    pub variables: Vec<String>,
    pub assign: bool,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub offset: usize,
    pub kind: ArgKind,
    /// Fields read from the term: `.A.B`, `$x.A`, `(pipeline).A`.
    pub fields: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum ArgKind {
    Dot,
    Variable(String),
    Function(String),
    Constant(Value),
    Nil,
    Pipeline(Box<Pipeline>),
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    max_depth: usize,
    depth: usize,
    range_depth: usize,
    /// Declared variable names, innermost scope last.
    variables: Vec<String>,
}

/// What ended a list of nodes.
enum Terminator {
    Eof,
    End(usize),
    Else(usize),
}

pub(crate) fn parse(tokens: Vec<Token>, max_depth: usize) -> Result<Vec<Node>, Located> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        max_depth,
        depth: 0,
        range_depth: 0,
        variables: vec!["$".to_string()],
    };
    let (nodes, end) = parser.list()?;
    match end {
        Terminator::Eof => Ok(nodes),
        Terminator::End(offset) => Err(Located::parse(
            offset,
            "unexpected {{end}}: no if, with or range to close",
        )),
        Terminator::Else(offset) => Err(Located::parse(
            offset,
            "unexpected {{else}}: no if, with or range to continue",
        )),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn end_offset(&self) -> usize {
        self.tokens.last().map_or(0, |t| t.offset)
    }

    fn expect_close(&mut self, what: &str) -> Result<(), Located> {
        match self.next() {
            Some(Token {
                tok: Tok::Close, ..
            }) => Ok(()),
            Some(t) => Err(Located::parse(
                t.offset,
                format!("unexpected {} in {what}: expected }}}}", describe(&t.tok)),
            )),
            None => Err(Located::parse(
                self.end_offset(),
                format!("unclosed {what}: add }}}}"),
            )),
        }
    }

    fn enter(&mut self, offset: usize) -> Result<(), Located> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(Located::parse(
                offset,
                format!("nesting deeper than {} levels", self.max_depth),
            ));
        }
        Ok(())
    }

    fn list(&mut self) -> Result<(Vec<Node>, Terminator), Located> {
        let mut nodes = Vec::new();
        while let Some(token) = self.next() {
            match token.tok {
                Tok::Text(text) => nodes.push(Node::Text(text)),
                Tok::Open => {
                    if let Some(end) = self.action(&mut nodes)? {
                        return Ok((nodes, end));
                    }
                }
                other => {
                    return Err(Located::parse(
                        token.offset,
                        format!("unexpected {}", describe(&other)),
                    ))
                }
            }
        }
        Ok((nodes, Terminator::Eof))
    }

    /// Parses one action after `{{`; returns `Some` at `{{end}}` or `{{else`.
    fn action(&mut self, nodes: &mut Vec<Node>) -> Result<Option<Terminator>, Located> {
        let Some(first) = self.peek().cloned() else {
            return Err(Located::parse(self.end_offset(), "unclosed action: add }}"));
        };
        if let Tok::Comment = first.tok {
            self.pos += 1;
            self.expect_close("comment")?;
            return Ok(None);
        }
        let Tok::Ident(word) = &first.tok else {
            let pipeline = self.pipeline(true, false)?;
            self.expect_close("action")?;
            nodes.push(Node::Action(pipeline));
            return Ok(None);
        };
        match word.as_str() {
            "end" => {
                self.pos += 1;
                self.expect_close("{{end}}")?;
                Ok(Some(Terminator::End(first.offset)))
            }
            "else" => {
                self.pos += 1;
                Ok(Some(Terminator::Else(first.offset)))
            }
            "if" | "with" | "range" => {
                self.pos += 1;
                let node = self.control(word.clone(), first.offset)?;
                nodes.push(node);
                Ok(None)
            }
            "break" | "continue" => {
                self.pos += 1;
                if self.range_depth == 0 {
                    return Err(Located::parse(
                        first.offset,
                        format!("{{{{{word}}}}} outside {{{{range}}}}"),
                    ));
                }
                self.expect_close(word)?;
                nodes.push(if word == "break" {
                    Node::Break
                } else {
                    Node::Continue
                });
                Ok(None)
            }
            "define" | "template" | "block" => Err(Located::parse(
                first.offset,
                format!("{{{{{word}}}}} is not supported in a format: write the template inline"),
            )),
            _ => {
                let pipeline = self.pipeline(true, false)?;
                self.expect_close("action")?;
                nodes.push(Node::Action(pipeline));
                Ok(None)
            }
        }
    }

    /// `if`, `with` or `range` after its keyword, through its `{{end}}`.
    fn control(&mut self, keyword: String, offset: usize) -> Result<Node, Located> {
        self.enter(offset)?;
        let scope = self.variables.len();
        let pipeline = self.pipeline(true, keyword == "range")?;
        self.expect_close(&format!("{{{{{keyword}}}}}"))?;
        if keyword == "range" {
            self.range_depth += 1;
        }
        let (body, end) = self.list()?;
        if keyword == "range" {
            self.range_depth -= 1;
        }
        let otherwise = match end {
            Terminator::Eof => {
                return Err(Located::parse(
                    offset,
                    format!("{{{{{keyword}}}}} has no {{{{end}}}}: add one"),
                ))
            }
            Terminator::End(_) => Vec::new(),
            Terminator::Else(_) => self.otherwise(&keyword, offset)?,
        };
        self.variables.truncate(scope);
        self.depth -= 1;
        let branch = Branch {
            pipeline,
            body,
            otherwise,
        };
        Ok(match keyword.as_str() {
            "if" => Node::If(branch),
            "with" => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    /// What follows `{{else`: `}}` and a list up to `{{end}}`, or a chained
    /// `if`/`with` that shares the `{{end}}`.
    fn otherwise(&mut self, keyword: &str, offset: usize) -> Result<Vec<Node>, Located> {
        if let Some(Token {
            tok: Tok::Ident(word),
            offset: at,
            ..
        }) = self.peek().cloned()
        {
            if (word == "if" || word == "with") && keyword != "range" {
                self.pos += 1;
                return Ok(vec![self.control(word, at)?]);
            }
        }
        self.expect_close("{{else}}")?;
        let (nodes, end) = self.list()?;
        match end {
            Terminator::End(_) => Ok(nodes),
            Terminator::Else(at) => Err(Located::parse(
                at,
                format!("a second {{{{else}}}} in one {{{{{keyword}}}}}"),
            )),
            Terminator::Eof => Err(Located::parse(
                offset,
                format!("{{{{{keyword}}}}} has no {{{{end}}}}: add one"),
            )),
        }
    }

    fn pipeline(&mut self, may_declare: bool, two_variables: bool) -> Result<Pipeline, Located> {
        let offset = self.peek().map_or(self.end_offset(), |t| t.offset);
        let (variables, assign) = if may_declare {
            self.declaration(two_variables)?
        } else {
            (Vec::new(), false)
        };
        let mut commands = Vec::new();
        loop {
            commands.push(self.command()?);
            match self.peek().map(|t| &t.tok) {
                Some(Tok::Pipe) => self.pos += 1,
                _ => break,
            }
        }
        if !assign {
            self.variables.extend(variables.iter().cloned());
        }
        Ok(Pipeline {
            offset,
            variables,
            assign,
            commands,
        })
    }

    /// `$x :=`, `$x =` or `$i, $v :=` at the start of a pipeline.
    fn declaration(&mut self, two_variables: bool) -> Result<(Vec<String>, bool), Located> {
        let start = self.pos;
        let mut names = Vec::new();
        while let Some(Token {
            tok: Tok::Var(name),
            ..
        }) = self.peek().cloned()
        {
            self.pos += 1;
            names.push(name);
            match self.peek().map(|t| t.tok.clone()) {
                Some(Tok::Comma) if two_variables && names.len() == 1 => self.pos += 1,
                Some(Tok::Declare) => {
                    self.pos += 1;
                    return Ok((names, false));
                }
                Some(Tok::Assign) => {
                    let at = self.tokens[self.pos].offset;
                    self.pos += 1;
                    for name in &names {
                        if !self.variables.contains(name) {
                            return Err(Located::parse(
                                at,
                                format!("undefined variable {name}: declare it with :="),
                            ));
                        }
                    }
                    return Ok((names, true));
                }
                _ => break,
            }
        }
        self.pos = start;
        Ok((Vec::new(), false))
    }

    fn command(&mut self) -> Result<Command, Located> {
        let offset = self.peek().map_or(self.end_offset(), |t| t.offset);
        let mut args = Vec::new();
        while let Some(token) = self.peek() {
            if matches!(token.tok, Tok::Close | Tok::Pipe | Tok::RightParen) {
                break;
            }
            args.push(self.operand()?);
        }
        if args.is_empty() {
            let found = self
                .peek()
                .map_or("the end".to_string(), |t| describe(&t.tok));
            return Err(Located::parse(
                offset,
                format!("missing value for command before {found}"),
            ));
        }
        Ok(Command { args })
    }

    fn operand(&mut self) -> Result<Arg, Located> {
        let Some(token) = self.next() else {
            return Err(Located::parse(self.end_offset(), "unclosed action: add }}"));
        };
        let offset = token.offset;
        let mut fields = Vec::new();
        let kind =
            match token.tok {
                Tok::Dot => ArgKind::Dot,
                Tok::Field(name) => {
                    fields.push(name);
                    ArgKind::Dot
                }
                Tok::Var(name) => {
                    if !self.variables.contains(&name) {
                        return Err(Located::parse(
                            offset,
                            format!("undefined variable {name}: declare it with :="),
                        ));
                    }
                    ArgKind::Variable(name)
                }
                Tok::Ident(name) => match name.as_str() {
                    "true" => ArgKind::Constant(Value::Bool(true)),
                    "false" => ArgKind::Constant(Value::Bool(false)),
                    "nil" => ArgKind::Nil,
                    _ if funcs::exists(&name) => ArgKind::Function(name),
                    _ => {
                        return Err(Located::parse(
                            offset,
                            format!("function {name:?} not defined"),
                        ))
                    }
                },
                Tok::Str(text) => ArgKind::Constant(Value::String(text)),
                Tok::Char(c) => ArgKind::Constant(Value::from(c as u32)),
                Tok::Number(text) => ArgKind::Constant(number(&text).ok_or_else(|| {
                    Located::parse(offset, format!("bad number syntax: {text:?}"))
                })?),
                Tok::LeftParen => {
                    self.enter(offset)?;
                    let inner = self.pipeline(true, false)?;
                    self.depth -= 1;
                    match self.next() {
                        Some(Token {
                            tok: Tok::RightParen,
                            ..
                        }) => {}
                        _ => return Err(Located::parse(offset, "unclosed left paren: add )")),
                    }
                    ArgKind::Pipeline(Box::new(inner))
                }
                other => {
                    return Err(Located::parse(
                        offset,
                        format!("unexpected {} in operand", describe(&other)),
                    ))
                }
            };
        while let Some(Token {
            tok: Tok::Field(name),
            spaced: false,
            ..
        }) = self.peek().cloned()
        {
            if matches!(
                kind,
                ArgKind::Function(_) | ArgKind::Constant(_) | ArgKind::Nil
            ) {
                return Err(Located::parse(
                    offset,
                    format!("unexpected .{name} after a constant or function"),
                ));
            }
            self.pos += 1;
            fields.push(name);
        }
        Ok(Arg {
            offset,
            kind,
            fields,
        })
    }
}

/// Go's number syntax: decimal, `0x`, `0o`, `0b`, underscores, floats.
fn number(text: &str) -> Option<Value> {
    let clean = text.replace('_', "");
    let (negative, digits) = match clean.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let radix = |prefix: &[&str], radix: u32| {
        prefix
            .iter()
            .find_map(|p| digits.strip_prefix(p))
            .and_then(|d| i64::from_str_radix(d, radix).ok())
    };
    let integer = radix(&["0x", "0X"], 16)
        .or_else(|| radix(&["0o", "0O"], 8))
        .or_else(|| radix(&["0b", "0B"], 2))
        .or_else(|| digits.parse::<i64>().ok());
    if let Some(i) = integer {
        return Some(Value::from(if negative { -i } else { i }));
    }
    let float: f64 = digits.parse().ok().filter(|f: &f64| f.is_finite())?;
    serde_json::Number::from_f64(if negative { -float } else { float }).map(Value::Number)
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Text(_) => "text".into(),
        Tok::Open => "{{".into(),
        Tok::Close => "}}".into(),
        Tok::Comment => "comment".into(),
        Tok::Field(name) => format!(".{name}"),
        Tok::Dot => ".".into(),
        Tok::Var(name) => name.clone(),
        Tok::Ident(name) => name.clone(),
        Tok::Str(text) => format!("{text:?}"),
        Tok::Number(text) => text.clone(),
        Tok::Char(c) => format!("{c:?}"),
        Tok::Pipe => "|".into(),
        Tok::LeftParen => "(".into(),
        Tok::RightParen => ")".into(),
        Tok::Declare => ":=".into(),
        Tok::Assign => "=".into(),
        Tok::Comma => ",".into(),
    }
}
