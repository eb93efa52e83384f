//! Device access rules, one table for both hierarchies: written to `devices.allow`
//! on cgroup v1, compiled to a `BPF_PROG_TYPE_CGROUP_DEVICE` program on v2.
//!
//! The semantics are the v1 controller's with a deny-all default: an access is
//! allowed when one rule matches its type, major and minor and grants every bit of
//! the access asked for (an `open(O_RDWR)` asks for read and write at once).

use std::fmt;

/// What kind of device node a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// Character and block devices (`a`).
    All,
    Char,
    Block,
}

/// Access bits, numbered as the kernel passes them to a device program
/// (`BPF_DEVCG_ACC_*`).
pub mod access {
    pub const MKNOD: u8 = 1;
    pub const READ: u8 = 2;
    pub const WRITE: u8 = 4;
    pub const ALL: u8 = MKNOD | READ | WRITE;
}

/// One allow rule: `c 1:3 rwm`, `b *:* m`, or `a` (everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    pub kind: DeviceType,
    /// `None` is `*`.
    pub major: Option<u32>,
    /// `None` is `*`.
    pub minor: Option<u32>,
    /// Bits of [`access`].
    pub access: u8,
}

impl DeviceRule {
    /// Every device, every access (privileged containers).
    pub const ALLOW_ALL: DeviceRule = DeviceRule {
        kind: DeviceType::All,
        major: None,
        minor: None,
        access: access::ALL,
    };

    const fn char(major: u32, minor: Option<u32>) -> Self {
        DeviceRule {
            kind: DeviceType::Char,
            major: Some(major),
            minor,
            access: access::ALL,
        }
    }

    /// Parse an access string made of `r`, `w` and `m` (empty is not allowed).
    pub fn parse_access(text: &str) -> Option<u8> {
        if text.is_empty() {
            return None;
        }
        text.chars().try_fold(0u8, |bits, c| match c {
            'r' => Some(bits | access::READ),
            'w' => Some(bits | access::WRITE),
            'm' => Some(bits | access::MKNOD),
            _ => None,
        })
    }

    /// Whether this rule allows `access` on a node of `kind` (`Char` or `Block`).
    pub fn allows(&self, kind: DeviceType, major: u32, minor: u32, access: u8) -> bool {
        (self.kind == DeviceType::All || self.kind == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && access & !self.access == 0
    }
}

/// The v1 `devices.allow` line of the rule.
impl fmt::Display for DeviceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == DeviceRule::ALLOW_ALL {
            return f.write_str("a");
        }
        let kind = match self.kind {
            DeviceType::All => 'a',
            DeviceType::Char => 'c',
            DeviceType::Block => 'b',
        };
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let mut bits = String::new();
        for (bit, c) in [
            (access::READ, 'r'),
            (access::WRITE, 'w'),
            (access::MKNOD, 'm'),
        ] {
            if self.access & bit != 0 {
                bits.push(c);
            }
        }
        write!(
            f,
            "{kind} {}:{} {bits}",
            number(self.major),
            number(self.minor)
        )
    }
}

/// Docker's default device rules: mknod of any node, and read/write/mknod of
/// null, zero, full, random, urandom, tty, console, ptmx and the ptys.
pub const DEFAULT_DEVICE_RULES: [DeviceRule; 11] = [
    DeviceRule {
        kind: DeviceType::Char,
        major: None,
        minor: None,
        access: access::MKNOD,
    },
    DeviceRule {
        kind: DeviceType::Block,
        major: None,
        minor: None,
        access: access::MKNOD,
    },
    DeviceRule::char(1, Some(3)),
    DeviceRule::char(1, Some(5)),
    DeviceRule::char(1, Some(7)),
    DeviceRule::char(1, Some(8)),
    DeviceRule::char(1, Some(9)),
    DeviceRule::char(5, Some(0)),
    DeviceRule::char(5, Some(1)),
    DeviceRule::char(5, Some(2)),
    DeviceRule::char(136, None),
];

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The kernel's 8-byte encoding (registers in one byte, in bit-field order).
    pub(crate) fn encode(&self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") {
            (self.src << 4) | (self.dst & 0x0f)
        } else {
            (self.dst << 4) | (self.src & 0x0f)
        };
        let off = self.off.to_ne_bytes();
        let imm = self.imm.to_ne_bytes();
        [
            self.code, regs, off[0], off[1], imm[0], imm[1], imm[2], imm[3],
        ]
    }
}

