//! `cp`: copy files and folders between a service container and the host,
//! with docker's path rules (the pure part is [`plan`]; the engine moves the
//! tar streams). `-` is a tar stream on the front's input or output.

use crate::event::{CopyStatus, Event, Reporter};
use crate::{error_chain, AppError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use wharf_compose::Project;
use wharf_engine_api::{labels, ContainerInfo, CopyToOptions, Engine, EngineError, PathStat};

/// One side of a copy as written on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A host path, or `-` for a tar stream on stdin/stdout.
    Local(String),
    Service {
        service: String,
        path: String,
    },
}

/// docker's reading of a cp argument: a path that starts with `/` or `.` is
/// local whatever colons it holds; otherwise `NAME:PATH` names a service.
pub fn location(arg: &str) -> Location {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Location::Local(arg.to_string());
    }
    match arg.split_once(':') {
        Some((service, path)) if !service.is_empty() => Location::Service {
            service: service.to_string(),
            path: path.to_string(),
        },
        _ => Location::Local(arg.to_string()),
    }
}

/// docker's `SplitPathDirEntry`: the directory and the last component of the
/// cleaned path, where `dir/.` keeps `.` as its last component.
pub fn split_dir_entry(path: &str) -> (String, String) {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            p => parts.push(p),
        }
    }
    if specifies_current_dir(path) {
        parts.push(".");
    }
    let join = |p: &[&str]| {
        let joined = p.join("/");
        match (absolute, joined.is_empty()) {
            (true, _) => format!("/{joined}"),
            (false, true) => ".".to_string(),
            (false, false) => joined,
        }
    };
    match parts.split_last() {
        Some((last, dir)) => (join(dir), last.to_string()),
        None => (join(&[]), if absolute { "/" } else { "." }.to_string()),
    }
}

/// `dir/.` (or `.`): the contents of the directory rather than the directory.
pub fn specifies_current_dir(path: &str) -> bool {
    let trimmed = path.trim_end_matches('/');
    trimmed == "." || trimmed.ends_with("/.")
}

/// A destination written as a directory (`dir/` or `dir/.`).
pub fn asserts_directory(path: &str) -> bool {
    path.ends_with('/') || specifies_current_dir(path)
}

/// What the destination is before the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub path: String,
    pub exists: bool,
    pub is_dir: bool,
}

/// Where an archive is extracted and what its top entry is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The directory the archive is extracted into.
    pub dir: String,
    /// The top entry's name; `None` keeps the source's own name.
    pub name: Option<String>,
}

/// Why a copy cannot be placed (docker's messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    DirectoryOntoFile(String),
    NoSuchDirectory(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::DirectoryOntoFile(path) => {
                write!(f, "cannot copy a directory onto the file {path}")
            }
            PlanError::NoSuchDirectory(path) => write!(
                f,
                "no such directory: {path} does not exist and a file cannot become a directory (drop the trailing slash to copy it under that name)"
            ),
        }
    }
}

impl std::error::Error for PlanError {}

/// docker's `PrepareArchiveCopy`: into an existing directory the source keeps
/// its name; otherwise it is extracted into the destination's parent under
/// the destination's name.
pub fn plan(source_is_dir: bool, destination: &Destination) -> Result<Placement, PlanError> {
    let (parent, base) = split_dir_entry(&destination.path);
    let renamed = Placement {
        dir: parent,
        name: Some(base),
    };
    match (destination.exists, destination.is_dir, source_is_dir) {
        (true, true, _) => Ok(Placement {
            dir: destination.path.clone(),
            name: None,
        }),
        (true, false, true) => Err(PlanError::DirectoryOntoFile(destination.path.clone())),
        (true, false, false) => Ok(renamed),
        (false, _, true) => Ok(renamed),
        (false, _, false) if asserts_directory(&destination.path) => {
            Err(PlanError::NoSuchDirectory(destination.path.clone()))
        }
        (false, _, false) => Ok(renamed),
    }
}

/// The name a source's archive gets by default: its last component, or `.`
/// for `dir/.`.
pub fn source_name(path: &str) -> String {
    split_dir_entry(path).1
}

