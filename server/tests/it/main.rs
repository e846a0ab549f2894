//! The server against a real PostgreSQL (DESIGN.md §7): one throwaway cluster for this
//! test binary, a database of its own per test, the server on an ephemeral loopback port,
//! and real HTTP.

mod harness;

mod analytics;
mod cluster;
mod enrolment;
mod library;
mod money;
mod notify;
mod office;
mod ops;
mod package;
mod portal;
mod privileges;
mod roles;
mod sync;
