//! API Gateway's key CSV for the admin API's import (`POST /apikeys?mode=import&format=csv`):
//! the same reader and per-row checks as `apiKeysFile`, without the gateway file around it
//! (plan ids are checked by the caller against the running config).

use super::super::DEFAULT_API_KEY_ENABLED;
use super::csv::records;
use super::keys::{name_problem, value_problem};

/// A good row.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CsvKey {
    pub line: usize,
    pub name: String,
    pub value: String,
    pub enabled: bool,
    pub description: Option<String>,
    pub plan_ids: Vec<String>,
}

/// The good rows and a `(line, message)` warning per bad row; `Err` when the file has no
/// header with `Name` and `Key` columns.
#[allow(clippy::type_complexity)]
pub(crate) fn parse_key_csv(text: &str) -> Result<(Vec<CsvKey>, Vec<(usize, String)>), String> {
    let mut rows = records(text).into_iter();
    let header = match rows.next() {
        None => {
            return Err("the CSV is empty: expected a header with `Name` and `Key` columns".into());
        }
        Some(r) => r
            .fields
            .map_err(|e| format!("line {}: header: {e}", r.line))?,
    };
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(name_col), Some(key_col)) = (col("Name"), col("Key")) else {
        return Err(format!(
            "the header must have `Name` and `Key` columns (API Gateway's key file format), found `{}`",
            header.join(",")
        ));
    };
    let (enabled_col, plans_col, desc_col) =
        (col("Enabled"), col("UsagePlanIds"), col("Description"));
    let mut keys = Vec::new();
    let mut warnings = Vec::new();
    for r in rows {
        let fields = match r.fields {
            Ok(f) => f,
            Err(e) => {
                warnings.push((r.line, format!("{e}; row skipped")));
                continue;
            }
        };
        if fields.len() != header.len() {
            warnings.push((
                r.line,
                format!(
                    "{} fields where the header has {}; row skipped",
                    fields.len(),
                    header.len()
                ),
            ));
            continue;
        }
        let row = || -> Result<CsvKey, String> {
            let name = &fields[name_col];
            if let Some(p) = name_problem(name) {
                return Err(format!("Name: {p}"));
            }
            let value = &fields[key_col];
            if let Some(p) = value_problem(value) {
                return Err(format!("Key: {p}"));
            }
            let enabled = match enabled_col.map(|i| fields[i].as_str()) {
                None | Some("") => DEFAULT_API_KEY_ENABLED,
                Some(e) if e.eq_ignore_ascii_case("true") => true,
                Some(e) if e.eq_ignore_ascii_case("false") => false,
                Some(e) => return Err(format!("Enabled: expected true or false, found `{e}`")),
            };
            let mut plan_ids: Vec<String> = Vec::new();
            for p in plans_col
                .map(|i| fields[i].as_str())
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                if !plan_ids.iter().any(|o| o == p) {
                    plan_ids.push(p.to_string());
                }
            }
            Ok(CsvKey {
                line: r.line,
                name: name.clone(),
                value: value.clone(),
                enabled,
                description: desc_col
                    .map(|i| fields[i].clone())
                    .filter(|d| !d.is_empty()),
                plan_ids,
            })
        };
        match row() {
            Ok(k) => keys.push(k),
            Err(m) => warnings.push((r.line, format!("{m}; row skipped"))),
        }
    }
    Ok((keys, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_are_kept_and_bad_rows_warned_with_their_line() {
        let text = "Name,Key,Enabled,UsagePlanIds\nalice,alice-key-value-0123456789,true,\"basic,gold\"\nbob,short,true,\ncarol,carol-key-value-0123456789,maybe,\n";
        let (keys, warnings) = parse_key_csv(text).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].line, 2);
        assert_eq!(keys[0].plan_ids, ["basic", "gold"]);
        assert_eq!(warnings.len(), 2);
        assert_eq!(warnings[0].0, 3);
        assert!(warnings[0].1.starts_with("Key: "), "{}", warnings[0].1);
        assert_eq!(warnings[1].0, 4);
        assert!(parse_key_csv("Id,Value\nx,y\n").is_err());
    }
}
