//! Wiring only: the command line is parsed and run by the control plane.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(tollgate::control::main(&args));
}
