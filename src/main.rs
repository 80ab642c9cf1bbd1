//! The `sockscope` binary: parse flags, run the library, map the outcome to an
//! exit code. Errors are printed once, on one line, with their causes.

mod cli;

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use cli::{Cli, Command, Generate};
use sockscope::render::{is_broken_pipe, Renderer};

/// Records are allocated on the tracking thread and freed on the render
/// thread; glibc's malloc serialises that on an arena lock and keeps
/// trimming and re-faulting its heap. mimalloc frees across threads without
/// a lock (measured in the README's performance section).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mimalloc.h` (the crate names
/// no constant for it; a test checks its documented default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays unused before mimalloc hands it back to the
/// OS. Never (-1) was the setting while transparent huge pages were on: each
/// page given back and touched again was a 2 MiB zeroing fault, a fifth of
/// the tracking thread's time on the benchmark capture. With 4 KiB pages
/// ([`no_huge_pages`]) and a delay longer than a benchmark replay takes, a
/// replay runs as before, and a long capture gives back what a burst left
/// behind (20 000 connections' heads: 383 MB kept until exit before, back to
/// the OS 10 s after they were freed now).
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// How often the collector thread lets mimalloc purge (see
/// [`return_freed_memory`]).
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Freed memory goes back to the OS once it has been unused for
/// [`PURGE_DELAY_MS`]. mimalloc purges only when some thread allocates or
/// collects, so a thread that does nothing else asks it to once a second
/// ([`start_collector`]): after a burst, a capture that goes quiet (or a
/// quiet replay, which allocates nothing per packet) returns the memory too.
#[allow(unsafe_code)]
fn return_freed_memory() {
    // SAFETY: sets a plain integer option; mimalloc reads it when it purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// Starts the thread that lets mimalloc purge once a second. `capture`
/// starts it only once privileges are dropped: the capability bounding set
/// and `no_new_privs` belong to each thread, and a thread started before
/// the drop would keep root's.
#[allow(unsafe_code)]
fn start_collector() {
    let _ = std::thread::Builder::new()
        .name("collect".into())
        .spawn(|| {
            // mimalloc sets up a thread's heap at its first allocation, and
            // collecting in a thread without one does nothing at all.
            let heap = std::hint::black_box(Box::new(0u64));
            loop {
                std::thread::sleep(COLLECT_EVERY);
                // SAFETY: mimalloc's own collection, thread-safe; this
                // thread holds nearly nothing, so it only purges what
                // expired, process-wide.
                unsafe { libmimalloc_sys::mi_collect(false) };
                std::hint::black_box(&heap);
            }
        });
}

/// Asks for 4 KiB pages only. mimalloc marks its arena for transparent huge
/// pages, so each first touch zeroed 2 MiB, most of it never used: on the
/// benchmark capture peak memory fell 87 -> 62 MiB without them, and CPU time
/// by ~8 % (`clear_page_erms` was the largest kernel cost; 11 paired runs,
/// faster in 10). Set here rather than through mimalloc's option because the
/// arena is reserved before `main`; the flag applies to later faults.
#[allow(unsafe_code)]
fn no_huge_pages() {
    // SAFETY: prctl with integer arguments only. Failure (an old kernel)
    // leaves huge pages on, which is only slower.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
}

/// The exit-code contract (documented in `--help` and the man page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Ok = 0,
    ExpectationFailed = 1,
    Error = 2,
}

fn main() -> ExitCode {
    return_freed_memory();
    no_huge_pages();
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<io::Error>().is_some_and(is_broken_pipe) {
                Exit::Ok
            } else {
                eprintln!("sockscope: error: {e:#}");
                Exit::Error
            }
        }
    };
    ExitCode::from(code as u8)
}

