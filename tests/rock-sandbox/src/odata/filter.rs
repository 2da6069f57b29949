//! `$filter`: a recursive-descent parser for the OData v3 subset Rock clients use, with the
//! type checks OData does before running a query, and an evaluator over stored rows.
//!
//! String comparisons are case-insensitive, as they are on Rock (SQL Server's default
//! collation): `FirstName eq 'john'` finds "John".

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::Value;
use time::PrimitiveDateTime;

use super::QueryError;
use super::lexer::{Token, tokenize};
use crate::clock::parse_datetime;
use crate::schema::{Entity, Kind};
use crate::store::Row;

/// Nesting deeper than this is refused rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 128;

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Dec(f64),
    Str(String),
    DateTime(PrimitiveDateTime),
    Guid(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_word(word: &str) -> Option<CmpOp> {
        Some(match word {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            _ => return None,
        })
    }

    fn odata_name(self) -> &'static str {
        match self {
            CmpOp::Eq => "Equal",
            CmpOp::Ne => "NotEqual",
            CmpOp::Gt => "GreaterThan",
            CmpOp::Ge => "GreaterThanOrEqual",
            CmpOp::Lt => "LessThan",
            CmpOp::Le => "LessThanOrEqual",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    SubstringOf,
    StartsWith,
    EndsWith,
    ToLower,
    ToUpper,
    Trim,
    Length,
    IndexOf,
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "substringof" => Func::SubstringOf,
            "startswith" => Func::StartsWith,
            "endswith" => Func::EndsWith,
            "tolower" => Func::ToLower,
            "toupper" => Func::ToUpper,
            "trim" => Func::Trim,
            "length" => Func::Length,
            "indexof" => Func::IndexOf,
            "year" => Func::Year,
            "month" => Func::Month,
            "day" => Func::Day,
            "hour" => Func::Hour,
            "minute" => Func::Minute,
            "second" => Func::Second,
            _ => return None,
        })
    }

    /// (argument types, result type); `None` for an argument means "any".
    fn signature(self) -> (&'static [Option<Kind>], Kind) {
        const S: Option<Kind> = Some(Kind::Str);
        const D: Option<Kind> = Some(Kind::DateTime);
        match self {
            Func::SubstringOf | Func::StartsWith | Func::EndsWith => (&[S, S], Kind::Bool),
            Func::ToLower | Func::ToUpper | Func::Trim => (&[S], Kind::Str),
            Func::Length => (&[S], Kind::Int),
            Func::IndexOf => (&[S, S], Kind::Int),
            Func::Year | Func::Month | Func::Day | Func::Hour | Func::Minute | Func::Second => {
                (&[D], Kind::Int)
            }
        }
    }
}

