//! The control plane: everything that may block, on ordinary threads — signals, reload,
//! the admin API, DNS refresh, quota persistence, the Lambda function host, and the command
//! line.
//!
//! Architecture Invariant: nothing here sits on the request path.

mod access_log;
mod admin;
mod apikeys;
mod cache;
mod cli;
mod dashboard;
mod functions;
mod jwks;
mod keystore;
pub(crate) mod log;
mod metrics;
mod otlp;
mod reload;
mod resolve;
mod serve;
mod state;
mod usage;

pub use access_log::LogWriter;
pub use cli::{Command, DEFAULT_CONFIG, USAGE};
pub use functions::FunctionHost;
pub use log::log;
pub use metrics::Metrics;
pub use otlp::OtlpExporter;

use std::path::Path;

use crate::config::{self, FsLoader, Snapshot};

/// Run the command line; returns the process exit code.
pub fn main(args: &[String]) -> i32 {
    match cli::parse(args) {
        Err(e) => {
            eprintln!("tollgate: {e}\n\n{USAGE}");
            2
        }
        Ok(Command::Help) => {
            print!("{USAGE}");
            0
        }
        Ok(Command::Version) => {
            println!("tollgate {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Command::Serve {
            config,
            workers,
            watch,
        }) => serve::run(&config, workers, watch),
        Ok(Command::Check { file, definition }) => check(&file, definition),
        Ok(Command::Routes { file }) => routes(&file),
    }
}

fn load(file: &Path, definition: bool) -> Result<Snapshot, i32> {
    let loaded = if definition {
        config::load_definition(file, &FsLoader)
    } else {
        config::load(file, &FsLoader, 1)
    };
    loaded.map_err(|errors| {
        for e in &errors {
            println!("{e}");
        }
        eprintln!("{}: {} error(s)", file.display(), errors.len());
        1
    })
}

fn check(file: &Path, definition: bool) -> i32 {
    match load(file, definition) {
        Ok(s) => {
            for w in &s.warnings {
                eprintln!("warning: {w}");
            }
            let routes: usize = s.apis.iter().map(|a| a.routes.len()).sum();
            println!(
                "{}: OK ({} API(s), {} stage(s), {routes} route(s))",
                file.display(),
                s.apis.len(),
                s.stages.len()
            );
            0
        }
        Err(code) => code,
    }
}

fn routes(file: &Path) -> i32 {
    let snapshot = match load(file, false) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let rows = snapshot.route_table();
    let header = [
        "HOST",
        "BASE PATH",
        "STAGE",
        "METHOD",
        "PATH",
        "INTEGRATION",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.host.clone(),
                r.base_path.clone(),
                r.stage.clone(),
                r.method.clone(),
                r.path.clone(),
                r.integration.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cols: [&str; 6]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i == 5 {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4], &row[5]]);
    }
    0
}
