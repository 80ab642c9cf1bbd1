//! The expectation language from arbitrary text: parsing never panics, an
//! error's position lies inside the text (its caret can be drawn), and what
//! parses evaluates over a small set of records without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sockscope::check::{eval, expr, Records};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    match expr::parse(src) {
        Err(e) => {
            assert!(e.pos <= src.len(), "position {} past {}", e.pos, src.len());
            let _ = e.explain(src);
        }
        Ok(e) => {
            let mut rs = Records::default();
            rs.by_type.insert(
                "tcp_conn",
                vec![
                    json!({"state": "SF", "server_port": 80, "rtt_ms": 1.5, "options": {"mss": 1460}}),
                    json!({"state": "REJ", "server_port": 81, "rtt_ms": null}),
                ],
            );
            rs.by_type.insert("summary", vec![json!({"truncated": 0, "complete": true})]);
            let _ = eval::evaluate(&e, &rs);
        }
    }
});