#[derive(Clone, Debug)]
pub enum Expr {
    Lit(Lit),
    Prop(&'static str, Kind),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
    /// `P eq 1 or P eq 2 or …` on one integer property: how clients fetch a batch by id,
    /// evaluated as a set lookup instead of hundreds of comparisons per row.
    AnyOf(&'static str, HashSet<i64>),
}

/// Parses a `$filter` for rows of `entity`. `max_nodes` mirrors OData's `MaxNodeCount`.
pub fn parse(text: &str, entity: Entity, max_nodes: Option<usize>) -> Result<Expr, QueryError> {
    parse_counted(text, entity, max_nodes).map(|(expr, _)| expr)
}

/// Parses a `$filter` and counts its nodes as Web API OData 5 (System.Web.Http.OData
/// `FilterQueryValidator`) counts them against `MaxNodeCount`: one per node of the bound tree
/// the validator visits (`ValidateQueryNode` calls `IncrementNodeCount` for every node):
/// - a comparison `Id eq 1` is 4: the operator, the property, the `$it` range variable the
///   property is read from, and the constant (`FilterQueryValidatorTest.
///   ValidateVisitLogicalOperatorEqual` visits exactly these four);
/// - `and`, `or` and `not` are 1 each (21 `SupplierID eq 1` joined by `and` are 104 nodes,
///   over 100, 20 are 99: `LongInputs`/`CloseToLongInputs` of the same test); parentheses are
///   none;
/// - a `ConvertNode` is 1 more (`ValidateConvertNode` validates its source as another node):
///   ODataLib's `BinaryOperatorBinder` promotes both operands to one type, wrapping the side
///   whose EDM type differs (nullability included) in a Convert. So a nullable column against
///   a literal (`PrimaryAliasId eq 1`, `ModifiedDateTime gt datetime'…'`), a non-nullable enum
///   (an `Edm.String` not null) against a string literal (always nullable) and any `null`
///   literal (`Email eq null`: the untyped null is converted to `Edm.String`) are 5;
/// - a function call is 1 plus its arguments (`startswith(FirstName,'J')` is 4).
///
/// A misspelt enum member passes parsing and validation (the property is `Edm.String`) and
/// fails when the filter is bound to LINQ: `Enum.Parse` throws "Requested value 'X' was not
/// found.", which `EnableQueryAttribute` does not turn into a 400 (it catches
/// NotImplemented/NotSupported/InvalidOperation exceptions only): a 500.
pub fn parse_counted(
    text: &str,
    entity: Entity,
    max_nodes: Option<usize>,
) -> Result<(Expr, usize), QueryError> {
    let tokens = tokenize(text).map_err(QueryError::bad)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        entity,
        depth: 0,
        nodes: 0,
        max_nodes,
        bind_error: None,
    };
    let expr = parser.or().map_err(QueryError::bad)?;
    if let Some(token) = parser.tokens.get(parser.pos) {
        return Err(QueryError::bad(format!(
            "Syntax error at position {}: unexpected {token:?}.",
            parser.pos
        )));
    }
    if type_of(&expr) != Some(Kind::Bool) && !matches!(expr, Expr::Lit(Lit::Null)) {
        return Err(QueryError::bad(
            "The $filter expression must evaluate to a single boolean value.".to_string(),
        ));
    }
    if let Some(detail) = parser.bind_error {
        return Err(QueryError::server(detail));
    }
    Ok((expr, parser.nodes))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    entity: Entity,
    depth: usize,
    nodes: usize,
    max_nodes: Option<usize>,
    /// The first error binding would meet (after parsing and validation succeed).
    bind_error: Option<String>,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.tokens.get(self.pos) {
            Some(Token::Ident(w)) => Some(w),
            _ => None,
        }
    }

    fn node(&mut self) -> Result<(), String> {
        self.nodes(1)
    }

    /// `IncrementNodeCount`: "The node count limit of '100' has been exceeded." once the
    /// count would pass `MaxNodeCount`.
    fn nodes(&mut self, count: usize) -> Result<(), String> {
        self.nodes += count;
        match self.max_nodes {
            Some(max) if self.nodes > max => Err(format!(
                "The node count limit of '{max}' has been exceeded. To increase the limit, set the 'MaxNodeCount' property on EnableQueryAttribute or ODataValidationSettings."
            )),
            _ => Ok(()),
        }
    }

