//! The `claw` command: parse, dispatch, exit. Everything else is in the library.

fn main() -> std::process::ExitCode {
    claw::cli::main()
}
