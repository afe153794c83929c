//! `lambda-bare`: a Lambda function with no runtime library. Run with `AWS_LAMBDA_RUNTIME_API`
//! set (tollgate's function host does); see the library docs for what it answers.

use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().nth(1).is_some() {
        eprintln!("usage: AWS_LAMBDA_RUNTIME_API=host:port lambda-bare (no arguments)");
        return ExitCode::from(2);
    }
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        eprintln!("lambda-bare: AWS_LAMBDA_RUNTIME_API is not set");
        return ExitCode::from(2);
    };
    match lambda_bare::serve(&api) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda-bare: {e}");
            ExitCode::FAILURE
        }
    }
}