    fn nest(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("The recursion limit has been exceeded.".into());
        }
        Ok(())
    }

    // Chains of `or`/`and` are parsed in a loop (not recursively), so a thousand-term
    // `Id eq 1 or Id eq 2 or ...` costs no stack.
    fn or(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.and()?];
        while self.peek_word() == Some("or") {
            self.pos += 1;
            self.node()?;
            terms.push(self.and()?);
        }
        let mut terms = self.logical(terms, "Or")?;
        if terms.len() == 1 {
            return Ok(terms.remove(0));
        }
        Ok(any_of(&terms).unwrap_or(Expr::Or(terms)))
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.unary()?];
        while self.peek_word() == Some("and") {
            self.pos += 1;
            self.node()?;
            terms.push(self.unary()?);
        }
        self.logical(terms, "And").map(|mut t| {
            if t.len() == 1 {
                t.remove(0)
            } else {
                Expr::And(t)
            }
        })
    }

    fn logical(&self, terms: Vec<Expr>, op: &str) -> Result<Vec<Expr>, String> {
        if terms.len() > 1 {
            for term in &terms {
                let kind = type_of(term);
                if kind.is_some() && kind != Some(Kind::Bool) {
                    return Err(format!(
                        "A binary operator with incompatible types was detected. Found operand types '{}' and 'Edm.Boolean' for operator kind '{op}'.",
                        kind.map_or("null", Kind::edm)
                    ));
                }
            }
        }
        Ok(terms)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word() == Some("not") {
            self.pos += 1;
            self.node()?;
            self.nest()?;
            let inner = self.unary()?;
            self.depth -= 1;
            if type_of(&inner).is_some_and(|k| k != Kind::Bool) {
                return Err("The operand of 'not' must be a boolean expression.".into());
            }
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.primary()?;
        let Some(word) = self.peek_word() else {
            return Ok(left);
        };
        if let Some(op) = CmpOp::from_word(word) {
            self.pos += 1;
            self.node()?;
            let right = self.primary()?;
            check_comparable(op, &left, &right)?;
            let converts = self.converts(&left, &right);
            self.nodes(converts)?;
            let left_bound = self.enum_operand(left.clone(), &right);
            let right = self.enum_operand(right, &left);
            let left = left_bound;
            return Ok(Expr::Cmp(op, Box::new(left), Box::new(right)));
        }
        if matches!(word, "add" | "sub" | "mul" | "div" | "mod") {
            return Err(format!(
                "The arithmetic operator '{word}' is not supported by this server."
            ));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, String> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        // Parentheses only group: the parsed tree (what OData's FilterQueryValidator counts
        // against MaxNodeCount) has no node for them.
        if token != Some(Token::LParen) {
            self.node()?;
        }
        match token {
            None => Err("Syntax error: the expression ended unexpectedly.".into()),
            Some(Token::LParen) => {
                self.nest()?;
                let inner = self.or()?;
                self.depth -= 1;
                self.expect(Token::RParen)?;
                Ok(inner)
            }
            Some(Token::Str(s)) => Ok(Expr::Lit(Lit::Str(s))),
            Some(Token::Int(n)) => Ok(Expr::Lit(Lit::Int(n))),
            Some(Token::Dec(n)) => Ok(Expr::Lit(Lit::Dec(n))),
            Some(Token::DateTime(t)) => Ok(Expr::Lit(Lit::DateTime(t))),
            Some(Token::Guid(g)) => Ok(Expr::Lit(Lit::Guid(g))),
            Some(Token::Ident(word)) => self.word(word),
            Some(other) => Err(format!(
                "Syntax error at position {}: unexpected {other:?}.",
                self.pos - 1
            )),
        }
    }

    fn word(&mut self, word: String) -> Result<Expr, String> {
        match word.as_str() {
            "null" => return Ok(Expr::Lit(Lit::Null)),
            "true" => return Ok(Expr::Lit(Lit::Bool(true))),
            "false" => return Ok(Expr::Lit(Lit::Bool(false))),
            _ => {}
        }
        if self.tokens.get(self.pos) == Some(&Token::LParen) {
            return self.call(&word);
        }
        if self.tokens.get(self.pos) == Some(&Token::Slash) {
            return Err(format!(
                "Navigation paths such as '{word}/...' are not supported in $filter by this server."
            ));
        }
        match self.entity.query_column(&word) {
            Some(column) => {
                // The property access and the `$it` it is read from.
                self.node()?;
                Ok(Expr::Prop(column.name, column.kind))
            }
            None => Err(format!(
                "Could not find a property named '{word}' on type '{}'.",
                self.entity.full_name()
            )),
        }
    }

    fn call(&mut self, name: &str) -> Result<Expr, String> {
        let func = Func::from_name(name).ok_or_else(|| format!("Unknown function '{name}'."))?;
        self.pos += 1; // the '('
        self.nest()?;
        let mut args = Vec::new();
        if self.tokens.get(self.pos) != Some(&Token::RParen) {
            loop {
                args.push(self.or()?);
                if self.tokens.get(self.pos) == Some(&Token::Comma) {
                    self.pos += 1;
                    continue;
                }
                break;
            }
        }
        self.depth -= 1;
        self.expect(Token::RParen)?;
        let (params, _) = func.signature();
        if args.len() != params.len() {
            return Err(format!(
                "No function signature for the function with name '{name}' matches the specified arguments."
            ));
        }
        for (arg, want) in args.iter().zip(params) {
            let have = type_of(arg);
            let compatible = match (have, want) {
                (None, _) | (_, None) => true,
                (Some(Kind::Date), Some(Kind::DateTime)) => true,
                (Some(h), Some(w)) => h == *w,
            };
            if !compatible {
                return Err(format!(
                    "No function signature for the function with name '{name}' matches the specified arguments."
                ));
            }
        }
        Ok(Expr::Call(func, args))
    }

    fn expect(&mut self, token: Token) -> Result<(), String> {
        if self.tokens.get(self.pos) == Some(&token) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "Syntax error: {token:?} expected at position {}.",
                self.pos
            ))
        }
    }
}

