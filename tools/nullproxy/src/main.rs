//! `nullproxy --listen ADDR --upstream ADDR [--workers N]`: see README.md.

use std::io::Write;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::process::ExitCode;

const USAGE: &str = "usage: nullproxy --listen ADDR --upstream ADDR [--workers N]";

fn args() -> Result<(SocketAddr, SocketAddr, NonZeroUsize), String> {
    let (mut listen, mut upstream, mut workers) = (None, None, NonZeroUsize::MIN);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |_| format!("{flag}: cannot parse {value:?}");
        match flag.as_str() {
            "--listen" => listen = Some(value.parse().map_err(bad)?),
            "--upstream" => upstream = Some(value.parse().map_err(bad)?),
            "--workers" => workers = value.parse().map_err(|_| format!("--workers: {value:?}"))?,
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    match (listen, upstream) {
        (Some(l), Some(u)) => Ok((l, u, workers)),
        _ => Err(USAGE.to_string()),
    }
}

fn main() -> ExitCode {
    let (listen, upstream, workers) = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("nullproxy: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = match upstream::runtime::StopSignals::catch() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nullproxy: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let running = match nullproxy::start(listen, upstream, workers) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("nullproxy: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", running.addr());
    let _ = std::io::stdout().flush();
    stop.wait();
    std::process::exit(0)
}
