//! Fitting tables and event lines into a terminal's width without ever
//! splitting an address, a port, a number or a state name.
//!
//! comfy-table's dynamic arrangement wraps any cell anywhere, so at 80
//! columns it cut `10.99.0.2:34998` into `10.99` / `.0.2:` / `34998`. Here a
//! table's columns say what they hold: an *atom* (an address, a number, a
//! state: never broken) or *text* (a verdict, a list: broken at spaces
//! only), and how much they are worth. When the table does not fit, headers
//! are abbreviated first, then the least valuable columns are left out, as
//! `ss` keeps one row per line; text columns are wrapped at spaces only as a
//! last resort, never below their longest word. If even that does not fit,
//! the table is wider than asked rather than wrong. The caller is told what
//! was left out, so it can say so.

use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Tone;
use crate::config::Style;

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Never broken across lines (addresses, numbers, states, names).
    Atom,
    /// May be wrapped at spaces (verdicts, lists, free text).
    Text,
    /// One long word that may be cut short with `…` when the room is not
    /// there (URLs, request targets): what it loses is its end.
    Cut,
}

/// A column: its header, a shorter header for tight widths, what it holds,
/// and when it is left out (`None`: never; lower numbers go first).
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub header: &'static str,
    pub short: &'static str,
    pub fit: Fit,
    pub right: bool,
    pub drop_order: Option<u8>,
}

impl Column {
    /// A column kept at every width.
    pub const fn kept(header: &'static str, fit: Fit) -> Column {
        Column {
            header,
            short: header,
            fit,
            right: false,
            drop_order: None,
        }
    }

    /// A column left out when the width is short (lower `order`: earlier).
    pub const fn optional(header: &'static str, fit: Fit, order: u8) -> Column {
        Column {
            header,
            short: header,
            fit,
            right: false,
            drop_order: Some(order),
        }
    }

    pub const fn right(mut self) -> Column {
        self.right = true;
        self
    }

    pub const fn short(mut self, short: &'static str) -> Column {
        self.short = short;
        self
    }
}

/// How the table is drawn, which decides what each column costs beyond
/// its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Borders and separators (comfy-table's `*_FULL_CONDENSED`): a column
    /// costs its content, a space each side and a separator.
    Boxed,
    /// No borders (ss's look, comfy-table's `NOTHING`): a space each side.
    Plain,
}

impl Frame {
    fn overhead(self, columns: usize) -> usize {
        match self {
            Frame::Boxed => 3 * columns + 1,
            Frame::Plain => 2 * columns,
        }
    }
}

/// Where the columns ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Indices of the columns shown, in order.
    pub shown: Vec<usize>,
    /// The content width of each shown column.
    pub widths: Vec<usize>,
    /// Whether the short headers are used.
    pub short_headers: bool,
    /// Headers of the columns left out, in column order.
    pub left_out: Vec<&'static str>,
}

/// Columns of text wider than this are wrapped before any column is left
/// out; narrower ones keep their lines whole.
const TEXT_FLOOR: usize = 24;
/// A column that may be cut keeps this much of its text before columns
/// are left out, and at least [`CUT_MIN`] when nothing else can go.
const CUT_FLOOR: usize = 16;
const CUT_MIN: usize = 6;

