use super::*;

/// Run `program` as the kernel would for one device access, supporting exactly
/// the instructions [`compile`] emits; panics on anything else, on a jump out of
/// the program or on falling off its end.
fn interpret(program: &[Insn], kind: DeviceType, major: u32, minor: u32, acc: u8) -> u64 {
    let kind_bits = match kind {
        DeviceType::Char => DEV_CHAR as u32,
        DeviceType::Block => DEV_BLOCK as u32,
        DeviceType::All => panic!("an access is on a char or block node"),
    };
    let ctx = [(u32::from(acc) << 16) | kind_bits, major, minor];
    let mut regs = [0u64; 11];
    let mut ctx_valid = true;
    let mut pc = 0usize;
    for _ in 0..program.len() {
        let i = program
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} out of range"));
        let (dst, src) = (usize::from(i.dst), usize::from(i.src));
        pc += 1;
        match i.code {
            op::LDX_W => {
                assert!(
                    src == usize::from(reg::CTX) && ctx_valid,
                    "loads only from the context"
                );
                assert!(
                    i.off % 4 == 0 && (0..12).contains(&i.off),
                    "offset {}",
                    i.off
                );
                regs[dst] = u64::from(ctx[i.off as usize / 4]);
            }
            op::MOV_K => regs[dst] = i.imm as i64 as u64,
            op::MOV_X => regs[dst] = regs[src],
            op::AND_K => regs[dst] &= i.imm as i64 as u64,
            op::RSH_K => regs[dst] >>= i.imm,
            op::JNE_K => {
                if regs[dst] != i.imm as i64 as u64 {
                    assert!(i.off >= 0, "only forward jumps");
                    pc += i.off as usize;
                }
            }
            op::EXIT => return regs[usize::from(reg::RET)],
            other => panic!("unexpected opcode {other:#x}"),
        }
        if dst == usize::from(reg::CTX) && i.code != op::LDX_W {
            ctx_valid = false;
        }
    }
    panic!("program did not exit")
}

fn decide(rules: &[DeviceRule], kind: DeviceType, major: u32, minor: u32, acc: u8) -> bool {
    rules.iter().any(|r| r.allows(kind, major, minor, acc))
}

fn extra(kind: DeviceType, major: u32, minor: u32, text: &str) -> DeviceRule {
    DeviceRule {
        kind,
        major: Some(major),
        minor: Some(minor),
        access: DeviceRule::parse_access(text).unwrap(),
    }
}

/// Every combination of access bits (the empty one too) on a spread of devices.
fn accesses() -> Vec<(DeviceType, u32, u32, u8)> {
    let devices = [
        (DeviceType::Char, 1, 3),
        (DeviceType::Char, 1, 4),
        (DeviceType::Char, 1, 9),
        (DeviceType::Char, 5, 0),
        (DeviceType::Char, 5, 1),
        (DeviceType::Char, 5, 2),
        (DeviceType::Char, 5, 3),
        (DeviceType::Char, 10, 200),
        (DeviceType::Char, 10, 237),
        (DeviceType::Char, 136, 0),
        (DeviceType::Char, 136, 1_048_575),
        (DeviceType::Char, 4095, 7),
        (DeviceType::Block, 1, 3),
        (DeviceType::Block, 7, 0),
        (DeviceType::Block, 8, 0),
        (DeviceType::Block, 136, 4),
    ];
    let mut out = Vec::new();
    for (kind, major, minor) in devices {
        for acc in 0..=access::ALL {
            out.push((kind, major, minor, acc));
        }
    }
    out
}

fn assert_same_decisions(rules: &[DeviceRule]) {
    let program = compile(rules);
    for (kind, major, minor, acc) in accesses() {
        let want = decide(rules, kind, major, minor, acc);
        let got = interpret(&program, kind, major, minor, acc);
        assert_eq!(
            got,
            u64::from(want),
            "{kind:?} {major}:{minor} access {acc:#b} with rules {:?}",
            rules.iter().map(|r| r.to_string()).collect::<Vec<_>>()
        );
    }
}

#[test]
fn default_rules_render_as_the_v1_allow_lines() {
    let lines: Vec<String> = DEFAULT_DEVICE_RULES.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        lines,
        [
            "c *:* m",
            "b *:* m",
            "c 1:3 rwm",
            "c 1:5 rwm",
            "c 1:7 rwm",
            "c 1:8 rwm",
            "c 1:9 rwm",
            "c 5:0 rwm",
            "c 5:1 rwm",
            "c 5:2 rwm",
            "c 136:* rwm",
        ]
    );
    assert_eq!(DeviceRule::ALLOW_ALL.to_string(), "a");
    assert_eq!(extra(DeviceType::Block, 7, 0, "wr").to_string(), "b 7:0 rw");
}

#[test]
fn access_strings_are_made_of_r_w_and_m() {
    assert_eq!(DeviceRule::parse_access("rwm"), Some(access::ALL));
    assert_eq!(
        DeviceRule::parse_access("mr"),
        Some(access::MKNOD | access::READ)
    );
    assert_eq!(DeviceRule::parse_access(""), None);
    assert_eq!(DeviceRule::parse_access("rx"), None);
}