fn run(cli: Cli) -> anyhow::Result<Exit> {
    if !matches!(cli.command, Command::Capture(_)) {
        start_collector();
    }
    match cli.command {
        Command::Replay(args) => replay(&args),
        Command::Capture(args) => capture(&args),
        Command::Ls(args) => ls(&args),
        Command::Check(args) => check(&args),
        Command::Report(args) => report(&args),
        Command::Schema => {
            let mut out = io::stdout().lock();
            out.write_all(sockscope::event::JSON_SCHEMA.as_bytes())?;
            Ok(Exit::Ok)
        }
        Command::Generate { what } => {
            let mut out = io::stdout().lock();
            let cmd = Cli::command();
            match what {
                Generate::Man {
                    page: None,
                    dir: None,
                } => out.write_all(&cli::man_page(cmd)?)?,
                Generate::Man {
                    page: Some(name), ..
                } => match cli::subcommand_man_page(&cmd, &name) {
                    Some(page) => out.write_all(&page?)?,
                    None => {
                        eprintln!(
                            "sockscope: error: no man page `{name}`: one of {}",
                            cli::man_subcommands(&cmd).join(", ")
                        );
                        return Ok(Exit::Error);
                    }
                },
                Generate::Man {
                    page: None,
                    dir: Some(dir),
                } => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    let mut pages = vec![("sockscope.1".to_string(), cli::man_page(cmd.clone())?)];
                    for name in cli::man_subcommands(&cmd) {
                        if let Some(page) = cli::subcommand_man_page(&cmd, &name) {
                            pages.push((format!("sockscope-{name}.1"), page?));
                        }
                    }
                    for (file, page) in pages {
                        let path = dir.join(file);
                        std::fs::write(&path, page)
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                }
                Generate::Completions { shell } => {
                    clap_complete::generate(shell, &mut Cli::command(), "sockscope", &mut out)
                }
            }
            Ok(Exit::Ok)
        }
    }
}

fn ls(args: &cli::LsArgs) -> anyhow::Result<Exit> {
    use sockscope::render::sockets::{self as out_ls, LsView, Snapshot};
    use sockscope::sockets::{tree, watch, SocketRow};
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sockscope: error: {e}");
            return Ok(Exit::Error);
        }
    };
    let width = cli::output_width(args.width);
    let view = LsView {
        processes: cfg.processes,
        info: cfg.info,
        mem: cfg.mem,
        netns: cfg.netns != sockscope::sockets::NetnsChoice::Current,
        resolve: cfg.resolve,
        width,
        header: !args.no_header,
        style: args.style.for_stdout(),
    };
    let json = args.format == cli::FormatArg::Json;
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut prev: Option<Vec<SocketRow>> = None;
    let mut seq = 0;
    loop {
        seq += 1;
        let listing = match sockscope::sockets::list(&cfg) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("sockscope: error: {e}");
                return Ok(Exit::Error);
            }
        };
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let snap = args.watch.map(|_| Snapshot {
            ts: ts.as_secs_f64(),
            seq,
        });
        if let (Some(every), false) = (args.watch, json) {
            // A terminal is redrawn in place; a pipe gets one listing
            // after another, each under its time.
            if width.is_some() {
                write!(out, "\x1b[H\x1b[2J")?;
            } else if seq > 1 {
                writeln!(out)?;
            }
            let at = sockscope::time::DateTime(sockscope::time::Timestamp::from_parts(
                ts.as_secs() as i64,
                u64::from(ts.subsec_nanos()),
                1_000_000_000,
            ));
            writeln!(out, "sockscope ls every {every}s: listing {seq} at {at}")?;
        }
        // The first listing is the baseline: nothing has changed yet.
        let changes = match (&prev, args.watch) {
            (Some(p), Some(_)) => watch::diff(p, &listing.rows),
            (None, Some(_)) => watch::Changes {
                rows: vec![watch::Change::Same; listing.rows.len()],
                vanished: Vec::new(),
            },
            (_, None) => watch::Changes::default(),
        };
        // The table goes to standard output; the footer (how many, from
        // where, what could not be attributed) to standard error, so that a
        // pipe gets rows only. The source's notice is said once.
        let mut footer = String::new();
        let written = (|| -> io::Result<()> {
            if args.tree {
                let t = tree::group(&listing.rows);
                if json {
                    out_ls::write_tree_json(&mut out, &listing, &t, snap, &view)?;
                } else {
                    footer = out_ls::write_tree(&mut out, &listing, &t, &view)?;
                    footer.push_str(&out_ls::footer(&listing));
                }
                return Ok(());
            }
            let left_out = match (json, args.summary, snap) {
                (true, _, Some(s)) => {
                    out_ls::write_json_changes(&mut out, &listing, &changes, s, &view)?;
                    Vec::new()
                }
                (true, _, None) => {
                    out_ls::write_json(&mut out, &listing, &view)?;
                    Vec::new()
                }
                (false, true, _) => {
                    out_ls::write_summary(&mut out, &listing, &view)?;
                    Vec::new()
                }
                (false, false, Some(_)) => {
                    out_ls::write_table_changes(&mut out, &listing, &changes, &view)?
                }
                (false, false, None) => out_ls::write_table(&mut out, &listing, &view)?,
            };
            if !json && (seq == 1 || args.watch.is_none()) {
                footer = out_ls::footer(&listing);
            }
            if let Some(note) =
                sockscope::render::layout::left_out_note(&left_out, width.map(usize::from))
            {
                footer.push_str(if footer.is_empty() { "" } else { "\n" });
                footer.push_str(&note);
            }
            Ok(())
        })()
        .and_then(|()| out.flush());
        match written {
            Err(e) if is_broken_pipe(&e) => return Ok(Exit::Ok),
            Err(e) => return Err(e).context("writing output"),
            Ok(()) => {}
        }
        if !footer.is_empty() {
            let footer = view.style.glyphs(&footer);
            match width {
                Some(w) => eprintln!("{}", sockscope::render::layout::wrap(&footer, w.into())),
                None => eprintln!("{footer}"),
            }
        }
        let Some(every) = args.watch else {
            return Ok(Exit::Ok);
        };
        if args.count.is_some_and(|n| seq >= n) {
            return Ok(Exit::Ok);
        }
        prev = Some(listing.rows);
        std::thread::sleep(std::time::Duration::from_secs_f64(every));
    }
}

