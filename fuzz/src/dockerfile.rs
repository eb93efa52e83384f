//! Dockerfiles: the parser, then what the builder does with each instruction's
//! text (word splitting and variable substitution, JSON exec form, `RUN --mount`).

use wharf_image::build::mounts::parse_mount;
use wharf_image::build::parse::{parse, Keyword};
use wharf_image::build::words::json_array;

/// Parse `data` as a Dockerfile and process every instruction's words.
pub fn run(data: &[u8]) {
    let Some(text) = crate::text(data) else {
        return;
    };
    let Ok(file) = parse("Dockerfile", text) else {
        return;
    };
    let lexer = file.lexer();
    let vars = |name: &str| match name {
        "A" => Some("a b".to_string()),
        "EMPTY" => Some(String::new()),
        "HOME" => Some("/root".to_string()),
        _ => None,
    };
    let instructions = file
        .global_args
        .iter()
        .chain(file.stages.iter().flat_map(|s| &s.instructions));
    for stage in &file.stages {
        let _ = lexer.word(&stage.base, &vars);
        let _ = file.stage_index(&stage.base);
    }
    for ins in instructions {
        let _ = ins.text();
        let _ = lexer.words(&ins.args, &vars);
        let _ = lexer.word(&ins.args, &vars);
        let _ = lexer.raw_words(&ins.args);
        let _ = json_array(&ins.args);
        for heredoc in &ins.heredocs {
            if heredoc.expand {
                let _ = lexer.word(&heredoc.body, &vars);
            }
        }
        if ins.keyword == Keyword::Run {
            for mount in ins.flag_values("mount") {
                let _ = parse_mount(mount, "/work", &|s| lexer.word(s, &vars));
            }
        }
        for flag in &ins.flags {
            if let Some(value) = &flag.value {
                let _ = lexer.word(value, &vars);
            }
        }
    }
}
