// The customer portal's views.
export { home } from './home.js';
export { invoices, invoice } from './invoices.js';
export { order } from './order.js';
export { profile } from './profile.js';
export { license } from './license.js';
export { payment } from './payment.js';
export { credentials } from './credentials.js';
