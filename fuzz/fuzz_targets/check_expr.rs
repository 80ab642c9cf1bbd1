//! The expectation language from arbitrary text: parsing never panics nor
//! exhausts the stack (nesting is bounded), an error's position lies inside
//! the text (its caret can be drawn), and what parses evaluates, as records
//! stream past, over a small set of records without panicking, keeping no
//! more offending rows than asked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sockscope::check::eval::{ExprState, JsonRecord, View};
use sockscope::check::{expr, schema};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    match expr::parse(src) {
        Err(e) => {
            assert!(e.pos <= src.len(), "position {} past {}", e.pos, src.len());
            let _ = e.explain(src);
        }
        Ok(e) => {
            let records = [
                json!({"type": "tcp_conn", "conn_id": 0, "state": "SF", "server_port": 80, "rtt_ms": 1.5,
                       "client_ip": "10.0.0.1", "client_port": 1, "server_ip": "10.0.0.2", "first_ts": 1.0}),
                json!({"type": "tcp_conn", "conn_id": 1, "state": "REJ", "server_port": 81, "rtt_ms": null}),
                json!({"type": "tcp_event", "ts": 2.0, "event": "syn", "options": {"mss": 1460}}),
                json!({"type": "tcp_conn", "conn_id": 2, "state": "S0", "server_port": 80, "rtt_ms": 7}),
                json!({"type": "summary", "truncated": 0, "complete": true, "link_types": {"ETHERNET": 4}}),
            ];
            let show = 1;
            let mut st = ExprState::new(&e, show);
            let routes: Vec<(usize, usize)> = st.routes().collect();
            let mut singles = vec![None; schema::TYPES];
            for r in &records {
                let Some(v) = JsonRecord::new(r) else { continue };
                if schema::is_singleton(v.ty()) {
                    singles[v.ty()] = Some(v.snapshot());
                }
                for &(ty, set) in &routes {
                    if ty == v.ty() {
                        st.observe(set, &v);
                    }
                }
            }
            let o = st.finish(&singles);
            assert!(o.offenders.rows.len() <= show);
            assert!(o.offenders.rows.len() as u64 <= o.offenders.total);
            let _ = o.value.show();
        }
    }
});
