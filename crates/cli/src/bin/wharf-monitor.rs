//! A container's monitor on its own: the small program the engine starts
//! for each container (see `wharf_engine::monitor`), without the command
//! line's code, so each running container costs less memory.

use std::process::ExitCode;

fn main() -> ExitCode {
    match wharf_engine::monitor::main_if_monitor(std::env::args_os()) {
        Some(code) => ExitCode::from(code.clamp(0, 255) as u8),
        None => {
            eprintln!("wharf-monitor is started by wharf for each container; run wharf instead");
            ExitCode::from(125)
        }
    }
}
