//! `check --baseline FILE.jsonl`: the outcome of every connection, flow and
//! WebSocket session compared with a stored `replay --format json` output,
//! ignoring what changes from one recording to the next — times, durations,
//! RTTs, ephemeral client ports, connection numbers, byte and packet counts.
//!
//! Records are matched by type, client address and server endpoint, in
//! the order they started; what differs is listed field by field, and what
//! one side has and the other not is listed whole.
//!
//! Neither side is kept as records. Each compared record — of the stored
//! file, and of the capture as it streams past — becomes a 16-byte entry:
//! the number of its group (type, client address, server endpoint), the
//! number of its outcome (the tuple of compared values), and its start; each
//! group and each outcome is stored once however many records share it. The
//! stored file is read once, on a thread of its own at low priority while
//! the capture is replayed, line by line in place: lines of other types are
//! skipped at their first bytes, and the keys compared are picked out of the
//! others without parsing the rest.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use super::eval::View;
use super::schema::{self, FieldDef};
use super::value::Val;

/// The record types compared, and the fields that make their outcome.
pub const COMPARED: &[(&str, &[&str])] = &[
    (
        "tcp_conn",
        &[
            "state",
            "handshake_complete",
            "closed_by",
            "service",
            "syn_retransmits",
            "synack_retransmits",
        ],
    ),
    ("udp_flow", &["state", "service"]),
    (
        "ws_session",
        &[
            "target",
            "status",
            "accept_valid",
            "subprotocol",
            "extensions",
            "compression",
            "client_messages",
            "server_messages",
            "close_code",
            "close_reason",
            "closed_by",
            "violations",
        ],
    ),
];

/// The most fields a compared type has.
const MOST_COMPARED: usize = 12;

/// Differences listed before "and N more".
const SHOWN: usize = 20;

/// Where records are matched: type (in [`COMPARED`]), client address,
/// server endpoint. Ordered as the differences are listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Group {
    ty: u8,
    client: Option<IpAddr>,
    server: Option<IpAddr>,
    port: Option<u16>,
}

/// A compared record.
#[derive(Clone, Copy, Debug)]
struct Entry {
    group: u32,
    outcome: u32,
    start: f64,
}

/// Hashes a value by its exact JSON type and content (1 and 1.0 differ, as
/// they do in the stored file).
fn hash_val(v: &Val<'_>, h: &mut impl Hasher) {
    match v {
        Val::Null => 0u8.hash(h),
        Val::Bool(b) => (1u8, *b).hash(h),
        Val::Int(i) => (2u8, *i).hash(h),
        Val::Dec(..) | Val::Float(_) => (3u8, v.as_f64().unwrap_or(0.0).to_bits()).hash(h),
        Val::Str(s) => (4u8, s.as_ref()).hash(h),
        Val::List(_) | Val::Obj(_) => (5u8, v.to_json()).hash(h),
    }
}

fn same(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Int(x), Val::Int(y)) => x == y,
        (Val::Dec(..) | Val::Float(_), Val::Dec(..) | Val::Float(_)) => {
            a.as_f64().map(f64::to_bits) == b.as_f64().map(f64::to_bits)
        }
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::List(_) | Val::Obj(_), Val::List(_) | Val::Obj(_)) => a.to_json() == b.to_json(),
        _ => false,
    }
}

type Hashing = foldhash::fast::FixedState;

fn hashing() -> Hashing {
    foldhash::fast::FixedState::with_seed(0x6261_7365)
}

