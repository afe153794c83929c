//! Every third-party OpenAPI/Swagger document in the fixtures must either compile with
//! `config::load_definition` or fail with errors that name what is unsupported — never with
//! a generic parse failure of a valid document.
//!
//! Fixtures: `$TOLLGATE_FIXTURES` (default `<crate>/../shared/fixtures`), folders `openapi/**`
//! and `localstack/openapi/*`. Without them the test passes with a notice, except under `CI`.

use std::path::{Path, PathBuf};

use tollgate::config::{ConfigError, FsLoader, load_definition};

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("TOLLGATE_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
    }
}

fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if recursive {
                collect(&p, true, out);
            }
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("json" | "yaml" | "yml")
        ) {
            out.push(p);
        }
    }
}

/// Messages that mean "could not even read the document".
fn is_generic_failure(e: &ConfigError) -> bool {
    [
        "invalid JSON",
        "invalid YAML",
        "not UTF-8",
        "cannot read",
        "expected an object, found",
    ]
    .iter()
    .any(|p| e.message.starts_with(p))
        && e.path == "$"
}

struct Outcome {
    name: String,
    result: Result<usize, Vec<ConfigError>>,
    /// Routes that need an API key (`security` with the `api_key` scheme), when compiled.
    keyed: usize,
}

#[test]
fn openapi_fixtures() {
    let dir = fixtures_dir();
    let mut files = Vec::new();
    collect(&dir.join("openapi"), true, &mut files);
    collect(&dir.join("localstack/openapi"), false, &mut files);
    if files.is_empty() {
        let why = format!(
            "no OpenAPI fixtures under {} (set TOLLGATE_FIXTURES)",
            dir.display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("openapi_fixtures did not run: {why}");
        }
        eprintln!("openapi_fixtures did not run: {why}");
        return;
    }
    let outcomes: Vec<Outcome> = files
        .iter()
        .map(|f| {
            let snapshot = load_definition(f, &FsLoader);
            let keyed = snapshot.as_ref().map_or(0, |s| {
                s.stages[0]
                    .routes
                    .iter()
                    .filter(|r| r.api_key_required)
                    .count()
            });
            Outcome {
                name: f.strip_prefix(&dir).unwrap_or(f).display().to_string(),
                result: snapshot.map(|s| s.apis[0].routes.len()),
                keyed,
            }
        })
        .collect();

    let mut problems = Vec::new();
    println!("{:<100} result", "definition");
    for o in &outcomes {
        match &o.result {
            Ok(routes) => println!(
                "{:<100} compiled ({routes} routes, {} need an API key)",
                o.name, o.keyed
            ),
            Err(errors) => {
                let first = errors
                    .first()
                    .map_or(String::new(), |e| format!("{}: {}", e.path, e.message));
                println!("{:<100} {} error(s), first: {first}", o.name, errors.len());
                if errors.is_empty() {
                    problems.push(format!("{}: failed without an error", o.name));
                }
                for e in errors {
                    // The `api_key` scheme is supported: only other API key shapes may fail.
                    if e.message.contains("API keys are not supported") {
                        problems.push(format!("{}: {e}", o.name));
                    }
                    if e.message.trim().is_empty() || is_generic_failure(e) {
                        problems.push(format!("{}: {e}", o.name));
                    }
                }
            }
        }
    }
    let compiled = outcomes.iter().filter(|o| o.result.is_ok()).count();
    println!("{compiled} of {} definitions compiled", outcomes.len());
    let keyed = outcomes.iter().filter(|o| o.keyed > 0).count();
    println!("{keyed} compiled definitions have routes that need an API key");
    assert!(
        problems.is_empty(),
        "generic or empty errors:\n{}",
        problems.join("\n")
    );

    let get = |name: &str| {
        outcomes
            .iter()
            .find(|o| o.name == name)
            .unwrap_or_else(|| panic!("fixture {name} is missing"))
            .result
            .as_ref()
    };
    let fails_with = |name: &str, needle: &str| {
        let errors = get(name)
            .err()
            .unwrap_or_else(|| panic!("{name} compiled but should not"));
        assert!(
            errors.iter().any(|e| e.message.contains(needle)),
            "{name}: no error mentions `{needle}`: {errors:#?}"
        );
    };
    // A REST MOCK document written in YAML (integer status keys) compiles.
    assert_eq!(
        get("localstack/openapi/openapi-method-int.spec.yaml").ok(),
        Some(&1)
    );
    // SAM/CloudFormation inputs are recognized as such.
    fails_with(
        "openapi/serverless-application-model/cfn-output/api_with_binary_media_types.json",
        "this is a CloudFormation template",
    );
    fails_with(
        "openapi/aws-sam-cli/swagger-template.yaml",
        "this is a CloudFormation template",
    );
    // Bodies extracted from SAM templates still carry intrinsics, reported by name.
    fails_with(
        "openapi/serverless-application-model/extracted-bodies/api_with_binary_media_types__ServerlessRestApi.json",
        "CloudFormation intrinsic `Fn::Join` is not supported",
    );
    // An https:// URI whose host is a stage variable: the definition alone has no stage
    // defining it, and the error says which variable (https itself is supported).
    fails_with(
        "localstack/openapi/openapi.spec.stage-variables.json",
        "stage variable `TestHost` used in the integration URI is not defined",
    );
    // HTTP_PROXY with a {proxy+} route compiles.
    assert_eq!(
        get("openapi/awsdocs-developer-guide/setup-http-integrations__block0.json").ok(),
        Some(&1)
    );
    // Lambda proxy integrations compile: shared through `$ref` with payload 1.0, an ANY
    // `{proxy+}`, next to MOCKs, with `contentHandling` as exports carry it.
    for (name, routes) in [
        (
            "openapi/awsdocs-developer-guide/api-gateway-extensions-integrations__block0.json",
            3,
        ),
        (
            "openapi/awsdocs-developer-guide/set-up-lambda-proxy-integrations__block0.json",
            1,
        ),
        ("localstack/openapi/swagger-mock-cors.json", 4),
        ("localstack/openapi/openapi.spec.tf.json", 2),
    ] {
        assert_eq!(get(name).ok(), Some(&routes), "{name}");
    }
}
