// Package spend turns what runs into money: a price model, a ledger of
// costs per hour and project, service and resource (per month and instance),
// month-to-date totals and month-end forecasts in the billing time zone, and
// the spend.threshold and spend.forecast events.
//
// Its decisions take `now` as input and its state goes through LedgerStore,
// so that a restart or a failover neither loses nor double-counts a minute.
// It does not read metrics or send notifications itself.
package spend
