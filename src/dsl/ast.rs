//! The untyped syntax tree of a condition, as the parser produces it.
//!
//! Every node carries the byte span of its text inside the condition string, so
//! that later stages (type checking, name resolution) can point at it. `Display`
//! prints a canonical, fully parenthesised form that parses back to the same tree.

use std::fmt;

/// A byte range inside one condition string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Bool(bool),
    Number(f64),
    /// A duration literal, in milliseconds.
    Duration(i64),
    Str(String),
    List(Vec<Expr>),
    /// A dotted field path such as `page.url` or `attributes.price`.
    Field(String),
    /// `name(args...)`.
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// `expr.name`, e.g. `outcome("buy").probability`.
    Member {
        target: Box<Expr>,
        name: String,
        name_span: Span,
    },
    /// `count(EVENT where COND)` or `visitor.count(...)`.
    Count {
        scope: CountScope,
        /// `None` stands for `*` (any event).
        event: Option<String>,
        event_span: Span,
        cond: Option<Box<Expr>>,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CountScope {
    Session,
    Visitor,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    Neg,
}

/// Binary operators. The string operators carry whether they are negated
/// (`not contains`), because a negated comparison is still a comparison: with a
/// missing operand it is false, unlike `not (a contains b)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Str { op: StrOp, negated: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    In,
    ContainsAny,
    ContainsAll,
}

impl StrOp {
    pub fn keyword(self) -> &'static str {
        match self {
            StrOp::Contains => "contains",
            StrOp::StartsWith => "starts_with",
            StrOp::EndsWith => "ends_with",
            StrOp::Matches => "matches",
            StrOp::In => "in",
            StrOp::ContainsAny => "contains any",
            StrOp::ContainsAll => "contains all",
        }
    }
    /// Operators whose right-hand side is a list literal.
    pub fn takes_list(self) -> bool {
        matches!(self, StrOp::In | StrOp::ContainsAny | StrOp::ContainsAll)
    }
}

impl BinOp {
    pub fn symbol(self) -> String {
        match self {
            BinOp::Or => "or".into(),
            BinOp::And => "and".into(),
            BinOp::Eq => "==".into(),
            BinOp::Ne => "!=".into(),
            BinOp::Lt => "<".into(),
            BinOp::Le => "<=".into(),
            BinOp::Gt => ">".into(),
            BinOp::Ge => ">=".into(),
            BinOp::Add => "+".into(),
            BinOp::Sub => "-".into(),
            BinOp::Mul => "*".into(),
            BinOp::Div => "/".into(),
            BinOp::Str { op, negated } => {
                if negated {
                    format!("not {}", op.keyword())
                } else {
                    op.keyword().into()
                }
            }
        }
    }
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Self {
        Expr { kind, span }
    }

    /// The same tree with every span zeroed: two parses of equivalent text
    /// compare equal after this.
    pub fn without_spans(&self) -> Expr {
        let z = Span::default();
        let b = |e: &Expr| Box::new(e.without_spans());
        let kind = match &self.kind {
            ExprKind::List(items) => ExprKind::List(items.iter().map(Expr::without_spans).collect()),
            ExprKind::Call { name, args } => {
                ExprKind::Call { name: name.clone(), args: args.iter().map(Expr::without_spans).collect() }
            }
            ExprKind::Member { target, name, .. } => {
                ExprKind::Member { target: b(target), name: name.clone(), name_span: z }
            }
            ExprKind::Count { scope, event, cond, .. } => {
                ExprKind::Count { scope: *scope, event: event.clone(), event_span: z, cond: cond.as_deref().map(b) }
            }
            ExprKind::Unary { op, expr } => ExprKind::Unary { op: *op, expr: b(expr) },
            ExprKind::Binary { op, lhs, rhs, .. } => ExprKind::Binary { op: *op, op_span: z, lhs: b(lhs), rhs: b(rhs) },
            other => other.clone(),
        };
        Expr { kind, span: z }
    }
}

/// Formats a number so that it reads back as the same `f64` and as a number,
/// never as a duration or in exponent form the grammar would not take.
fn fmt_number(f: &mut fmt::Formatter<'_>, n: f64) -> fmt::Result {
    if n.fract() == 0.0 && n.abs() < 1e15 { write!(f, "{}", n as i64) } else { write!(f, "{n:?}") }
}

/// Prints milliseconds with the largest exact units, e.g. `1h30m`, `500ms`.
pub fn fmt_duration_ms(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut rest = ms;
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Number(n) => fmt_number(f, *n),
            ExprKind::Duration(ms) => f.write_str(&fmt_duration_ms(*ms)),
            ExprKind::Str(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            ExprKind::Field(path) => f.write_str(path),
            ExprKind::Call { name, args } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match &a.kind {
                        // `count(x)` would read back as a count pattern, not a call.
                        ExprKind::Field(path) if name == "count" && !path.contains('.') => write!(f, "({a})")?,
                        _ => write!(f, "{a}")?,
                    }
                }
                f.write_str(")")
            }
            // `page.url.achieved` would read back as one field path.
            ExprKind::Member { target, name, .. } if matches!(target.kind, ExprKind::Field(_)) => {
                write!(f, "({target}).{name}")
            }
            ExprKind::Member { target, name, .. } => write!(f, "{target}.{name}"),
            ExprKind::Count { scope, event, cond, .. } => {
                if *scope == CountScope::Visitor {
                    f.write_str("visitor.")?;
                }
                write!(f, "count({}", event.as_deref().unwrap_or("*"))?;
                if let Some(c) = cond {
                    write!(f, " where {c}")?;
                }
                f.write_str(")")
            }
            ExprKind::Unary { op: UnaryOp::Not, expr } => write!(f, "(not {expr})"),
            ExprKind::Unary { op: UnaryOp::Neg, expr } => write!(f, "(-{expr})"),
            ExprKind::Binary { op, lhs, rhs, .. } => write!(f, "({lhs} {} {rhs})", op.symbol()),
        }
    }
}
