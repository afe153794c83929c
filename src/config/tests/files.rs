//! `conf/invalid/*.json` fail with exactly the error lines in their `.expected` files, and
//! `conf/examples/gateway.json` compiles (both read from disk with the real `FsLoader`).
//! `TOLLGATE_BLESS=1` rewrites the `.expected` files (review the diff before committing).

use super::*;

fn conf_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conf").join(sub)
}

#[test]
fn invalid_configs_report_expected_errors() {
    let dir = conf_dir("invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "conf/invalid has too few configs");
    let mut mismatches = Vec::new();
    for file in files {
        let got = match load_with_env(&file, &FsLoader, 1, &|_| None) {
            Ok(_) => vec!["(compiled without errors)".to_string()],
            Err(errors) => errors
                .iter()
                .map(|e| {
                    format!(
                        "{}: {}: {}",
                        e.file.strip_prefix(&dir).unwrap_or(&e.file).display(),
                        e.path,
                        // Files the config names are read relative to it: no checkout path.
                        e.message.replace(&format!("{}/", dir.display()), "")
                    )
                })
                .collect(),
        };
        let expected_file = file.with_extension("expected");
        if std::env::var_os("TOLLGATE_BLESS").is_some() {
            std::fs::write(&expected_file, got.join("\n") + "\n").unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_file).unwrap_or_default();
        let expected: Vec<&str> = expected.lines().collect();
        if got != expected {
            mismatches.push(format!(
                "{}:\n  got:\n    {}\n  expected:\n    {}",
                file.display(),
                got.join("\n    "),
                expected.join("\n    ")
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// What `cargo run --release` serves: plain HTTP on 8080 and HTTPS on 8443 with the
/// development certificate in `conf/certs/`.
#[test]
fn default_config_compiles_with_an_https_listener() {
    let s = load(&conf_dir("").join("tollgate.json"), &FsLoader, 1).unwrap();
    let kinds: Vec<(u16, bool)> = s
        .server
        .listeners
        .iter()
        .map(|l| (l.address.port(), l.tls.is_some()))
        .collect();
    assert_eq!(kinds, [(8080, false), (8443, true)]);
    let certs = s.server.listeners[1].tls.as_ref().unwrap();
    assert_eq!(certs.entry_for_sni(Some("localhost")), Some(0));
}

#[test]
fn example_config_compiles() {
    let s = load(&conf_dir("examples").join("gateway.json"), &FsLoader, 1).unwrap();
    let pets = &s.apis[0];
    assert_eq!(
        (pets.id.as_str(), pets.name.as_str(), pets.protocol),
        ("petstore", "PetStore", Protocol::Rest)
    );
    assert_eq!(s.apis[1].protocol, Protocol::Http);
    assert_eq!(s.stages.len(), 3);
    // Domain and base path → stage; default API for any other host.
    let t = s.resolve(b"api.example.com", b"/v1/pets/pets/7").unwrap();
    assert_eq!((t.api, t.stage, t.prefix_len), (ApiIdx(0), StageIdx(0), 8));
    let mut params = Params::default();
    let resource = &b"/v1/pets/pets/7"[t.prefix_len..];
    assert_eq!(
        pets.router.find(b"GET", resource, &mut params),
        RouteMatch::Found(RouteIdx(2))
    );
    assert_eq!(
        s.resolve(b"localhost", b"/pets").unwrap().stage,
        StageIdx(0)
    );
    let orders = s
        .resolve(b"orders.execute-api.localhost", b"/anything")
        .unwrap();
    assert_eq!(
        (orders.api, orders.stage, orders.prefix_len),
        (ApiIdx(1), StageIdx(2), 0)
    );
    // The customized MISSING_AUTHENTICATION_TOKEN response.
    let r = pets.responses.get(ErrorKind::MissingAuthenticationToken);
    assert_eq!(r.status, 404);
    assert_eq!(
        &r.body[..],
        br#"{"message": "Missing Authentication Token", "hint": "see /pets"}"#
    );
    // The mock and the dev stage's unresolved backend name.
    let Integration::Mock(m) = &s.stages[0].integrations[3] else {
        panic!("not a mock")
    };
    assert_eq!(
        &m.response.head[..],
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nCache-Control: no-store\r\n"
    );
    let Integration::HttpProxy(h) = &s.stages[1].integrations[0] else {
        panic!("not a proxy")
    };
    let up = &s.upstreams[h.upstream.0 as usize];
    assert_eq!(
        (up.host.as_str(), up.port, up.addrs.load().len()),
        ("localhost", 9001, 0)
    );
    assert_eq!(h.timeout, std::time::Duration::from_millis(5000));
}

#[test]
fn usage_plans_example_compiles() {
    let env = |name: &str| {
        (name == "TOLLGATE_API_KEY_SECRET").then(|| "example-secret-0123456789".to_string())
    };
    let s = load_with_env(
        &conf_dir("examples").join("usage-plans.json"),
        &FsLoader,
        1,
        &env,
    )
    .unwrap();
    assert!(s.warnings.is_empty());
    let u = &s.usage;
    assert_eq!(u.plans.len(), 2);
    // Alice and CI from the gateway file, Bob and Carol from keys.csv.
    assert_eq!(
        u.keys
            .iter()
            .map(|k| (k.name.as_str(), k.enabled))
            .collect::<Vec<_>>(),
        [
            ("Alice", true),
            ("CI", true),
            ("Bob", true),
            ("Carol", false)
        ]
    );
    let bob = u.key(b"bob-example-key-0123456789ab").unwrap();
    let prod = u.keys[bob.0 as usize].stage(StageIdx(0)).unwrap();
    assert_eq!(u.plans[prod.plan.0 as usize].id, "basic");
    let post = &u.limits[prod.method(RouteIdx(1)).unwrap().0 as usize];
    assert_eq!(
        &*post.identity,
        format!(
            "keymethod:basic/{}/petstore/prod/POST /pets",
            u.keys[bob.0 as usize].id
        )
    );
    let routes = &s.stages[0].routes;
    assert_eq!(
        routes
            .iter()
            .map(|r| r.api_key_required)
            .collect::<Vec<_>>(),
        [true, true, false]
    );
    let post_stage = &u.limits[routes[1].throttle.unwrap().0 as usize];
    assert_eq!(
        (post_stage.spec.rate_per_sec, post_stage.spec.burst),
        (50.0, 100)
    );
}

#[test]
fn cache_example_compiles() {
    let s = load(&conf_dir("examples").join("cache.json"), &FsLoader, 1).unwrap();
    let c = s.stages[0].cache.as_ref().unwrap();
    assert_eq!(
        (&*c.identity, c.capacity_bytes),
        ("cache:catalog/prod", 500_000_000)
    );
    // GET /products, POST /products, GET /products/{id}, POST /search, GET /stock.
    let ttls: Vec<Option<u32>> = c
        .routes
        .iter()
        .map(|r| r.as_ref().map(|r| r.ttl_secs))
        .collect();
    assert_eq!(ttls, [Some(300), None, Some(3600), Some(60), None]);
    let products = c.routes[0].as_ref().unwrap();
    assert_eq!(
        products
            .key_params
            .iter()
            .map(|(k, n)| (*k, &**n))
            .collect::<Vec<_>>(),
        [
            (ParamKind::Query, "type"),
            (ParamKind::Header, "Accept-Language")
        ]
    );
}
