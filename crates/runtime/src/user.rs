//! Resolve a Docker `user:` string ("uid", "uid:gid", "name", "name:group", or empty for
//! root) against a container's /etc/passwd and /etc/group, the way runc does.
//!
//! The code works on byte slices with fixed-size results and never allocates, because
//! it runs in the container process after clone/fork, where the root is the container's.

/// At most this many supplementary groups are kept.
pub const MAX_GROUPS: usize = 64;
const HOME_MAX: usize = 512;

/// The ids a container process runs with.
#[derive(Clone)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    sgids: [u32; MAX_GROUPS],
    n_sgids: usize,
    home: [u8; HOME_MAX],
    home_len: usize,
}

impl std::fmt::Debug for ExecUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecUser")
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("sgids", &self.sgids())
            .field("home", &String::from_utf8_lossy(self.home()))
            .finish()
    }
}

impl ExecUser {
    /// Supplementary groups (only when the group was not given explicitly).
    pub fn sgids(&self) -> &[u32] {
        &self.sgids[..self.n_sgids]
    }

    /// Home directory from passwd, `/` when the user has no entry.
    pub fn home(&self) -> &[u8] {
        &self.home[..self.home_len]
    }
}

/// Why `group_add` cannot be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAddError<'a> {
    /// A group name with no group entry.
    NoSuchGroup(&'a [u8]),
    /// More than [`MAX_GROUPS`] supplementary groups in all.
    TooMany,
}

impl ExecUser {
    /// Add supplementary groups (`group_add`), after the user's own: names are
    /// looked up in the contents of /etc/group, numbers need no entry. Unlike the
    /// user's own groups they apply even with an explicit group.
    pub fn add_groups<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a [u8]>,
        group: &[u8],
    ) -> Result<(), GroupAddError<'a>> {
        for name in names {
            let gid = match group_entries(group).find(|g| g.name == name) {
                Some(g) => g.gid,
                None => parse_id(name).ok_or(GroupAddError::NoSuchGroup(name))?,
            };
            if self.sgids().contains(&gid) {
                continue;
            }
            if self.n_sgids == MAX_GROUPS {
                return Err(GroupAddError::TooMany);
            }
            self.sgids[self.n_sgids] = gid;
            self.n_sgids += 1;
        }
        Ok(())
    }
}

/// Why a user spec cannot be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserError {
    /// A user name with no passwd entry.
    NoSuchUser,
    /// A group name with no group entry.
    NoSuchGroup,
}

/// A line of /etc/passwd: `name:password:uid:gid:gecos:home:shell`.
struct Passwd<'a> {
    name: &'a [u8],
    uid: u32,
    gid: u32,
    home: &'a [u8],
}

/// A line of /etc/group: `name:password:gid:member,member`.
struct Group<'a> {
    name: &'a [u8],
    gid: u32,
    members: &'a [u8],
}

/// Parse a decimal id; `None` if empty, not all digits, or too large.
pub fn parse_id(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(b - b'0');
    }
    u32::try_from(v).ok()
}

fn field<'a>(it: &mut impl Iterator<Item = &'a [u8]>) -> &'a [u8] {
    it.next().unwrap_or(&[])
}

fn passwd_entries(text: &[u8]) -> impl Iterator<Item = Passwd<'_>> {
    text.split(|b| *b == b'\n').filter_map(|line| {
        if line.is_empty() || line[0] == b'#' {
            return None;
        }
        let mut f = line.split(|b| *b == b':');
        let name = field(&mut f);
        let _password = field(&mut f);
        let uid = parse_id(field(&mut f))?;
        let gid = parse_id(field(&mut f))?;
        let _gecos = field(&mut f);
        let home = field(&mut f);
        Some(Passwd {
            name,
            uid,
            gid,
            home,
        })
    })
}

fn group_entries(text: &[u8]) -> impl Iterator<Item = Group<'_>> {
    text.split(|b| *b == b'\n').filter_map(|line| {
        if line.is_empty() || line[0] == b'#' {
            return None;
        }
        let mut f = line.split(|b| *b == b':');
        let name = field(&mut f);
        let _password = field(&mut f);
        let gid = parse_id(field(&mut f))?;
        let members = field(&mut f);
        Some(Group { name, gid, members })
    })
}

/// Split a spec at its first ':' into (user, group).
pub fn split_spec(spec: &[u8]) -> (&[u8], &[u8]) {
    match spec.iter().position(|b| *b == b':') {
        Some(i) => (&spec[..i], &spec[i + 1..]),
        None => (spec, &[]),
    }
}

