//! A [`Document`] as a PDF: one or more A4 pages in Helvetica (a PDF base font, so
//! nothing is embedded and every reader has it), WinAnsi-encoded so Latin-1 names print.
//! Nothing varying (dates of rendering, random ids) goes in: the same document gives the
//! same bytes.

use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str, TextStr};

use super::{Document, DocumentLine};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Helvetica's advance widths (thousandths of the font size) for ASCII 32 to 126.
const WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// Width of `text` in points at `size` (bold is close enough to regular for alignment).
fn width(text: &str, size: f32) -> f32 {
    let units: u32 = text
        .chars()
        .map(|c| match u32::from(c) {
            code @ 32..=126 => u32::from(WIDTHS[(code - 32) as usize]),
            _ => 556,
        })
        .sum();
    units as f32 * size / 1000.0
}

/// `text` in WinAnsiEncoding: Latin-1 maps to itself, the euro sign to 0x80, anything
/// else becomes `?` (the base fonts have no glyph for it).
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '\u{20}'..='\u{7e}' | '\u{a0}'..='\u{ff}' => u8::try_from(u32::from(c)).unwrap_or(b'?'),
            _ => b'?',
        })
        .collect()
}

/// Splits `text` into lines no wider than `max` points at `size`.
fn wrap(text: &str, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_owned()
        } else {
            format!("{current} {word}")
        };
        if width(&candidate, size) > max && !current.is_empty() {
            lines.push(std::mem::take(&mut current));
            current = word.to_owned();
        } else {
            current = candidate;
        }
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

/// Pages being written: the content of each, and the cursor on the last.
struct Pages {
    done: Vec<Content>,
    current: Content,
    y: f32,
}

impl Pages {
    fn new() -> Pages {
        Pages {
            done: Vec::new(),
            current: Content::new(),
            y: HEIGHT - MARGIN,
        }
    }

    /// Makes room for `height` points, starting a new page when this one is full.
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN + 30.0 {
            let full = std::mem::replace(&mut self.current, Content::new());
            self.done.push(full);
            self.y = HEIGHT - MARGIN;
        }
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let font = if bold { BOLD } else { REGULAR };
        self.current
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(&win_ansi(text)))
            .end_text();
    }

    fn right(&mut self, right_edge: f32, y: f32, size: f32, bold: bool, text: &str) {
        self.text(right_edge - width(text, size), y, size, bold, text);
    }

    fn rule(&mut self, y: f32) {
        self.current
            .set_line_width(0.5)
            .move_to(MARGIN, y)
            .line_to(WIDTH - MARGIN, y)
            .stroke();
    }

    fn finish(mut self) -> Vec<Content> {
        self.done.push(self.current);
        self.done
    }
}

const COL_QTY: f32 = 290.0;
const COL_UNIT: f32 = 340.0;
const COL_TAX: f32 = 400.0;
const RIGHT: f32 = WIDTH - MARGIN;

fn header(p: &mut Pages, doc: &Document) {
    let top = p.y;
    p.text(MARGIN, top, 16.0, true, &doc.seller.name);
    let mut y = top - 16.0;
    for line in doc
        .seller
        .address
        .iter()
        .chain(&doc.seller.tax_id.as_ref().map(|t| format!("Tax id {t}")))
    {
        p.text(MARGIN, y, 9.0, false, line);
        y -= 12.0;
    }
    if let Some(contact) = &doc.seller.contact {
        p.text(MARGIN, y, 9.0, false, contact);
        y -= 12.0;
    }
    p.right(RIGHT, top, 20.0, true, &doc.title);
    p.right(RIGHT, top - 22.0, 11.0, true, &doc.number);
    let mut fy = top - 38.0;
    for (label, value) in &doc.facts {
        p.right(RIGHT, fy, 9.0, false, &format!("{label}: {value}"));
        fy -= 12.0;
    }
    p.y = y.min(fy) - 20.0;
    p.text(MARGIN, p.y, 9.0, true, "Bill to");
    p.y -= 13.0;
    for line in std::iter::once(&doc.buyer.name)
        .chain(&doc.buyer.address)
        .chain(&doc.buyer.tax_id.as_ref().map(|t| format!("Tax id {t}")))
    {
        p.text(MARGIN, p.y, 10.0, false, line);
        p.y -= 13.0;
    }
    p.y -= 15.0;
}

fn table_head(p: &mut Pages) {
    p.text(MARGIN, p.y, 9.0, true, "Description");
    p.right(COL_QTY + 30.0, p.y, 9.0, true, "Qty");
    p.right(COL_UNIT + 50.0, p.y, 9.0, true, "Unit");
    p.text(COL_TAX + 5.0, p.y, 9.0, true, "Tax");
    p.right(RIGHT, p.y, 9.0, true, "Amount");
    p.y -= 5.0;
    p.rule(p.y);
    p.y -= 13.0;
}

