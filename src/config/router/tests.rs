use super::*;

fn find<'p>(r: &Router, method: &str, path: &'p str) -> Option<(u32, Vec<&'p str>)> {
    let mut params = Params::default();
    match r.find(method.as_bytes(), path.as_bytes(), &mut params) {
        RouteMatch::Found(idx) => {
            let spans = params.spans[..params.len]
                .iter()
                .map(|&(s, e)| &path[s as usize..e as usize])
                .collect();
            Some((idx.0, spans))
        }
        RouteMatch::NotFound => {
            assert_eq!(params.len, 0);
            None
        }
    }
}

#[test]
fn http_api_documented_priority() {
    // SPEC-NOTES §4, the documented HTTP API example.
    let keys = [
        "GET /pets/dog/1",
        "GET /pets/dog/{id}",
        "GET /pets/{proxy+}",
        "ANY /{proxy+}",
        "$default",
    ];
    let r = Router::from_route_keys(Protocol::Http, &keys).unwrap();
    assert_eq!(find(&r, "GET", "/pets/dog/1"), Some((0, vec![])));
    assert_eq!(find(&r, "GET", "/pets/dog/2"), Some((1, vec!["2"])));
    assert_eq!(find(&r, "GET", "/pets/cat/1"), Some((2, vec!["cat/1"])));
    assert_eq!(find(&r, "POST", "/test/5"), Some((3, vec!["test/5"])));
    // A method miss on the full matches falls through to the greedy routes, then $default.
    assert_eq!(
        find(&r, "POST", "/pets/dog/1"),
        Some((3, vec!["pets/dog/1"]))
    );
    assert_eq!(find(&r, "GET", "/"), Some((4, vec![])));
}

#[test]
fn http_api_without_default_is_not_found() {
    let r = Router::from_route_keys(Protocol::Http, &["GET /pets", "POST /pets/{id}"]).unwrap();
    assert_eq!(find(&r, "GET", "/pets"), Some((0, vec![])));
    assert_eq!(find(&r, "PUT", "/pets"), None);
    assert_eq!(find(&r, "GET", "/pets/1"), None);
    assert_eq!(find(&r, "POST", "/pets/1"), Some((1, vec!["1"])));
}

#[test]
fn http_api_backtracks_on_method_and_keeps_deepest_greedy() {
    let keys = [
        "POST /a/b",
        "GET /a/{x}",
        "GET /{p+}",
        "GET /a/{q+}",
        "ANY /a/b/{r+}",
    ];
    let r = Router::from_route_keys(Protocol::Http, &keys).unwrap();
    assert_eq!(find(&r, "GET", "/a/b"), Some((1, vec!["b"])));
    assert_eq!(find(&r, "GET", "/a/b/c/d"), Some((4, vec!["c/d"])));
    assert_eq!(find(&r, "GET", "/a/c/d"), Some((3, vec!["c/d"])));
    assert_eq!(find(&r, "GET", "/z/c/d"), Some((2, vec!["z/c/d"])));
    assert_eq!(find(&r, "DELETE", "/a/b/c"), Some((4, vec!["c"])));
    // Different param names at one position are fine in HTTP APIs (params are positional).
    assert!(Router::from_route_keys(Protocol::Http, &["GET /a/{x}", "PUT /a/{y}"]).is_ok());
}

#[test]
fn rest_precedence_and_method_selection() {
    let keys = [
        "GET /pets",
        "GET /pets/{id}",
        "ANY /pets/{id}",
        "GET /pets/mine",
        "ANY /{proxy+}",
        "POST /",
    ];
    let r = Router::from_route_keys(Protocol::Rest, &keys).unwrap();
    assert_eq!(find(&r, "GET", "/pets"), Some((0, vec![])));
    assert_eq!(find(&r, "GET", "/pets/7"), Some((1, vec!["7"])));
    assert_eq!(find(&r, "DELETE", "/pets/7"), Some((2, vec!["7"])));
    assert_eq!(find(&r, "GET", "/pets/mine"), Some((3, vec![])));
    // The resource /pets/mine exists: no backtracking to {id} or {proxy+} on a method miss.
    assert_eq!(find(&r, "DELETE", "/pets/mine"), None);
    assert_eq!(find(&r, "POST", "/pets"), None);
    assert_eq!(
        find(&r, "GET", "/other/a/b/"),
        Some((4, vec!["other/a/b/"]))
    );
    // `/` is its own resource; {proxy+} needs at least one segment.
    assert_eq!(find(&r, "POST", "/"), Some((5, vec![])));
    assert_eq!(find(&r, "GET", "/"), None);
    // Empty segments are skipped; the capture is the raw remainder.
    assert_eq!(find(&r, "GET", "//pets//7"), Some((1, vec!["7"])));
    assert_eq!(find(&r, "GET", "/x//y%2Fz"), Some((4, vec!["x//y%2Fz"])));
    // Methods are case-sensitive.
    assert_eq!(find(&r, "get", "/pets"), None);
}

