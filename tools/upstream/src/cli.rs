//! Command line → `Config`. Errors are strings for the user; nothing here is on a hot path.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: upstream [--listen ADDR] [--workers N] [--mode MODE] [--status CODE]
                [--body-size N | --body TEXT] [--header 'Name: value']...
                [--record-dir DIR] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
modes: fixed (default) | echo | delay MS | refuse | blackhole | close-after N
       | reset-after N | stall | drip --chunk N --interval MS | raw --bytes-file F
       | early --after N
TLS (--tls-*): not with refuse, blackhole, raw or reset-after, which act on the raw socket";

/// How the backend answers. See README.md for each mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Fixed,
    Echo,
    Delay(Duration),
    Refuse,
    Blackhole,
    CloseAfter(u64),
    ResetAfter(u64),
    Stall,
    Drip {
        chunk: NonZeroUsize,
        interval: Duration,
    },
    Raw(PathBuf),
    Early {
        after: u64,
    },
}

/// `--tls-cert`/`--tls-key`/`--tls-client-ca`: serve HTTPS (TLS 1.2 and 1.3, ALPN
/// `http/1.1`). The files are read by `start`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key: PKCS#8, SEC1 or PKCS#1 (RSA).
    pub key: PathBuf,
    /// PEM bundle: require a client certificate and verify it against these roots.
    pub client_ca: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub workers: NonZeroUsize,
    pub mode: Mode,
    pub status: u16,
    pub body: Vec<u8>,
    /// Extra response header lines, already validated as `Name: value`.
    pub headers: Vec<String>,
    pub record_dir: Option<PathBuf>,
    pub tls: Option<TlsConfig>,
}

impl Config {
    /// A `fixed` backend answering `200` with an empty body on `listen`.
    pub fn new(listen: SocketAddr, mode: Mode) -> Config {
        Config {
            listen,
            workers: NonZeroUsize::MIN,
            mode,
            status: 200,
            body: Vec::new(),
            headers: Vec::new(),
            record_dir: None,
            tls: None,
        }
    }

    /// Combinations `start` refuses: TLS with a mode that acts on the raw socket.
    pub fn check(&self) -> Result<(), String> {
        let raw_socket = match self.mode {
            Mode::Refuse => "refuse",
            Mode::Blackhole => "blackhole",
            Mode::Raw(_) => "raw",
            Mode::ResetAfter(_) => "reset-after",
            _ => return Ok(()),
        };
        match self.tls {
            Some(_) => Err(format!(
                "--mode {raw_socket} acts on the raw socket and cannot be combined with --tls-*"
            )),
            None => Ok(()),
        }
    }

