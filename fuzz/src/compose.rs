//! The Compose loader (parse, interpolate, canonicalize, include/extends, merge,
//! model, validate) and the `config` renderer, on a file given as standard input.

use std::path::Path;
use std::sync::OnceLock;

fn project_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("create the project directory"))
        .path()
}

/// Load `data` as `compose.yaml` (`-f -`); render and order what loads.
pub fn run(data: &[u8]) {
    // Files the input names are read for real; keep away from endless ones.
    if data
        .windows(4)
        .any(|w| w == b"/dev" || w == b"/pro" || w == b"/sys")
    {
        return;
    }
    let options = wharf_compose::LoadOptions {
        cwd: project_dir().to_path_buf(),
        files: vec!["-".into()],
        env: [
            ("HOME".to_string(), "/nonexistent".to_string()),
            ("A".to_string(), "1".to_string()),
        ]
        .into(),
        ..Default::default()
    };
    let mut input = data;
    if let Ok(project) = wharf_compose::load_with_stdin(&options, &mut input) {
        let _ = wharf_compose::render::render(&project, wharf_compose::render::Format::Yaml);
        let _ = wharf_compose::render::render(&project, wharf_compose::render::Format::Json);
        let _ = project.start_order();
    }
}
