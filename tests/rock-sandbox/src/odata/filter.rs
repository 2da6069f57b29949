//! `$filter`: a recursive-descent parser for the OData v3 subset Rock clients use, with the
//! type checks OData does before running a query, and an evaluator over stored rows.
//!
//! String comparisons are case-insensitive, as they are on Rock (SQL Server's default
//! collation): `FirstName eq 'john'` finds "John".

use std::cmp::Ordering;
use std::collections::HashSet;

use serde_json::Value;
use time::PrimitiveDateTime;

use super::lexer::{Token, tokenize};
use crate::clock::parse_datetime;
use crate::schema::{Entity, Kind, enum_members};
use crate::store::Row;

/// Nesting deeper than this is refused rather than risking the stack on hostile input.
const MAX_DEPTH: usize = 64;

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
pub fn parse(text: &str, entity: Entity, max_nodes: Option<usize>) -> Result<Expr, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        entity,
        depth: 0,
        nodes: 0,
        max_nodes,
    };
    let expr = parser.or()?;
    if let Some(token) = parser.tokens.get(parser.pos) {
        return Err(format!(
            "Syntax error at position {}: unexpected {token:?}.",
            parser.pos
        ));
    }
    if type_of(&expr) != Some(Kind::Bool) && !matches!(expr, Expr::Lit(Lit::Null)) {
        return Err("The $filter expression must evaluate to a single boolean value.".into());
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    entity: Entity,
    depth: usize,
    nodes: usize,
    max_nodes: Option<usize>,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.tokens.get(self.pos) {
            Some(Token::Ident(w)) => Some(w),
            _ => None,
        }
    }

    fn node(&mut self) -> Result<(), String> {
        self.nodes += 1;
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
            let left_bound = enum_operand(left.clone(), &right)?;
            let right = enum_operand(right, &left)?;
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
        match self.entity.column(&word) {
            Some(column) => Ok(Expr::Prop(column.name, column.kind)),
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

/// One side of a comparison with an enum column, as Web API OData 5's `FilterBinder`
/// (`ConvertToEnumUnderlyingType`) binds it: a string literal on the other side of the column is
/// `Enum.Parse`d (member names case-sensitive, or a number as text) and both compare as
/// integers. Anything else is returned as it was.
fn enum_operand(side: Expr, other: &Expr) -> Result<Expr, String> {
    match (&side, other) {
        (Expr::Prop(name, Kind::Enum), _) => Ok(Expr::Prop(name, Kind::Int)),
        (Expr::Lit(Lit::Str(text)), Expr::Prop(name, Kind::Enum)) => {
            parse_enum(name, text).map(|v| Expr::Lit(Lit::Int(v)))
        }
        _ => Ok(side),
    }
}

/// `Enum.Parse(type, text)`: a member's exact name, or an integer (any value, as .NET allows).
fn parse_enum(column: &str, text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if let Ok(number) = trimmed.parse::<i64>() {
        return Ok(number);
    }
    enum_members(column)
        .iter()
        .find(|(name, _)| *name == trimmed)
        .map(|(_, value)| *value)
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
            refused.contains("'Edm.String' and 'Edm.Int32'"),
            "{refused}"
        );
        assert!(status("GroupMemberStatus eq 'active'").is_err());
        let person = row(json!({"Id": 1, "Gender": 2, "AccountProtectionProfile": 0}));
        let check = |f: &str| matches(&parse(f, Entity::Person, None).unwrap(), &person);
        assert!(check(
            "Gender eq 'Female' and AccountProtectionProfile lt 'High'"
        ));
        assert!(parse("Gender eq 2", Entity::Person, None).is_err());
    }

    #[test]
    fn parentheses_are_not_nodes() {
        // `(Id ge 1 and Id le 2)`: and, two comparisons, four leaves.
        assert!(parse("(Id ge 1 and Id le 2)", Entity::Person, Some(7)).is_ok());
        assert!(parse("((Id ge 1 and Id le 2))", Entity::Person, Some(6)).is_err());
    }
}
