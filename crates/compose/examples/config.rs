//! The loader alone, as `wharf config` runs it: `cargo run -p wharf-compose
//! --example config -- [--json] [-f FILE]… [--profile P]…` prints the
//! canonical project of the current directory (used to write golden files).

use wharf_compose::render::{render, Format};

fn main() {
    let mut options = wharf_compose::LoadOptions {
        cwd: std::env::current_dir().unwrap_or_default(),
        env: std::env::vars().collect(),
        ..Default::default()
    };
    let mut format = Format::Yaml;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => format = Format::Json,
            "-f" => options.files.extend(args.next().map(Into::into)),
            "--profile" => options.profiles.extend(args.next()),
            "-p" => options.project_name = args.next(),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    match wharf_compose::load(&options) {
        Ok(p) => {
            for w in &p.warnings {
                eprintln!("WARN {w}");
            }
            print!("{}", render(&p, format));
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
