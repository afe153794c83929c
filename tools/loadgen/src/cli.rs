//! The command line: `loadgen [options] URL`, parsed by hand into `Options`.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

/// Every default in one place.
pub mod defaults {
    use std::time::Duration;
    /// wrk's default connection count.
    pub const CONNECTIONS: u32 = 10;
    /// wrk's default duration, used when neither `-d` nor `-n` is given.
    pub const DURATION: Duration = Duration::from_secs(10);
    /// Per-request timeout, from the moment the request is written.
    pub const TIMEOUT: Duration = Duration::from_secs(10);
    /// Requests in flight per connection.
    pub const PIPELINE: u32 = 1;
    /// Connects (and TLS handshakes) in flight at once, in total, shared out over the
    /// threads: below a listen backlog of 511 (nginx's default), so opening thousands of
    /// connections never overflows it (a dropped SYN costs a 1 s retransmit).
    pub const CONNECTS_IN_FLIGHT: u32 = 256;
    /// The system CA bundle when `SSL_CERT_FILE` is unset: the first that exists (Debian and
    /// Alpine, then Fedora and RHEL; the paths OpenSSL and curl look at).
    pub const CA_BUNDLES: [&str; 2] = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ];
}

pub const USAGE: &str = "\
usage: loadgen [options] URL

  -t, --threads N        runtimes (one per core); default: number of cores
  -c, --connections N    connections in total, spread over the threads; default 10
  -d, --duration D       stop sending after D (10s, 500ms, 2m); default 10s unless -n
  -n, --requests N       stop after N requests in total (a plain number after
                         --requests is a count; anything else is a template file)
      --rate R           open loop: R requests/s in total, latency measured from each
                         request's intended send time; default: closed loop
      --pipeline D       requests in flight per connection; default 1
      --timeout D        per-request timeout, counted as a timeout error; default 10s
  -X, --method M         request method; default GET
  -H, --header 'N: v'    request header (repeatable)
      --body TEXT        request body
      --body-file F      request body from a file
      --requests FILE    request templates, JSON lines {\"method\",\"path\",\"headers\",\"body\"},
      --request-file F   used round-robin; -H adds headers to each, -X/--body are refused
      --json             print the summary as one JSON object on stdout
  -h, --help             this text

TLS (https:// URLs: HTTP/1.1 over TLS 1.2 or 1.3, rustls, ALPN http/1.1):
      --cacert FILE      trust the CA certificates in FILE (PEM); default: the system
                         bundle (SSL_CERT_FILE, else /etc/ssl/certs/ca-certificates.crt,
                         else /etc/pki/tls/certs/ca-bundle.crt)
      --insecure         accept any server certificate (handshake signatures are still
                         checked)
      --sni NAME         server name to send and to verify the certificate against;
                         default: the URL's host (an IP address sends none)
      --tls-version V    only 1.2 or only 1.3; default: both
      --no-resume        never resume a session: every connection (each reconnect
                         after a `Connection: close` too) does a full handshake;
                         default: rustls' session cache, reconnects usually resume

Idle connections:
      --hold D           open the -c connections, send one request on each and read the
                         response, keep them all open and silent for D, then close them.
                         Prints `holding N idle connections for D` on stderr when the hold
                         begins. Its own mode: not with --rate, --pipeline, -n or -d
";

/// What to send: one request built from `-X/-H/--body`, or templates from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workload {
    Single { method: String, body: Vec<u8> },
    Templates(PathBuf),
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// The system CA bundle.
    System,
    /// `--cacert FILE`.
    CaFile(PathBuf),
    /// `--insecure`.
    Insecure,
}

/// `--tls-version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    V1_2,
    V1_3,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    pub verify: Verify,
    pub sni: Option<String>,
    /// `None`: TLS 1.2 and 1.3.
    pub version: Option<TlsVersion>,
    /// `--no-resume`: no session cache, every handshake is a full one.
    pub no_resume: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub url: String,
    pub threads: NonZeroU32,
    pub connections: NonZeroU32,
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
    pub rate: Option<f64>,
    pub pipeline: NonZeroU32,
    pub timeout: Duration,
    pub headers: Vec<(String, String)>,
    pub workload: Workload,
    pub tls: TlsOptions,
    /// `--hold D`: the idle-connections mode.
    pub hold: Option<Duration>,
    pub json: bool,
}