/// A copy as the user asked for it.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    pub source: Location,
    pub destination: Location,
    /// The replica to use (its number); 0 for the first (copying out) or
    /// every one (copying in).
    pub index: u32,
    /// Keep uid/gid (`-a`).
    pub archive: bool,
    /// Follow a symlink at the end of the source path (`-L`).
    pub follow_link: bool,
    /// Include containers of `run`.
    pub include_oneoff: bool,
    /// The directory relative host paths are taken from.
    pub cwd: PathBuf,
}

/// The front's streams for `-`.
pub struct Streams<'a> {
    pub input: &'a mut dyn Read,
    pub output: &'a mut dyn Write,
}

impl std::fmt::Debug for Streams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Streams")
    }
}

fn refused(message: impl Into<String>) -> AppError {
    AppError::Copy(message.into())
}

/// docker's `CopyInfoDestinationPath` on the host: symlinks at the end are
/// followed (up to 10), and a missing destination needs an existing parent
/// directory.
fn host_destination(path: &str) -> Result<Destination, AppError> {
    let mut current = PathBuf::from(path);
    let original = current.clone();
    for _ in 0..=10 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current).map_err(|e| {
                    AppError::io(format!("reading the link {}", current.display()), e)
                })?;
                current = if target.is_absolute() {
                    target
                } else {
                    let (parent, _) = split_dir_entry(&current.to_string_lossy());
                    Path::new(&parent).join(target)
                };
            }
            Ok(meta) => {
                let file_type = meta.file_type();
                if !file_type.is_dir() && !file_type.is_file() {
                    return Err(refused(format!(
                        "destination {:?} must be a directory or a regular file",
                        original.display().to_string()
                    )));
                }
                let mut shown = current.to_string_lossy().into_owned();
                if current == original {
                    shown = path.to_string();
                }
                return Ok(Destination {
                    path: shown,
                    exists: true,
                    is_dir: file_type.is_dir(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let shown = if current == original {
                    path.to_string()
                } else {
                    current.to_string_lossy().into_owned()
                };
                let (parent, _) = split_dir_entry(&shown);
                match std::fs::metadata(&parent) {
                    Ok(meta) if meta.is_dir() => {}
                    Ok(_) => {
                        return Err(refused(format!(
                            "cannot copy to {shown}: {parent} is not a directory"
                        )))
                    }
                    Err(_) => {
                        return Err(refused(format!(
                            "cannot copy to {shown}: the directory {parent} does not exist (create it first)"
                        )))
                    }
                }
                return Ok(Destination {
                    path: shown,
                    exists: false,
                    is_dir: false,
                });
            }
            Err(e) => return Err(AppError::io(format!("reading {}", current.display()), e)),
        }
    }
    Err(refused(format!(
        "too many symlinks in {}",
        original.display()
    )))
}