/// The expectations of `--expect` and `--rules`; `Err` was printed.
fn expectations(
    expect: &[String],
    rules: &[std::path::PathBuf],
) -> Result<Vec<sockscope::check::Expectation>, ()> {
    use sockscope::check::{self, Expectation};
    let mut exps = Vec::new();
    for src in expect {
        match Expectation::parse(None, src) {
            Ok(e) => exps.push(e),
            Err(e) => {
                eprintln!("sockscope: error: bad --expect {}", e.explain(src));
                return Err(());
            }
        }
    }
    for path in rules {
        match check::read_rules(path) {
            Ok(mut r) => exps.append(&mut r),
            Err(e) => {
                eprintln!("sockscope: error: {e}");
                return Err(());
            }
        }
    }
    Ok(exps)
}

fn check(args: &cli::CheckArgs) -> anyhow::Result<Exit> {
    use sockscope::check;
    use sockscope::render::check as report;
    let Ok(mut exps) = expectations(&args.checks.expect, &args.checks.rules) else {
        return Ok(Exit::Error);
    };
    if let Some(path) = &args.baseline {
        match check::Expectation::baseline(path) {
            Ok(b) => exps.push(b),
            Err(e) => {
                eprintln!("sockscope: error: {e}");
                return Ok(Exit::Error);
            }
        }
    }
    if exps.is_empty() {
        eprintln!(
            "sockscope: error: nothing to check: give --expect EXPR, --rules FILE or --baseline FILE"
        );
        return Ok(Exit::Error);
    }
    let needs = check::Needs::of(&exps);
    let mut results = Vec::new();
    let mut seconds = Vec::new();
    for file in &args.files {
        if file.as_os_str() != "-" && !file.exists() {
            eprintln!(
                "sockscope: error: {}: No such file or directory",
                file.display()
            );
            return Ok(Exit::Error);
        }
        let cfg = args.replay_config(file, needs.ws_events());
        let started = std::time::Instant::now();
        let res = check::check_file(&cfg, &exps, args.show)?;
        seconds.push(started.elapsed().as_secs_f64());
        results.push(res);
        // A baseline is read while the first capture is replayed.
        if let Some(err) = exps.iter().find_map(|e| e.ready().err()) {
            eprintln!("sockscope: error: {err}");
            return Ok(Exit::Error);
        }
    }
    let fatal = !args.allow_truncated;
    let mut out = BufWriter::new(io::stdout().lock());
    let written = match args.format {
        cli::FormatArg::Json => report::write_json(&mut out, &exps, &results, fatal),
        cli::FormatArg::Human => {
            report::write_report(&mut out, &exps, &results, fatal, args.style.for_stdout())
        }
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if is_broken_pipe(&e) => {}
        other => other.context("writing output")?,
    }
    if let Some(path) = &args.checks.junit {
        let mut f = BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("creating JUnit report {}", path.display()))?,
        );
        report::write_junit(&mut f, &exps, &results, fatal, &seconds)
            .and_then(|()| f.flush())
            .with_context(|| format!("writing JUnit report {}", path.display()))?;
    }
    let damaged: Vec<&String> = results.iter().filter_map(|r| r.error.as_ref()).collect();
    for err in &damaged {
        let level = if fatal { "error" } else { "warning" };
        eprintln!("sockscope: {level}: {err}");
    }
    let totals = report::Totals::of(&results, fatal);
    Ok(if fatal && !damaged.is_empty() {
        Exit::Error
    } else if totals.failed > 0 {
        Exit::ExpectationFailed
    } else {
        Exit::Ok
    })
}

