"""benches/run's implementation: see benches/run --help and benches/RESULTS.md.

main      options → scenarios → legs → written results and sanity checks
cli       the command line
scenarios the catalogue (named scenarios, their legs, what is not available yet)
legs      one leg on every target: start, check, measure in alternation
measure   one run: the load generator and /proc before and after
client    loadgen and wrk: command lines, output parsing, features from --help
peers     origin, nginx, HAProxy, tollgate, null proxy: configurations, start, check
procs     processes started and stopped by PID
procfs    /proc: CPU ticks, RSS, VmHWM, machine busy time
env       tools from Debian, the release build, fd limits, TLS certificate, versions
report    medians, ratios, tables, sanity checks
cache     cache-hit: the gateway's admin cache counters, the fill step, issue 5's ratios
markdown  the markdown block, JSON, CSV, benches/RESULTS.md
paired    benches/paired: two tollgate configurations at once on one CPU, per-pair ratios
"""
