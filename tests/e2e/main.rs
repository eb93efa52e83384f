//! End-to-end tests of the `wharf` binary. Each runs as root in fresh
//! namespaces (see `harness`), with real images, bridges and cgroups.

mod bad_input;
mod block_io;
mod build;
mod cgroup_v2;
mod cli;
mod connect;
mod copy_watch;
mod crash;
mod dashboard;
mod dashboard_browser;
mod deploy;
mod devstack;
mod docker_api;
mod docker_api_objects;
mod docker_cli;
mod docker_compose_v2;
mod format;
mod harness;
mod health;
mod hello;
mod images;
mod ipv6;
mod kube;
mod lifecycle;
mod logging;
mod network;
mod ports;
mod process;
mod run_mounts;
mod search;
mod secrets;
mod security;
mod soak;
mod terminal;
mod volumes;