fn list_interfaces(format: cli::FormatArg) -> anyhow::Result<Exit> {
    let list = sockscope::live::interfaces();
    let mut out = BufWriter::new(io::stdout().lock());
    for i in &list {
        if format == cli::FormatArg::Json {
            let v = serde_json::json!({
                "type": "interface",
                "name": i.name,
                "index": i.index,
                "link_type": i.link_type,
                "flags": i.flags,
                "addresses": i.addresses,
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "{}{}  [{}]  {}  {}",
                i.name,
                i.index.map(|n| format!(" (#{n})")).unwrap_or_default(),
                i.flags.join(", "),
                i.link_type,
                i.addresses.join(" ")
            )?;
        }
    }
    out.flush()?;
    Ok(Exit::Ok)
}

/// A renderer that keeps the terminal's status line out of the way of the
/// events it writes.
struct StatusAware<'a, S> {
    inner: S,
    status: &'a std::cell::RefCell<String>,
    on: bool,
}

impl<S: sockscope::event::RecordSink> sockscope::event::RecordSink for StatusAware<'_, S> {
    fn record(&mut self, r: sockscope::event::Record) {
        self.inner.record(r);
    }
}

impl<S: sockscope::event::FlushSink> sockscope::event::FlushSink for StatusAware<'_, S> {
    fn flush(&mut self) {
        let status = self.status.borrow();
        if self.on && !status.is_empty() {
            eprint!("\r\x1b[K");
        }
        self.inner.flush();
        if self.on && !status.is_empty() {
            eprint!("{status}");
        }
    }
}

/// Whether the status line can be drawn on standard error without mixing
/// into what the capture writes: standard error must be a terminal, and
/// either the decoded view goes there too (`-w -`), or standard output is
/// that same terminal (the line is redrawn below the events), or nothing
/// goes to standard output until the capture stops (`-q`), by when the line
/// is gone. `capture -F json | jq .` gets no status text in jq's output.
use std::io::IsTerminal;

fn status_line_fits(view_on_stderr: bool, quiet: bool) -> bool {
    if !io::stderr().is_terminal() {
        return false;
    }
    view_on_stderr || quiet || (io::stdout().is_terminal() && same_terminal(1, 2))
}

/// Whether two descriptors are the same terminal device.
#[allow(unsafe_code)]
fn same_terminal(a: i32, b: i32) -> bool {
    let dev = |fd: i32| {
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes into the struct it is given.
        (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st.st_rdev)
    };
    matches!((dev(a), dev(b)), (Some(x), Some(y)) if x == y)
}

