//! An exec's standard streams over the API and their relay to the hijacked
//! connection. With a TTY the command gets a pseudo-terminal's slave as its
//! controlling terminal and stdio, and the master's bytes go to the client
//! raw. Without one it gets pipes: stdin from the connection when the client
//! attached it (its half-close ends the input), `/dev/null` otherwise, and
//! stdout and stderr as separate multiplexed streams. A client that goes
//! away takes its command with it, as with docker: SIGKILL; one that types
//! the detach keys on a terminal leaves it running.

use crate::detach_keys::{Scanned, Scanner};
use crate::hijack::{self, Hijacked, StreamKind};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use wharf_runtime::{ExecStdio, Pty};

/// How long the output may stay quiet, once the command has ended, before
/// the relay stops waiting for processes it left behind holding the
/// output open.
const DRAIN_QUIET_MS: u8 = 100;

/// The streams a client attached.
#[derive(Debug, Clone, Copy)]
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Both ends of an exec's streams, before the command starts.
pub struct Wiring {
    /// What the command gets; held until it ends.
    pub command: CommandEnd,
    /// What the service relays.
    pub service: ServiceEnd,
}

/// The command's ends: closed by dropping, once the command has ended.
pub struct CommandEnd {
    /// The descriptors below, as the runtime takes them.
    pub stdio: ExecStdio,
    fds: CommandFds,
}

/// Held open until the command ends; only stderr is used again (reports).
enum CommandFds {
    Terminal(OwnedFd),
    Pipes {
        _stdin: Option<OwnedFd>,
        _stdout: OwnedFd,
        stderr: OwnedFd,
    },
}

impl CommandEnd {
    /// Write `message` where the command's errors go (its stderr, or its
    /// terminal): why a command could not start reaches the client.
    pub fn report(&self, message: &str) {
        let errors = match &self.fds {
            CommandFds::Terminal(slave) => slave,
            CommandFds::Pipes { stderr, .. } => stderr,
        };
        if let Ok(errors) = errors.try_clone() {
            let _ = File::from(errors).write_all(message.as_bytes());
        }
    }
}

/// The service's ends.
pub enum ServiceEnd {
    Terminal {
        master: Arc<File>,
    },
    Pipes {
        stdin: Option<File>,
        stdout: File,
        stderr: File,
    },
}

impl Wiring {
    /// A terminal: the slave for the command, the master for the service.
    pub fn terminal(pty: Pty) -> Wiring {
        Wiring {
            command: CommandEnd {
                stdio: ExecStdio::Terminal(pty.slave.as_raw_fd()),
                fds: CommandFds::Terminal(pty.slave),
            },
            service: ServiceEnd::Terminal {
                master: Arc::new(pty.master),
            },
        }
    }

    /// Pipes for stdout and stderr, and for stdin when `with_stdin`.
    pub fn pipes(with_stdin: bool) -> io::Result<Wiring> {
        let (stdout_r, stdout_w) = std::io::pipe()?;
        let (stderr_r, stderr_w) = std::io::pipe()?;
        let (stdin_r, stdin_w) = match with_stdin {
            true => {
                let (r, w) = std::io::pipe()?;
                (Some(OwnedFd::from(r)), Some(File::from(OwnedFd::from(w))))
            }
            false => (None, None),
        };
        let (stdout_w, stderr_w) = (OwnedFd::from(stdout_w), OwnedFd::from(stderr_w));
        let stdio = ExecStdio::Fds {
            stdin: stdin_r.as_ref().map(|r| r.as_raw_fd()),
            stdout: stdout_w.as_raw_fd(),
            stderr: stderr_w.as_raw_fd(),
        };
        Ok(Wiring {
            command: CommandEnd {
                stdio,
                fds: CommandFds::Pipes {
                    _stdin: stdin_r,
                    _stdout: stdout_w,
                    stderr: stderr_w,
                },
            },
            service: ServiceEnd::Pipes {
                stdin: stdin_w,
                stdout: File::from(OwnedFd::from(stdout_r)),
                stderr: File::from(OwnedFd::from(stderr_r)),
            },
        })
    }
}

