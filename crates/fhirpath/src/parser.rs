//! Recursive-descent (precedence-climbing) parser from tokens to the FHIRPath syntax tree.

use crate::lexer::{tokenize, Tok, Token};
use crate::ParseError;

/// Maximum nesting of sub-expressions; deeper input is rejected rather than risking the stack.
pub const MAX_DEPTH: usize = 200;

/// A literal as written in the source.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `{}`
    Empty,
    Boolean(bool),
    String(String),
    /// Lexical form of an unsigned integer or decimal number.
    Number(String),
    Long(String),
    /// Lexical form after `@` (a date or dateTime).
    DateTime(String),
    /// Lexical form after `@T`.
    Time(String),
    /// A number with a unit: a UCUM string or a calendar keyword (`year`, `days`).
    Quantity {
        value: String,
        unit: String,
        calendar: bool,
    },
}

/// Binary operators, named as in the FHIRPath grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Equiv,
    Ne,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        use BinOp::*;
        match self {
            Mul => "*",
            Div => "/",
            IntDiv => "div",
            Mod => "mod",
            Add => "+",
            Sub => "-",
            Concat => "&",
            Union => "|",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Eq => "=",
            Equiv => "~",
            Ne => "!=",
            NotEquiv => "!~",
            In => "in",
            Contains => "contains",
            And => "and",
            Or => "or",
            Xor => "xor",
            Implies => "implies",
        }
    }

    /// Binding strength: higher binds tighter. `is`/`as` sit at level 7.
    pub fn precedence(self) -> u8 {
        use BinOp::*;
        match self {
            Mul | Div | IntDiv | Mod => 9,
            Add | Sub | Concat => 8,
            Union => 6,
            Lt | Le | Gt | Ge => 5,
            Eq | Equiv | Ne | NotEquiv => 4,
            In | Contains => 3,
            And => 2,
            Or | Xor => 1,
            Implies => 0,
        }
    }
}

pub const TYPE_OP_PRECEDENCE: u8 = 7;

/// A FHIRPath syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Literal(Literal),
    /// `name` (member) or `name(args)` (function), on `target` or, without one, on `$this`.
    Invoke {
        target: Option<Box<Ast>>,
        name: String,
        args: Option<Vec<Ast>>,
    },
    This,
    Index,
    Total,
    /// `%name`
    Env(String),
    Indexer(Box<Ast>, Box<Ast>),
    /// Unary `-` (true) or `+` (false).
    Negate(bool, Box<Ast>),
    Binary(BinOp, Box<Ast>, Box<Ast>),
    /// `expr is Type` (true) or `expr as Type` (false).
    TypeOp(bool, Box<Ast>, String),
}