/// Resolve `spec` (empty = root) against the contents of /etc/passwd and /etc/group
/// (empty slices when the files are missing).
///
/// Numeric users and groups need no entry; a user found in passwd brings its primary
/// group and home; supplementary groups are the groups listing the user by name, and
/// are only used when no group is given explicitly.
pub fn resolve_user(spec: &[u8], passwd: &[u8], group: &[u8]) -> Result<ExecUser, UserError> {
    let (user_arg, group_arg) = split_spec(spec);
    let uid_num = parse_id(user_arg);
    let gid_num = parse_id(group_arg);
    let mut out = ExecUser {
        uid: 0,
        gid: 0,
        sgids: [0; MAX_GROUPS],
        n_sgids: 0,
        home: [0; HOME_MAX],
        home_len: 1,
    };
    out.home[0] = b'/';

    let found = passwd_entries(passwd).find(|p| match (user_arg.is_empty(), uid_num) {
        (true, _) => p.uid == 0,
        (false, Some(n)) => p.uid == n,
        (false, None) => p.name == user_arg,
    });
    let mut matched_name: &[u8] = &[];
    match found {
        Some(p) => {
            out.uid = p.uid;
            out.gid = p.gid;
            if !p.home.is_empty() && p.home.len() <= HOME_MAX {
                out.home[..p.home.len()].copy_from_slice(p.home);
                out.home_len = p.home.len();
            }
            matched_name = p.name;
        }
        None if user_arg.is_empty() => {}
        None => out.uid = uid_num.ok_or(UserError::NoSuchUser)?,
    }

    if !group_arg.is_empty() {
        let g = group_entries(group).find(|g| match gid_num {
            Some(n) => g.gid == n,
            None => g.name == group_arg,
        });
        out.gid = match g {
            Some(g) => g.gid,
            None => gid_num.ok_or(UserError::NoSuchGroup)?,
        };
    } else if !matched_name.is_empty() {
        for g in group_entries(group) {
            if g.members
                .split(|b| *b == b',')
                .any(|m| m.trim_ascii() == matched_name)
                && out.n_sgids < MAX_GROUPS
                && !out.sgids().contains(&g.gid)
            {
                out.sgids[out.n_sgids] = g.gid;
                out.n_sgids += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        # comment\n\
        www:x:33:33:www-data:/var/www:/bin/sh\n\
        app:x:1000:1001::/home/app:/bin/sh\n";
    const GROUP: &[u8] = b"root:x:0:\n\
        wheel:x:10:root,app\n\
        www:x:33:\n\
        staff:x:50:app, other\n\
        appgrp:x:1001:\n";

    #[test]
    fn empty_spec_is_root_with_its_groups() {
        let u = resolve_user(b"", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (0, 0));
        assert_eq!(u.sgids(), &[10], "only groups that list root by name");
        assert_eq!(u.home(), b"/root");
    }

    #[test]
    fn name_brings_primary_group_home_and_supplementary_groups() {
        let u = resolve_user(b"app", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1001));
        assert_eq!(u.sgids(), &[10, 50]);
        assert_eq!(u.home(), b"/home/app");
    }

    #[test]
    fn numeric_uid_with_entry_and_without() {
        let u = resolve_user(b"33", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (33, 33));
        let u = resolve_user(b"4242", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (4242, 0));
        assert!(u.sgids().is_empty());
        assert_eq!(u.home(), b"/");
    }

    #[test]
    fn explicit_group_by_name_or_number_replaces_supplementary_groups() {
        let u = resolve_user(b"app:www", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 33));
        assert!(u.sgids().is_empty());
        let u = resolve_user(b"1000:777", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 777));
        let u = resolve_user(b"5:6", b"", b"").unwrap();
        assert_eq!((u.uid, u.gid), (5, 6));
    }

    #[test]
    fn unknown_names_are_errors() {
        assert_eq!(
            resolve_user(b"nobody", PASSWD, GROUP).unwrap_err(),
            UserError::NoSuchUser
        );
        assert_eq!(
            resolve_user(b"app:nogroup", PASSWD, GROUP).unwrap_err(),
            UserError::NoSuchGroup
        );
        assert_eq!(
            resolve_user(b"root", b"", b"").unwrap_err(),
            UserError::NoSuchUser
        );
    }

    #[test]
    fn group_add_appends_names_and_numbers_even_with_an_explicit_group() {
        let mut u = resolve_user(b"app", PASSWD, GROUP).unwrap();
        u.add_groups([&b"www"[..], b"4242", b"wheel"], GROUP)
            .unwrap();
        assert_eq!(u.sgids(), &[10, 50, 33, 4242], "no duplicates");
        let mut u = resolve_user(b"app:www", PASSWD, GROUP).unwrap();
        u.add_groups([&b"staff"[..]], GROUP).unwrap();
        assert_eq!((u.gid, u.sgids()), (33, &[50][..]));
        let mut u = resolve_user(b"", PASSWD, GROUP).unwrap();
        assert_eq!(
            u.add_groups([&b"4242"[..], b"nogroup"], GROUP),
            Err(GroupAddError::NoSuchGroup(b"nogroup"))
        );
        let numbers: Vec<Vec<u8>> = (0..=MAX_GROUPS)
            .map(|n| n.to_string().into_bytes())
            .collect();
        assert_eq!(
            u.add_groups(numbers.iter().map(Vec::as_slice), b""),
            Err(GroupAddError::TooMany)
        );
    }

    #[test]
    fn parse_id_rejects_junk_and_overflow() {
        assert_eq!(parse_id(b"0"), Some(0));
        assert_eq!(parse_id(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_id(b"4294967296"), None);
        assert_eq!(parse_id(b"12a"), None);
        assert_eq!(parse_id(b""), None);
    }
}
