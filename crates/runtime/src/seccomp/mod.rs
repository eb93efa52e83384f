//! Seccomp: Docker's default profile (same effect, written here as data), Docker's
//! JSON profile format (`security_opt: [seccomp=FILE.json]`), a small compiler to
//! classic BPF and an on-disk cache of compiled programs.
//!
//! Why our own compiler and not `seccompiler`: a Docker profile gives different actions
//! to different rules (ALLOW for most, `ERRNO(ENOSYS)` for clone3 so glibc falls back to
//! clone, the default `ERRNO(EPERM)`, optionally KILL/TRAP/LOG), and seccompiler builds
//! one match action per filter; `seccompiler::apply_filter` also always sets
//! no_new_privs, which Docker does not. The compiler below is a linear dispatch on the
//! syscall number with per-rule 64-bit argument checks: about 800 instructions for the
//! default profile, well under the kernel's 4096. It is unit-tested by running the
//! programs in a BPF interpreter (`tests`).
//!
//! The program is prepared in the parent; the container process only installs it
//! (`install`, allocation-free) while it still holds CAP_SYS_ADMIN, so no_new_privs is
//! needed only when asked.

mod aarch64;
mod default;
#[cfg(test)]
mod tests;
mod unified;
mod x86_64;

use crate::RuntimeError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Which seccomp filter a container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeccompProfile {
    /// Docker's default profile (an allowlist), adjusted to the container's
    /// capabilities as Docker adjusts it.
    #[default]
    Default,
    /// No filter (`seccomp=unconfined`).
    Unconfined,
    /// A profile file in Docker's JSON format (`seccomp=FILE.json`).
    File(PathBuf),
}

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// An architecture filters are compiled for: its system call numbers, the
/// `AUDIT_ARCH_*` value the kernel reports, and its names in Docker profiles.
/// Both tables are always built, so the selection is tested on any host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture this binary runs on, or an error saying the filter cannot
    /// be built here (never a silently unconfined container).
    pub(crate) fn native() -> Result<Arch, RuntimeError> {
        match std::env::consts::ARCH {
            "x86_64" => Ok(Arch::X86_64),
            "aarch64" => Ok(Arch::Aarch64),
            other => Err(RuntimeError::SeccompArchitecture {
                arch: other.to_string(),
            }),
        }
    }

    fn syscalls(self) -> &'static [(&'static str, u32)] {
        match self {
            Arch::X86_64 => x86_64::SYSCALLS,
            Arch::Aarch64 => aarch64::SYSCALLS,
        }
    }

    /// The number of a system call by name on this architecture.
    pub(crate) fn syscall_nr(self, name: &str) -> Option<u32> {
        self.syscalls()
            .iter()
            .chain(unified::SYSCALLS)
            .find(|(n, _)| *n == name)
            .map(|(_, nr)| *nr)
    }

    pub(crate) fn audit_arch(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
        }
    }

    /// Whether a Docker profile's `arches` list names this architecture.
    fn listed_in(self, arches: &[String]) -> bool {
        let names: &[&str] = match self {
            Arch::X86_64 => &["amd64", "x86_64", "SCMP_ARCH_X86_64"],
            Arch::Aarch64 => &["arm64", "aarch64", "SCMP_ARCH_AARCH64"],
        };
        arches.iter().any(|a| names.contains(&a.as_str()))
    }
}

/// Seccomp return values (linux/seccomp.h).
pub(crate) const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub(crate) const RET_KILL_THREAD: u32 = 0;
pub(crate) const RET_TRAP: u32 = 0x0003_0000;
pub(crate) const RET_ERRNO: u32 = 0x0005_0000;
pub(crate) const RET_TRACE: u32 = 0x7ff0_0000;
pub(crate) const RET_LOG: u32 = 0x7ffc_0000;
pub(crate) const RET_ALLOW: u32 = 0x7fff_0000;

/// Comparison of one 64-bit system call argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cond {
    pub arg: u8,
    pub op: Op,
    pub value: u64,
}

