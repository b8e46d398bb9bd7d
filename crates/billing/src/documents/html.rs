//! A [`Document`] as a standalone HTML page for the browser (and for printing): the
//! same content as the PDF, every value escaped.

use std::fmt::Write as _;

use super::{Document, Party};

/// `text` safe inside HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn party(out: &mut String, p: &Party, heading: &str) {
    let _ = write!(out, "<div class=\"party\"><h2>{}</h2><p>", escape(heading));
    let _ = write!(out, "<strong>{}</strong>", escape(&p.name));
    for line in &p.address {
        let _ = write!(out, "<br>{}", escape(line));
    }
    if let Some(t) = &p.tax_id {
        let _ = write!(out, "<br>Tax id {}", escape(t));
    }
    if let Some(c) = &p.contact {
        let _ = write!(out, "<br>{}", escape(c));
    }
    out.push_str("</p></div>");
}

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;max-width:800px;margin:40px auto;color:#222}\
    header{display:flex;justify-content:space-between}h1{margin:0}table{width:100%;border-collapse:collapse;margin:24px 0}\
    th,td{padding:6px;border-bottom:1px solid #ddd;text-align:left}.num{text-align:right}\
    .totals td{border:none}.totals tr:last-child td{font-weight:bold;font-size:1.15em}.parties{display:flex;gap:48px}\
    @media print{body{margin:0}}";

/// The HTML page of `doc`.
pub fn render(doc: &Document) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} {}</title><style>{STYLE}</style></head><body>",
        escape(&doc.title),
        escape(&doc.number)
    );
    let _ = write!(
        out,
        "<header><div><h1>{}</h1><p class=\"number\">{}</p></div><dl>",
        escape(&doc.title),
        escape(&doc.number)
    );
    for (label, value) in &doc.facts {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
    }
    out.push_str("</dl></header><section class=\"parties\">");
    party(&mut out, &doc.seller, "From");
    party(&mut out, &doc.buyer, "Bill to");
    out.push_str(
        "</section><table><thead><tr><th>Description</th><th class=\"num\">Qty</th><th class=\"num\">Unit</th>\
         <th>Tax</th><th class=\"num\">Amount</th></tr></thead><tbody>",
    );
    for l in &doc.lines {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            escape(&l.description),
            escape(&l.quantity),
            escape(&l.unit),
            escape(&l.tax),
            escape(&l.amount)
        );
    }
    out.push_str("</tbody></table><table class=\"totals\">");
    for (label, amount) in &doc.totals {
        let _ = write!(
            out,
            "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(label),
            escape(amount)
        );
    }
    let _ = write!(
        out,
        "</table><p class=\"status\"><strong>{}</strong></p>",
        escape(&doc.status)
    );
    for note in &doc.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        assert_eq!(
            escape("<img src=x onerror='a'>&"),
            "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;"
        );
    }
}