impl Parser {
    /// One side of a comparison with an enum column, as Web API OData 5's `FilterBinder`
    /// (`ConvertToEnumUnderlyingType`) binds it: a string literal on the other side of the
    /// column is `Enum.Parse`d (member names case-sensitive, or a number as text) and both
    /// compare as integers. A name that is no member is remembered as the bind error (a 500,
    /// see [`parse_counted`]). Anything else is returned as it was.
    fn enum_operand(&mut self, side: Expr, other: &Expr) -> Expr {
        match (&side, other) {
            (Expr::Prop(name, Kind::Enum), _) => Expr::Prop(name, Kind::Int),
            (Expr::Lit(Lit::Str(text)), Expr::Prop(name, Kind::Enum)) => {
                match parse_enum(self.entity, name, text) {
                    Ok(v) => Expr::Lit(Lit::Int(v)),
                    Err(e) => {
                        self.bind_error.get_or_insert(e);
                        Expr::Lit(Lit::Null)
                    }
                }
            }
            _ => side,
        }
    }

    /// The Convert nodes ODataLib's type promotion adds to a comparison (see
    /// [`parse_counted`]): one per side whose EDM type is not the promoted one.
    fn converts(&self, left: &Expr, right: &Expr) -> usize {
        let (l, r) = (self.edm_type(left), self.edm_type(right));
        match (l, r) {
            // The null literal is converted to the other side's type.
            (None, Some(_)) | (Some(_), None) => 1,
            (None, None) => 0,
            (Some((lk, ln)), Some((rk, rn))) => {
                let kind = if lk == rk { lk } else { Kind::Decimal };
                let nullable = ln || rn;
                usize::from((lk, ln) != (kind, nullable))
                    + usize::from((rk, rn) != (kind, nullable))
            }
        }
    }

    /// The EDM type of an expression as (kind, nullable); `None` for the null literal.
    fn edm_type(&self, expr: &Expr) -> Option<(Kind, bool)> {
        let normal = |k: Kind| match k {
            Kind::Date => Kind::DateTime,
            Kind::Enum => Kind::Str,
            k => k,
        };
        match expr {
            Expr::Lit(Lit::Null) => None,
            // String literals are typed nullable `Edm.String`, other literals not nullable.
            Expr::Lit(Lit::Str(_)) => Some((Kind::Str, true)),
            Expr::Prop(name, kind) => {
                let nullable = self.entity.query_column(name).is_none_or(|c| c.nullable);
                Some((normal(*kind), nullable))
            }
            Expr::Call(_, _) => type_of(expr).map(|k| (normal(k), k == Kind::Str)),
            other => type_of(other).map(|k| (normal(k), false)),
        }
    }
}

/// `Enum.Parse(type, text)`: a member's exact name, or an integer (any value, as .NET allows).
fn parse_enum(entity: Entity, column: &str, text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if let Ok(number) = trimmed.parse::<i64>() {
        return Ok(number);
    }
    entity
        .enum_value(column, trimmed)
        .ok_or_else(|| format!("Requested value '{text}' was not found."))
}

/// The set form of an `or` chain of `Prop eq <integer>` on a single property, if it is one.
fn any_of(terms: &[Expr]) -> Option<Expr> {
    let mut property = None;
    let mut values = HashSet::new();
    for term in terms {
        let Expr::Cmp(CmpOp::Eq, left, right) = term else {
            return None;
        };
        let (name, value) = match (left.as_ref(), right.as_ref()) {
            (Expr::Prop(name, Kind::Int), Expr::Lit(Lit::Int(v)))
            | (Expr::Lit(Lit::Int(v)), Expr::Prop(name, Kind::Int)) => (*name, *v),
            _ => return None,
        };
        if property.is_some_and(|p| p != name) {
            return None;
        }
        property = Some(name);
        values.insert(value);
    }
    property.map(|p| Expr::AnyOf(p, values))
}