/// Outcome tuples, each stored once and numbered.
#[derive(Debug)]
struct Outcomes {
    tuples: Vec<Box<[Val<'static>]>>,
    by_hash: HashMap<u64, Vec<u32>, Hashing>,
}

impl Default for Outcomes {
    fn default() -> Self {
        Outcomes {
            tuples: Vec::new(),
            by_hash: HashMap::with_hasher(hashing()),
        }
    }
}

impl Outcomes {
    fn hash(vals: &[Val<'_>]) -> u64 {
        let mut h = hashing().build_hasher();
        for v in vals {
            hash_val(v, &mut h);
        }
        h.finish()
    }

    fn find_hashed(&self, hash: u64, vals: &[Val<'_>]) -> Option<u32> {
        self.by_hash.get(&hash)?.iter().copied().find(|&id| {
            let t = &self.tuples[id as usize];
            t.len() == vals.len() && t.iter().zip(vals).all(|(a, b)| same(a, b))
        })
    }

    fn find(&self, vals: &[Val<'_>]) -> Option<u32> {
        self.find_hashed(Self::hash(vals), vals)
    }

    fn intern(&mut self, vals: &[Val<'_>]) -> u32 {
        let hash = Self::hash(vals);
        if let Some(id) = self.find_hashed(hash, vals) {
            return id;
        }
        let id = self.tuples.len() as u32;
        self.tuples
            .push(vals.iter().map(|v| v.clone().into_owned()).collect());
        self.by_hash.entry(hash).or_default().push(id);
        id
    }
}

/// One side of a comparison, compact: its groups and outcomes stored once,
/// an entry per record.
#[derive(Debug)]
struct Side {
    groups: Vec<Group>,
    group_ids: HashMap<Group, u32, Hashing>,
    outcomes: Outcomes,
    entries: Vec<Entry>,
}

impl Default for Side {
    fn default() -> Self {
        Side {
            groups: Vec::new(),
            group_ids: HashMap::with_hasher(hashing()),
            outcomes: Outcomes::default(),
            entries: Vec::new(),
        }
    }
}

impl Side {
    fn push(&mut self, group: Group, start: f64, vals: &[Val<'_>]) {
        let next = self.groups.len() as u32;
        let group = *self.group_ids.entry(group).or_insert_with(|| {
            self.groups.push(group);
            next
        });
        let outcome = self.outcomes.intern(vals);
        self.entries.push(Entry {
            group,
            outcome,
            start,
        });
    }
}

/// Every key read from a stored line, each once: the identity, then the
/// compared fields.
const KEYS: &[&str] = &[
    "type",
    "client_ip",
    "server_ip",
    "server_port",
    "first_ts",
    "ts",
    "state",
    "handshake_complete",
    "closed_by",
    "service",
    "syn_retransmits",
    "synack_retransmits",
    "target",
    "status",
    "accept_valid",
    "subprotocol",
    "extensions",
    "compression",
    "client_messages",
    "server_messages",
    "close_code",
    "close_reason",
    "violations",
];

/// The index of a key in [`KEYS`] (a `match`: every key of every compared
/// line is looked up).
fn slot(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"type" => 0,
        b"client_ip" => 1,
        b"server_ip" => 2,
        b"server_port" => 3,
        b"first_ts" => 4,
        b"ts" => 5,
        b"state" => 6,
        b"handshake_complete" => 7,
        b"closed_by" => 8,
        b"service" => 9,
        b"syn_retransmits" => 10,
        b"synack_retransmits" => 11,
        b"target" => 12,
        b"status" => 13,
        b"accept_valid" => 14,
        b"subprotocol" => 15,
        b"extensions" => 16,
        b"compression" => 17,
        b"client_messages" => 18,
        b"server_messages" => 19,
        b"close_code" => 20,
        b"close_reason" => 21,
        b"violations" => 22,
        _ => return None,
    })
}

/// Slots of the identity keys.
const TYPE: usize = 0;
const CLIENT: usize = 1;
const SERVER: usize = 2;
const PORT: usize = 3;
const FIRST_TS: usize = 4;
const TS: usize = 5;

/// The values of a stored line's keys, by slot (None: missing).
type Slots<'a> = [Option<Val<'a>>; KEYS.len()];

/// The slots of each compared type's fields.
fn compared_slots() -> Vec<Vec<usize>> {
    COMPARED
        .iter()
        .map(|(_, fields)| fields.iter().filter_map(|f| slot(f.as_bytes())).collect())
        .collect()
}

/// A value as it comes out of serde, borrowing the line's strings.
struct Wire<'a>(Val<'a>);

impl<'de> serde::Deserialize<'de> for Wire<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Wire<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::Null))
            }
            fn visit_none<E>(self) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::Bool(b)))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::Int(i)))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::uint(u)))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::Float(f)))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::str(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::Str(s.to_string().into())))
            }
            fn visit_string<E>(self, s: String) -> Result<Wire<'de>, E> {
                Ok(Wire(Val::Str(s.into())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Wire<'de>, A::Error> {
                let mut v = Vec::new();
                while let Some(Wire(x)) = seq.next_element()? {
                    v.push(x);
                }
                Ok(Wire(Val::List(v)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Wire<'de>, A::Error> {
                let mut kv = Vec::new();
                while let Some((k, Wire(x))) = map.next_entry::<String, Wire<'de>>()? {
                    kv.push((k.into(), x));
                }
                Ok(Wire(Val::Obj(kv)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A stored line parsed by serde (any valid JSON layout; the error of
/// an invalid one).
fn parse_slots(line: &[u8]) -> Result<Slots<'_>, serde_json::Error> {
    let all: HashMap<String, Wire<'_>> = serde_json::from_slice(line)?;
    let mut out: Slots<'_> = Default::default();
    for (k, Wire(v)) in all {
        if let Some(i) = slot(k.as_bytes()) {
            out[i] = Some(v);
        }
    }
    Ok(out)
}

/// Picks the keys of [`KEYS`] out of a one-line JSON object without
/// parsing the other values (they are only stepped over). None when the
/// line is anything else, or something this scanner does not decide
/// (then serde reads it, or says why it is not JSON).
fn scan_slots(b: &[u8]) -> Option<Slots<'_>> {
    let mut out: Slots<'_> = Default::default();
    scan_into(b, &mut out).then_some(out)
}

/// [`scan_slots`] into `out` (left partly filled when it says false).
fn scan_into<'a>(b: &'a [u8], out: &mut Slots<'a>) -> bool {
    scan(b, out).is_some()
}

fn scan<'a>(b: &'a [u8], out: &mut Slots<'a>) -> Option<()> {
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (ws(b, i + 1) == b.len()).then_some(());
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        // Keys are short: a plain loop to the closing quote.
        let mut end = i + 1;
        while *b.get(end)? != b'"' {
            if b[end] == b'\\' {
                return None;
            }
            end += 1;
        }
        let key = &b[i + 1..end];
        let end = end + 1;
        i = ws(b, end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(b, i + 1);
        let vend = value_end(b, i)?;
        if let Some(s) = slot(key) {
            out[s] = Some(scalar(&b[i..vend])?);
        }
        i = ws(b, vend);
        match b.get(i) {
            Some(b',') => i = ws(b, i + 1),
            Some(b'}') => return (ws(b, i + 1) == b.len()).then_some(()),
            _ => return None,
        }
    }
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end (after the closing quote) of the string starting at `i`, and
/// whether it has escapes.
fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', &b[j..])?;
        if b[k] == b'\\' {
            escaped = true;
            j = k + 2;
            if j > b.len() {
                return None;
            }
        } else {
            return Some((k + 1, escaped));
        }
    }
}

/// The end of the value starting at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => Some(string_end(b, i)?.0),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// A value read: a string without escapes, a literal, a number, or a
/// nested value (serde reads those).
fn scalar(v: &[u8]) -> Option<Val<'_>> {
    Some(match *v.first()? {
        b'"' => {
            let (end, escaped) = string_end(v, 0)?;
            if escaped || end != v.len() {
                return None;
            }
            Val::str(std::str::from_utf8(&v[1..end - 1]).ok()?)
        }
        b't' if v == b"true" => Val::Bool(true),
        b'f' if v == b"false" => Val::Bool(false),
        b'n' if v == b"null" => Val::Null,
        b'{' | b'[' => serde_json::from_slice::<Wire<'_>>(v).ok()?.0,
        b'-' | b'0'..=b'9' => {
            let text = std::str::from_utf8(v).ok()?;
            if v.iter().any(|c| matches!(c, b'.' | b'e' | b'E')) {
                let f: f64 = text.parse().ok()?;
                if !f.is_finite() {
                    return None;
                }
                Val::Float(f)
            } else if let Ok(i) = text.parse::<i64>() {
                Val::Int(i)
            } else {
                Val::uint(text.parse::<u64>().ok()?)
            }
        }
        _ => return None,
    })
}

