//! `fairlane-forecast`: the child process the worker starts for one `forecast` job.
//! Reads a JSON `ForecastRequest` on stdin, writes a JSON `ChildReply` on stdout, exits.
//! It connects to nothing; the worker kills it at the job's deadline. See
//! `fairlane_worker::forecast::isolated`.

use fairlane_shared::config::Env;
use fairlane_worker::forecast::isolated::{DIAGNOSTIC_VARIABLE, serve};

fn main() -> std::process::ExitCode {
    let diagnostic_jobs = match Env::from_process().flag_or(DIAGNOSTIC_VARIABLE, false) {
        Ok(flag) => flag,
        Err(error) => {
            eprintln!("fairlane-forecast: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    match serve(
        std::io::stdin().lock(),
        std::io::stdout().lock(),
        diagnostic_jobs,
    ) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fairlane-forecast: cannot write the reply: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