/// `s` cut to `width` columns, `…` standing for what was left out.
pub fn cut(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// Display width of `s` on a terminal: wide characters count 2, ANSI colour
/// sequences nothing.
pub fn display_width(s: &str) -> usize {
    if !s.contains('\x1b') {
        return s.width();
    }
    let mut w = 0;
    let mut rest = s;
    while let Some(i) = rest.find('\x1b') {
        w += rest[..i].width();
        rest = &rest[i..];
        // ESC [ params final-byte
        let end = rest
            .char_indices()
            .skip(1)
            .find(|(_, c)| c.is_ascii_alphabetic())
            .map_or(rest.len(), |(j, c)| j + c.len_utf8());
        rest = &rest[end..];
    }
    w + rest.width()
}

fn longest_word(s: &str) -> usize {
    s.split([' ', '\n']).map(display_width).max().unwrap_or(0)
}

fn cell_width(s: &str) -> usize {
    s.lines().map(display_width).max().unwrap_or(0)
}

/// Lays out `columns` over `rows` (one string per column) in `width`
/// (`None`: as wide as the content, nothing left out).
pub fn layout(
    columns: &[Column],
    rows: &[Vec<String>],
    width: Option<usize>,
    frame: Frame,
) -> Layout {
    let content = |i: usize| rows.iter().map(|r| cell_width(&r[i])).max().unwrap_or(0);
    let content: Vec<usize> = (0..columns.len()).map(content).collect();
    let natural: Vec<usize> = columns
        .iter()
        .zip(&content)
        .map(|(c, &w)| w.max(display_width(c.header)))
        .collect();
    let all: Vec<usize> = (0..columns.len()).collect();
    let total = |shown: &[usize], w: &dyn Fn(usize) -> usize| {
        shown.iter().map(|&i| w(i)).sum::<usize>() + frame.overhead(shown.len())
    };
    let done = |shown: Vec<usize>, widths: Vec<usize>, short: bool| Layout {
        left_out: (0..columns.len())
            .filter(|i| !shown.contains(i))
            .map(|i| columns[i].header)
            .collect(),
        shown,
        widths,
        short_headers: short,
    };
    let Some(width) = width else {
        return done(all, natural, false);
    };
    if total(&all, &|i| natural[i]) <= width {
        return done(all.clone(), natural, false);
    }
    // Short headers.
    let short: Vec<usize> = columns
        .iter()
        .zip(&content)
        .map(|(c, &w)| w.max(display_width(c.short)))
        .collect();
    if total(&all, &|i| short[i]) <= width {
        return done(all, short, true);
    }
    // Text columns at their floor; leave out columns, least valuable first,
    // until the rest fits.
    let words: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| match c.fit {
            Fit::Atom => short[i],
            Fit::Cut => short[i].min(CUT_MIN),
            Fit::Text => rows
                .iter()
                .map(|r| longest_word(&r[i]))
                .chain([longest_word(c.short)])
                .max()
                .unwrap_or(0),
        })
        .collect();
    let mut floor: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| match c.fit {
            Fit::Atom => short[i],
            Fit::Cut => short[i].min(CUT_FLOOR),
            Fit::Text => words[i].max(short[i].min(TEXT_FLOOR)),
        })
        .collect();
    let mut shown = all;
    let mut droppable: Vec<usize> = shown
        .iter()
        .copied()
        .filter(|&i| columns[i].drop_order.is_some())
        .collect();
    droppable.sort_by_key(|&i| (columns[i].drop_order, std::cmp::Reverse(i)));
    let mut droppable = droppable.into_iter();
    while total(&shown, &|i| floor[i]) > width {
        match droppable.next() {
            Some(d) => shown.retain(|&i| i != d),
            None => break,
        }
    }
    // Still too wide with nothing left to leave out: text columns give up
    // their floor, down to their longest word.
    let mut over = total(&shown, &|i| floor[i]).saturating_sub(width);
    for &i in &shown {
        if over == 0 {
            break;
        }
        let give = (floor[i] - words[i]).min(over);
        floor[i] -= give;
        over -= give;
    }
    // What is left may fit whole after all.
    if total(&shown, &|i| natural[i]) <= width {
        let w = shown.iter().map(|&i| natural[i]).collect();
        return done(shown, w, false);
    }
    if total(&shown, &|i| short[i]) <= width {
        let w = shown.iter().map(|&i| short[i]).collect();
        return done(shown, w, true);
    }
    // Give the room left to the text columns, in column order.
    let mut widths: Vec<usize> = shown.iter().map(|&i| floor[i]).collect();
    let mut spare = width.saturating_sub(total(&shown, &|i| floor[i]));
    for (k, &i) in shown.iter().enumerate() {
        if columns[i].fit != Fit::Atom && spare > 0 {
            let more = (short[i] - widths[k]).min(spare);
            widths[k] += more;
            spare -= more;
        }
    }
    done(shown, widths, true)
}

/// `s` broken at spaces into lines of at most `width` columns; a word
/// longer than that is cut (free text only: tables never ask for less than
/// their longest word). A no-break space keeps two words together and is
/// written as a space.
pub fn wrap(s: &str, width: usize) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (n, para) in s.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let mut line = 0;
        for word in para.split(' ') {
            let w = display_width(word);
            if line > 0 && line + 1 + w > width {
                out.push('\n');
                line = 0;
            } else if line > 0 {
                out.push(' ');
                line += 1;
            }
            if w > width && width > 0 {
                // Cut a word wider than the line.
                for ch in word.chars() {
                    let cw = display_width(ch.encode_utf8(&mut [0; 4]));
                    if line + cw > width {
                        out.push('\n');
                        line = 0;
                    }
                    out.push(ch);
                    line += cw;
                }
            } else {
                out.push_str(word);
                line += w;
            }
        }
    }
    out.replace('\u{a0}', " ")
}