fn capture(args: &cli::CaptureArgs) -> anyhow::Result<Exit> {
    use sockscope::check::{self, Checker, Tee};
    use sockscope::live;
    use std::io::IsTerminal;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    if args.list_interfaces {
        return list_interfaces(args.output.format);
    }
    let Ok(exps) = expectations(&args.checks.expect, &args.checks.rules) else {
        return Ok(Exit::Error);
    };
    let needs = check::Needs::of(&exps);
    let Ok(sels) = selectors(&args.conn) else {
        return Ok(Exit::Error);
    };
    if let Some(c) = sels.iter().find(|s| s.is_cond()) {
        eprintln!(
            "sockscope: error: --conn {:?}: a condition is decided on each connection's final record, after its events were shown; live, select by conn_id or 4-tuple, or record with -w and then `sockscope replay FILE --conn COND`",
            c.describe()
        );
        return Ok(Exit::Error);
    }
    let cfg = args.to_config(!exps.is_empty() && needs.ws_events());
    if cfg.write == Some(live::WriteTo::Stdout)
        && (cfg.rotate_bytes.is_some() || cfg.rotate_every.is_some())
    {
        eprintln!(
            "sockscope: error: -C and -G rotate files; they cannot rotate standard output (-w -)"
        );
        return Ok(Exit::Error);
    }
    // Ctrl-C and SIGTERM end the capture cleanly: flows are finished, the
    // tables and health block written, the -w file flushed.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let live_cap = match live::open(&cfg) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sockscope: error: {e}");
            return Ok(Exit::Error);
        }
    };
    // Privileges are dropped now: threads started from here on inherit that.
    start_collector();
    eprintln!(
        "sockscope: listening on {} ({} socket, link type {}, snaplen {}){}",
        cfg.interface,
        live_cap.socket_kind(),
        live_cap.link_type().label(),
        cfg.snaplen,
        live_cap
            .privileges()
            .map(|p| format!("; {p}"))
            .unwrap_or_default()
    );
    let mut out_cfg = args.output.to_config();
    if cfg.write == Some(live::WriteTo::Stdout) {
        // The decoded view goes to standard error.
        out_cfg.style = args.output.style.resolve(io::stderr().is_terminal());
    }
    // With -w -, standard output carries the packets.
    let to: Box<dyn Write> = if cfg.write == Some(live::WriteTo::Stdout) {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout())
    };
    // A status line on standard error (packets, drops), cleared before
    // events are written and drawn again after them — only where it cannot
    // end up inside data (see `status_line_fits`).
    let status = std::cell::RefCell::new(String::new());
    let view_on_stderr = cfg.write == Some(live::WriteTo::Stdout);
    let status_on = if args.status {
        true
    } else if args.no_status {
        false
    } else {
        status_line_fits(
            view_on_stderr,
            out_cfg.detail == sockscope::config::Detail::Quiet,
        )
    };
    let tee = Tee {
        inner: StatusAware {
            inner: Renderer::new(BufWriter::with_capacity(1 << 16, to), &out_cfg),
            status: &status,
            on: status_on,
        },
        checker: (!exps.is_empty()).then(|| Checker::new(&exps, 5)),
    };
    let mut sink = sockscope::follow::ConnFilter::new(
        tee,
        sockscope::replay::Wants::All,
        sockscope::follow::ConnSet::of(&sels),
        &sels,
        0,
    );
    let outcome = live::run(live_cap, &cfg, &mut sink, &stop, |p| {
        if status_on {
            let mut s = status.borrow_mut();
            *s = format!(
                "{} packets captured, {} dropped by the kernel, {} by the interface",
                p.captured, p.kernel_drops, p.interface_drops
            );
            eprint!("\r\x1b[K{s}");
        }
    });
    if status_on {
        eprint!("\r\x1b[K");
    }
    let selected = sink.selected.clone();
    let Tee { inner, checker } = sink.inner;
    let mut failed = false;
    let mut out = match inner.inner.finish_into() {
        Ok(w) => w,
        Err(e) if is_broken_pipe(&e) => return Ok(Exit::Ok),
        Err(e) => return Err(e).context("writing output"),
    };
    if let Some(c) = checker {
        use sockscope::render::check as report;
        let results = vec![check::FileResult {
            file: format!("capture on {}", cfg.interface),
            error: None,
            outcomes: c.finish(),
        }];
        match args.output.format {
            cli::FormatArg::Json => report::write_json(&mut out, &exps, &results, true)?,
            cli::FormatArg::Human => {
                writeln!(out)?;
                report::write_report(&mut out, &exps, &results, true, out_cfg.style)?
            }
        }
        out.flush()?;
        if let Some(path) = &args.checks.junit {
            let mut f = BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("creating JUnit report {}", path.display()))?,
            );
            report::write_junit(&mut f, &exps, &results, true, &[outcome.stats.duration])?;
            f.flush()?;
        }
        failed = report::Totals::of(&results, true).failed > 0;
    }
    if !sels.is_empty() && args.output.format == cli::FormatArg::Human {
        writeln!(out, "{}", out_cfg.style.glyphs(&selected.note()))?;
        out.flush()?;
    }
    // The files really created (a rotation that failed made none), and
    // with a rotation error even when there is only one.
    let rotating = cfg.rotate_bytes.is_some() || cfg.rotate_every.is_some();
    if outcome.files.len() > 1 || (rotating && outcome.error.is_some()) {
        let names: Vec<String> = outcome
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        eprintln!(
            "sockscope: wrote {} file{}: {}",
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        );
    }
    if let Some(e) = &outcome.error {
        eprintln!("sockscope: error: {e}");
        return Ok(Exit::Error);
    }
    Ok(if failed {
        Exit::ExpectationFailed
    } else {
        Exit::Ok
    })
}