/// The static type of an expression (`None` for the null literal).
fn type_of(expr: &Expr) -> Option<Kind> {
    match expr {
        Expr::Lit(lit) => match lit {
            Lit::Null => None,
            Lit::Bool(_) => Some(Kind::Bool),
            Lit::Int(_) => Some(Kind::Int),
            Lit::Dec(_) => Some(Kind::Decimal),
            Lit::Str(_) => Some(Kind::Str),
            Lit::DateTime(_) => Some(Kind::DateTime),
            Lit::Guid(_) => Some(Kind::Guid),
        },
        Expr::Prop(_, Kind::Date) => Some(Kind::DateTime),
        Expr::Prop(_, kind) => Some(*kind),
        Expr::Not(_) | Expr::And(_) | Expr::Or(_) | Expr::Cmp(..) | Expr::AnyOf(..) => {
            Some(Kind::Bool)
        }
        Expr::Call(func, _) => Some(func.signature().1),
    }
}

fn check_comparable(op: CmpOp, left: &Expr, right: &Expr) -> Result<(), String> {
    let (l, r) = (type_of(left), type_of(right));
    let numeric = |k: Kind| matches!(k, Kind::Int | Kind::Decimal);
    let ok = match (l, r) {
        (None, _) | (_, None) => true,
        // Enums are `Edm.String` to OData v3: comparable with a string literal only.
        (Some(Kind::Enum), Some(Kind::Str)) | (Some(Kind::Str), Some(Kind::Enum)) => true,
        (Some(a), Some(b)) => a == b || (numeric(a) && numeric(b)),
    };
    if ok {
        return Ok(());
    }
    Err(format!(
        "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' for operator kind '{}'.",
        l.map_or("null", Kind::edm),
        r.map_or("null", Kind::edm),
        op.odata_name()
    ))
}

// ---- Evaluation -----------------------------------------------------------------------------

pub fn matches(expr: &Expr, row: &Row) -> bool {
    matches!(eval(expr, row), Lit::Bool(true))
}

fn eval(expr: &Expr, row: &Row) -> Lit {
    match expr {
        Expr::Lit(lit) => lit.clone(),
        Expr::Prop(name, kind) => column_value(row.get(*name), *kind),
        Expr::Not(inner) => match eval(inner, row) {
            Lit::Bool(b) => Lit::Bool(!b),
            _ => Lit::Null,
        },
        Expr::And(terms) => Lit::Bool(terms.iter().all(|t| matches(t, row))),
        Expr::Or(terms) => Lit::Bool(terms.iter().any(|t| matches(t, row))),
        Expr::AnyOf(name, values) => Lit::Bool(
            row.get(*name)
                .and_then(Value::as_i64)
                .is_some_and(|v| values.contains(&v)),
        ),
        Expr::Cmp(op, left, right) => compare(*op, &eval(left, row), &eval(right, row)),
        Expr::Call(func, args) => {
            let values: Vec<Lit> = args.iter().map(|a| eval(a, row)).collect();
            call(*func, &values)
        }
    }
}

/// A stored JSON value read as the column's type.
pub fn column_value(value: Option<&Value>, kind: Kind) -> Lit {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Lit::Null;
    };
    match kind {
        Kind::Int | Kind::Enum => value.as_i64().map_or(Lit::Null, Lit::Int),
        Kind::Decimal => value.as_f64().map_or(Lit::Null, Lit::Dec),
        Kind::Bool => value.as_bool().map_or(Lit::Null, Lit::Bool),
        Kind::Str => value
            .as_str()
            .map_or(Lit::Null, |s| Lit::Str(s.to_string())),
        Kind::Guid => value
            .as_str()
            .map_or(Lit::Null, |s| Lit::Guid(s.to_ascii_lowercase())),
        Kind::DateTime | Kind::Date => value
            .as_str()
            .and_then(parse_datetime)
            .map_or(Lit::Null, Lit::DateTime),
    }
}