/// The opcodes the compiler emits.
pub(crate) mod op {
    /// `dst = *(u32 *)(src + off)`
    pub const LDX_W: u8 = 0x61;
    /// `dst = imm`
    pub const MOV_K: u8 = 0xb7;
    /// `dst = src`
    pub const MOV_X: u8 = 0xbf;
    /// `dst &= imm`
    pub const AND_K: u8 = 0x57;
    /// `dst >>= imm`
    pub const RSH_K: u8 = 0x77;
    /// `if dst != imm goto pc + 1 + off`
    pub const JNE_K: u8 = 0x55;
    /// `return r0`
    pub const EXIT: u8 = 0x95;
}

/// Registers of the program: the context pointer on entry (then scratch), and
/// the fields of `struct bpf_cgroup_dev_ctx` loaded once.
pub(crate) mod reg {
    pub const RET: u8 = 0;
    pub const CTX: u8 = 1;
    pub const TYPE: u8 = 2;
    pub const ACCESS: u8 = 3;
    pub const MAJOR: u8 = 4;
    pub const MINOR: u8 = 5;
}

/// `BPF_DEVCG_DEV_*`: the device type in the low 16 bits of `access_type`.
pub(crate) const DEV_BLOCK: i32 = 1;
pub(crate) const DEV_CHAR: i32 = 2;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        dst,
        src,
        off,
        imm,
    }
}

/// Compile `rules` (deny unless one allows) into a cgroup device program.
///
/// Each rule is a block of checks that jump past the block on a mismatch and
/// end in `return 1`; after the last block, `return 0`. Code after a rule that
/// checks nothing (allow all) is left out.
pub(crate) fn compile(rules: &[DeviceRule]) -> Vec<Insn> {
    use op::*;
    use reg::*;
    let mut program = vec![
        insn(LDX_W, TYPE, CTX, 0, 0),
        insn(MOV_X, ACCESS, TYPE, 0, 0),
        insn(AND_K, TYPE, 0, 0, 0xffff),
        insn(RSH_K, ACCESS, 0, 0, 16),
        insn(LDX_W, MAJOR, CTX, 4, 0),
        insn(LDX_W, MINOR, CTX, 8, 0),
    ];
    for rule in rules {
        // Each check is (instructions before the jump, register, value); the jump
        // goes to the end of the block.
        let mut checks: Vec<(Vec<Insn>, u8, i32)> = Vec::new();
        match rule.kind {
            DeviceType::All => {}
            DeviceType::Char => checks.push((vec![], TYPE, DEV_CHAR)),
            DeviceType::Block => checks.push((vec![], TYPE, DEV_BLOCK)),
        }
        // Majors are 12 bits and minors 20 bits: both fit an i32 immediate.
        if let Some(major) = rule.major {
            checks.push((vec![], MAJOR, major as i32));
        }
        if let Some(minor) = rule.minor {
            checks.push((vec![], MINOR, minor as i32));
        }
        let access = rule.access & access::ALL;
        if access != access::ALL {
            let denied_bits = i32::from(!access & access::ALL);
            checks.push((
                vec![
                    insn(MOV_X, CTX, ACCESS, 0, 0),
                    insn(AND_K, CTX, 0, 0, denied_bits),
                ],
                CTX,
                0,
            ));
        }
        let block_len: usize = checks
            .iter()
            .map(|(pre, _, _)| pre.len() + 1)
            .sum::<usize>()
            + 2;
        let mut emitted = 0;
        for (pre, register, value) in checks {
            emitted += pre.len() + 1;
            program.extend(pre);
            let skip = (block_len - emitted) as i16;
            program.push(insn(JNE_K, register, 0, skip, value));
        }
        program.push(insn(MOV_K, RET, 0, 0, 1));
        program.push(insn(EXIT, 0, 0, 0, 0));
        if block_len == 2 {
            // A rule that allows everything: nothing after it is reachable, and the
            // verifier refuses unreachable instructions.
            return program;
        }
    }
    program.push(insn(op::MOV_K, reg::RET, 0, 0, 0));
    program.push(insn(op::EXIT, 0, 0, 0, 0));
    program
}

#[cfg(test)]
#[path = "devices_tests.rs"]
mod tests;
