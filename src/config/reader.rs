//! A small path-tracking reader over `serde_json::Value`: every accessor reports a typed
//! error with the JSON path of the value (`$.stages[1].stageName`) into one error list, so
//! validation collects every error instead of stopping at the first.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ConfigError;

pub(crate) type Errors = Vec<ConfigError>;

/// Where something was written: the file and the JSON path inside it. Kept in validated
/// specs so compile can report per-stage errors at the right place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    pub file: PathBuf,
    pub path: String,
}

impl Loc {
    pub fn err(&self, errors: &mut Errors, message: impl Into<String>) {
        errors.push(ConfigError {
            file: self.file.clone(),
            path: self.path.clone(),
            message: message.into(),
        });
    }
}

/// A value and where it is.
#[derive(Clone)]
pub(crate) struct Node<'a> {
    pub v: &'a Value,
    pub path: String,
    pub file: &'a Path,
}

/// An object being read: keys taken with `opt`/`req` are marked used, `finish` reports the
/// rest.
pub(crate) struct Obj<'a> {
    pub node: Node<'a>,
    pub map: &'a Map<String, Value>,
    used: Vec<&'a str>,
    /// Every key asked for, present or not: the vocabulary for "did you mean".
    asked: Vec<String>,
}

/// `{"Ref": ..}` or `{"Fn::Sub": ..}`: a CloudFormation intrinsic function left in the value.
pub(crate) fn intrinsic_name(v: &Value) -> Option<&str> {
    let map = v.as_object()?;
    if map.len() != 1 {
        return None;
    }
    let key = map.keys().next()?;
    (key == "Ref" || key.starts_with("Fn::")).then_some(key.as_str())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Node<'a> {
    pub fn root(v: &'a Value, file: &'a Path, path: &str) -> Node<'a> {
        Node {
            v,
            path: path.to_string(),
            file,
        }
    }

    pub fn child(&self, key: &str, v: &'a Value) -> Node<'a> {
        Node {
            v,
            path: format!("{}.{}", self.path, key),
            file: self.file,
        }
    }

    pub fn index(&self, i: usize, v: &'a Value) -> Node<'a> {
        Node {
            v,
            path: format!("{}[{}]", self.path, i),
            file: self.file,
        }
    }

    pub fn loc(&self) -> Loc {
        Loc {
            file: self.file.to_path_buf(),
            path: self.path.clone(),
        }
    }

    pub fn err(&self, errors: &mut Errors, message: impl Into<String>) {
        errors.push(ConfigError {
            file: self.file.to_path_buf(),
            path: self.path.clone(),
            message: message.into(),
        });
    }

    fn type_err(&self, errors: &mut Errors, expected: &str) {
        match intrinsic_name(self.v) {
            Some(name) => self.err(
                errors,
                format!(
                    "CloudFormation intrinsic `{name}` is not supported: resolve it before loading"
                ),
            ),
            None => self.err(
                errors,
                format!("expected {expected}, found {}", kind(self.v)),
            ),
        }
    }

    pub fn str(&self, errors: &mut Errors) -> Option<&'a str> {
        match self.v {
            Value::String(s) => Some(s),
            _ => {
                self.type_err(errors, "a string");
                None
            }
        }
    }

    /// A string, or a number written without quotes (YAML `statusCode: 200`), as text.
    pub fn str_or_number(&self, errors: &mut Errors) -> Option<String> {
        match self.v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => {
                self.type_err(errors, "a string");
                None
            }
        }
    }

    pub fn bool(&self, errors: &mut Errors) -> Option<bool> {
        match self.v {
            Value::Bool(b) => Some(*b),
            _ => {
                self.type_err(errors, "a boolean");
                None
            }
        }
    }

    /// A non-negative integer within `min..=max`.
    pub fn u64_in(&self, errors: &mut Errors, min: u64, max: u64) -> Option<u64> {
        match self.v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.err(
                    errors,
                    format!("{n} is out of range: expected {min} to {max}"),
                );
                None
            }
            None if self.v.is_number() => {
                self.err(
                    errors,
                    format!("expected an integer from {min} to {max}, found {}", self.v),
                );
                None
            }
            None => {
                self.type_err(errors, "an integer");
                None
            }
        }
    }

    pub fn obj(&self, errors: &mut Errors) -> Option<Obj<'a>> {
        match self.v {
            Value::Object(map) if intrinsic_name(self.v).is_none() => Some(Obj {
                node: self.clone(),
                map,
                used: Vec::new(),
                asked: Vec::new(),
            }),
            _ => {
                self.type_err(errors, "an object");
                None
            }
        }
    }

    pub fn arr(&self, errors: &mut Errors) -> Option<Vec<Node<'a>>> {
        match self.v {
            Value::Array(items) => Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.index(i, v))
                    .collect(),
            ),
            _ => {
                self.type_err(errors, "an array");
                None
            }
        }
    }

    /// An object's entries as nodes (for maps with user-chosen keys).
    pub fn entries(&self, errors: &mut Errors) -> Option<Vec<(&'a str, Node<'a>)>> {
        let obj = self.obj(errors)?;
        Some(
            obj.map
                .iter()
                .map(|(k, v)| (k.as_str(), self.child(k, v)))
                .collect(),
        )
    }

    /// A `{name: "string"}` map.
    pub fn string_map(&self, errors: &mut Errors) -> Option<Vec<(&'a str, &'a str, Node<'a>)>> {
        let entries = self.entries(errors)?;
        let mut out = Vec::with_capacity(entries.len());
        for (k, n) in entries {
            if let Some(s) = n.str(errors) {
                out.push((k, s, n));
            }
        }
        Some(out)
    }
}