fn compare(op: CmpOp, left: &Lit, right: &Lit) -> Lit {
    // SQL semantics as Entity Framework translates them: `x eq null` is `IS NULL`, and any
    // ordering against null is false.
    if matches!(left, Lit::Null) || matches!(right, Lit::Null) {
        let both = matches!(left, Lit::Null) && matches!(right, Lit::Null);
        return Lit::Bool(match op {
            CmpOp::Eq => both,
            CmpOp::Ne => !both,
            _ => false,
        });
    }
    let Some(ordering) = order(left, right) else {
        return Lit::Bool(false);
    };
    Lit::Bool(match op {
        CmpOp::Eq => ordering == Ordering::Equal,
        CmpOp::Ne => ordering != Ordering::Equal,
        CmpOp::Gt => ordering == Ordering::Greater,
        CmpOp::Ge => ordering != Ordering::Less,
        CmpOp::Lt => ordering == Ordering::Less,
        CmpOp::Le => ordering != Ordering::Greater,
    })
}

/// Orders two values of compatible types (strings case-insensitively); nulls first.
pub fn order(left: &Lit, right: &Lit) -> Option<Ordering> {
    match (left, right) {
        (Lit::Null, Lit::Null) => Some(Ordering::Equal),
        (Lit::Null, _) => Some(Ordering::Less),
        (_, Lit::Null) => Some(Ordering::Greater),
        (Lit::Int(a), Lit::Int(b)) => Some(a.cmp(b)),
        (Lit::Int(a), Lit::Dec(b)) => (*a as f64).partial_cmp(b),
        (Lit::Dec(a), Lit::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Lit::Dec(a), Lit::Dec(b)) => a.partial_cmp(b),
        (Lit::Str(a), Lit::Str(b)) => Some(fold(a).cmp(&fold(b))),
        (Lit::Bool(a), Lit::Bool(b)) => Some(a.cmp(b)),
        (Lit::DateTime(a), Lit::DateTime(b)) => Some(a.cmp(b)),
        (Lit::Guid(a), Lit::Guid(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn fold(s: &str) -> String {
    s.to_lowercase()
}

fn call(func: Func, args: &[Lit]) -> Lit {
    let text = |i: usize| match args.get(i) {
        Some(Lit::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    let when = match args.first() {
        Some(Lit::DateTime(t)) => Some(*t),
        _ => None,
    };
    match func {
        Func::SubstringOf => both(text(0), text(1), |needle, hay| {
            Lit::Bool(fold(hay).contains(&fold(needle)))
        }),
        Func::StartsWith => both(text(0), text(1), |s, p| {
            Lit::Bool(fold(s).starts_with(&fold(p)))
        }),
        Func::EndsWith => both(text(0), text(1), |s, p| {
            Lit::Bool(fold(s).ends_with(&fold(p)))
        }),
        Func::IndexOf => both(text(0), text(1), |s, p| {
            Lit::Int(fold(s).find(&fold(p)).map_or(-1, |i| i as i64))
        }),
        Func::ToLower => text(0).map_or(Lit::Null, |s| Lit::Str(s.to_lowercase())),
        Func::ToUpper => text(0).map_or(Lit::Null, |s| Lit::Str(s.to_uppercase())),
        Func::Trim => text(0).map_or(Lit::Null, |s| Lit::Str(s.trim().to_string())),
        Func::Length => text(0).map_or(Lit::Null, |s| Lit::Int(s.chars().count() as i64)),
        Func::Year => when.map_or(Lit::Null, |t| Lit::Int(i64::from(t.year()))),
        Func::Month => when.map_or(Lit::Null, |t| Lit::Int(i64::from(u8::from(t.month())))),
        Func::Day => when.map_or(Lit::Null, |t| Lit::Int(i64::from(t.day()))),
        Func::Hour => when.map_or(Lit::Null, |t| Lit::Int(i64::from(t.hour()))),
        Func::Minute => when.map_or(Lit::Null, |t| Lit::Int(i64::from(t.minute()))),
        Func::Second => when.map_or(Lit::Null, |t| Lit::Int(i64::from(t.second()))),
    }
}

fn both(a: Option<&str>, b: Option<&str>, f: impl FnOnce(&str, &str) -> Lit) -> Lit {
    match (a, b) {
        (Some(a), Some(b)) => f(a, b),
        _ => Lit::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Row {
        v.as_object().cloned().unwrap_or_default()
    }

    fn check(filter: &str, r: &Row) -> bool {
        matches(&parse(filter, Entity::Person, None).unwrap(), r)
    }

    #[test]
    fn evaluates_the_v3_subset() {
        let r = row(
            json!({"Id": 1005, "FirstName": "John", "LastName": "O'Brien", "Email": null,
            "ModifiedDateTime": "2024-05-01T10:00:00", "Guid": "aa8732fb-2cea-4c76-8d6d-6aaa2c6a4303",
            "IsDeceased": false}),
        );
        assert!(check("FirstName eq 'john'", &r));
        assert!(check("LastName eq 'O''Brien' and Id gt 1000", &r));
        assert!(check("Email eq null and not (Id eq 1)", &r));
        assert!(check("substringof('oh', FirstName) or Id eq 1", &r));
        assert!(check("startswith(FirstName, 'J')", &r));
        assert!(check(
            "ModifiedDateTime ge datetime'2024-05-01T09:00:00'",
            &r
        ));
        assert!(check(
            "Guid eq guid'AA8732FB-2CEA-4C76-8D6D-6AAA2C6A4303'",
            &r
        ));
        assert!(check("IsDeceased eq false", &r));
        assert!(!check("Email ne null", &r));
        assert!(check("((Id eq 1) or (Id eq 1005))", &r));
        assert!(check("year(ModifiedDateTime) eq 2024", &r));
    }

    #[test]
    fn long_or_chains_parse_without_recursion() {
        let chain: Vec<String> = (0..5000).map(|i| format!("Id eq {i}")).collect();
        let expr = parse(&chain.join(" or "), Entity::Person, None).unwrap();
        assert!(matches!(expr, Expr::AnyOf("Id", _)));
        assert!(matches(&expr, &row(json!({"Id": 4999}))));
        assert!(!matches(&expr, &row(json!({"Id": 5000}))));
        let mixed = parse("Id eq 1 or PhotoId eq 2", Entity::Person, None).unwrap();
        assert!(matches!(mixed, Expr::Or(_)));
        assert!(matches(&mixed, &row(json!({"Id": 7, "PhotoId": 2}))));
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            "Id eq 'x'",
            "Guid eq 'aa8732fb-2cea-4c76-8d6d-6aaa2c6a4303'",
            "Nope eq 1",
            "firstname eq 'x'",
            "Id add 1 eq 2",
            "PhoneNumbers/any(p: p/Number eq '1')",
            "Id eq",
            "(Id eq 1",
            "Id",
            "frobnicate(Id)",
            "Id eq 1 and 5",
            &"(".repeat(10_000),
            &"not ".repeat(10_000),
        ] {
            assert!(parse(bad, Entity::Person, None).is_err(), "{bad}");
        }
        assert!(parse("Id eq 1 or Id eq 2", Entity::Person, Some(5)).is_err());
    }

    // Issue 13 item 1: enums are strings in $filter, as on Rock (OData v3).
    #[test]
    fn enum_columns_take_names_or_numeric_strings_never_integers() {
        let member = row(json!({"Id": 1, "GroupMemberStatus": 1}));
        let status = |f: &str| parse(f, Entity::GroupMember, None);
        assert!(matches(
            &status("GroupMemberStatus eq 'Active'").unwrap(),
            &member
        ));
        assert!(matches(
            &status("GroupMemberStatus eq '1'").unwrap(),
            &member
        ));
        assert!(!matches(
            &status("GroupMemberStatus eq 'Pending'").unwrap(),
            &member
        ));
        assert!(matches(
            &status("'Active' eq GroupMemberStatus").unwrap(),
            &member
        ));
        let refused = status("GroupMemberStatus eq 1").unwrap_err();
        assert!(
            refused.detail.contains("'Edm.String' and 'Edm.Int32'") && !refused.server_error,
            "{refused:?}"
        );
        // A misspelt member parses (the column is Edm.String) and fails binding: a 500.
        let misspelt = status("GroupMemberStatus eq 'active'").unwrap_err();
        assert!(misspelt.server_error, "{misspelt:?}");
        assert_eq!(misspelt.detail, "Requested value 'active' was not found.");
        // ...but only once everything parses: a syntax error later is still the 400.
        let both = status("GroupMemberStatus eq 'active' and (").unwrap_err();
        assert!(!both.server_error, "{both:?}");
        let person = row(json!({"Id": 1, "Gender": 2, "AccountProtectionProfile": 0}));
        let check = |f: &str| matches(&parse(f, Entity::Person, None).unwrap(), &person);
        assert!(check(
            "Gender eq 'Female' and AccountProtectionProfile lt 'High'"
        ));
        assert!(parse("Gender eq 2", Entity::Person, None).is_err());
    }

    #[test]
    fn parentheses_are_not_nodes() {
        // `(Id ge 1 and Id le 2)`: and, two comparisons of four nodes each.
        assert!(parse("(Id ge 1 and Id le 2)", Entity::Person, Some(9)).is_ok());
        assert!(parse("((Id ge 1 and Id le 2))", Entity::Person, Some(8)).is_err());
    }

    fn count(entity: Entity, filter: &str) -> usize {
        parse_counted(filter, entity, None).unwrap().1
    }

    // The figures of ASP.NET Web API OData's own tests (OData/WebApi,
    // OData/test/System.Web.Http.OData.Test/OData/Query/Validators/FilterQueryValidatorTest.cs).
    #[test]
    fn nodes_are_counted_as_web_api_odata_counts_them() {
        // ValidateVisitLogicalOperatorEqual: `Id eq 1` visits the operator, `Id`, `1` and
        // `$it`, once each.
        assert_eq!(count(Entity::Person, "Id eq 1"), 4);
        // LongInputs / CloseToLongInputs with MaxNodeCount 100: 21 `SupplierID eq 1` (a
        // non-nullable int) joined by `and` throw, 20 do not.
        let chain = |n: usize| vec!["Id eq 1"; n].join(" and ");
        assert_eq!(count(Entity::Person, &chain(20)), 99);
        assert!(parse(&chain(20), Entity::Person, Some(100)).is_ok());
        let refused = parse(&chain(21), Entity::Person, Some(100)).unwrap_err();
        assert!(
            refused
                .detail
                .starts_with("The node count limit of '100' has been exceeded."),
            "{refused:?}"
        );
        // ...and 100 `not` before a boolean property throw, 95 do not: `not` is 1, the
        // property 2 (itself and `$it`).
        let nots = |n: usize| format!("{}IsDeceased", "not ".repeat(n));
        assert_eq!(count(Entity::Person, &nots(95)), 97);
        assert!(parse(&nots(100), Entity::Person, Some(100)).is_err());
        // ...and 100 nested trim() around a constant, compared with a constant, throw.
        let trims = |n: usize| {
            let mut inner = "'abc'".to_string();
            for _ in 0..n {
                inner = format!("trim({inner})");
            }
            format!("{inner} eq '123'")
        };
        assert_eq!(count(Entity::Person, &trims(95)), 98);
        assert!(parse(&trims(100), Entity::Person, Some(100)).is_err());
    }

    #[test]
    fn convert_nodes_count_where_odata_promotes_a_type() {
        // Non-nullable int against an int literal: no Convert.
        assert_eq!(count(Entity::PersonAlias, "PersonId eq 1"), 4);
        // `int?` against an int literal: the literal is converted to `Edm.Int32` nullable.
        assert_eq!(count(Entity::Person, "PrimaryAliasId eq 1"), 5);
        // The untyped null literal is converted to the other side's type.
        assert_eq!(count(Entity::Person, "Email eq null"), 5);
        assert_eq!(count(Entity::Person, "PrimaryAliasId eq null"), 5);
        // A string column against a string literal: both nullable `Edm.String`.
        assert_eq!(count(Entity::Person, "FirstName eq 'Ann'"), 4);
        // A non-nullable enum (`Edm.String` not null) against a string literal.
        assert_eq!(
            count(Entity::GroupMember, "GroupMemberStatus eq 'Active'"),
            5
        );
        assert_eq!(count(Entity::Person, "IsDeceased eq false"), 4);
        assert_eq!(count(Entity::Person, "startswith(FirstName, 'J')"), 4);
        assert_eq!(
            count(Entity::Person, "Id eq 1 or (not (Email eq null))"),
            4 + 1 + 1 + 5
        );
        // How many ids fit one request: 20 on Id, 16 on a nullable column.
        let ids = |column: &str, n: usize| {
            (1..=n)
                .map(|i| format!("{column} eq {i}"))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        assert_eq!(count(Entity::Person, &ids("Id", 20)), 99);
        assert_eq!(count(Entity::Person, &ids("PrimaryAliasId", 16)), 95);
        assert!(parse(&ids("PrimaryAliasId", 17), Entity::Person, Some(100)).is_err());
    }
}