    /// Parse the arguments after the program name.
    pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Config, String> {
        let mut args = args.into_iter();
        let mut c = Config::new(([127, 0, 0, 1], 0).into(), Mode::Fixed);
        let (mut mode, mut chunk, mut interval, mut bytes_file, mut after) =
            (None::<String>, None, None, None, None);
        let mut mode_arg = None;
        let (mut cert, mut key, mut client_ca) = (None, None, None);
        while let Some(flag) = args.next() {
            let mut value = |what: &str| {
                args.next()
                    .ok_or_else(|| format!("{flag} needs {what}\n{USAGE}"))
            };
            match flag.as_str() {
                "--listen" => c.listen = parse(&value("an address")?, "--listen")?,
                "--workers" => c.workers = parse(&value("a count")?, "--workers")?,
                "--status" => c.status = status(&value("a status code")?)?,
                "--body-size" => c.body = vec![b'x'; parse(&value("a size")?, "--body-size")?],
                "--body" => c.body = value("text")?.into_bytes(),
                "--header" => c.headers.push(header(&value("'Name: value'")?)?),
                "--record-dir" => c.record_dir = Some(PathBuf::from(value("a directory")?)),
                "--chunk" => chunk = Some(parse::<NonZeroUsize>(&value("bytes")?, "--chunk")?),
                "--interval" => interval = Some(millis(&value("milliseconds")?)?),
                "--bytes-file" => bytes_file = Some(PathBuf::from(value("a file")?)),
                "--tls-cert" => cert = Some(PathBuf::from(value("a PEM file")?)),
                "--tls-key" => key = Some(PathBuf::from(value("a PEM file")?)),
                "--tls-client-ca" => client_ca = Some(PathBuf::from(value("a PEM file")?)),
                "--after" => after = Some(parse::<u64>(&value("bytes")?, "--after")?),
                "--mode" => {
                    let m = value("a mode")?;
                    if matches!(m.as_str(), "delay" | "close-after" | "reset-after") {
                        mode_arg = Some(value("a number")?);
                    }
                    mode = Some(m);
                }
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        let arg = mode_arg.unwrap_or_default();
        c.mode = match mode.as_deref().unwrap_or("fixed") {
            "fixed" => Mode::Fixed,
            "echo" => Mode::Echo,
            "delay" => Mode::Delay(millis(&arg)?),
            "refuse" => Mode::Refuse,
            "blackhole" => Mode::Blackhole,
            "close-after" => Mode::CloseAfter(parse(&arg, "close-after")?),
            "reset-after" => Mode::ResetAfter(parse(&arg, "reset-after")?),
            "stall" => Mode::Stall,
            "drip" => Mode::Drip {
                chunk: chunk.ok_or("drip needs --chunk N")?,
                interval: interval.ok_or("drip needs --interval MS")?,
            },
            "raw" => Mode::Raw(bytes_file.ok_or("raw needs --bytes-file F")?),
            "early" => Mode::Early {
                after: after.ok_or("early needs --after N")?,
            },
            other => return Err(format!("unknown mode {other:?}\n{USAGE}")),
        };
        c.tls = match (cert, key, client_ca) {
            (Some(cert), Some(key), client_ca) => Some(TlsConfig {
                cert,
                key,
                client_ca,
            }),
            (None, None, None) => None,
            _ => return Err("TLS needs both --tls-cert FILE and --tls-key FILE".into()),
        };
        c.check()?;
        Ok(c)
    }
}

fn parse<T: std::str::FromStr>(v: &str, what: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{what}: cannot parse {v:?}"))
}

fn millis(v: &str) -> Result<Duration, String> {
    parse::<u64>(v, "milliseconds").map(Duration::from_millis)
}

fn status(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(s) if (100..=999).contains(&s) => Ok(s),
        _ => Err(format!("--status: {v:?} is not a three-digit status code")),
    }
}

fn header(v: &str) -> Result<String, String> {
    let ok = v.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
    }) && !v.bytes().any(|b| b == b'\r' || b == b'\n');
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!("--header: {v:?} is not 'Name: value'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Config, String> {
        Config::from_args(s.split_whitespace().map(String::from))
    }

    #[test]
    fn modes_and_their_arguments() {
        assert_eq!(args("").unwrap().mode, Mode::Fixed);
        let c = args("--mode delay 25 --status 201 --body-size 3 --workers 2").unwrap();
        assert_eq!(c.mode, Mode::Delay(Duration::from_millis(25)));
        assert_eq!(
            (c.status, c.body.as_slice(), c.workers.get()),
            (201, &b"xxx"[..], 2)
        );
        assert_eq!(
            args("--mode reset-after 0").unwrap().mode,
            Mode::ResetAfter(0)
        );
        let drip = args("--mode drip --chunk 4 --interval 10").unwrap().mode;
        assert!(matches!(drip, Mode::Drip { chunk, .. } if chunk.get() == 4));
        assert_eq!(
            args("--mode early --after 9").unwrap().mode,
            Mode::Early { after: 9 }
        );
        let tls = args("--mode stall --tls-cert c.pem --tls-key k.pem --tls-client-ca ca.pem");
        let tls = tls.unwrap().tls.unwrap();
        assert_eq!(
            (tls.cert, tls.key, tls.client_ca),
            ("c.pem".into(), "k.pem".into(), Some("ca.pem".into()))
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in [
            "--mode drip --chunk 4",
            "--mode nope",
            "--status 42",
            "--header NoColon",
            "--mode delay",
            "--workers 0",
            "--frobnicate",
            "--tls-cert c.pem",
            "--tls-key k.pem --tls-client-ca ca.pem",
            "--mode reset-after 3 --tls-cert c.pem --tls-key k.pem",
            "--mode raw --bytes-file f --tls-cert c.pem --tls-key k.pem",
            "--mode refuse --tls-cert c.pem --tls-key k.pem",
            "--mode blackhole --tls-cert c.pem --tls-key k.pem",
        ] {
            assert!(args(bad).is_err(), "{bad}");
        }
    }
}
