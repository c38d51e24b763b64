//! Shared test data.
#![allow(dead_code)]
pub mod frames;
pub mod ports;
