//! The CSV reader for `apiKeysFile` (API Gateway's API key file format, DG:api-key-file-format):
//! comma-separated fields, a field may be quoted with `"` (RFC 4180, `""` inside) or `'`
//! (API Gateway allows either for `UsagePlanIds` lists: `"c7y23b,glvrsr"`); quoted fields may
//! span lines. A UTF-8 BOM is skipped; lines end in LF or CRLF; blank lines are skipped;
//! spaces around an unquoted field are trimmed.

/// One record: the line it starts on (1-based) and its fields, or why it could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub line: usize,
    pub fields: Result<Vec<String>, String>,
}

/// Split `text` into records. Never fails as a whole: a broken record (an unterminated quote,
/// text after a closing quote) is reported in its own `Record` and reading goes on with the
/// next line.
pub(crate) fn records(text: &str) -> Vec<Record> {
    #[derive(PartialEq)]
    enum State {
        Start,
        Unquoted,
        Quoted(char),
        AfterQuote,
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut start = 1;
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut state = State::Start;
    let mut finish = |fields: &mut Vec<String>, start: usize, result: Option<String>| {
        let blank = fields.len() <= 1 && fields.iter().all(String::is_empty);
        match result {
            Some(e) => out.push(Record {
                line: start,
                fields: Err(e),
            }),
            None if blank => {}
            None => out.push(Record {
                line: start,
                fields: Ok(std::mem::take(fields)),
            }),
        }
        fields.clear();
    };
    while let Some(c) = chars.next() {
        if c == '\r' && chars.peek() == Some(&'\n') && !matches!(state, State::Quoted(_)) {
            continue;
        }
        match state {
            State::Start | State::Unquoted if c == ',' => {
                fields.push(trim(&std::mem::take(&mut field)));
                state = State::Start;
            }
            State::Start | State::Unquoted | State::AfterQuote if c == '\n' => {
                fields.push(trim(&std::mem::take(&mut field)));
                line += 1;
                finish(&mut fields, start, None);
                start = line;
                state = State::Start;
            }
            State::Start if c == '"' || c == '\'' => {
                field.clear();
                state = State::Quoted(c);
            }
            State::Start | State::Unquoted => {
                field.push(c);
                if !(state == State::Start && (c == ' ' || c == '\t')) {
                    state = State::Unquoted;
                }
            }
            State::Quoted(q) if c == q => {
                if chars.peek() == Some(&q) {
                    chars.next();
                    field.push(q);
                } else {
                    state = State::AfterQuote;
                }
            }
            State::Quoted(_) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            State::AfterQuote if c == ',' => {
                fields.push(std::mem::take(&mut field));
                state = State::Start;
            }
            State::AfterQuote if c == ' ' || c == '\t' => {}
            State::AfterQuote => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
                field.clear();
                finish(
                    &mut fields,
                    start,
                    Some("text after a closing quote".to_string()),
                );
                start = line;
                state = State::Start;
            }
        }
    }
    match state {
        State::Quoted(q) => finish(
            &mut fields,
            start,
            Some(format!("unterminated {q}-quoted field")),
        ),
        State::AfterQuote => {
            fields.push(field);
            finish(&mut fields, start, None);
        }
        State::Start | State::Unquoted => {
            if !fields.is_empty() || !field.trim().is_empty() {
                fields.push(trim(&field));
            }
            finish(&mut fields, start, None);
        }
    }
    out
}

fn trim(s: &str) -> String {
    s.trim_matches([' ', '\t']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: usize, fields: &[&str]) -> Record {
        Record {
            line,
            fields: Ok(fields.iter().map(|f| f.to_string()).collect()),
        }
    }

    #[test]
    fn quotes_line_ends_and_blank_lines() {
        let text = "\u{feff}a, b ,c\r\n\n\"x,1\",'y,2','it''s'\n\"two\nlines\",,\n last";
        assert_eq!(
            records(text),
            [
                ok(1, &["a", "b", "c"]),
                ok(3, &["x,1", "y,2", "it's"]),
                ok(4, &["two\nlines", "", ""]),
                ok(6, &["last"]),
            ]
        );
    }

    #[test]
    fn broken_records_do_not_stop_the_rest() {
        let text = "\"a\"b,c\nd,e\n\"open,f\n";
        let got = records(text);
        assert_eq!(got[0].fields, Err("text after a closing quote".into()));
        assert_eq!(got[1], ok(2, &["d", "e"]));
        assert_eq!(got[2].line, 3);
        assert_eq!(got[2].fields, Err("unterminated \"-quoted field".into()));
        // An apostrophe inside an unquoted field is text.
        assert_eq!(records("O'Brien,x"), [ok(1, &["O'Brien", "x"])]);
    }
}
