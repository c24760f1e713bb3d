//! Pretty-printer from the syntax tree back to FHIRPath text, with minimal parentheses.

use crate::parser::{Ast, Literal, TYPE_OP_PRECEDENCE};

const KEYWORDS: [&str; 12] = [
    "and", "or", "xor", "implies", "is", "as", "in", "contains", "div", "mod", "true", "false",
];

/// Renders an expression so that parsing the text gives back the same tree.
pub fn print(ast: &Ast) -> String {
    let mut out = String::new();
    write(ast, &mut out);
    out
}

fn write(ast: &Ast, out: &mut String) {
    match ast {
        Ast::Literal(l) => literal(l, out),
        Ast::Invoke { target, name, args } => {
            if let Some(t) = target {
                postfix_target(t, out);
                out.push('.');
            }
            identifier(name, out);
            if let Some(args) = args {
                out.push('(');
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(a, out);
                }
                out.push(')');
            }
        }
        Ast::This => out.push_str("$this"),
        Ast::Index => out.push_str("$index"),
        Ast::Total => out.push_str("$total"),
        Ast::Env(name) => {
            out.push('%');
            identifier(name, out);
        }
        Ast::Indexer(base, idx) => {
            postfix_target(base, out);
            out.push('[');
            write(idx, out);
            out.push(']');
        }
        Ast::Negate(neg, inner) => {
            out.push(if *neg { '-' } else { '+' });
            let paren = matches!(**inner, Ast::Binary(..) | Ast::TypeOp(..));
            if paren {
                out.push('(');
            }
            write(inner, out);
            if paren {
                out.push(')');
            }
        }
        Ast::Binary(op, lhs, rhs) => {
            let p = op.precedence();
            operand(lhs, p, false, out);
            out.push(' ');
            out.push_str(op.symbol());
            out.push(' ');
            operand(rhs, p, true, out);
        }
        Ast::TypeOp(is, lhs, ty) => {
            operand(lhs, TYPE_OP_PRECEDENCE, false, out);
            out.push_str(if *is { " is " } else { " as " });
            for (i, part) in ty.split('.').enumerate() {
                if i > 0 {
                    out.push('.');
                }
                identifier(part, out);
            }
        }
    }
}

fn precedence(ast: &Ast) -> Option<u8> {
    match ast {
        Ast::Binary(op, ..) => Some(op.precedence()),
        Ast::TypeOp(..) => Some(TYPE_OP_PRECEDENCE),
        _ => None,
    }
}

fn operand(ast: &Ast, parent: u8, right: bool, out: &mut String) {
    let paren = match precedence(ast) {
        Some(p) => p < parent || (right && p == parent),
        None => false,
    };
    if paren {
        out.push('(');
    }
    write(ast, out);
    if paren {
        out.push(')');
    }
}

fn postfix_target(ast: &Ast, out: &mut String) {
    let paren = matches!(ast, Ast::Binary(..) | Ast::TypeOp(..) | Ast::Negate(..))
        || matches!(ast, Ast::Literal(Literal::Quantity { .. }));
    if paren {
        out.push('(');
    }
    write(ast, out);
    if paren {
        out.push(')');
    }
}

fn identifier(name: &str, out: &mut String) {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name);
    if plain {
        out.push_str(name);
    } else {
        quoted(name, '`', out);
    }
}

fn quoted(s: &str, q: char, out: &mut String) {
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{c}' => out.push_str("\\f"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
}

fn literal(l: &Literal, out: &mut String) {
    match l {
        Literal::Empty => out.push_str("{}"),
        Literal::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Literal::String(s) => quoted(s, '\'', out),
        Literal::Number(n) => out.push_str(n),
        Literal::Long(n) => {
            out.push_str(n);
            out.push('L');
        }
        Literal::DateTime(d) => {
            out.push('@');
            out.push_str(d);
        }
        Literal::Time(t) => {
            out.push_str("@T");
            out.push_str(t);
        }
        Literal::Quantity {
            value,
            unit,
            calendar,
        } => {
            out.push_str(value);
            out.push(' ');
            if *calendar {
                out.push_str(unit);
            } else {
                quoted(unit, '\'', out);
            }
        }
    }
}