/// `Ok(None)` means `--help` was asked for.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut args = args.into_iter();
    let mut url = None;
    let mut threads = None;
    let mut connections = u64::from(defaults::CONNECTIONS);
    let mut duration = None;
    let mut requests = None;
    let mut rate = None;
    let mut pipeline = u64::from(defaults::PIPELINE);
    let mut timeout = defaults::TIMEOUT;
    let mut method = None;
    let mut headers = Vec::new();
    let mut body: Option<Vec<u8>> = None;
    let mut templates = None;
    let mut cacert = None;
    let mut insecure = false;
    let mut sni = None;
    let mut tls_version = None;
    let mut no_resume = false;
    let mut hold = None;
    let mut json = false;

    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "-t" | "--threads" => threads = Some(number(&arg, &value(&arg)?)?),
            "-c" | "--connections" => connections = number(&arg, &value(&arg)?)?,
            "-d" | "--duration" => duration = Some(parse_duration(&value(&arg)?)?),
            "-n" => requests = Some(number(&arg, &value(&arg)?)?),
            "--requests" => {
                let v = value(&arg)?;
                match v.parse::<u64>() {
                    Ok(n) => requests = Some(n),
                    Err(_) => templates = Some(PathBuf::from(v)),
                }
            }
            "--request-file" => templates = Some(PathBuf::from(value(&arg)?)),
            "--rate" => {
                let v = value(&arg)?;
                match v.parse::<f64>() {
                    Ok(r) if (0.001..=1e9).contains(&r) => rate = Some(r),
                    _ => return Err(format!("--rate: `{v}` is not between 0.001 and 1e9")),
                }
            }
            "--pipeline" => pipeline = number(&arg, &value(&arg)?)?,
            "--timeout" => timeout = parse_duration(&value(&arg)?)?,
            "-X" | "--method" => method = Some(value(&arg)?),
            "-H" | "--header" => {
                let v = value(&arg)?;
                let (name, val) = v
                    .split_once(':')
                    .ok_or_else(|| format!("-H `{v}`: expected `Name: value`"))?;
                headers.push((name.trim().to_owned(), val.trim().to_owned()));
            }
            "--body" => body = Some(value(&arg)?.into_bytes()),
            "--body-file" => {
                let path = value(&arg)?;
                body = Some(std::fs::read(&path).map_err(|e| format!("--body-file {path}: {e}"))?);
            }
            "--cacert" => cacert = Some(PathBuf::from(value(&arg)?)),
            "--insecure" => insecure = true,
            "--sni" => sni = Some(value(&arg)?),
            "--tls-version" => {
                tls_version = match value(&arg)?.as_str() {
                    "1.2" => Some(TlsVersion::V1_2),
                    "1.3" => Some(TlsVersion::V1_3),
                    v => return Err(format!("--tls-version: `{v}` is not 1.2 or 1.3")),
                }
            }
            "--no-resume" => no_resume = true,
            "--hold" => hold = Some(parse_duration(&value(&arg)?)?),
            "--json" => json = true,
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option `{s}`")),
            _ if url.is_some() => return Err(format!("unexpected argument `{arg}`")),
            _ => url = Some(arg),
        }
    }

    let url = url.ok_or("missing URL")?;
    let threads = match threads {
        Some(t) => t,
        None => std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(1),
    };
    let nonzero = |name: &str, v: u64| {
        u32::try_from(v)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| format!("{name} must be between 1 and {}", u32::MAX))
    };
    let connections = nonzero("--connections", connections)?;
    // More threads than connections would leave runtimes idle.
    let threads = nonzero("--threads", threads)?.min(connections);
    let pipeline = nonzero("--pipeline", pipeline)?;
    if requests == Some(0) {
        return Err("-n must be at least 1".into());
    }
    if timeout.is_zero() {
        return Err("--timeout must be more than 0".into());
    }
    if let Some(d) = hold {
        let refused = [
            (rate.is_some(), "--rate"),
            (pipeline.get() > 1, "--pipeline"),
            (requests.is_some(), "-n"),
            (duration.is_some(), "-d"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(given, _)| *given) {
            return Err(format!(
                "--hold is its own mode (one request per connection, then idle): \
                 it cannot be combined with {flag}"
            ));
        }
        if d.is_zero() {
            return Err("--hold must be more than 0".into());
        }
    } else if duration.is_none() && requests.is_none() {
        duration = Some(defaults::DURATION);
    }
    let verify = match (cacert, insecure) {
        (Some(_), true) => return Err("--cacert and --insecure contradict each other".into()),
        (Some(path), false) => Verify::CaFile(path),
        (None, true) => Verify::Insecure,
        (None, false) => Verify::System,
    };
    let tls = TlsOptions {
        verify,
        sni,
        version: tls_version,
        no_resume,
    };
    let https = url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if !https && tls != TlsOptions::default() {
        return Err(
            "--cacert, --insecure, --sni, --tls-version and --no-resume need an https:// URL"
                .into(),
        );
    }
    let workload = match (templates, method, body) {
        (Some(path), None, None) => Workload::Templates(path),
        (Some(_), _, _) => {
            return Err("--requests FILE cannot be combined with -X or --body".into());
        }
        (None, method, body) => Workload::Single {
            method: method.unwrap_or_else(|| "GET".into()),
            body: body.unwrap_or_default(),
        },
    };
    Ok(Some(Options {
        url,
        threads,
        connections,
        duration,
        requests,
        rate,
        pipeline,
        timeout,
        headers,
        workload,
        tls,
        hold,
        json,
    }))
}

