//! The `userpool` binary: parse the command line, set up logging, run.

use clap::Parser as _;
use userpool::cli::{Cli, Command, LogFormat};

/// mimalloc: its thread-local free lists halve what glibc's malloc and free cost the
/// request path (many small strings and JSON values per request).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let filter = tracing_subscriber::EnvFilter::try_from_env("USERPOOL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let builder = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr);
            match args.log_format {
                LogFormat::Json => builder.json().init(),
                LogFormat::Text => builder.with_ansi(false).init(),
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("userpool: cannot start the runtime: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            match runtime.block_on(userpool::run(args, shutdown_signal())) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("userpool: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::Codes(args) => print_json(userpool::codes(args, userpool::clock::now_ms())),
        Command::Outbox(args) => print_json(userpool::outbox(args)),
        Command::Copy(args) => print_json(userpool::copy(args)),
    }
}

/// Runs a reading command on a small runtime and prints its JSON.
fn print_json(fut: impl std::future::Future<Output = Result<String, userpool::StartError>>) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("userpool: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(json) => {
            println!("{json}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("userpool: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
