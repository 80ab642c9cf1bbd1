//! sockscope: packet inspection and socket diagnostics.
//!
//! The library does the work; the `sockscope` binary only turns command-line
//! flags into the plain configuration structs defined here. See
//! `ARCHITECTURE.md` for the pipeline and which module owns which step.

#![deny(unsafe_code)]

pub mod check;
pub mod config;
pub mod decode;
pub mod event;
pub mod follow;
pub mod live;
pub mod pipeline;
pub mod privileges;
pub mod proto;
pub mod render;
pub mod replay;
pub mod report;
pub mod sockets;
pub mod source;
pub mod time;
pub mod track;
