//! Tokens of an OData v3 `$filter` / `$orderby` expression.

use time::PrimitiveDateTime;

use crate::clock::parse_datetime;

#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    Ident(String),
    Str(String),
    Int(i64),
    Dec(f64),
    DateTime(PrimitiveDateTime),
    Guid(String),
    LParen,
    RParen,
    Comma,
    Slash,
}

pub fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => push(&mut tokens, &mut i, Token::LParen),
            ')' => push(&mut tokens, &mut i, Token::RParen),
            ',' => push(&mut tokens, &mut i, Token::Comma),
            '/' => push(&mut tokens, &mut i, Token::Slash),
            '\'' => {
                let (value, next) = quoted(&chars, i)?;
                tokens.push(Token::Str(value));
                i = next;
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                let (token, next) = number(&chars, i)?;
                tokens.push(token);
                i = next;
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if chars.get(i) == Some(&'\'') {
                    let (value, next) = quoted(&chars, i)?;
                    tokens.push(typed_literal(&word, &value, start)?);
                    i = next;
                } else {
                    tokens.push(Token::Ident(word));
                }
            }
            other => {
                return Err(format!(
                    "Syntax error: character '{other}' is not valid at position {i}."
                ));
            }
        }
    }
    Ok(tokens)
}

fn push(tokens: &mut Vec<Token>, i: &mut usize, token: Token) {
    tokens.push(token);
    *i += 1;
}

/// A single-quoted string starting at `start`; `''` is an escaped quote.
fn quoted(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut value = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(format!(
                    "There is an unterminated string literal at position {start}."
                ));
            }
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                value.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((value, i + 1)),
            Some(c) => {
                value.push(*c);
                i += 1;
            }
        }
    }
}

fn number(chars: &[char], start: usize) -> Result<(Token, usize), String> {
    let mut i = start + 1;
    while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
        i += 1;
    }
    let digits: String = chars[start..i].iter().collect();
    // v3 literal suffixes: L (Int64), M (decimal), D/F (double/single).
    let suffix = chars
        .get(i)
        .copied()
        .filter(|c| matches!(c, 'L' | 'l' | 'M' | 'm' | 'D' | 'd' | 'F' | 'f'));
    if suffix.is_some() {
        i += 1;
    }
    let decimal = digits.contains('.') || matches!(suffix, Some('M' | 'm' | 'D' | 'd' | 'F' | 'f'));
    let token = if decimal {
        digits.parse::<f64>().map(Token::Dec).ok()
    } else {
        digits.parse::<i64>().map(Token::Int).ok()
    };
    token
        .map(|t| (t, i))
        .ok_or_else(|| format!("'{digits}' is not a valid number literal at position {start}."))
}

fn typed_literal(kind: &str, value: &str, at: usize) -> Result<Token, String> {
    match kind {
        "datetime" => {
            let has_offset = value
                .get(19..)
                .is_some_and(|rest| rest.contains(['+', '-']));
            match parse_datetime(value) {
                Some(t) if !has_offset => Ok(Token::DateTime(t)),
                _ => Err(format!(
                    "Unrecognized 'Edm.DateTime' literal 'datetime'{value}'' at '{at}' in the filter."
                )),
            }
        }
        "guid" => parse_guid(value).map(Token::Guid).ok_or_else(|| {
            format!("Unrecognized 'Edm.Guid' literal 'guid'{value}'' at '{at}' in the filter.")
        }),
        "datetimeoffset" | "time" | "binary" | "X" => Err(format!(
            "Literals of type '{kind}' are not supported by this server (position {at})."
        )),
        other => Err(format!(
            "Syntax error: unknown literal prefix '{other}' at position {at}."
        )),
    }
}

/// A GUID in its usual 8-4-4-4-12 form, lowercased.
pub fn parse_guid(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let groups = [8, 4, 4, 4, 12];
    let parts: Vec<&str> = value.split('-').collect();
    let shaped = bytes.len() == 36
        && parts.len() == 5
        && parts
            .iter()
            .zip(groups)
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()));
    shaped.then(|| value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_literals() {
        let tokens = tokenize(
            "Name eq 'O''Brien' and Id gt 5L and G eq guid'AA8732FB-2CEA-4C76-8D6D-6AAA2C6A4303'",
        )
        .unwrap();
        assert!(tokens.contains(&Token::Str("O'Brien".into())));
        assert!(tokens.contains(&Token::Int(5)));
        assert!(tokens.contains(&Token::Guid("aa8732fb-2cea-4c76-8d6d-6aaa2c6a4303".into())));
        assert!(tokenize("X eq datetime'2024-01-01T10:00:00'").is_ok());
        assert!(tokenize("X eq datetime'2024-01-01T10:00:00Z'").is_ok());
        assert!(tokenize("X eq datetime'2024-01-01T10:00:00+02:00'").is_err());
        assert!(tokenize("X eq 'open").is_err());
        assert!(tokenize("X eq #").is_err());
    }
}
