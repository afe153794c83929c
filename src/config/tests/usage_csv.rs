//! `apiKeysFile` (API Gateway's key import CSV) and the third-party OpenAPI documents that
//! use the `api_key` scheme.

use super::*;

fn gateway_with_csv() -> Value {
    let mut d = doc(
        json!({"/pets": {"get": {"security": [{"api_key": []}], "x-amazon-apigateway-integration": mock_integration(200, "[]")}}}),
    );
    d["components"] = json!({"securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}}});
    json!({
        "apis": [{"id": "pets", "definition": d}],
        "stages": [{"apiId": "pets", "stageName": "prod"}, {"apiId": "pets", "stageName": "beta"}],
        "usagePlans": [
            {"id": "c7y23b", "name": "Prod", "apiStages": [{"apiId": "pets", "stage": "prod"}]},
            {"id": "glvrsr", "name": "Beta", "apiStages": [{"apiId": "pets", "stage": "beta"}]},
            {"id": "prod2", "name": "Prod again", "apiStages": [{"apiId": "pets", "stage": "prod"}]}
        ],
        "apiKeys": [{"id": "main", "name": "Main", "value": "main-key-0123456789abcdef"}],
        "apiKeysFile": "keys.csv"
    })
}

fn load_csv(csv: &str) -> Snapshot {
    load_files(&gateway_with_csv(), &[("keys.csv", csv)]).unwrap()
}

fn key<'s>(s: &'s Snapshot, value: &str) -> Option<&'s ApiKey> {
    s.usage
        .key(value.as_bytes())
        .map(|k| &s.usage.keys[k.0 as usize])
}

fn warnings(s: &Snapshot) -> Vec<String> {
    lines(s.warnings.clone())
}

#[test]
fn csv_import_good_file() {
    // BOM, CRLF, header names in any case and order, an unknown column, both quote styles,
    // a quoted comma and an escaped quote in a description, a blank line.
    let csv = "\u{feff}enabled,NAME,key,Description,usageplanIds,Extra\r\n\
               TRUE,First,apikey1234abcdefghij0123456789,An imported key,c7y23b,x\r\n\
               false,Second,second-key-0123456789abcd,\"says \"\"hi\"\", twice\",\"c7y23b,glvrsr\",\r\n\
               \r\n\
               ,Third,third-key-0123456789abcdef,,'glvrsr',\r\n";
    let s = load_csv(csv);
    assert!(s.warnings.is_empty(), "{:?}", warnings(&s));
    assert_eq!(s.usage.keys.len(), 4);
    let first = key(&s, "apikey1234abcdefghij0123456789").unwrap();
    assert_eq!((first.name.as_str(), first.enabled), ("First", true));
    assert_eq!(
        first.stages.iter().map(|k| k.stage).collect::<Vec<_>>(),
        [StageIdx(0)]
    );
    let second = key(&s, "second-key-0123456789abcd").unwrap();
    assert!(!second.enabled);
    assert_eq!(
        second
            .stages
            .iter()
            .map(|k| (k.stage, k.plan))
            .collect::<Vec<_>>(),
        [(StageIdx(0), PlanIdx(0)), (StageIdx(1), PlanIdx(1))]
    );
    // Enabled left empty: true (API Gateway's default).
    let third = key(&s, "third-key-0123456789abcdef").unwrap();
    assert!(third.enabled);
    assert_eq!(third.stages[0].plan, PlanIdx(1));
    // Ids derived from values: stable, 10 characters.
    assert_eq!(third.id.len(), 10);
    assert_eq!(load_csv(csv).usage.keys[3].id, third.id);
}