/// One event line fitted to `width`: continuation lines are indented by
/// `indent` columns; addresses and other words are never split. Without a
/// width the line is left as it is.
pub fn fit_line(line: &str, width: Option<usize>, indent: usize) -> String {
    let Some(width) = width else {
        return line.replace('\u{a0}', " ");
    };
    if display_width(line) <= width || width <= indent + 8 {
        return line.replace('\u{a0}', " ");
    }
    let mut out = String::with_capacity(line.len() + 32);
    let mut col = 0;
    let pad = " ".repeat(indent);
    // Words, keeping runs of spaces (the fields' separators) with the word
    // that follows them.
    let mut rest = line;
    while !rest.is_empty() {
        let lead = rest.len() - rest.trim_start_matches(' ').len();
        let after = &rest[lead..];
        let end = after.find(' ').unwrap_or(after.len());
        let word = &after[..end];
        let w = display_width(word);
        if col > indent && col + lead + w > width {
            out.push('\n');
            out.push_str(&pad);
            col = indent;
        } else {
            out.push_str(&rest[..lead]);
            col += lead;
        }
        if col + w > width && w > width - indent {
            // A word no line can hold (free text): cut it.
            for ch in word.chars() {
                let cw = display_width(ch.encode_utf8(&mut [0; 4]));
                if col + cw > width {
                    out.push('\n');
                    out.push_str(&pad);
                    col = indent;
                }
                out.push(ch);
                col += cw;
            }
        } else {
            out.push_str(word);
            col += w;
        }
        rest = &after[end..];
    }
    out.replace('\u{a0}', " ")
}

/// A cell's text and, if it says something good or bad, its tone.
#[derive(Clone, Debug, Default)]
pub struct Styled {
    pub text: String,
    pub tone: Option<Tone>,
}

impl Styled {
    pub fn new(text: impl Into<String>) -> Styled {
        Styled {
            text: text.into(),
            tone: None,
        }
    }

    pub fn tone(mut self, tone: Option<Tone>) -> Styled {
        self.tone = tone;
        self
    }
}

impl From<String> for Styled {
    fn from(text: String) -> Styled {
        Styled::new(text)
    }
}

impl From<&str> for Styled {
    fn from(text: &str) -> Styled {
        Styled::new(text)
    }
}

/// A table drawn, and the headers of the columns it left out.
pub struct Drawn {
    pub text: String,
    pub left_out: Vec<&'static str>,
}

/// A bordered table (comfy-table draws it, with the widths laid out here),
/// fitted to `width`.
pub fn boxed(
    columns: &[Column],
    rows: &[Vec<Styled>],
    width: Option<usize>,
    style: Style,
) -> Drawn {
    let texts: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| style.glyphs(&c.text).into_owned())
                .collect()
        })
        .collect();
    let l = layout(columns, &texts, width, Frame::Boxed);
    let mut t = Table::new();
    t.load_style(if style.ascii {
        presets::ASCII_FULL_CONDENSED
    } else {
        presets::UTF8_FULL_CONDENSED
    });
    t.force_no_tty();
    if style.color {
        t.enforce_styling();
    }
    t.set_content_arrangement(ContentArrangement::Disabled);
    if columns.iter().any(|c| !c.header.is_empty()) {
        t.set_header(l.shown.iter().zip(&l.widths).map(|(&i, &w)| {
            let c = &columns[i];
            wrap(if l.short_headers { c.short } else { c.header }, w)
        }));
    }
    for (row, styled) in texts.iter().zip(rows) {
        t.add_row(l.shown.iter().zip(&l.widths).map(|(&i, &w)| {
            let c = &columns[i];
            let text = match c.fit {
                Fit::Text => wrap(&row[i], w),
                Fit::Cut => cut(&row[i], w),
                Fit::Atom => row[i].clone(),
            };
            let mut cell = Cell::new(text);
            if c.right {
                cell = cell.set_alignment(CellAlignment::Right);
            }
            match styled[i].tone {
                Some(tone) if style.color => cell.fg(tone.color()),
                _ => cell,
            }
        }));
    }
    Drawn {
        text: t.to_string(),
        left_out: l.left_out,
    }
}

