//! Mapping templates until VTL lands: pick one template per integration or response, and
//! accept it only if it is literal text (plus the few `$context.error.*` references gateway
//! responses allow, substituted at compile).

use super::reader::{Errors, Node};

/// `application/json`, or the only template. `None` when there are none (or on error).
pub(crate) fn pick_template<'a>(
    node: &Node<'a>,
    errors: &mut Errors,
) -> Option<(&'a str, &'a str, Node<'a>)> {
    let entries = node.entries(errors)?;
    let chosen = match entries
        .iter()
        .position(|(ct, _)| ct.eq_ignore_ascii_case("application/json"))
    {
        Some(i) => i,
        None if entries.len() == 1 => 0,
        None if entries.is_empty() => return None,
        None => {
            node.err(
                errors,
                "several templates and none for `application/json`: choosing a template by the request's Content-Type is not supported yet",
            );
            return None;
        }
    };
    let (ct, n) = entries.into_iter().nth(chosen)?;
    let text = n.str(errors)?;
    Some((ct, text, n))
}

const DIRECTIVES: [&str; 13] = [
    "set", "if", "elseif", "else", "end", "foreach", "break", "stop", "macro", "parse", "include",
    "define", "evaluate",
];

/// The first VTL construct in `text` whose reference is not in `allowed`: a directive
/// (`#set`, `#if`, `##`, `#*`), or a reference (`$input.body`, `${x}`, `$!x`).
pub(crate) fn vtl_construct(text: &str, allowed: &[&str]) -> Option<String> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' if i + 1 < b.len() => {
                let rest = &text[i + 1..];
                if rest.starts_with(['#', '*', '{']) {
                    return Some(text[i..i + 2].to_string());
                }
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                if DIRECTIVES.contains(&word.as_str()) {
                    return Some(format!("#{word}"));
                }
            }
            b'$' if i + 1 < b.len() => {
                let mut j = i + 1;
                if b[j] == b'!' {
                    j += 1;
                }
                let braced = j < b.len() && b[j] == b'{';
                if braced {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_alphabetic() {
                    let start = j;
                    while j < b.len()
                        && (b[j].is_ascii_alphanumeric()
                            || b[j] == b'_'
                            || b[j] == b'-'
                            || b[j] == b'.')
                    {
                        j += 1;
                    }
                    let name = text[start..j].trim_end_matches('.');
                    let simple = !braced && b[i + 1] != b'!';
                    let followed_by_call = j < b.len() && b[j] == b'(';
                    let end = if braced && j < b.len() && b[j] == b'}' {
                        j + 1
                    } else {
                        start + name.len()
                    };
                    let shown = &text[i..end];
                    if !(simple && allowed.contains(&shown) && !followed_by_call) {
                        return Some(if followed_by_call {
                            format!("{shown}(")
                        } else {
                            shown.to_string()
                        });
                    }
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Report a template that is not literal. `allowed` references are substituted at compile.
pub(crate) fn check_literal_template(
    node: &Node<'_>,
    text: &str,
    allowed: &[&str],
    errors: &mut Errors,
) -> bool {
    match vtl_construct(text, allowed) {
        None => true,
        Some(c) if allowed.is_empty() => {
            node.err(
                errors,
                format!("VTL mapping templates are not supported yet (found `{c}`)"),
            );
            false
        }
        Some(c) => {
            node.err(
                errors,
                format!("`{c}` is not supported yet in gateway response templates (only `$context.error.message` and `$context.error.messageString` are)"),
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vtl_detection() {
        let allowed = ["$context.error.messageString", "$context.error.message"];
        assert_eq!(vtl_construct(r#"{"statusCode": 200}"#, &[]), None);
        assert_eq!(vtl_construct("price: $5 #fff # 1", &[]), None);
        assert_eq!(
            vtl_construct("{\"a\": \"$input.params('x')\"}", &[]).as_deref(),
            Some("$input.params(")
        );
        assert_eq!(vtl_construct("#set($a = 1)", &[]).as_deref(), Some("#set"));
        assert_eq!(vtl_construct("## comment", &[]).as_deref(), Some("##"));
        assert_eq!(vtl_construct("x $!{y}", &[]).as_deref(), Some("$!{y}"));
        assert_eq!(
            vtl_construct(r#"{"message":$context.error.messageString}"#, &allowed),
            None
        );
        assert_eq!(vtl_construct("m: $context.error.message.", &allowed), None);
        assert_eq!(
            vtl_construct("$context.requestId", &allowed).as_deref(),
            Some("$context.requestId")
        );
        assert_eq!(
            vtl_construct("${context.error.message}", &allowed).as_deref(),
            Some("${context.error.message}")
        );
    }
}
