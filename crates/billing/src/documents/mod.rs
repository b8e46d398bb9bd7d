//! Invoices and credit notes as documents: what an accountant files, rendered as PDF
//! (A4, the PDF base fonts, byte for byte the same for the same document) and as HTML.
//! Pure rendering: a [`Document`] in, bytes out; the service layer gathers the data.

pub mod html;
pub mod pdf;

/// A party on a document: the seller or the buyer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    /// Name (the company's for the seller, the person's for the buyer).
    pub name: String,
    /// Further lines: company, street, postal code and city, region, country.
    pub address: Vec<String>,
    /// VAT number or tax id.
    pub tax_id: Option<String>,
    /// A contact line (the seller's support address).
    pub contact: Option<String>,
}

/// One line of a document; amounts are already formatted for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLine {
    /// What is charged.
    pub description: String,
    /// How many.
    pub quantity: String,
    /// Price of one.
    pub unit: String,
    /// The tax's name and rate (`VAT 19%`), or empty.
    pub tax: String,
    /// The line's amount, net of tax.
    pub amount: String,
}

/// An invoice or a credit note, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// `INVOICE` or `CREDIT NOTE`.
    pub title: String,
    /// Its number.
    pub number: String,
    /// Label/value pairs under the number: date, due date, the invoice a note corrects.
    pub facts: Vec<(String, String)>,
    /// Who issues it.
    pub seller: Party,
    /// Who it is addressed to.
    pub buyer: Party,
    /// Its lines.
    pub lines: Vec<DocumentLine>,
    /// Label/amount pairs under the lines: net, tax per rate; the last one is the total.
    pub totals: Vec<(String, String)>,
    /// Payment status in words (`Paid on 2026-12-02`).
    pub status: String,
    /// Notes printed under the totals (the reverse charge).
    pub notes: Vec<String>,
}
