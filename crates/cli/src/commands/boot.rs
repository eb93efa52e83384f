//! `wharf system boot`: run once when the host has started (the shipped
//! systemd unit `wharf-boot.service` does), it starts every container whose
//! restart policy says it runs after a reboot and removes the `--rm` ones
//! that ended, a line for each, and exits 1 when one of them could not be
//! started or removed.

use crate::context::GlobalOptions;
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct BootArgs {}

pub fn boot(global: &GlobalOptions, _args: BootArgs) -> Result<i32> {
    let engine = global.engine()?;
    let outcome = wharf_app::boot::boot(&engine, &engine)?;
    for name in &outcome.started {
        println!("Container {name} Started");
    }
    for name in &outcome.removed {
        println!("Container {name} Removed");
    }
    for (_, error) in &outcome.failed {
        eprintln!("error: {}", wharf_app::error_chain(error));
    }
    Ok(if outcome.failed.is_empty() { 0 } else { 1 })
}