/// The command's process as its runner learns it, to be killed when its
/// client goes away (docker kills an attached exec whose connection ends,
/// whatever the command does with its streams).
#[derive(Debug, Default)]
pub struct CommandProcess {
    state: Mutex<ProcessState>,
}

#[derive(Debug, Default)]
struct ProcessState {
    /// The host pid while the command runs.
    pid: Option<u32>,
    /// The client went away: a command that starts after is killed at once.
    abandoned: bool,
}

impl CommandProcess {
    fn lock(&self) -> std::sync::MutexGuard<'_, ProcessState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The command runs as host pid `pid`.
    pub fn started(&self, pid: u32) {
        let mut state = self.lock();
        state.pid = Some(pid);
        if state.abandoned {
            kill_process(pid);
        }
    }

    /// The command ended: its pid may name another process from now on.
    pub fn ended(&self) {
        self.lock().pid = None;
    }

    /// Its client went away: kill the command.
    fn abandon(&self) {
        let mut state = self.lock();
        state.abandoned = true;
        if let Some(pid) = state.pid {
            kill_process(pid);
        }
    }
}

fn kill_process(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Relay the command's streams and the client's connection (none for a
/// detached exec: the output is read and dropped) until the output ends,
/// or has stayed quiet a moment after `runner` (the thread running the
/// command) ended. Then `on_exit` gets the exit code, before the client
/// sees the end of its stream (it asks for the code next). A client that
/// goes away (its connection hangs up, even while the command is silent)
/// has `process` killed and its streams closed. On a terminal, the
/// `detach` keys typed by the client end its stream only: the command runs
/// on, its output read and dropped.
pub fn relay(
    service: ServiceEnd,
    socket: Option<Hijacked>,
    attach: Attach,
    detach: Option<Vec<u8>>,
    runner: JoinHandle<i32>,
    process: &CommandProcess,
    on_exit: impl FnOnce(i32),
) {
    let (input_target, mut outputs, tty) = match service {
        ServiceEnd::Terminal { master } => {
            let reader = master.try_clone().ok();
            let outputs: Vec<(File, StreamKind)> = reader
                .into_iter()
                .map(|r| (r, StreamKind::Stdout))
                .collect();
            (Some(InputTarget::Terminal(master)), outputs, true)
        }
        ServiceEnd::Pipes {
            stdin,
            stdout,
            stderr,
        } => (
            stdin.map(InputTarget::Pipe),
            vec![(stdout, StreamKind::Stdout), (stderr, StreamKind::Stderr)],
            false,
        ),
    };
    let mut writer = socket.as_ref().and_then(|s| s.try_clone().ok());
    let shutdown = socket.as_ref().and_then(|s| s.try_clone().ok());
    // Closed when a terminal's input ends: the client is leaving.
    let mut input_ended = None;
    let input = match (socket, input_target) {
        (Some(socket), Some(target)) if attach.stdin => {
            let ending = match tty {
                true => std::io::pipe().ok().map(|(r, w)| {
                    input_ended = Some(r);
                    w
                }),
                false => None,
            };
            let scanner = detach.filter(|_| tty).map(Scanner::new);
            Some(std::thread::spawn(move || {
                let end = pump_input(socket, target, scanner);
                drop(ending);
                end
            }))
        }
        // Not attached: the command's stdin is `/dev/null` or a terminal
        // nobody types on; dropping the target here closes our end.
        _ => None,
    };
    let leaving = [
        shutdown.as_ref().map(|s| s.as_fd()),
        input_ended.as_ref().map(|r| r.as_fd()),
    ];
    let client_here = pump_output(&mut outputs, writer.as_mut(), leaving, attach, tty, &runner);
    let end_connection = |input: Option<JoinHandle<InputEnd>>| {
        if let Some(socket) = &shutdown {
            let _ = socket.shutdown(Shutdown::Both);
        }
        input.map(|input| input.join().unwrap_or(InputEnd::Closed))
    };
    let mut input = input;
    if !client_here {
        match end_connection(input.take()) {
            Some(InputEnd::Detached) => {
                pump_output(&mut outputs, None, [None, None], attach, tty, &runner);
            }
            _ => {
                // Hang up the terminal too, for what the command left.
                outputs.clear();
                process.abandon();
            }
        }
    }
    on_exit(runner.join().unwrap_or(-1));
    end_connection(input);
}

/// How the client's input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputEnd {
    /// The client half-closed or went away.
    Closed,
    /// The client typed the detach keys.
    Detached,
}

/// Where the client's input goes.
enum InputTarget {
    Terminal(Arc<File>),
    Pipe(File),
}

/// Copy the client's input (what the server read ahead first) to the
/// command until the client half-closes, goes away or types the keys
/// `scanner` watches for (a terminal's detach keys, which are not passed
/// on; the connection is then shut down). The end of input closes a stdin
/// pipe; a terminal has no end of input of its own and stays as it is.
fn pump_input(mut socket: Hijacked, target: InputTarget, mut scanner: Option<Scanner>) -> InputEnd {
    let mut sink: &File = match &target {
        InputTarget::Terminal(master) => master,
        InputTarget::Pipe(pipe) => pipe,
    };
    let mut pass_on = |chunk: &[u8]| -> Option<InputEnd> {
        let (bytes, end) = match scanner.as_mut().map(|s| s.scan(chunk)) {
            None => (chunk.to_vec(), None),
            Some(Scanned::Input(bytes)) => (bytes, None),
            Some(Scanned::Detach(bytes)) => (bytes, Some(InputEnd::Detached)),
        };
        if sink.write_all(&bytes).is_err() {
            return Some(end.unwrap_or(InputEnd::Closed));
        }
        end
    };
    let pending = socket.take_pending();
    let mut end = None;
    if !pending.is_empty() {
        end = pass_on(&pending);
    }
    let mut chunk = [0u8; 8192];
    while end.is_none() {
        end = match socket.read(&mut chunk) {
            Ok(0) => Some(InputEnd::Closed),
            Ok(n) => pass_on(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => None,
            Err(_) => Some(InputEnd::Closed),
        };
    }
    if end == Some(InputEnd::Detached) {
        let _ = socket.shutdown(Shutdown::Both);
    }
    end.unwrap_or(InputEnd::Closed)
}

/// Copy the command's output to the client (frames without a TTY, raw bytes
/// with one; streams the client did not attach are read and dropped) until
/// every output ends, or stays quiet for a moment after the command ended.
/// False when the client went away: `client` (the connection) hung up, or
/// `leaving` did (the end of a terminal's input: docker ends a TTY's stream
/// then too, and a terminal has no end of input, so the client is leaving).
fn pump_output(
    outputs: &mut Vec<(File, StreamKind)>,
    mut socket: Option<&mut Hijacked>,
    leaving: [Option<BorrowedFd<'_>>; 2],
    attach: Attach,
    tty: bool,
    runner: &JoinHandle<i32>,
) -> bool {
    let mut chunk = vec![0u8; 16 * 1024];
    let watched: Vec<BorrowedFd> = leaving.into_iter().flatten().collect();
    while !outputs.is_empty() {
        let ended = runner.is_finished();
        let mut fds: Vec<PollFd> = outputs
            .iter()
            .map(|(file, _)| PollFd::new(file.as_fd(), PollFlags::POLLIN))
            .collect();
        // Only hang-ups are asked for (always reported): the input thread
        // reads the connection, and nothing is written to the other.
        fds.extend(
            watched
                .iter()
                .map(|fd| PollFd::new(*fd, PollFlags::empty())),
        );
        let ready = match poll(&mut fds, PollTimeout::from(DRAIN_QUIET_MS)) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return true,
        };
        if ready == 0 {
            if ended {
                return true;
            }
            continue;
        }
        let mut readable: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if readable
            .split_off(outputs.len())
            .into_iter()
            .any(|hung_up| hung_up)
        {
            return false;
        }
        drop(fds);
        let mut closed = Vec::new();
        for (index, ((file, kind), ready)) in outputs.iter_mut().zip(readable).enumerate() {
            if !ready {
                continue;
            }
            match file.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EIO: no process holds the terminal's slave any more.
                Ok(0) | Err(_) => closed.push(index),
                Ok(n) => {
                    let wanted = match kind {
                        StreamKind::Stderr => attach.stderr,
                        _ => attach.stdout,
                    };
                    if let (true, Some(socket)) = (wanted, socket.as_deref_mut()) {
                        let sent = if tty {
                            socket.write_all(&chunk[..n])
                        } else {
                            hijack::write_frame(socket, *kind, &chunk[..n])
                        };
                        if sent.is_err() {
                            return false;
                        }
                    }
                }
            }
        }
        for index in closed.into_iter().rev() {
            outputs.remove(index);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Bytes;
    use std::os::unix::net::UnixStream;

    fn hijacked() -> (Hijacked, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        (
            Hijacked::new(hijack::Socket::Unix(ours), Bytes::new()),
            theirs,
        )
    }

    /// A command's three pipes, as `File`s (copies: the originals stay in
    /// `command` until it is dropped).
    fn pipe_files(command: &CommandEnd) -> (Option<File>, File, File) {
        let CommandFds::Pipes {
            _stdin: stdin,
            _stdout: stdout,
            stderr,
        } = &command.fds
        else {
            panic!("a terminal, not pipes");
        };
        let copy = |fd: &OwnedFd| File::from(fd.try_clone().unwrap());
        (stdin.as_ref().map(copy), copy(stdout), copy(stderr))
    }

    /// A command on pipes, played by this test: it reads its stdin to the
    /// end and answers on stdout and stderr, as `cat` would.
    fn fake_command(command: CommandEnd) -> JoinHandle<i32> {
        std::thread::spawn(move || {
            let (stdin, mut stdout, mut stderr) = pipe_files(&command);
            drop(command);
            let mut input = String::new();
            stdin.unwrap().read_to_string(&mut input).unwrap();
            stdout.write_all(input.as_bytes()).unwrap();
            stderr.write_all(b"err\n").unwrap();
            3
        })
    }

    #[test]
    fn stdin_ends_with_the_half_close_and_the_streams_stay_apart() {
        let wiring = Wiring::pipes(true).unwrap();
        let runner = fake_command(wiring.command);
        let (socket, mut client) = hijacked();
        client.write_all(b"hi\n").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let attach = Attach {
            stdin: true,
            stdout: true,
            stderr: true,
        };
        let mut code = None;
        relay(
            wiring.service,
            Some(socket),
            attach,
            None,
            runner,
            &CommandProcess::default(),
            |c| code = Some(c),
        );
        assert_eq!(code, Some(3));
        let mut received = Vec::new();
        client.read_to_end(&mut received).unwrap();
        let frames = [
            &[1, 0, 0, 0, 0, 0, 0, 3][..],
            b"hi\n",
            &[2, 0, 0, 0, 0, 0, 0, 4],
            b"err\n",
        ]
        .concat();
        assert_eq!(received, frames);
    }

    #[test]
    fn a_stream_not_attached_is_read_and_dropped() {
        let wiring = Wiring::pipes(true).unwrap();
        let runner = fake_command(wiring.command);
        let (socket, mut client) = hijacked();
        client.write_all(b"x").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let attach = Attach {
            stdin: true,
            stdout: false,
            stderr: true,
        };
        relay(
            wiring.service,
            Some(socket),
            attach,
            None,
            runner,
            &CommandProcess::default(),
            |_| {},
        );
        let mut received = Vec::new();
        client.read_to_end(&mut received).unwrap();
        assert_eq!(received, [&[2, 0, 0, 0, 0, 0, 0, 4][..], b"err\n"].concat());
    }

    #[test]
    fn without_stdin_the_command_gets_none() {
        let wiring = Wiring::pipes(false).unwrap();
        assert!(matches!(
            wiring.command.stdio,
            ExecStdio::Fds { stdin: None, .. }
        ));
        assert!(matches!(
            wiring.service,
            ServiceEnd::Pipes { stdin: None, .. }
        ));
    }

    #[test]
    fn a_client_gone_hangs_up_the_terminal() {
        // A pair of the host's, standing in for one in a container.
        let Ok(pty) = Pty::open_in(std::process::id()) else {
            eprintln!("skipped: no pseudo-terminal can be opened here");
            return;
        };
        let wiring = Wiring::terminal(pty);
        let CommandFds::Terminal(slave) = &wiring.command.fds else {
            unreachable!()
        };
        // The "shell": reads its terminal until the hangup.
        let mut terminal = File::from(slave.try_clone().unwrap());
        let command = wiring.command;
        let runner = std::thread::spawn(move || {
            drop(command);
            let mut buf = [0u8; 64];
            while let Ok(n) = terminal.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            129
        });
        let (socket, client) = hijacked();
        drop(client);
        let attach = Attach {
            stdin: true,
            stdout: true,
            stderr: true,
        };
        let mut code = None;
        relay(
            wiring.service,
            Some(socket),
            attach,
            None,
            runner,
            &CommandProcess::default(),
            |c| code = Some(c),
        );
        assert_eq!(code, Some(129));
    }

    #[test]
    fn output_left_open_by_a_leftover_process_ends_once_quiet() {
        let wiring = Wiring::pipes(false).unwrap();
        // The "leftover process": a copy of the command's stdout kept open.
        let (_, leftover, _) = pipe_files(&wiring.command);
        let command = wiring.command;
        let runner = std::thread::spawn(move || {
            drop(command);
            0
        });
        let started = std::time::Instant::now();
        relay(
            wiring.service,
            None,
            Attach {
                stdin: false,
                stdout: true,
                stderr: true,
            },
            None,
            runner,
            &CommandProcess::default(),
            |_| {},
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        drop(leftover);
    }

    #[test]
    fn a_client_gone_kills_a_silent_command_on_pipes() {
        let wiring = Wiring::pipes(true).unwrap();
        // The command: a process that neither reads nor writes.
        let mut sleeper = std::process::Command::new("sleep")
            .arg("60")
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let process = Arc::new(CommandProcess::default());
        process.started(sleeper.id());
        let command = wiring.command;
        let runner = std::thread::spawn(move || {
            let status = sleeper.wait().unwrap();
            drop(command);
            std::os::unix::process::ExitStatusExt::signal(&status).map_or(-1, |s| 128 + s)
        });
        let (socket, client) = hijacked();
        drop(client);
        let attach = Attach {
            stdin: true,
            stdout: true,
            stderr: true,
        };
        let started = std::time::Instant::now();
        let mut code = None;
        relay(
            wiring.service,
            Some(socket),
            attach,
            None,
            runner,
            &process,
            |c| code = Some(c),
        );
        assert_eq!(code, Some(137));
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
    }

    #[test]
    fn a_command_that_starts_after_its_client_left_is_killed_at_once() {
        let mut sleeper = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let process = CommandProcess::default();
        process.abandon();
        process.started(sleeper.id());
        let status = sleeper.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }

    #[test]
    fn detach_keys_end_the_stream_and_leave_the_command_running() {
        let Ok(pty) = Pty::open_in(std::process::id()) else {
            eprintln!("skipped: no pseudo-terminal can be opened here");
            return;
        };
        let wiring = Wiring::terminal(pty);
        // The "command": runs until told to stop, its terminal kept open.
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let command = wiring.command;
        let runner = std::thread::spawn(move || {
            let _ = stopped.recv();
            drop(command);
            0
        });
        let (socket, mut client) = hijacked();
        let process = Arc::new(CommandProcess::default());
        let (code_tx, code_rx) = std::sync::mpsc::channel();
        let relay_process = process.clone();
        let relaying = std::thread::spawn(move || {
            let attach = Attach {
                stdin: true,
                stdout: true,
                stderr: true,
            };
            let keys = Some(crate::detach_keys::DEFAULT.to_vec());
            relay(
                wiring.service,
                Some(socket),
                attach,
                keys,
                runner,
                &relay_process,
                |c| {
                    let _ = code_tx.send(c);
                },
            );
        });
        client.write_all(b"\x10\x11").unwrap();
        let mut received = Vec::new();
        client.read_to_end(&mut received).unwrap();
        assert!(!process.lock().abandoned, "a detach is no client gone");
        assert!(code_rx.try_recv().is_err(), "the command still runs");
        stop.send(()).unwrap();
        relaying.join().unwrap();
        assert_eq!(code_rx.recv().unwrap(), 0);
    }
}