pub fn parse(src: &str) -> Result<Ast, ParseError> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    let ast = p.expression(0)?;
    match &p.peek().kind {
        Tok::Eof => Ok(ast),
        other => Err(ParseError::new(
            p.peek().pos,
            format!("unexpected {other:?}"),
        )),
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

fn binop_for(tok: &Tok) -> Option<BinOp> {
    use BinOp::*;
    Some(match tok {
        Tok::Symbol(s) => match *s {
            "*" => Mul,
            "/" => Div,
            "+" => Add,
            "-" => Sub,
            "&" => Concat,
            "|" => Union,
            "<" => Lt,
            "<=" => Le,
            ">" => Gt,
            ">=" => Ge,
            "=" => Eq,
            "~" => Equiv,
            "!=" => Ne,
            "!~" => NotEquiv,
            _ => return None,
        },
        Tok::Ident(s) => match s.as_str() {
            "div" => IntDiv,
            "mod" => Mod,
            "in" => In,
            "contains" => Contains,
            "and" => And,
            "or" => Or,
            "xor" => Xor,
            "implies" => Implies,
            _ => return None,
        },
        _ => return None,
    })
}

const CALENDAR_UNITS: [&str; 16] = [
    "year",
    "years",
    "month",
    "months",
    "week",
    "weeks",
    "day",
    "days",
    "hour",
    "hours",
    "minute",
    "minutes",
    "second",
    "seconds",
    "millisecond",
    "milliseconds",
];

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError::new(self.peek().pos, msg))
    }

    fn expect(&mut self, sym: &str) -> Result<(), ParseError> {
        if self.peek().kind == Tok::Symbol(symbol_static(sym)) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(format!("expected `{sym}`"))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("expression nested too deeply");
        }
        Ok(())
    }

    fn expression(&mut self, min_prec: u8) -> Result<Ast, ParseError> {
        self.enter()?;
        let mut lhs = self.unary()?;
        loop {
            let tok = self.peek().kind.clone();
            if let Tok::Ident(word) = &tok {
                if (word == "is" || word == "as") && TYPE_OP_PRECEDENCE >= min_prec {
                    self.pos += 1;
                    let ty = self.type_specifier()?;
                    lhs = Ast::TypeOp(word == "is", Box::new(lhs), ty);
                    continue;
                }
            }
            let Some(op) = binop_for(&tok) else { break };
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            self.pos += 1;
            let rhs = self.expression(prec + 1)?;
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn type_specifier(&mut self) -> Result<String, ParseError> {
        let mut name = self.identifier()?;
        while self.peek().kind == Tok::Symbol(".") {
            self.pos += 1;
            name.push('.');
            name.push_str(&self.identifier()?);
        }
        Ok(name)
    }

    fn identifier(&mut self) -> Result<String, ParseError> {
        match self.next().kind {
            Tok::Ident(s) | Tok::Delimited(s) => Ok(s),
            _ => {
                self.pos -= 1;
                self.err("expected an identifier")
            }
        }
    }

    fn unary(&mut self) -> Result<Ast, ParseError> {
        match self.peek().kind {
            Tok::Symbol(s @ ("-" | "+")) => {
                self.pos += 1;
                self.enter()?;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Ast::Negate(s == "-", Box::new(inner)))
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Ast, ParseError> {
        let mut e = self.term()?;
        loop {
            match self.peek().kind {
                Tok::Symbol(".") => {
                    self.pos += 1;
                    e = self.invocation(Some(Box::new(e)))?;
                }
                Tok::Symbol("[") => {
                    self.pos += 1;
                    let idx = self.expression(0)?;
                    self.expect("]")?;
                    e = Ast::Indexer(Box::new(e), Box::new(idx));
                }
                _ => return Ok(e),
            }
        }
    }

    fn invocation(&mut self, target: Option<Box<Ast>>) -> Result<Ast, ParseError> {
        let tok = self.next();
        let name = match tok.kind {
            Tok::Ident(s) | Tok::Delimited(s) => s,
            Tok::Special(s) if target.is_none() => {
                return match s.as_str() {
                    "this" => Ok(Ast::This),
                    "index" => Ok(Ast::Index),
                    "total" => Ok(Ast::Total),
                    _ => Err(ParseError::new(tok.pos, format!("unknown `${s}`"))),
                };
            }
            _ => {
                return Err(ParseError::new(
                    tok.pos,
                    "expected a member or function name",
                ))
            }
        };
        let args = if self.peek().kind == Tok::Symbol("(") {
            self.pos += 1;
            let mut args = Vec::new();
            if self.peek().kind != Tok::Symbol(")") {
                loop {
                    args.push(self.expression(0)?);
                    if self.peek().kind == Tok::Symbol(",") {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
            }
            self.expect(")")?;
            Some(args)
        } else {
            None
        };
        Ok(Ast::Invoke { target, name, args })
    }

    fn term(&mut self) -> Result<Ast, ParseError> {
        let tok = self.peek().clone();
        match tok.kind {
            Tok::Symbol("(") => {
                self.pos += 1;
                let e = self.expression(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Symbol("{") => {
                self.pos += 1;
                self.expect("}")?;
                Ok(Ast::Literal(Literal::Empty))
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Ast::Literal(Literal::String(s)))
            }
            Tok::Number(n) => {
                self.pos += 1;
                let unit = match &self.peek().kind {
                    Tok::Str(u) => Some((u.clone(), false)),
                    Tok::Ident(u) if CALENDAR_UNITS.contains(&u.as_str()) => {
                        Some((u.clone(), true))
                    }
                    _ => None,
                };
                match unit {
                    Some((unit, calendar)) => {
                        self.pos += 1;
                        Ok(Ast::Literal(Literal::Quantity {
                            value: n,
                            unit,
                            calendar,
                        }))
                    }
                    None => Ok(Ast::Literal(Literal::Number(n))),
                }
            }
            Tok::Long(n) => {
                self.pos += 1;
                Ok(Ast::Literal(Literal::Long(n)))
            }
            Tok::DateTime(d) => {
                self.pos += 1;
                Ok(Ast::Literal(Literal::DateTime(d)))
            }
            Tok::Time(t) => {
                self.pos += 1;
                Ok(Ast::Literal(Literal::Time(t)))
            }
            Tok::Percent => {
                self.pos += 1;
                match self.next().kind {
                    Tok::Ident(s) | Tok::Delimited(s) | Tok::Str(s) => Ok(Ast::Env(s)),
                    _ => {
                        self.pos -= 1;
                        self.err("expected a variable name after `%`")
                    }
                }
            }
            Tok::Ident(ref s) if s == "true" || s == "false" => {
                self.pos += 1;
                Ok(Ast::Literal(Literal::Boolean(s == "true")))
            }
            Tok::Ident(_) | Tok::Delimited(_) | Tok::Special(_) => self.invocation(None),
            Tok::Eof => self.err("unexpected end of expression"),
            other => self.err(format!("unexpected {other:?}")),
        }
    }
}

fn symbol_static(s: &str) -> &'static str {
    match s {
        ")" => ")",
        "]" => "]",
        "}" => "}",
        _ => "(",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, expected: &str) {
        let ast = parse(src).unwrap();
        assert_eq!(crate::print::print(&ast), expected, "{src}");
    }

    #[test]
    fn precedence() {
        check("1 + 2 * 3", "1 + 2 * 3");
        check("(1 + 2) * 3", "(1 + 2) * 3");
        check("a.b | c.d and e", "a.b | c.d and e");
        check("-1.convertsToInteger()", "-1.convertsToInteger()");
        check("1 > 2 is Boolean", "1 > 2 is Boolean");
        check("(1 > 2) is Boolean", "(1 > 2) is Boolean");
        check("Patient.name[0].given", "Patient.name[0].given");
        check("4 'mg' = 4 days", "4 'mg' = 4 days");
    }

    #[test]
    fn errors() {
        assert!(parse("2 + 2 /").is_err());
        assert!(parse("a.").is_err());
        assert!(parse(&"(".repeat(1000)).is_err());
        assert!(parse(&"-".repeat(1000)).is_err());
    }
}