#[test]
fn csv_bad_rows_are_skipped_with_their_line_numbers() {
    let csv = "Name,Key,Enabled,UsagePlanIds\n\
               Good,good-key-0123456789abcdef,true,c7y23b\n\
               Short,short,true,\n\
               Lost,lost-key-0123456789abcdef,true,nope\n\
               Maybe,maybe-key-0123456789abcdef,yes,\n\
               Few,few-key-0123456789abcdef\n\
               Twice,twice-key-0123456789abcde,true,\"c7y23b,prod2\"\n\
               Main,main-key-0123456789abcdef,true,\n\
               \"Multi\nline\",multi-key-0123456789abcdef,true,glvrsr\n\
               Again,good-key-0123456789abcdef,false,\n\
               Broken,\"broken-key-0123456789abcdef\"x,true,\n\
               Open,\"open-key-0123456789abcdef,true,\n";
    let s = load_csv(csv);
    assert_eq!(
        warnings(&s),
        [
            "keys.csv: line 3: Key: an API key value is 20 to 128 characters, found 5; row skipped",
            "keys.csv: line 4: UsagePlanIds: no usage plan with id `nope` in `usagePlans`; row skipped",
            "keys.csv: line 5: Enabled: expected true or false, found `yes`; row skipped",
            "keys.csv: line 6: 2 fields where the header has 4; row skipped",
            "keys.csv: line 7: usage plans `c7y23b` and `prod2` both include stage `prod` of API `pets`: a key may be in one plan per API stage; row skipped",
            "keys.csv: line 8: this key value is also in `apiKeys`, which wins; row skipped",
            "keys.csv: line 11: the same key value as line 2: this row replaces it",
            "keys.csv: line 12: text after a closing quote; row skipped",
            "keys.csv: line 13: unterminated \"-quoted field; row skipped",
        ]
    );
    // Good rows are imported; the later duplicate replaced the earlier one.
    assert_eq!(s.usage.keys.len(), 3);
    let good = key(&s, "good-key-0123456789abcdef").unwrap();
    assert_eq!((good.name.as_str(), good.enabled), ("Again", false));
    assert_eq!(
        key(&s, "multi-key-0123456789abcdef").unwrap().name,
        "Multi\nline"
    );
    assert_eq!(key(&s, "main-key-0123456789abcdef").unwrap().id, "main");
    assert!(key(&s, "short").is_none());
}

#[test]
fn csv_file_problems_are_errors() {
    let g = gateway_with_csv();
    let errors = errors_of(load_files(&g, &[("keys.csv", "Name,Description\nA,b\n")]));
    assert_eq!(
        errors,
        [
            "keys.csv: line 1: the header must have `Name` and `Key` columns (API Gateway's key file format), found `Name,Description`"
        ]
    );
    assert_eq!(
        errors_of(load_files(&g, &[("keys.csv", "")])),
        ["keys.csv: line 1: the file is empty: expected a header with `Name` and `Key` columns"]
    );
    assert_eq!(
        errors_of(load_files(&g, &[])),
        ["gateway.json: $.apiKeysFile: cannot read `keys.csv`: no such file"]
    );
}

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("TOLLGATE_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
    }
}

/// Replace every integration with a MOCK and every intrinsic `info.title` with text, so the
/// API key part of a real document can be compiled on its own.
fn mock_everything(v: &mut Value) {
    if let Some(map) = v.as_object_mut() {
        for (k, child) in map.iter_mut() {
            if k == "x-amazon-apigateway-integration" {
                *child = mock_integration(200, "{}");
            } else {
                mock_everything(child);
            }
        }
        if let Some(info) = map.get_mut("info") {
            info["title"] = json!("fixture");
        }
    }
}

/// Third-party documents with `security: [{api_key: []}]` (OpenAPI 3 `securitySchemes` and
/// Swagger 2 `securityDefinitions`), read in place from the fixtures.
#[test]
fn fixture_documents_with_api_key_security() {
    let dir = fixtures_dir();
    let cases: [(&str, &[(&str, bool)]); 3] = [
        (
            "localstack/openapi/openapi.spec.tf.json",
            &[("GET /", true), ("OPTIONS /", false)],
        ),
        (
            "openapi/serverless-application-model/extracted-bodies/api_with_usageplans__MyApiOne.json",
            &[("ANY /any/path/one", true), ("GET /path/one", true)],
        ),
        (
            "openapi/serverless-application-model/extracted-bodies/api_with_usageplans__MyApiTwo.json",
            &[("GET /path/two", true)],
        ),
    ];
    let mut ran = 0;
    for (name, expected) in cases {
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            continue;
        };
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        mock_everything(&mut doc);
        let s = definition(doc).unwrap_or_else(|e| panic!("{name}: {e:#?}"));
        let mut got: Vec<(&str, bool)> = s.apis[0]
            .routes
            .iter()
            .zip(&s.stages[0].routes)
            .map(|(r, sr)| (r.route_key.as_str(), sr.api_key_required))
            .collect();
        got.sort();
        assert_eq!(got, expected, "{name}");
        ran += 1;
    }
    if ran == 0 {
        eprintln!(
            "fixture_documents_with_api_key_security did not run: no fixtures under {}",
            dir.display()
        );
        assert!(
            std::env::var_os("CI").is_none(),
            "fixtures missing under CI"
        );
    }
}