fn replay(args: &cli::ReplayArgs) -> anyhow::Result<Exit> {
    let mut cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sockscope: error: {e}");
            return Ok(Exit::Error);
        }
    };
    let out_cfg = args.output.to_config();
    if !args.conn.is_empty() || args.ladder {
        return follow(args, &mut cfg, out_cfg);
    }
    let renderer = Renderer::new(BufWriter::with_capacity(1 << 16, io::stdout()), &out_cfg);
    let (outcome, renderer) = match sockscope::replay::replay(&cfg, renderer) {
        Ok(r) => r,
        Err(e @ sockscope::replay::ReplayError::Open { .. }) => {
            eprintln!("sockscope: error: {e}");
            return Ok(Exit::Error);
        }
        Err(e) => return Err(e.into()),
    };
    match renderer.finish() {
        Err(e) if is_broken_pipe(&e) => return Ok(Exit::Ok),
        Err(e) => return Err(e).context("writing output"),
        Ok(()) => {}
    }
    replay_exit(&outcome)
}

/// The exit status of a replay that ran: 2, with the error, when reading
/// stopped on damage.
fn replay_exit(outcome: &sockscope::replay::ReplayOutcome) -> anyhow::Result<Exit> {
    if outcome.interrupted {
        return Ok(Exit::Ok);
    }
    if let Some(e) = &outcome.error {
        eprintln!(
            "sockscope: error: {}: byte offset {}: {}",
            e.file, e.offset, e.message
        );
        return Ok(Exit::Error);
    }
    Ok(Exit::Ok)
}

