//! Output renderers: tables, progress, units and colours.

pub mod events;
pub mod format;
pub mod progress;
pub mod table;
pub mod units;

/// Colours docker compose gives log prefixes, in order.
const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

pub fn colour(index: usize, text: &str) -> String {
    format!("\x1b[{}m{text}\x1b[0m", COLOURS[index % COLOURS.len()])
}
