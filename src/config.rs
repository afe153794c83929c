//! Pure configuration: bytes → raw values → validate (every error with its JSON path) →
//! compile into one immutable [`Snapshot`].
//!
//! Codemap, in pipeline order:
//! - `parse`: bytes → `serde_json::Value` (JSON, or YAML with CloudFormation tags turned into
//!   their long-form intrinsics, which validation then reports by name).
//! - `reader`: the path-tracking reader every validator uses (`$.stages[1].stageName`).
//! - `gateway` (+ `server`, `cidr`, `stage`, `domain`, `usage`): the gateway file (README.md,
//!   "Configuration reference"); `usage` holds the account throttle, stage throttles, usage
//!   plans and API keys (with the `apiKeysFile` CSV import) and compiles them.
//! - `openapi` (+ `route_path`, `security`, `integration`, `uri`, `mock`, `regex`,
//!   `templates`, `responses`): one API definition.
//! - `compile`: validated specs → `Snapshot`; per-stage substitution, upstream interning,
//!   rendering of mocks and gateway responses.
//! - `router` (route trie, `Router::find`) and `host` (`Snapshot::resolve`, route table): what
//!   the data plane calls per request.
//!
//! Architecture Invariant: no IO except through the injected [`Loader`] (and the environment
//! variable `admin.tokenEnv` names); no DNS; nothing here knows about monoio. Only `compile`
//! constructs a `Snapshot`.

mod access_log;
pub(crate) mod arn;
mod authorizers;
mod cache;
mod cert_error;
pub mod certs;
pub(crate) mod cidr;
mod compile;
mod defaults;
mod domain;
mod exec_log;
mod functions;
mod gateway;
mod host;
mod http_mapping;
mod iam;
mod integration;
mod lambda_authorizers;
mod lambda_integration;
mod lambda_remote;
mod mock;
mod openapi;
mod otlp;
mod parse;
mod reader;
mod regex;
mod responses;
mod route_path;
mod router;
mod security;
mod server;
mod snapshot;
mod stage;
mod templates;
mod tls;
pub(crate) mod upstream_tls;
mod uri;
mod usage;

pub use access_log::{AccessLog, LogDestination, LogPiece, LogVar, compile_format};
pub use defaults::*;
pub use exec_log::{ExecLevel, ExecLogging, StageExecLog};
pub use iam::{CredentialTable, Iam, IamCredential};
pub use lambda_remote::{AwsCredentials, RemoteFunction};
pub use otlp::OtlpSettings;
pub use responses::error_context;
pub use server::default_http_limits;
#[cfg(test)]
pub(crate) use server::default_server;
pub use snapshot::*;
pub use upstream_tls::{TlsTarget, UpstreamTls};
pub(crate) use usage::{derived_id, parse_key_csv};

use std::fmt;
use std::path::{Path, PathBuf};

/// One validation error: where (a JSON path such as `$.apis[0].definition.paths./pets.get`)
/// and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the error is in (the gateway file or an API definition file).
    pub file: PathBuf,
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.file.display(),
            self.path,
            self.message
        )
    }
}

/// Reads files named by the config (API definitions). Injected so `config` stays pure.
pub trait Loader {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// The real filesystem.
pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

/// Parse, validate and compile the gateway file at `path`. Relative paths inside it resolve
/// against its directory. `generation` is stamped into the snapshot.
pub fn load(
    path: &Path,
    loader: &dyn Loader,
    generation: u64,
) -> Result<Snapshot, Vec<ConfigError>> {
    load_with_env(path, loader, generation, &|name| std::env::var(name).ok())
}

/// `load` with an injected environment (`admin.tokenEnv`).
pub(crate) fn load_with_env(
    path: &Path,
    loader: &dyn Loader,
    generation: u64,
    env: server::Env<'_>,
) -> Result<Snapshot, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let spec = gateway::read_document(path, loader, &mut errors, None).and_then(|(doc, file)| {
        gateway::validate_gateway(
            &reader::Node::root(&doc, &file, "$"),
            loader,
            env,
            &mut errors,
        )
    });
    match spec {
        Some(spec) if errors.is_empty() => {
            compile::compile(spec, path.to_path_buf(), generation).map_err(dedup)
        }
        _ => Err(dedup(errors)),
    }
}

/// Parse, validate and compile one OpenAPI 3.0 / Swagger 2.0 document (JSON or YAML) on its
/// own, as API `test` with one stage `test` (no variables), served for any Host; used by the
/// fixture test and `tollgate check`. The protocol is guessed: an OpenAPI 3 document with
/// HTTP API markers (`x-amazon-apigateway-importexport-version`, `x-amazon-apigateway-cors`,
/// a `/$default` path, or `payloadFormatVersion` on an integration) is an HTTP API, anything
/// else a REST API.
pub fn load_definition(path: &Path, loader: &dyn Loader) -> Result<Snapshot, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let Some((doc, file)) = gateway::read_document(path, loader, &mut errors, None) else {
        return Err(errors);
    };
    let protocol = openapi::guess_protocol(&doc);
    let def =
        openapi::validate_definition(&reader::Node::root(&doc, &file, "$"), protocol, &mut errors);
    let Some(def) = def.filter(|_| errors.is_empty()) else {
        return Err(dedup(errors));
    };
    let server = server::default_server();
    let mut entry = gateway::ApiEntry {
        id: "test".into(),
        name: None,
        protocol,
        endpoint: EndpointType::Regional,
        def,
    };
    iam::read_resource_policies(
        std::iter::once(&mut entry),
        &server.region,
        &server.account_id,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(dedup(errors));
    }
    let spec = gateway::GatewaySpec {
        server,
        default_api: Some((0, Some(0))),
        apis: vec![entry],
        stages: vec![gateway::StageEntry {
            api: 0,
            name: "test".into(),
            variables: Vec::new(),
            throttles: Vec::new(),
            cache: Default::default(),
            cache_settings: Vec::new(),
            access_log: None,
            exec_log: Default::default(),
            tracing: false,
        }],
        domains: Vec::new(),
        usage: usage::UsageSpec::empty(),
        authorizers: Vec::new(),
        iam: Iam::default(),
        functions: Vec::new(),
    };
    compile::compile(spec, path.to_path_buf(), 0).map_err(dedup)
}

/// A shared integration (`$ref`) or URI is checked once per route or stage; report it once.
fn dedup(errors: Vec<ConfigError>) -> Vec<ConfigError> {
    let mut out: Vec<ConfigError> = Vec::with_capacity(errors.len());
    for e in errors {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests;
