//! End-to-end tests of the `wharf` binary. Each runs as root in fresh
//! namespaces (see `harness`), with real images, bridges and cgroups.

mod bad_input;
mod build;
mod crash;
mod harness;
mod health;
mod hello;
mod lifecycle;
mod network;
mod security;
mod soak;
mod volumes;
