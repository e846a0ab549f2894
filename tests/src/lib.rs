//! Shared helpers of the cross-crate tests and benchmarks.

pub mod central;
pub mod fault_proxy;
pub mod money;
pub mod webdriver;