/// A borderless table in ss's look (a space each side of every cell),
/// fitted to `width`; cells of text columns may take several lines.
pub fn plain(
    columns: &[Column],
    rows: &[Vec<Styled>],
    width: Option<usize>,
    style: Style,
    header: bool,
) -> Drawn {
    let texts: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| style.glyphs(&c.text).into_owned())
                .collect()
        })
        .collect();
    let l = layout(columns, &texts, width, Frame::Plain);
    let mut out = String::with_capacity(64 * (rows.len() + 1));
    let mut put_row = |cells: Vec<(String, bool, Option<Tone>)>| {
        let lines: Vec<Vec<&str>> = cells.iter().map(|(t, _, _)| t.lines().collect()).collect();
        let height = lines.iter().map(|l| l.len()).max().unwrap_or(1).max(1);
        for n in 0..height {
            let mut line = String::new();
            for (k, (_, right, tone)) in cells.iter().enumerate() {
                let text = lines[k].get(n).copied().unwrap_or("");
                let pad = l.widths[k].saturating_sub(display_width(text));
                line.push(' ');
                let painted = style.paint(text, *tone);
                if *right {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(&painted);
                } else {
                    line.push_str(&painted);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                line.push(' ');
            }
            out.push_str(&line);
            out.push('\n');
        }
    };
    if header {
        put_row(
            l.shown
                .iter()
                .zip(&l.widths)
                .map(|(&i, &w)| {
                    let c = &columns[i];
                    let h = if l.short_headers { c.short } else { c.header };
                    (wrap(h, w), false, None)
                })
                .collect(),
        );
    }
    for (row, styled) in texts.iter().zip(rows) {
        put_row(
            l.shown
                .iter()
                .zip(&l.widths)
                .map(|(&i, &w)| {
                    let c = &columns[i];
                    let text = match c.fit {
                        Fit::Text => wrap(&row[i], w),
                        Fit::Cut => cut(&row[i], w),
                        Fit::Atom => row[i].clone(),
                    };
                    (text, c.right, styled[i].tone)
                })
                .collect(),
        );
    }
    Drawn {
        text: out,
        left_out: l.left_out,
    }
}

/// The note under a table whose columns did not all fit.
pub fn left_out_note(left_out: &[&str], width: Option<usize>) -> Option<String> {
    if left_out.is_empty() {
        return None;
    }
    Some(format!(
        "(left out at {} columns: {}; a wider terminal or --width shows them)",
        width.unwrap_or(0),
        left_out.join(", ")
    ))
}