/// The containers of `service` a copy works on: the one at `index`, else
/// the first (copying out) or all of them (copying in).
fn targets(
    engine: &dyn Engine,
    project: &str,
    service: &str,
    index: u32,
    all_replicas: bool,
    include_oneoff: bool,
) -> Result<Vec<ContainerInfo>, AppError> {
    let mut containers: Vec<ContainerInfo> = engine
        .list_containers(&[(labels::PROJECT, project), (labels::SERVICE, service)])
        .map_err(|e| AppError::engine(format!("service {service:?}"), e))?
        .into_iter()
        .filter(|c| include_oneoff || c.label(labels::ONEOFF) != Some("True"))
        .collect();
    containers.sort_by_key(|c| {
        c.label(labels::CONTAINER_NUMBER)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    if index > 0 {
        let wanted = index.to_string();
        return match containers
            .into_iter()
            .find(|c| c.label(labels::CONTAINER_NUMBER) == Some(wanted.as_str()))
        {
            Some(c) => Ok(vec![c]),
            None => Err(refused(format!(
                "service {service:?} has no container with index {index}: see wharf ps"
            ))),
        };
    }
    if containers.is_empty() {
        return Err(refused(format!(
            "no container found for service {service:?}"
        )));
    }
    if !all_replicas {
        containers.truncate(1);
    }
    Ok(containers)
}

/// An engine error about `path` in `container` as docker words it.
fn in_container(error: EngineError, path: &str, container: &str) -> AppError {
    match error {
        EngineError::NotFound { kind: "file", .. } => refused(format!(
            "could not find the file {path} in container {container}"
        )),
        other => AppError::engine(format!("container {container}"), other),
    }
}

/// `cp` in project `project_name` (`project` when it loaded, to check the
/// service name): each container's copy is reported as [`Event::Copy`],
/// except when the archive goes to the output stream.
pub fn copy(
    engine: &dyn Engine,
    project_name: &str,
    project: Option<&Project>,
    request: &CopyRequest,
    streams: Streams<'_>,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    let (source, destination) = (&request.source, &request.destination);
    let service = match (source, destination) {
        (Location::Service { .. }, Location::Service { .. }) => {
            return Err(refused(
                "copying between services is not supported: copy to the host first",
            ))
        }
        (Location::Local(_), Location::Local(_)) => return Err(refused(
            "one of SRC and DEST must name a service as SERVICE:PATH (like web:/app/config.json)",
        )),
        (Location::Service { service, .. }, _) | (_, Location::Service { service, .. }) => service,
    };
    if let Some(project) = project {
        if !project.services.contains_key(service) {
            return Err(refused(format!("no such service: {service}")));
        }
    }
    let copying_in = matches!(destination, Location::Service { .. });
    let containers = targets(
        engine,
        project_name,
        service,
        request.index,
        copying_in,
        request.include_oneoff,
    )?;
    let Streams { input, output } = streams;
    for container in &containers {
        let label = match (source, destination) {
            (Location::Local(src), Location::Service { path, .. }) => {
                format!("{} copy {src} to {}:{path}", container.name, container.name)
            }
            (Location::Service { path, .. }, Location::Local(dst)) => {
                format!("{} copy {}:{path} to {dst}", container.name, container.name)
            }
            _ => container.name.clone(),
        };
        let to_output = matches!(destination, Location::Local(d) if d == "-");
        let report = |status| {
            if !to_output {
                reporter.report(Event::Copy {
                    label: label.clone(),
                    status,
                })
            }
        };
        report(CopyStatus::Copying);
        let result = match (source, destination) {
            (Location::Service { path, .. }, Location::Local(dst)) => {
                copy_out(engine, container, path, dst, request, &mut *output)
            }
            (Location::Local(src), Location::Service { path, .. }) => {
                copy_in(engine, container, src, path, request, &mut *input)
            }
            _ => unreachable!("one side is a service and the other local"),
        };
        match result {
            Ok(()) => report(CopyStatus::Copied),
            Err(e) => {
                report(CopyStatus::Failed);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// docker's `cp`: the side that is not local names one container, by name
/// or id, in any project (`CONTAINER:PATH`).
pub fn copy_container(
    engine: &dyn Engine,
    request: &CopyRequest,
    streams: Streams<'_>,
) -> Result<(), AppError> {
    let Streams { input, output } = streams;
    let container_of = |name: &str| {
        engine
            .inspect_container(name)
            .map_err(|e| AppError::engine(format!("no such container: {name}"), e))
    };
    match (&request.source, &request.destination) {
        (Location::Service { service, path }, Location::Local(dst)) => {
            let container = container_of(service)?;
            copy_out(engine, &container, path, dst, request, output)
        }
        (Location::Local(src), Location::Service { service, path }) => {
            let container = container_of(service)?;
            copy_in(engine, &container, src, path, request, input)
        }
        (Location::Service { .. }, Location::Service { .. }) => Err(refused(
            "copying between containers is not supported: copy to the host first",
        )),
        (Location::Local(_), Location::Local(_)) => Err(refused(
            "one of SRC and DEST must name a container as CONTAINER:PATH (like con01:/etc/hosts)",
        )),
    }
}

/// Run `produce` (writing a tar stream) and `consume` (reading it) at once
/// through a pipe; the first real failure wins.
fn through_pipe(
    produce: impl FnOnce(&mut dyn Write) -> Result<(), AppError> + Send,
    consume: impl FnOnce(&mut dyn Read) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let (reader, writer) = nix::unistd::pipe()
        .map_err(|e| AppError::io("creating a pipe", std::io::Error::from(e)))?;
    let mut reader = std::fs::File::from(reader);
    let mut writer = std::fs::File::from(writer);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || {
            let result = produce(&mut writer);
            drop(writer);
            result
        });
        let consumed = consume(&mut reader);
        // Unblock a producer still writing after the consumer gave up.
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(refused("the archive writer panicked")));
        match (produced, consumed) {
            (Err(e), _) if !is_broken_pipe(&e) => Err(e),
            (_, Err(e)) => Err(e),
            (Err(e), Ok(())) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    })
}

fn is_broken_pipe(error: &AppError) -> bool {
    matches!(error, AppError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
        || error_chain(error).contains("Broken pipe")
}

fn copy_out(
    engine: &dyn Engine,
    container: &ContainerInfo,
    path: &str,
    destination: &str,
    request: &CopyRequest,
    output: &mut dyn Write,
) -> Result<(), AppError> {
    if destination == "-" {
        engine
            .copy_from_container(&container.id, path, request.follow_link, None, output)
            .map_err(|e| in_container(e, path, &container.name))?;
        output
            .flush()
            .map_err(|e| AppError::io("writing to standard output", e))?;
        return Ok(());
    }
    let destination = host_destination(destination)?;
    let stat: PathStat = engine
        .stat_path(&container.id, path, request.follow_link)
        .map_err(|e| in_container(e, path, &container.name))?;
    let placement = plan(stat.is_dir(), &destination).map_err(|e| refused(e.to_string()))?;
    let dir = PathBuf::from(&placement.dir);
    let keep = request.archive;
    through_pipe(
        |out| {
            engine
                .copy_from_container(
                    &container.id,
                    path,
                    request.follow_link,
                    placement.name.as_deref(),
                    out,
                )
                .map(|_| ())
                .map_err(|e| in_container(e, path, &container.name))
        },
        |input| {
            wharf_engine::copy::host::extract(&dir, input, keep)
                .map_err(|e| AppError::engine(format!("copying into {}", dir.display()), e))
        },
    )
}

fn copy_in(
    engine: &dyn Engine,
    container: &ContainerInfo,
    source: &str,
    path: &str,
    request: &CopyRequest,
    input: &mut dyn Read,
) -> Result<(), AppError> {
    let options = CopyToOptions {
        keep_ownership: request.archive,
        create_dir: false,
    };
    // A symlink destination is followed to where it points, in the container.
    let mut target = path.to_string();
    let mut stat = engine.stat_path(&container.id, &target, false);
    if let Ok(s) = &stat {
        if s.is_symlink() {
            if let Some(link) = &s.link_target {
                target = link.clone();
                stat = engine.stat_path(&container.id, &target, true);
            }
        }
    }
    let destination = match stat {
        Ok(s) if !s.is_dir() && !s.is_regular() => {
            return Err(refused(format!(
                "destination \"{}:{path}\" must be a directory or a regular file",
                container.name
            )))
        }
        Ok(s) => Destination {
            path: target,
            exists: true,
            is_dir: s.is_dir(),
        },
        Err(EngineError::NotFound { .. }) => Destination {
            path: target,
            exists: false,
            is_dir: false,
        },
        Err(e) => return Err(AppError::engine(format!("container {}", container.name), e)),
    };
    if source == "-" {
        if !destination.is_dir {
            return Err(refused(format!(
                "destination \"{}:{path}\" must be a directory",
                container.name
            )));
        }
        return engine
            .copy_to_container(&container.id, &destination.path, input, &options)
            .map_err(|e| in_container(e, path, &container.name));
    }
    let absolute = if source.starts_with('/') {
        source.to_string()
    } else {
        format!("{}/{source}", request.cwd.display())
    };
    let stat =
        wharf_engine::copy::host::stat(&absolute, request.follow_link).map_err(|e| match e {
            EngineError::NotFound { .. } => {
                refused(format!("could not find the file {source} on the host"))
            }
            other => AppError::engine(format!("reading {source}"), other),
        })?;
    let placement = plan(stat.is_dir(), &destination).map_err(|e| refused(e.to_string()))?;
    let name = placement.name.unwrap_or_else(|| source_name(source));
    through_pipe(
        |out| {
            wharf_engine::copy::host::archive(&absolute, request.follow_link, &name, out)
                .map_err(|e| AppError::engine(format!("reading {source}"), e))
        },
        |input| {
            engine
                .copy_to_container(&container.id, &placement.dir, input, &options)
                .map_err(|e| in_container(e, &placement.dir, &container.name))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(path: &str, exists: bool, is_dir: bool) -> Destination {
        Destination {
            path: path.into(),
            exists,
            is_dir,
        }
    }

    #[test]
    fn arguments_name_a_service_unless_they_read_as_paths() {
        assert_eq!(
            location("web:/etc/hosts"),
            Location::Service {
                service: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(location("./a:b"), Location::Local("./a:b".into()));
        assert_eq!(location("/srv/x:y"), Location::Local("/srv/x:y".into()));
        assert_eq!(location("-"), Location::Local("-".into()));
        assert_eq!(location(":x"), Location::Local(":x".into()));
    }

    #[test]
    fn split_keeps_the_current_dir_marker() {
        assert_eq!(split_dir_entry("/a/b/"), ("/a".into(), "b".into()));
        assert_eq!(split_dir_entry("/a/b/."), ("/a/b".into(), ".".into()));
        assert_eq!(split_dir_entry("b"), (".".into(), "b".into()));
        assert_eq!(split_dir_entry("x/../y/z"), ("y".into(), "z".into()));
        assert_eq!(split_dir_entry("/"), ("/".into(), "/".into()));
        assert!(
            asserts_directory("out/") && asserts_directory("out/.") && !asserts_directory("out")
        );
    }

    #[test]
    fn into_an_existing_directory_the_source_keeps_its_name() {
        let placed = plan(false, &dest("/out", true, true)).unwrap();
        assert_eq!(
            placed,
            Placement {
                dir: "/out".into(),
                name: None
            }
        );
        let placed = plan(true, &dest("/out/", true, true)).unwrap();
        assert_eq!(placed.name, None);
    }

    #[test]
    fn a_file_replaces_a_file_under_the_destination_name() {
        let placed = plan(false, &dest("/out/new.txt", true, false)).unwrap();
        assert_eq!(
            placed,
            Placement {
                dir: "/out".into(),
                name: Some("new.txt".into())
            }
        );
        let placed = plan(false, &dest("/out/missing.txt", false, false)).unwrap();
        assert_eq!(placed.name.as_deref(), Some("missing.txt"));
    }

    #[test]
    fn a_directory_to_a_missing_path_takes_that_name() {
        let placed = plan(true, &dest("/out/copy", false, false)).unwrap();
        assert_eq!(
            placed,
            Placement {
                dir: "/out".into(),
                name: Some("copy".into())
            }
        );
        // `SRC/.` to a missing path: the contents under the new name too.
        assert_eq!(source_name("/srv/app/."), ".");
        assert_eq!(source_name("/srv/app/"), "app");
    }

    #[test]
    fn docker_refusals() {
        assert_eq!(
            plan(true, &dest("/out/file", true, false)),
            Err(PlanError::DirectoryOntoFile("/out/file".into()))
        );
        assert_eq!(
            plan(false, &dest("/out/newdir/", false, false)),
            Err(PlanError::NoSuchDirectory("/out/newdir/".into()))
        );
        assert!(plan(false, &dest("/out/newdir/", false, false))
            .unwrap_err()
            .to_string()
            .contains("no such directory"));
    }

    #[test]
    fn host_destination_follows_links_and_needs_a_parent() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let found = host_destination(dir.path().join("link").to_str().unwrap()).unwrap();
        assert_eq!(found, dest(real.to_str().unwrap(), true, true));
        let missing = dir.path().join("nope/file");
        let err = host_destination(missing.to_str().unwrap()).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let fresh = dir.path().join("fresh");
        let found = host_destination(fresh.to_str().unwrap()).unwrap();
        assert!(!found.exists);
    }
}
