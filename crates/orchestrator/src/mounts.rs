//! Mount settings written in docker's compact syntaxes: the options of a
//! tmpfs (`/run:size=64m,mode=1770`, or the long syntax's `tmpfs.size` and
//! `tmpfs.mode`) and `volumes_from` entries (`db:ro`, `container:x:rw`).

use crate::error::SettingError;
use std::collections::BTreeMap;

/// Flags a tmpfs takes, as (word, the setting it decides). The last word
/// of a setting wins, as with docker.
const TMPFS_FLAGS: [(&str, &str); 17] = [
    ("exec", "exec"),
    ("noexec", "exec"),
    ("suid", "suid"),
    ("nosuid", "suid"),
    ("dev", "dev"),
    ("nodev", "dev"),
    ("sync", "sync"),
    ("async", "sync"),
    ("dirsync", "dirsync"),
    ("atime", "atime"),
    ("noatime", "atime"),
    ("diratime", "diratime"),
    ("nodiratime", "diratime"),
    ("relatime", "relatime"),
    ("norelatime", "relatime"),
    ("strictatime", "strictatime"),
    ("nostrictatime", "strictatime"),
];

/// `key=value` options a tmpfs takes, in the order they are written out.
const TMPFS_DATA: [&str; 7] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
];

/// A tmpfs's options, checked and in canonical form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TmpfsOptions {
    /// `ro` (the last of `ro` and `rw`).
    pub read_only: bool,
    /// Flags, then `key=value` options, each setting once; sizes in bytes,
    /// modes in octal.
    pub options: Vec<String>,
}

/// A `tmpfs:` entry, `TARGET[:OPTIONS]` → its target and options.
pub fn tmpfs_entry(entry: &str) -> Result<(String, TmpfsOptions), SettingError> {
    let (target, options) = entry.split_once(':').unwrap_or((entry, ""));
    let parsed = tmpfs_options(options)
        .map_err(|e| SettingError::Invalid(format!("tmpfs {entry:?}: {e}")))?;
    Ok((target.to_string(), parsed))
}

/// Docker's tmpfs option list (`size=64m,mode=1770,exec,ro`).
pub fn tmpfs_options(text: &str) -> Result<TmpfsOptions, SettingError> {
    let mut read_only = false;
    let mut flags: BTreeMap<&str, &str> = BTreeMap::new();
    let mut data: BTreeMap<&str, String> = BTreeMap::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "defaults" => continue,
            "ro" => read_only = true,
            "rw" => read_only = false,
            _ => {}
        }
        if matches!(word, "ro" | "rw") {
            continue;
        }
        if let Some((_, setting)) = TMPFS_FLAGS.iter().find(|(flag, _)| *flag == word) {
            flags.insert(setting, word);
            continue;
        }
        let Some((key, value)) = word.split_once('=') else {
            return Err(SettingError::Invalid(format!(
                "unknown option {word:?}: use size, mode, uid, gid, nr_inodes, nr_blocks, mpol, \
                 ro, rw or a mount flag like exec, nosuid or noatime"
            )));
        };
        let Some(key) = TMPFS_DATA.iter().copied().find(|k| *k == key) else {
            return Err(SettingError::Invalid(format!(
                "unknown option {key:?}: a tmpfs takes size, mode, uid, gid, nr_inodes, \
                 nr_blocks and mpol"
            )));
        };
        let value = value.trim();
        let canonical = match key {
            "size" | "nr_blocks" | "nr_inodes" => amount(key, value)?,
            "mode" => u32::from_str_radix(value, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .map(|m| format!("{m:o}"))
                .ok_or_else(|| {
                    SettingError::invalid(format!(
                        "invalid mode {value:?}: write octal permission bits like 1777 or 700"
                    ))
                })?,
            "uid" | "gid" => value
                .parse::<u32>()
                .map(|n| n.to_string())
                .map_err(|source| SettingError::Number {
                    key: key.to_string(),
                    value: value.to_string(),
                    hint: "write a numeric id",
                    source,
                })?,
            _ => {
                if value.is_empty() || value.contains([',', '\0']) {
                    return Err(SettingError::Invalid(format!("invalid {key} {value:?}")));
                }
                value.to_string()
            }
        };
        data.insert(key, canonical);
    }
    let mut options: Vec<String> = TMPFS_FLAGS
        .iter()
        .filter(|(word, setting)| flags.get(setting) == Some(word))
        .map(|(word, _)| word.to_string())
        .collect();
    options.extend(
        TMPFS_DATA
            .iter()
            .filter_map(|key| data.get(key).map(|value| format!("{key}={value}"))),
    );
    Ok(TmpfsOptions { read_only, options })
}

/// The long syntax's `tmpfs.size` (bytes) and `tmpfs.mode` as options.
pub fn tmpfs_long_options(size: Option<u64>, mode: Option<u32>) -> Vec<String> {
    size.map(|s| format!("size={s}"))
        .into_iter()
        .chain(mode.map(|m| format!("mode={m:o}")))
        .collect()
}

