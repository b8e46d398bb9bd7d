// The admin console's views.
export { dashboard } from './dashboard.js';
export { servers, newServer, server } from './servers.js';
export { plans, newPlan } from './plans.js';
export { customers, customer } from './customers.js';
export { accounts, account } from './accounts.js';
export { provision } from './provision.js';
export { invoices, invoice } from './invoices.js';
export { jobs, emails } from './queues.js';
export { audit } from './audit.js';
export { team } from './team.js';
export { tax } from './tax.js';
export { license } from './license.js';