#[test]
fn the_default_program_decides_as_the_rule_table() {
    assert_same_decisions(&DEFAULT_DEVICE_RULES);
    let program = compile(&DEFAULT_DEVICE_RULES);
    let yes = |k, ma, mi, a| interpret(&program, k, ma, mi, a) == 1;
    use access::*;
    assert!(yes(DeviceType::Block, 8, 0, MKNOD), "mknod of a disk");
    assert!(!yes(DeviceType::Block, 8, 0, READ), "reading a disk");
    assert!(!yes(DeviceType::Block, 8, 0, MKNOD | READ));
    assert!(yes(DeviceType::Char, 1, 3, READ | WRITE), "/dev/null");
    assert!(yes(DeviceType::Char, 136, 12, READ | WRITE), "a pty");
    assert!(
        !yes(DeviceType::Char, 10, 200, READ),
        "tun is not a default"
    );
    assert!(!yes(DeviceType::Block, 1, 3, READ), "block 1:3 is not null");
}

#[test]
fn extra_rules_and_allow_all_decide_as_the_rule_table() {
    let mut rules = DEFAULT_DEVICE_RULES.to_vec();
    rules.push(extra(DeviceType::Char, 10, 237, "rw"));
    rules.push(extra(DeviceType::Block, 7, 0, "r"));
    rules.push(DeviceRule {
        kind: DeviceType::Char,
        major: Some(4095),
        minor: None,
        access: access::WRITE,
    });
    assert_same_decisions(&rules);
    assert_same_decisions(&[DeviceRule::ALLOW_ALL]);
    assert_same_decisions(&[]);
    let all = compile(&[DeviceRule::ALLOW_ALL]);
    assert_eq!(interpret(&all, DeviceType::Block, 8, 0, access::ALL), 1);
}

#[test]
fn program_shape_is_as_small_as_the_rules_need() {
    // Prologue (6) + per rule: one jump per fixed field, three for a partial access,
    // then return 1 (2); epilogue return 0 (2).
    assert_eq!(compile(&[]).len(), 8);
    assert_eq!(compile(&[DeviceRule::ALLOW_ALL]).len(), 8);
    let mut privileged = DEFAULT_DEVICE_RULES.to_vec();
    privileged.push(DeviceRule::ALLOW_ALL);
    privileged.push(DEFAULT_DEVICE_RULES[2]);
    assert_eq!(
        compile(&privileged).len(),
        64 - 2 + 2,
        "nothing after allow-all"
    );
    assert_same_decisions(&privileged);
    assert_eq!(
        compile(&DEFAULT_DEVICE_RULES[..1]).len(),
        6 + (1 + 3 + 2) + 2
    );
    assert_eq!(compile(&DEFAULT_DEVICE_RULES[2..3]).len(), 6 + (3 + 2) + 2);
    assert_eq!(
        compile(&DEFAULT_DEVICE_RULES).len(),
        6 + 2 * 6 + 8 * 5 + 4 + 2
    );
    for rules in [
        &DEFAULT_DEVICE_RULES[..],
        &[DeviceRule::ALLOW_ALL][..],
        &privileged[..],
        &[][..],
    ] {
        let program = compile(rules);
        assert_eq!(program.last().unwrap().code, op::EXIT);
        assert_eq!(unreachable(&program), Vec::<usize>::new(), "{rules:?}");
        for (pc, i) in program.iter().enumerate() {
            if i.code == op::JNE_K {
                let target = pc as i64 + 1 + i64::from(i.off);
                assert!(
                    i.off >= 0 && (target as usize) < program.len(),
                    "jump at {pc} to {target} out of range"
                );
                // A jump never lands inside the block it leaves: the next
                // instruction there is a block start (a check or the epilogue).
                let prev = &program[target as usize - 1];
                assert_eq!(prev.code, op::EXIT, "jump at {pc} lands mid-block");
            }
        }
    }
}

/// Instructions no path from the entry reaches (the verifier refuses them).
fn unreachable(program: &[Insn]) -> Vec<usize> {
    let mut seen = vec![false; program.len()];
    let mut todo = vec![0usize];
    while let Some(pc) = todo.pop() {
        if pc >= program.len() || seen[pc] {
            continue;
        }
        seen[pc] = true;
        match program[pc].code {
            op::EXIT => {}
            op::JNE_K => {
                todo.push(pc + 1);
                todo.push((pc as i64 + 1 + i64::from(program[pc].off)) as usize);
            }
            _ => todo.push(pc + 1),
        }
    }
    (0..program.len()).filter(|pc| !seen[*pc]).collect()
}

#[test]
fn encoding_is_the_kernels_struct_layout() {
    let i = Insn {
        code: op::JNE_K,
        dst: reg::MAJOR,
        src: 0,
        off: 3,
        imm: 136,
    };
    let bytes = i.encode();
    assert_eq!(bytes[0], 0x55);
    assert_eq!(bytes[1], 0x04);
    assert_eq!(i16::from_ne_bytes([bytes[2], bytes[3]]), 3);
    assert_eq!(
        i32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
        136
    );
    let ld = Insn {
        code: op::LDX_W,
        dst: reg::MINOR,
        src: reg::CTX,
        off: 8,
        imm: 0,
    };
    assert_eq!(
        ld.encode()[1],
        if cfg!(target_endian = "little") {
            0x15
        } else {
            0x51
        }
    );
}