/// A number and the unit after it (`0.073 ms`, `16 B`, `4 frames`) joined
/// by a no-break space, so that wrapping does not part them.
pub fn glue_units(s: &str) -> String {
    const UNITS: [&str; 7] = ["ms", "s", "B", "bytes", "frames", "SYNs", "packets"];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(' ') {
        let (head, tail) = (&rest[..i], &rest[i + 1..]);
        out.push_str(head);
        let unit_follows = UNITS.iter().any(|u| {
            tail.strip_prefix(u)
                .is_some_and(|t| !t.starts_with(|c: char| c.is_alphanumeric()))
        });
        let number_before = head.ends_with(|c: char| c.is_ascii_digit());
        out.push(if unit_follows && number_before {
            '\u{a0}'
        } else {
            ' '
        });
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<Column> {
        vec![
            Column::kept("Client", Fit::Atom),
            Column::kept("State", Fit::Atom),
            Column::kept("Verdict", Fit::Text),
            Column::optional("Duration s", Fit::Atom, 1)
                .right()
                .short("Dur s"),
            Column::optional("History", Fit::Atom, 2),
        ]
    }

    fn rows() -> Vec<Vec<String>> {
        vec![vec![
            "[fd00:99::2]:58404".into(),
            "REJ".into(),
            "established after 4 SYNs, closed by client".into(),
            "3.066".into(),
            "ShADaFf".into(),
        ]]
    }

    #[test]
    fn wide_enough_keeps_everything() {
        let l = layout(&cols(), &rows(), Some(200), Frame::Boxed);
        assert_eq!(l.shown, vec![0, 1, 2, 3, 4]);
        assert!(!l.short_headers && l.left_out.is_empty());
        let l = layout(&cols(), &rows(), None, Frame::Boxed);
        assert_eq!(l.widths, vec![18, 5, 42, 10, 7]);
    }

    #[test]
    fn narrow_leaves_out_the_least_valuable_first_and_never_splits_atoms() {
        for width in [20, 40, 60, 70, 80, 90, 100] {
            let l = layout(&cols(), &rows(), Some(width), Frame::Boxed);
            for (k, &i) in l.shown.iter().enumerate() {
                if cols()[i].fit == Fit::Atom {
                    assert!(l.widths[k] >= rows()[0][i].len(), "{width}: column {i}");
                } else {
                    assert!(l.widths[k] >= "established".len());
                }
            }
            let used: usize = l.widths.iter().sum::<usize>() + 3 * l.shown.len() + 1;
            let minimal = l.shown.len() == 3;
            assert!(used <= width || minimal, "{width}: {l:?}");
            // Duration (order 1) goes before History (order 2).
            if l.shown.contains(&3) {
                assert!(l.shown.contains(&4), "{width}: {l:?}");
            }
        }
        let l = layout(&cols(), &rows(), Some(80), Frame::Boxed);
        assert_eq!(l.left_out, Vec::<&str>::new(), "{l:?}");
        let l = layout(&cols(), &rows(), Some(60), Frame::Boxed);
        assert_eq!(l.left_out, vec!["Duration s", "History"], "{l:?}");
    }

    #[test]
    fn a_cut_column_gives_up_its_end_before_the_table_overflows() {
        let columns = [
            Column::kept("Server", Fit::Atom),
            Column::kept("Target", Fit::Cut),
            Column::kept("Status", Fit::Atom),
        ];
        let target = "/ad?asId=1000000326207&ghost=1&rnd=8802312&xpos=0";
        let rows = vec![vec![
            "74.201.118.102:80".to_string(),
            target.to_string(),
            "200".to_string(),
        ]];
        for width in [40, 50, 60, 200] {
            let l = layout(&columns, &rows, Some(width), Frame::Boxed);
            let used: usize = l.widths.iter().sum::<usize>() + 3 * l.shown.len() + 1;
            assert!(used <= width, "{width}: {used}");
            assert_eq!(
                l.shown,
                vec![0, 1, 2],
                "nothing left out: the target is cut"
            );
            let cell = cut(target, l.widths[1]);
            assert!(display_width(&cell) <= l.widths[1]);
            assert_eq!(cell.ends_with('…'), width < 70, "{width}: {cell}");
        }
        assert_eq!(cut("/abcdef", 4), "/ab…");
        assert_eq!(cut("/ab", 4), "/ab");
    }

    #[test]
    fn wrapping_breaks_at_spaces_only() {
        assert_eq!(wrap("refused (RST)", 9), "refused\n(RST)");
        assert_eq!(wrap("a\u{a0}b c", 3), "a b\nc");
        assert_eq!(wrap("abcdef", 4), "abcd\nef");
    }

    #[test]
    fn event_lines_wrap_under_their_indent() {
        let line = "05:42:43.971401  TCP  [fd00:99::2]:58404 → [fd00:99::1]:9  SYN  [mss 1440, wscale 10, sack, ts]";
        let out = fit_line(line, Some(60), 17);
        for l in out.lines() {
            assert!(display_width(l) <= 60, "{l:?}");
        }
        assert!(out.contains("[fd00:99::2]:58404"));
        assert!(out.contains("[fd00:99::1]:9"));
        assert!(out.lines().skip(1).all(|l| l.starts_with(&" ".repeat(17))));
        assert_eq!(fit_line("short", Some(60), 17), "short");
        assert_eq!(fit_line(line, None, 17), line);
    }

    #[test]
    fn units_stay_with_their_numbers() {
        assert_eq!(
            glue_units("rtt 0.073 ms (server 1 s, 16 B) 4 frames of x"),
            "rtt 0.073\u{a0}ms (server 1\u{a0}s, 16\u{a0}B) 4\u{a0}frames of x"
        );
        assert_eq!(glue_units("a 5 second"), "a 5 second");
    }

    #[test]
    fn colour_sequences_take_no_room() {
        assert_eq!(display_width("\x1b[31mREJ\x1b[0m"), 3);
        assert_eq!(display_width("κόσμε ✓"), 7);
    }
}