/// `sockscope report`: one replay (two with a condition in --conn)
/// gathering the records and the ladders' packets, then the page.
fn report(args: &cli::ReportArgs) -> anyhow::Result<Exit> {
    use sockscope::config::Input;
    use sockscope::follow::{ladder, ConnFilter, ConnSet, Decider};
    use sockscope::report::{Collector, LadderTap, Limits};
    let Ok(sels) = selectors(&args.conn) else {
        return Ok(Exit::Error);
    };
    let cfg = args.replay_config();
    if sels.iter().any(|s| s.is_cond()) && cfg.input == Input::Stdin {
        eprintln!("sockscope: error: --conn with a condition reads the capture twice; standard input cannot be read twice");
        return Ok(Exit::Error);
    }
    let mut set = ConnSet::of(&sels);
    if sels.iter().any(|s| s.is_cond()) {
        let mut first = cfg.clone();
        if let Some(ws) = first.ws.as_mut() {
            ws.events = false;
        }
        match sockscope::replay::replay(&first, Decider::new(&sels)) {
            Ok((_, d)) => set.add_ids(d.ids),
            Err(e @ sockscope::replay::ReplayError::Open { .. }) => {
                eprintln!("sockscope: error: {e}");
                return Ok(Exit::Error);
            }
            Err(e) => return Err(e.into()),
        }
    }
    let limits = Limits {
        ladders: args.ladders,
        timeline_bars: args.timeline_bars,
        ..Limits::default()
    };
    // Without --conn the first connections get ladders (conn_ids count
    // from 0 in order of first packet); with it, the first selected ones.
    let below = sels.is_empty().then_some(args.ladders as u64);
    let mut tap = LadderTap::new(set.clone(), below, args.ladders);
    let sink = ConnFilter::new(
        Collector::new(limits, below),
        sockscope::replay::Wants::All,
        set,
        &sels,
        0,
    );
    let (outcome, sink) = match sockscope::replay::replay_tapped(&cfg, sink, &mut tap) {
        Ok(r) => r,
        Err(e @ sockscope::replay::ReplayError::Open { .. }) => {
            eprintln!("sockscope: error: {e}");
            return Ok(Exit::Error);
        }
        Err(e) => return Err(e.into()),
    };
    let collector = sink.inner;
    let ladders = ladder::steps(&tap.packets, &collector.ladder_records, false);
    let file = std::fs::File::create(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let mut out = BufWriter::new(file);
    sockscope::report::write_html(&mut out, &collector, &ladders)
        .and_then(|()| out.flush())
        .with_context(|| format!("writing {}", args.output.display()))?;
    let bytes = std::fs::metadata(&args.output).map_or(0, |m| m.len());
    eprintln!(
        "sockscope: wrote {} ({bytes} bytes): {} TCP connections, {} UDP flows, {} WebSocket sessions, {} ladders",
        args.output.display(),
        collector.tcp,
        collector.udp,
        collector.ws_sessions,
        ladders.len()
    );
    replay_exit(&outcome)
}

/// Where a `--conn` run's renderer writes: standard output, or a buffer
/// printed after the ladders.
enum HeldOut {
    Stdout(io::Stdout),
    Held(Vec<u8>),
}

impl Write for HeldOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            HeldOut::Stdout(o) => o.write(buf),
            HeldOut::Held(v) => v.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            HeldOut::Stdout(o) => o.flush(),
            HeldOut::Held(_) => Ok(()),
        }
    }
}

/// The `--conn` selectors; `Err` was printed.
fn selectors(conn: &[String]) -> Result<Vec<sockscope::follow::Selector>, ()> {
    conn.iter()
        .map(|s| sockscope::follow::Selector::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| eprintln!("sockscope: error: {e}"))
}

