//! `loadgen`: a thread-per-core HTTP/1.1 load generator (issue 3). See README.md.

// The one `unsafe` is `open_files.rs` (getrlimit/setrlimit), allowed there alone.
#![deny(unsafe_code)]
// A tool, not the gateway's data plane: the main thread resolves the URL with blocking DNS,
// reads template files and sleeps between progress lines; workers never do.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod cli;
mod conn;
mod hold;
mod open_files;
mod report;
mod request;
mod response;
mod schedule;
mod slots;
mod target;
mod tls;
mod transport;
mod worker;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use report::Stats;
use target::Scheme;
use worker::{Hold, Plan, Worker};

/// How often the main thread looks whether the workers are done.
const POLL: Duration = Duration::from_millis(20);
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Why the run did not happen: what the user asked for cannot be done as given (exit 2, like
/// a bad option), or it failed on the way (exit 1).
enum Failure {
    Setup(String),
    Run(String),
}

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("loadgen: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Setup(e)) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &cli::Options) -> Result<(), Failure> {
    open_files::ensure(opts.connections.get(), opts.threads.get()).map_err(Failure::Setup)?;
    let target = target::Target::parse(&opts.url).map_err(Failure::Run)?;
    let tls = match target.scheme {
        Scheme::Http => None,
        Scheme::Https => Some(tls::Client::new(&opts.tls, &target.host).map_err(Failure::Setup)?),
    };
    let templates = request::templates(opts, &target).map_err(Failure::Run)?;
    let mode = match (opts.hold, opts.rate) {
        (Some(d), _) => format!("hold {}", hold::show_duration(d)),
        (None, Some(r)) => format!("open loop at {r} req/s, pipeline {}", opts.pipeline),
        (None, None) => format!("closed loop, pipeline {}", opts.pipeline),
    };
    let title = format!(
        "loadgen {} - {} threads, {} connections, {mode}",
        opts.url, opts.threads, opts.connections,
    );
    let start = Instant::now();
    let plan = Arc::new(Plan {
        target,
        tls,
        templates,
        connections: opts.connections.get(),
        pipeline: opts.pipeline.get(),
        timeout: opts.timeout,
        rate: opts.rate,
        start,
        stop_at: opts.duration.map(|d| start + d),
        hold: opts.hold.map(|duration| Hold {
            duration,
            release: AtomicBool::new(false),
        }),
    });
    let workers =
        worker::start(plan.clone(), opts.threads.get(), opts.requests).map_err(Failure::Run)?;
    match &plan.hold {
        Some(hold) => hold::watch(&workers, hold, plan.connections),
        None => watch(&workers, start),
    }

    let mut total = Stats::new();
    let mut end = start;
    for w in workers {
        let (stats, finished) = w
            .handle
            .join()
            .map_err(|_| Failure::Run("a worker thread panicked".into()))?
            .map_err(Failure::Run)?;
        total.merge(&stats);
        end = end.max(finished);
    }
    let summary = total.summary(end - start, plan.tls.is_some(), plan.hold.is_some());
    if opts.json {
        let json = serde_json::to_string(&summary).map_err(|e| Failure::Run(e.to_string()))?;
        println!("{json}");
    } else {
        print!("{}", summary.text(&title));
    }
    Ok(())
}

/// Waits for the workers; once a second, when stderr is a terminal, one progress line.
fn watch(workers: &[Worker], start: Instant) {
    let live = std::io::stderr().is_terminal();
    let mut next = start + PROGRESS_EVERY;
    let mut last = 0;
    while !workers.iter().all(|w| w.handle.is_finished()) {
        std::thread::sleep(POLL);
        let now = Instant::now();
        if !live || now < next {
            continue;
        }
        next += PROGRESS_EVERY;
        let sum = |f: fn(&Worker) -> u64| workers.iter().map(f).sum::<u64>();
        let done = sum(|w| w.progress.completed.load(Ordering::Relaxed));
        let errors = sum(|w| w.progress.errors.load(Ordering::Relaxed));
        eprint!(
            "\r\x1b[K  {:>4.0}s  {done} requests  {} req/s  {errors} errors",
            (now - start).as_secs_f64(),
            done - last,
        );
        let _ = std::io::stderr().flush();
        last = done;
    }
    if live {
        eprint!("\r\x1b[K");
    }
}
