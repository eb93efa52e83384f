//! `wharf man [DIR]`: writes the manual pages (roff, section 1) generated from
//! the command definitions: `wharf.1` and one `wharf-SUBCOMMAND.1` page per
//! visible subcommand, nested ones as `wharf-image-pull.1`.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Write every page into `dir` (created if missing); returns the files written.
pub fn write_pages(root: clap::Command, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut root = root;
    // Building fills in every subcommand's full usage name (`wharf image pull`).
    root.build();
    let mut written = Vec::new();
    write_page_tree(&root, dir, &mut written)?;
    Ok(written)
}

/// The page of `command` and of each of its visible subcommands; building
/// named them `wharf-image-pull`, which is also their page's title.
fn write_page_tree(
    command: &clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> anyhow::Result<()> {
    let page_name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name());
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone())
        .section("1")
        .source(format!("wharf {}", env!("CARGO_PKG_VERSION")))
        .manual("wharf Manual")
        .render(&mut page)
        .with_context(|| format!("rendering the page of {page_name}"))?;
    let path = dir.join(format!("{page_name}.1"));
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page_tree(sub, dir, written)?;
    }
    Ok(())
}
