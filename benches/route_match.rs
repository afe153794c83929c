//! Route matching with a 10-route and a 10,000-route table (issue: "must stay
//! sub-microsecond"). `cargo bench --bench route_match` prints ns per lookup for literal,
//! `{param}` and greedy matches and for misses, on REST and HTTP API tables.

use std::hint::black_box;
use std::time::Instant;

use tollgate::config::{Params, Protocol, RouteMatch, Router};

/// `routes` routes shaped like a real API: services × (list, get by id, a literal
/// sub-collection, a nested parameter route, a greedy catch-all, ...); 10 routes is one
/// service, 10,000 is 1,000 services.
fn route_keys(routes: usize) -> Vec<String> {
    let mut keys = Vec::with_capacity(routes);
    let mut i = 0;
    while keys.len() < routes {
        let svc = format!("service{i}");
        keys.push(format!("GET /v1/{svc}/items"));
        keys.push(format!("POST /v1/{svc}/items"));
        keys.push(format!("GET /v1/{svc}/items/{{itemId}}"));
        keys.push(format!("PUT /v1/{svc}/items/{{itemId}}"));
        keys.push(format!("DELETE /v1/{svc}/items/{{itemId}}"));
        keys.push(format!("GET /v1/{svc}/items/{{itemId}}/history"));
        keys.push(format!("GET /v1/{svc}/items/{{itemId}}/parts/{{partId}}"));
        keys.push(format!("GET /v1/{svc}/search"));
        keys.push(format!("ANY /v1/{svc}/files/{{proxy+}}"));
        keys.push(format!("GET /v2/{svc}/health"));
        i += 1;
    }
    keys.truncate(routes);
    keys
}

fn measure(name: &str, router: &Router, method: &[u8], paths: &[Vec<u8>], expect_found: bool) {
    let mut params = Params::default();
    for p in paths {
        let found = matches!(router.find(method, p, &mut params), RouteMatch::Found(_));
        assert_eq!(
            found,
            expect_found,
            "{name}: {}",
            String::from_utf8_lossy(p)
        );
    }
    let rounds = (200_000 / paths.len()).max(200);
    let start = Instant::now();
    for _ in 0..rounds {
        for p in paths {
            black_box(router.find(black_box(method), black_box(p), &mut params));
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / (rounds * paths.len()) as f64;
    println!("{name:<44} {ns:>8.1} ns/lookup");
}

fn main() {
    for routes in [10, 10_000] {
        table(routes);
    }
}

fn table(routes: usize) {
    let keys = route_keys(routes);
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let services: Vec<usize> = (0..routes.div_ceil(10)).step_by(7).collect();
    for protocol in [Protocol::Rest, Protocol::Http] {
        let router = Router::from_route_keys(protocol, &refs).expect("routes compile");
        let paths = |f: &dyn Fn(usize) -> String| -> Vec<Vec<u8>> {
            services.iter().map(|&s| f(s).into_bytes()).collect()
        };
        println!("{protocol:?} API, {routes} routes");
        measure(
            "literal   GET /v1/serviceN/items",
            &router,
            b"GET",
            &paths(&|s| format!("/v1/service{s}/items")),
            true,
        );
        measure(
            "param     GET /v1/serviceN/items/{id}",
            &router,
            b"GET",
            &paths(&|s| format!("/v1/service{s}/items/{}", s * 31)),
            true,
        );
        measure(
            "2 params  GET /v1/serviceN/items/{id}/parts/{p}",
            &router,
            b"GET",
            &paths(&|s| format!("/v1/service{s}/items/{s}/parts/x{s}")),
            true,
        );
        measure(
            "greedy    GET /v1/serviceN/files/a/b/c.txt",
            &router,
            b"GET",
            &paths(&|s| format!("/v1/service{s}/files/a/b/{s}.txt")),
            true,
        );
        measure(
            "miss      GET /v3/serviceN/items",
            &router,
            b"GET",
            &paths(&|s| format!("/v3/service{s}/items")),
            false,
        );
        measure(
            "miss      PATCH /v1/serviceN/items",
            &router,
            b"PATCH",
            &paths(&|s| format!("/v1/service{s}/items")),
            false,
        );
    }
}