/// A likely typo: same letters in another case, or at most two edits apart.
fn similar(known: &str, typed: &str) -> bool {
    if known.eq_ignore_ascii_case(typed) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (known.chars().collect(), typed.chars().collect());
    if a.len().min(b.len()) < 4 || a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()] <= 2
}

impl<'a> Obj<'a> {
    /// The value of `key` if present (`null` included), marking it used.
    pub fn opt(&mut self, key: &str) -> Option<Node<'a>> {
        self.asked.push(key.to_string());
        let (k, v) = self.map.get_key_value(key)?;
        self.used.push(k.as_str());
        Some(self.node.child(key, v))
    }

    /// Like `opt`, but `null` counts as absent.
    pub fn opt_non_null(&mut self, key: &str) -> Option<Node<'a>> {
        self.opt(key).filter(|n| !n.v.is_null())
    }

    pub fn req(&mut self, key: &str, errors: &mut Errors) -> Option<Node<'a>> {
        let node = self.opt(key);
        if node.is_none() {
            self.node
                .err(errors, format!("missing required property `{key}`"));
        }
        node
    }

    /// At most one of two aliases (`apiId`/`restApiId`); `None` if neither is present.
    pub fn alias(&mut self, a: &str, b: &str, errors: &mut Errors) -> Option<Node<'a>> {
        match (self.opt(a), self.opt(b)) {
            (Some(x), Some(_)) => {
                self.node.err(
                    errors,
                    format!("`{a}` and `{b}` are aliases: give only one"),
                );
                Some(x)
            }
            (x, y) => x.or(y),
        }
    }

    /// Mark a key used without reading it (accepted and deliberately ignored).
    pub fn accept(&mut self, key: &str) {
        let _ = self.opt(key);
    }

    /// Keys of later features: each present one is an error naming it.
    pub fn unsupported(&mut self, keys: &[&str], errors: &mut Errors) {
        for key in keys {
            if let Some(n) = self.opt(key) {
                n.err(errors, format!("`{key}` is not supported yet"));
            }
        }
    }

    fn unused(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + '_ {
        self.map
            .iter()
            .filter(|(k, _)| !self.used.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Every key not read is an error (tollgate's own files).
    pub fn finish(self, errors: &mut Errors) {
        for (k, v) in self.unused() {
            let hint = self.asked.iter().find(|a| similar(a, k));
            let hint = hint
                .map(|a| format!(" (did you mean `{a}`?)"))
                .unwrap_or_default();
            self.node
                .child(k, v)
                .err(errors, format!("unknown property `{k}`{hint}"));
        }
    }

    /// OpenAPI objects: other keys are the document's business, except API Gateway
    /// extensions we do not implement.
    pub fn finish_ext(self, errors: &mut Errors) {
        for (k, v) in self.unused() {
            if k.starts_with("x-amazon-apigateway-") {
                self.node
                    .child(k, v)
                    .err(errors, format!("`{k}` is not supported yet"));
            }
        }
    }
}