/// The type a line written by the encoder names, read without parsing
/// (`{"type":"tcp_event",…`); None for any other layout.
fn quick_type(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"{\"type\":\"")?;
    let end = memchr::memchr(b'"', rest)?;
    Some(&rest[..end])
}

/// Bytes read at a time.
const CHUNK: usize = 4 << 20;

/// A stored run, being read on its own thread until it is needed.
#[derive(Debug)]
pub struct Baseline {
    pub path: String,
    loading: Mutex<Option<JoinHandle<Result<Side, String>>>>,
    loaded: OnceLock<Result<Side, String>>,
}

/// Starts reading a `replay --format json` output. A file that cannot be
/// opened, or whose first line is not a JSON object, is an error now;
/// anything wrong further on is one when the baseline is first needed.
pub fn load(path: &Path) -> Result<Baseline, String> {
    let cannot = |what: String| format!("cannot read baseline {}: {what}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    let mut head = vec![0u8; 64 << 10];
    let n = read_full(&mut file, &mut head).map_err(|e| cannot(e.to_string()))?;
    let first = head[..n].split(|&c| c == b'\n').next().unwrap_or_default();
    if n > 0 && scan_slots(first).is_none() {
        parse_slots(first).map_err(|e| cannot(format!("line 1 is not a JSON object: {e}")))?;
    }
    let shown = path.display().to_string();
    let path = path.to_path_buf();
    let handle = std::thread::Builder::new()
        .name("baseline".into())
        .spawn(move || {
            lower_priority();
            read_side(&path)
        })
        .map_err(|e| cannot(e.to_string()))?;
    Ok(Baseline {
        path: shown,
        loading: Mutex::new(Some(handle)),
        loaded: OnceLock::new(),
    })
}

/// Reads as much as fills `buf` (less only at the end of the file).
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The reading thread runs at a lower priority (nice 10; a Linux thread's
/// own): it takes the time the replay's threads leave, not theirs.
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread; failure is harmless.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

impl Baseline {
    /// The stored run, once read (waits for the reading thread).
    fn side(&self) -> Result<&Side, &str> {
        self.loaded
            .get_or_init(|| {
                let handle = self.loading.lock().ok().and_then(|mut h| h.take());
                match handle.map(JoinHandle::join) {
                    Some(Ok(r)) => r,
                    Some(Err(_)) => Err(format!("reading baseline {} failed", self.path)),
                    None => Err(format!("baseline {} was not read", self.path)),
                }
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Waits until the stored run is read; `Err` says why it could not be.
    pub fn ready(&self) -> Result<(), String> {
        self.side().map(|_| ()).map_err(str::to_string)
    }
}

/// Reads the stored file, every compared record into a side.
fn read_side(path: &Path) -> Result<Side, String> {
    let cannot = |what: String| format!("cannot read baseline {}: {what}", path.display());
    let mut file = std::fs::File::open(path).map_err(|e| cannot(e.to_string()))?;
    let mut side = Side::default();
    let reader = LineReader::new();
    let mut buf = vec![0u8; CHUNK];
    let (mut start, mut end, mut line_no) = (0usize, 0usize, 0u64);
    let mut eof = false;
    loop {
        // Every whole line in the buffer, read in place.
        while let Some(nl) = memchr::memchr(b'\n', &buf[start..end]) {
            line_no += 1;
            reader
                .line(&mut side, &buf[start..start + nl], line_no)
                .map_err(cannot)?;
            start += nl + 1;
        }
        if eof {
            if start < end {
                line_no += 1;
                reader
                    .line(&mut side, &buf[start..end], line_no)
                    .map_err(cannot)?;
            }
            break;
        }
        buf.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if end == buf.len() {
            // A line longer than the buffer.
            buf.resize(buf.len() * 2, 0);
        }
        let n = file
            .read(&mut buf[end..])
            .map_err(|e| cannot(e.to_string()))?;
        if n == 0 {
            eof = true;
        }
        end += n;
    }
    if side.entries.is_empty() {
        return Err(format!(
            "baseline {}: no tcp_conn, udp_flow or ws_session records (make it with `sockscope replay --format json FILE > {}`)",
            path.display(),
            path.display()
        ));
    }
    Ok(side)
}

/// How stored lines are read: where each compared type's fields go, and,
/// for lines as the encoder writes them, a finder for each key to read.
struct LineReader {
    slots: Vec<Vec<usize>>,
    /// Per compared type: (slot, finder of `,"key":`), the identity's keys
    /// first.
    finders: Vec<Vec<(usize, memchr::memmem::Finder<'static>)>>,
}

impl LineReader {
    fn new() -> LineReader {
        let slots = compared_slots();
        let finders = slots
            .iter()
            .map(|fields| {
                [CLIENT, SERVER, PORT, FIRST_TS]
                    .iter()
                    .chain(fields)
                    .map(|&slot| {
                        let needle = format!(",\"{}\":", KEYS[slot]);
                        (slot, memchr::memmem::Finder::new(&needle).into_owned())
                    })
                    .collect()
            })
            .collect();
        LineReader { slots, finders }
    }

    /// One stored line: a compared record becomes an entry.
    fn line(&self, side: &mut Side, line: &[u8], n: u64) -> Result<(), String> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let mut vals: Slots<'_> = Default::default();
        let quick = quick_type(line);
        if let Some(t) = quick {
            let Some(ty) = COMPARED.iter().position(|(c, _)| c.as_bytes() == t) else {
                return Ok(());
            };
            if self.encoder_line(line, ty, &mut vals).is_some() {
                vals[TYPE] = Some(Val::str(COMPARED[ty].0));
                self.push(side, ty, vals);
                return Ok(());
            }
            vals = Default::default();
        }
        if !scan_into(line, &mut vals) {
            vals = parse_slots(line).map_err(|e| format!("line {n} is not a JSON object: {e}"))?;
        }
        if let Some(ty) = vals[TYPE]
            .as_ref()
            .and_then(Val::as_str)
            .and_then(|t| COMPARED.iter().position(|(c, _)| *c == t))
        {
            self.push(side, ty, vals);
        }
        Ok(())
    }

    /// A line laid out as the encoder writes it (`{"type":"…","key":value,…`,
    /// no spaces), read by jumping to each key wanted: at the top level of a
    /// compact object `,"` only ever starts a key (inside a string the quote
    /// would be escaped), so without nested objects the first `,"key":` is
    /// the key. None — the line is scanned as a whole — when it has a `{`
    /// past the first byte or lacks a key.
    fn encoder_line<'a>(&self, line: &'a [u8], ty: usize, vals: &mut Slots<'a>) -> Option<()> {
        if memchr::memchr(b'{', &line[1..]).is_some() {
            return None;
        }
        for (slot, finder) in &self.finders[ty] {
            let at = finder.find(line)? + finder.needle().len();
            let end = value_end(line, at)?;
            vals[*slot] = Some(scalar(&line[at..end])?);
        }
        Some(())
    }

    fn push(&self, side: &mut Side, ty: usize, mut vals: Slots<'_>) {
        // The compared values, moved out (no allocation).
        let mut outcome: [Val<'_>; MOST_COMPARED] = Default::default();
        let fields = &self.slots[ty];
        for (o, &i) in outcome.iter_mut().zip(fields) {
            *o = vals[i].take().unwrap_or(Val::Null);
        }
        let v = |i: usize| vals[i].as_ref().unwrap_or(&Val::Null);
        let ip = |i: usize| v(i).as_str().and_then(|s| s.parse().ok());
        let group = Group {
            ty: ty as u8,
            client: ip(CLIENT),
            server: ip(SERVER),
            port: match v(PORT) {
                Val::Int(p) => u16::try_from(*p).ok(),
                _ => None,
            },
        };
        let start = v(FIRST_TS)
            .as_f64()
            .or_else(|| v(TS).as_f64())
            .unwrap_or(0.0);
        side.push(group, start, &outcome[..fields.len()]);
    }
}

/// The capture's side, built as its records stream past (without the
/// stored side, which may still be being read).
#[derive(Debug)]
pub struct RunSide {
    /// (record type, fields) of each compared type.
    defs: Vec<(usize, Vec<&'static FieldDef>)>,
    side: Side,
}

impl RunSide {
    pub fn new() -> RunSide {
        RunSide {
            defs: COMPARED
                .iter()
                .map(|(t, fields)| {
                    let ty = schema::record_type(t).unwrap_or(0);
                    let defs = fields
                        .iter()
                        .filter_map(|f| schema::field_def(ty, f))
                        .collect();
                    (ty, defs)
                })
                .collect(),
            side: Side::default(),
        }
    }

    /// The record types it reads.
    pub fn types(&self) -> impl Iterator<Item = usize> + '_ {
        self.defs.iter().map(|(t, _)| *t)
    }

    pub fn observe<V: View>(&mut self, rec: &V) {
        let rty = rec.ty();
        let Some(ty) = self.defs.iter().position(|(t, _)| *t == rty) else {
            return;
        };
        let mut vals: [Val<'_>; MOST_COMPARED] = Default::default();
        let defs = &self.defs[ty].1;
        for (v, f) in vals.iter_mut().zip(defs) {
            *v = rec.field(f);
        }
        let vals = &vals[..defs.len()];
        let conn = rec.conn();
        let first = schema::field_def(rty, "first_ts").map_or(Val::Null, |f| rec.field(f));
        let group = Group {
            ty: ty as u8,
            client: conn.map(|c| c.client_ip),
            server: conn.map(|c| c.server_ip),
            port: conn.map(|c| c.server_port),
        };
        self.side.push(group, first.as_f64().unwrap_or(0.0), vals);
    }

    /// How many records were compared, how many differences there were, and
    /// the first [`SHOWN`] of them, one line each; `Err` when the stored
    /// file could not be read.
    pub fn compare(self, base: &Baseline) -> Result<(u64, u64, Vec<String>), String> {
        Ok(compare(base.side().map_err(str::to_string)?, &self.side))
    }
}

impl Default for RunSide {
    fn default() -> Self {
        RunSide::new()
    }
}

/// A side's entries as (group rank, start, outcome in the stored side's
/// numbering — the run's own after it), in group order then start order;
/// equal starts keep the order records came in.
fn ordered(side: &Side, rank: &[u32], outcome: impl Fn(u32) -> u32) -> Vec<(u32, f64, u32)> {
    let mut v: Vec<(u32, f64, u32)> = side
        .entries
        .iter()
        .map(|e| (rank[e.group as usize], e.start, outcome(e.outcome)))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    v
}

fn compare(base: &Side, run: &Side) -> (u64, u64, Vec<String>) {
    // Every group of either side, in order.
    let mut keys: Vec<Group> = base.groups.iter().chain(&run.groups).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let rank_of = |g: &Group| keys.binary_search(g).unwrap_or(0) as u32;
    let base_rank: Vec<u32> = base.groups.iter().map(rank_of).collect();
    let run_rank: Vec<u32> = run.groups.iter().map(rank_of).collect();
    // The run's outcomes numbered as the stored side's, new ones after.
    let stored = base.outcomes.tuples.len() as u32;
    let run_outcome: Vec<u32> = run
        .outcomes
        .tuples
        .iter()
        .enumerate()
        .map(|(i, t)| base.outcomes.find(t).unwrap_or(stored + i as u32))
        .collect();
    let tuple = |id: u32| -> &[Val<'static>] {
        if id < stored {
            &base.outcomes.tuples[id as usize]
        } else {
            &run.outcomes.tuples[(id - stored) as usize]
        }
    };
    let a = ordered(base, &base_rank, |o| o);
    let b = ordered(run, &run_rank, |o| run_outcome[o as usize]);

    let (mut i, mut j) = (0, 0);
    let (mut compared, mut diffs) = (0u64, 0u64);
    let mut lines = Vec::new();
    while i < a.len() || j < b.len() {
        let g = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.0.min(y.0),
            (Some(x), None) => x.0,
            (None, Some(y)) => y.0,
            (None, None) => break,
        };
        let ea = a[i..].iter().take_while(|e| e.0 == g).count();
        let eb = b[j..].iter().take_while(|e| e.0 == g).count();
        let group = keys[g as usize];
        let (ty, fields) = COMPARED[usize::from(group.ty)];
        // Differences are counted; the first few are written out.
        let mut note = |n: usize, what: &dyn Fn() -> String| {
            diffs += 1;
            if lines.len() < SHOWN {
                lines.push(format!("{ty} {} #{n}: {}", group_key(&group), what()));
            }
        };
        for k in 0..ea.max(eb) {
            match (
                a.get(i + k).filter(|_| k < ea),
                b.get(j + k).filter(|_| k < eb),
            ) {
                (Some(x), Some(y)) => {
                    compared += 1;
                    if x.2 == y.2 {
                        continue;
                    }
                    note(k + 1, &|| {
                        fields
                            .iter()
                            .zip(tuple(x.2).iter().zip(tuple(y.2)))
                            .filter(|(_, (p, q))| !same(p, q))
                            .map(|(f, (p, q))| format!("{f} {} → {}", p.show(), q.show()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    });
                }
                (Some(x), None) => note(k + 1, &|| {
                    format!(
                        "in the baseline ({}), not in this capture",
                        summary(fields, tuple(x.2))
                    )
                }),
                (None, Some(y)) => note(k + 1, &|| {
                    format!("new in this capture ({})", summary(fields, tuple(y.2)))
                }),
                (None, None) => {}
            }
        }
        i += ea;
        j += eb;
    }
    (compared, diffs, lines)
}

/// `client → server:port`, as the report names a group.
fn group_key(g: &Group) -> String {
    let client = g.client.map_or("?".to_string(), |c| c.to_string());
    let port = g.port.map_or("?".to_string(), |p| p.to_string());
    let server = match g.server {
        Some(IpAddr::V6(s)) => format!("[{s}]:{port}"),
        Some(s) => format!("{s}:{port}"),
        None => format!("?:{port}"),
    };
    format!("{client} → {server}")
}

fn summary(fields: &[&str], vals: &[Val<'_>]) -> String {
    fields
        .iter()
        .zip(vals)
        .take(3)
        .map(|(f, v)| format!("{f} {}", v.show()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::eval::JsonRecord;
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn every_compared_field_has_a_slot() {
        assert_eq!(
            COMPARED.iter().map(|(_, f)| f.len()).max(),
            Some(MOST_COMPARED)
        );
        for (i, k) in KEYS.iter().enumerate() {
            assert_eq!(slot(k.as_bytes()), Some(i), "{k}");
        }
        for ((ty, fields), slots) in COMPARED.iter().zip(compared_slots()) {
            assert_eq!(fields.len(), slots.len(), "{ty}");
        }
    }

    fn conn(port: u64, client_port: u64, ts: f64, state: &str) -> Value {
        json!({"type": "tcp_conn", "conn_id": client_port, "client_ip": "10.0.0.2", "client_port": client_port,
               "server_ip": "10.0.0.1", "server_port": port, "first_ts": ts, "state": state,
               "history": "ShADadFf", "handshake_complete": true, "closed_by": "client",
               "service": null, "syn_retransmits": 0, "synack_retransmits": 0, "rtt_ms": ts})
    }

    fn baseline(recs: &[Value]) -> Baseline {
        let dir = std::env::temp_dir().join(format!(
            "sockscope-baseline-unit-{}-{}",
            std::process::id(),
            recs.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.jsonl");
        let mut text: String = recs.iter().map(|r| format!("{r}\n")).collect();
        // A line the encoder did not write, and no final newline.
        text.push_str(r#"{ "type" : "meta", "schema": 1}"#);
        std::fs::write(&path, text).unwrap();
        let b = load(&path).unwrap();
        b.ready().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        b
    }

    fn compare(base: &Baseline, run: &[Value]) -> (u64, Vec<String>) {
        let mut side = RunSide::new();
        for r in run {
            side.observe(&JsonRecord::new(r).unwrap());
        }
        let (n, d, lines) = side.compare(base).unwrap();
        assert_eq!(d as usize, lines.len());
        (n, lines)
    }

    #[test]
    fn ports_times_and_rtts_are_ignored_outcomes_are_not() {
        let base = baseline(&[conn(80, 40001, 2.0, "SF"), conn(80, 40000, 1.0, "SF")]);
        // Other client ports, other times: the same outcome.
        let same = [conn(80, 51000, 7.0, "SF"), conn(80, 51001, 8.0, "SF")];
        assert_eq!(compare(&base, &same), (2, vec![]));
        let worse = [
            conn(80, 51000, 7.0, "SF"),
            conn(80, 51001, 8.0, "REJ"),
            conn(81, 1, 9.0, "S0"),
        ];
        let (n, d) = compare(&base, &worse);
        assert_eq!(n, 2);
        assert_eq!(
            d,
            vec![
                "tcp_conn 10.0.0.2 → 10.0.0.1:80 #2: state \"SF\" → \"REJ\"".to_string(),
                "tcp_conn 10.0.0.2 → 10.0.0.1:81 #1: new in this capture (state \"S0\", handshake_complete true, closed_by \"client\")".to_string(),
            ]
        );
        let fewer = [conn(80, 51000, 7.0, "SF")];
        let (_, d) = compare(&base, &fewer);
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("#2: in the baseline"), "{d:?}");
    }

    /// However many records differ, the listing is bounded; the count is not.
    #[test]
    fn differences_are_counted_and_the_first_listed() {
        let recs: Vec<Value> = (0..100).map(|i| conn(80, i, i as f64, "SF")).collect();
        let base = baseline(&recs);
        let run: Vec<Value> = (0..100).map(|i| conn(80, i, i as f64, "S0")).collect();
        let mut side = RunSide::new();
        for r in &run {
            side.observe(&JsonRecord::new(r).unwrap());
        }
        let (n, d, lines) = side.compare(&base).unwrap();
        assert_eq!((n, d, lines.len()), (100, 100, SHOWN));
        assert!(
            lines[0].ends_with("#1: state \"SF\" → \"S0\""),
            "{}",
            lines[0]
        );
        // 100 records of one group and one outcome: one group, one tuple.
        let side = base.side().unwrap();
        assert_eq!(
            (
                side.groups.len(),
                side.outcomes.tuples.len(),
                side.entries.len()
            ),
            (1, 1, 100)
        );
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }

    /// Lines as the encoder writes them, read by jumping to each key, give
    /// what a full scan gives; any other layout is left to the full scan.
    #[test]
    fn encoder_lines_read_by_jumping_equal_a_full_scan() {
        use crate::config::{Input, ReplayConfig};
        let reader = LineReader::new();
        let mut jumped = 0;
        for name in [
            "ws-plain.pcap",
            "udp-dns.pcap",
            "refused.pcap",
            "ws-violations.pcap",
        ] {
            let path = format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR"));
            let cfg = ReplayConfig::new(Input::Path(path.into()));
            let (_, records) = crate::replay::replay(&cfg, Vec::new()).unwrap();
            for r in &records {
                let mut line = Vec::new();
                crate::render::json::encode(r, &mut line);
                let line = line.strip_suffix(b"\n").unwrap();
                let Some(ty) = COMPARED.iter().position(|(t, _)| *t == r.type_name()) else {
                    continue;
                };
                let mut fast: Slots<'_> = Default::default();
                reader.encoder_line(line, ty, &mut fast).unwrap();
                let full = scan_slots(line).unwrap();
                for slot in [CLIENT, SERVER, PORT, FIRST_TS]
                    .iter()
                    .chain(&reader.slots[ty])
                {
                    let (a, b) = (fast[*slot].as_ref(), full[*slot].as_ref());
                    assert!(
                        a.is_some() && same(a.unwrap(), b.unwrap()),
                        "{name} {}",
                        KEYS[*slot]
                    );
                }
                jumped += 1;
            }
        }
        assert!(jumped > 10, "{jumped}");
        let mut out: Slots<'_> = Default::default();
        for other in [
            &br#"{"type":"udp_flow","client_ip":"1.2.3.4","server_ip":"1.2.3.5","server_port":53,"state":"{","service":null,"first_ts":1.0}"#[..],
            br#"{"type":"udp_flow","client_ip":"1.2.3.4","server_ip":"1.2.3.5","server_port":53, "state":"S0","service":null,"first_ts":1.0}"#,
            br#"{"type":"udp_flow","client_ip":"1.2.3.4","server_ip":"1.2.3.5","server_port":53,"service":null,"first_ts":1.0}"#,
        ] {
            assert!(reader.encoder_line(other, 1, &mut out).is_none());
        }
    }

    /// The scanner reads what serde reads from any line it takes, and
    /// leaves the lines it cannot decide to serde.
    #[test]
    fn the_scanner_reads_what_serde_reads() {
        let lines: &[&[u8]] = &[
            br#"{"type":"tcp_conn","client_ip":"10.0.0.2","vlan":[1,[2]],"options":{"a":"}"},"state":"SF","server_port":80,"first_ts":1.5,"closed_by":null,"handshake_complete":true,"syn_retransmits":18446744073709551615}"#,
            br#"{ "type" : "ws_session" , "target": "/a\"b", "status": 101, "close_reason": "\u00e9" }"#,
            br#"{"type":"udp_flow","state":"S0","service":"dns","server_port":-1,"ts":-2e3}"#,
            br#"{}"#,
        ];
        for line in lines {
            let serde = parse_slots(line).unwrap();
            if let Some(scanned) = scan_slots(line) {
                for (a, b) in scanned.iter().zip(&serde) {
                    match (a, b) {
                        (Some(x), Some(y)) => assert!(same(x, y), "{x:?} {y:?}"),
                        (None, None) => {}
                        _ => panic!("{a:?} {b:?} in {}", String::from_utf8_lossy(line)),
                    }
                }
            }
        }
        assert!(scan_slots(lines[0]).is_some());
        assert!(scan_slots(lines[1]).is_none(), "escapes go to serde");
        for bad in [
            &b"{\"type\":\"tcp_conn\""[..],
            b"{\"a\":1,}",
            b"[1]",
            b"\xd4\xc3\xb2\xa1",
            b"{\"a\" 1}",
        ] {
            assert!(
                scan_slots(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