/// `10s`, `500ms`, `250us`, `2m`, `1h`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (try 10s or 500ms)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (use h, m, s, ms, us)"
            ));
        }
    };
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{s}` is out of range"))
}

impl Default for TlsOptions {
    fn default() -> TlsOptions {
        TlsOptions {
            verify: Verify::System,
            sni: None,
            version: None,
            no_resume: false,
        }
    }
}

fn number(name: &str, v: &str) -> Result<u64, String> {
    v.parse()
        .map_err(|_| format!("{name}: `{v}` is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("ms").is_err());
    }

    #[test]
    fn requests_is_a_count_or_a_file() {
        let o = parse(args("--requests 1000 http://x/")).unwrap().unwrap();
        assert_eq!((o.requests, o.duration), (Some(1000), None));
        let o = parse(args("--requests ./1000 http://x/")).unwrap().unwrap();
        assert_eq!(o.workload, Workload::Templates("./1000".into()));
        assert_eq!(o.duration, Some(defaults::DURATION));
    }

    #[test]
    fn threads_never_exceed_connections_and_errors_are_named() {
        let o = parse(args("-t 8 -c 3 -n 5 http://x/")).unwrap().unwrap();
        assert_eq!(o.threads.get(), 3);
        assert!(
            parse(args("--pipeline 0 http://x/"))
                .unwrap_err()
                .contains("--pipeline")
        );
        assert!(
            parse(args("--bogus http://x/"))
                .unwrap_err()
                .contains("--bogus")
        );
        assert!(parse(args("-n 5")).unwrap_err().contains("URL"));
    }

    #[test]
    fn tls_options_need_https_and_agree() {
        let o = parse(args(
            "--cacert ca.pem --sni api.test --tls-version 1.2 https://x/",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            o.tls,
            TlsOptions {
                verify: Verify::CaFile("ca.pem".into()),
                sni: Some("api.test".into()),
                version: Some(TlsVersion::V1_2),
                no_resume: false,
            }
        );
        let o = parse(args("--no-resume https://x/")).unwrap().unwrap();
        assert!(o.tls.no_resume);
        assert!(
            parse(args("--no-resume http://x/"))
                .unwrap_err()
                .contains("--no-resume")
        );
        let o = parse(args("--insecure HTTPS://x/")).unwrap().unwrap();
        assert_eq!(o.tls.verify, Verify::Insecure);
        assert!(
            parse(args("--insecure http://x/"))
                .unwrap_err()
                .contains("https://")
        );
        let both = parse(args("--insecure --cacert ca.pem https://x/")).unwrap_err();
        assert!(both.contains("contradict"), "{both}");
        let v = parse(args("--tls-version 1.1 https://x/")).unwrap_err();
        assert!(v.contains("1.1"), "{v}");
    }

    #[test]
    fn hold_is_its_own_mode() {
        let o = parse(args("--hold 30s -c 100 http://x/")).unwrap().unwrap();
        assert_eq!(o.hold, Some(Duration::from_secs(30)));
        assert_eq!((o.duration, o.requests), (None, None));
        for other in ["--rate 10", "--pipeline 2", "-n 5", "-d 1s"] {
            let flag = other.split(' ').next().unwrap();
            let e = parse(args(&format!("--hold 1s {other} http://x/"))).unwrap_err();
            assert!(e.contains("--hold") && e.contains(flag), "{e}");
        }
        // Pipeline 1 is what hold does anyway.
        assert!(parse(args("--hold 1s --pipeline 1 http://x/")).is_ok());
        assert!(parse(args("--hold 0s http://x/")).is_err());
    }
}
