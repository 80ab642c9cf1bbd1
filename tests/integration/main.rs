//! Integration tests: the real binary on committed captures (captures/) and
//! the public captures of other projects (captures/public, provenance in its MANIFEST.tsv).

mod capture;
mod captures;
mod check;
mod cli;
mod conformance;
mod errors;
mod fastpath;
mod filter;
mod follow;
mod fuzz_regressions;
mod golden;
mod hostile;
mod http;
mod http_public;
mod ls;
mod readme;
mod repo;
mod report;
mod schema;
mod terminal;
mod util;
mod websocket;
