//! Command line: `tollgate serve [-c FILE] [--workers N] [--watch]`, `tollgate check FILE`,
//! `tollgate check --definition FILE`, `tollgate routes FILE`.

use std::path::PathBuf;

/// The default gateway file, relative to the working directory (`cargo run --release`).
pub const DEFAULT_CONFIG: &str = "conf/tollgate.json";

pub const USAGE: &str = "\
usage:
  tollgate [serve] [-c FILE] [--workers N] [--watch]
                                             serve FILE (default conf/tollgate.json);
                                             --watch restarts a local function when its files change
  tollgate check FILE                        validate a gateway file; every error with its JSON path
  tollgate check --definition FILE           validate one OpenAPI/Swagger document on its own
  tollgate routes FILE                       print the compiled route table
  tollgate --version | --help
";

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve {
        config: PathBuf,
        workers: Option<usize>,
        /// Restart a local function's processes when files under its `cwd` change.
        watch: bool,
    },
    Check {
        file: PathBuf,
        definition: bool,
    },
    Routes {
        file: PathBuf,
    },
    Help,
    Version,
}

pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut rest = args.iter().skip(1).map(String::as_str).peekable();
    match rest.peek().copied() {
        None => Ok(Command::Serve {
            config: DEFAULT_CONFIG.into(),
            workers: None,
            watch: false,
        }),
        Some("-h" | "--help" | "help") => Ok(Command::Help),
        Some("-V" | "--version" | "version") => Ok(Command::Version),
        Some("check") => {
            rest.next();
            let mut definition = false;
            let mut file = None;
            for a in rest {
                match a {
                    "--definition" => definition = true,
                    f if !f.starts_with('-') && file.is_none() => file = Some(PathBuf::from(f)),
                    other => return Err(format!("check: unexpected argument `{other}`")),
                }
            }
            let file = file.ok_or("check: missing FILE")?;
            Ok(Command::Check { file, definition })
        }
        Some("routes") => {
            rest.next();
            let file = rest.next().ok_or("routes: missing FILE")?;
            if let Some(extra) = rest.next() {
                return Err(format!("routes: unexpected argument `{extra}`"));
            }
            Ok(Command::Routes { file: file.into() })
        }
        Some(first) => {
            if first == "serve" {
                rest.next();
            }
            let mut config = PathBuf::from(DEFAULT_CONFIG);
            let mut workers = None;
            let mut watch = false;
            while let Some(a) = rest.next() {
                match a {
                    "--watch" => watch = true,
                    "-c" | "--config" => config = rest.next().ok_or("serve: -c needs FILE")?.into(),
                    "--workers" => {
                        let n = rest.next().ok_or("serve: --workers needs N")?;
                        let n: usize = n
                            .parse()
                            .map_err(|_| format!("serve: --workers `{n}` is not a number"))?;
                        if n == 0 || n > 1024 {
                            return Err("serve: --workers must be between 1 and 1024".into());
                        }
                        workers = Some(n);
                    }
                    other => return Err(format!("serve: unexpected argument `{other}`")),
                }
            }
            Ok(Command::Serve {
                config,
                workers,
                watch,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        std::iter::once("tollgate")
            .chain(s.split_whitespace())
            .map(String::from)
            .collect()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse(&args("")).unwrap(),
            Command::Serve {
                config: DEFAULT_CONFIG.into(),
                workers: None,
                watch: false
            }
        );
        assert_eq!(
            parse(&args("serve -c x.json --workers 3")).unwrap(),
            Command::Serve {
                config: "x.json".into(),
                workers: Some(3),
                watch: false
            }
        );
        assert_eq!(
            parse(&args("serve --watch")).unwrap(),
            Command::Serve {
                config: DEFAULT_CONFIG.into(),
                workers: None,
                watch: true
            }
        );
        assert_eq!(
            parse(&args("check a.json")).unwrap(),
            Command::Check {
                file: "a.json".into(),
                definition: false
            }
        );
        assert_eq!(
            parse(&args("check --definition a.yaml")).unwrap(),
            Command::Check {
                file: "a.yaml".into(),
                definition: true
            }
        );
        assert_eq!(
            parse(&args("routes a.json")).unwrap(),
            Command::Routes {
                file: "a.json".into()
            }
        );
        assert!(parse(&args("serve --workers 0")).is_err());
        assert!(parse(&args("serve --bogus")).is_err());
        assert!(parse(&args("check")).is_err());
    }
}
