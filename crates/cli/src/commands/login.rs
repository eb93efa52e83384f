//! `wharf login` / `wharf logout`: credentials in the docker-compatible client
//! config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, mode 0600),
//! or in the credential helper it names for the registry (`credHelpers`,
//! `credsStore`).

use anyhow::{Context, Result};
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use wharf_image::auth::{Credentials, DockerConfig};
use wharf_image::reference::DEFAULT_DOMAIN;
use wharf_image::registry::Registry;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Registry server (default: Docker Hub)
    pub server: Option<String>,
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Registry server (default: Docker Hub)
    pub server: Option<String>,
}

use wharf_app::registry::server_domain;

fn read_line(prompt: &str, hide: bool) -> Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    if tty {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let saved = if tty && hide {
        use nix::sys::termios;
        let fd = std::io::stdin();
        termios::tcgetattr(&fd).ok().inspect(|t| {
            let mut quiet = t.clone();
            quiet.local_flags.remove(termios::LocalFlags::ECHO);
            let _ = termios::tcsetattr(&fd, termios::SetArg::TCSANOW, &quiet);
        })
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(t) = saved {
        let _ =
            nix::sys::termios::tcsetattr(std::io::stdin(), nix::sys::termios::SetArg::TCSANOW, &t);
        eprintln!();
    }
    read.context("reading standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

pub fn login(args: LoginArgs) -> Result<i32> {
    let domain = server_domain(args.server.as_deref());
    let settings = crate::context::registry_settings()?;
    if args.password.is_some() && args.password_stdin {
        anyhow::bail!("--password and --password-stdin are mutually exclusive");
    }
    let username = match args.username {
        Some(u) => u,
        None if args.password_stdin => {
            anyhow::bail!("--password-stdin needs a user name: give it with --username")
        }
        None => read_line("Username: ", false)?,
    };
    if username.is_empty() {
        anyhow::bail!("a user name is required: give it with --username");
    }
    let password = match args.password {
        Some(p) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        None if args.password_stdin => {
            let mut s = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut s)
                .context("reading the password from standard input")?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        None => read_line("Password: ", true)?,
    };
    if password.is_empty() {
        anyhow::bail!("a password is required: give it on standard input with --password-stdin");
    }
    let creds = Credentials { username, password };
    let registry = Registry::connect(&domain, &settings.registry_options(), Some(creds.clone()))?;
    registry.check_login()?;
    let mut config = DockerConfig::load(&settings.docker_config_dir)?;
    config.store(&domain, &creds)?;
    if config.helper_for(&domain).is_none() {
        eprintln!(
            "WARNING! Your password will be stored unencrypted in {}.",
            config.path().display()
        );
    }
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(args: LogoutArgs) -> Result<i32> {
    let domain = server_domain(args.server.as_deref());
    let settings = crate::context::registry_settings()?;
    let mut config = DockerConfig::load(&settings.docker_config_dir)?;
    let shown = if domain == DEFAULT_DOMAIN {
        "https://index.docker.io/v1/".to_string()
    } else {
        domain.clone()
    };
    if config.remove(&domain)? {
        println!("Removing login credentials for {shown}");
    } else {
        println!("Not logged in to {shown}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::server_domain;

    #[test]
    fn server_names() {
        assert_eq!(server_domain(None), "docker.io");
        assert_eq!(
            server_domain(Some("https://index.docker.io/v1/")),
            "docker.io"
        );
        assert_eq!(server_domain(Some("127.0.0.1:5000")), "127.0.0.1:5000");
        assert_eq!(
            server_domain(Some("http://reg.lan:5000/v2/")),
            "reg.lan:5000"
        );
    }
}