#[test]
fn rest_backtracks_on_path() {
    let r = Router::from_route_keys(Protocol::Rest, &["GET /a/b/c", "GET /{x}/b/d"]).unwrap();
    assert_eq!(find(&r, "GET", "/a/b/c"), Some((0, vec![])));
    assert_eq!(find(&r, "GET", "/a/b/d"), Some((1, vec!["a"])));
    // The implicit resource /a/b exists, so it is found (and has no GET).
    assert_eq!(find(&r, "GET", "/a/b"), None);
    // Precedence is per level, depth first: under the literal `a`, its greedy child wins
    // before `{x}` one level up is tried.
    let keys = ["GET /a/b/c", "GET /{x}/b/d", "GET /a/{y+}"];
    let r = Router::from_route_keys(Protocol::Rest, &keys).unwrap();
    assert_eq!(find(&r, "GET", "/a/b/d"), Some((2, vec!["b/d"])));
    assert_eq!(find(&r, "GET", "/z/b/d"), Some((1, vec!["z"])));
}

#[test]
fn rest_tree_errors() {
    let err = |keys: &[&str]| Router::from_route_keys(Protocol::Rest, keys).err().unwrap();
    assert_eq!(
        err(&["GET /p/{id}", "GET /p/{proxy+}"]),
        "A sibling ({id}) of this resource already has a variable path part -- only one is allowed"
    );
    assert_eq!(
        err(&["GET /p/{proxy+}", "GET /p/{id}"]),
        "A sibling ({proxy+}) of this resource already has a variable path part -- only one is allowed"
    );
    assert_eq!(
        err(&["GET /p/{a}", "GET /p/{b}/c"]),
        "A sibling ({a}) of this resource already has a variable path part -- only one is allowed"
    );
    assert_eq!(
        err(&["GET /p/{proxy+}/x"]),
        "Cannot create a child of a resource with a greedy path variable: {proxy+}"
    );
    assert_eq!(
        err(&["GET /p", "GET /p"]),
        "route `GET /p` duplicates route 0"
    );
    assert_eq!(err(&["$default"]), "`$default` is an HTTP API route");
    assert!(Router::from_route_keys(Protocol::Rest, &["GET /p/{id}", "PUT /p/{id}/x"]).is_ok());
}

#[test]
fn ten_thousand_routes() {
    let mut keys = Vec::new();
    for i in 0..2500 {
        keys.push(format!("GET /svc{i}/items"));
        keys.push(format!("POST /svc{i}/items/{{id}}"));
        keys.push(format!("GET /svc{i}/items/{{id}}/detail"));
        keys.push(format!("ANY /svc{i}/files/{{path+}}"));
    }
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    for protocol in [Protocol::Rest, Protocol::Http] {
        let r = Router::from_route_keys(protocol, &refs).unwrap();
        for i in (0..2500).step_by(7) {
            let base = 4 * i as u32;
            assert_eq!(
                find(&r, "GET", &format!("/svc{i}/items")),
                Some((base, vec![]))
            );
            let p = format!("/svc{i}/items/42");
            assert_eq!(find(&r, "POST", &p), Some((base + 1, vec!["42"])));
            let p = format!("/svc{i}/items/x/detail");
            assert_eq!(find(&r, "GET", &p), Some((base + 2, vec!["x"])));
            let p = format!("/svc{i}/files/a/b.txt");
            assert_eq!(find(&r, "PATCH", &p), Some((base + 3, vec!["a/b.txt"])));
            assert_eq!(find(&r, "GET", &format!("/svc{i}/nothing")), None);
        }
        assert_eq!(find(&r, "GET", "/svc2500/items"), None);
    }
}
