//! A tiny regular-expression matcher for integration response selection patterns (Java regex,
//! whole-string match), enough for what people write against status codes: literals, `.`,
//! `\d \w \s` (and negations), classes `[2-4]`/`[^5]`, groups, `|`, and the quantifiers
//! `* + ? {n} {n,} {n,m}`. Used only at compile time, on short inputs.

#[derive(Debug)]
enum Atom {
    Byte(u8),
    Any,
    Class {
        ranges: Vec<(u8, u8)>,
        negated: bool,
    },
    Group(Alt),
}

#[derive(Debug)]
struct Piece {
    atom: Atom,
    min: u32,
    max: Option<u32>,
}

#[derive(Debug)]
struct Alt(Vec<Vec<Piece>>);

#[derive(Debug)]
pub(crate) struct Regex(Alt);

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

const DIGIT: &[(u8, u8)] = &[(b'0', b'9')];
const WORD: &[(u8, u8)] = &[(b'0', b'9'), (b'A', b'Z'), (b'a', b'z'), (b'_', b'_')];
const SPACE: &[(u8, u8)] = &[(b' ', b' '), (b'\t', b'\r')];

impl Regex {
    pub fn parse(pattern: &str) -> Result<Regex, String> {
        let mut p = Parser {
            b: pattern.as_bytes(),
            i: 0,
        };
        if p.b.first() == Some(&b'^') {
            p.i = 1;
        }
        let alt = p.alt()?;
        if p.i < p.b.len() {
            return Err(format!("unexpected `{}`", p.b[p.i] as char));
        }
        Ok(Regex(alt))
    }