/// One rule: all conditions hold (AND) → `action`. Rules of the same syscall are tried
/// in order; when none matches, the default action applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub nr: u32,
    pub conds: Vec<Cond>,
    pub action: u32,
}

/// A filter before compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    pub default_action: u32,
    pub rules: Vec<Rule>,
}

/// A compiled program, ready for `seccomp(SECCOMP_SET_MODE_FILTER)`.
pub(crate) struct Program {
    insns: Vec<libc::sock_filter>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Program({} instructions)", self.insns.len())
    }
}

// ---------------------------------------------------------------- Docker's JSON format

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerProfile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    syscalls: Vec<DockerSyscall>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerSyscall {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    name: Option<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<DockerArg>>,
    #[serde(default)]
    includes: DockerFilter,
    #[serde(default)]
    excludes: DockerFilter,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerArg {
    index: u8,
    value: u64,
    #[serde(default)]
    value_two: u64,
    op: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerFilter {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

fn parse_action(name: &str, errno: Option<u32>, default_errno: u32) -> Result<u32, String> {
    let data = |v: u32| v & 0xffff;
    Ok(match name {
        "SCMP_ACT_ALLOW" => RET_ALLOW,
        "SCMP_ACT_ERRNO" => RET_ERRNO | data(errno.unwrap_or(default_errno)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => RET_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS" => RET_KILL_PROCESS,
        "SCMP_ACT_TRAP" => RET_TRAP,
        "SCMP_ACT_LOG" => RET_LOG,
        "SCMP_ACT_TRACE" => RET_TRACE | data(errno.unwrap_or(0)),
        "SCMP_ACT_NOTIFY" => {
            return Err(
                "action SCMP_ACT_NOTIFY needs a listener, which wharf does not offer".into(),
            )
        }
        other => return Err(format!("unknown action {other:?}")),
    })
}

fn parse_op(a: &DockerArg) -> Result<Cond, String> {
    if a.index > 5 {
        return Err(format!("argument index {} is above 5", a.index));
    }
    let (op, value) = match a.op.as_str() {
        "SCMP_CMP_EQ" => (Op::Eq, a.value),
        "SCMP_CMP_NE" => (Op::Ne, a.value),
        "SCMP_CMP_LT" => (Op::Lt, a.value),
        "SCMP_CMP_LE" => (Op::Le, a.value),
        "SCMP_CMP_GT" => (Op::Gt, a.value),
        "SCMP_CMP_GE" => (Op::Ge, a.value),
        // Docker: value is the mask, valueTwo the expected result.
        "SCMP_CMP_MASKED_EQ" => (Op::MaskedEq(a.value), a.value_two),
        other => return Err(format!("unknown comparison {other:?}")),
    };
    Ok(Cond {
        arg: a.index,
        op,
        value,
    })
}

/// (major, minor) of the running kernel.
fn kernel_version() -> (u32, u32) {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_version(&release).unwrap_or((0, 0))
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let mut it = s.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Why a Docker seccomp profile cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Not JSON of the profile's shape.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// An entry names an action, comparison, capability or kernel that does not exist.
    #[error("{at}: {reason}")]
    Entry {
        /// Where in the profile: `defaultAction`, `syscalls[3]`.
        at: String,
        reason: String,
    },
}

/// Turn a Docker JSON profile into a filter for a container holding `caps`, with the
/// semantics of Docker and runc: `includes` needs every listed capability, `excludes`
/// drops a rule when any listed capability is held; names unknown on this architecture
/// are skipped; several conditions on one argument make one rule each (OR), otherwise
/// the conditions of an entry are ANDed.
pub(crate) fn parse_docker_profile(
    arch: Arch,
    json: &[u8],
    caps: u64,
) -> Result<Filter, ProfileError> {
    let p: DockerProfile = serde_json::from_slice(json)?;
    let default_errno = p.default_errno_ret.unwrap_or(libc::EPERM as u32);
    let default_action =
        parse_action(&p.default_action, p.default_errno_ret, 1).map_err(|reason| {
            ProfileError::Entry {
                at: "defaultAction".into(),
                reason,
            }
        })?;
    let kernel = kernel_version();
    let mut rules = Vec::new();
    for (i, s) in p.syscalls.iter().enumerate() {
        let ctx = |reason: String| ProfileError::Entry {
            at: format!("syscalls[{i}]"),
            reason,
        };
        let action = parse_action(&s.action, s.errno_ret, default_errno).map_err(ctx)?;
        let caps_held = |names: &[String]| -> Result<Vec<bool>, String> {
            names
                .iter()
                .map(|n| {
                    crate::caps::cap_number(n)
                        .map(|c| caps & (1 << c) != 0)
                        .ok_or_else(|| format!("unknown capability {n:?}"))
                })
                .collect()
        };
        if let Some(need) = &s.includes.caps {
            if !caps_held(need).map_err(ctx)?.iter().all(|h| *h) {
                continue;
            }
        }
        if let Some(arches) = &s.includes.arches {
            if !arches.is_empty() && !arch.listed_in(arches) {
                continue;
            }
        }
        if let Some(min) = &s.includes.min_kernel {
            let want = parse_version(min).ok_or_else(|| ctx(format!("bad minKernel {min:?}")))?;
            if kernel < want {
                continue;
            }
        }
        if let Some(not) = &s.excludes.caps {
            if caps_held(not).map_err(ctx)?.iter().any(|h| *h) {
                continue;
            }
        }
        if let Some(arches) = &s.excludes.arches {
            if arch.listed_in(arches) {
                continue;
            }
        }
        let conds = s
            .args
            .iter()
            .flatten()
            .map(parse_op)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ctx)?;
        let repeated = conds
            .iter()
            .enumerate()
            .any(|(j, c)| conds[..j].iter().any(|d| d.arg == c.arg));
        let groups: Vec<Vec<Cond>> = if repeated {
            conds.iter().map(|c| vec![*c]).collect()
        } else {
            vec![conds]
        };
        for name in s.names.iter().chain(s.name.iter()) {
            let Some(nr) = arch.syscall_nr(name) else {
                continue;
            };
            for g in &groups {
                rules.push(Rule {
                    nr,
                    conds: g.clone(),
                    action,
                });
            }
        }
    }
    Ok(Filter {
        default_action,
        rules,
    })
}

/// Parse a Docker JSON profile for a container holding `caps` and compile it for
/// every supported architecture, as `seccomp=FILE.json` is at container start,
/// without installing anything. The entry point of the profile fuzz target.
#[doc(hidden)]
pub fn check_docker_profile(json: &[u8], caps: u64) -> Result<(), String> {
    for arch in [Arch::X86_64, Arch::Aarch64] {
        parse_docker_profile(arch, json, caps)
            .map_err(|e| e.to_string())?
            .compile(arch)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

// ---------------------------------------------------------------- compiler

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const ALU_AND_K: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// Where a conditional jump goes inside one rule's code.
#[derive(Clone, Copy)]
enum T {
    /// Skip this many instructions (0 = the next one).
    Skip(u8),
    /// To the next rule (the condition failed).
    Fail,
}

struct Ins {
    code: u16,
    jt: T,
    jf: T,
    k: u32,
}

fn stmt(code: u16, k: u32) -> Ins {
    Ins {
        code,
        jt: T::Skip(0),
        jf: T::Skip(0),
        k,
    }
}

fn jump(code: u16, k: u32, jt: T, jf: T) -> Ins {
    Ins { code, jt, jf, k }
}

/// Code that falls through when `c` holds and jumps to `Fail` otherwise.
fn cond_code(c: &Cond, out: &mut Vec<Ins>) {
    let lo_off = OFF_ARGS + 8 * u32::from(c.arg);
    let hi_off = lo_off + 4;
    let (vlo, vhi) = (c.value as u32, (c.value >> 32) as u32);
    let ld = |off| stmt(LD_W_ABS, off);
    use T::{Fail, Skip};
    match c.op {
        Op::Eq => out.extend([
            ld(hi_off),
            jump(JEQ, vhi, Skip(0), Fail),
            ld(lo_off),
            jump(JEQ, vlo, Skip(0), Fail),
        ]),
        Op::Ne => out.extend([
            ld(hi_off),
            jump(JEQ, vhi, Skip(0), Skip(2)),
            ld(lo_off),
            jump(JEQ, vlo, Fail, Skip(0)),
        ]),
        Op::MaskedEq(mask) => out.extend([
            ld(hi_off),
            stmt(ALU_AND_K, (mask >> 32) as u32),
            jump(JEQ, vhi, Skip(0), Fail),
            ld(lo_off),
            stmt(ALU_AND_K, mask as u32),
            jump(JEQ, vlo, Skip(0), Fail),
        ]),
        // hi > vhi: true; hi == vhi: decide on lo; hi < vhi: false.
        Op::Gt | Op::Ge => out.extend([
            ld(hi_off),
            jump(JGT, vhi, Skip(3), Skip(0)),
            jump(JEQ, vhi, Skip(0), Fail),
            ld(lo_off),
            jump(if c.op == Op::Gt { JGT } else { JGE }, vlo, Skip(0), Fail),
        ]),
        // hi > vhi: false; hi < vhi: true; equal: decide on lo.
        Op::Lt | Op::Le => out.extend([
            ld(hi_off),
            jump(JGT, vhi, Fail, Skip(0)),
            jump(JEQ, vhi, Skip(0), Skip(2)),
            ld(lo_off),
            jump(if c.op == Op::Lt { JGE } else { JGT }, vlo, Fail, Skip(0)),
        ]),
    }
}

fn raw(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

impl Filter {
    /// Compile to classic BPF: check the architecture (x32 and foreign ABIs are killed,
    /// as libseccomp does for architectures a profile does not cover), dispatch on the
    /// syscall number, then try the syscall's rules in order.
    pub(crate) fn compile(&self, arch: Arch) -> Result<Program, RuntimeError> {
        let mut nrs: Vec<u32> = self.rules.iter().map(|r| r.nr).collect();
        nrs.sort_unstable();
        nrs.dedup();
        // One block per syscall: its rules, then the default action.
        let mut blocks: Vec<Vec<libc::sock_filter>> = Vec::new();
        for nr in &nrs {
            let mut block = Vec::new();
            for rule in self.rules.iter().filter(|r| r.nr == *nr) {
                let mut code = Vec::new();
                for c in &rule.conds {
                    cond_code(c, &mut code);
                }
                code.push(stmt(RET_K, rule.action));
                let len = code.len();
                for (i, ins) in code.iter().enumerate() {
                    // Fail goes to the first instruction after this rule.
                    let resolve = |t: T| -> Result<u8, RuntimeError> {
                        let n = match t {
                            T::Skip(n) => usize::from(n),
                            T::Fail => len - i - 1,
                        };
                        u8::try_from(n)
                            .map_err(|_| RuntimeError::SeccompRuleTooLarge { syscall: *nr })
                    };
                    block.push(raw(ins.code, resolve(ins.jt)?, resolve(ins.jf)?, ins.k));
                }
            }
            block.push(raw(RET_K, 0, 0, self.default_action));
            blocks.push(block);
        }
        let mut p = vec![
            raw(LD_W_ABS, 0, 0, OFF_ARCH),
            raw(JEQ, 1, 0, arch.audit_arch()),
            raw(RET_K, 0, 0, RET_KILL_PROCESS),
            raw(LD_W_ABS, 0, 0, OFF_NR),
        ];
        if arch == Arch::X86_64 {
            // x32 system calls share the x86_64 audit arch, told apart by this bit.
            p.push(raw(JGE, 0, 1, X32_SYSCALL_BIT));
            p.push(raw(RET_K, 0, 0, RET_KILL_PROCESS));
        }
        // Dispatch table: `jeq nr; ja block` pairs, then the default action.
        let dispatch_len = 2 * nrs.len() + 1;
        let mut offset = 0usize;
        for (i, nr) in nrs.iter().enumerate() {
            p.push(raw(JEQ, 0, 1, *nr));
            let after_ja = 2 * i + 2;
            p.push(raw(JA, 0, 0, (dispatch_len - after_ja + offset) as u32));
            offset += blocks[i].len();
        }
        p.push(raw(RET_K, 0, 0, self.default_action));
        for b in blocks {
            p.extend(b);
        }
        if p.len() > libc::BPF_MAXINSNS as usize {
            return Err(RuntimeError::SeccompTooLarge {
                instructions: p.len(),
                limit: libc::BPF_MAXINSNS as u32,
            });
        }
        Ok(Program { insns: p })
    }
}

impl Program {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.insns.len() * 8);
        for i in &self.insns {
            out.extend_from_slice(&i.code.to_le_bytes());
            out.push(i.jt);
            out.push(i.jf);
            out.extend_from_slice(&i.k.to_le_bytes());
        }
        out
    }

    fn from_bytes(b: &[u8]) -> Option<Program> {
        if b.is_empty() || b.len() & 7 != 0 || b.len() / 8 > libc::BPF_MAXINSNS as usize {
            return None;
        }
        let insns = b
            .chunks_exact(8)
            .map(|c| {
                raw(
                    u16::from_le_bytes([c[0], c[1]]),
                    c[2],
                    c[3],
                    u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect();
        Some(Program { insns })
    }

    #[cfg(test)]
    pub(crate) fn insns(&self) -> &[libc::sock_filter] {
        &self.insns
    }

    /// Install the filter on the calling thread. Allocation-free; without
    /// no_new_privs the caller must hold CAP_SYS_ADMIN. Returns the errno on failure.
    pub(crate) fn install(&self) -> Result<(), i32> {
        let prog = libc::sock_fprog {
            len: self.insns.len() as libc::c_ushort,
            filter: self.insns.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prog points at a valid program of `len` instructions that outlives
        // the call; the kernel copies it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0u32,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            Err(crate::sys::errno())
        } else {
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- preparing, with cache

/// Bump when the compiler's output changes, so old cache entries are not used.
const CACHE_FORMAT: &str = "wharf-seccomp-bpf-1";

/// The compiled program for `profile` and a container holding `caps`, or `None` for
/// `Unconfined`. With `cache_dir`, programs are stored as `<sha256>.bpf` keyed by the
/// format version, architecture, capabilities and the profile's content, written
/// atomically; a cache that cannot be written is not an error (the program is used
/// anyway), a profile file that cannot be read or parsed is.
pub(crate) fn prepare(
    profile: &SeccompProfile,
    caps: u64,
    cache_dir: Option<&Path>,
) -> Result<Option<Program>, RuntimeError> {
    let (source, content): (&str, Vec<u8>) = match profile {
        SeccompProfile::Unconfined => return Ok(None),
        SeccompProfile::Default => ("default", Vec::new()),
        SeccompProfile::File(path) => (
            "file",
            std::fs::read(path).map_err(|e| RuntimeError::io("read seccomp profile", path, e))?,
        ),
    };
    let arch = Arch::native()?;
    let key = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(CACHE_FORMAT);
        h.update(std::env::consts::ARCH);
        h.update(source);
        h.update(caps.to_le_bytes());
        let (major, minor) = kernel_version();
        h.update(major.to_le_bytes());
        h.update(minor.to_le_bytes());
        h.update(&content);
        hex_string(&h.finalize())
    };
    let cached = cache_dir.map(|d| d.join(format!("{key}.bpf")));
    if let Some(file) = &cached {
        if let Some(p) = std::fs::read(file)
            .ok()
            .and_then(|b| Program::from_bytes(&b))
        {
            return Ok(Some(p));
        }
    }
    let filter = match profile {
        SeccompProfile::File(path) => {
            parse_docker_profile(arch, &content, caps).map_err(|source| {
                RuntimeError::SeccompProfile {
                    path: path.clone(),
                    source,
                }
            })?
        }
        _ => default::profile(arch, caps),
    };
    let program = filter.compile(arch)?;
    if let Some(file) = &cached {
        let _ = write_atomically(file, &program.to_bytes());
    }
    Ok(Some(program))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file.file_name().and_then(|n| n.to_str()).unwrap_or("bpf"),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, file)
}
