// The billing address and tax id form, shared by the customer's profile and the admin's
// customer page. Invoices are addressed to it and its country picks the tax rate.

import { form } from './dom.js';

/** The form; `onSave(billing)` sends `{address, postal_code, region, country, tax_id}`. */
export function billingForm(id, billing, onSave) {
  const b = billing || {};
  return form({
    id,
    submit: 'Save billing address',
    fields: [
      { name: 'address', label: 'Street and city', type: 'textarea', value: b.address || '', field: 'billing.address', autocomplete: 'street-address' },
      { name: 'postal_code', label: 'Postal code', value: b.postal_code || '', field: 'billing.postal_code', autocomplete: 'postal-code' },
      { name: 'region', label: 'State or region', value: b.region || '', field: 'billing.region', autocomplete: 'address-level1' },
      { name: 'country', label: 'Country (two letters, like DE or US)', value: b.country || '', field: 'billing.country', autocomplete: 'country' },
      { name: 'tax_id', label: 'VAT number or tax id (businesses)', value: b.tax_id || '', field: 'billing.tax_id', help: 'EU businesses in another country than ours pay no VAT (reverse charge).' },
    ],
    onSubmit: async (v) => onSave({
      address: v.address || null, postal_code: v.postal_code || null, region: v.region || null,
      country: v.country || null, tax_id: v.tax_id || null,
    }),
  });
}

/** The address as lines for a facts list. */
export function billingText(b) {
  if (!b) return null;
  const lines = [b.address, [b.postal_code, b.region].filter(Boolean).join(' '), b.country, b.tax_id ? `Tax id ${b.tax_id}` : null]
    .filter(Boolean);
  return lines.length ? lines.join(', ') : null;
}
