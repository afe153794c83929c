//! `server.cpuAffinity: "workers"`: worker *i* runs on the *i*-th CPU tollgate may use (in
//! turn when there are more workers than CPUs), and the function processes it serves run on
//! that CPU too; without it nothing is pinned. Read from `/proc` (the workers' threads) and
//! from the function itself (`os.sched_getaffinity` in a raw-socket Runtime API client in
//! plain Python), for a gateway started as the test runs and one started under a single CPU.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // black-box tests: blocking std IO on test threads

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::functions::{RAW_CALL as CALL, RAW_CONNECT as CONNECT, invoke_api_port, invoked_once};
use support::*;
use tollgate::dataplane::affinity;

/// Answers every event with its PID and the CPUs it may run on.
const RUNTIME: &str = r#"
import json
while True:
    h, event = call("GET", "/2018-06-01/runtime/invocation/next")
    rid = h["lambda-runtime-aws-request-id"]
    print(f"got {rid}", flush=True)
    answer = {"pid": os.getpid(), "rid": rid, "cpus": sorted(os.sched_getaffinity(0))}
    call("POST", f"/2018-06-01/runtime/invocation/{rid}/response", json.dumps(answer).encode())
"#;

fn start(affinity: Option<&str>, dir: &TempDir) -> Gateway {
    std::fs::write(dir.file("runtime.py"), format!("{CALL}{CONNECT}{RUNTIME}")).unwrap();
    let mut config = json!({
        "apis": [], "stages": [],
        "functions": { "raw": { "local": {
            "command": ["python3", "runtime.py"], "cwd": dir.path.display().to_string()
        }, "timeoutMs": 10000 } }
    });
    if let Some(a) = affinity {
        config["server"] = json!({ "cpuAffinity": a });
    }
    Gateway::start(config)
}

/// `Cpus_allowed_list` of `/proc/{pid}/task/{tid}/status`, expanded ("0-2,5" → [0, 1, 2, 5]).
fn allowed_list(status: &str) -> Vec<usize> {
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list");
    let mut out = Vec::new();
    for part in line.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

/// The CPUs each of tollgate's worker threads may run on, by worker number. A thread's name
/// is cut to 15 bytes (`tollgate-worker`): the workers are told apart by their thread ids,
/// given in the order the workers start (0 first).
fn worker_cpus(gw: &Gateway) -> Vec<Vec<usize>> {
    let mut found: Vec<(u32, Vec<usize>)> = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{}/task", gw.pid)).unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if comm.trim() == "tollgate-worker" {
            let tid = task.file_name().unwrap().to_str().unwrap().parse().unwrap();
            let status = std::fs::read_to_string(task.join("status")).unwrap();
            found.push((tid, allowed_list(&status)));
        }
    }
    found.sort();
    found.into_iter().map(|(_, cpus)| cpus).collect()
}

/// The CPUs the function's process may run on, as it sees them (worker 0 serves it: the
/// host starts a function's first process there).
fn function_cpus(gw: &Gateway) -> Vec<usize> {
    let body: Value = invoked_once(gw, invoke_api_port(gw), &json!({}), Duration::from_secs(10));
    serde_json::from_value(body["cpus"].clone()).expect("cpus")
}

#[test]
fn pinned_workers_take_the_allowed_cpus_in_turn_and_their_functions_run_on_theirs() {
    let test = "pinned_workers_take_the_allowed_cpus_in_turn_and_their_functions_run_on_theirs";
    if !python_with(test, &[]) {
        return;
    }
    let allowed = affinity::allowed().expect("sched_getaffinity");
    let dir = TempDir::new("fn");
    let gw = start(Some("workers"), &dir);
    // Two workers (the tests' default).
    let expected: Vec<Vec<usize>> = affinity::plan(2, &allowed)
        .into_iter()
        .map(|c| vec![c])
        .collect();
    assert_eq!(worker_cpus(&gw), expected, "{}", gw.stderr());
    assert_eq!(function_cpus(&gw), expected[0], "{}", gw.stderr());
    let cpus: Vec<String> = expected.iter().map(|c| c[0].to_string()).collect();
    assert!(
        gw.stderr().contains(&format!("on CPUs {}", cpus.join(","))),
        "{}",
        gw.stderr()
    );

    // A reload cannot move running threads: it says so, and the pinning stays.
    let mut config = gw.config.clone();
    config["server"]["cpuAffinity"] = json!("none");
    let mut gw = gw;
    gw.write_config(config);
    let r = gw.reload_post();
    assert_eq!(r.status, 200, "{}", r.body_str());
    let warnings = gw.status()["lastReload"]["warnings"].to_string();
    assert!(
        warnings.contains("server.cpuAffinity changed: restart to apply"),
        "{warnings}"
    );
    assert_eq!(worker_cpus(&gw), expected);
}

#[test]
fn under_one_allowed_cpu_every_worker_and_function_runs_there() {
    let test = "under_one_allowed_cpu_every_worker_and_function_runs_there";
    if !python_with(test, &[]) {
        return;
    }
    let allowed = affinity::allowed().expect("sched_getaffinity");
    let last = *allowed.last().unwrap();
    // Started from a thread allowed only `last` (as under `taskset -c LAST`): tollgate
    // inherits it.
    let started = |a: Option<&'static str>| {
        std::thread::spawn(move || {
            affinity::CpuSet::one(last).unwrap().apply().unwrap();
            let dir = TempDir::new("fn");
            let gw = start(a, &dir);
            (gw, dir)
        })
        .join()
        .unwrap()
    };
    let (gw, _dir) = started(Some("workers"));
    assert_eq!(worker_cpus(&gw), vec![vec![last], vec![last]]);
    assert_eq!(function_cpus(&gw), vec![last]);
}

#[test]
fn unpinned_workers_and_functions_may_run_on_every_allowed_cpu() {
    let test = "unpinned_workers_and_functions_may_run_on_every_allowed_cpu";
    if !python_with(test, &[]) {
        return;
    }
    let allowed = affinity::allowed().expect("sched_getaffinity");
    let dir = TempDir::new("fn");
    let gw = start(Some("none"), &dir);
    assert_eq!(worker_cpus(&gw), vec![allowed.clone(), allowed.clone()]);
    assert_eq!(function_cpus(&gw), allowed);
}
