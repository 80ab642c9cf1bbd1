//! Integration tests: the real binary on committed captures (captures/) and
//! the team's public conformance captures (../shared/conformance).

mod capture;
mod captures;
mod check;
mod cli;
mod conformance;
mod errors;
mod fastpath;
mod filter;
mod fuzz_regressions;
mod golden;
mod ls;
mod schema;
mod util;
mod websocket;
