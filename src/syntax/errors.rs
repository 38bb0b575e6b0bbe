//! pest errors → diagnostics that say, in words, what was expected and what was found.

use super::parser::Rule;
use crate::diag::{codes, Diagnostic, FileId, Span};
use pest::error::{Error, ErrorVariant, InputLocation};

pub fn from_pest(err: Error<Rule>, text: &str, file: FileId) -> Diagnostic {
    let mut pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut expected = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(|r| rule_words(*r)).map(String::from).collect()
        }
        ErrorVariant::CustomError { message } => vec![message.clone()],
    };
    // pest tracks literal tokens (`,`, `)`, ...) separately, sometimes further on than
    // the rules; the furthest point reached is where the user's mistake is.
    if let Some(attempts) = err.parse_attempts() {
        let tokens = attempts.expected_tokens().iter().filter_map(token_words).collect::<Vec<_>>();
        if attempts.max_position > pos && !tokens.is_empty() {
            pos = attempts.max_position;
            expected.clear();
        }
        if attempts.max_position >= pos {
            expected.extend(tokens);
        }
    }
    let (found, len) = found_at(text, pos);
    let span = Span::new(file, pos, pos + len);
    let expected = describe(expected);
    let message =
        if expected.is_empty() { format!("unexpected {found}") } else { format!("expected {expected}, found {found}") };
    let mut diag = Diagnostic::error(codes::SYNTAX, message, span, format!("unexpected {found}"));
    if let Some(hint) = hint_for(text, pos) {
        diag = diag.with_hint(hint);
    }
    diag
}

/// A short description of the text at `pos` and the length of the token to underline.
fn found_at(text: &str, pos: usize) -> (String, usize) {
    let rest = text.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        return ("end of file".into(), 0);
    };
    if c == '\n' || c == '\r' {
        return ("end of line".into(), 0);
    }
    let word: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    if word.is_empty() {
        (format!("`{c}`"), c.len_utf8())
    } else {
        (format!("`{word}`"), word.len())
    }
}

/// Literal tokens worth naming (punctuation and keywords, not whitespace or
/// fragments of numbers).
fn token_words(t: &impl std::fmt::Display) -> Option<String> {
    let token = t.to_string();
    matches!(token.as_str(), "," | ")" | "(" | "]" | "{" | "}" | "=" | ":" | "->").then(|| format!("`{token}`"))
}

/// Joins expected things into words, deduplicated, punctuation first.
fn describe(mut words: Vec<String>) -> String {
    words.sort_by_key(|w| (!w.starts_with('`'), w.clone()));
    words.dedup();
    match words.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

fn rule_words(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::dims => "sizes like `3x224x224`",
        Rule::ident | Rule::label => "a name",
        Rule::expr | Rule::int | Rule::float | Rule::boolean | Rule::list | Rule::paren | Rule::if_expr => {
            "an expression"
        }
        Rule::chain | Rule::stage | Rule::call | Rule::group | Rule::cat | Rule::repeat | Rule::cond => "a layer",
        Rule::body => "`{`",
        Rule::args => "`(`",
        Rule::arg => "an argument",
        Rule::param => "a parameter name",
        Rule::field => "`.`",
        Rule::eq | Rule::ne | Rule::le | Rule::ge | Rule::lt | Rule::gt => "a comparison",
        Rule::add | Rule::sub | Rule::mul | Rule::div | Rule::rem | Rule::and | Rule::or => "an operator",
        Rule::kw_input => "`input`",
        Rule::kw_default => "`default`",
        Rule::kw_block => "`block`",
        Rule::kw_let => "`let`",
        Rule::kw_as => "`as`",
        Rule::kw_then => "`then`",
        Rule::kw_else => "`else`",
        Rule::input_decl | Rule::default_decl | Rule::block_def | Rule::let_stmt | Rule::bind_stmt => {
            "a declaration or a layer"
        }
        Rule::term | Rule::factor => "a layer or a number",
        _ => return None,
    })
}

/// Hints for mistakes people make often.
fn hint_for(text: &str, pos: usize) -> Option<&'static str> {
    let before = text.get(..pos)?.trim_end_matches([' ', '\t']);
    let after = text.get(pos..)?;
    if after.starts_with("=>") || after.starts_with(':') && before.ends_with(')') {
        return Some("a label goes before the layer it names: `conv1: conv(64, 3)`");
    }
    if before.ends_with("input") {
        return Some("declare the input as channels x height x width, e.g. `input 3x224x224`");
    }
    if after.starts_with('{') {
        return Some("blocks are declared as `block name(params) { ... }`");
    }
    None
}
