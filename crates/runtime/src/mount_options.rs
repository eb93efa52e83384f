//! Mount options as `mount(8)` writes them (`noexec`, `size=64m`, `rslave`)
//! → the flags, file-system data and propagation the mount system calls
//! take. Parsed by the parent; the child only uses the numbers.

use crate::RuntimeError;
use libc::c_ulong;

/// What a list of options asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags to set (`MS_NOEXEC`, …).
    pub set: c_ulong,
    /// Flags to clear from the defaults (`exec` clears `MS_NOEXEC`).
    pub clear: c_ulong,
    /// `key=value` options, comma-separated, for the file system.
    pub data: String,
    /// `MS_SLAVE`, `MS_PRIVATE`, … (with `MS_REC` for the `r` forms); 0 when unset.
    pub propagation: c_ulong,
}

/// (word, flag, whether the word sets the flag rather than clears it).
const FLAGS: [(&str, c_ulong, bool); 20] = [
    ("ro", libc::MS_RDONLY, true),
    ("rw", libc::MS_RDONLY, false),
    ("noexec", libc::MS_NOEXEC, true),
    ("exec", libc::MS_NOEXEC, false),
    ("nosuid", libc::MS_NOSUID, true),
    ("suid", libc::MS_NOSUID, false),
    ("nodev", libc::MS_NODEV, true),
    ("dev", libc::MS_NODEV, false),
    ("sync", libc::MS_SYNCHRONOUS, true),
    ("async", libc::MS_SYNCHRONOUS, false),
    ("dirsync", libc::MS_DIRSYNC, true),
    ("noatime", libc::MS_NOATIME, true),
    ("atime", libc::MS_NOATIME, false),
    ("nodiratime", libc::MS_NODIRATIME, true),
    ("diratime", libc::MS_NODIRATIME, false),
    ("relatime", libc::MS_RELATIME, true),
    ("norelatime", libc::MS_RELATIME, false),
    ("strictatime", libc::MS_STRICTATIME, true),
    ("nostrictatime", libc::MS_STRICTATIME, false),
    ("defaults", 0, true),
];

const PROPAGATION: [(&str, c_ulong); 6] = [
    ("private", libc::MS_PRIVATE),
    ("rprivate", libc::MS_PRIVATE | libc::MS_REC),
    ("slave", libc::MS_SLAVE),
    ("rslave", libc::MS_SLAVE | libc::MS_REC),
    ("shared", libc::MS_SHARED),
    ("rshared", libc::MS_SHARED | libc::MS_REC),
];

/// Parse `options` in order (a later word of a pair wins).
pub(crate) fn parse(options: &[String]) -> Result<MountOptions, RuntimeError> {
    let mut out = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for word in options.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
        if let Some((_, flag, sets)) = FLAGS.iter().find(|(name, ..)| *name == word) {
            if *sets {
                out.set |= flag;
                out.clear &= !flag;
            } else {
                out.set &= !flag;
                out.clear |= flag;
            }
        } else if let Some((_, propagation)) = PROPAGATION.iter().find(|(name, _)| *name == word) {
            out.propagation = *propagation;
        } else if word.contains('=') && !word.contains(['\0', ',']) {
            data.push(word);
        } else {
            return Err(RuntimeError::UnknownMountOption {
                option: word.to_string(),
            });
        }
    }
    out.data = data.join(",");
    Ok(out)
}

/// Whether `propagation` makes the mount receive the host's mount events.
pub(crate) fn is_slave(propagation: c_ulong) -> bool {
    propagation & libc::MS_SLAVE != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn flags_data_and_propagation() {
        let parsed = parse(&words(&["noexec", "size=65536", "mode=1770", "nosuid"])).unwrap();
        assert_eq!(parsed.set, libc::MS_NOEXEC | libc::MS_NOSUID);
        assert_eq!(parsed.clear, 0);
        assert_eq!(parsed.data, "size=65536,mode=1770");
        assert_eq!(parsed.propagation, 0);
        let parsed = parse(&words(&["noexec", "exec", "rslave"])).unwrap();
        assert_eq!(parsed.set, 0);
        assert_eq!(parsed.clear, libc::MS_NOEXEC);
        assert_eq!(parsed.propagation, libc::MS_SLAVE | libc::MS_REC);
        assert!(is_slave(parsed.propagation));
        assert!(!is_slave(parse(&words(&["rprivate"])).unwrap().propagation));
        assert!(parse(&words(&["bogus"])).is_err());
        assert!(parse(&words(&["a=b\0"])).is_err());
    }
}