/// `replay --conn … [-w FILE] [--ladder]`: a first pass when a condition
/// must be decided on final records, then the run restricted to the
/// selected connections, then the cut and the ladders.
fn follow(
    args: &cli::ReplayArgs,
    cfg: &mut sockscope::config::ReplayConfig,
    mut out_cfg: sockscope::config::OutputConfig,
) -> anyhow::Result<Exit> {
    use sockscope::config::{Detail, Input, OutputFormat};
    use sockscope::follow::{ladder, ConnFilter, ConnSet, Decider, Follow};
    use sockscope::replay::StoppableSink;
    let Ok(sels) = selectors(&args.conn) else {
        return Ok(Exit::Error);
    };
    let several = !cfg.more_inputs.is_empty();
    let stdin = cfg.input == Input::Stdin;
    if sels.iter().any(|s| s.is_cond()) && stdin {
        eprintln!(
            "sockscope: error: --conn with a condition reads the capture twice (the condition is decided on each connection's final record, after its events); standard input cannot be read twice: save it to a file, or select by conn_id or 4-tuple"
        );
        return Ok(Exit::Error);
    }
    if args.write.is_some() && (stdin || several) {
        eprintln!(
            "sockscope: error: -w with --conn copies the selected records out of the capture file, reading it again: give one file (not standard input)"
        );
        return Ok(Exit::Error);
    }
    if args.ladder && out_cfg.format == OutputFormat::Json {
        eprintln!(
            "sockscope: error: --ladder draws for people; with --format json the packets' records are the tcp_event, ws_* and tcp_conn lines"
        );
        return Ok(Exit::Error);
    }
    let mut set = ConnSet::of(&sels);
    if sels.iter().any(|s| s.is_cond()) {
        let mut first = cfg.clone();
        if let Some(ws) = first.ws.as_mut() {
            ws.events = false;
        }
        let (outcome, decider) = match sockscope::replay::replay(&first, Decider::new(&sels)) {
            Ok(r) => r,
            Err(e @ sockscope::replay::ReplayError::Open { .. }) => {
                eprintln!("sockscope: error: {e}");
                return Ok(Exit::Error);
            }
            Err(e) => return Err(e.into()),
        };
        let _ = outcome;
        set.add_ids(decider.ids);
    }
    if args.ladder {
        // The ladder annotates packets with the events, WebSocket frames
        // and messages: they are made even when only tables are shown.
        if let Some(ws) = cfg.ws.as_mut() {
            ws.events = true;
        }
        if out_cfg.detail == Detail::Full {
            out_cfg.detail = Detail::Summary;
        }
    }
    let mut tap = Follow {
        set: set.clone(),
        offsets: args.write.as_ref().map(|_| Vec::new()),
        ladder: args.ladder.then(ladder::Packets::default),
        packets: 0,
    };
    // With --ladder the tables come after the ladders: held until then.
    let to = if args.ladder {
        HeldOut::Held(Vec::new())
    } else {
        HeldOut::Stdout(io::stdout())
    };
    let renderer = Renderer::new(BufWriter::with_capacity(1 << 16, to), &out_cfg);
    let keep = if args.ladder { ladder::MAX_RECORDS } else { 0 };
    let wants = renderer.wants();
    let sink = ConnFilter::new(renderer, wants, set, &sels, keep);
    let (outcome, sink) = match sockscope::replay::replay_tapped(cfg, sink, &mut tap) {
        Ok(r) => r,
        Err(e @ sockscope::replay::ReplayError::Open { .. }) => {
            eprintln!("sockscope: error: {e}");
            return Ok(Exit::Error);
        }
        Err(e) => return Err(e.into()),
    };
    let ConnFilter {
        inner,
        selected,
        kept,
        ..
    } = sink;
    if let (Some(path), Some(offsets), Input::Path(input)) = (&args.write, &tap.offsets, &cfg.input)
    {
        let done = sockscope::follow::cut::cut(input, offsets, path).with_context(|| {
            format!(
                "writing the selected packets of {} to {}",
                input.display(),
                path.display()
            )
        })?;
        eprintln!(
            "sockscope: wrote {} packets ({} bytes of records) of {} connections to {}",
            done.packets,
            done.bytes,
            selected.tcp_conns + selected.udp_flows,
            path.display()
        );
    }
    let human = out_cfg.format == OutputFormat::Human;
    let written = (|| -> io::Result<()> {
        let held = inner.finish_into()?;
        let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
        if let Some(packets) = &tap.ladder {
            let view = ladder::View {
                all_packets: args.all_packets,
                width: out_cfg.width,
                style: out_cfg.style,
            };
            out.write_all(ladder::render(packets, &kept, &view).as_bytes())?;
        }
        if let HeldOut::Held(text) = held.into_inner().map_err(|e| e.into_error())? {
            out.write_all(&text)?;
        }
        if human && !sels.is_empty() && out_cfg.detail != Detail::Quiet {
            let note = selected.note();
            let note = out_cfg.style.glyphs(&note);
            match out_cfg.width {
                Some(w) => writeln!(out, "{}", sockscope::render::layout::wrap(&note, w.into()))?,
                None => writeln!(out, "{note}")?,
            }
        }
        out.flush()
    })();
    match written {
        Err(e) if is_broken_pipe(&e) => return Ok(Exit::Ok),
        Err(e) => return Err(e).context("writing output"),
        Ok(()) => {}
    }
    replay_exit(&outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number is mimalloc's purge delay: its documented default
    /// is 1000 (ms, in its options.c), and setting it takes.
    #[test]
    #[allow(unsafe_code)]
    fn purge_delay_option_is_the_one_set() {
        // SAFETY: reads and sets a plain integer option.
        let before = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(before, 1000);
        return_freed_memory();
        let after = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(after, PURGE_DELAY_MS);
    }
}