/// A size or count as the kernel reads it (`64m`, `1G`, `4096`, see
/// [`wharf_units::parse_bytes`]) in plain units, or a percentage kept as
/// written.
fn amount(key: &str, text: &str) -> Result<String, SettingError> {
    if let Some(percent) = text.strip_suffix('%') {
        return match percent.parse::<u64>() {
            Ok(n @ 1..=100) => Ok(format!("{n}%")),
            _ => Err(SettingError::invalid(format!(
                "invalid {key} {text:?}: a percentage of memory is 1% to 100%"
            ))),
        };
    }
    wharf_units::parse_bytes(text)
        .map(|n| n.to_string())
        .map_err(|source| SettingError::Size {
            key: key.to_string(),
            source,
        })
}

/// Where a `volumes_from` entry takes its mounts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumesFromSource {
    /// The first container of a service of the project.
    Service(String),
    /// A container by name or id.
    Container(String),
}

/// A `volumes_from` entry: `SERVICE[:ro|rw]` or `container:NAME[:ro|rw]`
/// → the source and whether its mounts become read-only.
pub fn volumes_from_entry(entry: &str) -> Result<(VolumesFromSource, bool), SettingError> {
    let (rest, is_container) = match entry.strip_prefix("container:") {
        Some(rest) => (rest, true),
        None => (entry, false),
    };
    let (name, mode) = match rest.rsplit_once(':') {
        Some((name, mode)) => (name, Some(mode)),
        None => (rest, None),
    };
    let read_only = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(other) => {
            return Err(SettingError::Invalid(format!(
                "invalid volumes_from mode {other:?} in {entry:?}: use ro or rw"
            )))
        }
    };
    if name.is_empty() {
        return Err(SettingError::Invalid(format!(
            "volumes_from {entry:?} names no {}",
            if is_container { "container" } else { "service" }
        )));
    }
    let source = if is_container {
        VolumesFromSource::Container(name.to_string())
    } else {
        VolumesFromSource::Service(name.to_string())
    };
    Ok((source, read_only))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(text: &str) -> Vec<String> {
        tmpfs_options(text).unwrap().options
    }

    #[test]
    fn tmpfs_sizes_become_bytes_and_modes_octal() {
        assert_eq!(
            options("size=64m,mode=1770"),
            ["size=67108864", "mode=1770"]
        );
        assert_eq!(options("size=1G"), ["size=1073741824"]);
        assert_eq!(options("size=4096"), ["size=4096"]);
        assert_eq!(options("size=50%"), ["size=50%"]);
        assert_eq!(options("mode=0700"), ["mode=700"]);
        assert_eq!(options("uid=1000,gid=1000"), ["uid=1000", "gid=1000"]);
        assert_eq!(options(""), Vec::<String>::new());
        assert_eq!(
            tmpfs_long_options(Some(1 << 20), Some(0o1777)),
            ["size=1048576", "mode=1777"]
        );
    }

    #[test]
    fn tmpfs_last_word_of_a_setting_wins_in_canonical_order() {
        assert_eq!(
            options("mode=755,noexec,size=1k,exec,nosuid,size=2k"),
            ["exec", "nosuid", "size=2048", "mode=755"]
        );
        assert!(tmpfs_options("ro").unwrap().read_only);
        assert!(!tmpfs_options("ro,rw").unwrap().read_only);
        assert_eq!(options("defaults,ro"), Vec::<String>::new());
    }

    #[test]
    fn tmpfs_bad_options_are_named() {
        for (text, says) in [
            ("size=lots", "invalid size \"lots\""),
            ("size=64x", "invalid size \"64x\""),
            ("size=0%", "invalid size"),
            ("mode=999", "invalid mode \"999\""),
            ("mode=17777", "invalid mode"),
            ("uid=bob", "uid \"bob\" is not a number"),
            ("color=red", "unknown option \"color\""),
            ("bind", "unknown option \"bind\""),
            ("mpol=", "invalid mpol"),
        ] {
            let err = tmpfs_options(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        let (target, parsed) = tmpfs_entry("/run:size=1m,ro").unwrap();
        assert_eq!(target, "/run");
        assert_eq!(parsed.options, ["size=1048576"]);
        assert!(parsed.read_only);
        let err = tmpfs_entry("/run:size=x").unwrap_err().to_string();
        assert!(
            err.starts_with("tmpfs \"/run:size=x\": size: invalid size \"x\""),
            "{err}"
        );
    }

    #[test]
    fn volumes_from_entries() {
        use VolumesFromSource::*;
        let entry = |text| volumes_from_entry(text).unwrap();
        assert_eq!(entry("db"), (Service("db".into()), false));
        assert_eq!(entry("db:ro"), (Service("db".into()), true));
        assert_eq!(entry("db:rw"), (Service("db".into()), false));
        assert_eq!(entry("container:data"), (Container("data".into()), false));
        assert_eq!(entry("container:data:ro"), (Container("data".into()), true));
        let err = volumes_from_entry("db:z").unwrap_err().to_string();
        assert!(err.contains("invalid volumes_from mode \"z\""), "{err}");
        assert!(volumes_from_entry("container:").is_err());
        assert!(volumes_from_entry(":ro").is_err());
    }
}
