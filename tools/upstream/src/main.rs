//! `upstream --listen ADDR --mode MODE ...`: see README.md.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let config = match upstream::Config::from_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("upstream: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = match upstream::runtime::StopSignals::catch() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("upstream: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = match upstream::start(config) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("upstream: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", workers.addr());
    let _ = std::io::stdout().flush();
    stop.wait();
    // Recordings are written as bytes arrive, so there is nothing to flush: leave without
    // waiting for connections that may be held open on purpose (stall, early).
    std::process::exit(0)
}
