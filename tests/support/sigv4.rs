//! Requests signed by botocore's SigV4 signer (`scripts/sigv4_sign_request.py`), for the
//! AWS_IAM black-box tests. Needs `python3` with `botocore` (installed by `scripts/test.sh`);
//! without it [`available`] says so and the tests do not run — except under `CI`, where
//! they fail.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// An access key as the client holds it.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: &'static str,
    pub secret: &'static str,
    pub token: Option<&'static str>,
}

/// A request to sign: target relative to `http://gw.test`.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    pub method: &'static str,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub presign: bool,
    /// Signing time relative to now.
    pub offset_secs: i64,
}

impl Spec {
    pub fn new(method: &'static str, target: &str) -> Spec {
        Spec {
            method,
            target: target.into(),
            ..Spec::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Spec {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: &[u8]) -> Spec {
        self.body = body.to_vec();
        self
    }
}

/// A signed request: the target (with the presign query, if any) and every header to send
/// (without `Host` and `Content-Length`, which [`Signed::raw`] adds).
#[derive(Clone, Debug)]
pub struct Signed {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Signed {
    /// The request bytes: `Host: gw.test`, the headers, `Content-Length` when there is a body.
    pub fn raw(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: gw.test\r\n",
            self.method, self.target
        );
        for (n, v) in &self.headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        if !self.body.is_empty() {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// Whether botocore can sign; says why not (and fails under `CI`).
pub fn available(test: &str) -> bool {
    super::python_with(test, &["botocore"])
}

/// Sign each spec with `key` in `us-east-1`.
pub fn sign(key: &Key, specs: &[Spec]) -> Vec<Signed> {
    let input: Vec<Value> = specs
        .iter()
        .map(|s| {
            json!({
                "method": s.method,
                "url": format!("http://gw.test{}", s.target),
                "headers": s.headers,
                "body": s.body.iter().map(|&b| b as char).collect::<String>(),
                "access_key_id": key.id,
                "secret": key.secret,
                "token": key.token,
                "region": "us-east-1",
                "presign": s.presign,
                "offset_secs": s.offset_secs,
            })
        })
        .collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/sigv4_sign_request.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the botocore signer");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("signer output");
    assert!(out.status.success(), "the botocore signer failed");
    let signed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("signer JSON");
    signed
        .iter()
        .zip(specs)
        .map(|(s, spec)| {
            let url = s["url"].as_str().unwrap();
            let target = url.strip_prefix("http://gw.test").unwrap().to_string();
            let headers = s["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_string(),
                        h[1].as_str().unwrap().to_string(),
                    )
                })
                .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length"))
                .collect();
            Signed {
                method: spec.method.into(),
                target,
                headers,
                body: spec.body.clone(),
            }
        })
        .collect()
}

pub fn sign_one(key: &Key, spec: Spec) -> Signed {
    sign(key, &[spec]).remove(0)
}