fn line(p: &mut Pages, l: &DocumentLine) {
    let wrapped = wrap(&l.description, 10.0, COL_QTY - MARGIN - 10.0);
    let height = 13.0 * wrapped.len() as f32 + 4.0;
    p.room(height);
    let y = p.y;
    for (i, part) in wrapped.iter().enumerate() {
        p.text(MARGIN, y - 13.0 * i as f32, 10.0, false, part);
    }
    p.right(COL_QTY + 30.0, y, 10.0, false, &l.quantity);
    p.right(COL_UNIT + 50.0, y, 10.0, false, &l.unit);
    p.text(COL_TAX + 5.0, y, 9.0, false, &l.tax);
    p.right(RIGHT, y, 10.0, false, &l.amount);
    p.y -= height;
}

/// The PDF of `doc`.
pub fn render(doc: &Document) -> Vec<u8> {
    let mut p = Pages::new();
    header(&mut p, doc);
    table_head(&mut p);
    for l in &doc.lines {
        line(&mut p, l);
    }
    p.rule(p.y + 6.0);
    p.y -= 8.0;
    let last = doc.totals.len().saturating_sub(1);
    for (i, (label, amount)) in doc.totals.iter().enumerate() {
        p.room(16.0);
        let bold = i == last;
        let size = if bold { 12.0 } else { 10.0 };
        p.right(COL_TAX + 60.0, p.y, size, bold, label);
        p.right(RIGHT, p.y, size, bold, amount);
        p.y -= 16.0;
    }
    p.y -= 10.0;
    p.room(14.0);
    p.text(MARGIN, p.y, 10.0, true, &doc.status);
    p.y -= 16.0;
    for note in &doc.notes {
        for part in wrap(note, 9.0, WIDTH - 2.0 * MARGIN) {
            p.room(12.0);
            p.text(MARGIN, p.y, 9.0, false, &part);
            p.y -= 12.0;
        }
    }
    let pages = p.finish();
    write(doc, pages)
}

fn write(doc: &Document, pages: Vec<Content>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let count = pages.len();
    let page_ids: Vec<Ref> = (0..count)
        .map(|i| Ref::new(10 + 2 * i32::try_from(i).unwrap_or(0)))
        .collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().copied())
        .count(i32::try_from(count).unwrap_or(1));
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info)
        .title(TextStr(&format!("{} {}", doc.title, doc.number)))
        .creator(TextStr("nextpanel-bill"));
    for (i, (content, id)) in pages.into_iter().zip(&page_ids).enumerate() {
        let content_id = Ref::new(id.get() + 1);
        let mut content = content;
        // "page n of m" at the foot of every page of a long document.
        if count > 1 {
            let label = format!("{} · page {} of {count}", doc.number, i + 1);
            content
                .begin_text()
                .set_font(REGULAR, 8.0)
                .next_line(RIGHT - width(&label, 8.0), MARGIN - 20.0)
                .show(Str(&win_ansi(&label)))
                .end_text();
        }
        let mut page = pdf.page(*id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
            .parent(tree)
            .contents(content_id);
        page.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        drop(page);
        pdf.stream(content_id, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::Party;

    fn sample(lines: usize) -> Document {
        Document {
            title: "INVOICE".into(),
            number: "INV-2026-000042".into(),
            facts: vec![("Date".into(), "2026-12-02".into())],
            seller: Party {
                name: "Acme Hosting GmbH".into(),
                address: vec!["Hauptstraße 1".into(), "10115 Berlin".into()],
                tax_id: Some("DE123456789".into()),
                contact: None,
            },
            buyer: Party {
                name: "Zoë Müller".into(),
                ..Party::default()
            },
            lines: (0..lines)
                .map(|i| DocumentLine {
                    description: format!("Starter hosting, monthly, line {i}"),
                    quantity: "1".into(),
                    unit: "9.99 EUR".into(),
                    tax: "VAT 19%".into(),
                    amount: "9.99 EUR".into(),
                })
                .collect(),
            totals: vec![("Total".into(), "11.89 EUR".into())],
            status: "Paid on 2026-12-02".into(),
            notes: vec![],
        }
    }

    #[test]
    fn the_same_document_gives_the_same_bytes() {
        let a = render(&sample(2));
        assert_eq!(a, render(&sample(2)));
        assert!(a.starts_with(b"%PDF-"));
        assert_ne!(a, render(&sample(3)));
    }

    #[test]
    fn long_documents_go_on_to_more_pages() {
        let pdf = render(&sample(120));
        let pages = pdf.windows(10).filter(|w| *w == b"/Type /Pag").count();
        assert!(pages >= 3, "{pages}");
    }

    #[test]
    fn text_is_win_ansi_and_wraps() {
        assert_eq!(win_ansi("Zoë €5 ✓"), b"Zo\xeb \x805 ?".to_vec());
        let parts = wrap(
            "a very long description that does not fit on one line at all",
            10.0,
            100.0,
        );
        assert!(parts.len() > 2);
        assert!(parts
            .iter()
            .all(|p| width(p, 10.0) <= 100.0 || !p.contains(' ')));
    }
}