    /// Whole-string match, as Java's `String.matches`.
    pub fn matches(&self, s: &str) -> bool {
        alt_ends(&self.0, s.as_bytes(), 0).contains(&s.len())
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn alt(&mut self) -> Result<Alt, String> {
        let mut branches = vec![self.seq()?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            branches.push(self.seq()?);
        }
        Ok(Alt(branches))
    }

    fn seq(&mut self) -> Result<Vec<Piece>, String> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            if c == b'$' && self.i + 1 == self.b.len() {
                self.i += 1;
                break;
            }
            let atom = self.atom()?;
            let (min, max) = self.quantifier()?;
            out.push(Piece { atom, min, max });
        }
        Ok(out)
    }

    fn atom(&mut self) -> Result<Atom, String> {
        let c = self.b[self.i];
        self.i += 1;
        Ok(match c {
            b'.' => Atom::Any,
            b'(' => {
                if self.peek() == Some(b'?') {
                    if self.b.get(self.i + 1) != Some(&b':') {
                        return Err("lookaround and inline flags".into());
                    }
                    self.i += 2;
                }
                let alt = self.alt()?;
                if self.peek() != Some(b')') {
                    return Err("unclosed `(`".into());
                }
                self.i += 1;
                Atom::Group(alt)
            }
            b'[' => self.class()?,
            b'\\' => self.escape()?,
            b'*' | b'+' | b'?' | b'{' => {
                return Err(format!("nothing to repeat before `{}`", c as char));
            }
            b'^' | b'$' => return Err(format!("`{}` inside the pattern", c as char)),
            c => Atom::Byte(c),
        })
    }

    fn escape(&mut self) -> Result<Atom, String> {
        let Some(c) = self.peek() else {
            return Err("trailing `\\`".into());
        };
        self.i += 1;
        let class = |ranges: &[(u8, u8)], negated| Atom::Class {
            ranges: ranges.to_vec(),
            negated,
        };
        Ok(match c {
            b'd' => class(DIGIT, false),
            b'D' => class(DIGIT, true),
            b'w' => class(WORD, false),
            b'W' => class(WORD, true),
            b's' => class(SPACE, false),
            b'S' => class(SPACE, true),
            b'n' => Atom::Byte(b'\n'),
            b't' => Atom::Byte(b'\t'),
            c if c.is_ascii_punctuation() => Atom::Byte(c),
            c => return Err(format!("escape `\\{}`", c as char)),
        })
    }

    fn class(&mut self) -> Result<Atom, String> {
        let negated = self.peek() == Some(b'^');
        if negated {
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err("unclosed `[`".into());
            };
            self.i += 1;
            if c == b']' && !first {
                break;
            }
            first = false;
            let lo = if c == b'\\' {
                match self.escape()? {
                    Atom::Byte(b) => b,
                    Atom::Class {
                        ranges: r,
                        negated: false,
                    } => {
                        ranges.extend(r);
                        continue;
                    }
                    _ => return Err("negated class escape inside `[...]`".into()),
                }
            } else {
                c
            };
            if self.peek() == Some(b'-') && self.b.get(self.i + 1).is_some_and(|&n| n != b']') {
                let hi = self.b[self.i + 1];
                self.i += 2;
                if hi < lo {
                    return Err("reversed range in `[...]`".into());
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Atom::Class { ranges, negated })
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        std::str::from_utf8(&self.b[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    fn quantifier(&mut self) -> Result<(u32, Option<u32>), String> {
        let q = match self.peek() {
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'?') => (0, Some(1)),
            Some(b'{') => {
                self.i += 1;
                let min = self.number().ok_or("`{` without a count")?;
                let max = if self.peek() == Some(b',') {
                    self.i += 1;
                    if self.peek() == Some(b'}') {
                        None
                    } else {
                        Some(self.number().ok_or("bad `{n,m}`")?)
                    }
                } else {
                    Some(min)
                };
                if self.peek() != Some(b'}') || max.is_some_and(|m| m < min) || min > 1000 {
                    return Err("bad `{n,m}`".into());
                }
                (min, max)
            }
            _ => return Ok((1, Some(1))),
        };
        self.i += 1;
        // Lazy and possessive suffixes do not change a whole-string match.
        if matches!(self.peek(), Some(b'?') | Some(b'+')) {
            self.i += 1;
        }
        Ok(q)
    }
}

fn atom_ends(atom: &Atom, s: &[u8], pos: usize) -> Vec<usize> {
    let one = |ok: bool| if ok { vec![pos + 1] } else { vec![] };
    match atom {
        Atom::Byte(b) => one(s.get(pos) == Some(b)),
        Atom::Any => one(s.get(pos).is_some_and(|&c| c != b'\n')),
        Atom::Class { ranges, negated } => one(s
            .get(pos)
            .is_some_and(|c| ranges.iter().any(|(lo, hi)| (lo..=hi).contains(&c)) != *negated)),
        Atom::Group(alt) => alt_ends(alt, s, pos),
    }
}

fn alt_ends(alt: &Alt, s: &[u8], pos: usize) -> Vec<usize> {
    let mut out = Vec::new();
    for seq in &alt.0 {
        let mut at = vec![pos];
        for piece in seq {
            at = piece_ends(piece, s, &at);
        }
        out.extend(at);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn piece_ends(piece: &Piece, s: &[u8], starts: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut frontier = starts.to_vec();
    let mut count = 0u32;
    loop {
        if count >= piece.min {
            out.extend(&frontier);
        }
        if piece.max.is_some_and(|m| count >= m) || frontier.is_empty() {
            break;
        }
        let mut next: Vec<usize> = frontier
            .iter()
            .flat_map(|&p| atom_ends(&piece.atom, s, p))
            .collect();
        next.sort_unstable();
        next.dedup();
        // An empty iteration (a group that matched nothing) cannot make progress.
        next.retain(|p| !frontier.contains(p) || count < piece.min);
        frontier = next;
        count += 1;
        if count > s.len() as u32 + piece.min + 1 {
            break;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Regex::parse(p).unwrap().matches(s)
    }

    #[test]
    fn selection_patterns() {
        assert!(m("200", "200"));
        assert!(!m("20", "200"));
        assert!(m("2\\d{2}", "204"));
        assert!(!m("2\\d{2}", "2040"));
        assert!(m("4\\d\\d|5\\d\\d", "503"));
        assert!(m("(4|5)\\d{2}", "418"));
        assert!(m("^2[0-9]*$", "2"));
        assert!(m(".*", ""));
        assert!(m(".+", "500"));
        assert!(!m(".+", ""));
        assert!(m("[^2]\\d+", "404"));
        assert!(!m("[^2]\\d+", "204"));
        assert!(m("(?:2|3)0?1", "21"));
        assert!(m("5\\d{1,2}", "50"));
        assert!(m("a\\.b", "a.b"));
        assert!(!m("a\\.b", "axb"));
        assert!(m("(a*)*b", "aaab"));
        for bad in ["(", "[a", "*", "a{2", "(?=a)", "\\q", "a^b"] {
            assert!(Regex::parse(bad).is_err(), "{bad}");
        }
    }
}
